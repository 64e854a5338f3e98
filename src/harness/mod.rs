//! The harness: goose drives one `GooseUser` per buyer. Each user opens its own connection
//! (`GET /healthz`), then in a burst waits at the [`StartGate`] until every buyer is
//! connected, or in a ramp starts at its slot; then it makes its order attempts
//! ([`buyer::buy`]) and every attempt goes into the [`Ledger`].
//!
//! Goose is configured in code (`initialize_with_config`, no telnet, no websocket, no metrics
//! printed); it prints a few lines to stdout that cannot be turned off, so stdout is silenced
//! while it runs. flashbench keeps its own ledger because goose measures time to first byte.

pub mod buyer;
pub mod classify;
mod connection;
mod gate;
pub mod plan;
pub mod queued;
pub mod release;
mod stream;
pub mod template;
pub mod tls;

use crate::model::{Attempt, Ledger, Overrun, StockSample};
pub use classify::Classifier;
pub use connection::{request_bytes, Answer, BuyerConn, ConnError, LastByte};
pub use gate::StartGate;
pub use plan::{Endpoint, Plan, StockProbe};
pub use release::ReleaseSignal;

use crate::live::Phase;
use crate::scenario::{ArrivalMode, Scenario};
use goose::config::GooseConfiguration;
use goose::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Connects made at once while buyers get ready, so the listen backlog never overflows.
pub const CONNECT_CONCURRENCY: usize = 256;
/// How often the stock monitor reads each product's stock.
pub const STOCK_SAMPLE_EVERY: Duration = Duration::from_millis(20);
/// How long one stock sample may take.
const STOCK_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Early answers (before the release wrote the last byte) after which a buyer stops preparing
/// its request and sends it whole at the release.
const MAX_EARLY_ANSWERS: u32 = 3;

/// A buyer at work: its attempts so far, and the one in flight.
#[derive(Debug, Default)]
pub struct OpenBuyer {
    pub done: Vec<Attempt>,
    pub in_flight: Option<Attempt>,
}

/// The attempts of buyers the harness stopped waiting for: those done as they were, the one in
/// flight as a `timeout` cut now (the README's promise: nothing written is left out).
fn harvest_open(shared: &Shared) -> Vec<Attempt> {
    let open = std::mem::take(&mut *shared.open.lock().unwrap_or_else(|p| p.into_inner()));
    let now = shared.micros(Instant::now());
    let mut out = Vec::new();
    for (_, buyer) in open {
        out.extend(buyer.done);
        if let Some(mut a) = buyer.in_flight {
            a.done_us = now.max(a.sent_us);
            shared.cut_by_deadline.fetch_add(1, Ordering::Relaxed);
            out.push(a);
        }
    }
    out
}

/// How long buyers still at work past the deadline get to record what they did before the
/// harness stops waiting for goose (each attempt is already cut at the deadline).
pub const DEADLINE_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("goose could not run the load: {0}")]
    Goose(String),
    #[error("no buyer could open a connection to the target ({0}); is it running?")]
    Unreachable(String),
    #[error("{0}")]
    Unsupported(&'static str),
}

/// What every buyer shares.
pub struct Shared {
    pub scenario: Arc<Scenario>,
    /// The target's endpoints, requests and rules.
    pub plan: Arc<Plan>,
    pub epoch: Instant,
    pub gate: Option<StartGate>,
    /// The open stream of a `rate` run or a burst's background.
    stream: Option<stream::OpenStream>,
    ramp_origin: OnceLock<Instant>,
    ramp_interval: Duration,
    connect_permits: Semaphore,
    attempts: Mutex<Vec<Attempt>>,
    /// Buyers at work: their attempts so far and the one in flight (see `buyer::buy`).
    pub(crate) open: Mutex<std::collections::HashMap<u32, OpenBuyer>>,
    connect_failures: AtomicU32,
    first_connect_error: OnceLock<String>,
    /// Buyers that opened a TCP connection to the target at some point.
    reached: AtomicU32,
    /// When every buyer must stop: attempts in flight then end as `timeout`.
    pub deadline: Instant,
    /// Attempts the deadline cut, and buyers it stopped before their last attempt.
    pub cut_by_deadline: AtomicU32,
    /// Buyers whose work has started and not yet ended (0 once the load is over).
    live_buyers: AtomicU32,
    /// Prepared connections the server closed before the release, opened and prepared again.
    reprepared: AtomicU32,
    /// Prepared requests answered before their last byte was sent (none is an order's answer).
    early_answers: AtomicU32,
    /// The run's live figures (terminal view, metrics).
    pub live: Arc<crate::live::Live>,
    /// Whether the run was asked to stop: then no new attempt starts, and those in flight
    /// are cut after the drain.
    pub stop: crate::interrupt::Stop,
}

