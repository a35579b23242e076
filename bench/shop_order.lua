-- POST /api/v1/shop/orders with two distinct variations picked at random from
-- VARIATIONS rows starting at id FIRST_VARIATION (bench/run seeds them with ample
-- stock), so concurrent orders contend for rows as a busy shop's do, not all for one.
dofile((os.getenv("BENCH_LUA_DIR") or ".") .. "/report.lua")
local first = tonumber(os.getenv("FIRST_VARIATION") or "1")
local count = tonumber(os.getenv("VARIATIONS") or "2")
local delivery = os.getenv("DELIVERY_TYPE_ID") or "1"
local price = os.getenv("PRICE") or "1000"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
math.randomseed(os.time())

request = function()
   local a = math.random(0, count - 1)
   local b = (a + math.random(1, count - 1)) % count
   local body = string.format(
      '{"customer_name":"Bench","phone_number":"+70000000000","delivery_type_id":%s,"items":[' ..
      '{"variation_id":%d,"amount":1,"current_price":%s},{"variation_id":%d,"amount":1,"current_price":%s}]}',
      delivery, first + a, price, first + b, price)
   return wrk.format(nil, nil, nil, body)
end
