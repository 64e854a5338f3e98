-- wrk script: POST /orders for one product (PRODUCT, default "hot"), each request from a new
-- buyer, so the per-buyer limit never refuses and, while stock lasts, every answer is 201.
local product = os.getenv("PRODUCT") or "hot"
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  prefix = "w" .. tid .. "-"
  counter = 0
end
function request()
  counter = counter + 1
  local body = '{"product_id":"' .. product .. '","buyer_id":"' .. prefix .. counter .. '"}'
  return wrk.format("POST", "/orders", { ["Content-Type"] = "application/json" }, body)
end