impl Shared {
    /// µs since the run's epoch.
    pub fn micros(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_micros() as u64
    }
}

/// Counts a buyer as live while it exists.
struct LiveBuyer<'a>(&'a AtomicU32);

impl<'a> LiveBuyer<'a> {
    fn new(count: &'a AtomicU32) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        LiveBuyer(count)
    }
}

impl Drop for LiveBuyer<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How the harness reaches the target.
#[derive(Debug, Clone)]
pub struct HarnessConfig {
    /// Where buyers connect, what they send, how answers are read: from the target.
    pub plan: Arc<Plan>,
    /// Where the harness reports its progress as it goes.
    pub live: Arc<crate::live::Live>,
    /// How long the load may take, from its start ([`run_deadline`] of the scenario).
    pub deadline: Duration,
    /// A shard of a bigger burst drives only its own buyers (`None`: all of them).
    pub slice: Option<crate::model::Slice>,
    /// Where a shard's release instant comes from (`None`: the gate opens when its buyers are
    /// ready, as in a run of one process).
    pub release: Option<Arc<dyn ReleaseSignal>>,
    /// What tells the buyers to stop: the process's own ([`crate::interrupt::process`]) in a
    /// run.
    pub stop: crate::interrupt::Stop,
}

impl HarnessConfig {
    /// A configuration whose live figures nobody watches, with a stop of its own.
    pub fn unwatched(plan: Arc<Plan>, deadline: Duration) -> Self {
        let live = crate::live::Live::new(crate::live::RunLabels::default(), Vec::new(), 0);
        HarnessConfig { plan, live: Arc::new(live), deadline, slice: None, release: None, stop: Default::default() }
    }
}

/// Longest a run may take before it is called off: every wait in it is bounded. Saturating
/// arithmetic: validation bounds every term, and no scenario may make this panic.
pub fn run_deadline(s: &Scenario) -> Duration {
    // A queued order's status is polled for up to `within` after it was accepted.
    let polling = s.target.order.as_ref().and_then(|o| o.status.as_ref()).map_or(Duration::ZERO, |st| st.within.0);
    let per_attempt = s.request_timeout.0.saturating_add(s.buyers.retry.backoff.max.0).saturating_add(polling);
    let ramp = s.arrival.over.map_or(Duration::ZERO, |d| d.0);
    // A stream starts once its slots are connected; a burst in it waits for its own buyers too.
    let (stream, connecting) = match s.arrival.stream() {
        Some(st) => (st.length().max(s.arrival.at.map_or(Duration::ZERO, |d| d.0)), 2),
        None => (Duration::ZERO, 1),
    };
    s.arrival
        .connect_timeout
        .0
        .saturating_mul(connecting)
        .saturating_add(ramp)
        .saturating_add(stream)
        .saturating_add(per_attempt.saturating_mul(s.buyers.attempts))
        .saturating_add(Duration::from_secs(30))
}

