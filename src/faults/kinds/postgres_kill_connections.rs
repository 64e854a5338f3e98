//! `postgres_kill_connections`: `pg_terminate_backend` on the run's own connections (named
//! `flashbench:<schema>`), transactions in flight included. Nothing to undo.

use super::{pg_connect, surface, Started};
use crate::faults::FaultSurface;
use crate::server::store::{postgres_application_name, redact, StoreLocation};

pub(super) fn describe(s: Option<&dyn FaultSurface>) -> String {
    match s.map(|s| s.store()) {
        Some(StoreLocation::Postgres { url, schema }) => {
            format!("{} connections named {}", redact(&url), postgres_application_name(&schema))
        }
        _ => "the store".into(),
    }
}

pub(super) async fn start(s: Option<&dyn FaultSurface>) -> Result<Started, String> {
    let StoreLocation::Postgres { url, schema } = surface(s)?.store() else {
        return Err("postgres_kill_connections needs the postgres backend".into());
    };
    let mut conn = pg_connect(&url).await?;
    let ended: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
         WHERE application_name = $1 AND pid <> pg_backend_pid()",
    )
    .bind(postgres_application_name(&schema))
    .fetch_one(&mut conn)
    .await
    .map_err(|e| format!("pg_terminate_backend: {e}"))?;
    let _ = sqlx::Connection::close(conn).await;
    Ok(Started { detail: Some(format!("ended {ended} connections")), undo: None })
}
