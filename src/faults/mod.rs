//! The nemesis: carries out a scenario's `faults:` while the load runs (Jepsen's idea, applied
//! to the application in front of the database). Each fault waits for its trigger (a time
//! after the release or first arrival, the first sold-out answer, a number of answers), acts
//! on the run's own processes, connections or keys only, and is undone when its `for` has
//! passed or when the load ends, whichever comes first: truth is never read from a paused
//! server or a stalled store. What each fault did is recorded for `summary.json` (`faults[]`)
//! and drawn as a band on the time charts.
//!
//! `kinds` holds the faults themselves, one file per kind; [`FaultSurface`] is what a target
//! lets them act on.

mod effect;
mod kinds;

pub use effect::effects;

use crate::live::{Live, Phase};
use crate::model::{FaultKind, FaultRecord, Outcome};
use crate::scenario::{Fault, Trigger};
use crate::server::store::StoreLocation;
use crate::task::BoxFuture;
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

/// `CLOCK_MONOTONIC` in µs, the clock a ledger's epoch is also read on.
pub fn now_us() -> u64 {
    crate::clock::mono_now().as_micros() as u64
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
        out.push(t.await.unwrap_or_else(|e| untested(kind, format!("its task failed: {e}"))));
    }
    out
}

/// Every fault of `faults` recorded as not tested, `why`: what a run reports when its
/// nemesis itself failed.
pub fn not_run(faults: &[Fault], why: &str) -> Vec<FaultRecord> {
    faults.iter().map(|f| untested(f.kind, why.to_string())).collect()
}

fn untested(kind: FaultKind, why: String) -> FaultRecord {
    FaultRecord {
        kind,
        target: String::new(),
        start_us: None,
        end_us: None,
        detail: None,
        error: Some(why),
        effect: None,
    }
}

async fn one(
    fault: Fault,
    surface: Option<Arc<dyn FaultSurface>>,
    live: Arc<Live>,
    mut done: watch::Receiver<bool>,
) -> FaultRecord {
    let mut record = FaultRecord {
        kind: fault.kind,
        target: kinds::describe(&fault, surface.as_deref()).await,
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
    match kinds::start(&fault, surface.as_deref()).await {
        Err(e) => {
            record.error = Some(e);
            record.end_us = Some(now_us());
            return record;
        }
        Ok(started) => {
            record.detail = started.detail.clone();
            if let Some(d) = fault.duration {
                tokio::select! {
                    _ = tokio::time::sleep(d.0) => {}
                    _ = done.wait_for(|d| *d) => {}
                }
            }
            if let Err(e) = started.undo(surface.as_deref()).await {
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
