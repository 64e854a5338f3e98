//! The nemesis: carries out a scenario's `faults:` while the load runs (Jepsen's idea, applied
//! to the application in front of the database). Each fault waits for its trigger (a time
//! after the release or first arrival, the first sold-out answer, a number of answers), acts
//! on the run's own processes, connections or keys only, and is undone when its `for` has
//! passed or when the load ends, whichever comes first: truth is never read from a paused
//! server or a stalled store. What each fault did is recorded for `summary.json` (`faults[]`)
//! and drawn as a band on the time charts.
//!
//! `act` holds the faults themselves; [`FaultSurface`] is what a target lets them act on.

mod act;
mod effect;

pub use effect::effects;

use crate::live::{Live, Phase};
use crate::outcome::Outcome;
use crate::scenario::{Fault, FaultKind, Trigger};
use crate::server::store::StoreLocation;
use crate::target::BoxFuture;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What the reference server lets faults act on (its processes and its store).
pub trait FaultSurface: Send + Sync {
    /// The process ids of instance `instance` (one per worker), when it runs in child
    /// processes and they are alive.
    fn pids(&self, instance: u32) -> BoxFuture<'_, Result<Vec<u32>, String>>;
    /// SIGKILLs instance `instance`'s processes and waits for them to be gone.
    fn kill(&self, instance: u32) -> BoxFuture<'_, Result<(), String>>;
    /// Starts instance `instance` again, on the same addresses and store.
    fn restart(&self, instance: u32) -> BoxFuture<'_, Result<(), String>>;
    /// Sets the latency added to every order's store round trip on every instance.
    fn set_store_latency(&self, latency: Duration) -> BoxFuture<'_, Result<(), String>>;
    /// Where the run's data lives.
    fn store(&self) -> StoreLocation;
    /// The store server started for this run alone (`server.own_redis`), if any: what it is
    /// and its process id while it runs.
    fn store_server(&self) -> BoxFuture<'_, Option<(String, Option<u32>)>>;
    /// SIGKILLs the run's own store server and waits for it to be gone.
    fn kill_store(&self) -> BoxFuture<'_, Result<(), String>>;
    /// Starts the run's own store server again, on the same port and data, and waits until it
    /// has loaded what it had persisted.
    fn restart_store(&self) -> BoxFuture<'_, Result<(), String>>;
}

/// One fault as it happened, for `summary.json`. Times are µs on the ledger's clock (since the
/// run's epoch, as every attempt's `sent_us`); while the load runs they are read on
/// `CLOCK_MONOTONIC` and [`effects`] puts them on the ledger's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRecord {
    pub kind: FaultKind,
    /// What it acted on: `instance 0 (pids 123, 124)`, the Redis, the schema, the command.
    pub target: String,
    /// When it was set off; `None` when its trigger never came (the load ended first).
    pub start_us: Option<u64>,
    /// When it was undone (or, for one-shot faults, when it was done).
    pub end_us: Option<u64>,
    /// What it did, where that is not in its kind (`ended 16 connections`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Why it could not act, when it could not (the run then fails: the fault was not tested).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the load saw while it lasted (attempts sent in its window and how they ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<Effect>,
}

/// The attempts sent while a fault lasted, up to one request timeout after its end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effect {
    pub attempts: u64,
    /// Attempts that ended in an error (5xx, resets, answers no rule reads).
    pub failed: u64,
    pub timeouts: u64,
    /// Attempts whose request never left in full (a refused connection: a killed instance).
    #[serde(default)]
    pub not_sent: u64,
    /// Attempts that won or were accepted.
    pub won: u64,
    /// Acknowledged orders the store no longer holds (counted by `acked_orders_durable`),
    /// shown on the faults that could lose them (`kill_instance`, `kill_store`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orders_lost: Option<u64>,
}

/// `CLOCK_MONOTONIC` in µs, the clock a ledger's epoch is also read on.
pub fn now_us() -> u64 {
    crate::shard::clock::mono_now().as_micros() as u64
}

