//! The SQL store, written once over sqlx for every SQL backend (`sqlite`, `postgres`, `mysql`):
//! the tables are the same, and so are the strategies, statement for statement. What differs
//! between the servers is said by each backend's [`Dialect`] (placeholders, `RETURNING`, how a
//! seed empties the tables, what takes a snapshot), and where the data lives (a file, a schema,
//! a database) by the backend's own module, which opens the pool and hands it here.
//!
//! Strategies: `conditional` (guarded `UPDATE` and the insert in one transaction), `for-update`
//! (`SELECT … FOR UPDATE`, check, update, insert), `naive` (read, then write back, no
//! transaction: oversells), `optimistic` (a version column checked on update, no retry:
//! undersells) and `seed-lock` (the seed's stock-keyed TTL lock kept in a table: undersells).
//! Which backend offers which is the catalogue's list.

use super::{
    Checks, LockTracker, Order, OrderRequest, Placed, ProductStock, SeedProduct, Snapshot, StoreError, SEED_LOCK_TTL,
};
use crate::model::Strategy;
use sqlx::{AssertSqlSafe, ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Type};
use std::sync::Arc;

/// What one SQL server does its own way.
pub trait Dialect: Send + Sync + std::fmt::Debug + 'static {
    type DB: Database;
    /// The backend's name, in errors.
    const NAME: &'static str;
    /// Placeholders are `$1`, `$2`, … (PostgreSQL), not `?` as the statements here are written.
    const NUMBERED: bool = false;
    /// `UPDATE … RETURNING` and `INSERT … RETURNING` work; without them the store reads the row
    /// back inside the same transaction and takes the insert id from the result.
    const RETURNING: bool = true;
    /// What empties the tables before a seed, in one transaction.
    const RESET: &'static [&'static str];
    /// What makes the two reads of a snapshot see one state, run first in its transaction.
    const SNAPSHOT: Option<&'static str> = None;
    /// Run on every new connection, before it serves.
    const SESSION: Option<&'static str> = None;
    /// Run before the pool closes (SQLite folds its write-ahead log into the file).
    const ON_CLOSE: Option<&'static str> = None;
    /// The statement that tells the server's version.
    const VERSION: &'static str;
    /// The seed design's lock, taken by an upsert that only wins once the lock has expired
    /// (binds: key, expiry, now); `None` where the backend has no lock table.
    const SEED_LOCK: Option<&'static str> = None;
    /// What [`Dialect::VERSION`] answered, for people: `PostgreSQL 15.19`.
    fn version(answer: &str) -> String;
    fn rows_affected(result: &<Self::DB as Database>::QueryResult) -> u64;
    /// The id of the row an `INSERT` made (without `RETURNING`).
    fn insert_id(result: &<Self::DB as Database>::QueryResult) -> Option<i64>;
}

/// A schema or database name flashbench may create and drop: lower-case letters, digits, `_`,
/// at most 63 bytes (PostgreSQL's limit; MySQL's is 64).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// A pool of `size` connections to a server, each set up with [`Dialect::SESSION`]. One
/// direct connection is made first, within `opts.timeout`: a pool would only say that it timed
/// out, this says why.
pub async fn open_pool<D: Dialect>(
    connect: <<D::DB as Database>::Connection as sqlx::Connection>::Options,
    size: u32,
    opts: &super::StoreOptions,
    target: &str,
) -> Result<Pool<D::DB>, StoreError>
where
    for<'c> &'c mut <D::DB as Database>::Connection: Executor<'c, Database = D::DB>,
{
    let connect_err = |cause: String| StoreError::Connect { target: target.to_string(), cause };
    match tokio::time::timeout(opts.timeout, sqlx::ConnectOptions::connect(&connect)).await {
        Err(_) => return Err(connect_err(format!("no answer within {:?}", opts.timeout))),
        Ok(Err(e)) => return Err(connect_err(e.to_string())),
        Ok(Ok(conn)) => {
            let _ = sqlx::Connection::close(conn).await;
        }
    }
    let mut pool =
        sqlx::pool::PoolOptions::<D::DB>::new().max_connections(size.max(1)).acquire_timeout(opts.acquire_timeout);
    if let Some(session) = D::SESSION {
        pool = pool.after_connect(move |conn, _| {
            Box::pin(async move {
                conn.execute(session).await?;
                Ok(())
            })
        });
    }
    pool.connect_with(connect).await.map_err(|e| connect_err(e.to_string()))
}

