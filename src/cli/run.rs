//! `flashbench run`: scenarios, or folders of them, run in name order; each run's report
//! written and its verdict printed, and a suite's summary when there were several.

use crate::model::exit::Exit;
use crate::model::{Backend, Strategy};
use crate::report;
use crate::run::{self, Overrides, RunOptions};
use crate::scenario;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario files, or folders of scenarios.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
    /// Write the run's files here (one scenario: directly into DIR; several: DIR/<scenario>/).
    /// Default: reports/<scenario>/<timestamp>/ with a `latest` link.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// No live view; print only one verdict line per scenario.
    #[arg(short, long)]
    pub quiet: bool,
    /// Replace the scenario's server backend.
    #[arg(long, value_enum)]
    pub backend: Option<Backend>,
    /// Replace the scenario's strategy (see the README for each backend's).
    #[arg(long, value_enum)]
    pub strategy: Option<Strategy>,
    /// Replace the scenario's number of buyers.
    #[arg(long, value_name = "N")]
    pub buyers: Option<u32>,
    /// Replace the scenario's number of server instances.
    #[arg(long, value_name = "N")]
    pub instances: Option<u32>,
    /// Where the reference server runs: in-process, or child (`flashbench serve` processes).
    /// Default: in-process when one process can hold both ends of every buyer's socket.
    #[arg(long, value_enum)]
    pub placement: Option<crate::limits::Placement>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Keep the run's PostgreSQL schema or Redis keys after the run (they are removed by default).
    #[arg(long)]
    pub keep_data: bool,
    /// Run each scenario K times on fresh state (wins over `repeat:`); any violation fails.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: Option<u32>,
    /// Stop at the first failing repetition or scenario.
    #[arg(long)]
    pub fail_fast: bool,
    /// Compare with a previous run's or suite's summary.json; a regression beyond a limit exits 3.
    #[arg(long, value_name = "PATH")]
    pub baseline: Option<PathBuf>,
    /// A regression limit METRIC=PERCENT (e.g. latency.won.p99=20%); wins over the scenario's.
    #[arg(long, value_name = "METRIC=PCT", value_parser = crate::model::baseline::Limit::parse_arg)]
    pub regression: Vec<crate::model::baseline::Limit>,
    /// Write this run's results (a summary.json) to PATH, as the next run's baseline.
    #[arg(long, value_name = "PATH")]
    pub save_baseline: Option<PathBuf>,
    /// Serve the run's live figures at http://ADDR/metrics for Prometheus to scrape (attempts
    /// by outcome, in flight, latency histogram, stock, phase, send skew, verdict), e.g.
    /// 127.0.0.1:9464. Metric names: README, "Watching a run live".
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Push the run's figures every second, and once more at its end, to a Prometheus
    /// remote-write URL (e.g. http://127.0.0.1:9090/api/v1/write, Prometheus started with
    /// --web.enable-remote-write-receiver): a short burst is seen in full, which a scrape misses.
    #[arg(long, value_name = "URL")]
    pub prometheus_remote_write: Option<String>,
    /// Local addresses the buyers' connections are bound to, spread over buyers: a list
    /// (10.0.0.5,10.0.0.6) or an IPv4 CIDR (10.0.1.16/28). Each address has its own ephemeral
    /// ports, so more buyers than one address's ports can connect. On a loopback target
    /// 127.0.0.2, 127.0.0.3, … are used by themselves when needed.
    #[arg(long, value_name = "LIST|CIDR", value_parser = crate::limits::parse_source_list)]
    pub source_addresses: Option<crate::limits::SourceList>,
    /// Drive one shard of the buyers, e.g. 2/4 (from 0): the buyers are split in N contiguous
    /// slices, and this process drives slice i of a `kind: http` burst, released at
    /// --release-at, then writes a part (no verdict) into --out. `flashbench merge` judges
    /// the parts together. For runs over several machines (README, "Past one machine").
    #[arg(long, value_name = "i/N", requires_all = ["release_at", "out"])]
    pub shard: Option<crate::model::ShardSpec>,
    /// With --shard: the instant every shard releases its buyers, RFC 3339 with its offset,
    /// e.g. 2026-12-01T10:00:00.000Z (by each machine's wall clock: keep them synchronised).
    #[arg(long, value_name = "INSTANT", requires = "shard")]
    pub release_at: Option<String>,
}

