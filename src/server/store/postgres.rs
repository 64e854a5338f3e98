//! The `postgres` store (sqlx): every run gets its own schema (created, migrated with the
//! embedded migrations, dropped at the end unless kept), so concurrent runs and tests never
//! collide. Strategies: `conditional` (guarded `UPDATE … RETURNING` and the insert in one
//! transaction), `for-update` (`SELECT … FOR UPDATE`, check, update, insert), `naive` (read,
//! then write back, no transaction: oversells) and `optimistic` (a version column checked on
//! update, no retry: refuses concurrent buyers while stock remains, so it undersells).

use super::{
    redact, Checks, Order, OrderRequest, Placed, ProductStock, SeedProduct, Snapshot, StoreError, StoreOptions,
};
use crate::model::Strategy;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{AssertSqlSafe, SqlSafeStr};
use std::str::FromStr;

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Query { backend: "postgres", cause: e.to_string() }
}

/// A schema name flashbench may create and drop: lower-case letters, digits, `_`.
pub fn valid_schema(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

async fn pool(url: &str, schema: Option<&str>, size: u32, opts: &StoreOptions) -> Result<PgPool, StoreError> {
    let connect_err = |cause: String| StoreError::Connect { target: redact(url), cause };
    let mut connect =
        PgConnectOptions::from_str(url).map_err(|e| connect_err(e.to_string()))?.application_name("flashbench");
    if let Some(schema) = schema {
        // The run's own connections can be told apart (and ended, on Ctrl-C) by their name.
        connect = connect.options([("search_path", schema)]).application_name(&application_name(schema));
    }
    // One direct connection first: a pool would only say that it timed out, this says why.
    match tokio::time::timeout(opts.timeout, sqlx::ConnectOptions::connect(&connect)).await {
        Err(_) => return Err(connect_err(format!("no answer within {:?}", opts.timeout))),
        Ok(Err(e)) => return Err(connect_err(e.to_string())),
        Ok(Ok(conn)) => {
            let _ = sqlx::Connection::close(conn).await;
        }
    }
    PgPoolOptions::new()
        .max_connections(size.max(1))
        .acquire_timeout(opts.acquire_timeout)
        .connect_with(connect)
        .await
        .map_err(|e| connect_err(e.to_string()))
}

/// The `application_name` of every connection to `schema` (at most 63 bytes: schema names
/// flashbench makes are 52 at most).
pub fn application_name(schema: &str) -> String {
    format!("flashbench:{schema}")
}

pub fn migrator() -> Migrator {
    Migrator::with_migrations(vec![Migration::new(
        1,
        "orders".into(),
        MigrationType::Simple,
        include_str!("../../../migrations/postgres/0001_orders.sql").into_sql_str(),
        false,
    )])
}

/// Creates the schema (when missing) and applies the migrations in it.
pub async fn prepare(url: &str, schema: &str, opts: &StoreOptions) -> Result<(), StoreError> {
    if !valid_schema(schema) {
        return Err(err(format!("invalid schema name {schema:?}: use lower-case letters, digits and _")));
    }
    let admin = pool(url, None, 1, opts).await?;
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")))
        .execute(&admin)
        .await
        .map_err(err)?;
    admin.close().await;
    let scoped = pool(url, Some(schema), 1, opts).await?;
    migrator().run(&scoped).await.map_err(err)?;
    scoped.close().await;
    Ok(())
}

impl PostgresStore {
    /// `PostgreSQL 15.19`, for the report's environment.
    pub async fn version(&self) -> Option<String> {
        let v: String = sqlx::query_scalar("SHOW server_version").fetch_one(&self.pool).await.ok()?;
        Some(format!("PostgreSQL {}", v.split_whitespace().next().unwrap_or(&v)))
    }
}

#[derive(Debug)]
pub struct PostgresStore {
    pool: PgPool,
    schema: String,
    strategy: Strategy,
}

impl PostgresStore {
    pub async fn open(url: &str, schema: &str, strategy: Strategy, opts: &StoreOptions) -> Result<Self, StoreError> {
        if !valid_schema(schema) {
            return Err(err(format!("invalid schema name {schema:?}")));
        }
        Ok(PostgresStore {
            pool: pool(url, Some(schema), opts.pool_size, opts).await?,
            schema: schema.to_string(),
            strategy,
        })
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn drop_schema(&self) -> Result<(), StoreError> {
        sqlx::query(AssertSqlSafe(format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.schema)))
            .execute(&self.pool)
            .await
            .map_err(err)?;
        Ok(())
    }

    pub async fn seed(&self, products: &[SeedProduct]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(err)?;
        sqlx::query("TRUNCATE orders, products RESTART IDENTITY").execute(&mut *tx).await.map_err(err)?;
        for p in products {
            sqlx::query("INSERT INTO products (id, name, stock, limit_per_buyer) VALUES ($1, $2, $3, $4)")
                .bind(&p.id)
                .bind(&p.name)
                .bind(i64::from(p.stock))
                .bind(p.limit_per_buyer as i32)
                .execute(&mut *tx)
                .await
                .map_err(err)?;
        }
        tx.commit().await.map_err(err)
    }

    pub async fn product(&self, id: &str) -> Result<Option<ProductStock>, StoreError> {
        let row: Option<(String, String, i64)> = sqlx::query_as("SELECT id, name, stock FROM products WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(err)?;
        Ok(row.map(|(id, name, stock)| ProductStock { id, name, stock }))
    }

    /// Products and orders from one REPEATABLE READ transaction: one snapshot for both.
    pub async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let mut tx = self.pool.begin().await.map_err(err)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        let products: Vec<(String, String, i64)> = sqlx::query_as("SELECT id, name, stock FROM products ORDER BY id")
            .fetch_all(&mut *tx)
            .await
            .map_err(err)?;
        let orders: Vec<(i64, String, String, i32)> =
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
            Strategy::ForUpdate => self.place_for_update(req).await,
            Strategy::Naive => self.place_naive(req).await,
            Strategy::Optimistic => self.place_optimistic(req).await,
            other => self.place_conditional(req, Checks::of(other)).await,
        }
    }

    /// Takes a created order back in one transaction: the row goes, its units return.
    pub async fn cancel(&self, order: &Order) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(err)?;
        let id: i64 = order.id.parse().map_err(|_| err(format!("order id {:?} is not a row id", order.id)))?;
        let deleted = sqlx::query("DELETE FROM orders WHERE id = $1").bind(id).execute(&mut *tx).await.map_err(err)?;
        if deleted.rows_affected() == 1 {
            sqlx::query("UPDATE products SET stock = stock + $1 WHERE id = $2")
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

    async fn held<'e, E: sqlx::PgExecutor<'e>>(e: E, req: &OrderRequest) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE product_id = $1 AND buyer_id = $2")
            .bind(&req.product_id)
            .bind(&req.buyer_id)
            .fetch_one(e)
            .await
            .map_err(err)
    }

    async fn insert<'e, E: sqlx::PgExecutor<'e>>(e: E, req: &OrderRequest) -> Result<i64, StoreError> {
        sqlx::query_scalar("INSERT INTO orders (product_id, buyer_id, quantity) VALUES ($1, $2, $3) RETURNING id")
            .bind(&req.product_id)
            .bind(&req.buyer_id)
            .bind(req.quantity as i32)
            .fetch_one(e)
            .await
            .map_err(err)
    }

    async fn exists<'e, E: sqlx::PgExecutor<'e>>(e: E, id: &str) -> Result<bool, StoreError> {
        let row: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM products WHERE id = $1").bind(id).fetch_optional(e).await.map_err(err)?;
        Ok(row.is_some())
    }

    async fn place_conditional(&self, req: &OrderRequest, checks: Checks) -> Result<Placed, StoreError> {
        let q = i64::from(req.quantity);
        let mut tx = self.pool.begin().await.map_err(err)?;
        let sql = if checks.stock {
            "UPDATE products SET stock = stock - $1 WHERE id = $2 AND stock >= $1 RETURNING stock, limit_per_buyer"
        } else {
            "UPDATE products SET stock = stock - $1 WHERE id = $2 RETURNING stock, limit_per_buyer"
        };
        let updated: Option<(i64, i32)> =
            sqlx::query_as(sql).bind(q).bind(&req.product_id).fetch_optional(&mut *tx).await.map_err(err)?;
        let Some((remaining, limit)) = updated else {
            let exists = Self::exists(&mut *tx, &req.product_id).await?;
            return Ok(if exists { Placed::SoldOut } else { Placed::UnknownProduct });
        };
        if checks.limit && Self::held(&mut *tx, req).await? >= i64::from(limit) {
            return Ok(Placed::LimitReached { limit: limit as u32 });
        }
        let id = Self::insert(&mut *tx, req).await?;
        tx.commit().await.map_err(err)?;
        Ok(Placed::Created { order: Self::order(id, req), remaining })
    }

    async fn place_for_update(&self, req: &OrderRequest) -> Result<Placed, StoreError> {
        let q = i64::from(req.quantity);
        let mut tx = self.pool.begin().await.map_err(err)?;
        let row: Option<(i64, i32)> =
            sqlx::query_as("SELECT stock, limit_per_buyer FROM products WHERE id = $1 FOR UPDATE")
                .bind(&req.product_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(err)?;
        let Some((stock, limit)) = row else { return Ok(Placed::UnknownProduct) };
        if stock < q {
            return Ok(Placed::SoldOut);
        }
        if Self::held(&mut *tx, req).await? >= i64::from(limit) {
            return Ok(Placed::LimitReached { limit: limit as u32 });
        }
        sqlx::query("UPDATE products SET stock = stock - $1 WHERE id = $2")
            .bind(q)
            .bind(&req.product_id)
            .execute(&mut *tx)
            .await
            .map_err(err)?;
        let id = Self::insert(&mut *tx, req).await?;
        tx.commit().await.map_err(err)?;
        Ok(Placed::Created { order: Self::order(id, req), remaining: stock - q })
    }

    async fn place_naive(&self, req: &OrderRequest) -> Result<Placed, StoreError> {
        let q = i64::from(req.quantity);
        let row: Option<(i64, i32)> = sqlx::query_as("SELECT stock, limit_per_buyer FROM products WHERE id = $1")
            .bind(&req.product_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(err)?;
        let Some((stock, limit)) = row else { return Ok(Placed::UnknownProduct) };
        if stock < q {
            return Ok(Placed::SoldOut);
        }
        if Self::held(&self.pool, req).await? >= i64::from(limit) {
            return Ok(Placed::LimitReached { limit: limit as u32 });
        }
        // Writes back what it read, minus the order: concurrent writers overwrite each other.
        sqlx::query("UPDATE products SET stock = $1 WHERE id = $2")
            .bind(stock - q)
            .bind(&req.product_id)
            .execute(&self.pool)
            .await
            .map_err(err)?;
        let id = Self::insert(&self.pool, req).await?;
        Ok(Placed::Created { order: Self::order(id, req), remaining: stock - q })
    }

    async fn place_optimistic(&self, req: &OrderRequest) -> Result<Placed, StoreError> {
        let q = i64::from(req.quantity);
        let row: Option<(i64, i64, i32)> =
            sqlx::query_as("SELECT stock, version, limit_per_buyer FROM products WHERE id = $1")
                .bind(&req.product_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(err)?;
        let Some((stock, version, limit)) = row else { return Ok(Placed::UnknownProduct) };
        if stock < q {
            return Ok(Placed::SoldOut);
        }
        if Self::held(&self.pool, req).await? >= i64::from(limit) {
            return Ok(Placed::LimitReached { limit: limit as u32 });
        }
        let mut tx = self.pool.begin().await.map_err(err)?;
        let won =
            sqlx::query("UPDATE products SET stock = stock - $1, version = version + 1 WHERE id = $2 AND version = $3")
                .bind(q)
                .bind(&req.product_id)
                .bind(version)
                .execute(&mut *tx)
                .await
                .map_err(err)?
                .rows_affected()
                == 1;
        if !won {
            // Someone else changed the row since it was read: refused, and not retried.
            return Ok(Placed::Busy { seed_style: false });
        }
        let id = Self::insert(&mut *tx, req).await?;
        tx.commit().await.map_err(err)?;
        Ok(Placed::Created { order: Self::order(id, req), remaining: stock - q })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_checked() {
        assert!(valid_schema("fb_limited_1a2b"));
        assert!(!valid_schema("Bad"));
        assert!(!valid_schema("x\"; DROP"));
        assert!(!valid_schema(""));
        assert!(!valid_schema(&"a".repeat(64)));
    }
}
