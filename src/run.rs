//! One run, end to end, following the flow: scenario → target → harness → truth → verify →
//! verdict → report. Also suites: several files or a folder, run in name order.

use crate::baseline::{Baseline, Limit};
use crate::harness::{self, HarnessConfig};
use crate::limits::{self, Placement};
use crate::live::view::{Mode, View};
use crate::live::{Live, Phase, RunLabels};
use crate::model::check::Check;
use crate::model::threshold::ThresholdResult;
use crate::model::Interruption;
use crate::model::Ledger;
use crate::model::Truth;
use crate::model::{Backend, Strategy};
use crate::model::{InvariantSummary, ProductSummary, Summary, TargetInfo};
use crate::repeat;
use crate::report;
use crate::resolve;
use crate::scenario::target::TargetKind;
use crate::scenario::{self, Scenario};
use crate::server::store::{StoreLocation, StoreOptions};
use crate::stats;
use crate::target::{self, TargetOptions};
use crate::threshold::Observed;
use crate::truth;
use crate::verdict::{self, Verdict, EXIT_ENVIRONMENT, EXIT_USAGE};
use crate::verify;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Values from the command line that replace the scenario's.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub backend: Option<Backend>,
    pub strategy: Option<Strategy>,
    pub buyers: Option<u32>,
    pub instances: Option<u32>,
    /// Where the reference server runs; chosen from the socket budget when absent.
    pub placement: Option<Placement>,
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `--out`: one scenario writes here directly, several write `<out>/<name>/`.
    pub out: Option<PathBuf>,
    /// Root of `reports/<scenario>/<timestamp>/` when `out` is not given.
    pub reports_root: PathBuf,
    pub quiet: bool,
    pub overrides: Overrides,
    /// The `flashbench` executable for child servers (tests point it at the built binary).
    pub server_exe: Option<PathBuf>,
    /// `--redis-url` or `FLASHBENCH_REDIS_URL`: wins over the scenario's `server.redis_url`.
    pub redis_url: Option<String>,
    /// `--database-url` or `FLASHBENCH_DATABASE_URL`: wins over `server.database_url`.
    pub database_url: Option<String>,
    /// `--pool-size`: wins over `server.pool_size`.
    pub pool_size: Option<u32>,
    /// Leave the run's PostgreSQL schema or Redis keys in place.
    pub keep_data: bool,
    /// `--repeat`: wins over the scenario's `repeat`.
    pub repeat: Option<u32>,
    /// Stop at the first failing repetition or scenario.
    pub fail_fast: bool,
    /// `--baseline`: the previous results to compare with.
    pub baseline: Option<std::sync::Arc<Baseline>>,
    /// `--regression`: limits that win over the scenario's `regression`.
    pub regressions: Vec<Limit>,
    /// `--prometheus-remote-write`: where each run's final figures are pushed when it ends
    /// (the periodic pushes are the caller's).
    pub remote_write: Option<crate::live::remote_write::RemoteWrite>,
    /// `--source-addresses`: the local addresses buyers bind (empty: chosen by the budget).
    pub source_addresses: Vec<std::net::IpAddr>,
    /// `--shard i/N`: this process drives one slice of the buyers and writes a part.
    pub shard: Option<crate::model::ShardSpec>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            out: None,
            reports_root: PathBuf::from("reports"),
            quiet: true,
            overrides: Overrides::default(),
            server_exe: None,
            redis_url: None,
            database_url: None,
            pool_size: None,
            keep_data: false,
            repeat: None,
            fail_fast: false,
            baseline: None,
            regressions: Vec::new(),
            remote_write: None,
            source_addresses: Vec::new(),
            shard: None,
        }
    }
}

