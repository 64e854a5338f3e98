//! The `sqlite` store (SQLite compiled in): one file shared by every instance, in WAL mode.
//! The strategies are the SQL store's ([`super::sql`]), and the seed design's TTL locks are
//! kept in a table; this module owns the file and how a child server is pointed at it.

use super::sql::{Dialect, SqlStore};
use super::{StoreError, StoreOptions};
use crate::model::Strategy;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::time::Duration;

fn err(e: impl std::fmt::Display) -> StoreError {
    super::sql::err::<Sqlite>(e)
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

/// The schema, embedded.
pub fn migrator() -> Migrator {
    super::sql::migrator(include_str!("../../../migrations/sqlite/0001_orders.sql"))
}

/// Creates the file and its tables.
pub async fn prepare(file: &Path, opts: &StoreOptions) -> Result<(), StoreError> {
    let pool = pool(file, opts).await?;
    migrator().run(&pool).await.map_err(err)?;
    pool.close().await;
    Ok(())
}

/// SQLite's ways: `?` placeholders, `DELETE` to empty, a lock table, a checkpoint on close.
#[derive(Debug)]
pub struct Sqlite;

impl Dialect for Sqlite {
    type DB = sqlx::Sqlite;
    const NAME: &'static str = "sqlite";
    const RESET: &'static [&'static str] = &["DELETE FROM orders", "DELETE FROM products", "DELETE FROM seed_locks"];
    const ON_CLOSE: Option<&'static str> = Some("PRAGMA wal_checkpoint(TRUNCATE)");
    const VERSION: &'static str = "SELECT sqlite_version()";
    const SEED_LOCK: Option<&'static str> = Some(
        "INSERT INTO seed_locks (key, expires_us) VALUES (?, ?) \
         ON CONFLICT (key) DO UPDATE SET expires_us = excluded.expires_us WHERE seed_locks.expires_us <= ?",
    );

    fn version(answer: &str) -> String {
        format!("SQLite {answer}")
    }

    fn rows_affected(result: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        result.rows_affected()
    }

    fn insert_id(result: &sqlx::sqlite::SqliteQueryResult) -> Option<i64> {
        Some(result.last_insert_rowid())
    }
}

pub type SqliteStore = SqlStore<Sqlite>;

/// Opens the file (made by [`prepare`]); it stays in the run folder.
pub async fn open(file: &Path, strategy: Strategy, opts: &StoreOptions) -> Result<SqliteStore, StoreError> {
    SqlStore::new(pool(file, opts).await?, strategy, None)
}

/// Where the data is, for people: the file.
pub fn describe(file: &Path) -> String {
    file.display().to_string()
}

/// The `serve` arguments that point a child server at the file.
pub fn child_args(file: &Path, args: &mut Vec<String>) {
    args.extend(["--sqlite-file".into(), file.display().to_string()]);
}
