//! The `sqlite` store (sqlx, SQLite compiled in): one file shared by every instance, in WAL
//! mode. Strategies: `conditional` (guarded decrement and order insert in one transaction),
//! `naive` (read, then write back, no transaction: oversells) and `seed-lock` (the seed's
//! stock-keyed TTL lock, kept in a table: undersells).

use super::{
    Checks, LockTracker, Order, OrderRequest, Placed, ProductStock, SeedProduct, Snapshot, StoreError, StoreOptions,
    SEED_LOCK_TTL,
};
use crate::model::Strategy;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::SqlSafeStr;
use std::path::Path;
use std::time::Duration;

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Query { backend: "sqlite", cause: e.to_string() }
}

async fn pool(file: &Path, opts: &StoreOptions) -> Result<SqlitePool, StoreError> {
    let connect = SqliteConnectOptions::new()
        .filename(file)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10));
    SqlitePoolOptions::new()
        .max_connections(opts.pool_size.max(1))
        .acquire_timeout(opts.acquire_timeout)
        .connect_with(connect)
        .await
        .map_err(|e| StoreError::Connect { target: file.display().to_string(), cause: e.to_string() })
}

/// The schema, embedded: applied with sqlx's migrator.
pub fn migrator() -> Migrator {
    Migrator::with_migrations(vec![Migration::new(
        1,
        "orders".into(),
        MigrationType::Simple,
        include_str!("../../../migrations/sqlite/0001_orders.sql").into_sql_str(),
        false,
    )])
}

/// Creates the file and its tables.
pub async fn prepare(file: &Path, opts: &StoreOptions) -> Result<(), StoreError> {
    let pool = pool(file, opts).await?;
    migrator().run(&pool).await.map_err(err)?;
    pool.close().await;
    Ok(())
}

#[derive(Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
    strategy: Strategy,
    locks: LockTracker,
}

impl SqliteStore {
    /// `SQLite 3.46.0`, for the report's environment.
    pub async fn version(&self) -> Option<String> {
        let v: String = sqlx::query_scalar("SELECT sqlite_version()").fetch_one(&self.pool).await.ok()?;
        Some(format!("SQLite {v}"))
    }
}

fn now_us() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

impl SqliteStore {
    pub async fn open(file: &Path, strategy: Strategy, opts: &StoreOptions) -> Result<Self, StoreError> {
        Ok(SqliteStore { pool: pool(file, opts).await?, strategy, locks: LockTracker::default() })
    }

    /// The `seed-lock` locks this handle took.
    pub fn locks(&self) -> &LockTracker {
        &self.locks
    }

    pub async fn close(&self) {
        let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await;
        self.pool.close().await;
    }

    pub async fn seed(&self, products: &[SeedProduct]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(err)?;
        for sql in ["DELETE FROM orders", "DELETE FROM products", "DELETE FROM seed_locks"] {
            sqlx::query(sql).execute(&mut *tx).await.map_err(err)?;
        }
        for p in products {
            sqlx::query("INSERT INTO products (id, name, stock, limit_per_buyer) VALUES (?1, ?2, ?3, ?4)")
                .bind(&p.id)
                .bind(&p.name)
                .bind(i64::from(p.stock))
                .bind(i64::from(p.limit_per_buyer))
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        tx.commit().await.map_err(err)
    }

    pub async fn product(&self, id: &str) -> Result<Option<ProductStock>, StoreError> {
        let row: Option<(String, String, i64)> = sqlx::query_as("SELECT id, name, stock FROM products WHERE id = ?1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(err)?;
        Ok(row.map(|(id, name, stock)| ProductStock { id, name, stock }))
    }

    /// Products and orders from one read transaction: in WAL mode it sees one snapshot, so
    /// an order committed between the two reads cannot make stock and orders disagree.
    pub async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let mut tx = self.pool.begin().await.map_err(err)?;
        let products: Vec<(String, String, i64)> = sqlx::query_as("SELECT id, name, stock FROM products ORDER BY id")
            .fetch_all(&mut *tx)
            .await
            .map_err(err)?;
        let orders: Vec<(i64, String, String, i64)> =
            sqlx::query_as("SELECT id, product_id, buyer_id, quantity FROM orders ORDER BY id")
                .fetch_all(&mut *tx)
                .await
                .map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(Snapshot {
            products: products.into_iter().map(|(id, name, stock)| ProductStock { id, name, stock }).collect(),
            orders: orders
                .into_iter()
                .map(|(id, product_id, buyer_id, q)| Order {
                    id: id.to_string(),
                    product_id,
                    buyer_id,
                    quantity: q as u32,
                })
                .collect(),
        })
    }

    pub async fn place(&self, req: &OrderRequest) -> Result<Placed, StoreError> {
        match self.strategy {
            Strategy::Naive => self.place_naive(req).await,
            Strategy::SeedLock => self.place_seed_lock(req).await,
            other => self.place_conditional(req, Checks::of(other)).await,
        }
    }

    /// Takes a created order back in one transaction: the row goes, its units return.
    pub async fn cancel(&self, order: &Order) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(err)?;
        let id: i64 = order.id.parse().map_err(|_| err(format!("order id {:?} is not a row id", order.id)))?;
        let deleted = sqlx::query("DELETE FROM orders WHERE id = ?1").bind(id).execute(&mut *tx).await.map_err(err)?;
        if deleted.rows_affected() == 1 {
            sqlx::query("UPDATE products SET stock = stock + ?1 WHERE id = ?2")
                .bind(i64::from(order.quantity))
                .bind(&order.product_id)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        tx.commit().await.map_err(err)
    }

    fn order(id: i64, req: &OrderRequest) -> Order {
        Order {
            id: id.to_string(),
            product_id: req.product_id.clone(),
            buyer_id: req.buyer_id.clone(),
            quantity: req.quantity,
        }
    }

    async fn held<'e, E: sqlx::SqliteExecutor<'e>>(e: E, req: &OrderRequest) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE product_id = ?1 AND buyer_id = ?2")
            .bind(&req.product_id)
            .bind(&req.buyer_id)
            .fetch_one(e)
            .await
            .map_err(err)
    }

