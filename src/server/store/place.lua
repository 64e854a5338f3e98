-- flashbench, Redis `lua` strategy: check the stock and the buyer's limit, decrement, and
-- record the order, in one script (atomic in Redis).
-- KEYS: stock, limit, held, orders, seq
-- ARGV: buyer, quantity, product, and optionally skip_stock_check, skip_limit_check ("1" to
-- skip: the `negative` and `no-limit` mutants)
local stock = tonumber(redis.call('GET', KEYS[1]))
if stock == nil then return {-1} end
local q = tonumber(ARGV[2])
if ARGV[4] ~= '1' and stock < q then return {0} end
local limit = tonumber(redis.call('GET', KEYS[2]) or '1')
local held = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or '0')
if ARGV[5] ~= '1' and held >= limit then return {-2, limit} end
local remaining = redis.call('DECRBY', KEYS[1], q)
redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
local id = redis.call('INCR', KEYS[5])
redis.call('HSET', KEYS[4], id, cjson.encode({product_id = ARGV[3], buyer_id = ARGV[1], quantity = q}))
return {1, id, remaining}
