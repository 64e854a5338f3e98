//! `postgres_lock_table`: holds `LOCK TABLE <schema>.<table> IN ACCESS EXCLUSIVE MODE` for
//! `for` (`table: products`, the default, or `orders`), in a transaction of the nemesis's own
//! connection; the undo rolls it back (and a dropped connection ends it too).

use super::{pg_connect, surface, Started, Undo};
use crate::faults::FaultSurface;
use crate::scenario::Fault;
use crate::server::store::{redact, StoreLocation};
use crate::task::BoxFuture;

struct Locked(sqlx::PgConnection);

impl Undo for Locked {
    fn undo<'a>(self: Box<Self>, _: Option<&'a dyn FaultSurface>) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let mut conn = self.0;
            let rolled = sqlx::raw_sql("ROLLBACK").execute(&mut conn).await.map_err(|e| format!("ROLLBACK: {e}"));
            let _ = sqlx::Connection::close(conn).await;
            rolled.map(|_| ())
        })
    }
}

fn table(fault: &Fault) -> &str {
    fault.table.as_deref().unwrap_or("products")
}

pub(super) fn describe(fault: &Fault, s: Option<&dyn FaultSurface>) -> String {
    match s.map(|s| s.store()) {
        Some(StoreLocation::Postgres { url, schema }) => format!("{} table {schema}.{}", redact(&url), table(fault)),
        _ => "the store".into(),
    }
}

pub(super) async fn start(fault: &Fault, s: Option<&dyn FaultSurface>) -> Result<Started, String> {
    let StoreLocation::Postgres { url, schema } = surface(s)?.store() else {
        return Err("postgres_lock_table needs the postgres backend".into());
    };
    let table = table(fault);
    let mut conn = pg_connect(&url).await?;
    for sql in ["BEGIN".to_string(), format!("LOCK TABLE \"{schema}\".\"{table}\" IN ACCESS EXCLUSIVE MODE")] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .map_err(|e| format!("LOCK TABLE {schema}.{table}: {e}"))?;
    }
    Ok(Started::undone_by(Locked(conn)))
}