/// Runs the scenario's buyers against the target and returns the ledger.
pub async fn drive(scenario: Arc<Scenario>, config: &HarnessConfig) -> Result<Ledger, HarnessError> {
    let buyers = config.slice.map_or(scenario.closed_users(), |sl| sl.len()) as usize;
    let shared = shared_for(&scenario, config, buyers)?;
    // Shards other than the first do not sample the stock: one monitor is enough.
    let (stop_monitor, monitor) = match config.slice {
        Some(sl) if sl.shard > 0 => no_stock_monitor(),
        _ => spawn_stock_monitor(shared.clone()),
    };
    // A stop asked for: the load drains (no new attempt, those in flight get their chance).
    let draining = tokio::spawn(drain_on_stop(shared.clone()));
    let gate_task = shared.gate.is_some().then(|| tokio::spawn(release_gate(shared.clone(), config.release.clone())));
    let dispatcher = shared.stream.is_some().then(|| tokio::spawn(dispatch_stream(shared.clone())));
    // A ramp starts now; a stream's phase is its dispatcher's (connecting, then streaming once
    // its slots are ready), which faults' `at:` counts from.
    if scenario.arrival.mode == ArrivalMode::Ramp {
        shared.live.set_phase(Phase::Ramping);
    }
    let attack = build_attack(shared.clone(), config, shared.ramp_interval)?;
    let result = {
        // Goose prints "N users launched." to stdout whatever it is told; keep stdout ours.
        let _silence = gag::Gag::stdout().ok();
        // Buyers stop at the deadline by themselves; this only guards against goose itself.
        tokio::time::timeout(config.deadline + DEADLINE_GRACE, attack.execute()).await
    };
    let _ = stop_monitor.send(());
    draining.abort();
    if let Some(d) = dispatcher {
        d.abort();
    }
    // The samples draw the stock chart and add to what `stock_never_negative` saw (its detail
    // counts them: "0 samples and 1 final stock"). A monitor that died says so here too.
    let stock_samples = monitor.await.unwrap_or_else(|_| {
        log::warn!("the stock monitor ended without its samples (its thread failed); the stock chart has none");
        Vec::new()
    });
    let (release, arrived, release_late) = match gate_task {
        Some(task) => match task.await.ok().flatten() {
            Some((at, arrived, late)) => (Some(shared.micros(at)), arrived, late),
            None => (None, buyers, None),
        },
        None => (None, buyers, None),
    };
    if let Ok(Err(e)) = result {
        return Err(HarnessError::Goose(e.to_string()));
    }
    let ended = Ended { stock_samples, release, arrived, release_late, goose_timed_out: result.is_err() };
    ledger_of(&shared, config, buyers, ended)
}

/// What the harness knows when goose is done, beside what `Shared` holds.
struct Ended {
    stock_samples: Vec<StockSample>,
    release: Option<u64>,
    /// Buyers that had connected at the release.
    arrived: usize,
    release_late: Option<Duration>,
    /// Goose itself did not end by the deadline and its grace.
    goose_timed_out: bool,
}

/// The state every buyer shares, for `buyers` harness users; refuses a plan without a URL and
/// a shard of anything but a plain burst.
fn shared_for(scenario: &Arc<Scenario>, config: &HarnessConfig, buyers: usize) -> Result<Arc<Shared>, HarnessError> {
    let burst = scenario.arrival.mode == ArrivalMode::Burst;
    let open = scenario.arrival.stream().map(|st| stream::OpenStream::new(&st, scenario.closed_users()));
    let ramp_interval = match scenario.arrival.over {
        Some(over) if !burst => over.0 / scenario.closed_users().max(1),
        _ => Duration::ZERO,
    };
    if config.plan.endpoints.is_empty() {
        return Err(HarnessError::Unreachable("no target URL".into()));
    }
    if config.slice.is_some() && (!burst || open.is_some()) {
        return Err(HarnessError::Unsupported("shards drive a burst without a background stream only"));
    }
    Ok(Arc::new(Shared {
        plan: config.plan.clone(),
        epoch: Instant::now(),
        gate: (burst && buyers > 0).then(|| StartGate::new(buyers)),
        stream: open,
        ramp_origin: OnceLock::new(),
        ramp_interval,
        connect_permits: Semaphore::new(CONNECT_CONCURRENCY),
        attempts: Mutex::new(Vec::with_capacity(buyers)),
        open: Mutex::new(std::collections::HashMap::new()),
        connect_failures: AtomicU32::new(0),
        first_connect_error: OnceLock::new(),
        reached: AtomicU32::new(0),
        deadline: Instant::now() + config.deadline,
        cut_by_deadline: AtomicU32::new(0),
        live_buyers: AtomicU32::new(0),
        reprepared: AtomicU32::new(0),
        early_answers: AtomicU32::new(0),
        live: config.live.clone(),
        stop: config.stop.clone(),
        scenario: scenario.clone(),
    }))
}

