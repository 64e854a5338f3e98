-- The `for-update` strategy's transaction, as src/server/store/postgres.rs runs it.
\set buyer random(1, 2000000000)
BEGIN;
SELECT stock, limit_per_buyer FROM products WHERE id = 'hot' FOR UPDATE;
SELECT COUNT(*) FROM orders WHERE product_id = 'hot' AND buyer_id = 'f' || :buyer;
UPDATE products SET stock = stock - 1 WHERE id = 'hot';
INSERT INTO orders (product_id, buyer_id, quantity) VALUES ('hot', 'f' || :buyer, 1) RETURNING id;
COMMIT;
