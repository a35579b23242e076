-- Shared by the scripts whose init() prepares their requests in `reqs`: request()
-- sends them in turn, so wrk spends nothing per request but the pick.
dofile((os.getenv("BENCH_LUA_DIR") or ".") .. "/report.lua")
reqs = {}
local i = 0

function request()
   i = i % #reqs + 1
   return reqs[i]
end
