//! One run, end to end, following the flow: scenario → target → harness → truth → verify →
//! verdict → report. Also suites: several files or a folder, run in name order.

mod conclude;
mod execute;
pub mod judge;
mod options;
mod prepare;
pub mod repeat;

use crate::folder::RunDir;
use crate::limits::{self};
use crate::live::view::{Mode, View};
use crate::live::{Live, RunLabels};
use crate::model::exit::Exit;
use crate::model::Ledger;
use crate::model::Summary;
use crate::scenario::target::TargetKind;
use crate::scenario::Scenario;
use crate::server::store::StoreOptions;
use crate::target::{self, TargetOptions};
use conclude::compare_with_baseline;
pub(crate) use conclude::{conclude, environment_failure, Context};
use execute::execute;
pub use execute::{Spread, Spreading};
use options::remove_own_store;
pub use options::{
    apply_overrides, store_options, Overrides, RunOptions, DEFAULT_DATABASE_URL, DEFAULT_REDIS_URL, STORE_TIMEOUT,
};
pub use prepare::{check_shardable, expand, load, preflight, prepare, prepare_with_sources};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What one scenario's run ended with.
#[derive(Debug)]
pub struct RunResult {
    pub file: PathBuf,
    pub exit_code: Exit,
    /// Absent when the scenario could not be used (exit 2).
    pub summary: Option<Summary>,
    pub dir: Option<PathBuf>,
    /// A usage or scenario error, or the cause of an environment failure.
    pub error: Option<String>,
}

pub(crate) fn usage_error(file: &Path, error: String) -> RunResult {
    RunResult { file: file.to_path_buf(), exit_code: Exit::Usage, summary: None, dir: None, error: Some(error) }
}

/// A run that ended and was judged, its report not yet written: the report is a layer above,
/// so the command line writes it (`cli`) and then publishes the folder.
pub struct Finished {
    pub file: PathBuf,
    pub summary: Summary,
    pub ledger: Ledger,
    /// The scenario as run, for `scenario.yaml`.
    pub scenario_yaml: String,
    pub folder: RunDir,
    pub live: Arc<Live>,
    /// The terminal's live view, ended once the report is written.
    pub view: View,
}

/// Runs one scenario file, every repetition, and judges it. `exact_dir` is where its files
/// go, when `--out` decides. `Err`: it could not run (the scenario, its folder or its store
/// file), with nothing to report.
pub async fn run_file(file: &Path, opts: &RunOptions, exact_dir: Option<&Path>) -> Result<Finished, RunResult> {
    let (s, layout, sources) = prepare_with_sources(file, opts).map_err(|e| usage_error(file, e))?;
    let folder = crate::folder::create_run_dir(&opts.reports_root, &s.name, exact_dir)
        .map_err(|e| usage_error(file, format!("cannot create the report folder: {e}")))?;
    let dir = folder.path.clone();
    crate::interrupt::set_run_folder(Some(dir.clone()));
    let live = Arc::new(live_of(&s, &dir));
    crate::live::listen::set_current(live.clone());
    // A first push at the start: a run shorter than the push interval still gets two points.
    if let Some(rw) = opts.remote_write.clone() {
        let first = live.clone();
        tokio::spawn(async move {
            let _ = rw.push(&first).await;
        });
    }
    let _noted = note_interruption(live.clone());
    let view = View::start(live.clone(), Mode::detect(opts.quiet));
    let load = Load { s: &s, file, opts, layout: &layout, sources: &sources, live: &live, dir: &dir };
    let reps = load.repetitions().await.map_err(|e| RunResult {
        file: file.to_path_buf(),
        exit_code: Exit::Environment,
        summary: None,
        dir: Some(dir.clone()),
        error: Some(e),
    })?;
    let (mut summary, ledger, counted) = repeat::aggregate(reps, &s.expect);
    if let Some(baseline) = &opts.baseline {
        let regressions = compare_with_baseline(&mut summary, &s, baseline, &opts.regressions);
        let (kind, code) = judge::fold(&counted, &regressions);
        summary.reasons.extend(regressions);
        (summary.verdict, summary.exit_code) = (kind, code);
    }
    let scenario_yaml = serde_yaml::to_string(&s).unwrap_or_default();
    Ok(Finished { file: file.to_path_buf(), summary, ledger, scenario_yaml, folder, live, view })
}

