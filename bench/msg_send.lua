-- POST /api/v1/messages, each request from the next of PAIRS ("token:peer,token:peer,..."):
-- as many conversations as connections, so the run measures sending, not one pair's row locks.
dofile((os.getenv("BENCH_LUA_DIR") or ".") .. "/report.lua")
local reqs = {}
local i = 0

-- Built in init, when wrk.path is the URL's path.
function init(args)
   for token, peer in (os.getenv("PAIRS") or ""):gmatch("([^:,]+):(%d+)") do
      reqs[#reqs + 1] = wrk.format("POST", wrk.path, {
         ["Content-Type"] = "application/json",
         ["Authorization"] = "Bearer " .. token,
      }, '{"to_user_id":' .. peer .. ',"text":"bench message"}')
   end
end

function request()
   i = i % #reqs + 1
   return reqs[i]
end
