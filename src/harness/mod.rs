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
pub mod ledger;
pub mod plan;
mod progress;
pub mod queued;
pub mod template;
pub mod tls;

pub use classify::Classifier;
pub use connection::{request_bytes, Answer, BuyerConn, ConnError, LastByte};
pub use gate::StartGate;
pub use ledger::{Attempt, Ledger, Overrun, StockSample};
pub use plan::{Endpoint, Plan, StockProbe};
pub use progress::Progress;

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

/// How long buyers still at work past the deadline get to record what they did before the
/// harness stops waiting for goose (each attempt is already cut at the deadline).
pub const DEADLINE_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("goose could not run the load: {0}")]
    Goose(String),
    #[error("no buyer could open a connection to the target ({0}); is it running?")]
    Unreachable(String),
}

/// What every buyer shares.
pub struct Shared {
    pub scenario: Arc<Scenario>,
    /// The target's endpoints, requests and rules.
    pub plan: Arc<Plan>,
    pub epoch: Instant,
    pub gate: Option<StartGate>,
    ramp_origin: OnceLock<Instant>,
    ramp_interval: Duration,
    connect_permits: Semaphore,
    attempts: Mutex<Vec<Attempt>>,
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
    pub progress: Progress,
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
    pub show_progress: bool,
    /// How long the load may take, from its start ([`run_deadline`] of the scenario).
    pub deadline: Duration,
}

/// Longest a run may take before it is called off: every wait in it is bounded. Saturating
/// arithmetic: validation bounds every term, and no scenario may make this panic.
pub fn run_deadline(s: &Scenario) -> Duration {
    // A queued order's status is polled for up to `within` after it was accepted.
    let polling = s.target.order.as_ref().and_then(|o| o.status.as_ref()).map_or(Duration::ZERO, |st| st.within.0);
    let per_attempt = s.request_timeout.0.saturating_add(s.buyers.retry.backoff.max.0).saturating_add(polling);
    let ramp = s.arrival.over.map_or(Duration::ZERO, |d| d.0);
    s.arrival
        .connect_timeout
        .0
        .saturating_add(ramp)
        .saturating_add(per_attempt.saturating_mul(s.buyers.attempts))
        .saturating_add(Duration::from_secs(30))
}

/// Runs the scenario's buyers against the target and returns the ledger.
pub async fn drive(scenario: Arc<Scenario>, config: &HarnessConfig) -> Result<Ledger, HarnessError> {
    let buyers = scenario.buyers.count as usize;
    let burst = scenario.arrival.mode == ArrivalMode::Burst;
    let ramp_interval = match scenario.arrival.over {
        Some(over) if !burst => over.0 / scenario.buyers.count.max(1),
        _ => Duration::ZERO,
    };
    if config.plan.endpoints.is_empty() {
        return Err(HarnessError::Unreachable("no target URL".into()));
    }
    let shared = Arc::new(Shared {
        plan: config.plan.clone(),
        epoch: Instant::now(),
        gate: burst.then(|| StartGate::new(buyers)),
        ramp_origin: OnceLock::new(),
        ramp_interval,
        connect_permits: Semaphore::new(CONNECT_CONCURRENCY),
        attempts: Mutex::new(Vec::with_capacity(buyers)),
        connect_failures: AtomicU32::new(0),
        first_connect_error: OnceLock::new(),
        reached: AtomicU32::new(0),
        deadline: Instant::now() + config.deadline,
        cut_by_deadline: AtomicU32::new(0),
        live_buyers: AtomicU32::new(0),
        reprepared: AtomicU32::new(0),
        progress: Progress::new(config.show_progress, &scenario.name),
        scenario: scenario.clone(),
    });

    let (stop_monitor, monitor) = spawn_stock_monitor(shared.clone());
    let ticker = spawn_ticker(shared.clone());
    let gate_task = shared.gate.is_some().then(|| {
        let shared = shared.clone();
        tokio::spawn(async move {
            shared.progress.set_phase("connecting");
            let gate = shared.gate.as_ref().map(|g| g.open_when_ready(shared.scenario.arrival.connect_timeout.0));
            let opened = match gate {
                Some(fut) => Some(fut.await),
                None => None,
            };
            shared.progress.set_phase("buying");
            opened
        })
    });
    if !burst {
        shared.progress.set_phase("ramping");
    }

    let attack = build_attack(shared.clone(), config, ramp_interval)?;
    let result = {
        // Goose prints "N users launched." to stdout whatever it is told; keep stdout ours.
        let _silence = gag::Gag::stdout().ok();
        // Buyers stop at the deadline by themselves; this only guards against goose itself.
        tokio::time::timeout(config.deadline + DEADLINE_GRACE, attack.execute()).await
    };
    let _ = stop_monitor.send(());
    ticker.abort();
    shared.progress.finish();
    let stock_samples = monitor.await.unwrap_or_default();
    let (release, arrived) = match gate_task {
        Some(task) => match task.await.ok().flatten() {
            Some((at, arrived)) => (Some(shared.micros(at)), arrived),
            None => (None, buyers),
        },
        None => (None, buyers),
    };
    if let Ok(Err(e)) = result {
        return Err(HarnessError::Goose(e.to_string()));
    }
    if shared.reached.load(Ordering::Acquire) == 0 {
        let why = shared.first_connect_error.get().cloned().unwrap_or_default();
        return Err(HarnessError::Unreachable(why));
    }
    let mut attempts = std::mem::take(&mut *shared.attempts.lock().unwrap_or_else(|p| p.into_inner()));
    attempts.sort_by_key(|a| (a.sent_us, a.buyer, a.attempt));
    let cut = shared.cut_by_deadline.load(Ordering::Acquire);
    let still_running = shared.live_buyers.load(Ordering::Acquire);
    let overrun = (cut > 0 || still_running > 0 || result.is_err()).then_some(Overrun {
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
        late_buyers: (buyers.saturating_sub(arrived)) as u32,
        overrun,
        reconnected: shared.reprepared.load(Ordering::Acquire),
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
    let buyers = shared.scenario.buyers.count as usize;
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
            let _live = LiveBuyer::new(&shared.live_buyers);
            let index = user.weighted_users_index as u32;
            let Ready { mut conn, intended, vars, request, refused } = connect(&shared, index).await;
            let attempts = match refused {
                None => buyer::buy(&shared, &mut conn, index, vars, request, intended).await,
                Some(why) => vec![buyer::not_sent(&shared, index, intended, why)],
            };
            if conn.ever_connected() {
                shared.reached.fetch_add(1, Ordering::AcqRel);
            }
            shared.attempts.lock().unwrap_or_else(|p| p.into_inner()).extend(attempts);
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
    let mut conn = BuyerConn::to(endpoint);
    let mut vars = plan::BuyerVars::new(s, plan, buyer);
    let probe_timeout = s.arrival.connect_timeout.0.min(shared.deadline.saturating_duration_since(Instant::now()));
    let mut refused = None;
    let (problem, request) = {
        let _permit = shared.connect_permits.acquire().await;
        let warmed = match &plan.warmup {
            Some(warmup) => {
                let path = warmup.path.render_path(&vars.vars(1));
                match conn.send(&warmup.bytes(&endpoint.host, &vars.vars(1)), probe_timeout).await {
                    Ok(answer) if (200..300).contains(&answer.status) => None,
                    Ok(answer) => Some(format!("{url}{path} answered {}", answer.status)),
                    Err(e) => Some(format!("{url}{path}: {}", buyer::describe(&e))),
                }
            }
            None => conn.open(probe_timeout).await.err().map(|e| format!("{url}: {}", buyer::describe(&e))),
        };
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
                .map(|e| format!("{url}: cannot write the order request: {}", buyer::describe(&e))),
            false => None,
        });
        (problem, request)
    };
    match problem {
        None => shared.progress.connected(),
        Some(why) => connect_failed(shared, why),
    }
    let intended = match &shared.gate {
        Some(gate) => {
            let slot = gate.arrive(conn.last_byte());
            loop {
                tokio::select! {
                    biased;
                    at = gate.released() => break at,
                    closed = conn.closed_while_idle(), if conn.is_prepared() => {
                        if !closed || conn.last_byte_written() {
                            // An answer arriving (the gate is releasing), not a close.
                            break gate.released().await;
                        }
                        // The server closed the idle connection before the release (a keep-alive
                        // timeout): open another and prepare the request on it again.
                        shared.reprepared.fetch_add(1, Ordering::Relaxed);
                        conn.reset();
                        let timeout = s.arrival.connect_timeout.0;
                        if conn.prepare(&request, timeout).await.is_ok() {
                            if let (Some(slot), Some(b)) = (slot, conn.last_byte()) {
                                gate.rearm(slot, b);
                            }
                        }
                    }
                }
            }
        }
        None => {
            let origin = *shared.ramp_origin.get_or_init(Instant::now);
            let slot = origin + shared.ramp_interval * buyer;
            tokio::time::sleep_until(slot.into()).await;
            slot
        }
    };
    Ready { conn, intended, vars, request, refused }
}

