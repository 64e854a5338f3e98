//! Ground truth from SQL, PostgreSQL, MySQL/MariaDB or SQLite: the scenario's stock query
//! (columns `product`, `stock`) and orders query (`id`, `product`, `buyer`, `quantity`), read
//! in one transaction (REPEATABLE READ on PostgreSQL, a consistent-snapshot REPEATABLE READ
//! transaction on MySQL, a read transaction on SQLite) so that the two agree. Ids may be text
//! or integers. The same connection runs the `sql:` setup steps.

use super::Reading;
use crate::model::Order;
use crate::scenario::target::{expand_env, SqlTruth};
use crate::server::store::redact;
use sqlx::mysql::{MySqlPool, MySqlPoolOptions, MySqlRow};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{AssertSqlSafe, Row};
use std::str::FromStr;
use std::time::Duration;

/// Runs the stock query and the orders query (when there is one) in transaction `$tx`.
macro_rules! fetch_both {
    ($tx:ident, $spec:ident) => {{
        let stock = sqlx::query(AssertSqlSafe($spec.stock.clone()))
            .fetch_all(&mut *$tx)
            .await
            .map_err(|e| format!("stock query: {e}"))?;
        let orders = match &$spec.orders {
            Some(q) => Some(
                sqlx::query(AssertSqlSafe(q.clone()))
                    .fetch_all(&mut *$tx)
                    .await
                    .map_err(|e| format!("orders query: {e}"))?,
            ),
            None => None,
        };
        (stock, orders)
    }};
}

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection to the store behind an `http` target.
#[derive(Debug)]
pub enum SqlSource {
    Postgres(PgPool, SqlTruth),
    Mysql(MySqlPool, SqlTruth),
    Sqlite(SqlitePool, SqlTruth),
}

impl SqlSource {
    pub async fn connect(spec: &SqlTruth) -> Result<SqlSource, String> {
        let url = expand_env(&spec.url)?;
        let shown = redact(&url);
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(&url).map_err(|e| format!("{shown}: {e}"))?;
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(CONNECT_TIMEOUT)
                .connect_with(opts)
                .await
                .map_err(|e| format!("{shown}: {e}"))?;
            Ok(SqlSource::Sqlite(pool, spec.clone()))
        } else if url.starts_with("mysql:") || url.starts_with("mariadb:") {
            let url = url.replacen("mariadb:", "mysql:", 1);
            let pool = MySqlPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(CONNECT_TIMEOUT)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        // The snapshot below is consistent only under REPEATABLE READ, whatever
                        // the server's default.
                        sqlx::query("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ").execute(conn).await?;
                        Ok(())
                    })
                })
                .connect(&url)
                .await
                .map_err(|e| format!("{shown}: {e}"))?;
            Ok(SqlSource::Mysql(pool, spec.clone()))
        } else {
            let pool = PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(CONNECT_TIMEOUT)
                .connect(&url)
                .await
                .map_err(|e| format!("{shown}: {e}"))?;
            Ok(SqlSource::Postgres(pool, spec.clone()))
        }
    }

    /// Stock and orders, in one transaction.
    pub async fn read(&self) -> Result<Reading, String> {
        match self {
            SqlSource::Postgres(pool, spec) => {
                let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
                sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| e.to_string())?;
                let (stock, orders) = fetch_both!(tx, spec);
                tx.commit().await.map_err(|e| e.to_string())?;
                reading(pg_text, &stock, orders.as_deref())
            }
            SqlSource::Mysql(pool, spec) => {
                let mut tx = pool
                    .begin_with("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
                    .await
                    .map_err(|e| e.to_string())?;
                let (stock, orders) = fetch_both!(tx, spec);
                tx.commit().await.map_err(|e| e.to_string())?;
                reading(my_text, &stock, orders.as_deref())
            }
            SqlSource::Sqlite(pool, spec) => {
                let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
                let (stock, orders) = fetch_both!(tx, spec);
                tx.commit().await.map_err(|e| e.to_string())?;
                reading(lite_text, &stock, orders.as_deref())
            }
        }
    }

    /// Runs one statement (a setup step).
    pub async fn execute(&self, statement: &str) -> Result<(), String> {
        let sql = AssertSqlSafe(statement.to_string());
        match self {
            SqlSource::Postgres(pool, _) => sqlx::query(sql).execute(pool).await.map(|_| ()),
            SqlSource::Mysql(pool, _) => sqlx::query(sql).execute(pool).await.map(|_| ()),
            SqlSource::Sqlite(pool, _) => sqlx::query(sql).execute(pool).await.map(|_| ()),
        }
        .map_err(|e| e.to_string())
    }

    pub async fn close(&self) {
        match self {
            SqlSource::Postgres(pool, _) => pool.close().await,
            SqlSource::Mysql(pool, _) => pool.close().await,
            SqlSource::Sqlite(pool, _) => pool.close().await,
        }
    }
}