/// Once a stop is asked for: the load drains, and goose launches no further user.
async fn drain_on_stop(shared: Arc<Shared>) {
    shared.stop.wait().await;
    shared.live.note_interruption();
    shared.live.set_phase(Phase::Draining);
    // Goose stops launching users (a ramp's later buyers never start); those running
    // finish their transaction, which the stop bounds.
    goose::trigger_killswitch("flashbench: interrupted");
}

/// Opens the burst's gate when every buyer is connected (or on a shard's release signal);
/// never once a stop came first. When it opened, how many buyers had arrived, and how late a
/// shard's release was.
async fn release_gate(
    shared: Arc<Shared>,
    signal: Option<Arc<dyn ReleaseSignal>>,
) -> Option<(Instant, usize, Option<Duration>)> {
    shared.live.set_phase(Phase::Connecting);
    let connect_timeout = shared.scenario.arrival.connect_timeout.0;
    // In a background stream, the burst is released `at` into it.
    let not_before = match &shared.stream {
        Some(st) => Some(st.started().await + shared.scenario.arrival.at.map_or(Duration::ZERO, |d| d.0)),
        None => None,
    };
    // A stop asked for before the release: the gate never opens, no order is sent.
    let open = async {
        match (&shared.gate, &signal) {
            (Some(g), Some(signal)) => g
                .open_on_signal(connect_timeout, signal.as_ref())
                .await
                .map(|(at, arrived, late)| (at, arrived, Some(late))),
            (Some(g), None) => g.open_when_ready_from(connect_timeout, not_before).await.map(|(at, n)| (at, n, None)),
            (None, _) => None,
        }
    };
    let opened = match &shared.gate {
        Some(g) => tokio::select! {
            opened = open => opened,
            // Cancelling fails only when the gate has just opened.
            _ = shared.stop.wait() => match g.cancel() {
                true => None,
                false => Some((g.released().await, g.arrived(), None)),
            },
        },
        None => None,
    };
    if opened.is_some() {
        shared.live.set_phase(Phase::Buying);
    }
    opened
}

/// Dispatches the open stream's arrivals to its slots once they are connected.
async fn dispatch_stream(shared: Arc<Shared>) {
    let connect_timeout = shared.scenario.arrival.connect_timeout.0;
    if shared.gate.is_none() {
        shared.live.set_phase(Phase::Connecting);
    }
    let dispatched = stream::dispatch(shared.clone(), connect_timeout);
    tokio::pin!(dispatched);
    if let Some(st) = &shared.stream {
        tokio::select! {
            _ = &mut dispatched => return,
            _ = st.started() => {}
        }
        if shared.gate.is_none() {
            shared.live.set_phase(Phase::Streaming);
        }
    }
    dispatched.await;
}

