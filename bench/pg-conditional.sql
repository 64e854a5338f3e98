-- The `conditional` strategy's transaction, as src/server/store/postgres.rs runs it.
\set buyer random(1, 2000000000)
BEGIN;
UPDATE products SET stock = stock - 1 WHERE id = 'hot' AND stock >= 1 RETURNING stock, limit_per_buyer;
SELECT COUNT(*) FROM orders WHERE product_id = 'hot' AND buyer_id = 'p' || :buyer;
INSERT INTO orders (product_id, buyer_id, quantity) VALUES ('hot', 'p' || :buyer, 1) RETURNING id;
COMMIT;
