-- PATCH /api/v1/tasks/{id}, each request the next of TASK_IDS ("1,2,3,..."), all of one user (TOKEN):
-- many rows, so the run measures the update and its change event, not one row's lock.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "in_turn.lua")
local statuses = {"todo", "in_progress", "done"}

function init(args)
   local n = 0
   for id in (os.getenv("TASK_IDS") or ""):gmatch("(%d+)") do
      n = n + 1
      reqs[#reqs + 1] = wrk.format("PATCH", "/api/v1/tasks/" .. id, {
         ["Content-Type"] = "application/json",
         ["Authorization"] = "Bearer " .. (os.getenv("TOKEN") or ""),
      }, '{"status":"' .. statuses[n % 3 + 1] .. '","priority":' .. (n % 4) .. '}')
   end
end
