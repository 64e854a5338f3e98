-- flashbench reference server, MySQL and MariaDB: products with their stock, and the orders
-- taken. Ids compare byte for byte (utf8mb4_bin), as in the other stores. No CHECK
-- (stock >= 0), on purpose (see postgres).
CREATE TABLE products (
    id              VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PRIMARY KEY,
    name            TEXT NOT NULL,
    stock           BIGINT NOT NULL,
    limit_per_buyer INT NOT NULL DEFAULT 1,
    version         BIGINT NOT NULL DEFAULT 0
) ENGINE = InnoDB;

CREATE TABLE orders (
    id          BIGINT AUTO_INCREMENT PRIMARY KEY,
    product_id  VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    buyer_id    VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    quantity    INT NOT NULL,
    created_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    INDEX orders_by_buyer (product_id, buyer_id)
) ENGINE = InnoDB;