/// One line per fault for the terminal, HTML and Markdown: what it acted on, when (ms since the
/// charts' origin, `origin_ms` on the ledger's clock) and what the load saw.
pub fn lines(records: &[FaultRecord], origin_ms: f64) -> Vec<String> {
    let at = |us: u64| format!("{:.0} ms", us as f64 / 1000.0 - origin_ms);
    records
        .iter()
        .map(|r| {
            let when = match (r.start_us, r.end_us) {
                (None, _) => "never came".to_string(),
                (Some(s), Some(e)) if e > s + 1000 => format!("{} to {}", at(s), at(e)),
                (Some(s), _) => format!("at {}", at(s)),
            };
            let mut line = format!("fault {} on {}: {when}", r.kind, r.target);
            if let Some(d) = &r.detail {
                line.push_str(&format!("; {d}"));
            }
            if let Some(e) = &r.effect {
                line.push_str(&format!(
                    "; {} attempts from its start to one request timeout after its end: {} won, {} failed, {} timed out",
                    e.attempts, e.won, e.failed, e.timeouts
                ));
                if e.not_sent > 0 {
                    line.push_str(&format!(", {} not sent (no connection)", e.not_sent));
                }
                if let Some(lost) = e.orders_lost {
                    line.push_str(&format!(", {lost} acknowledged orders lost"));
                }
            }
            if let Some(e) = &r.error {
                line.push_str(&format!("; could not act: {e}"));
            }
            line
        })
        .collect()
}

/// Runs every fault of `faults` against `surface` until `load_done` turns true, then undoes
/// what is still in force; one record per fault, in the scenario's order.
pub async fn run(
    faults: Vec<Fault>,
    surface: Option<Arc<dyn FaultSurface>>,
    live: Arc<Live>,
    load_done: watch::Receiver<bool>,
) -> Vec<FaultRecord> {
    let tasks: Vec<_> = faults
        .into_iter()
        .map(|fault| {
            let kind = fault.kind;
            let (surface, live, done) = (surface.clone(), live.clone(), load_done.clone());
            (kind, tokio::spawn(async move { one(fault, surface, live, done).await }))
        })
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    for (kind, t) in tasks {
        // A fault whose task failed keeps its record, with the failure: it was not tested.
        out.push(t.await.unwrap_or_else(|e| FaultRecord {
            kind,
            target: String::new(),
            start_us: None,
            end_us: None,
            detail: None,
            error: Some(format!("its task failed: {e}")),
            effect: None,
        }));
    }
    out
}

async fn one(
    fault: Fault,
    surface: Option<Arc<dyn FaultSurface>>,
    live: Arc<Live>,
    mut done: watch::Receiver<bool>,
) -> FaultRecord {
    let mut record = FaultRecord {
        kind: fault.kind,
        target: act::describe(&fault, surface.as_deref()).await,
        start_us: None,
        end_us: None,
        detail: None,
        error: None,
        effect: None,
    };
    let fired = tokio::select! {
        _ = triggered(&fault, &live) => true,
        _ = done.wait_for(|d| *d) => false,
    };
    if !fired {
        return record;
    }
    record.start_us = Some(now_us());
    log::info!("fault {} on {}: on", fault.kind, record.target);
    match act::start(&fault, surface.as_deref()).await {
        Err(e) => {
            record.error = Some(e);
            record.end_us = Some(now_us());
            return record;
        }
        Ok(active) => {
            if let act::Active::Did(what) = &active {
                record.detail = Some(what.clone());
            }
            if let Some(d) = fault.duration {
                tokio::select! {
                    _ = tokio::time::sleep(d.0) => {}
                    _ = done.wait_for(|d| *d) => {}
                }
            }
            if let Err(e) = active.undo(surface.as_deref()).await {
                record.error = Some(e);
            }
        }
    }
    record.end_us = Some(now_us());
    log::info!("fault {} on {}: off", fault.kind, record.target);
    record
}

/// Returns once `fault`'s trigger has come.
async fn triggered(fault: &Fault, live: &Live) {
    // The origin: the release of a burst, or the first arrival of a ramp or stream.
    let mut phase = live.watch_phase();
    let _ = phase.wait_for(|p| matches!(p, Phase::Buying | Phase::Streaming | Phase::Ramping)).await;
    match (fault.at, fault.after) {
        (_, Some(trigger)) => {
            let mut every = tokio::time::interval(Duration::from_millis(2));
            while !reached(trigger, live) {
                every.tick().await;
            }
        }
        (Some(at), None) => tokio::time::sleep(at.0).await,
        (None, None) => {}
    }
}

fn reached(trigger: Trigger, live: &Live) -> bool {
    match trigger {
        Trigger::FirstSoldOut => live.count(Outcome::SoldOut) > 0,
        Trigger::Attempts(want) => {
            Outcome::ALL.iter().filter(|o| **o != Outcome::NotSent).map(|o| live.count(*o)).sum::<u64>() >= want
        }
    }
}
