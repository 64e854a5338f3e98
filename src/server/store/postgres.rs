//! The `postgres` store: every run gets its own schema (created, migrated with the embedded
//! migrations, dropped at the end unless kept), so concurrent runs and tests never collide.
//! The strategies are the SQL store's ([`super::sql`]); this module owns where the data lives
//! (a URL and a schema), how a child server is pointed at it, and how it is removed.

use super::sql::{open_pool, Dialect, SqlStore};
use super::{redact, StoreError, StoreOptions};
use crate::model::Strategy;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool};
use sqlx::AssertSqlSafe;
use std::str::FromStr;

fn err(e: impl std::fmt::Display) -> StoreError {
    super::sql::err::<Postgres>(e)
}

/// A schema name flashbench may create and drop: lower-case letters, digits, `_`.
pub use super::sql::valid_name as valid_schema;

async fn pool(url: &str, schema: Option<&str>, size: u32, opts: &StoreOptions) -> Result<PgPool, StoreError> {
    let mut connect = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Connect { target: redact(url), cause: e.to_string() })?
        .application_name("flashbench");
    if let Some(schema) = schema {
        // The run's own connections can be told apart (and ended, on Ctrl-C) by their name.
        connect = connect.options([("search_path", schema)]).application_name(&application_name(schema));
    }
    open_pool::<Postgres>(connect, size, opts, &redact(url)).await
}

/// The `application_name` of every connection to `schema` (at most 63 bytes: schema names
/// flashbench makes are 52 at most).
pub fn application_name(schema: &str) -> String {
    format!("flashbench:{schema}")
}

/// The schema, embedded.
pub fn migrator() -> Migrator {
    super::sql::migrator(include_str!("../../../migrations/postgres/0001_orders.sql"))
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

/// PostgreSQL's ways: numbered placeholders, `TRUNCATE`, a repeatable-read snapshot.
#[derive(Debug)]
pub struct Postgres;

impl Dialect for Postgres {
    type DB = sqlx::Postgres;
    const NAME: &'static str = "postgres";
    const NUMBERED: bool = true;
    const RESET: &'static [&'static str] = &["TRUNCATE orders, products RESTART IDENTITY"];
    const SNAPSHOT: Option<&'static str> = Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    const VERSION: &'static str = "SHOW server_version";

    fn version(answer: &str) -> String {
        format!("PostgreSQL {}", answer.split_whitespace().next().unwrap_or(answer))
    }

    fn rows_affected(result: &sqlx::postgres::PgQueryResult) -> u64 {
        result.rows_affected()
    }

    fn insert_id(_: &sqlx::postgres::PgQueryResult) -> Option<i64> {
        None
    }
}

pub type PostgresStore = SqlStore<Postgres>;

/// Opens the run's schema (made by [`prepare`]); the run's end drops it.
pub async fn open(
    url: &str,
    schema: &str,
    strategy: Strategy,
    opts: &StoreOptions,
) -> Result<PostgresStore, StoreError> {
    if !valid_schema(schema) {
        return Err(err(format!("invalid schema name {schema:?}")));
    }
    let pool = pool(url, Some(schema), opts.pool_size, opts).await?;
    SqlStore::new(pool, strategy, Some(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")))
}

/// Where the data is, for people: the server and the schema.
pub fn describe(url: &str, schema: &str) -> String {
    format!("{} schema {schema}", redact(url))
}

/// How to remove a run's data by hand.
pub fn removal(schema: &str) -> String {
    format!("DROP SCHEMA {schema} CASCADE")
}

/// The `serve` arguments that point a child server at the schema; the URL goes in its
/// environment, where `ps` does not show the password.
pub fn child_args(url: &str, schema: &str, args: &mut Vec<String>, env: &mut Vec<(&'static str, String)>) {
    env.push(("FLASHBENCH_DATABASE_URL", url.to_string()));
    args.extend(["--pg-schema".into(), schema.to_string()]);
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
