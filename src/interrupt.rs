//! Ctrl-C and SIGTERM during `flashbench run` and `compare`.
//!
//! The first signal asks the run in progress to stop: no new attempt starts, attempts in flight
//! get [`DRAIN`] to be answered and are then cut (recorded as `timeout`, indeterminate), truth
//! is read, the invariants are checked on what happened, and a partial `summary.json` marked
//! `interrupted` is written; the process then exits 130 (SIGINT) or 143 (SIGTERM). The run's
//! PostgreSQL schema or Redis keys are removed as after any run, unless `--keep-data`.
//!
//! A second signal quits at once (same exit code) and says what it left behind: the data
//! registered with [`track`] and the run folder without a `summary.json`.

use crate::model::exit::Exit;
use crate::server::store::{StoreLocation, StoreOptions};
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How long attempts in flight at the first signal may still take before they are cut.
pub const DRAIN: Duration = Duration::from_secs(2);

/// The signal that stopped the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT, Ctrl-C: exit 130.
    Interrupt,
    /// SIGTERM: exit 143.
    Terminate,
}

impl Signal {
    /// 128 + the signal's number, as shells report it.
    pub fn exit_code(self) -> Exit {
        match self {
            Signal::Interrupt => Exit::Interrupted,
            Signal::Terminate => Exit::Terminated,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "Ctrl-C (SIGINT)",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// The first signal and when it came.
fn state() -> &'static watch::Sender<Option<(Signal, Instant)>> {
    static STATE: OnceLock<watch::Sender<Option<(Signal, Instant)>>> = OnceLock::new();
    STATE.get_or_init(|| watch::Sender::new(None))
}

/// The signal that asked the run to stop, if one did.
pub fn requested() -> Option<Signal> {
    state().borrow().map(|(s, _)| s)
}

/// Resolves once a stop was asked for (at once if it already was).
pub async fn wait() {
    let mut rx = state().subscribe();
    let _ = rx.wait_for(Option::is_some).await;
}

/// Resolves [`DRAIN`] after a stop was asked for: when attempts still in flight are cut.
pub async fn drained() {
    let mut rx = state().subscribe();
    let at = rx.wait_for(Option::is_some).await.ok().and_then(|v| v.map(|(_, at)| at));
    if let Some(at) = at {
        tokio::time::sleep_until((at + DRAIN).into()).await;
    }
}

/// Asks the run to stop as the first `signal` would (what the handlers call; tests too).
pub fn request(signal: Signal) -> bool {
    state().send_if_modified(|v| {
        if v.is_some() {
            return false;
        }
        *v = Some((signal, Instant::now()));
        true
    })
}

/// What a second signal reports as left behind.
#[derive(Default)]
struct Left {
    stores: Vec<(u64, StoreOptions)>,
    folder: Option<PathBuf>,
}

fn left() -> std::sync::MutexGuard<'static, Left> {
    static LEFT: Mutex<Left> = Mutex::new(Left { stores: Vec::new(), folder: None });
    LEFT.lock().unwrap_or_else(|p| p.into_inner())
}

/// Keeps a run's data (a PostgreSQL schema or Redis keys) on the list of what a second signal
/// reports as left behind, until dropped.
#[derive(Debug)]
pub struct Tracked(u64);

impl Drop for Tracked {
    fn drop(&mut self) {
        left().stores.retain(|(id, _)| *id != self.0);
    }
}

/// Registers `store`'s data while it exists.
pub fn track(store: &StoreOptions) -> Tracked {
    let id = rand::random::<u64>();
    left().stores.push((id, store.clone()));
    Tracked(id)
}

/// The run folder being filled (its `summary.json` not yet written), or `None` once written.
pub fn set_run_folder(folder: Option<PathBuf>) {
    left().folder = folder;
}

/// Installs the handlers of `run` and `compare`: SIGINT through `ctrlc` (installed before
/// goose's own, which then stands aside), SIGTERM through tokio. Call inside the runtime.
pub fn install() {
    let _ = ctrlc::set_handler(|| on_signal(Signal::Interrupt));
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        tokio::spawn(async move {
            while term.recv().await.is_some() {
                on_signal(Signal::Terminate);
            }
        });
    }
}

fn on_signal(signal: Signal) {
    if request(signal) {
        crate::logging::line(format!(
            "\n{}: stopping the load; attempts in flight get {}s, then truth is read and a partial report \
             written (exit {}). Press Ctrl-C again to quit at once.",
            signal.name(),
            DRAIN.as_secs(),
            signal.exit_code()
        ));
        return;
    }
    let code = requested().unwrap_or(signal).exit_code();
    crate::logging::line(format!("\n{}: quitting at once (exit {code}).", signal.name()));
    let left = left();
    for (_, store) in &left.stores {
        crate::logging::line(format!("left behind: {}", left_behind(&store.location)));
    }
    if let Some(folder) = &left.folder {
        crate::logging::line(format!("left behind: {} (no summary.json: this run has no report)", folder.display()));
    }
    crate::logging::flush();
    std::process::exit(code.code());
}

/// The data a run leaves on a shared server, and how to remove it by hand.
fn left_behind(location: &StoreLocation) -> String {
    match location.removal() {
        Some(how) => format!("{} (remove with: {how})", location.describe()),
        None => location.describe(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_shell_convention() {
        assert_eq!(Signal::Interrupt.exit_code().code(), 130);
        assert_eq!(Signal::Terminate.exit_code().code(), 143);
    }
}
