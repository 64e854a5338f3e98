-- flashbench reference server, SQLite: products with their stock, the orders taken, and the
-- table the seed design's TTL locks live in. No CHECK (stock >= 0), on purpose (see postgres).
CREATE TABLE products (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL DEFAULT '',
    stock           INTEGER NOT NULL,
    limit_per_buyer INTEGER NOT NULL DEFAULT 1,
    version         INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE orders (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    product_id  TEXT NOT NULL,
    buyer_id    TEXT NOT NULL,
    quantity    INTEGER NOT NULL,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE INDEX orders_by_buyer ON orders (product_id, buyer_id);

CREATE TABLE seed_locks (
    key         TEXT PRIMARY KEY,
    expires_us  INTEGER NOT NULL
);