    async fn place_conditional(&self, req: &OrderRequest, checks: Checks) -> Result<Placed, StoreError> {
        let q = i64::from(req.quantity);
        let mut tx = self.pool.begin().await.map_err(err)?;
        let sql = if checks.stock {
            "UPDATE products SET stock = stock - ?1 WHERE id = ?2 AND stock >= ?1 RETURNING stock, limit_per_buyer"
        } else {
            "UPDATE products SET stock = stock - ?1 WHERE id = ?2 RETURNING stock, limit_per_buyer"
        };
        let updated: Option<(i64, i64)> =
            sqlx::query_as(sql).bind(q).bind(&req.product_id).fetch_optional(&mut *tx).await.map_err(err)?;
        let Some((remaining, limit)) = updated else {
            let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM products WHERE id = ?1")
                .bind(&req.product_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(err)?;
            return Ok(if exists.is_some() { Placed::SoldOut } else { Placed::UnknownProduct });
        };
        if checks.limit && Self::held(&mut *tx, req).await? >= limit {
            return Ok(Placed::LimitReached { limit: limit as u32 });
        }
        let id: i64 =
            sqlx::query_scalar("INSERT INTO orders (product_id, buyer_id, quantity) VALUES (?1, ?2, ?3) RETURNING id")
                .bind(&req.product_id)
                .bind(&req.buyer_id)
                .bind(q)
                .fetch_one(&mut *tx)
                .await
                .map_err(err)?;
        tx.commit().await.map_err(err)?;
        Ok(Placed::Created { order: Self::order(id, req), remaining })
    }

    /// Reads (stock, limit), or `None` for an unknown product.
    async fn read(&self, req: &OrderRequest) -> Result<Option<(i64, i64)>, StoreError> {
        sqlx::query_as("SELECT stock, limit_per_buyer FROM products WHERE id = ?1")
            .bind(&req.product_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(err)
    }

    async fn insert_order(&self, req: &OrderRequest) -> Result<i64, StoreError> {
        sqlx::query_scalar("INSERT INTO orders (product_id, buyer_id, quantity) VALUES (?1, ?2, ?3) RETURNING id")
            .bind(&req.product_id)
            .bind(&req.buyer_id)
            .bind(i64::from(req.quantity))
            .fetch_one(&self.pool)
            .await
            .map_err(err)
    }

    async fn place_naive(&self, req: &OrderRequest) -> Result<Placed, StoreError> {
        let q = i64::from(req.quantity);
        let Some((stock, limit)) = self.read(req).await? else { return Ok(Placed::UnknownProduct) };
        if stock < q {
            return Ok(Placed::SoldOut);
        }
        if Self::held(&self.pool, req).await? >= limit {
            return Ok(Placed::LimitReached { limit: limit as u32 });
        }
        // Writes back what it read, minus the order: concurrent writers overwrite each other.
        sqlx::query("UPDATE products SET stock = ?1 WHERE id = ?2")
            .bind(stock - q)
            .bind(&req.product_id)
            .execute(&self.pool)
            .await
            .map_err(err)?;
        let id = self.insert_order(req).await?;
        Ok(Placed::Created { order: Self::order(id, req), remaining: stock - q })
    }

    /// The seed's flow, one statement per step; the lock row is never deleted, it expires.
    async fn place_seed_lock(&self, req: &OrderRequest) -> Result<Placed, StoreError> {
        let q = i64::from(req.quantity);
        let Some((stock, _)) = self.read(req).await? else { return Ok(Placed::UnknownProduct) };
        let key = format!("lock:product:{}:stock:{stock}", req.product_id);
        let now = now_us();
        let acquired = sqlx::query(
            "INSERT INTO seed_locks (key, expires_us) VALUES (?1, ?2) \
             ON CONFLICT (key) DO UPDATE SET expires_us = excluded.expires_us WHERE seed_locks.expires_us <= ?3",
        )
        .bind(&key)
        .bind(now + SEED_LOCK_TTL.as_micros() as i64)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(err)?
        .rows_affected()
            == 1;
        if !acquired {
            return Ok(Placed::Busy { seed_style: true });
        }
        self.locks.acquired();
        let Some((current, limit)) = self.read(req).await? else { return Ok(Placed::UnknownProduct) };
        if current < q {
            return Ok(Placed::SoldOut);
        }
        if Self::held(&self.pool, req).await? >= limit {
            return Ok(Placed::LimitReached { limit: limit as u32 });
        }
        let id = self.insert_order(req).await?;
        let remaining: i64 = sqlx::query_scalar("UPDATE products SET stock = stock - ?1 WHERE id = ?2 RETURNING stock")
            .bind(q)
            .bind(&req.product_id)
            .fetch_one(&self.pool)
            .await
            .map_err(err)?;
        Ok(Placed::Created { order: Self::order(id, req), remaining })
    }
}
