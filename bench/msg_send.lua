-- POST /api/v1/messages, each request from the next of PAIRS ("token:peer,token:peer,..."):
-- as many conversations as connections, so the run measures sending, not one pair's row locks.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "in_turn.lua")

-- Built in init, when wrk.path is the URL's path.
function init(args)
   for token, peer in (os.getenv("PAIRS") or ""):gmatch("([^:,]+):(%d+)") do
      reqs[#reqs + 1] = wrk.format("POST", wrk.path, {
         ["Content-Type"] = "application/json",
         ["Authorization"] = "Bearer " .. token,
      }, '{"to_user_id":' .. peer .. ',"text":"bench message"}')
   end
end