fn connect_failed(shared: &Shared, why: String) {
    shared.connect_failures.fetch_add(1, Ordering::Relaxed);
    let _ = shared.first_connect_error.set(why);
}

fn spawn_ticker(shared: Arc<Shared>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(125));
        loop {
            every.tick().await;
            shared.progress.redraw();
        }
    })
}

/// Reads the stock of every product buyers want, on every instance, until told to stop, with
/// the plan's stock probe (none: no samples).
fn spawn_stock_monitor(
    shared: Arc<Shared>,
) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<Vec<StockSample>>) {
    let (tx, mut rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(async move {
        let Some(probe) = shared.plan.stock.clone() else { return Vec::new() };
        let s = &shared.scenario;
        let mut wanted: Vec<usize> =
            (0..s.buyers.count.min(s.products.len() as u32)).map(|b| s.product_of(b)).collect();
        wanted.sort_unstable();
        wanted.dedup();
        let mut samples = Vec::new();
        let mut conns: Vec<BuyerConn> = shared.plan.endpoints.iter().map(BuyerConn::to).collect();
        let mut every = tokio::time::interval(STOCK_SAMPLE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = &mut rx => break,
                _ = every.tick() => {}
            }
            for (instance, (endpoint, conn)) in shared.plan.endpoints.iter().zip(conns.iter_mut()).enumerate() {
                for &p in &wanted {
                    let product = &s.products[p];
                    let vars = template::Vars {
                        product: &product.id,
                        stock: product.stock,
                        quantity: s.buyers.quantity,
                        run: &shared.plan.run,
                        ..template::Vars::default()
                    };
                    let Ok(answer) = conn.send(&probe.request.bytes(&endpoint.host, &vars), STOCK_PROBE_TIMEOUT).await
                    else {
                        continue;
                    };
                    let body: Option<serde_json::Value> = serde_json::from_slice(&answer.body).ok();
                    let stock = body
                        .as_ref()
                        .and_then(|b| b.pointer(&probe.pointer))
                        .and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|t| t.trim().parse().ok())));
                    if let Some(stock) = stock {
                        samples.push(StockSample {
                            repetition: 1,
                            t_us: shared.micros(Instant::now()),
                            product: p as u32,
                            instance: instance as u32,
                            stock,
                        });
                    }
                }
            }
        }
        samples
    });
    (tx, task)
}
