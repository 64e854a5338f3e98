//! One repetition: starts the target, drives the load beside the faults, and hands the
//! ledger to [`super::conclude`].

use super::{conclude, environment_failure, Context};
use crate::harness::{self, HarnessConfig};
use crate::live::{Live, Phase};
use crate::model::Ledger;
use crate::model::Summary;
use crate::scenario::Scenario;
use crate::target::{self};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// A load spread over several processes of this machine, for a run past one process's open
/// files. `shard::local` implements it and the command line passes it in
/// ([`RunOptions::spread`]): this layer starts no shard itself.
pub trait Spread: Send + Sync {
    /// Drives `s` over `count` processes against `plan`'s endpoints, their parts in `dir`:
    /// the merged ledger and each shard's figures, or what went wrong, naming the shard.
    fn drive<'a>(
        &'a self,
        s: &'a Scenario,
        plan: &'a harness::Plan,
        live: &'a Arc<Live>,
        count: u32,
        dir: &'a Path,
    ) -> crate::task::BoxFuture<'a, Result<(Ledger, Vec<crate::model::ShardSummary>), String>>;
}

impl std::fmt::Debug for dyn Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Spread")
    }
}

/// A repetition's load spread: by whom, over how many processes, into which run folder.
#[derive(Clone, Copy)]
pub struct Spreading<'a> {
    pub by: &'a dyn Spread,
    pub count: u32,
    pub dir: &'a Path,
}

/// Starts the target, drives the load, reads the truth and decides; never panics on the
/// target's behalf: a failure of the environment becomes an exit-4 summary.
pub(super) async fn execute(
    s: &Scenario,
    file: &Path,
    setup: &target::Setup,
    live: &Arc<Live>,
    sources: &[std::net::IpAddr],
    spread: Option<Spreading<'_>>,
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
        stop: crate::interrupt::process(),
    };
    // The nemesis runs beside the load and undoes every fault once the load is over.
    let (load_done, done_rx) = tokio::sync::watch::channel(false);
    let nemesis = (!s.faults.is_empty())
        .then(|| tokio::spawn(crate::faults::run(s.faults.clone(), target.fault_surface(), live.clone(), done_rx)));
    let loaded = match spread {
        Some(sp) => sp.by.drive(s, &config.plan, live, sp.count, sp.dir).await,
        None => harness::drive(Arc::new(s.clone()), &config).await.map(|l| (l, Vec::new())).map_err(|e| e.to_string()),
    };
    let _ = load_done.send(true);
    let fault_records = match nemesis {
        // A nemesis that panicked leaves every fault untested, and the run says so (exit 4):
        // never a run judged as if it had had no faults.
        Some(task) => {
            task.await.unwrap_or_else(|e| crate::faults::not_run(&s.faults, &format!("the nemesis failed: {e}")))
        }
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