/// The embedded migration of a store: its one SQL file, applied with sqlx's migrator.
pub fn migrator(sql: &'static str) -> sqlx::migrate::Migrator {
    use sqlx::migrate::{Migration, MigrationType};
    use sqlx::SqlSafeStr;
    sqlx::migrate::Migrator::with_migrations(vec![Migration::new(
        1,
        "orders".into(),
        MigrationType::Simple,
        sql.into_sql_str(),
        false,
    )])
}

/// The statements, with the dialect's placeholders, made once per store.
#[derive(Debug)]
struct Statements {
    take_guarded: Arc<str>,
    take_unguarded: Arc<str>,
    read: Arc<str>,
    read_locked: Arc<str>,
    read_versioned: Arc<str>,
    held: Arc<str>,
    exists: Arc<str>,
    insert: Arc<str>,
    set_stock: Arc<str>,
    take: Arc<str>,
    take_versioned: Arc<str>,
    give_back: Arc<str>,
    delete_order: Arc<str>,
    insert_product: Arc<str>,
    product: Arc<str>,
    products: Arc<str>,
    orders: Arc<str>,
    seed_lock: Option<Arc<str>>,
}

impl Statements {
    fn new<D: Dialect>() -> Statements {
        let s = |sql: &str| -> Arc<str> {
            if D::NUMBERED {
                numbered(sql).into()
            } else {
                sql.into()
            }
        };
        let returning = if D::RETURNING { " RETURNING stock, limit_per_buyer" } else { "" };
        let insert = "INSERT INTO orders (product_id, buyer_id, quantity) VALUES (?, ?, ?)";
        Statements {
            take_guarded: s(&format!("UPDATE products SET stock = stock - ? WHERE id = ? AND stock >= ?{returning}")),
            take_unguarded: s(&format!("UPDATE products SET stock = stock - ? WHERE id = ?{returning}")),
            read: s("SELECT stock, limit_per_buyer FROM products WHERE id = ?"),
            read_locked: s("SELECT stock, limit_per_buyer FROM products WHERE id = ? FOR UPDATE"),
            read_versioned: s("SELECT stock, version, limit_per_buyer FROM products WHERE id = ?"),
            held: s("SELECT COUNT(*) FROM orders WHERE product_id = ? AND buyer_id = ?"),
            exists: s("SELECT COUNT(*) FROM products WHERE id = ?"),
            insert: s(&if D::RETURNING { format!("{insert} RETURNING id") } else { insert.to_string() }),
            set_stock: s("UPDATE products SET stock = ? WHERE id = ?"),
            take: s("UPDATE products SET stock = stock - ? WHERE id = ?"),
            take_versioned: s(
                "UPDATE products SET stock = stock - ?, version = version + 1 WHERE id = ? AND version = ?",
            ),
            give_back: s("UPDATE products SET stock = stock + ? WHERE id = ?"),
            delete_order: s("DELETE FROM orders WHERE id = ?"),
            insert_product: s("INSERT INTO products (id, name, stock, limit_per_buyer) VALUES (?, ?, ?, ?)"),
            product: s("SELECT id, name, stock FROM products WHERE id = ?"),
            products: s("SELECT id, name, stock FROM products ORDER BY id"),
            orders: s("SELECT id, product_id, buyer_id, quantity FROM orders ORDER BY id"),
            seed_lock: D::SEED_LOCK.map(s),
        }
    }
}

/// `?` placeholders as `$1`, `$2`, … in order (the statements here hold no `?` in a literal).
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push_str(&format!("${n}"));
        } else {
            out.push(c);
        }
    }
    out
}

fn sql(statement: &Arc<str>) -> AssertSqlSafe<Arc<str>> {
    AssertSqlSafe(statement.clone())
}

fn now_us() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

/// A store on one SQL server, running one strategy.
#[derive(Debug)]
pub struct SqlStore<D: Dialect> {
    pool: Pool<D::DB>,
    strategy: Strategy,
    statements: Statements,
    locks: LockTracker,
    /// What removes the run's data from a shared server (`DROP SCHEMA …`), if anything.
    cleanup: Option<String>,
}

/// A query error of `D`'s store.
pub(super) fn err<D: Dialect>(e: impl std::fmt::Display) -> StoreError {
    StoreError::Query { backend: D::NAME, cause: e.to_string() }
}

/// The Rust types the store reads and writes, as every SQL backend of sqlx has them.
pub trait Value<DB: Database>: Type<DB> + for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Send {}
impl<DB: Database, T: Type<DB> + for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Send> Value<DB> for T {}

