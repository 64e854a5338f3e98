//! `pause_instance`: SIGSTOP a server instance's processes, SIGCONT after `for` (a GC pause, a
//! noisy neighbour).

use super::{signal, surface, Started, Undo};
use crate::faults::FaultSurface;
use crate::scenario::Fault;
use crate::task::BoxFuture;

/// Stopped processes; dropping it continues them, whatever happened in between.
struct Paused(Vec<u32>);

impl Drop for Paused {
    fn drop(&mut self) {
        for pid in &self.0 {
            signal(*pid, libc::SIGCONT);
        }
    }
}

impl Undo for Paused {
    fn undo<'a>(self: Box<Self>, _: Option<&'a dyn FaultSurface>) -> BoxFuture<'a, Result<(), String>> {
        drop(self);
        Box::pin(async { Ok(()) })
    }
}

pub(super) async fn start(fault: &Fault, s: Option<&dyn FaultSurface>) -> Result<Started, String> {
    let instance = fault.instance.unwrap_or(0);
    let pids = surface(s)?.pids(instance).await?;
    let paused = Paused(pids.into_iter().filter(|p| signal(*p, libc::SIGSTOP)).collect());
    match paused.0.is_empty() {
        true => Err(format!("instance {instance} has no process left to pause")),
        false => Ok(Started::undone_by(paused)),
    }
}