/// The shared stores a run (or each design of a comparison) uses: `run` and `compare` alike.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// Redis for the redis backend (default redis://127.0.0.1:6379); wins over the scenario's.
    #[arg(long, env = "FLASHBENCH_REDIS_URL", value_name = "URL")]
    pub redis_url: Option<String>,
    /// PostgreSQL for the postgres backend (default postgres://postgres@127.0.0.1:5432/postgres);
    /// wins over the scenario's.
    #[arg(long, env = "FLASHBENCH_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// MySQL or MariaDB for the mysql backend (default mysql://root@127.0.0.1:3306/mysql); wins
    /// over the scenario's.
    #[arg(long, env = "FLASHBENCH_MYSQL_URL", value_name = "URL")]
    pub mysql_url: Option<String>,
    /// Database connections per server instance (SQL backends).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub pool_size: Option<u32>,
}

impl StoreArgs {
    /// `opts` with the stores named on the command line (or in the environment).
    pub(super) fn apply(&self, opts: RunOptions) -> RunOptions {
        RunOptions {
            redis_url: self.redis_url.clone(),
            database_url: self.database_url.clone(),
            mysql_url: self.mysql_url.clone(),
            pool_size: self.pool_size,
            ..opts
        }
    }
}

/// Writes a finished run's report into its folder, ends its live view, pushes its last figures
/// and publishes the folder (the `latest` link); what the run ended with. A report that could
/// not be written is exit 4, and the folder is left unpublished.
pub(crate) async fn report_run(ran: Result<run::Finished, run::RunResult>, opts: &RunOptions) -> run::RunResult {
    let f = match ran {
        Ok(f) => f,
        Err(refused) => return refused,
    };
    let (exit_code, error, dir) = (f.summary.exit_code, f.summary.error.clone(), f.folder.path.clone());
    f.live.set_phase(crate::live::Phase::Reporting);
    let written = report::write_run(&dir, &f.summary, &f.ledger, &f.scenario_yaml);
    f.live.finished(f.summary.verdict, exit_code);
    drop(f.view);
    if let Some(rw) = &opts.remote_write {
        if let Err(e) = rw.push(&f.live).await {
            crate::logging::line(format!("warning: {e}; the run's final figures were not pushed"));
        }
    }
    let summary = Some(f.summary);
    if let Err(e) = written {
        let error = Some(format!("cannot write the report into {}: {e}", dir.display()));
        return run::RunResult { file: f.file, exit_code: Exit::Environment, summary, dir: Some(dir), error };
    }
    f.folder.publish();
    crate::interrupt::set_run_folder(None);
    run::RunResult { file: f.file, exit_code, summary, dir: Some(dir), error }
}

pub(super) async fn run_command(args: RunArgs) -> Exit {
    // An interrupted run has no verdict: stop at once and claim nothing, but remove the run's
    // schema or keys. Run folders hold a `summary.json` only once a run has finished; child
    // servers stop with their parent.
    crate::interrupt::install();
    match prepared(&args).await {
        Ok(Prepared::Part(code)) => code,
        Ok(Prepared::Suite(files, opts)) => {
            let _pusher = opts.remote_write.clone().map(|rw| crate::task::AbortOnDrop(rw.spawn(args.quiet)));
            let ran = run_each(&files, &opts, &args).await;
            linger_for_the_last_scrape(&args).await;
            finish_suite(&args, &opts, files.len() == 1, &ran)
        }
        Err(code) => code,
    }
}

/// What the command line asks once it is checked: a shard's part (run at once), or a suite.
enum Prepared {
    Part(Exit),
    Suite(Vec<PathBuf>, Box<RunOptions>),
}

/// Checks everything before the first run: the flags, every file of the suite, the baseline
/// folder, the metrics address. `Err`: the exit code, the error said.
async fn prepared(args: &RunArgs) -> Result<Prepared, Exit> {
    let usage = |e: String| {
        crate::note!("error: {e}");
        Exit::Usage
    };
    let remote_write = match args.prometheus_remote_write.as_deref() {
        None => None,
        Some(url) => Some(crate::live::remote_write::RemoteWrite::new(url).map_err(|e| usage(e.to_string()))?),
    };
    let files = run::expand(&args.paths).map_err(usage)?;
    let opts = options(args, remote_write)?;
    if let (Some(release_at), Some(out)) = (&args.release_at, &args.out) {
        let [file] = files.as_slice() else {
            return Err(usage(format!("--shard runs one scenario file; {} given", files.len())));
        };
        let outcome = crate::shard::distributed::run_part(file, &opts, release_at, out).await;
        match outcome.exit_code {
            Exit::Pass => crate::note!("{}", outcome.message),
            _ => crate::note!("error: {}", outcome.message),
        }
        return Ok(Prepared::Part(outcome.exit_code));
    }
    // A baseline that could not be saved would be found missing by the next run: refuse now.
    if let Some(folder) = args.save_baseline.as_deref().and_then(std::path::Path::parent) {
        if !folder.as_os_str().is_empty() && !folder.is_dir() {
            return Err(usage(format!("--save-baseline: the folder {} does not exist", folder.display())));
        }
    }
    preflight(&files, &opts)?;
    if let Some(addr) = args.metrics_listen {
        match crate::live::listen::start(addr).await {
            Ok(bound) if !args.quiet => crate::note!("metrics at http://{bound}/metrics"),
            Ok(_) => {}
            Err(e) => return Err(usage(format!("{e}; choose a free address, or leave out --metrics-listen"))),
        }
    }
    Ok(Prepared::Suite(files, Box::new(opts)))
}

