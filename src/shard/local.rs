//! Local shards, the parent's side: when one process may not open a socket per buyer,
//! `flashbench run` starts `flashbench shard` children, each driving a slice of the buyers
//! against the target it started, waits until every one is ready, broadcasts one release
//! instant on the machine's monotonic clock, relays their figures to its live view, and merges
//! their parts into the ledger it judges. A shard that dies, or is not ready in time, fails
//! the run (exit 4) by name.

use super::merge;
use super::part;
use super::protocol::{line, FromShard, ToShard};
use crate::harness::{self, Plan};
use crate::live::{Live, Phase};
use crate::model::exit::Exit;
use crate::model::Ledger;
use crate::model::ShardSummary;
use crate::model::{ShardSpec, Slice};
use crate::scenario::{target::TargetKind, Scenario};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{ChildStdin, Command};
use tokio::sync::mpsc;

/// How long shards may take to start and connect, beyond the scenario's connect timeout.
const READY_GRACE: Duration = Duration::from_secs(30);
/// Lead of the release instant over its broadcast: time for every shard to hear it.
const RELEASE_LEAD: Duration = Duration::from_millis(20);
/// More lead per shard (each is woken in turn on 2 cores).
const RELEASE_LEAD_PER_SHARD: Duration = Duration::from_millis(2);

/// Where the shards run from.
#[derive(Debug, Clone)]
pub struct LocalShards {
    pub count: u32,
    /// The `flashbench` executable.
    pub exe: PathBuf,
    /// The run folder: parts go into `shards/part-<i>/`.
    pub dir: PathBuf,
}

/// Starts local shards from the `flashbench` executable `exe`: what `flashbench run` gives
/// [`crate::run::RunOptions::spread`].
#[derive(Debug, Clone)]
pub struct Spawn {
    pub exe: PathBuf,
}

impl Spawn {
    /// Shards of `exe`, else of the running executable.
    pub fn of(exe: Option<PathBuf>) -> Spawn {
        Spawn { exe: exe.or_else(|| std::env::current_exe().ok()).unwrap_or_default() }
    }
}

impl crate::run::Spread for Spawn {
    fn drive<'a>(
        &'a self,
        s: &'a Scenario,
        plan: &'a Plan,
        live: &'a Arc<Live>,
        count: u32,
        dir: &'a std::path::Path,
    ) -> crate::task::BoxFuture<'a, Result<(Ledger, Vec<ShardSummary>), String>> {
        Box::pin(async move {
            let shards = LocalShards { count, exe: self.exe.clone(), dir: dir.to_path_buf() };
            drive(s, plan, live, &shards).await
        })
    }
}

/// What one shard's process said or did.
enum Event {
    Said(FromShard),
    /// Its stdout closed and it exited: how.
    Exited(String),
}

/// One shard as the parent follows it.
struct Follow {
    spec: ShardSpec,
    slice: Slice,
    pid: u32,
    stdin: Option<ChildStdin>,
    ready: bool,
    done: Option<(Exit, Option<String>)>,
    seen: (u64, u64, Vec<u64>),
    in_flight: u64,
}

impl Follow {
    fn name(&self) -> String {
        format!("shard {} (pid {}, buyers {}..{})", self.spec, self.pid, self.slice.first, self.slice.end)
    }
}