/// The ledger of a finished load: every attempt (those of buyers still open too), the
/// stream's drops, the deadline's cut, the release.
fn ledger_of(shared: &Shared, config: &HarnessConfig, buyers: usize, ended: Ended) -> Result<Ledger, HarnessError> {
    let scenario = &shared.scenario;
    let Ended { stock_samples, release, arrived, release_late, goose_timed_out } = ended;
    let (stream_start_us, dropped, stream_late) = match &shared.stream {
        Some(st) => {
            let start = st.started_at().map(|at| shared.micros(at));
            let dropped = std::mem::take(&mut *st.dropped.lock().unwrap_or_else(|p| p.into_inner()));
            (start, dropped, st.slots as usize - st.warm.arrived().min(st.slots as usize))
        }
        None => (None, Vec::new(), 0),
    };
    // (Stopped by Ctrl-C before anyone connected is not an unreachable target.)
    if shared.reached.load(Ordering::Acquire) == 0 && shared.stop.requested().is_none() {
        let why = shared.first_connect_error.get().cloned().unwrap_or_default();
        return Err(HarnessError::Unreachable(why));
    }
    let mut attempts = std::mem::take(&mut *shared.attempts.lock().unwrap_or_else(|p| p.into_inner()));
    attempts.extend(harvest_open(shared));
    if let Some(sl) = config.slice {
        attempts.iter_mut().for_each(|a| a.shard = sl.shard);
    }
    attempts.sort_by_key(|a| (a.sent_us, a.buyer, a.attempt));
    let cut = shared.cut_by_deadline.load(Ordering::Acquire);
    let still_running = shared.live_buyers.load(Ordering::Acquire);
    let overrun = (cut > 0 || still_running > 0 || goose_timed_out).then_some(Overrun {
        deadline_ms: config.deadline.as_millis() as u64,
        cut_attempts: cut,
        unfinished_buyers: still_running,
    });
    Ok(Ledger {
        products: scenario.products.iter().map(|p| p.id.clone()).collect(),
        buyers: scenario.buyers.count,
        attempts,
        stock_samples,
        release_us: release,
        connect_failures: shared.connect_failures.load(Ordering::Acquire),
        late_buyers: (buyers.saturating_sub(arrived) + stream_late) as u32,
        dropped,
        stream_start_us,
        arrivals: shared.stream.as_ref().map_or(0, |st| st.arrivals() as u64),
        overrun,
        reconnected: shared.reprepared.load(Ordering::Acquire),
        early_answers: shared.early_answers.load(Ordering::Acquire),
        epoch: Some(crate::clock::epoch_at(shared.epoch)),
        release_late_us: release_late.map(|d| d.as_micros() as u64),
    })
}

fn goose_error(e: impl std::fmt::Display) -> HarnessError {
    HarnessError::Goose(e.to_string())
}

fn build_attack(
    shared: Arc<Shared>,
    config: &HarnessConfig,
    ramp_interval: Duration,
) -> Result<GooseAttack, HarnessError> {
    let closed = shared.scenario.closed_users();
    let slots = shared.stream.as_ref().map_or(0, |st| st.slots);
    // A shard's users are its own buyers, numbered from the first of its slice.
    let (first, buyers) = match config.slice {
        Some(sl) => (sl.first, sl.len() as usize),
        None => (0, (closed + slots) as usize),
    };
    let mut goose_config = GooseConfiguration::default();
    goose_config.host = config.plan.endpoints.first().map(|e| e.url.clone());
    goose_config.users = Some(buyers);
    // A burst launches users as fast as goose can; a ramp at the scenario's pace.
    let rate = if ramp_interval.is_zero() { 1_000_000.0 } else { 1.0 / ramp_interval.as_secs_f64() };
    goose_config.increase_rate = Some(format!("{rate}"));
    goose_config.iterations = Some(1);
    goose_config.no_telnet = true;
    goose_config.no_metrics = true;
    goose_config.no_print_metrics = true;
    goose_config.no_error_summary = true;
    goose_config.quiet = 1;

    let buyer_shared = shared.clone();
    let buyer: TransactionFunction = Arc::new(move |user| {
        let shared = buyer_shared.clone();
        Box::pin(async move {
            let index = first + user.weighted_users_index as u32;
            if index >= closed {
                stream::serve_slot(&shared, index - closed).await;
                return Ok(());
            }
            let _live = LiveBuyer::new(&shared.live_buyers);
            let Ready { mut conn, intended, vars, request, refused } = connect(&shared, index).await;
            let attempts = match refused {
                None => buyer::buy(&shared, &mut conn, index, vars, request, intended).await,
                Some(why) => vec![buyer::not_sent(&shared, index, intended, why)],
            };
            if conn.ever_connected() {
                shared.reached.fetch_add(1, Ordering::AcqRel);
            }
            shared.attempts.lock().unwrap_or_else(|p| p.into_inner()).extend(attempts);
            shared.live.buyer_done();
            Ok(())
        })
    });
    let scenario = goose::goose::Scenario::new("buyer").register_transaction(Transaction::new(buyer).set_name("buyer"));
    Ok(GooseAttack::initialize_with_config(goose_config)
        .map_err(goose_error)?
        // One client shared by all users: ours go through their own connections, and a
        // client per user would cost start-up time and memory for nothing.
        .set_client_builder_without_cookies(goose::client::GooseClientBuilder::new().without_cookies())
        .map_err(goose_error)?
        .register_scenario(scenario))
}

