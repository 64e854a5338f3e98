//! Stores: where the server keeps stock and orders, and how it takes an order (the strategy).
//! Every store can export its ground truth, the real stock and the full order list.
//!
//! | backend | module | shared by instances | strategies |
//! |---|---|---|---|
//! | `memory` | [`memory`] | no: one per instance | `atomic`, `naive`, `seed-lock` |
//! | `sqlite` | [`sqlite`] | yes: one file | `conditional`, `naive`, `seed-lock` |
//! | `postgres` | [`postgres`] | yes: one schema per run | `conditional`, `for-update`, `naive`, `optimistic` |
//! | `mysql` | [`mysql`] | yes: one database per run | `conditional`, `for-update`, `naive`, `optimistic` |
//! | `redis` | [`redis`] | yes: one key prefix per run | `lua`, `lock`, `seed-lock`, `naive` |
//!
//! The SQL backends are one store, [`sql`], over each server's [`sql::Dialect`]; each backend's
//! module owns where its data lives, how a child server is pointed at it and how it is removed.
//!
//! Every backend also runs the mutants of `mutant.rs` (`lossy-ack`, `phantom`, `no-limit`,
//! `negative`, `early-sold-out`, `pool-exhaustion`, `late-rollback`) over its correct strategy.

pub mod memory;
mod mutant;
pub mod mysql;
pub mod postgres;
pub mod redis;
pub mod sql;
pub mod sqlite;

pub use memory::MemoryStore;

use crate::model::{Backend, Order, Strategy};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a seed-design lock lives; it is never released otherwise.
pub const SEED_LOCK_TTL: Duration = Duration::from_secs(2);

/// The seed-design locks one store handle took, for the server's metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockStats {
    /// Locks taken.
    pub acquisitions: u64,
    /// Locks whose TTL has run out: all of them, in time, since the design never releases one.
    pub expiries: u64,
}

/// Counts the seed-design locks a store handle takes, and which of them have expired by now.
/// The lock is never released, so a lock taken at `t` ends by its TTL at `t + ttl` (the store
/// drops it then, or a later buyer takes the key over), unless a reseed through this handle
/// deletes it first: those are forgotten, not counted as expired. Locks live in the store and
/// may be shared (Redis, SQLite), but each handle counts only the ones it took itself.
#[derive(Debug)]
pub struct LockTracker {
    ttl: Duration,
    inner: Mutex<Tracked>,
}

#[derive(Debug, Default)]
struct Tracked {
    acquisitions: u64,
    expiries: u64,
    /// When each live lock expires, oldest first.
    live: VecDeque<Instant>,
}

impl Tracked {
    fn expire(&mut self, now: Instant) {
        while self.live.front().is_some_and(|end| *end <= now) {
            self.live.pop_front();
            self.expiries += 1;
        }
    }
}

impl Default for LockTracker {
    fn default() -> Self {
        LockTracker::new(SEED_LOCK_TTL)
    }
}

impl LockTracker {
    pub fn new(ttl: Duration) -> Self {
        LockTracker { ttl, inner: Mutex::new(Tracked::default()) }
    }

    fn tracked(&self) -> std::sync::MutexGuard<'_, Tracked> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A lock was taken now.
    pub fn acquired(&self) {
        let mut t = self.tracked();
        let now = Instant::now();
        t.expire(now);
        t.acquisitions += 1;
        t.live.push_back(now + self.ttl);
    }

    /// The store was reseeded: the locks still live were deleted, not expired.
    pub fn forget_live(&self) {
        let mut t = self.tracked();
        t.expire(Instant::now());
        t.live.clear();
    }

    pub fn stats(&self) -> LockStats {
        let mut t = self.tracked();
        t.expire(Instant::now());
        LockStats { acquisitions: t.acquisitions, expiries: t.expiries }
    }
}

/// A product as seeded into a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedProduct {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub stock: u32,
    /// Orders one buyer may hold of this product.
    #[serde(default = "default_limit")]
    pub limit_per_buyer: u32,
}

fn default_limit() -> u32 {
    1
}

/// A validated order request.
#[derive(Debug, Clone)]
pub struct OrderRequest {
    pub product_id: String,
    pub buyer_id: String,
    pub quantity: u32,
}

impl OrderRequest {
    /// The order this request made, stored under `id`.
    pub fn order(&self, id: impl ToString) -> Order {
        Order {
            id: id.to_string(),
            product_id: self.product_id.clone(),
            buyer_id: self.buyer_id.clone(),
            quantity: self.quantity,
        }
    }
}

