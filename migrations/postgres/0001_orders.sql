-- flashbench reference server, PostgreSQL: products with their stock, and the orders taken.
-- No CHECK (stock >= 0): the broken strategies must be free to break it, and flashbench to see.
CREATE TABLE products (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL DEFAULT '',
    stock           BIGINT NOT NULL,
    limit_per_buyer INTEGER NOT NULL DEFAULT 1,
    version         BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE orders (
    id          BIGSERIAL PRIMARY KEY,
    product_id  TEXT NOT NULL,
    buyer_id    TEXT NOT NULL,
    quantity    INTEGER NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX orders_by_buyer ON orders (product_id, buyer_id);