/// A buyer ready to buy: its connection, its intended start, its placeholder values (with its
/// session once logged in), and its first order request (prepared on the connection but its
/// last byte in a burst); or why it cannot buy (its register or login failed).
struct Ready {
    conn: BuyerConn,
    intended: Instant,
    vars: plan::BuyerVars,
    request: Vec<u8>,
    refused: Option<String>,
}

/// Opens buyer `buyer`'s own connection with a warm-up probe (the plan's, within
/// `arrival.connect_timeout`), registers and logs it in when the plan says so, then waits for
/// its start: in a burst with its order request written but its last byte, at the release; in
/// a ramp, at its slot. A failed probe does not stop the buyer: it tries its order anyway, on
/// a fresh connection if needed (and `not_sent` when none can be opened).
async fn connect(shared: &Shared, buyer: u32) -> Ready {
    let s = &shared.scenario;
    let plan = &shared.plan;
    let endpoint = plan.endpoint_of(buyer);
    let url = &endpoint.url;
    let mut conn = BuyerConn::to(endpoint).bound_to(plan.source_of(buyer));
    let mut vars = plan::BuyerVars::new(s, plan, buyer);
    let probe_timeout = s.arrival.connect_timeout.0.min(shared.deadline.saturating_duration_since(Instant::now()));
    let mut refused = None;
    let stopped = |conn, vars| Ready {
        conn,
        intended: Instant::now(),
        vars,
        request: Vec::new(),
        refused: Some(STOPPED_BEFORE_START.to_string()),
    };
    let (problem, request) = {
        let _permit = tokio::select! {
            permit = shared.connect_permits.acquire() => permit,
            _ = shared.stop.wait() => return stopped(conn, vars),
        };
        let warmed = warm_up(shared, &mut conn, endpoint, &vars, probe_timeout).await;
        for step in &plan.auth {
            if let Err(why) = buyer::authenticate(&mut conn, endpoint, step, &mut vars, probe_timeout).await {
                refused = Some(format!("{} failed: {why}", step.name));
                break;
            }
        }
        let request = plan.order.bytes(&endpoint.host, &vars.vars(1));
        let problem = warmed.or(match shared.gate.is_some() && conn.ever_connected() && refused.is_none() {
            true => conn
                .prepare(&request, probe_timeout)
                .await
                .err()
                .map(|e| format!("{url}: cannot write the order request: {}", crate::text::describe(&e))),
            false => None,
        });
        (problem, request)
    };
    match problem {
        None => shared.live.connected(),
        Some(why) => connect_failed(shared, why),
    }
    let intended = match &shared.gate {
        Some(gate) => match wait_for_release(shared, gate, &mut conn, &request).await {
            Some(at) => at,
            None => return stopped(conn, vars),
        },
        None => {
            let origin = *shared.ramp_origin.get_or_init(Instant::now);
            let slot = origin + shared.ramp_interval * buyer;
            tokio::select! {
                _ = tokio::time::sleep_until(slot.into()) => slot,
                _ = shared.stop.wait() => return stopped(conn, vars),
            }
        }
    };
    Ready { conn, intended, vars, request, refused }
}