/// What a store did with an order request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placed {
    Created {
        order: Order,
        remaining: i64,
    },
    SoldOut,
    /// Refused because of contention; `seed_style` answers as the seed did (400).
    Busy {
        seed_style: bool,
    },
    LimitReached {
        limit: u32,
    },
    UnknownProduct,
    /// The order was taken back after a failed payment step (`late-rollback`).
    PaymentFailed,
}

/// The checks a correct strategy makes; the `negative` and `no-limit` mutants leave one out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checks {
    pub stock: bool,
    pub limit: bool,
}

impl Checks {
    /// The checks `strategy` makes when it runs a backend's correct strategy.
    pub fn of(strategy: Strategy) -> Checks {
        Checks { stock: strategy != Strategy::Negative, limit: strategy != Strategy::NoLimit }
    }
}

/// A product's stock as the store holds it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductStock {
    pub id: String,
    pub name: String,
    pub stock: i64,
}

/// The store's real state: what ground truth is read from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub products: Vec<ProductStock>,
    pub orders: Vec<Order>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot connect to {target}: {cause}")]
    Connect { target: String, cause: String },
    #[error("{backend} store: {cause}")]
    Query { backend: &'static str, cause: String },
}

/// Where one store's data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    Memory,
    Sqlite { file: PathBuf },
    Postgres { url: String, schema: String },
    Mysql { url: String, database: String },
    Redis { url: String, prefix: String },
}

impl StoreLocation {
    pub fn backend(&self) -> Backend {
        match self {
            StoreLocation::Memory => Backend::Memory,
            StoreLocation::Sqlite { .. } => Backend::Sqlite,
            StoreLocation::Postgres { .. } => Backend::Postgres,
            StoreLocation::Mysql { .. } => Backend::Mysql,
            StoreLocation::Redis { .. } => Backend::Redis,
        }
    }

    /// Where the data is, for people: the file, the schema at the server, or the key prefix.
    pub fn describe(&self) -> String {
        match self {
            StoreLocation::Memory => "memory".into(),
            StoreLocation::Sqlite { file } => sqlite::describe(file),
            StoreLocation::Postgres { url, schema } => postgres::describe(url, schema),
            StoreLocation::Mysql { url, database } => mysql::describe(url, database),
            StoreLocation::Redis { url, prefix } => redis::describe(url, prefix),
        }
    }

    /// How to remove a run's data from a shared server by hand, where it is on one.
    pub fn removal(&self) -> Option<String> {
        match self {
            StoreLocation::Memory | StoreLocation::Sqlite { .. } => None,
            StoreLocation::Postgres { schema, .. } => Some(postgres::removal(schema)),
            StoreLocation::Mysql { database, .. } => Some(mysql::removal(database)),
            StoreLocation::Redis { prefix, .. } => Some(redis::removal(prefix)),
        }
    }

    /// The `serve` arguments that point a child server at this data, and its environment
    /// (store URLs go there, not on the command line, where `ps` would show their passwords).
    pub fn child_args(&self, args: &mut Vec<String>, env: &mut Vec<(&'static str, String)>) {
        match self {
            StoreLocation::Memory => {}
            StoreLocation::Sqlite { file } => sqlite::child_args(file, args),
            StoreLocation::Postgres { url, schema } => postgres::child_args(url, schema, args, env),
            StoreLocation::Mysql { url, database } => mysql::child_args(url, database, args, env),
            StoreLocation::Redis { url, prefix } => redis::child_args(url, prefix, args, env),
        }
    }
}

/// A store's location and connection settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub location: StoreLocation,
    /// Connections per instance (SQL backends).
    pub pool_size: u32,
    /// How long connecting to the store may take.
    pub timeout: Duration,
    /// How long an order may wait for a pooled connection (SQL backends): a run's own request
    /// timeout, so a burst far larger than the pool waits its turn rather than failing at a
    /// fixed bound while stock remains.
    pub acquire_timeout: Duration,
    /// Added to every order's store round trip (`server.store_latency`): a slow disk or a
    /// far database. SQL backends hold one of the pool's connections while it passes.
    pub latency: Duration,
}

pub use crate::redact::redact;
pub use postgres::application_name as postgres_application_name;