/// Drives `s` over `shards.count` shard processes against `plan`'s endpoints; the merged
/// ledger and each shard's figures, or what went wrong, naming the shard.
pub async fn drive(
    s: &Scenario,
    plan: &Plan,
    live: &Arc<Live>,
    shards: &LocalShards,
) -> Result<(Ledger, Vec<ShardSummary>), String> {
    let root = shards.dir.join("shards");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    let scenario_file = root.join(crate::folder::SCENARIO_YAML);
    let yaml = serde_yaml::to_string(s).map_err(|e| e.to_string())?;
    std::fs::write(&scenario_file, &yaml).map_err(|e| format!("cannot write {}: {e}", scenario_file.display()))?;
    let (tx, rx) = mpsc::unbounded_channel::<(usize, Event)>();
    let mut follows = Vec::new();
    for i in 0..shards.count {
        follows.push(spawn_shard(i, s, plan, shards, &scenario_file, tx.clone())?);
    }
    drop(tx);
    let stopped = follow(s, live, shards.count, &mut follows, rx).await?;
    for f in &follows {
        if let Some((code, error)) = &f.done {
            let fine = *code == Exit::Pass || (stopped && code.is_stop());
            if !fine {
                return Err(format!(
                    "{} failed (exit {code}): {}",
                    f.name(),
                    error.as_deref().unwrap_or("no reason given")
                ));
            }
        }
    }
    let parts = (0..shards.count)
        .map(|i| part::read(&super::child::part_dir(&shards.dir, i)))
        .collect::<Result<Vec<_>, _>>()?;
    merge::merge(&parts, stopped).map_err(|e| e.to_string())
}

/// Starts shard `i` of `shards`, with a task relaying what it says (and its exit) to `tx`.
fn spawn_shard(
    i: u32,
    s: &Scenario,
    plan: &Plan,
    shards: &LocalShards,
    scenario_file: &std::path::Path,
    tx: mpsc::UnboundedSender<(usize, Event)>,
) -> Result<Follow, String> {
    let spec = ShardSpec { index: i, of: shards.count };
    let mut cmd = Command::new(&shards.exe);
    cmd.args(["shard", "--scenario", &scenario_file.to_string_lossy(), "--shard", &spec.to_string()]).args([
        "--part",
        &super::child::part_dir(&shards.dir, i).to_string_lossy(),
        "--run-tag",
        &plan.run,
    ]);
    if s.target.kind == TargetKind::Reference {
        let urls: Vec<&str> = plan.endpoints.iter().map(|e| e.url.as_str()).collect();
        cmd.args(["--endpoints", &urls.join(",")]);
    }
    if !plan.sources.is_empty() {
        let sources: Vec<String> = plan.sources.iter().map(|a| a.to_string()).collect();
        cmd.args(["--sources", &sources.join(",")]);
    }
    // Their own process group: the terminal's Ctrl-C reaches the parent, which forwards it.
    let spawned = cmd
        .env("MALLOC_ARENA_MAX", "2")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .process_group(0)
        .spawn();
    let mut child = spawned.map_err(|e| format!("cannot start shard {spec} ({}): {e}", shards.exe.display()))?;
    let stdout = child.stdout.take().ok_or("a shard without stdout")?;
    let follow = Follow {
        spec,
        slice: Slice::of(spec, s.closed_users()),
        pid: child.id().unwrap_or(0),
        stdin: child.stdin.take(),
        ready: false,
        done: None,
        seen: (0, 0, Vec::new()),
        in_flight: 0,
    };
    let index = i as usize;
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(text)) = lines.next_line().await {
            if let Ok(message) = serde_json::from_str::<FromShard>(&text) {
                let _ = tx.send((index, Event::Said(message)));
            }
        }
        let how = match child.wait().await {
            Ok(status) => describe_exit(status),
            Err(e) => format!("could not be waited for: {e}"),
        };
        let _ = tx.send((index, Event::Exited(how)));
    });
    Ok(follow)
}