/// A prepared buyer waits at the gate for the release; a connection the server closed while
/// idle, or that it answered before the last byte (its own request timeout), is prepared again
/// and its last byte handed to the gate anew. When the gate opened; `None`: a stop came first.
async fn wait_for_release(shared: &Shared, gate: &StartGate, conn: &mut BuyerConn, request: &[u8]) -> Option<Instant> {
    let s = &shared.scenario;
    let slot = gate.arrive(conn.last_byte());
    let mut early_answers = 0;
    loop {
        let written = conn.last_byte_written();
        tokio::select! {
            biased;
            at = gate.released() => break Some(at),
            // A stop before the release: the gate will never write this buyer's last
            // byte, so its order cannot reach the server.
            _ = shared.stop.wait() => match gate.cancel() {
                true => return None,
                false => break Some(gate.released().await),
            },
            // Its own last byte is written: read the answer now, while the gate
            // writes the rest.
            _ = async { if let Some(w) = &written { w.wait().await } }, if written.is_some() => {
                break Some(gate.released_at().unwrap_or_else(Instant::now));
            }
            event = conn.idle_event(), if conn.is_prepared() => {
                if !conn.withdraw() {
                    // The gate has begun writing the last byte: this is the answer.
                    break Some(gate.released().await);
                }
                // The request can no longer complete on this connection: the server
                // closed it while idle (a keep-alive timeout), or answered before its
                // last byte (its own request timeout: a 408 to a request prepared
                // minutes before a slow release), which answers no order.
                conn.reset();
                if event == connection::IdleEvent::Data {
                    shared.early_answers.fetch_add(1, Ordering::Relaxed);
                    early_answers += 1;
                    if early_answers > MAX_EARLY_ANSWERS {
                        // It answers every prepared request early: the whole request
                        // is sent at the release instead, on a new connection.
                        continue;
                    }
                } else {
                    shared.reprepared.fetch_add(1, Ordering::Relaxed);
                }
                let timeout = s.arrival.connect_timeout.0;
                if conn.prepare(request, timeout).await.is_ok() {
                    if let (Some(slot), Some(b)) = (slot, conn.last_byte()) {
                        gate.rearm(slot, b);
                    }
                }
            }
        }
    }
}

/// Why a buyer stopped before its first attempt made no attempt (recorded as `not_sent`).
pub const STOPPED_BEFORE_START: &str = "the run was interrupted before this buyer's start";

/// Opens `conn` with the plan's warm-up probe (or a bare connect); what went wrong, if anything.
async fn warm_up(
    shared: &Shared,
    conn: &mut BuyerConn,
    endpoint: &Endpoint,
    vars: &plan::BuyerVars,
    timeout: Duration,
) -> Option<String> {
    let url = &endpoint.url;
    match &shared.plan.warmup {
        Some(warmup) => {
            let path = warmup.path.render_path(&vars.vars(1));
            match conn.send(&warmup.bytes(&endpoint.host, &vars.vars(1)), timeout).await {
                Ok(answer) if (200..300).contains(&answer.status) => None,
                Ok(answer) => Some(format!("{url}{path} answered {}", answer.status)),
                Err(e) => Some(format!("{url}{path}: {}", crate::text::describe(&e))),
            }
        }
        None => conn.open(timeout).await.err().map(|e| format!("{url}: {}", crate::text::describe(&e))),
    }
}

fn connect_failed(shared: &Shared, why: String) {
    shared.connect_failures.fetch_add(1, Ordering::Relaxed);
    let _ = shared.first_connect_error.set(why);
}

/// Reads the stock of every product buyers want, on every instance, until told to stop, with
/// the plan's stock probe (none: no samples). It runs on its own thread and runtime, so a
/// burst that keeps the harness's workers busy cannot starve it, and keeps up to
/// [`PROBES_IN_FLIGHT`] probes in flight per instance and product, so a slow answer does not
/// hold up the next sample. For [`FAST_SAMPLING_FOR`] after a burst's release it samples every
/// [`FAST_SAMPLE_EVERY`], then every [`STOCK_SAMPLE_EVERY`].
fn spawn_stock_monitor(
    shared: Arc<Shared>,
) -> (tokio::sync::oneshot::Sender<()>, tokio::sync::oneshot::Receiver<Vec<StockSample>>) {
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let (out_tx, out_rx) = tokio::sync::oneshot::channel();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
    let spawned = runtime.map_err(|e| e.to_string()).and_then(|rt| {
        std::thread::Builder::new()
            .name("stock-monitor".into())
            .spawn(move || {
                let samples = rt.block_on(monitor_stock(shared, stop_rx));
                let _ = out_tx.send(samples);
            })
            .map_err(|e| e.to_string())
    });
    if let Err(why) = spawned {
        log::warn!("the stock monitor could not start ({why}); the stock chart will have no samples");
    }
    (stop_tx, out_rx)
}

