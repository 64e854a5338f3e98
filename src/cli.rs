//! The command line: `run`, `validate` and `serve`, with clap. Parses, dispatches, prints, and
//! returns the exit code; the work itself lives in [`crate::run`] and [`crate::server`].

use crate::model::{Backend, RateLimit, Strategy};
use crate::report;
use crate::run::{self, Overrides, RunOptions};
use crate::scenario;
use crate::server::store::{Store, StoreLocation, StoreOptions};
use crate::server::{self, ServerConfig};
use crate::verdict::{most_severe, EXIT_ENVIRONMENT, EXIT_PASS, EXIT_USAGE};
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "flashbench",
    version,
    about = "Load testing and verification for flash sales",
    long_about = "Drives YAML contention scenarios (a few units of stock, thousands of buyers at the same instant) \
                  against a reference order server, then proves from ground truth that nothing was oversold, \
                  undersold or lost.\n\nExit codes: 0 all passed, 1 an invariant was violated, 2 usage or scenario \
                  error, 3 a threshold failed while invariants held, 4 the environment failed."
)]
pub struct Cli {
    /// Log more (warnings are always shown; -v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When to colour verdicts, statuses and the live view: auto (only on a terminal, and not
    /// when NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = crate::color::ColorChoice::Auto)]
    pub color: crate::color::ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios: files, or folders of *.yaml run in name order.
    Run(RunArgs),
    /// Check scenario files without running any load (exit 0 when all are valid, 2 otherwise).
    Validate {
        /// Scenario files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Run the reference order server on its own.
    Serve(ServeArgs),
    /// Print the JSON Schema of the scenario format (for editors: yaml-language-server).
    Schema,
    /// Send one request of each kind an http scenario sends (warm-up, one order, stock) and
    /// read its truth once, showing each answer and how it is read; no setup, no load.
    Probe {
        /// The scenario file (target.kind: http).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Compare designs side by side: one scenario over several backend/strategy pairs
    /// (`--strategies`, or the scenario's `matrix:`), or finished run folders. Writes one
    /// comparison report (table, overlaid charts, summary.json); exit code as a suite's.
    Compare(CompareArgs),
    /// Judge the parts written by `run --shard i/N` as one run: checks that every shard is
    /// there, puts their ledgers on one clock, reads ground truth once, and writes the reports
    /// a run in one process writes (with each shard's lateness, send skew and clock).
    Merge {
        /// The shards' part folders (each holding part.json and ledger.csv).
        #[arg(required = true, value_name = "PART_DIR")]
        dirs: Vec<PathBuf>,
        /// Write the merged run here. Default: reports/<scenario>/<timestamp>/.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// No live view; print only the verdict line.
        #[arg(short, long)]
        quiet: bool,
    },
    /// One local shard of a run over several processes (started by `flashbench run` itself).
    #[command(hide = true)]
    Shard(ShardArgs),
    /// Render a finished run's reports again (HTML, charts, JUnit, Markdown) from its folder.
    Report {
        /// Run folders (each holding summary.json and ledger.csv).
        #[arg(required = true, value_name = "RUN_DIR")]
        dirs: Vec<PathBuf>,
    },
}

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
    #[arg(long, value_name = "METRIC=PCT", value_parser = crate::baseline::Limit::parse_arg)]
    pub regression: Vec<crate::baseline::Limit>,
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

/// What a local parent tells a `flashbench shard` child (see `shard::child`).
#[derive(Debug, clap::Args)]
pub struct ShardArgs {
    /// The run's resolved scenario.
    #[arg(long, value_name = "FILE")]
    pub scenario: PathBuf,
    /// Which shard of how many.
    #[arg(long, value_name = "i/N")]
    pub shard: crate::model::ShardSpec,
    /// Where its part goes.
    #[arg(long, value_name = "DIR")]
    pub part: PathBuf,
    /// The reference server's base URLs, separated by commas.
    #[arg(long, value_name = "URLS", value_delimiter = ',')]
    pub endpoints: Vec<String>,
    /// The run's `{run}` tag.
    #[arg(long, value_name = "TAG")]
    pub run_tag: String,
    /// Source addresses buyers bind.
    #[arg(long, value_name = "LIST", value_parser = crate::limits::parse_source_list)]
    pub sources: Option<crate::limits::SourceList>,
}

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// One scenario file, or finished run folders (each holding summary.json and ledger.csv).
    #[arg(required = true, value_name = "FILE|RUN_DIR")]
    pub paths: Vec<std::path::PathBuf>,
    /// The designs, BACKEND/STRATEGY separated by commas, e.g.
    /// memory/atomic,sqlite/conditional,postgres/for-update,redis/lua,redis/seed-lock;
    /// wins over the scenario's `matrix:`.
    #[arg(long, value_name = "LIST", value_parser = crate::scenario::matrix::parse_design_list)]
    pub strategies: Option<crate::scenario::matrix::DesignList>,
    /// Run each design K times on fresh state (wins over `repeat:`); latency merges across
    /// repetitions and violations are shown as a share of them.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: Option<u32>,
    /// Write the comparison here (each design in DIR/<backend>-<strategy>/). Default:
    /// reports/<scenario>-compare/<timestamp>/ (reports/compare/… for run folders).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// No progress line while each design runs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Replace the scenario's number of buyers.
    #[arg(long, value_name = "N")]
    pub buyers: Option<u32>,
    /// Replace the scenario's number of server instances.
    #[arg(long, value_name = "N")]
    pub instances: Option<u32>,
    #[command(flatten)]
    pub store: StoreArgs,
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
    /// Database connections per server instance (SQL backends).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub pool_size: Option<u32>,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (printed on the first line of stdout).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Where stock and orders live.
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    pub backend: Backend,
    /// The SQLite file (`--backend sqlite`); created when missing.
    #[arg(long, default_value = "flashbench.db", value_name = "FILE")]
    pub sqlite_file: PathBuf,
    /// PostgreSQL (`--backend postgres`).
    #[arg(long, env = "FLASHBENCH_DATABASE_URL", hide_env_values = true, default_value = crate::run::DEFAULT_DATABASE_URL, value_name = "URL", value_parser = parse_postgres_url)]
    pub database_url: String,
    /// The PostgreSQL schema (created and migrated when missing): lower-case letters, digits, _.
    #[arg(long, default_value = "flashbench", value_name = "NAME", value_parser = parse_pg_schema)]
    pub pg_schema: String,
    /// Redis (`--backend redis`).
    #[arg(long, env = "FLASHBENCH_REDIS_URL", hide_env_values = true, default_value = crate::run::DEFAULT_REDIS_URL, value_name = "URL", value_parser = parse_redis_url)]
    pub redis_url: String,
    /// Prefix of every Redis key.
    #[arg(long, default_value = "flashbench", value_name = "PREFIX")]
    pub redis_prefix: String,
    /// Database connections (SQL backends).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub pool_size: u32,
    /// How orders are taken; defaults to the backend's correct strategy.
    #[arg(long, value_enum)]
    pub strategy: Option<Strategy>,
    /// Per-buyer rate limit: 1000/min (the seed's), 50/s, or off.
    #[arg(long, default_value = "1000/min", value_parser = parse_rate_limit)]
    pub rate_limit: RateLimit,
    /// Bearer token for /admin routes and /metrics; a random one is made (and printed) when absent.
    #[arg(long, env = "FLASHBENCH_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Seed these products at start (a scenario or catalogue YAML with `products:`).
    #[arg(long, value_name = "FILE")]
    pub products: Option<PathBuf>,
    /// Latency added to every order's store round trip (a slow disk or a far database), e.g.
    /// 2ms; SQL backends hold one pooled connection while it passes.
    #[arg(long, default_value = "0ms", value_name = "DURATION", value_parser = parse_duration_arg)]
    pub store_latency: crate::scenario::HumanDuration,
    /// How long an order may wait for a pooled connection (SQL backends) before it is
    /// answered 503; `flashbench run` passes the scenario's `request_timeout`.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_duration_arg)]
    pub acquire_timeout: crate::scenario::HumanDuration,
    /// Instance number, unique among instances that share a store (it goes into order ids).
    #[arg(long, default_value_t = 0)]
    pub instance: u32,
    /// How long a client may take to send a request's head, counted from its connection's
    /// opening or its previous answer: idle keep-alive connections close after it.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_timeout_arg)]
    pub header_timeout: crate::scenario::HumanDuration,
    /// How long a request's body may take once its head has arrived (then 408 and close).
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_timeout_arg)]
    pub body_timeout: crate::scenario::HumanDuration,
    /// Connections served at once; more wait in the listen backlog until one closes [default:
    /// the open-files limit less 256].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
    /// Print only the listening line.
    #[arg(short, long)]
    pub quiet: bool,
    /// Stop when standard input closes (how `flashbench run` ties child servers to itself).
    #[arg(long, hide = true)]
    pub exit_on_stdin_eof: bool,
}

