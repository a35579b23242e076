-- wrk: GET the URL with Authorization: Bearer $TOKEN (the fault campaigns' background load).
wrk.method = "GET"
local token = os.getenv("TOKEN")
if token and token ~= "" then
   wrk.headers["Authorization"] = "Bearer " .. token
end