impl<D: Dialect> SqlStore<D>
where
    for<'c> &'c mut <D::DB as Database>::Connection: Executor<'c, Database = D::DB>,
    <D::DB as Database>::Arguments: IntoArguments<D::DB>,
    usize: ColumnIndex<<D::DB as Database>::Row>,
    i64: Value<D::DB>,
    i32: Value<D::DB>,
    String: Value<D::DB>,
    for<'a> &'a str: Type<D::DB> + Encode<'a, D::DB> + Send,
{
    /// A store over `pool`; `cleanup` removes the run's data when the run ends.
    pub fn new(pool: Pool<D::DB>, strategy: Strategy, cleanup: Option<String>) -> Result<Self, StoreError> {
        if strategy == Strategy::SeedLock && D::SEED_LOCK.is_none() {
            return Err(err::<D>("has no seed-lock table: seed-lock runs on memory, sqlite or redis"));
        }
        Ok(SqlStore { pool, strategy, statements: Statements::new::<D>(), locks: LockTracker::default(), cleanup })
    }

    /// The `seed-lock` locks this handle took.
    pub fn locks(&self) -> &LockTracker {
        &self.locks
    }

    /// `PostgreSQL 15.19`, for the report's environment.
    pub async fn version(&self) -> Option<String> {
        let answer: String = sqlx::query_scalar(D::VERSION).fetch_one(&self.pool).await.ok()?;
        Some(D::version(&answer))
    }

    pub async fn close(&self) {
        if let Some(statement) = D::ON_CLOSE {
            let _ = sqlx::query(statement).execute(&self.pool).await;
        }
        self.pool.close().await;
    }

    /// Removes the run's data from the server (a schema, a database); nothing for a file.
    pub async fn cleanup(&self) -> Result<(), StoreError> {
        let Some(statement) = &self.cleanup else { return Ok(()) };
        sqlx::query(AssertSqlSafe(statement.clone())).execute(&self.pool).await.map_err(err::<D>)?;
        Ok(())
    }

    pub async fn seed(&self, products: &[SeedProduct]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await.map_err(err::<D>)?;
        for statement in D::RESET {
            sqlx::query(*statement).execute(&mut *tx).await.map_err(err::<D>)?;
        }
        for p in products {
            sqlx::query(sql(&self.statements.insert_product))
                .bind(p.id.as_str())
                .bind(p.name.as_str())
                .bind(i64::from(p.stock))
                .bind(p.limit_per_buyer as i32)
                .execute(&mut *tx)
                .await
                .map_err(err::<D>)?;
        }
        tx.commit().await.map_err(err::<D>)
    }

    pub async fn product(&self, id: &str) -> Result<Option<ProductStock>, StoreError> {
        let row: Option<(String, String, i64)> = sqlx::query_as(sql(&self.statements.product))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(err::<D>)?;
        Ok(row.map(|(id, name, stock)| ProductStock { id, name, stock }))
    }

    /// Products and orders from one read transaction that sees one state of both, so an order
    /// committed between the two reads cannot make stock and orders disagree.
    pub async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let mut tx = self.pool.begin().await.map_err(err::<D>)?;
        if let Some(statement) = D::SNAPSHOT {
            sqlx::query(statement).execute(&mut *tx).await.map_err(err::<D>)?;
        }
        let products: Vec<(String, String, i64)> =
            sqlx::query_as(sql(&self.statements.products)).fetch_all(&mut *tx).await.map_err(err::<D>)?;
        let orders: Vec<(i64, String, String, i32)> =
            sqlx::query_as(sql(&self.statements.orders)).fetch_all(&mut *tx).await.map_err(err::<D>)?;
        tx.commit().await.map_err(err::<D>)?;
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
            Strategy::SeedLock => self.place_seed_lock(req).await,
            other => self.place_conditional(req, Checks::of(other)).await,
        }
    }

    /// Takes a created order back in one transaction: the row goes, its units return.
    pub async fn cancel(&self, order: &Order) -> Result<(), StoreError> {
        let id: i64 = order.id.parse().map_err(|_| err::<D>(format!("order id {:?} is not a row id", order.id)))?;
        let mut tx = self.pool.begin().await.map_err(err::<D>)?;
        let deleted =
            sqlx::query(sql(&self.statements.delete_order)).bind(id).execute(&mut *tx).await.map_err(err::<D>)?;
        if D::rows_affected(&deleted) == 1 {
            sqlx::query(sql(&self.statements.give_back))
                .bind(i64::from(order.quantity))
                .bind(order.product_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(err::<D>)?;
        }
        tx.commit().await.map_err(err::<D>)
    }

    async fn held<'c, E>(&self, e: E, req: &OrderRequest) -> Result<i64, StoreError>
    where
        E: Executor<'c, Database = D::DB>,
    {
        sqlx::query_scalar(sql(&self.statements.held))
            .bind(req.product_id.as_str())
            .bind(req.buyer_id.as_str())
            .fetch_one(e)
            .await
            .map_err(err::<D>)
    }

    /// Why `req` cannot be sold from `stock` (with its product's `limit` per buyer): sold out,
    /// or the buyer's limit reached; `None` when it can.
    async fn refusal<'c, E>(
        &self,
        e: E,
        req: &OrderRequest,
        stock: i64,
        limit: i32,
    ) -> Result<Option<Placed>, StoreError>
    where
        E: Executor<'c, Database = D::DB>,
    {
        if stock < i64::from(req.quantity) {
            return Ok(Some(Placed::SoldOut));
        }
        if self.held(e, req).await? >= i64::from(limit) {
            return Ok(Some(Placed::LimitReached { limit: limit as u32 }));
        }
        Ok(None)
    }

    /// Inserts the order; its row id.
    async fn insert<'c, E>(&self, e: E, req: &OrderRequest) -> Result<i64, StoreError>
    where
        E: Executor<'c, Database = D::DB>,
    {
        let query = sqlx::query(sql(&self.statements.insert))
            .bind(req.product_id.as_str())
            .bind(req.buyer_id.as_str())
            .bind(req.quantity as i32);
        if D::RETURNING {
            let row = query.fetch_one(e).await.map_err(err::<D>)?;
            return sqlx::Row::try_get::<i64, _>(&row, 0usize).map_err(err::<D>);
        }
        let done = query.execute(e).await.map_err(err::<D>)?;
        D::insert_id(&done).ok_or_else(|| err::<D>("the insert gave no row id"))
    }

    /// Reads (stock, limit), or `None` for an unknown product.
    async fn read<'c, E>(
        &self,
        e: E,
        statement: &Arc<str>,
        req: &OrderRequest,
    ) -> Result<Option<(i64, i32)>, StoreError>
    where
        E: Executor<'c, Database = D::DB>,
    {
        sqlx::query_as(sql(statement)).bind(req.product_id.as_str()).fetch_optional(e).await.map_err(err::<D>)
    }

    /// Takes `q` units in `tx` (only while that many are left, if `guarded`); the stock left
    /// and the limit, or `None` when no row was taken.
    async fn take(
        &self,
        tx: &mut <D::DB as Database>::Connection,
        req: &OrderRequest,
        guarded: bool,
    ) -> Result<Option<(i64, i32)>, StoreError> {
        let q = i64::from(req.quantity);
        let statement = if guarded { &self.statements.take_guarded } else { &self.statements.take_unguarded };
        let mut query = sqlx::query(sql(statement)).bind(q).bind(req.product_id.as_str());
        if guarded {
            query = query.bind(q);
        }
        if D::RETURNING {
            let row = query.fetch_optional(&mut *tx).await.map_err(err::<D>)?;
            return row
                .map(|row| Ok((sqlx::Row::try_get(&row, 0usize)?, sqlx::Row::try_get(&row, 1usize)?)))
                .transpose()
                .map_err(|e: sqlx::Error| err::<D>(e));
        }
        let done = query.execute(&mut *tx).await.map_err(err::<D>)?;
        if D::rows_affected(&done) == 0 {
            return Ok(None);
        }
        // The row is this transaction's now: reading it back sees its own update.
        self.read(&mut *tx, &self.statements.read, req).await
    }

    async fn place_conditional(&self, req: &OrderRequest, checks: Checks) -> Result<Placed, StoreError> {
        let mut tx = self.pool.begin().await.map_err(err::<D>)?;
        let Some((remaining, limit)) = self.take(&mut tx, req, checks.stock).await? else {
            let count: i64 = sqlx::query_scalar(sql(&self.statements.exists))
                .bind(req.product_id.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(err::<D>)?;
            return Ok(if count > 0 { Placed::SoldOut } else { Placed::UnknownProduct });
        };
        if checks.limit && self.held(&mut *tx, req).await? >= i64::from(limit) {
            return Ok(Placed::LimitReached { limit: limit as u32 });
        }
        let id = self.insert(&mut *tx, req).await?;
        tx.commit().await.map_err(err::<D>)?;
        Ok(Placed::Created { order: req.order(id), remaining })
    }

    async fn place_for_update(&self, req: &OrderRequest) -> Result<Placed, StoreError> {
        let q = i64::from(req.quantity);
        let mut tx = self.pool.begin().await.map_err(err::<D>)?;
        let Some((stock, limit)) = self.read(&mut *tx, &self.statements.read_locked, req).await? else {
            return Ok(Placed::UnknownProduct);
        };
        if let Some(refused) = self.refusal(&mut *tx, req, stock, limit).await? {
            return Ok(refused);
        }
        self.write(&mut *tx, &self.statements.take, q, req).await?;
        let id = self.insert(&mut *tx, req).await?;
        tx.commit().await.map_err(err::<D>)?;
        Ok(Placed::Created { order: req.order(id), remaining: stock - q })
    }

    /// Runs `statement` with (`value`, product id).
    async fn write<'c, E>(&self, e: E, statement: &Arc<str>, value: i64, req: &OrderRequest) -> Result<u64, StoreError>
    where
        E: Executor<'c, Database = D::DB>,
    {
        let done =
            sqlx::query(sql(statement)).bind(value).bind(req.product_id.as_str()).execute(e).await.map_err(err::<D>)?;
        Ok(D::rows_affected(&done))
    }

    async fn place_naive(&self, req: &OrderRequest) -> Result<Placed, StoreError> {
        let q = i64::from(req.quantity);
        let Some((stock, limit)) = self.read(&self.pool, &self.statements.read, req).await? else {
            return Ok(Placed::UnknownProduct);
        };
        if let Some(refused) = self.refusal(&self.pool, req, stock, limit).await? {
            return Ok(refused);
        }
        // Writes back what it read, minus the order: concurrent writers overwrite each other.
        self.write(&self.pool, &self.statements.set_stock, stock - q, req).await?;
        let id = self.insert(&self.pool, req).await?;
        Ok(Placed::Created { order: req.order(id), remaining: stock - q })
    }

    async fn place_optimistic(&self, req: &OrderRequest) -> Result<Placed, StoreError> {
        let q = i64::from(req.quantity);
        let row: Option<(i64, i64, i32)> = sqlx::query_as(sql(&self.statements.read_versioned))
            .bind(req.product_id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(err::<D>)?;
        let Some((stock, version, limit)) = row else { return Ok(Placed::UnknownProduct) };
        if let Some(refused) = self.refusal(&self.pool, req, stock, limit).await? {
            return Ok(refused);
        }
        let mut tx = self.pool.begin().await.map_err(err::<D>)?;
        let done = sqlx::query(sql(&self.statements.take_versioned))
            .bind(q)
            .bind(req.product_id.as_str())
            .bind(version)
            .execute(&mut *tx)
            .await
            .map_err(err::<D>)?;
        if D::rows_affected(&done) != 1 {
            // Someone else changed the row since it was read: refused, and not retried.
            return Ok(Placed::Busy { seed_style: false });
        }
        let id = self.insert(&mut *tx, req).await?;
        tx.commit().await.map_err(err::<D>)?;
        Ok(Placed::Created { order: req.order(id), remaining: stock - q })
    }

    /// The seed's flow, one statement per step; the lock row is never deleted, it expires.
    async fn place_seed_lock(&self, req: &OrderRequest) -> Result<Placed, StoreError> {
        let q = i64::from(req.quantity);
        let Some(lock) = &self.statements.seed_lock else { return Err(err::<D>("has no seed-lock table")) };
        let Some((stock, _)) = self.read(&self.pool, &self.statements.read, req).await? else {
            return Ok(Placed::UnknownProduct);
        };
        let key = format!("lock:product:{}:stock:{stock}", req.product_id);
        let now = now_us();
        let taken = sqlx::query(sql(lock))
            .bind(key.as_str())
            .bind(now + SEED_LOCK_TTL.as_micros() as i64)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(err::<D>)?;
        if D::rows_affected(&taken) != 1 {
            return Ok(Placed::Busy { seed_style: true });
        }
        self.locks.acquired();
        let Some((current, limit)) = self.read(&self.pool, &self.statements.read, req).await? else {
            return Ok(Placed::UnknownProduct);
        };
        if let Some(refused) = self.refusal(&self.pool, req, current, limit).await? {
            return Ok(refused);
        }
        let id = self.insert(&self.pool, req).await?;
        let mut conn = self.pool.acquire().await.map_err(err::<D>)?;
        let remaining = self.take(&mut conn, req, false).await?.map_or(current - q, |(stock, _)| stock);
        Ok(Placed::Created { order: req.order(id), remaining })
    }
}

#[cfg(test)]
mod tests {
    use super::numbered;

    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(
            numbered("UPDATE t SET a = ? WHERE id = ? AND a >= ?"),
            "UPDATE t SET a = $1 WHERE id = $2 AND a >= $3"
        );
        assert_eq!(numbered("SELECT 1"), "SELECT 1");
    }
}