/// What every repetition of one scenario runs with.
struct Load<'a> {
    s: &'a Scenario,
    file: &'a Path,
    opts: &'a RunOptions,
    layout: &'a limits::Layout,
    sources: &'a [std::net::IpAddr],
    live: &'a Arc<Live>,
    dir: &'a Path,
}

impl Load<'_> {
    /// Every repetition's summary and ledger, each from fresh state; `Err` when a store file
    /// could not be made.
    async fn repetitions(&self) -> Result<Vec<(Summary, Ledger)>, String> {
        let s = self.s;
        let repeat = self.opts.repeat.unwrap_or(s.repeat).max(1);
        let mut reps = Vec::with_capacity(repeat as usize);
        let mut previous: Option<StoreOptions> = None;
        for i in 1..=repeat {
            // After Ctrl-C no further repetition starts.
            if i > 1 && crate::interrupt::requested().is_some() {
                break;
            }
            self.live.begin_repetition(i, repeat);
            // Each repetition starts from fresh state; the folder keeps the last one's file.
            if let Some(old) = previous.take() {
                remove_own_store(&old);
            }
            let setup = self.setup()?;
            if let target::Setup::Reference(o) = &setup {
                previous = Some(o.store.clone());
            }
            let spread = self.spread();
            reps.push(execute(s, self.file, &setup, self.live, self.sources, spread).await);
            // A self-test repetition that only missed its catch may be made good by the next.
            let failed = |r: &Summary| r.exit_code != Exit::Pass && repeat::code_without_misses(r, &s.expect).is_none();
            if self.opts.fail_fast && reps.last().is_some_and(|(r, _)| failed(r)) {
                break;
            }
        }
        Ok(reps)
    }

    /// How this repetition's target is set up: a reference server on a fresh store, or the
    /// user's server.
    fn setup(&self) -> Result<target::Setup, String> {
        if self.s.target.kind != TargetKind::Reference {
            return Ok(target::Setup::Http);
        }
        let store = store_options(self.s, self.dir, self.opts)
            .map_err(|e| format!("cannot create the store file in {}: {e}", self.dir.display()))?;
        Ok(target::Setup::Reference(TargetOptions {
            placement: self.layout.placement,
            workers: self.layout.workers,
            server_exe: self.opts.server_exe.clone(),
            store,
            keep_data: self.opts.keep_data,
        }))
    }

    /// The load spread over shard processes, when one process cannot hold its sockets.
    fn spread(&self) -> Option<Spreading<'_>> {
        let by = self.opts.spread.as_deref()?;
        (self.layout.shards > 1).then_some(Spreading { by, count: self.layout.shards, dir: self.dir })
    }
}

/// The live figures of a run of `s` into `dir`.
pub(crate) fn live_of(s: &Scenario, dir: &Path) -> Live {
    let reference = s.target.kind == TargetKind::Reference;
    let labels = RunLabels {
        scenario: s.name.clone(),
        run: dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        target: if reference { "reference".into() } else { "http".into() },
        backend: if reference { s.server.backend.name().to_string() } else { String::new() },
        strategy: if reference { s.server.strategy().to_string() } else { String::new() },
    };
    let products = s.products.iter().map(|p| (p.id.clone(), u64::from(p.stock))).collect();
    // The live view counts the harness's users: every session of every buyer.
    let live = Live::new(labels, products, u64::from(s.total_users()));
    live.set_shape(u64::from(s.closed_users()), u64::from(s.concurrent_connections()));
    live
}

/// Notes the phase a run was in when Ctrl-C or SIGTERM came (the task ends with the guard).
pub(crate) fn note_interruption(live: Arc<Live>) -> crate::task::AbortOnDrop {
    crate::task::AbortOnDrop(tokio::spawn(async move {
        crate::interrupt::wait().await;
        live.note_interruption();
    }))
}