fn parse_duration_arg(text: &str) -> Result<crate::scenario::HumanDuration, String> {
    crate::scenario::parse_duration(text).map(crate::scenario::HumanDuration)
}

/// A duration above zero (a zero timeout would close every connection at once).
fn parse_timeout_arg(text: &str) -> Result<crate::scenario::HumanDuration, String> {
    match parse_duration_arg(text)? {
        d if d.0.is_zero() => Err("a timeout must be above zero".into()),
        d => Ok(d),
    }
}

/// A URL whose scheme is one of `schemes` (checked before anything connects: a typo is a
/// usage error, exit 2, not a store that failed).
fn url_with_scheme(text: &str, schemes: &[&str]) -> Result<String, String> {
    match text.split_once("://") {
        Some((scheme, rest)) if schemes.contains(&scheme) && !rest.is_empty() => Ok(text.to_string()),
        _ => {
            Err(format!("not a URL of {}", schemes.iter().map(|s| format!("{s}://")).collect::<Vec<_>>().join(" or ")))
        }
    }
}

fn parse_postgres_url(text: &str) -> Result<String, String> {
    url_with_scheme(text, &["postgres", "postgresql"])
}

fn parse_redis_url(text: &str) -> Result<String, String> {
    url_with_scheme(text, &["redis", "rediss", "redis+unix", "unix"])
}

