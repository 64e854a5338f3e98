//! `slow_store`: adds `latency` to every order's store round trip on every instance for `for`
//! (a race window made wide); the undo takes it away.

use super::{surface, Started, Undo};
use crate::faults::FaultSurface;
use crate::scenario::Fault;
use crate::task::BoxFuture;
use std::time::Duration;

struct Unslow;

impl Undo for Unslow {
    fn undo<'a>(self: Box<Self>, s: Option<&'a dyn FaultSurface>) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { surface(s)?.set_store_latency(Duration::ZERO).await })
    }
}

fn latency(fault: &Fault) -> Duration {
    fault.latency.map(|l| l.0).unwrap_or_default()
}

pub(super) fn describe(fault: &Fault) -> String {
    format!("every instance's store (+{:?})", latency(fault))
}

pub(super) async fn start(fault: &Fault, s: Option<&dyn FaultSurface>) -> Result<Started, String> {
    surface(s)?.set_store_latency(latency(fault)).await?;
    Ok(Started::undone_by(Unslow))
}