/// Redis when neither flag, environment nor scenario names one.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// PostgreSQL when neither flag, environment nor scenario names one.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// How long connecting to a store may take before the run ends with exit 4.
pub const STORE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Where this run's data lives: a new SQLite file in the run folder (`orders.db`, or
/// `orders-<tag>.db` when that name is taken: a run never touches a file it did not create),
/// a fresh PostgreSQL schema, or a fresh Redis key prefix.
pub fn store_options(s: &Scenario, dir: &Path, opts: &RunOptions) -> std::io::Result<StoreOptions> {
    let tag = format!("{:08x}", rand::random::<u32>());
    let slug: String =
        s.name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).take(40).collect();
    let location = match s.server.backend {
        Backend::Memory => StoreLocation::Memory,
        Backend::Sqlite => StoreLocation::Sqlite {
            file: report::claim_file(dir, &["orders.db".to_string(), format!("orders-{tag}.db")])?,
        },
        Backend::Postgres => StoreLocation::Postgres {
            url: opts
                .database_url
                .clone()
                .or_else(|| s.server.database_url.clone())
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            schema: format!("fb_{slug}_{tag}"),
        },
        Backend::Redis => StoreLocation::Redis {
            url: opts
                .redis_url
                .clone()
                .or_else(|| s.server.redis_url.clone())
                .unwrap_or_else(|| DEFAULT_REDIS_URL.into()),
            prefix: format!("flashbench:{slug}:{tag}"),
        },
    };
    let default_pool = if s.server.backend == Backend::Sqlite { 4 } else { 8 };
    Ok(StoreOptions {
        location,
        pool_size: opts.pool_size.or(s.server.pool_size).unwrap_or(default_pool),
        timeout: STORE_TIMEOUT,
        acquire_timeout: s.request_timeout.0.max(STORE_TIMEOUT),
        latency: s.server.store_latency.map_or(std::time::Duration::ZERO, |d| d.0),
    })
}

/// Removes a SQLite store file this run created, with its companions.
fn remove_own_store(store: &StoreOptions) {
    if let StoreLocation::Sqlite { file } = &store.location {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    }
}

/// What one scenario's run ended with.
#[derive(Debug)]
pub struct RunResult {
    pub file: PathBuf,
    pub exit_code: i32,
    /// Absent when the scenario could not be used (exit 2).
    pub summary: Option<Summary>,
    pub dir: Option<PathBuf>,
    /// A usage or scenario error, or the cause of an environment failure.
    pub error: Option<String>,
}

/// The scenario files named by `paths`: files as given, folders' `*.yaml`/`*.yml` in name order
/// (one level; sub-folders such as `self-test/` are run when named themselves).
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: cannot list: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(format!("{}: no .yaml scenario in this folder", p.display()));
            }
            files.extend(found);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            return Err(format!("{}: no such file or folder", p.display()));
        }
    }
    Ok(files)
}

