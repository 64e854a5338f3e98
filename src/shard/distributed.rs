//! Shards on several machines, on an engine that already exists (a Kubernetes Indexed Job,
//! a CI matrix, a few shells): `run FILE --shard i/N --release-at T --out DIR` drives one
//! slice of the buyers against a user's server and writes a part; `merge DIR...` joins the
//! parts, reads ground truth once and judges them as one run, with the reports a run in one
//! process writes.

use super::merge;
use super::part::{self, Part, ReadPart};
use super::release::WallClockRelease;
use crate::harness::{self, HarnessConfig};
use crate::live::view::{Mode, View};
use crate::live::Phase;
use crate::model::exit::Exit;
use crate::model::Ledger;
use crate::model::{ShardSpec, Slice};
use crate::report;
use crate::run::{self, Context, RunOptions, RunResult};
use crate::scenario::{self, Scenario};
use crate::target::{self, Target};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

/// What a shard printed and exits with.
pub struct ShardOutcome {
    pub exit_code: Exit,
    pub message: String,
}

/// `run FILE --shard i/N --release-at T --out DIR`: drives this shard's buyers against the
/// scenario's server, released at `T` by the wall clock, and writes its part into `out`.
pub async fn run_part(file: &Path, opts: &RunOptions, release_text: &str, out: &Path) -> ShardOutcome {
    let usage = |message: String| ShardOutcome { exit_code: Exit::Usage, message };
    let Some(spec) = opts.shard else { return usage("run_part needs --shard".into()) };
    let release_at = match super::release::parse_release_at(release_text) {
        Ok(t) => t,
        Err(e) => return usage(format!("--release-at {e}")),
    };
    let (s, _, sources) = match run::prepare_with_sources(file, opts) {
        Ok(p) => p,
        Err(e) => return usage(e),
    };
    if out.join(part::PART_JSON).exists() || out.join(crate::folder::SUMMARY_JSON).exists() {
        return usage(format!("{}: already holds a run or a part; give each shard an empty folder", out.display()));
    }
    if let Err(e) = std::fs::create_dir_all(out) {
        return usage(format!("cannot create {}: {e}", out.display()));
    }
    let yaml = serde_yaml::to_string(&s).unwrap_or_default();
    let slice = Slice::of(spec, s.closed_users());
    let t0 = Instant::now();
    let run_tag = super::shared_run_tag(&yaml, release_text);
    let mut part = Part::start(&s.name, spec, slice, s.closed_buyers(), &run_tag, Some(release_text.to_string()));
    if release_at <= SystemTime::now() {
        log::warn!("--release-at {release_text} has passed: the buyers are released as soon as they are ready");
    }
    let live = Arc::new(run::live_of(&s, out));
    let view = View::start(live.clone(), Mode::detect(opts.quiet));
    let loaded = load(&s, spec, slice, &part.run_tag, &sources, &live, release_at).await;
    drop(view);
    let ledger = match loaded {
        Ok(ledger) => ledger,
        Err(e) => {
            part.failed(&e, t0);
            let written = part::write(out, &part, &Ledger::default(), &yaml);
            let note = written.err().map(|w| format!(" (and its part could not be written: {w})")).unwrap_or_default();
            return ShardOutcome { exit_code: Exit::Environment, message: format!("shard {spec}: {e}{note}") };
        }
    };
    part.finish(&ledger, t0);
    if let Err(e) = part::write(out, &part, &ledger, &yaml) {
        return ShardOutcome {
            exit_code: Exit::Environment,
            message: format!("shard {spec}: cannot write its part into {}: {e}", out.display()),
        };
    }
    let late = part.late_us.map(|us| format!(", released {:.1} ms after the instant", us as f64 / 1000.0));
    ShardOutcome {
        exit_code: part.exit_code,
        message: format!(
            "shard {spec}: buyers {}..{}, {}{}; clock {}; part written to {}\nmerge the parts with: flashbench merge DIR...",
            slice.first,
            slice.end,
            crate::text::count(ledger.attempts.len() as u64, "attempt"),
            late.unwrap_or_else(|| ", never released".into()),
            part.clock.describe(),
            out.display()
        ),
    }
}