/// Follows the shards until every one is done: releases them at one instant once all are
/// ready, relays a stop, gives up on one not ready or not done in time. Whether a stop came.
async fn follow(
    s: &Scenario,
    live: &Arc<Live>,
    count: u32,
    follows: &mut [Follow],
    mut rx: mpsc::UnboundedReceiver<(usize, Event)>,
) -> Result<bool, String> {
    live.set_phase(Phase::Connecting);
    let started = Instant::now();
    let ready_by = started + s.arrival.connect_timeout.0 + READY_GRACE;
    let done_by = started + harness::run_deadline(s) + harness::DEADLINE_GRACE + READY_GRACE;
    let mut released = false;
    let mut stopped = false;
    loop {
        if follows.iter().all(|f| f.done.is_some()) {
            break;
        }
        if !released && !stopped && follows.iter().all(|f| f.ready) {
            let at = crate::clock::mono_now() + RELEASE_LEAD + RELEASE_LEAD_PER_SHARD * count;
            let message = line(&ToShard::Release { at_mono_ns: at.as_nanos() as u64 });
            for f in follows.iter_mut() {
                send(f, &message).await;
            }
            released = true;
            live.set_phase(Phase::Buying);
        }
        let until = if released || stopped { done_by } else { ready_by };
        let event = tokio::select! {
            event = rx.recv() => event,
            _ = tokio::time::sleep_until(until.into()) => {
                let late: Vec<String> = follows
                    .iter()
                    .filter(|f| if released || stopped { f.done.is_none() } else { !f.ready })
                    .map(Follow::name)
                    .collect();
                let what = if released || stopped { "did not finish by the run's deadline" } else { "never reported ready" };
                return Err(give_up(follows, format!("{} {what}", late.join(", "))));
            }
            _ = crate::interrupt::wait(), if !stopped => {
                stopped = true;
                let signal = crate::interrupt::requested().map_or("SIGINT", |s| match s {
                    crate::interrupt::Signal::Terminate => "SIGTERM",
                    crate::interrupt::Signal::Interrupt => "SIGINT",
                });
                let message = line(&ToShard::Stop { signal: signal.into() });
                for f in follows.iter_mut() {
                    send(f, &message).await;
                }
                live.set_phase(Phase::Draining);
                continue;
            }
        };
        let Some((i, event)) = event else { break };
        if let Err(why) = heard(follows, i, event, live) {
            return Err(give_up(follows, why));
        }
    }
    Ok(stopped)
}

/// What shard `i` said or did: readiness, progress relayed to the live view, its end; `Err`
/// when it exited before saying it was done.
fn heard(follows: &mut [Follow], i: usize, event: Event, live: &Live) -> Result<(), String> {
    let f = &mut follows[i];
    match event {
        Event::Said(FromShard::Ready { .. }) => f.ready = true,
        Event::Said(FromShard::Progress { connected, done, in_flight, counts, stock }) => {
            let (c0, d0, n0) = std::mem::replace(&mut f.seen, (connected, done, counts.clone()));
            let delta: Vec<u64> =
                counts.iter().enumerate().map(|(k, n)| n.saturating_sub(n0.get(k).copied().unwrap_or(0))).collect();
            f.in_flight = in_flight;
            let in_flight = follows.iter().map(|f| f.in_flight).sum();
            live.add_from_shards(connected.saturating_sub(c0), done.saturating_sub(d0), &delta, in_flight);
            for (p, st) in stock.iter().enumerate() {
                if let Some(st) = st {
                    live.stock_sample(p, *st);
                }
            }
        }
        Event::Said(FromShard::Done { exit_code, error }) => f.done = Some((exit_code, error)),
        Event::Exited(how) if f.done.is_none() => {
            let when = if f.ready { "after it was ready" } else { "before it was ready" };
            let name = f.name();
            return Err(format!("{name} {how} {when}"));
        }
        Event::Exited(_) => {}
    }
    Ok(())
}

async fn send(f: &mut Follow, message: &str) {
    if let Some(stdin) = &mut f.stdin {
        if stdin.write_all(message.as_bytes()).await.is_err() {
            f.stdin = None;
        }
    }
}

/// Stops every shard (their stdin closes: each exits at once) and returns the failure.
fn give_up(follows: &mut [Follow], why: String) -> String {
    for f in follows.iter_mut() {
        f.stdin = None;
    }
    why
}

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        _ => "exited".into(),
    }
}