/// The store of one backend, holding the data and running its own strategies.
#[derive(Debug)]
pub enum Backing {
    Memory(MemoryStore),
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PostgresStore),
    Mysql(mysql::MysqlStore),
    Redis(redis::RedisStore),
}

impl Backing {
    pub async fn place(&self, req: &OrderRequest) -> Result<Placed, StoreError> {
        match self {
            Backing::Memory(s) => Ok(s.place(req).await),
            Backing::Sqlite(s) => s.place(req).await,
            Backing::Postgres(s) => s.place(req).await,
            Backing::Mysql(s) => s.place(req).await,
            Backing::Redis(s) => s.place(req).await,
        }
    }

    /// The lock counts of a backend whose strategy may take seed-design locks.
    fn locks(&self) -> Option<&LockTracker> {
        match self {
            Backing::Memory(s) => Some(s.locks()),
            Backing::Sqlite(s) => Some(s.locks()),
            Backing::Redis(s) => Some(s.locks()),
            Backing::Postgres(s) => Some(s.locks()),
            Backing::Mysql(s) => Some(s.locks()),
        }
    }

    /// Undoes a created order in one step: the order record goes, its units go back.
    pub async fn cancel(&self, order: &Order) -> Result<(), StoreError> {
        match self {
            Backing::Memory(s) => {
                s.cancel(order);
                Ok(())
            }
            Backing::Sqlite(s) => s.cancel(order).await,
            Backing::Postgres(s) => s.cancel(order).await,
            Backing::Mysql(s) => s.cancel(order).await,
            Backing::Redis(s) => s.cancel(order).await,
        }
    }
}

/// One store of one backend, running one strategy (a mutant wraps the backend's correct one).
#[derive(Debug)]
pub struct Store {
    backing: Backing,
    mutant: Option<mutant::Mutant>,
    slow: Slow,
}

/// The added latency of a slow store: a wait on every order's round trip, holding one of the
/// pool's connections (a semaphore of `pool_size` permits) on SQL backends. Set at the start
/// (`server.store_latency`) and changed while the server runs (the `slow_store` fault).
#[derive(Debug)]
struct Slow {
    latency_us: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The backend waits the latency itself, inside its lock (Redis lock strategies).
    in_lock: bool,
    connections: Option<tokio::sync::Semaphore>,
}

impl Slow {
    fn latency(&self) -> Duration {
        Duration::from_micros(self.latency_us.load(std::sync::atomic::Ordering::Relaxed))
    }

    async fn wait(&self) {
        let latency = self.latency();
        if latency.is_zero() {
            return;
        }
        let _held = match &self.connections {
            Some(pool) => pool.acquire().await.ok(),
            None => None,
        };
        tokio::time::sleep(latency).await;
    }
}

impl Store {
    /// Creates what the store needs (tables, schema) once, before any instance opens it.
    pub async fn prepare(opts: &StoreOptions) -> Result<(), StoreError> {
        match &opts.location {
            StoreLocation::Memory | StoreLocation::Redis { .. } => Ok(()),
            StoreLocation::Sqlite { file } => sqlite::prepare(file, opts).await,
            StoreLocation::Postgres { url, schema } => postgres::prepare(url, schema, opts).await,
            StoreLocation::Mysql { url, database } => mysql::prepare(url, database, opts).await,
        }
    }

