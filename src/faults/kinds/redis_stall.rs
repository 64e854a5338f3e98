//! `redis_stall`: `CLIENT PAUSE` the run's Redis for `for` (`mode: write`, the default, or
//! `all`).

use super::{own_server, redis_command, surface, Started, Undo, ACT_TIMEOUT};
use crate::faults::FaultSurface;
use crate::scenario::{Fault, StallMode};
use crate::server::store::{redact, StoreLocation};
use crate::task::BoxFuture;
use std::time::Duration;

/// A Redis paused until `until` (when an `ALL` pause ends by itself).
struct Unpause {
    url: String,
    until: tokio::time::Instant,
}

impl Undo for Unpause {
    fn undo<'a>(self: Box<Self>, _: Option<&'a dyn FaultSurface>) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            let left = self.until.saturating_duration_since(tokio::time::Instant::now());
            redis_command(&self.url, &["CLIENT", "UNPAUSE"], left + ACT_TIMEOUT).await
        })
    }
}

pub(super) async fn describe(s: Option<&dyn FaultSurface>) -> String {
    match s.map(|s| s.store()) {
        Some(StoreLocation::Redis { url, prefix }) => match own_server(s).await {
            Some(what) => what,
            None => format!("{} (the whole server; this run's keys are {prefix}:*)", redact(&url)),
        },
        _ => "the store".into(),
    }
}

pub(super) async fn start(fault: &Fault, s: Option<&dyn FaultSurface>) -> Result<Started, String> {
    let StoreLocation::Redis { url, .. } = surface(s)?.store() else {
        return Err("redis_stall needs the redis backend".into());
    };
    let mode = match fault.mode.unwrap_or_default() {
        StallMode::Write => "WRITE",
        StallMode::All => "ALL",
    };
    // Exactly `for`: under `ALL`, Redis blocks even `CLIENT UNPAUSE` until the pause runs
    // out, so the pause must end by itself (the undo then waits for it).
    let lasts = fault.duration.map_or(Duration::ZERO, |d| d.0);
    let ms = lasts.as_millis().max(1).to_string();
    redis_command(&url, &["CLIENT", "PAUSE", &ms, mode], ACT_TIMEOUT).await?;
    Ok(Started::undone_by(Unpause { url, until: tokio::time::Instant::now() + lasts }))
}