/// The run's options from the command line, the baseline read.
fn options(args: &RunArgs, remote_write: Option<crate::live::remote_write::RemoteWrite>) -> Result<RunOptions, Exit> {
    let baseline = match &args.baseline {
        None => None,
        Some(path) => match crate::baseline::Baseline::load(path) {
            Ok(b) => Some(std::sync::Arc::new(b)),
            Err(e) => {
                crate::note!("error: --baseline {e}");
                return Err(Exit::Usage);
            }
        },
    };
    Ok(args.store.apply(RunOptions {
        out: args.out.clone(),
        reports_root: PathBuf::from("reports"),
        quiet: args.quiet,
        overrides: Overrides {
            backend: args.backend,
            strategy: args.strategy,
            buyers: args.buyers,
            instances: args.instances,
            placement: args.placement,
        },
        server_exe: None,
        keep_data: args.keep_data,
        repeat: args.repeat,
        fail_fast: args.fail_fast,
        baseline,
        regressions: args.regression.clone(),
        remote_write,
        source_addresses: args.source_addresses.clone().map(|l| l.0).unwrap_or_default(),
        shard: args.shard,
        spread: Some(std::sync::Arc::new(crate::shard::local::Spawn::of(None))),
        ..RunOptions::default()
    }))
}

/// Every file is checked before the first runs: a typo in the last file must not be found
/// after the others ran (and mask what they found).
fn preflight(files: &[PathBuf], opts: &RunOptions) -> Result<(), Exit> {
    let problems = run::preflight(files, opts);
    if problems.is_empty() {
        return Ok(());
    }
    for p in &problems {
        crate::note!("error: {p}");
    }
    if files.len() > 1 {
        crate::note!(
            "{} of {} scenarios cannot run; nothing was run (exit 2). `flashbench validate` lists the same errors.",
            problems.len(),
            files.len()
        );
    }
    Err(Exit::Usage)
}

/// One row of the suite per scenario run: its name, exit code and what it found.
type Row = (String, Exit, String);

/// Runs every file in turn, printing each verdict; stops at a signal, or at the first
/// failure with `--fail-fast`.
async fn run_each(files: &[PathBuf], opts: &RunOptions, args: &RunArgs) -> Vec<(Row, run::RunResult)> {
    let mut ran = Vec::new();
    for (done, file) in files.iter().enumerate() {
        if crate::interrupt::requested().is_some() {
            crate::note!("interrupted: {} not run", crate::text::count((files.len() - done) as u64, "scenario"));
            break;
        }
        let exact = match (&opts.out, files.len() == 1) {
            (Some(out), true) => Some(out.clone()),
            (Some(out), false) => {
                let name = scenario::load(file).map(|s| s.name).unwrap_or_else(|_| stem(file));
                Some(out.join(name))
            }
            (None, _) => None,
        };
        let result = report_run(run::run_file(file, opts, exact.as_deref()).await, opts).await;
        print_result(&result, args.quiet);
        let failed = result.exit_code != Exit::Pass;
        ran.push((row_of(file, &result), result));
        if failed && args.fail_fast {
            crate::note!("--fail-fast: stopping after {}", file.display());
            break;
        }
    }
    ran
}

/// A run's verdict on the terminal: the whole summary, or one line with `--quiet`; and an
/// error the summary does not show.
pub(super) fn print_result(result: &run::RunResult, quiet: bool) {
    match (&result.summary, &result.error) {
        (Some(s), _) if !quiet => crate::out!("{}", report::render(s, result.dir.as_deref())),
        (Some(s), _) => {
            crate::outln!("{} {} exit {}: {}", report::terminal::verdict_word(s), s.scenario, s.exit_code, s.headline())
        }
        (None, Some(e)) => crate::note!("error: {e}"),
        (None, None) => {}
    }
    if let (Some(s), Some(e)) = (&result.summary, &result.error) {
        if s.exit_code != result.exit_code {
            crate::note!("error: {e}");
        }
    }
}

