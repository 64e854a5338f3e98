//! The live figures of a run while it happens: fed by the harness (attempts, connections,
//! stock samples) and by the run's flow (its phase), read by the terminal view ([`view`]) and
//! by the Prometheus exporters ([`metrics`]: the `--metrics-listen` endpoint in [`listen`] and
//! the `--prometheus-remote-write` pusher in [`remote_write`]).
//!
//! Everything here is a counter or a gauge read without stopping the load: atomics, one
//! short-held lock (the latency histogram) and a watch channel (the phase).

pub mod listen;
pub mod metrics;
pub mod remote_write;
pub mod view;

pub use metrics::exposition_example;

use crate::model::Outcome;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Starting,
    Connecting,
    Buying,
    Streaming,
    Ramping,
    Draining,
    Truth,
    Verifying,
    Reporting,
    Done,
}

impl Phase {
    pub const ALL: [Phase; 10] = [
        Phase::Starting,
        Phase::Connecting,
        Phase::Buying,
        Phase::Streaming,
        Phase::Ramping,
        Phase::Draining,
        Phase::Truth,
        Phase::Verifying,
        Phase::Reporting,
        Phase::Done,
    ];

    /// The name in metrics (`flashbench_run_phase{phase=...}`).
    pub fn name(self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Connecting => "connecting",
            Phase::Buying => "buying",
            Phase::Streaming => "streaming",
            Phase::Ramping => "ramping",
            Phase::Draining => "draining",
            Phase::Truth => "truth",
            Phase::Verifying => "verifying",
            Phase::Reporting => "reporting",
            Phase::Done => "done",
        }
    }

    /// Once the load is over (truth, verifying, reporting, done).
    pub fn after_load(self) -> bool {
        matches!(self, Phase::Truth | Phase::Verifying | Phase::Reporting | Phase::Done)
    }

    /// What the terminal says.
    pub fn words(self) -> &'static str {
        match self {
            Phase::Starting => "starting the target",
            Phase::Connecting => "connecting",
            Phase::Buying => "released",
            Phase::Streaming => "streaming",
            Phase::Ramping => "ramping",
            Phase::Draining => "draining",
            Phase::Truth => "reading truth",
            Phase::Verifying => "verifying",
            Phase::Reporting => "reporting",
            Phase::Done => "done",
        }
    }
}

/// What a run is, for labels and the terminal.
#[derive(Debug, Clone, Default)]
pub struct RunLabels {
    pub scenario: String,
    /// The run folder's name.
    pub run: String,
    /// The target's kind and address in a few words.
    pub target: String,
    pub backend: String,
    pub strategy: String,
}

/// Marks a stock not yet sampled.
const NO_STOCK: i64 = i64::MIN;

/// The live figures of one run (all its repetitions).
pub struct Live {
    pub labels: RunLabels,
    pub products: Vec<String>,
    initial_stock: Vec<u64>,
    started: Instant,
    buyers: AtomicU64,
    /// Buyers of the closed part (a burst's or a ramp's), and connections the run opens.
    shape: [AtomicU64; 2],
    counts: [AtomicU64; Outcome::ALL.len()],
    connected: AtomicU64,
    buyers_done: AtomicU64,
    in_flight: AtomicI64,
    dropped: AtomicU64,
    arrivals: AtomicU64,
    arrivals_total: AtomicU64,
    stock: Vec<AtomicI64>,
    /// The phase now; views that write a line per phase watch it change.
    phase: tokio::sync::watch::Sender<Phase>,
    /// The phase when Ctrl-C or SIGTERM came.
    interrupted_during: std::sync::OnceLock<Phase>,
    /// Repetition under way and how many in all.
    repetition: [AtomicU64; 2],
    /// Answered attempts' latency in µs, for the terminal's p50/p99.
    latency_us: Mutex<hdrhistogram::Histogram<u64>>,
    pub(crate) metrics: metrics::RunMetrics,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live").field("labels", &self.labels).field("phase", &self.phase()).finish_non_exhaustive()
    }
}