    /// Opens a store; `instance` makes order ids unique across `memory` instances.
    pub async fn open(strategy: Strategy, instance: u32, opts: &StoreOptions) -> Result<Store, StoreError> {
        let backing = match &opts.location {
            StoreLocation::Memory => Backing::Memory(MemoryStore::new(strategy, instance)),
            StoreLocation::Sqlite { file } => Backing::Sqlite(sqlite::open(file, strategy, opts).await?),
            StoreLocation::Postgres { url, schema } => {
                Backing::Postgres(postgres::open(url, schema, strategy, opts).await?)
            }
            StoreLocation::Mysql { url, database } => Backing::Mysql(mysql::open(url, database, strategy, opts).await?),
            StoreLocation::Redis { url, prefix } => {
                Backing::Redis(redis::RedisStore::open(url, prefix, strategy, opts).await?)
            }
        };
        let latency_us = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(opts.latency.as_micros() as u64));
        let mut backing = backing;
        let in_lock = match &mut backing {
            Backing::Redis(r) if matches!(strategy, Strategy::SeedLock | Strategy::Lock) => {
                r.hold_with(latency_us.clone());
                true
            }
            _ => false,
        };
        let slow = Slow {
            latency_us,
            in_lock,
            connections: matches!(
                opts.location,
                StoreLocation::Sqlite { .. } | StoreLocation::Postgres { .. } | StoreLocation::Mysql { .. }
            )
            .then(|| tokio::sync::Semaphore::new(opts.pool_size.max(1) as usize)),
        };
        Ok(Store { backing, mutant: mutant::Mutant::for_strategy(strategy, opts.pool_size), slow })
    }

    /// Replaces every product and order with `products`.
    pub async fn seed(&self, products: &[SeedProduct]) -> Result<(), StoreError> {
        match &self.backing {
            Backing::Memory(s) => s.seed(products),
            Backing::Sqlite(s) => s.seed(products).await?,
            Backing::Postgres(s) => s.seed(products).await?,
            Backing::Mysql(s) => s.seed(products).await?,
            Backing::Redis(s) => s.seed(products).await?,
        }
        if let Some(locks) = self.backing.locks() {
            locks.forget_live();
        }
        Ok(())
    }

    /// The seed-design locks this handle took (`seed-lock`); zeros for other strategies.
    pub fn lock_stats(&self) -> LockStats {
        self.backing.locks().map(LockTracker::stats).unwrap_or_default()
    }

    /// Sets the latency added to every order's store round trip from now on.
    pub fn set_latency(&self, latency: Duration) {
        self.slow.latency_us.store(latency.as_micros() as u64, std::sync::atomic::Ordering::Relaxed);
    }

    pub async fn place(&self, req: &OrderRequest) -> Result<Placed, StoreError> {
        if !self.slow.in_lock {
            self.slow.wait().await;
        }
        match &self.mutant {
            Some(m) => m.place(&self.backing, req).await,
            None => self.backing.place(req).await,
        }
    }

    /// The store server's name and version (`PostgreSQL 15.19`), when it tells.
    pub async fn version(&self) -> Option<String> {
        match &self.backing {
            Backing::Memory(_) => None,
            Backing::Sqlite(s) => s.version().await,
            Backing::Postgres(s) => s.version().await,
            Backing::Mysql(s) => s.version().await,
            Backing::Redis(s) => s.version().await,
        }
    }

    pub async fn product(&self, id: &str) -> Result<Option<ProductStock>, StoreError> {
        match &self.backing {
            Backing::Memory(s) => Ok(s.product(id)),
            Backing::Sqlite(s) => s.product(id).await,
            Backing::Postgres(s) => s.product(id).await,
            Backing::Mysql(s) => s.product(id).await,
            Backing::Redis(s) => s.product(id).await,
        }
    }

    pub async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        match &self.backing {
            Backing::Memory(s) => Ok(s.snapshot()),
            Backing::Sqlite(s) => s.snapshot().await,
            Backing::Postgres(s) => s.snapshot().await,
            Backing::Mysql(s) => s.snapshot().await,
            Backing::Redis(s) => s.snapshot().await,
        }
    }

    /// Finishes with the store: SQLite folds its write-ahead log into the file (so `orders.db`
    /// alone holds everything), SQL pools close their connections.
    pub async fn close(&self) {
        match &self.backing {
            Backing::Sqlite(s) => s.close().await,
            Backing::Postgres(s) => s.close().await,
            Backing::Mysql(s) => s.close().await,
            Backing::Memory(_) | Backing::Redis(_) => {}
        }
    }

    /// Removes the run's data where it lives on a shared server (the PostgreSQL schema, the
    /// Redis keys). SQLite files and memory are left alone.
    pub async fn cleanup(&self) -> Result<(), StoreError> {
        match &self.backing {
            Backing::Memory(_) => Ok(()),
            Backing::Sqlite(s) => s.cleanup().await,
            Backing::Postgres(s) => s.cleanup().await,
            Backing::Mysql(s) => s.cleanup().await,
            Backing::Redis(s) => s.delete_keys().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_tracker_counts_expiries_after_the_ttl_and_forgets_reseeded_locks() {
        let t = LockTracker::new(Duration::from_millis(30));
        t.acquired();
        t.acquired();
        assert_eq!(t.stats(), LockStats { acquisitions: 2, expiries: 0 });
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(t.stats(), LockStats { acquisitions: 2, expiries: 2 });
        t.acquired();
        t.forget_live();
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(t.stats(), LockStats { acquisitions: 3, expiries: 2 }, "a reseed deleted it");
    }
}