fn row_of(file: &std::path::Path, result: &run::RunResult) -> Row {
    let what = match (&result.summary, &result.error) {
        (_, Some(e)) if result.exit_code == Exit::Usage || result.exit_code == Exit::Environment => e.clone(),
        (Some(s), _) => s.headline(),
        _ => String::new(),
    };
    (result.summary.as_ref().map_or_else(|| stem(file), |s| s.scenario.clone()), result.exit_code, what)
}

/// With `--metrics-listen`: waits (a while) for Prometheus to scrape the final figures.
async fn linger_for_the_last_scrape(args: &RunArgs) {
    let Some(addr) = args.metrics_listen else { return };
    if !args.quiet {
        crate::note!(
            "waiting for Prometheus to scrape the final figures at http://{addr}/metrics (at most {}s; Ctrl-C to skip)",
            crate::live::listen::LINGER.as_secs()
        );
    }
    if !crate::live::listen::await_last_scrape(&crate::interrupt::process()).await && !args.quiet {
        crate::note!("no scrape came: the final figures were not collected (--prometheus-remote-write pushes them)");
    }
}

/// Saves the baseline asked for, and for several files prints and writes the suite's report;
/// the suite's exit code.
fn finish_suite(args: &RunArgs, opts: &RunOptions, single: bool, ran: &[(Row, run::RunResult)]) -> Exit {
    let rows: Vec<Row> = ran.iter().map(|(row, _)| row.clone()).collect();
    let summaries: Vec<&crate::model::Summary> = ran.iter().filter_map(|(_, r)| r.summary.as_ref()).collect();
    let saved = match &args.save_baseline {
        Some(path) => save_baseline(path, single, &summaries, Exit::most_severe(rows.iter().map(|r| r.1))),
        None => Exit::Pass,
    };
    // A baseline asked for and not saved fails the command (exit 4), whatever the runs found.
    let code = Exit::most_severe(rows.iter().map(|r| r.1).chain([saved]));
    if !single {
        crate::out!("{}", report::render_suite(&rows, code));
        if let Some(table) = report::render_self_tests(&summaries) {
            crate::out!("{table}");
        }
        match write_suite_report(opts, ran, &summaries, code) {
            Ok(d) => crate::outln!("suite report {}", d.join("index.html").display()),
            Err(e) => crate::note!("warning: cannot write the suite report: {e}"),
        }
    }
    code
}

/// Writes `--save-baseline`: the one run's summary, or the suite's. Exit 4 when it could not.
fn save_baseline(path: &std::path::Path, single: bool, summaries: &[&crate::model::Summary], code: Exit) -> Exit {
    let json = if single {
        summaries.first().map(serde_json::to_vec_pretty)
    } else {
        Some(serde_json::to_vec_pretty(&report::suite::SuiteSummary::new(summaries, code)))
    };
    match json.map(|j| j.map_err(std::io::Error::other).and_then(|b| crate::folder::write_atomic(path, &b))) {
        Some(Ok(())) => {
            crate::note!("baseline saved to {}", path.display());
            Exit::Pass
        }
        Some(Err(e)) => {
            crate::note!("error: cannot save the baseline to {}: {e}", path.display());
            Exit::Environment
        }
        None => {
            crate::note!("error: no result to save as a baseline");
            Exit::Environment
        }
    }
}

/// The suite's folder: its `index.html` and `summary.json`, published as `latest`.
fn write_suite_report(
    opts: &RunOptions,
    ran: &[(Row, run::RunResult)],
    summaries: &[&crate::model::Summary],
    code: Exit,
) -> std::io::Result<PathBuf> {
    let folder = match &opts.out {
        Some(out) => crate::folder::RunDir::exact(out),
        None => crate::folder::create_run_dir(&opts.reports_root, "suites", None)?,
    };
    let entries: Vec<report::suite::Entry> = ran
        .iter()
        .map(|((name, code, what), r)| report::suite::Entry {
            name: name.clone(),
            exit_code: *code,
            what: what.clone(),
            summary: r.summary.as_ref(),
            dir: r.dir.clone(),
        })
        .collect();
    let d = folder.path.clone();
    std::fs::create_dir_all(&d)?;
    report::suite::write(&d, &entries, code)?;
    let json =
        serde_json::to_vec_pretty(&report::suite::SuiteSummary::new(summaries, code)).map_err(std::io::Error::other)?;
    crate::folder::write_atomic(&d.join("summary.json"), &json)?;
    folder.publish();
    Ok(d)
}

pub(super) fn stem(file: &std::path::Path) -> String {
    file.file_stem().map_or_else(|| file.display().to_string(), |s| s.to_string_lossy().into_owned())
}