fn parse_pg_schema(text: &str) -> Result<String, String> {
    match crate::server::store::postgres::valid_schema(text) {
        true => Ok(text.to_string()),
        false => Err("use lower-case letters, digits and _ (at most 63, not starting with a digit)".into()),
    }
}

fn parse_rate_limit(text: &str) -> Result<RateLimit, String> {
    text.parse()
}

/// Runs the parsed command; returns the process exit code.
pub async fn dispatch(cli: Cli) -> i32 {
    match cli.command {
        Command::Run(args) => run_command(args).await,
        Command::Validate { paths } => validate_command(&paths),
        Command::Serve(args) => serve_command(args).await,
        Command::Report { dirs } => report_command(&dirs),
        Command::Merge { dirs, out, quiet } => merge_command(&dirs, out, quiet).await,
        Command::Shard(args) => {
            crate::shard::child::run(crate::shard::child::ChildArgs {
                scenario: args.scenario,
                spec: args.shard,
                part: args.part,
                endpoints: args.endpoints,
                run_tag: args.run_tag,
                sources: args.sources.map(|l| l.0).unwrap_or_default(),
            })
            .await
        }
        Command::Compare(args) => compare_command(args).await,
        Command::Probe { file } => match scenario::load(&file) {
            Ok(s) => {
                let (text, code) = crate::probe::probe(&s).await;
                crate::out!("{text}");
                code
            }
            Err(e) => {
                crate::note!("error: {e}");
                EXIT_USAGE
            }
        },
        Command::Schema => {
            crate::outln!("{}", scenario::schema_json());
            EXIT_PASS
        }
    }
}