/// A column of a row as text, whatever its type; `None` when the row has no such column.
type Column<R> = fn(&R, &str) -> Result<Option<String>, String>;

/// Returns the column as text from the first of the types that decodes it (in decimal for
/// integers), `None` when the row has no such column; falls through when none decodes.
macro_rules! return_as_text {
    ($row:ident, $col:ident, $($t:ty),+) => {
        if $row.try_column($col).is_err() {
            return Ok(None);
        }
        $(
            if let Ok(v) = $row.try_get::<Option<$t>, _>($col) {
                return Ok(v.map(|v| v.to_string()));
            }
        )+
    };
}

fn pg_text(row: &PgRow, col: &str) -> Result<Option<String>, String> {
    return_as_text!(row, col, String, i64, i32, i16);
    Err(format!("column {col} is neither text nor an integer; cast it (e.g. {col}::text)"))
}

fn my_text(row: &MySqlRow, col: &str) -> Result<Option<String>, String> {
    return_as_text!(row, col, String, i64, u64, i32, u32);
    if let Ok(v) = row.try_get::<Option<Vec<u8>>, _>(col) {
        return Ok(v.map(|v| String::from_utf8_lossy(&v).into_owned()));
    }
    Err(format!("column {col} is neither text nor an integer; cast it (CAST({col} AS SIGNED) or CAST({col} AS CHAR))"))
}

fn lite_text(row: &SqliteRow, col: &str) -> Result<Option<String>, String> {
    return_as_text!(row, col, i64, String);
    Err(format!("column {col} is neither text nor an integer"))
}

fn need<R>(get: Column<R>, row: &R, col: &str, query: &str) -> Result<String, String> {
    get(row, col)?.ok_or_else(|| format!("the {query} query must return a column named `{col}` (use AS {col})"))
}

fn reading<R>(get: Column<R>, stock: &[R], orders: Option<&[R]>) -> Result<Reading, String> {
    let mut out = Reading::default();
    for row in stock {
        let product = need(get, row, "product", "stock")?;
        let value = need(get, row, "stock", "stock")?;
        let stock =
            value.trim().parse::<i64>().map_err(|_| format!("stock of {product} is not a number: {value:?}"))?;
        out.stock.push((product, stock));
    }
    if let Some(orders) = orders {
        let mut list = Vec::new();
        for row in orders {
            let quantity = match get(row, "quantity")? {
                Some(q) => q.trim().parse::<u32>().map_err(|_| format!("order quantity {q:?} is not a count"))?,
                None => 1,
            };
            list.push(Order {
                id: need(get, row, "id", "orders")?,
                product_id: need(get, row, "product", "orders")?,
                // Orders need not name a buyer (no such column, NULL or ''): they are then
                // matched by product and count, and the checks by buyer say they cannot tell.
                buyer_id: get(row, "buyer")?.unwrap_or_default(),
                quantity,
            });
        }
        list.sort_by(|a, b| a.id.cmp(&b.id));
        out.orders = Some(list);
    }
    out.stock.sort();
    Ok(out)
}
