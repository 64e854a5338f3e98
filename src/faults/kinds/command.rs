//! `command`: a shell command of the user's own (`run`, e.g. `docker pause shop`), and its
//! `undo` when `for` has passed or the load ended first.

use super::{shell, Started, Undo};
use crate::faults::FaultSurface;
use crate::scenario::Fault;
use crate::task::BoxFuture;

struct UndoCommand(String);

impl Undo for UndoCommand {
    fn undo<'a>(self: Box<Self>, _: Option<&'a dyn FaultSurface>) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move { shell(&self.0).await })
    }
}

pub(super) fn describe(fault: &Fault) -> String {
    fault.run.clone().unwrap_or_default()
}

pub(super) async fn start(fault: &Fault) -> Result<Started, String> {
    shell(fault.run.as_deref().unwrap_or_default()).await?;
    Ok(match &fault.undo {
        Some(undo) => Started::undone_by(UndoCommand(undo.clone())),
        None => Started::done(),
    })
}