/// Applies command-line overrides and checks the result.
pub fn apply_overrides(s: &mut Scenario, o: &Overrides) -> Result<(), String> {
    if s.target.kind != TargetKind::Reference {
        let given = [
            ("--backend", o.backend.is_some()),
            ("--strategy", o.strategy.is_some()),
            ("--instances", o.instances.is_some()),
            ("--placement", o.placement.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
            return Err(format!("{flag} applies to the reference server; this scenario's target is `kind: http`"));
        }
    }
    if let Some(b) = o.backend {
        if b != s.server.backend && o.strategy.is_none() {
            s.server.strategy = None;
        }
        s.server.backend = b;
    }
    if let Some(st) = o.strategy {
        if !s.server.backend.supports(st) {
            return Err(format!("--strategy {st}: {}", s.server.backend.unsupported_message(st)));
        }
        s.server.strategy = Some(st);
    }
    if let Some(n) = o.buyers {
        if s.arrival.mode == scenario::ArrivalMode::Rate {
            return Err(format!(
                "--buyers {n}: this scenario's buyers come from its arrival rate (`arrival.mode: rate`); change `rate` or `duration` instead"
            ));
        }
        if n == 0 || n > scenario::MAX_BUYERS {
            return Err(format!("--buyers {n}: expected 1 to {}", scenario::MAX_BUYERS));
        }
        s.buyers.count = n;
    }
    if let Some(n) = o.instances {
        if n == 0 || n > scenario::MAX_INSTANCES {
            return Err(format!("--instances {n}: expected 1 to {}", scenario::MAX_INSTANCES));
        }
        s.server.instances = n;
    }
    Ok(())
}

pub(crate) fn usage_error(file: &Path, error: String) -> RunResult {
    RunResult { file: file.to_path_buf(), exit_code: EXIT_USAGE, summary: None, dir: None, error: Some(error) }
}

/// Loads a scenario, applies the overrides and places its server within the machine's socket
/// budget: everything that can be refused before a run starts.
pub fn prepare(file: &Path, opts: &RunOptions) -> Result<(Scenario, Placement), String> {
    prepare_with_sources(file, opts).map(|(s, layout, _)| (s, layout.placement))
}

/// [`prepare`], and the source addresses buyers bind (see [`limits::source_addresses`]).
pub fn prepare_with_sources(
    file: &Path,
    opts: &RunOptions,
) -> Result<(Scenario, limits::Layout, Vec<std::net::IpAddr>), String> {
    let mut s = scenario::load(file).map_err(|e| e.to_string())?;
    apply_overrides(&mut s, &opts.overrides).map_err(|e| format!("{}: {e}", file.display()))?;
    let fd_limit = limits::raise_fd_limit();
    let reference = s.target.kind == TargetKind::Reference;
    // A shard holds its own slice of the buyers' sockets only.
    let connections = match opts.shard {
        Some(spec) => {
            crate::shard::distributed::check_shardable(&s, opts).map_err(|e| format!("{}: {e}", file.display()))?;
            crate::model::Slice::of(spec, s.closed_users()).len()
        }
        None => s.concurrent_connections(),
    };
    // An http target's server is not ours: only the buyers' sockets count.
    let wanted = match (reference, opts.overrides.placement) {
        (false, _) => Some(Placement::ChildProcesses),
        // Pausing or killing an instance needs a process of its own.
        (true, Some(Placement::InProcess)) if s.has_process_faults() => {
            return Err(format!(
                "{}: pause_instance and kill_instance act on server processes; leave out --placement in-process",
                file.display()
            ))
        }
        (true, _) if s.has_process_faults() => Some(Placement::ChildProcesses),
        (true, wanted) => wanted,
    };
    let layout = limits::layout(u64::from(connections), u64::from(s.server.instances), fd_limit, wanted)
        .map_err(|e| format!("{}: {e}", file.display()))?;
    check_layout(&s, &layout, opts).map_err(|e| format!("{}: {e}", file.display()))?;
    let loopback = reference || s.target.urls.iter().all(|u| is_loopback_url(u));
    limits::check_sources_are_local(&opts.source_addresses)?;
    let sources =
        limits::source_addresses(u64::from(connections), limits::ephemeral_ports(), loopback, &opts.source_addresses)
            .map_err(|e| format!("{}: {e}", file.display()))?;
    Ok((s, layout, sources))
}

/// What a run spread over processes cannot do, said before it starts.
fn check_layout(s: &Scenario, layout: &limits::Layout, opts: &RunOptions) -> Result<(), String> {
    let buyers = s.concurrent_connections();
    if layout.shards > 1 && opts.shard.is_some() {
        return Err(format!(
            "this shard's buyers need {} processes of their own here (ulimit -n); use more shards",
            layout.shards
        ));
    }
    if layout.shards > 1 && (s.arrival.mode != scenario::ArrivalMode::Burst || s.arrival.stream().is_some()) {
        return Err(format!(
            "{buyers} buyers need {} processes here (open files per process: ulimit -n), and a run over several \
             processes drives a burst (`arrival.mode: burst`, no `background`) only; use fewer buyers",
            layout.shards
        ));
    }
    if layout.workers > 1 && s.target.kind == TargetKind::Reference && !s.server.backend.shares_store() {
        return Err(format!(
            "{buyers} buyers need {} server processes per instance here (ulimit -n), but the `{}` backend keeps \
             its stock inside one process; use sqlite, postgres or redis, or more `instances`",
            layout.workers,
            s.server.backend.name()
        ));
    }
    Ok(())
}

/// Whether `url`'s host is this machine's loopback (`localhost`, 127.0.0.0/8, `::1`).
fn is_loopback_url(url: &str) -> bool {
    let host = url.split("://").nth(1).unwrap_or(url).split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Checks every file of a suite before the first runs: all the errors, or nothing.
pub fn preflight(files: &[PathBuf], opts: &RunOptions) -> Vec<String> {
    files.iter().filter_map(|f| prepare_with_sources(f, opts).err()).collect()
}

/// Runs one scenario file. `exact_dir` is where its files go, when `--out` decides.
pub async fn run_file(file: &Path, opts: &RunOptions, exact_dir: Option<&Path>) -> RunResult {
    let (s, layout, sources) = match prepare_with_sources(file, opts) {
        Ok(p) => p,
        Err(e) => return usage_error(file, e),
    };
    let reference = s.target.kind == TargetKind::Reference;
    let folder = match report::create_run_dir(&opts.reports_root, &s.name, exact_dir) {
        Ok(d) => d,
        Err(e) => return usage_error(file, format!("cannot create the report folder: {e}")),
    };
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
    let repeat = opts.repeat.unwrap_or(s.repeat).max(1);
    let mut reps = Vec::with_capacity(repeat as usize);
    let mut previous: Option<StoreOptions> = None;
    for i in 1..=repeat {
        // After Ctrl-C no further repetition starts.
        if i > 1 && crate::interrupt::requested().is_some() {
            break;
        }
        live.begin_repetition(i, repeat);
        // Each repetition starts from fresh state; the folder keeps the last one's file.
        if let Some(old) = previous.take() {
            remove_own_store(&old);
        }
        let setup = if reference {
            let store = match store_options(&s, &dir, opts) {
                Ok(store) => store,
                Err(e) => {
                    return RunResult {
                        file: file.to_path_buf(),
                        exit_code: EXIT_ENVIRONMENT,
                        summary: None,
                        dir: Some(dir.clone()),
                        error: Some(format!("cannot create the store file in {}: {e}", dir.display())),
                    }
                }
            };
            previous = Some(store.clone());
            target::Setup::Reference(TargetOptions {
                placement: layout.placement,
                workers: layout.workers,
                server_exe: opts.server_exe.clone(),
                store,
                keep_data: opts.keep_data,
            })
        } else {
            target::Setup::Http
        };
        let shards = (layout.shards > 1).then(|| crate::shard::local::LocalShards {
            count: layout.shards,
            exe: opts.server_exe.clone().or_else(|| std::env::current_exe().ok()).unwrap_or_default(),
            dir: dir.clone(),
        });
        reps.push(execute(&s, file, &setup, &live, &sources, shards.as_ref()).await);
        // A self-test repetition that only missed its catch may be made good by the next.
        let failed = |r: &Summary| r.exit_code != 0 && repeat::code_without_misses(r, &s.expect).is_none();
        if opts.fail_fast && reps.last().is_some_and(|(r, _)| failed(r)) {
            break;
        }
    }
    let (mut summary, ledger, counted) = repeat::aggregate(reps, &s.expect);
    if let Some(baseline) = &opts.baseline {
        let regressions = compare_with_baseline(&mut summary, &s, baseline, &opts.regressions);
        let (kind, code) = verdict::fold(&counted, &regressions);
        summary.reasons.extend(regressions);
        (summary.verdict, summary.exit_code) = (kind.name().into(), code);
    }
    let exit_code = summary.exit_code;
    let error = summary.error.clone();
    let yaml = serde_yaml::to_string(&s).unwrap_or_default();
    live.set_phase(Phase::Reporting);
    let written = report::write_run(&dir, &summary, &ledger, &yaml);
    live.finished(&summary.verdict, exit_code);
    drop(view);
    if let Some(rw) = &opts.remote_write {
        if let Err(e) = rw.push(&live).await {
            crate::logging::line(format!("warning: {e}; the run's final figures were not pushed"));
        }
    }
    if written.is_ok() {
        folder.publish();
        crate::interrupt::set_run_folder(None);
    }
    if let Err(e) = written {
        return RunResult {
            file: file.to_path_buf(),
            exit_code: EXIT_ENVIRONMENT,
            summary: Some(summary),
            dir: Some(dir.clone()),
            error: Some(format!("cannot write the report into {}: {e}", dir.display())),
        };
    }
    RunResult { file: file.to_path_buf(), exit_code, summary: Some(summary), dir: Some(dir), error }
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
pub(crate) fn note_interruption(live: Arc<Live>) -> AbortOnDrop {
    AbortOnDrop(tokio::spawn(async move {
        crate::interrupt::wait().await;
        live.note_interruption();
    }))
}

/// Aborts a background task when dropped.
pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Adds the baseline comparison to `summary`; returns the regressions beyond their limits, one
/// line each, for the verdict ([`verdict::fold`]: exit 3 unless something worse happened).
fn compare_with_baseline(summary: &mut Summary, s: &Scenario, baseline: &Baseline, extra: &[Limit]) -> Vec<String> {
    let Some(before) = baseline.run(&s.name) else {
        summary.reasons.push(format!("baseline {} has no run of {}; nothing compared", baseline.file, s.name));
        return Vec::new();
    };
    let mut limits: Vec<Limit> = s.regression.iter().filter_map(|(m, l)| Limit::parse(m, l).ok()).collect();
    for l in extra {
        limits.retain(|x| x.name != l.name);
        limits.push(l.clone());
    }
    let report = crate::baseline::compare(&baseline.file, before, summary, &limits);
    let regressed: Vec<String> = report
        .rows
        .iter()
        .filter(|r| r.status == "fail")
        .map(|r| {
            format!(
                "regression: {} {} → {} ({}, limit {}%)",
                r.metric,
                r.before_text,
                r.now_text,
                r.change_text(),
                r.limit_percent.unwrap_or(0.0)
            )
        })
        .collect();
    summary.baseline = Some(report);
    regressed
}

/// Starts the target, drives the load, reads the truth and decides; never panics on the
/// target's behalf: a failure of the environment becomes an exit-4 summary.
async fn execute(
    s: &Scenario,
    file: &Path,
    setup: &target::Setup,
    live: &Arc<Live>,
    sources: &[std::net::IpAddr],
    shards: Option<&crate::shard::local::LocalShards>,
) -> (Summary, Ledger) {
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let t0 = Instant::now();
    let mut ctx = Context { s, file, target: target::info_before_start(s, setup), started_at: &started_at };
    live.set_phase(Phase::Starting);
    let target = match target::start(s, setup).await {
        Ok(t) => t,
        Err(e) => return (environment_failure(&ctx, e.to_string(), &Ledger::default(), t0, live), Ledger::default()),
    };
    ctx.target = target.describe();
    ctx.target.source_addresses = sources.iter().map(|a| a.to_string()).collect();
    // Ctrl-C while the target was starting: no load at all.
    if crate::interrupt::requested().is_some() {
        target.stop().await;
        let error = "the run was interrupted before the load".to_string();
        return (environment_failure(&ctx, error, &Ledger::default(), t0, live), Ledger::default());
    }
    let mut plan = target.plan();
    plan.sources = sources.to_vec();
    let own_before = crate::resources::memory_of(None);
    let servers_before = target.server_memory();
    let config = HarnessConfig {
        plan: Arc::new(plan),
        live: live.clone(),
        deadline: harness::run_deadline(s),
        slice: None,
        release: None,
    };
    // The nemesis runs beside the load and undoes every fault once the load is over.
    let (load_done, done_rx) = tokio::sync::watch::channel(false);
    let nemesis = (!s.faults.is_empty())
        .then(|| tokio::spawn(crate::faults::run(s.faults.clone(), target.fault_surface(), live.clone(), done_rx)));
    let loaded = match shards {
        Some(shards) => crate::shard::local::drive(s, &config.plan, live, shards).await,
        None => harness::drive(Arc::new(s.clone()), &config).await.map(|l| (l, Vec::new())).map_err(|e| e.to_string()),
    };
    let _ = load_done.send(true);
    let fault_records = match nemesis {
        Some(task) => task.await.unwrap_or_default(),
        None => Vec::new(),
    };
    let (ledger, shard_summaries) = match loaded {
        Ok(l) => l,
        Err(e) => {
            target.stop().await;
            return (environment_failure(&ctx, e, &Ledger::default(), t0, live), Ledger::default());
        }
    };
    let duration = t0.elapsed();
    // Shard processes hold the buyers' side: their peaks count with this process's.
    let shards_peak: u64 = shard_summaries.iter().filter_map(|sh| sh.peak_rss_bytes).sum();
    let resources = own_before.zip(crate::resources::memory_of(None)).map(|((before, _), (_, peak))| {
        let peak = peak + shards_peak;
        let side = |before: u64, peak: u64| crate::model::Side { before_load_bytes: before, peak_bytes: peak };
        let servers = servers_before.zip(target.server_memory()).map(|((b, _), (_, p))| side(b, p));
        crate::model::Resources::new(u64::from(s.concurrent_connections()), side(before, peak), servers)
    });
    let (mut summary, ledger) = conclude(&mut ctx, target, ledger, live, t0, fault_records).await;
    summary.duration_ms = duration.as_millis() as u64;
    summary.resources = resources;
    summary.shards = shard_summaries;
    (summary, ledger)
}

/// The faults with what the load saw while each lasted, and those not tested (one line each):
/// a fault that could not act, or whose trigger never came, leaves a pass unproven.
fn fault_effects(
    mut records: Vec<crate::model::FaultRecord>,
    ledger: &Ledger,
    s: &Scenario,
    checks: &[Check],
) -> (Vec<crate::model::FaultRecord>, Vec<String>) {
    if records.is_empty() {
        return (records, Vec::new());
    }
    let lost = checks
        .iter()
        .find(|c| c.name == crate::model::check::Invariant::AckedOrdersDurable)
        .and_then(|c| c.counts.get("missing"))
        .map(|n| *n as u64);
    crate::faults::effects(&mut records, ledger, s.request_timeout.0, lost);
    let untested = records
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match (&r.error, r.start_us) {
            (Some(e), _) => Some(format!("fault {i} ({}) could not act: {e}", r.kind)),
            (None, None) => Some(format!("fault {i} ({}) never came: the load ended before its trigger", r.kind)),
            _ => None,
        })
        .collect();
    (records, untested)
}

/// Everything after the load: reads the truth once the target is quiet, stops the target,
/// resolves the indeterminate attempts, checks the invariants and thresholds, and decides.
/// A run in one process and a merge of shards' parts end alike here.
pub(crate) async fn conclude(
    ctx: &mut Context<'_>,
    target: Box<dyn target::Target>,
    mut ledger: Ledger,
    live: &Arc<Live>,
    t0: Instant,
    faults: Vec<crate::model::FaultRecord>,
) -> (Summary, Ledger) {
    let s = ctx.s;
    let skew = stats::send_skew(&ledger);
    if !ledger.attempts.is_empty() {
        live.send_skew(skew.p50, skew.p99, skew.max);
    }
    live.set_phase(Phase::Truth);
    let awaited = truth::Awaited::of(s, &ledger);
    let read = target.read_truth(s, &awaited).await;
    let after_run = target.after_run().await;
    ctx.target.after_run = Some(after_run.liveness);
    target.stop().await;
    let truth = match read {
        Ok(truth) => truth,
        Err(e) => return (environment_failure(ctx, e.to_string(), &ledger, t0, live), ledger),
    };
    live.set_phase(Phase::Verifying);
    resolve::resolve(s, &mut ledger, &truth);
    let mut checks = verify::check_all(&verify::Input::new(s, &ledger, &truth).with_after_run(Some(&after_run)));
    let signal = crate::interrupt::requested();
    let load_cut = signal.is_some() && !live.interrupted_during().is_some_and(Phase::after_load);
    if load_cut {
        unprovable_when_cut(&mut checks);
    }
    let counts = stats::outcome_counts(&ledger);
    let observed = Observed::new(&ledger);
    let thresholds: Vec<ThresholdResult> = s.thresholds.iter().map(|t| observed.evaluate(t)).collect();
    let nothing_sent = (!ledger.attempts.is_empty() && ledger.attempts.iter().all(|a| !a.outcome.was_sent()))
        .then(|| ledger.attempts.iter().find_map(|a| a.error.clone()).unwrap_or_default());
    let (faults, untested_faults) = fault_effects(faults, &ledger, s, &checks);
    let interruption = interruption(live, &ledger, s.total_buyers());
    let facts = verdict::Facts {
        checks: &checks,
        counts: Some(&counts),
        thresholds: &thresholds,
        overrun: ledger.overrun.as_ref(),
        truth: Some(&truth.reading),
        nothing_sent: nothing_sent.as_deref(),
        environment: None,
        untested_faults: &untested_faults,
        interruption: interruption.as_ref(),
    };
    let verdict = verdict::judge(s, &facts);
    let mut summary = build_summary(ctx, &ledger, Some(&truth), &checks, &verdict);
    summary.duration_ms = t0.elapsed().as_millis() as u64;
    summary.thresholds = thresholds;
    summary.faults = faults;
    summary.interrupted = interruption;
    (summary, ledger)
}

/// Checks a cut load cannot decide: stock left unsold proves nothing when buyers were stopped.
fn unprovable_when_cut(checks: &mut [Check]) {
    for c in checks.iter_mut().filter(|c| c.name == crate::model::Invariant::NoUndersell) {
        c.status = crate::model::Status::NotApplicable;
        c.detail = format!(
            "not checked: the run was interrupted before every buyer had made its attempts, so stock left \
             unsold proves nothing ({})",
            c.detail
        );
    }
}

/// The interruption, when a signal has come: in which phase, and what it cut.
fn interruption(live: &Live, ledger: &Ledger, buyers: u32) -> Option<Interruption> {
    let signal = crate::interrupt::requested()?;
    let during = live.interrupted_during().unwrap_or(Phase::Starting);
    let cut_attempts = ledger
        .attempts
        .iter()
        .filter(|a| a.error.as_deref().is_some_and(|e| e.starts_with(harness::buyer::CUT_BY_STOP)))
        .count() as u64;
    let sent: std::collections::HashSet<u32> =
        ledger.attempts.iter().filter(|a| a.outcome.was_sent()).map(|a| a.buyer).collect();
    let stopped_buyers = u64::from(buyers).saturating_sub(sent.len() as u64);
    let load_complete = during.after_load();
    let what = if load_complete {
        "the load had finished, so the checks below are complete".to_string()
    } else {
        format!(
            "a partial run: {} sent, {} cut in flight, {} sent nothing; it proves no pass",
            crate::text::count(ledger.attempts.iter().filter(|a| a.outcome.was_sent()).count() as u64, "attempt"),
            crate::text::count(cut_attempts, "attempt"),
            crate::text::count(stopped_buyers, "buyer"),
        )
    };
    Some(Interruption {
        signal: match signal {
            crate::interrupt::Signal::Interrupt => "SIGINT".into(),
            crate::interrupt::Signal::Terminate => "SIGTERM".into(),
        },
        during: during.name().into(),
        load_complete,
        cut_attempts,
        stopped_buyers,
        exit_code: signal.exit_code(),
        reason: format!("interrupted by {} in phase `{}`: {what}", signal.name(), during.name()),
    })
}

/// What every summary of one run is built from.
pub(crate) struct Context<'a> {
    pub s: &'a Scenario,
    pub file: &'a Path,
    pub target: TargetInfo,
    pub started_at: &'a str,
}

/// The summary of a run whose environment failed: nothing checked, exit 4 (or the signal's
/// code, when one came).
pub(crate) fn environment_failure(ctx: &Context, error: String, ledger: &Ledger, t0: Instant, live: &Live) -> Summary {
    let checks = verify::unchecked(&error);
    let interruption = interruption(live, ledger, ctx.s.total_buyers());
    let facts = verdict::Facts {
        checks: &checks,
        environment: Some(&error),
        interruption: interruption.as_ref(),
        ..verdict::Facts::default()
    };
    let verdict = verdict::judge(ctx.s, &facts);
    let mut summary = build_summary(ctx, ledger, None, &checks, &verdict);
    summary.error = Some(error);
    summary.duration_ms = t0.elapsed().as_millis() as u64;
    summary.interrupted = interruption;
    summary
}

fn build_summary(
    ctx: &Context,
    ledger: &Ledger,
    truth: Option<&Truth>,
    checks: &[Check],
    verdict: &Verdict,
) -> Summary {
    let (s, file, started_at) = (ctx.s, ctx.file, ctx.started_at);
    let demand = s.eligible_demand_without(&ledger.dropped_buyers());
    let products = s
        .products
        .iter()
        .enumerate()
        .map(|(i, p)| ProductSummary {
            id: p.id.clone(),
            initial_stock: u64::from(p.stock),
            final_stock: truth.and_then(|t| t.products[i].final_stock),
            orders: truth.and_then(|t| t.orders_of(i)),
            units_ordered: truth.and_then(|t| t.units_ordered(i)).map_or(0, |u| u.max(0) as u64),
            eligible_demand: demand.get(i).copied().unwrap_or(0),
        })
        .collect();
    Summary {
        flashbench_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: s.name.clone(),
        description: s.description.clone(),
        scenario_file: file.display().to_string(),
        verdict: verdict.kind.name().to_string(),
        exit_code: verdict.exit_code,
        reasons: verdict.reasons.clone(),
        error: None,
        started_at: started_at.to_string(),
        target: ctx.target.clone(),
        buyers: s.total_buyers(),
        attempts: ledger.attempts.len() as u64,
        products,
        outcomes: stats::outcome_counts(ledger).into_iter().map(|(o, n)| (o.name().to_string(), n)).collect(),
        indeterminate: crate::model::Indeterminate::of(ledger),
        queued: stats::queued(ledger),
        truth: truth.map(|t| t.reading.clone()),
        expected_outcomes: verdict.outcome_checks.clone(),
        invariants: checks
            .iter()
            .map(|c| InvariantSummary::from_check(c, s.expect.violations.contains(&c.name)))
            .collect(),
        latency_us: stats::latency(ledger),
        service_time_us: stats::service_time(ledger),
        throughput_rps: stats::throughput_rps(ledger),
        duration_ms: 0,
        load_ms: stats::load_window_us(ledger) / 1000,
        send_skew_us: stats::send_skew(ledger),
        connect_failures: ledger.connect_failures,
        late_buyers: ledger.late_buyers,
        overrun: ledger.overrun,
        reconnected: ledger.reconnected,
        early_answers: ledger.early_answers,
        top_errors: stats::top_errors(ledger, 5),
        release_us: ledger.release_us,
        fairness: crate::fairness::measure(ledger),
        timeseries_interval_ms: s.timeseries_interval.0.as_millis().max(1) as u64,
        stream: s.arrival.stream().map(|st| {
            let arrivals = ledger.arrivals.max(st.count());
            let dropped = ledger.dropped.len() as u64;
            crate::model::StreamSummary {
                arrivals,
                dropped,
                dropped_rate: if arrivals == 0 { 0.0 } else { dropped as f64 / arrivals as f64 },
                max_in_flight: st.slots(),
                peak_in_flight: stats::peak_in_flight(ledger),
                start_us: ledger.stream_start_us,
            }
        }),
        environment: crate::resources::environment(),
        thresholds: Vec::new(),
        repetitions: Vec::new(),
        shown_repetition: None,
        violation_rate: std::collections::BTreeMap::new(),
        baseline: None,
        resources: None,
        interrupted: None,
        shards: Vec::new(),
        faults: Vec::new(),
    }
}
