//! `flashbench shard` (hidden): one local shard, started by `flashbench run` when a burst needs
//! more sockets than one process may open. It drives its slice of the buyers against the
//! endpoints its parent gives, says when they are ready, releases them at the instant the
//! parent broadcasts, and writes its part. It tells its parent how it goes on a copy of
//! stdout (goose silences stdout itself while it runs) and stops at once if its parent goes.

use super::part::{self, Part};
use super::protocol::{line, FromShard, ToShard};
use crate::harness::{self, Endpoint, HarnessConfig, Plan, ReleaseSignal};
use crate::live::{Live, RunLabels};
use crate::model::exit::Exit;
use crate::model::Ledger;
use crate::model::Outcome;
use crate::model::{ShardSpec, Slice};
use crate::scenario::{self, target::TargetKind};
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;

/// How often a shard reports its figures.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// The line to the parent: a copy of stdout's descriptor.
#[derive(Debug, Clone)]
struct ToParent(Arc<Mutex<std::fs::File>>);

impl ToParent {
    fn take() -> std::io::Result<ToParent> {
        use std::os::fd::AsFd;
        let fd = std::io::stdout().as_fd().try_clone_to_owned()?;
        Ok(ToParent(Arc::new(Mutex::new(std::fs::File::from(fd)))))
    }

    fn say(&self, message: &FromShard) {
        let mut out = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // The parent gone: its stdin closing stops this process anyway.
        let _ = out.write_all(line(message).as_bytes()).and_then(|_| out.flush());
    }
}

/// The release instant as the parent broadcasts it.
#[derive(Debug)]
struct ParentRelease {
    out: ToParent,
    at: tokio::sync::watch::Sender<Option<u64>>,
}

/// The `Instant` of a `CLOCK_MONOTONIC` reading in ns (the clock `Instant` reads).
fn instant_of_mono(ns: u64) -> Instant {
    let (now, mono) = (Instant::now(), crate::clock::mono_now());
    let target = Duration::from_nanos(ns);
    match target.checked_sub(mono) {
        Some(ahead) => now + ahead,
        None => now.checked_sub(mono - target).unwrap_or(now),
    }
}

impl ReleaseSignal for ParentRelease {
    fn ready(&self, arrived: usize, expected: usize) {
        self.out.say(&FromShard::Ready { arrived: arrived as u64, expected: expected as u64 });
    }

    fn release_at(&self) -> Pin<Box<dyn Future<Output = Option<Instant>> + Send + '_>> {
        let mut rx = self.at.subscribe();
        Box::pin(async move {
            let ns = rx.wait_for(Option::is_some).await.ok().and_then(|v| *v)?;
            Some(instant_of_mono(ns))
        })
    }
}

/// What the parent tells a shard.
pub struct ChildArgs {
    pub scenario: PathBuf,
    pub spec: ShardSpec,
    pub part: PathBuf,
    /// The reference server's base URLs (an http target's come from the scenario).
    pub endpoints: Vec<String>,
    pub run_tag: String,
    pub sources: Vec<std::net::IpAddr>,
}

/// Runs one local shard; its exit code.
pub async fn run(args: ChildArgs) -> Exit {
    let out = match ToParent::take() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("error: shard {}: no line to its parent: {e}", args.spec);
            return Exit::Environment;
        }
    };
    let (code, error) = match shard(&args, &out).await {
        Ok(code) => (code, None),
        Err(e) => (Exit::Environment, Some(e)),
    };
    out.say(&FromShard::Done { exit_code: code, error });
    code
}

async fn shard(args: &ChildArgs, out: &ToParent) -> Result<Exit, String> {
    let s = scenario::load(&args.scenario).map_err(|e| e.to_string())?;
    let mut plan = match s.target.kind {
        TargetKind::Reference => {
            let endpoints = args
                .endpoints
                .iter()
                .map(|u| u.trim_start_matches("http://").trim_end_matches('/').parse().map(Endpoint::at))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("--endpoints: {e}"))?;
            Plan::reference(endpoints)
        }
        TargetKind::Http => crate::target::http::HttpTarget::plan_of(&s).map_err(|e| e.to_string())?,
    };
    plan.run = args.run_tag.clone();
    plan.sources = args.sources.clone();
    let slice = Slice::of(args.spec, s.closed_users());
    let products = s.products.iter().map(|p| (p.id.clone(), u64::from(p.stock))).collect();
    let live = Arc::new(Live::new(RunLabels::default(), products, u64::from(slice.len())));
    let release = Arc::new(ParentRelease { out: out.clone(), at: tokio::sync::watch::Sender::new(None) });
    let _listen = crate::task::AbortOnDrop(tokio::spawn(listen(release.clone())));
    let _report = crate::task::AbortOnDrop(tokio::spawn(report(live.clone(), out.clone())));
    let t0 = Instant::now();
    let mut part = Part::start(&s.name, args.spec, slice, s.closed_buyers(), &args.run_tag, None);
    let config = HarnessConfig {
        plan: Arc::new(plan),
        live: live.clone(),
        deadline: harness::run_deadline(&s),
        slice: Some(slice),
        release: Some(release),
        stop: crate::interrupt::process(),
    };
    let yaml = std::fs::read_to_string(&args.scenario).unwrap_or_default();
    let ledger = match harness::drive(Arc::new(s.clone()), &config).await {
        Ok(ledger) => ledger,
        Err(e) => {
            part.failed(&e.to_string(), t0);
            let _ = part::write(&args.part, &part, &Ledger::default(), &yaml);
            return Err(e.to_string());
        }
    };
    part.finish(&ledger, t0);
    out.say(&progress(&live));
    part::write(&args.part, &part, &ledger, &yaml)
        .map_err(|e| format!("cannot write its part into {}: {e}", args.part.display()))?;
    Ok(part.exit_code)
}

/// Follows the parent's orders; its stdin closing means it is gone: stop at once.
async fn listen(release: Arc<ParentRelease>) {
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(text)) = lines.next_line().await {
        match serde_json::from_str::<ToShard>(&text) {
            Ok(ToShard::Release { at_mono_ns }) => {
                release.at.send_replace(Some(at_mono_ns));
            }
            Ok(ToShard::Stop { signal }) => {
                let signal = match signal.as_str() {
                    "SIGTERM" => crate::interrupt::Signal::Terminate,
                    _ => crate::interrupt::Signal::Interrupt,
                };
                crate::interrupt::request(signal);
            }
            Err(e) => log::warn!("shard: a message it does not understand ({e}): {text}"),
        }
    }
    std::process::exit(Exit::Environment.code());
}

fn progress(live: &Live) -> FromShard {
    let snap = live.snapshot();
    FromShard::Progress {
        connected: snap.connected,
        done: snap.buyers_done,
        in_flight: snap.in_flight,
        counts: Outcome::ALL.iter().map(|o| snap.counts[o.index()].1).collect(),
        stock: snap.stock.iter().map(|(_, s, _)| *s).collect(),
    }
}

/// Reports the shard's figures to its parent now and then.
async fn report(live: Arc<Live>, out: ToParent) {
    let mut every = tokio::time::interval(PROGRESS_EVERY);
    loop {
        every.tick().await;
        out.say(&progress(&live));
    }
}

/// Where shard `i`'s part goes in a run folder.
pub fn part_dir(run_dir: &Path, i: u32) -> PathBuf {
    run_dir.join("shards").join(format!("part-{i}"))
}