impl Live {
    /// `products` with their initial stock.
    pub fn new(labels: RunLabels, products: Vec<(String, u64)>, buyers: u64) -> Self {
        let metrics = metrics::RunMetrics::new(&labels);
        let histogram = hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000, 2)
            .unwrap_or_else(|_| hdrhistogram::Histogram::new(2).unwrap_or_else(|_| unreachable!()));
        let live = Live {
            products: products.iter().map(|(p, _)| p.clone()).collect(),
            initial_stock: products.iter().map(|(_, s)| *s).collect(),
            started: Instant::now(),
            buyers: AtomicU64::new(buyers),
            shape: [AtomicU64::new(buyers), AtomicU64::new(buyers)],
            counts: Default::default(),
            connected: AtomicU64::new(0),
            buyers_done: AtomicU64::new(0),
            in_flight: AtomicI64::new(0),
            dropped: AtomicU64::new(0),
            arrivals: AtomicU64::new(0),
            arrivals_total: AtomicU64::new(0),
            stock: products.iter().map(|_| AtomicI64::new(NO_STOCK)).collect(),
            phase: tokio::sync::watch::Sender::new(Phase::Starting),
            interrupted_during: std::sync::OnceLock::new(),
            repetition: [AtomicU64::new(1), AtomicU64::new(1)],
            latency_us: Mutex::new(histogram),
            metrics,
            labels,
        };
        live.metrics.set_phase(Phase::Starting);
        live.metrics.buyers.set(buyers as i64);
        live
    }

    /// Repetition `i` of `of` begins: connections and buyers start from zero again (outcome
    /// counts go on).
    pub fn begin_repetition(&self, i: u32, of: u32) {
        self.repetition[0].store(u64::from(i), Ordering::Relaxed);
        self.repetition[1].store(u64::from(of), Ordering::Relaxed);
        self.connected.store(0, Ordering::Relaxed);
        self.buyers_done.store(0, Ordering::Relaxed);
        self.in_flight.store(0, Ordering::Relaxed);
        self.arrivals.store(0, Ordering::Relaxed);
        self.metrics.connected.set(0);
        self.metrics.in_flight.set(0);
    }

    /// The run's closed buyers (a burst's or a ramp's) and the connections it opens (those
    /// buyers and an open stream's slots): what the terminal's bars count to.
    pub fn set_shape(&self, closed_buyers: u64, connections: u64) {
        self.shape[0].store(closed_buyers, Ordering::Relaxed);
        self.shape[1].store(connections, Ordering::Relaxed);
    }

    pub fn closed_buyers(&self) -> u64 {
        self.shape[0].load(Ordering::Relaxed)
    }

    pub fn connections(&self) -> u64 {
        self.shape[1].load(Ordering::Relaxed)
    }

    pub fn set_phase(&self, phase: Phase) {
        self.metrics.set_phase(phase);
        self.phase.send_replace(phase);
    }

    /// Notes the phase now as the one a stop came in (the first note wins).
    pub fn note_interruption(&self) {
        let _ = self.interrupted_during.set(self.phase());
    }

    pub fn interrupted_during(&self) -> Option<Phase> {
        self.interrupted_during.get().copied()
    }

    /// `(i, of)`: the repetition under way.
    pub fn repetition(&self) -> (u64, u64) {
        (self.repetition[0].load(Ordering::Relaxed), self.repetition[1].load(Ordering::Relaxed))
    }

    /// A receiver told of each change of phase.
    pub fn watch_phase(&self) -> tokio::sync::watch::Receiver<Phase> {
        self.phase.subscribe()
    }

    pub fn phase(&self) -> Phase {
        *self.phase.borrow()
    }

    /// An attempt is being sent.
    pub fn sending(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.metrics.in_flight.inc();
    }

    /// An attempt sent with [`Live::sending`] ended with `outcome` after `latency` (from its
    /// intended send).
    pub fn answered(&self, outcome: Outcome, latency: Duration) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.metrics.in_flight.dec();
        self.record(outcome, Some(latency));
    }

    /// An attempt ended without being sent (`not_sent`), or was counted without a latency.
    pub fn record(&self, outcome: Outcome, latency: Option<Duration>) {
        self.counts[outcome.index()].fetch_add(1, Ordering::Relaxed);
        self.metrics.attempt(outcome, latency);
        if let Some(l) = latency.filter(|_| outcome.was_sent()) {
            let _ = self.latency_us.lock().unwrap_or_else(|p| p.into_inner()).record((l.as_micros() as u64).max(1));
        }
    }

    pub fn connected(&self) {
        self.connected.fetch_add(1, Ordering::Relaxed);
        self.metrics.connected.inc();
    }

    /// What shard processes did since their last report (local shards: the parent's view is
    /// the sum of theirs): buyers connected and done, attempts by outcome (in
    /// `Outcome::ALL` order), and the attempts in flight in all of them now.
    pub fn add_from_shards(&self, connected: u64, done: u64, counts: &[u64], in_flight: u64) {
        self.connected.fetch_add(connected, Ordering::Relaxed);
        self.metrics.connected.inc_by(connected as i64);
        self.buyers_done.fetch_add(done, Ordering::Relaxed);
        for (o, n) in Outcome::ALL.iter().zip(counts) {
            for _ in 0..*n {
                self.record(*o, None);
            }
        }
        self.in_flight.store(in_flight as i64, Ordering::Relaxed);
        self.metrics.in_flight.set(in_flight as i64);
    }

    /// A buyer finished all its attempts.
    /// Attempts that ended with `outcome` so far.
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.counts[outcome.index()].load(Ordering::Relaxed)
    }

    pub fn buyer_done(&self) {
        self.buyers_done.fetch_add(1, Ordering::Relaxed);
    }

    /// An open stream's arrivals: `total` in all.
    pub fn set_arrivals_total(&self, total: u64) {
        self.arrivals_total.store(total, Ordering::Relaxed);
    }

    /// An arrival of the open stream was handed to a slot (or dropped: all slots busy).
    pub fn arrived(&self, dropped: bool) {
        self.arrivals.fetch_add(1, Ordering::Relaxed);
        if dropped {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A stock sample of `product` (an index into the scenario's products).
    pub fn stock_sample(&self, product: usize, stock: i64) {
        if let Some(s) = self.stock.get(product) {
            s.store(stock, Ordering::Relaxed);
        }
        if let Some(id) = self.products.get(product) {
            self.metrics.stock.get_or_create(&vec![("product".to_string(), id.clone())]).set(stock);
        }
    }

    /// The burst's send skew, once known (µs: p50, p99, max).
    pub fn send_skew(&self, p50_us: u64, p99_us: u64, max_us: u64) {
        self.metrics.send_skew(p50_us, p99_us, max_us);
    }

    /// The run ended with `verdict` and `exit_code`.
    pub fn finished(&self, verdict: crate::model::exit::Verdict, exit_code: crate::model::exit::Exit) {
        self.set_phase(Phase::Done);
        self.metrics.finished(verdict, exit_code);
    }

    /// A consistent-enough copy of the counters, for the terminal.
    pub fn snapshot(&self) -> Snapshot {
        let latency = self.latency_us.lock().unwrap_or_else(|p| p.into_inner());
        let quantile = |q: f64| (!latency.is_empty()).then(|| Duration::from_micros(latency.value_at_quantile(q)));
        let phase = self.phase();
        Snapshot {
            phase,
            elapsed: self.started.elapsed(),
            buyers: self.buyers.load(Ordering::Relaxed),
            connected: self.connected.load(Ordering::Relaxed),
            buyers_done: self.buyers_done.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed).max(0) as u64,
            dropped: self.dropped.load(Ordering::Relaxed),
            arrivals: self.arrivals.load(Ordering::Relaxed),
            arrivals_total: self.arrivals_total.load(Ordering::Relaxed),
            counts: Outcome::ALL.map(|o| (o, self.counts[o.index()].load(Ordering::Relaxed))),
            p50: quantile(0.5),
            p99: quantile(0.99),
            stock: self
                .products
                .iter()
                .zip(&self.stock)
                .zip(&self.initial_stock)
                .map(|((p, s), initial)| {
                    let s = s.load(Ordering::Relaxed);
                    (p.clone(), (s != NO_STOCK).then_some(s), *initial)
                })
                .collect(),
        }
    }
}

/// The live figures at one instant.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub phase: Phase,
    pub elapsed: Duration,
    pub buyers: u64,
    pub connected: u64,
    pub buyers_done: u64,
    pub in_flight: u64,
    pub dropped: u64,
    pub arrivals: u64,
    pub arrivals_total: u64,
    pub counts: [(Outcome, u64); Outcome::ALL.len()],
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
    /// Product, latest stock sample, initial stock.
    pub stock: Vec<(String, Option<i64>, u64)>,
}

impl Snapshot {
    pub fn attempts(&self) -> u64 {
        self.counts.iter().map(|(_, n)| n).sum()
    }
}
