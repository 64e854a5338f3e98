//! `kill_instance`: SIGKILL a server instance; `restart: true` starts it again after `for`, on
//! the same addresses and store.

use super::{surface, Started, Undo};
use crate::faults::FaultSurface;
use crate::scenario::Fault;
use crate::task::BoxFuture;

struct Restart(u32);

impl Undo for Restart {
    fn undo<'a>(self: Box<Self>, s: Option<&'a dyn FaultSurface>) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { surface(s)?.restart(self.0).await })
    }
}

pub(super) async fn start(fault: &Fault, s: Option<&dyn FaultSurface>) -> Result<Started, String> {
    let instance = fault.instance.unwrap_or(0);
    surface(s)?.kill(instance).await?;
    Ok(if fault.restart { Started::undone_by(Restart(instance)) } else { Started::done() })
}
