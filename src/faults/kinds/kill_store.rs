//! `kill_store`: SIGKILL the run's own Redis (`server.own_redis`); `restart: true` starts it
//! again after `for`, from what it had persisted.

use super::{surface, Started, Undo};
use crate::faults::FaultSurface;
use crate::scenario::Fault;
use crate::task::BoxFuture;

struct Restart;

impl Undo for Restart {
    fn undo<'a>(self: Box<Self>, s: Option<&'a dyn FaultSurface>) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { surface(s)?.restart_store().await })
    }
}

pub(super) async fn describe(s: Option<&dyn FaultSurface>) -> String {
    match s {
        Some(s) => match s.store_server().await {
            Some((what, Some(pid))) => format!("{what} (pid {pid})"),
            Some((what, None)) => what,
            None => "the run's own Redis".into(),
        },
        None => "the run's own Redis".into(),
    }
}

pub(super) async fn start(fault: &Fault, s: Option<&dyn FaultSurface>) -> Result<Started, String> {
    surface(s)?.kill_store().await?;
    Ok(if fault.restart { Started::undone_by(Restart) } else { Started::done() })
}
