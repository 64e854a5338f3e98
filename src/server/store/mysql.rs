//! The `mysql` store, for MySQL 8 and MariaDB 10.5 or later: every run gets its own database
//! (created, migrated with the embedded migrations, dropped at the end unless kept), so
//! concurrent runs and tests never collide. The strategies are the SQL store's
//! ([`super::sql`]); this module owns where the data lives (a URL and a database), how a child
//! server is pointed at it, and how it is removed.
//!
//! Ids compare byte for byte (`utf8mb4_bin`), but that collation pads: `"p"` and `"p "` are one
//! id here, as they are not in the other stores.

use super::sql::{open_pool, valid_name, Dialect, SqlStore};
use super::{redact, StoreError, StoreOptions};
use crate::model::Strategy;
use sqlx::migrate::Migrator;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlQueryResult};
use sqlx::{AssertSqlSafe, Executor};
use std::str::FromStr;

/// The server when neither flag, environment nor scenario names one.
pub const DEFAULT_URL: &str = "mysql://root@127.0.0.1:3306/mysql";

/// MySQL's ways: no `UPDATE … RETURNING` (the row is read back in its transaction), the
/// insert id from the answer, `DELETE` to empty (a `TRUNCATE` would commit at once).
#[derive(Debug)]
pub struct Mysql;

impl Dialect for Mysql {
    type DB = sqlx::MySql;
    const NAME: &'static str = "mysql";
    const RETURNING: bool = false;
    const RESET: &'static [&'static str] = &["DELETE FROM orders", "DELETE FROM products"];
    const VERSION: &'static str = "SELECT VERSION()";
    const SESSION: Option<&'static str> = Some("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ");

    /// `10.11.19-MariaDB-0+deb12u1` is `MariaDB 10.11.19`; `8.0.36` is `MySQL 8.0.36`.
    fn version(answer: &str) -> String {
        match answer.split_once("-MariaDB") {
            Some((number, _)) => format!("MariaDB {number}"),
            None => format!("MySQL {}", answer.split('-').next().unwrap_or(answer)),
        }
    }

    fn rows_affected(result: &MySqlQueryResult) -> u64 {
        result.rows_affected()
    }

    fn insert_id(result: &MySqlQueryResult) -> Option<i64> {
        i64::try_from(result.last_insert_id()).ok().filter(|id| *id > 0)
    }
}

pub type MysqlStore = SqlStore<Mysql>;

fn err(e: impl std::fmt::Display) -> StoreError {
    super::sql::err::<Mysql>(e)
}

/// A pool on `database` (or on the URL's own, for `None`). Every connection reads in
/// REPEATABLE READ ([`Dialect::SESSION`]), whatever the server's default: a snapshot's two
/// reads see one state.
async fn pool(url: &str, database: Option<&str>, size: u32, opts: &StoreOptions) -> Result<MySqlPool, StoreError> {
    // sqlx knows the MariaDB spelling of the scheme only as `mysql:`.
    let spelled = match url.strip_prefix("mariadb:") {
        Some(rest) => format!("mysql:{rest}"),
        None => url.to_string(),
    };
    let mut connect = MySqlConnectOptions::from_str(&spelled)
        .map_err(|e| StoreError::Connect { target: redact(url), cause: e.to_string() })?;
    if let Some(database) = database {
        connect = connect.database(database);
    }
    open_pool::<Mysql>(connect, size, opts, &redact(url)).await
}

/// The schema, embedded.
pub fn migrator() -> Migrator {
    super::sql::migrator(include_str!("../../../migrations/mysql/0001_orders.sql"))
}

/// Creates the database (when missing) and applies the migrations in it.
pub async fn prepare(url: &str, database: &str, opts: &StoreOptions) -> Result<(), StoreError> {
    if !valid_name(database) {
        return Err(err(format!("invalid database name {database:?}: use lower-case letters, digits and _")));
    }
    let admin = pool(url, None, 1, opts).await?;
    admin.execute(AssertSqlSafe(format!("CREATE DATABASE IF NOT EXISTS `{database}`"))).await.map_err(err)?;
    admin.close().await;
    let scoped = pool(url, Some(database), 1, opts).await?;
    migrator().run(&scoped).await.map_err(err)?;
    scoped.close().await;
    Ok(())
}

/// Opens the run's database (made by [`prepare`]); the run's end drops it.
pub async fn open(
    url: &str,
    database: &str,
    strategy: Strategy,
    opts: &StoreOptions,
) -> Result<MysqlStore, StoreError> {
    if !valid_name(database) {
        return Err(err(format!("invalid database name {database:?}")));
    }
    let pool = pool(url, Some(database), opts.pool_size, opts).await?;
    SqlStore::new(pool, strategy, Some(format!("DROP DATABASE IF EXISTS `{database}`")))
}

/// Where the data is, for people: the server and the database.
pub fn describe(url: &str, database: &str) -> String {
    format!("{} database {database}", redact(url))
}

/// How to remove a run's data by hand.
pub fn removal(database: &str) -> String {
    format!("DROP DATABASE {database}")
}

/// The `serve` arguments that point a child server at the database; the URL goes in its
/// environment, where `ps` does not show the password.
pub fn child_args(url: &str, database: &str, args: &mut Vec<String>, env: &mut Vec<(&'static str, String)>) {
    env.push(("FLASHBENCH_MYSQL_URL", url.to_string()));
    args.extend(["--mysql-database".into(), database.to_string()]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_name_the_server() {
        assert_eq!(Mysql::version("10.11.19-MariaDB-0+deb12u1"), "MariaDB 10.11.19");
        assert_eq!(Mysql::version("8.0.36"), "MySQL 8.0.36");
        assert_eq!(Mysql::version("8.4.0-commercial"), "MySQL 8.4.0");
    }
}
