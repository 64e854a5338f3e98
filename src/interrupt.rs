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
//!
//! The stop is a [`Stop`] handed to what must obey it (the harness in its `HarnessConfig`, the
//! live view's listener), not a global they read: the handlers trip the process's own
//! ([`process`]); a test drives a harness with a stop of its own.

use crate::model::exit::Exit;
use crate::server::store::{StoreLocation, StoreOptions};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
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

/// A run's stop: whether one was asked for, and when. Cloned into the parts of a run that
/// must stop (the harness's buyers and stream, the live view's listener), which read it and
/// never trip it; the signal handlers trip the process's own ([`process`]), a test or a shard
/// one of its own.
#[derive(Debug, Clone)]
pub struct Stop(Arc<watch::Sender<Option<(Signal, Instant)>>>);

impl Default for Stop {
    fn default() -> Self {
        Stop::new()
    }
}

impl Stop {
    /// A stop of its own, not asked for yet.
    pub fn new() -> Stop {
        Stop(Arc::new(watch::Sender::new(None)))
    }

    /// Asks to stop as the first `signal` would; `false` when a stop was already asked for.
    pub fn request(&self, signal: Signal) -> bool {
        self.0.send_if_modified(|v| {
            if v.is_some() {
                return false;
            }
            *v = Some((signal, Instant::now()));
            true
        })
    }

    /// The signal that asked to stop, if one did.
    pub fn requested(&self) -> Option<Signal> {
        self.0.borrow().map(|(s, _)| s)
    }

    /// Resolves once a stop was asked for (at once if it already was).
    pub async fn wait(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(Option::is_some).await;
    }

    /// Resolves [`DRAIN`] after a stop was asked for: when attempts still in flight are cut.
    pub async fn drained(&self) {
        let mut rx = self.0.subscribe();
        let at = rx.wait_for(Option::is_some).await.ok().and_then(|v| v.map(|(_, at)| at));
        if let Some(at) = at {
            tokio::time::sleep_until((at + DRAIN).into()).await;
        }
    }
}

/// The process's stop: what SIGINT and SIGTERM trip (the handlers of [`install`]).
pub fn process() -> Stop {
    static PROCESS: OnceLock<Stop> = OnceLock::new();
    PROCESS.get_or_init(Stop::new).clone()
}

/// The signal that asked this process to stop, if one did.
pub fn requested() -> Option<Signal> {
    process().requested()
}

/// Resolves once this process was asked to stop (at once if it already was).
pub async fn wait() {
    process().wait().await
}

/// Asks this process to stop as the first `signal` would (what the handlers call).
pub fn request(signal: Signal) -> bool {
    process().request(signal)
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