async fn merge_command(dirs: &[PathBuf], out: Option<PathBuf>, quiet: bool) -> i32 {
    crate::interrupt::install();
    let opts = RunOptions { out, quiet, ..RunOptions::default() };
    let result = crate::shard::distributed::merge_dirs(dirs, &opts).await;
    match (&result.summary, &result.error) {
        (Some(s), _) if !quiet => crate::out!("{}", report::render(s, result.dir.as_deref())),
        (Some(s), _) => {
            crate::outln!("{} {} exit {}: {}", report::terminal::verdict_word(s), s.scenario, s.exit_code, s.headline())
        }
        (None, Some(e)) => crate::note!("error: {e}"),
        (None, None) => {}
    }
    result.exit_code
}

async fn run_command(args: RunArgs) -> i32 {
    // An interrupted run has no verdict: stop at once and claim nothing, but remove the run's
    // schema or keys. Run folders hold a `summary.json` only once a run has finished; child
    // servers stop with their parent.
    crate::interrupt::install();
    let remote_write = match args.prometheus_remote_write.as_deref().map(crate::live::remote_write::RemoteWrite::new) {
        None => None,
        Some(Ok(rw)) => Some(rw),
        Some(Err(e)) => {
            crate::note!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let files = match run::expand(&args.paths) {
        Ok(f) => f,
        Err(e) => {
            crate::note!("error: {e}");
            return EXIT_USAGE;
        }
    };
    let opts = RunOptions {
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
        redis_url: args.store.redis_url.clone(),
        database_url: args.store.database_url.clone(),
        pool_size: args.store.pool_size,
        keep_data: args.keep_data,
        repeat: args.repeat,
        fail_fast: args.fail_fast,
        baseline: match &args.baseline {
            None => None,
            Some(path) => match crate::baseline::Baseline::load(path) {
                Ok(b) => Some(std::sync::Arc::new(b)),
                Err(e) => {
                    crate::note!("error: --baseline {e}");
                    return EXIT_USAGE;
                }
            },
        },
        regressions: args.regression.clone(),
        remote_write: remote_write.clone(),
        source_addresses: args.source_addresses.clone().map(|l| l.0).unwrap_or_default(),
        shard: args.shard,
    };
    if let (Some(release_at), Some(out)) = (&args.release_at, &args.out) {
        let [file] = files.as_slice() else {
            crate::note!("error: --shard runs one scenario file; {} given", files.len());
            return EXIT_USAGE;
        };
        let outcome = crate::shard::distributed::run_part(file, &opts, release_at, out).await;
        match outcome.exit_code {
            EXIT_PASS => crate::note!("{}", outcome.message),
            _ => crate::note!("error: {}", outcome.message),
        }
        return outcome.exit_code;
    }
    let single = files.len() == 1;
    // A baseline that could not be saved would be found missing by the next run: refuse now.
    if let Some(folder) = args.save_baseline.as_deref().and_then(std::path::Path::parent) {
        if !folder.as_os_str().is_empty() && !folder.is_dir() {
            crate::note!("error: --save-baseline: the folder {} does not exist", folder.display());
            return EXIT_USAGE;
        }
    }
    // Every file is checked before the first runs: a typo in the last file must not be found
    // after the others ran (and mask what they found).
    let problems = run::preflight(&files, &opts);
    if !problems.is_empty() {
        for p in &problems {
            crate::note!("error: {p}");
        }
        if !single {
            crate::note!(
                "{} of {} scenarios cannot run; nothing was run (exit 2). `flashbench validate` lists the same errors.",
                problems.len(),
                files.len()
            );
        }
        return EXIT_USAGE;
    }
    if let Some(addr) = args.metrics_listen {
        match crate::live::listen::start(addr).await {
            Ok(bound) if !args.quiet => crate::note!("metrics at http://{bound}/metrics"),
            Ok(_) => {}
            Err(e) => {
                crate::note!("error: {e}; choose a free address, or leave out --metrics-listen");
                return EXIT_USAGE;
            }
        }
    }
    let _pusher = remote_write.map(|rw| run::AbortOnDrop(rw.spawn(args.quiet)));
    let mut rows = Vec::new();
    let mut results = Vec::new();
    for (done, file) in files.iter().enumerate() {
        if crate::interrupt::requested().is_some() {
            crate::note!("interrupted: {} not run", crate::text::count((files.len() - done) as u64, "scenario"));
            break;
        }
        let exact = match (&opts.out, single) {
            (Some(out), true) => Some(out.clone()),
            (Some(out), false) => {
                let name = scenario::load(file).map(|s| s.name).unwrap_or_else(|_| stem(file));
                Some(out.join(name))
            }
            (None, _) => None,
        };
        let result = run::run_file(file, &opts, exact.as_deref()).await;
        match (&result.summary, &result.error) {
            (Some(s), _) if !args.quiet => crate::out!("{}", report::render(s, result.dir.as_deref())),
            (Some(s), _) => {
                crate::outln!(
                    "{} {} exit {}: {}",
                    report::terminal::verdict_word(s),
                    s.scenario,
                    s.exit_code,
                    s.headline()
                )
            }
            (None, Some(e)) => crate::note!("error: {e}"),
            (None, None) => {}
        }
        if let (Some(s), Some(e)) = (&result.summary, &result.error) {
            if s.exit_code != result.exit_code {
                crate::note!("error: {e}");
            }
        }
        let what = match (&result.summary, &result.error) {
            (_, Some(e)) if result.exit_code == EXIT_USAGE || result.exit_code == EXIT_ENVIRONMENT => e.clone(),
            (Some(s), _) => s.headline(),
            _ => String::new(),
        };
        rows.push((result.summary.as_ref().map_or_else(|| stem(file), |s| s.scenario.clone()), result.exit_code, what));
        let failed = result.exit_code != 0;
        results.push(result);
        if failed && args.fail_fast {
            crate::note!("--fail-fast: stopping after {}", file.display());
            break;
        }
    }
    if let Some(addr) = args.metrics_listen {
        if !args.quiet {
            crate::note!(
                "waiting for Prometheus to scrape the final figures at http://{addr}/metrics (at most {}s; Ctrl-C to skip)",
                crate::live::listen::LINGER.as_secs()
            );
        }
        if !crate::live::listen::await_last_scrape().await && !args.quiet {
            crate::note!(
                "no scrape came: the final figures were not collected (--prometheus-remote-write pushes them)"
            );
        }
    }
    let summaries: Vec<&crate::model::Summary> = results.iter().filter_map(|r| r.summary.as_ref()).collect();
    let mut saved = EXIT_PASS;
    if let Some(path) = &args.save_baseline {
        let json = if single {
            summaries.first().map(serde_json::to_vec_pretty)
        } else {
            Some(serde_json::to_vec_pretty(&report::suite::SuiteSummary::new(
                &summaries,
                most_severe(rows.iter().map(|r| r.1)),
            )))
        };
        saved = match json.map(|j| j.map_err(std::io::Error::other).and_then(|b| report::write_atomic(path, &b))) {
            Some(Ok(())) => {
                crate::note!("baseline saved to {}", path.display());
                EXIT_PASS
            }
            Some(Err(e)) => {
                crate::note!("error: cannot save the baseline to {}: {e}", path.display());
                EXIT_ENVIRONMENT
            }
            None => {
                crate::note!("error: no result to save as a baseline");
                EXIT_ENVIRONMENT
            }
        };
    }
    // A baseline asked for and not saved fails the command (exit 4), whatever the runs found.
    let code = most_severe(rows.iter().map(|r| r.1).chain([saved]));
    if !single {
        crate::out!("{}", report::render_suite(&rows, code));
        if let Some(table) = report::render_self_tests(&summaries) {
            crate::out!("{table}");
        }
        let suite_dir = match &opts.out {
            Some(out) => Ok(report::RunDir::exact(out)),
            None => report::create_run_dir(&opts.reports_root, "suites", None),
        };
        let entries: Vec<report::suite::Entry> = rows
            .iter()
            .zip(&results)
            .map(|((name, code, what), r)| report::suite::Entry {
                name: name.clone(),
                exit_code: *code,
                what: what.clone(),
                summary: r.summary.as_ref(),
                dir: r.dir.clone(),
            })
            .collect();
        let suite_summary = report::suite::SuiteSummary::new(&summaries, code);
        match suite_dir.and_then(|folder| {
            let d = folder.path.clone();
            std::fs::create_dir_all(&d)
                .and_then(|()| report::suite::write(&d, &entries, code))
                .and_then(|()| serde_json::to_vec_pretty(&suite_summary).map_err(std::io::Error::other))
                .and_then(|json| report::write_atomic(&d.join("summary.json"), &json))
                .map(|()| {
                    folder.publish();
                    d
                })
        }) {
            Ok(d) => crate::outln!("suite report {}", d.join("index.html").display()),
            Err(e) => crate::note!("warning: cannot write the suite report: {e}"),
        }
    }
    code
}

async fn compare_command(args: CompareArgs) -> i32 {
    crate::interrupt::install();
    let opts = RunOptions {
        out: args.out.clone(),
        reports_root: PathBuf::from("reports"),
        quiet: args.quiet,
        overrides: Overrides { buyers: args.buyers, instances: args.instances, ..Overrides::default() },
        server_exe: None,
        redis_url: args.store.redis_url.clone(),
        database_url: args.store.database_url.clone(),
        pool_size: args.store.pool_size,
        keep_data: false,
        repeat: args.repeat,
        fail_fast: false,
        baseline: None,
        regressions: Vec::new(),
        remote_write: None,
        source_addresses: Vec::new(),
        shard: None,
    };
    let runs = args.paths.iter().all(|p| p.join(report::SUMMARY_JSON).is_file());
    let result = match (runs, args.paths.as_slice()) {
        (true, dirs) => {
            if args.strategies.is_some() || args.repeat.is_some() || args.buyers.is_some() || args.instances.is_some() {
                crate::note!("error: --strategies, --repeat, --buyers and --instances apply to a scenario file, not to finished runs");
                return EXIT_USAGE;
            }
            crate::compare::compare_runs(dirs, &opts)
        }
        (false, [file]) if file.is_file() => {
            crate::compare::compare_scenario(file, args.strategies.clone().map(|l| l.0), &opts).await
        }
        (false, paths) => {
            let odd: Vec<String> = paths
                .iter()
                .filter(|p| !p.join(report::SUMMARY_JSON).is_file())
                .map(|p| p.display().to_string())
                .collect();
            crate::note!(
                "error: give one scenario file, or finished run folders (each with a summary.json); not: {}",
                odd.join(", ")
            );
            return EXIT_USAGE;
        }
    };
    match result {
        Ok(done) => {
            crate::out!("{}", report::compare::render_terminal(&done.comparison, &done.dir));
            done.comparison.exit_code
        }
        Err(e) => {
            crate::note!("error: {e}");
            e.exit_code()
        }
    }
}

fn report_command(dirs: &[PathBuf]) -> i32 {
    let mut code = EXIT_PASS;
    for dir in dirs {
        match report::rerender(dir) {
            Ok(s) => crate::outln!(
                "rendered {} ({} {}, exit {})",
                dir.join("index.html").display(),
                s.scenario,
                s.verdict,
                s.exit_code
            ),
            Err(e) => {
                crate::note!("error: {e}");
                code = EXIT_USAGE;
            }
        }
    }
    code
}

fn stem(file: &std::path::Path) -> String {
    file.file_stem().map_or_else(|| file.display().to_string(), |s| s.to_string_lossy().into_owned())
}

fn validate_command(paths: &[PathBuf]) -> i32 {
    let mut code = EXIT_PASS;
    for path in paths {
        let files = match run::expand(std::slice::from_ref(path)) {
            Ok(f) => f,
            Err(e) => {
                crate::outln!("error  {e}");
                code = EXIT_USAGE;
                continue;
            }
        };
        for file in files {
            match scenario::load(&file) {
                Ok(s) => crate::outln!(
                    "ok     {} ({}: {}, {})",
                    file.display(),
                    s.name,
                    crate::text::count(s.total_buyers(), "buyer"),
                    crate::text::count(s.products.len() as u64, "product")
                ),
                Err(e) => {
                    crate::outln!("error  {e}");
                    code = EXIT_USAGE;
                }
            }
        }
    }
    code
}

async fn serve_command(args: ServeArgs) -> i32 {
    let strategy = args.strategy.unwrap_or_else(|| args.backend.default_strategy());
    if !args.backend.supports(strategy) {
        crate::note!("error: --strategy {strategy}: {}", args.backend.unsupported_message(strategy));
        return EXIT_USAGE;
    }
    crate::limits::raise_fd_limit();
    let (admin_token, made_up) = match args.admin_token {
        Some(t) if !t.is_empty() => (t, false),
        _ => (format!("{:032x}", rand::random::<u128>()), true),
    };
    let location = match args.backend {
        Backend::Memory => StoreLocation::Memory,
        Backend::Sqlite => StoreLocation::Sqlite { file: args.sqlite_file.clone() },
        Backend::Postgres => StoreLocation::Postgres { url: args.database_url.clone(), schema: args.pg_schema.clone() },
        Backend::Redis => StoreLocation::Redis { url: args.redis_url.clone(), prefix: args.redis_prefix.clone() },
    };
    let store = StoreOptions {
        location,
        pool_size: args.pool_size,
        timeout: crate::run::STORE_TIMEOUT,
        acquire_timeout: args.acquire_timeout.0,
        latency: args.store_latency.0,
    };
    if let Err(e) = Store::prepare(&store).await {
        crate::note!("error: {e}");
        return EXIT_ENVIRONMENT;
    }
    let config = ServerConfig {
        store,
        strategy,
        rate_limit: args.rate_limit,
        admin_token: admin_token.clone(),
        instance: args.instance,
        limits: server::ConnLimits {
            header_timeout: args.header_timeout.0,
            body_timeout: args.body_timeout.0,
            max_connections: args.max_connections.map_or_else(server::default_max_connections, |n| n as usize),
        },
    };
    let srv = match server::start(&config, args.listen).await {
        Ok(s) => s,
        Err(e) => {
            crate::note!("error: {e}");
            return EXIT_ENVIRONMENT;
        }
    };
    if let Some(file) = &args.products {
        let products = match scenario::load_products(file) {
            Ok(p) => p,
            Err(e) => {
                crate::note!("error: {e}");
                return EXIT_USAGE;
            }
        };
        let seed: Vec<_> = products
            .into_iter()
            .map(|p| server::store::SeedProduct { id: p.id, name: p.name, stock: p.stock, limit_per_buyer: 1 })
            .collect();
        if let Err(e) = srv.store.seed(&seed).await {
            crate::note!("error: {e}");
            return EXIT_ENVIRONMENT;
        }
    }
    crate::outln!("flashbench serve listening on {} (backend {}, strategy {strategy})", srv.url(), args.backend);
    if !args.quiet {
        if made_up {
            crate::note!("admin token: {admin_token}");
        }
        crate::note!("routes: POST /orders, GET /products/{{id}}, GET /healthz, POST /admin/seed, GET /admin/truth, GET /admin/in-flight, GET /metrics (admin routes and metrics need the token); Ctrl-C stops");
    }
    if args.exit_on_stdin_eof {
        let mut stdin = tokio::io::stdin();
        let mut sink = [0u8; 64];
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { while tokio::io::AsyncReadExt::read(&mut stdin, &mut sink).await.is_ok_and(|n| n > 0) {} } => {}
        }
    } else {
        let _ = tokio::signal::ctrl_c().await;
    }
    srv.stop();
    EXIT_PASS
}
