//! The target of a run, behind one interface whatever its kind: what its buyers need (a
//! [`Plan`]), ground truth once the load is over, whether it still answers afterwards, and
//! stopping it. Nothing above this seam knows which kind it has.
//!
//! | kind | module | what it is |
//! |---|---|---|
//! | `reference` | [`reference`] | the bundled server, started (in-process or as child processes) and seeded by flashbench on a store it owns |
//! | `http` | [`http`] | a server of the user's own, already running; requests from templates, answers by outcome rules, truth from SQL, Redis or HTTP |
//!
//! A new kind is one module implementing [`Target`] and one arm in [`start`]. A new truth
//! source is a module under `truth/` and a field of `truth:` ([`crate::scenario::TruthSpec`]).

pub mod compile;
pub mod http;
pub mod own_redis;
pub mod reference;

use crate::harness::Plan;
use crate::model::TargetInfo;
use crate::model::{Liveness, Truth};
use crate::scenario::target::TargetKind;
use crate::scenario::Scenario;
use crate::task::BoxFuture;
use crate::truth::Awaited;
use std::time::Duration;

pub use reference::TargetOptions;

/// Makes the process `command` starts die (SIGKILL) when flashbench does, however it ends:
/// servers flashbench starts never outlive it.
pub(crate) fn dies_with_flashbench(command: &mut tokio::process::Command) {
    // SAFETY: prctl is async-signal-safe; between fork and exec it only sets this child's
    // parent-death signal.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// How long the after-run probe may take.
pub const AFTER_RUN_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error("cannot start the reference server: {0}")]
    Start(String),
    #[error("cannot reach the target: {0}")]
    Unreachable(String),
    #[error("cannot seed the products: {0}")]
    Seed(String),
    #[error("setup failed: {0}")]
    Setup(String),
    #[error("cannot read ground truth: {0}")]
    Truth(String),
}

/// What the target answered, after the load, to a request that reads its store: the
/// evidence of `target_alive_after_run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AfterRun {
    pub liveness: Liveness,
    /// The request and what came back: "GET /products/p answered 200".
    pub detail: String,
}

impl AfterRun {
    /// Judges one answer (or its absence) to `request`: alive is an answer below 500 within
    /// [`AFTER_RUN_TIMEOUT`].
    pub fn of(request: &str, answer: Result<u16, String>) -> AfterRun {
        match answer {
            Ok(status) if status < 500 => {
                AfterRun { liveness: Liveness::Responsive, detail: format!("{request} answered {status}") }
            }
            Ok(status) => AfterRun { liveness: Liveness::Unresponsive, detail: format!("{request} answered {status}") },
            Err(e) => AfterRun {
                liveness: Liveness::Unresponsive,
                detail: format!("{request}: no answer within {} s ({e})", AFTER_RUN_TIMEOUT.as_secs()),
            },
        }
    }
}

/// What only the target can check of a scenario: an `http` target's requests, compiled as
/// the run would compile them (nothing for the reference server). For
/// [`crate::scenario::load_checked`], so the problems point at their lines in the file.
pub fn problems(s: &Scenario) -> Vec<crate::scenario::Problem> {
    match s.target.kind {
        TargetKind::Http => compile::problems(s),
        TargetKind::Reference => Vec::new(),
    }
}

/// One target of a run.
pub trait Target: Send + Sync {
    /// What buyers need: endpoints, the order request, the warm-up, the outcome rules.
    fn plan(&self) -> Plan;

    /// What the summary says about the target.
    fn describe(&self) -> TargetInfo;

    /// Ground truth once the load is over: read when it can no longer change (see
    /// `truth`), and once the queued orders `awaited` names have drained.
    fn read_truth<'a>(&'a self, s: &'a Scenario, awaited: &'a Awaited) -> BoxFuture<'a, Result<Truth, TargetError>>;

    /// Does the target still answer (its warm-up request, or a GET of a product)?
    fn after_run(&self) -> BoxFuture<'_, AfterRun>;

    /// Stops what the run started, and removes the run's data unless it is kept.
    fn stop(self: Box<Self>) -> BoxFuture<'static, ()>;

    /// The memory of the server processes this run started (`VmRSS`, `VmHWM` summed over
    /// them), when it started any and `/proc` tells.
    /// What the scenario's `faults:` act on (the reference server's processes and store);
    /// none for a server of the user's own, where only `command` faults apply.
    fn fault_surface(&self) -> Option<std::sync::Arc<dyn crate::faults::FaultSurface>> {
        None
    }

    fn server_memory(&self) -> Option<(u64, u64)> {
        None
    }
}

/// What a target needs beyond the scenario, from the command line.
#[derive(Debug, Clone)]
pub enum Setup {
    Reference(TargetOptions),
    Http,
}

/// What the summary says about the target before it is started (a failed start still names
/// what it was).
pub fn info_before_start(s: &Scenario, setup: &Setup) -> TargetInfo {
    match setup {
        Setup::Reference(opts) => reference::info(s, opts.placement, opts.workers, &opts.store),
        Setup::Http => TargetInfo {
            kind: "http".into(),
            backend: String::new(),
            strategy: String::new(),
            instances: s.target.urls.len() as u32,
            placement: "external".into(),
            rate_limit: String::new(),
            store: String::new(),
            urls: s.target.urls.clone(),
            after_run: None,
            store_version: None,
            source_addresses: Vec::new(),
        },
    }
}

/// Starts (or, for `http`, prepares) the scenario's target.
pub async fn start(s: &Scenario, setup: &Setup) -> Result<Box<dyn Target>, TargetError> {
    match (s.target.kind, setup) {
        (TargetKind::Reference, Setup::Reference(opts)) => {
            Ok(Box::new(reference::ReferenceTarget::start(s, opts).await?))
        }
        (TargetKind::Http, _) => Ok(Box::new(http::HttpTarget::start(s).await?)),
        (TargetKind::Reference, Setup::Http) => {
            Err(TargetError::Start("the reference server needs its store and placement".into()))
        }
    }
}