/// Prepares the target (shard 0 runs the scenario's setup, the others only connect) and
/// drives this shard's buyers.
async fn load(
    s: &Scenario,
    spec: ShardSpec,
    slice: Slice,
    run_tag: &str,
    sources: &[std::net::IpAddr],
    live: &Arc<crate::live::Live>,
    release_at: SystemTime,
) -> Result<Ledger, String> {
    live.set_phase(Phase::Starting);
    let prepared = match spec.index {
        0 => target::http::HttpTarget::start(s).await,
        _ => target::http::HttpTarget::connect(s).await,
    };
    let target = prepared.map_err(|e| e.to_string())?;
    let mut plan = target.plan();
    plan.run = run_tag.to_string();
    plan.sources = sources.to_vec();
    let config = HarnessConfig {
        plan: Arc::new(plan),
        live: live.clone(),
        deadline: harness::run_deadline(s),
        slice: Some(slice),
        release: Some(Arc::new(WallClockRelease::new(release_at))),
        stop: crate::interrupt::process(),
    };
    let ledger = harness::drive(Arc::new(s.clone()), &config).await.map_err(|e| e.to_string());
    Box::new(target).stop().await;
    ledger
}

/// `merge DIR...`: the parts of one run, judged as that run.
pub async fn merge_dirs(dirs: &[PathBuf], opts: &RunOptions) -> RunResult {
    let file = dirs.first().map(|d| d.join(crate::folder::SCENARIO_YAML)).unwrap_or_default();
    let fail = |code: Exit, error: String| RunResult {
        file: file.clone(),
        exit_code: code,
        summary: None,
        dir: None,
        error: Some(error),
    };
    let mut parts: Vec<ReadPart> = Vec::with_capacity(dirs.len());
    for d in dirs {
        if !d.is_dir() {
            return fail(Exit::Usage, format!("{}: no such folder", d.display()));
        }
        match part::read(d) {
            Ok(p) => parts.push(p),
            // A folder without its part (nor a run's summary): that shard did not finish.
            Err(e) if !d.join(part::PART_JSON).exists() && !d.join(crate::folder::SUMMARY_JSON).exists() => {
                return fail(Exit::Environment, e)
            }
            Err(e) => return fail(Exit::Usage, e),
        }
    }
    let (ledger, shards) = match merge::merge(&parts, false) {
        Ok(m) => m,
        Err(e @ merge::MergeError::Incomplete(_)) => return fail(Exit::Environment, e.to_string()),
        Err(e) => return fail(Exit::Usage, e.to_string()),
    };
    let first = &parts[0];
    let s = match scenario::load_str(&first.scenario_yaml, &file.display().to_string(), &first.dir) {
        Ok(s) => s,
        Err(e) => return fail(Exit::Usage, e.to_string()),
    };
    let folder = match crate::folder::create_run_dir(&opts.reports_root, &s.name, opts.out.as_deref()) {
        Ok(d) => d,
        Err(e) => return fail(Exit::Usage, format!("cannot create the report folder: {e}")),
    };
    let dir = folder.path.clone();
    let live = Arc::new(run::live_of(&s, &dir));
    // Nothing is sent while parts are merged: the view would show only empty counts.
    let view = View::start(live.clone(), Mode::Hidden);
    let started_at = parts.iter().map(|p| p.part.started_at.clone()).min().unwrap_or_default();
    let t0 = Instant::now();
    let mut ctx = Context {
        s: &s,
        file: &file,
        target: target::info_before_start(&s, &target::Setup::Http),
        started_at: &started_at,
    };
    let (mut summary, ledger) = match target::http::HttpTarget::connect(&s).await {
        Ok(t) => {
            ctx.target = t.describe();
            let target: Box<dyn Target> = Box::new(t);
            run::conclude(&mut ctx, target, ledger, &live, t0, Vec::new()).await
        }
        Err(e) => (run::environment_failure(&ctx, e.to_string(), &ledger, t0, &live), ledger),
    };
    summary.duration_ms = parts.iter().map(|p| p.part.duration_ms).max().unwrap_or(0);
    summary.shards = shards;
    let yaml = first.scenario_yaml.clone();
    live.set_phase(Phase::Reporting);
    let written = report::write_run(&dir, &summary, &ledger, &yaml);
    live.finished(summary.verdict, summary.exit_code);
    drop(view);
    if let Err(e) = written {
        return RunResult {
            file,
            exit_code: Exit::Environment,
            summary: Some(summary),
            dir: Some(dir.clone()),
            error: Some(format!("cannot write the report into {}: {e}", dir.display())),
        };
    }
    folder.publish();
    let error = summary.error.clone();
    RunResult { file, exit_code: summary.exit_code, summary: Some(summary), dir: Some(dir), error }
}