/// A stock monitor that samples nothing (a shard other than the first).
fn no_stock_monitor() -> (tokio::sync::oneshot::Sender<()>, tokio::sync::oneshot::Receiver<Vec<StockSample>>) {
    let (stop_tx, _) = tokio::sync::oneshot::channel();
    let (out_tx, out_rx) = tokio::sync::oneshot::channel();
    let _ = out_tx.send(Vec::new());
    (stop_tx, out_rx)
}

/// Probes kept in flight per instance and product.
const PROBES_IN_FLIGHT: usize = 4;
/// How often stock is sampled just after a burst's release.
pub const FAST_SAMPLE_EVERY: Duration = Duration::from_millis(1);
/// How long after a release stock is sampled fast.
pub const FAST_SAMPLING_FOR: Duration = Duration::from_secs(1);

async fn monitor_stock(shared: Arc<Shared>, mut stop: tokio::sync::oneshot::Receiver<()>) -> Vec<StockSample> {
    let Some(probe) = shared.plan.stock.clone() else { return Vec::new() };
    let s = shared.scenario.clone();
    let mut wanted: Vec<usize> = (0..s.total_buyers()).map(|b| s.product_of(b)).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut samples = Vec::new();
    // Idle connections per (instance, product); a probe takes one and gives it back.
    let mut idle: std::collections::HashMap<(usize, usize), Vec<BuyerConn>> = std::collections::HashMap::new();
    let mut busy: std::collections::HashMap<(usize, usize), usize> = std::collections::HashMap::new();
    let mut probes: tokio::task::JoinSet<((usize, usize), BuyerConn, Option<StockSample>)> =
        tokio::task::JoinSet::new();
    let mut next = Instant::now();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            done = probes.join_next(), if !probes.is_empty() => {
                if let Some(Ok((key, conn, sample))) = done {
                    *busy.entry(key).or_default() -= 1;
                    idle.entry(key).or_default().push(conn);
                    if let Some(sample) = &sample {
                        shared.live.stock_sample(sample.product as usize, sample.stock);
                    }
                    samples.extend(sample);
                }
                continue;
            }
            _ = tokio::time::sleep_until(next.into()) => {}
        }
        let fast = shared
            .gate
            .as_ref()
            .and_then(StartGate::released_at)
            .is_some_and(|at| Instant::now().saturating_duration_since(at) < FAST_SAMPLING_FOR);
        next = Instant::now() + if fast { FAST_SAMPLE_EVERY } else { STOCK_SAMPLE_EVERY };
        for (instance, endpoint) in shared.plan.endpoints.iter().enumerate() {
            for &p in &wanted {
                let key = (instance, p);
                let in_flight = busy.entry(key).or_default();
                let conn = match idle.entry(key).or_default().pop() {
                    Some(conn) => conn,
                    None if *in_flight < PROBES_IN_FLIGHT => BuyerConn::to(endpoint),
                    None => continue,
                };
                *in_flight += 1;
                let product = &s.products[p];
                let vars = template::Vars {
                    product: &product.id,
                    stock: product.stock,
                    quantity: s.buyers.quantity,
                    run: &shared.plan.run,
                    ..template::Vars::default()
                };
                let request = probe.request.bytes(&endpoint.host, &vars);
                let (shared, pointer) = (shared.clone(), probe.pointer.clone());
                probes.spawn(async move {
                    let mut conn = conn;
                    let sample = read_stock(&mut conn, &request, &pointer).await.map(|stock| StockSample {
                        repetition: 1,
                        t_us: shared.micros(Instant::now()),
                        product: p as u32,
                        instance: instance as u32,
                        stock,
                    });
                    (key, conn, sample)
                });
            }
        }
    }
    probes.abort_all();
    samples.sort_by_key(|s| s.t_us);
    samples
}

/// One stock probe: the number at `pointer` in the answer's JSON (or a numeric string).
async fn read_stock(conn: &mut BuyerConn, request: &[u8], pointer: &str) -> Option<i64> {
    let answer = conn.send(request, STOCK_PROBE_TIMEOUT).await.ok()?;
    let body: serde_json::Value = serde_json::from_slice(&answer.body).ok()?;
    let v = body.pointer(pointer)?;
    v.as_i64().or_else(|| v.as_str().and_then(|t| t.trim().parse().ok()))
}
