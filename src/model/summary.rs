//! `summary.json`: the public record of one run. Fields are documented in the README; add
//! fields freely, but rename or remove one only together with the docs.

use super::baseline::BaselineReport;
use super::check::{Check, Invariant, Kind, Liveness, Status};
use super::exit::{Exit, Verdict};
use super::fault::FaultRecord;
use super::threshold::ThresholdResult;
use super::verdict::{Interruption, OutcomeCheck};
use super::{
    ErrorCount, Fairness, Indeterminate, LatencySummary, Overrun, Queued, Resources, ShardSummary, SkewSummary,
    TruthReading,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub flashbench_version: String,
    pub scenario: String,
    pub description: String,
    pub scenario_file: String,
    /// `pass`, `fail`, or `interrupted` (Ctrl-C or SIGTERM: a partial run, exit 130 or 143).
    pub verdict: Verdict,
    pub exit_code: Exit,
    /// Why the run did not pass; empty on a pass.
    pub reasons: Vec<String>,
    /// What stopped the run, when the environment failed (exit 4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub started_at: String,
    pub target: TargetInfo,
    pub buyers: u32,
    pub attempts: u64,
    pub products: Vec<ProductSummary>,
    /// Every outcome class, with its count.
    pub outcomes: BTreeMap<String, u64>,
    /// The `error` and `timeout` attempts, resolved against ground truth.
    #[serde(default)]
    pub indeterminate: Indeterminate,
    /// Queued orders (`accepted` answers), when there were any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued: Option<Queued>,
    /// How ground truth was read (absent when it could not be).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truth: Option<TruthReading>,
    pub expected_outcomes: Vec<OutcomeCheck>,
    pub invariants: Vec<InvariantSummary>,
    /// `all` and every outcome class: from each attempt's intended start to its answer.
    pub latency_us: BTreeMap<String, LatencySummary>,
    /// The same from the request leaving to its answer (what the server alone took).
    #[serde(default)]
    pub service_time_us: BTreeMap<String, LatencySummary>,
    pub throughput_rps: f64,
    /// From the start of the run (connecting included) to the end of the load.
    pub duration_ms: u64,
    /// From the first send to the last answer.
    pub load_ms: u64,
    pub send_skew_us: SkewSummary,
    pub connect_failures: u32,
    pub late_buyers: u32,
    /// Set when the run reached its deadline before every buyer was done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrun: Option<Overrun>,
    /// Prepared connections the server closed before the release, reopened and prepared again.
    #[serde(default)]
    pub reconnected: u32,
    /// Prepared requests answered before their last byte was sent; no such answer is an
    /// order's answer.
    #[serde(default)]
    pub early_answers: u32,
    /// The most frequent messages of `error`, `timeout` and `not_sent` attempts.
    #[serde(default)]
    pub top_errors: Vec<ErrorCount>,
    /// When the burst was released (µs on the ledger's clock); absent for a ramp.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_us: Option<u64>,
    /// Width of one row of `timeseries.csv` and of the over-time charts, ms.
    #[serde(default = "default_interval_ms")]
    pub timeseries_interval_ms: u64,
    /// First come, first served? FCFS inversions and the worst arrival rank of a winner.
    #[serde(default)]
    pub fairness: Fairness,
    /// The open stream (`mode: rate`, or a burst's `background`), when the run has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamSummary>,
    #[serde(default)]
    pub environment: Environment,
    /// Every threshold of the scenario with its observed value.
    #[serde(default)]
    pub thresholds: Vec<ThresholdResult>,
    /// With `--repeat`: each repetition's verdict.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repetitions: Vec<Repetition>,
    /// With `--repeat`: the repetition whose evidence, truth and charts are shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shown_repetition: Option<u32>,
    /// With `--repeat`: per invariant, the share of repetitions that violated it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub violation_rate: BTreeMap<String, f64>,
    /// With `--baseline`: the comparison table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineReport>,
    /// Memory before the load and at its peak, of flashbench and of the child servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Set when Ctrl-C or SIGTERM stopped the run: what was cut, and when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<Interruption>,
    /// A burst driven by several processes (local shards, or `--shard` parts merged): each
    /// shard's slice of buyers, its lateness at the release, its send skew and its clock.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardSummary>,
    /// The scenario's faults as they happened: kind, what they acted on, start and end (µs
    /// since the Unix epoch, as the ledger's) and what the load saw while they lasted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultRecord>,
}

/// Width of one row of `timeseries.csv` and of the over-time charts unless a scenario says.
pub const DEFAULT_INTERVAL_MS: u64 = 100;

fn default_interval_ms() -> u64 {
    DEFAULT_INTERVAL_MS
}

/// What became of an open stream's arrivals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamSummary {
    /// Buyers the stream brought (its rate over its duration), dropped ones included.
    pub arrivals: u64,
    /// Arrivals that found every slot busy and never sent anything (k6's dropped_iterations).
    pub dropped: u64,
    /// `dropped / arrivals`.
    pub dropped_rate: f64,
    /// The stream's slots (`max_in_flight`).
    pub max_in_flight: u32,
    /// The most order requests in flight at once, over the whole run.
    pub peak_in_flight: u64,
    /// When the stream started, µs on the ledger's clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_us: Option<u64>,
}

/// One repetition of a repeated race, with its own ground truth and counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Repetition {
    pub index: u32,
    pub verdict: Verdict,
    pub exit_code: Exit,
    /// Invariants violated (not expected) in this repetition.
    pub violated: Vec<String>,
    pub orders: u64,
    pub reason: Option<String>,
    /// This repetition's stock and orders, from its own store.
    #[serde(default)]
    pub products: Vec<ProductSummary>,
    #[serde(default)]
    pub outcomes: BTreeMap<String, u64>,
    #[serde(default)]
    pub indeterminate: Indeterminate,
    /// This repetition's own figures, for regression limits compared as medians.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<RepetitionMetrics>,
}

/// One repetition's figures (the run's are merged across repetitions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepetitionMetrics {
    pub attempts: u64,
    pub latency_us: BTreeMap<String, LatencySummary>,
    #[serde(default)]
    pub service_time_us: BTreeMap<String, LatencySummary>,
    pub throughput_rps: f64,
    pub send_skew_us: SkewSummary,
    #[serde(default)]
    pub fairness: Fairness,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamSummary>,
}

impl RepetitionMetrics {
    pub fn of(s: &Summary) -> Self {
        RepetitionMetrics {
            attempts: s.attempts,
            latency_us: s.latency_us.clone(),
            service_time_us: s.service_time_us.clone(),
            throughput_rps: s.throughput_rps,
            send_skew_us: s.send_skew_us,
            fairness: s.fairness,
            stream: s.stream.clone(),
        }
    }
}

impl Repetition {
    /// The run's summary as this repetition alone saw it (its figures and outcomes).
    pub fn view(&self, run: &Summary) -> Summary {
        let mut s = Summary::empty();
        s.outcomes = self.outcomes.clone();
        if let Some(m) = &self.metrics {
            s.attempts = m.attempts;
            s.latency_us = m.latency_us.clone();
            s.service_time_us = m.service_time_us.clone();
            s.throughput_rps = m.throughput_rps;
            s.send_skew_us = m.send_skew_us;
            s.fairness = m.fairness;
            s.stream = m.stream.clone();
        } else {
            s = run.clone();
        }
        s
    }
}

/// Where the run ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    pub cores: usize,
    pub os: String,
    /// The CPU's model name (`/proc/cpuinfo`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Total memory in bytes (`/proc/meminfo`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// The flashbench that ran (also at the summary's top level).
    #[serde(default)]
    pub flashbench_version: String,
    /// `git rev-parse --short HEAD` in the working directory, when it is a git checkout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_revision: Option<String>,
}

impl Environment {
    /// One line: `flashbench 0.1.0 (git 1a2b3c4) · linux x86_64 · 2 cores (Intel Xeon …) · 24.0 GiB`.
    pub fn line(&self) -> String {
        let mut parts = vec![match &self.git_revision {
            Some(rev) => format!("flashbench {} (git {rev})", self.flashbench_version),
            None => format!("flashbench {}", self.flashbench_version),
        }];
        parts.push(self.machine_line());
        parts.join(" · ")
    }

    /// The machine alone: `linux x86_64, 2 cores (Intel Xeon …), 24.0 GiB memory`.
    pub fn machine_line(&self) -> String {
        let mut parts = vec![self.os.clone()];
        let cores = format!("{} core{}", self.cores, if self.cores == 1 { "" } else { "s" });
        parts.push(match &self.cpu {
            Some(cpu) => format!("{cores} ({cpu})"),
            None => cores,
        });
        if let Some(b) = self.memory_bytes {
            parts.push(format!("{:.1} GiB memory", b as f64 / (1u64 << 30) as f64));
        }
        parts.join(", ")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub kind: String,
    pub backend: String,
    pub strategy: String,
    pub instances: u32,
    pub placement: String,
    pub rate_limit: String,
    /// Where the data lived (the SQLite file, the PostgreSQL schema, the Redis key prefix),
    /// or, for an `http` target, where truth came from.
    pub store: String,
    /// `http` targets: the base URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Whether the target still answered once the load was over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_run: Option<Liveness>,
    /// The store server's name and version (`PostgreSQL 15.19`, `Redis 7.0.15`, `SQLite 3.46.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_version: Option<String>,
    /// The local addresses buyers' connections were bound to (absent: the kernel chose).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_addresses: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductSummary {
    pub id: String,
    pub initial_stock: u64,
    /// `null` when the store could not be read.
    pub final_stock: Option<i64>,
    /// `null` when the store could not be read or keeps no order records.
    pub orders: Option<u64>,
    pub units_ordered: u64,
    /// Units the buyers on this product could lawfully get: buyers × min(wants, limit) × quantity.
    #[serde(default)]
    pub eligible_demand: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvariantSummary {
    pub name: Invariant,
    /// `safety` or `liveness` (older summaries have none: taken from the name).
    #[serde(default = "safety")]
    pub kind: Kind,
    pub status: Status,
    /// The scenario expects this invariant to be violated (a self-test).
    pub expected_violation: bool,
    pub detail: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counts: BTreeMap<String, i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
}

impl ProductSummary {
    /// Orders stored, or `?` when unknown.
    pub fn orders_text(&self) -> String {
        self.orders.map_or("?".into(), |n| n.to_string())
    }

    /// Final stock, or `?` when unknown.
    pub fn final_text(&self) -> String {
        self.final_stock.map_or("?".into(), |f| f.to_string())
    }
}

fn safety() -> Kind {
    Kind::Safety
}

impl InvariantSummary {
    pub fn from_check(c: &Check, expected_violation: bool) -> Self {
        InvariantSummary {
            name: c.name,
            kind: c.name.kind(),
            status: c.status,
            expected_violation,
            detail: c.detail.clone(),
            counts: c.counts.clone(),
            examples: c.examples.clone(),
        }
    }
}

impl Summary {
    /// A summary of nothing, to build on (tests, metric checks).
    pub fn empty() -> Summary {
        Summary {
            flashbench_version: env!("CARGO_PKG_VERSION").into(),
            scenario: String::new(),
            description: String::new(),
            scenario_file: String::new(),
            verdict: Verdict::Pass,
            exit_code: Exit::Pass,
            reasons: Vec::new(),
            error: None,
            started_at: String::new(),
            target: TargetInfo {
                kind: String::new(),
                backend: String::new(),
                strategy: String::new(),
                instances: 0,
                placement: String::new(),
                rate_limit: String::new(),
                store: String::new(),
                urls: Vec::new(),
                after_run: None,
                store_version: None,
                source_addresses: Vec::new(),
            },
            buyers: 0,
            attempts: 0,
            products: Vec::new(),
            outcomes: BTreeMap::new(),
            indeterminate: Indeterminate::default(),
            queued: None,
            truth: None,
            expected_outcomes: Vec::new(),
            invariants: Vec::new(),
            latency_us: BTreeMap::new(),
            service_time_us: BTreeMap::new(),
            throughput_rps: 0.0,
            duration_ms: 0,
            load_ms: 0,
            send_skew_us: SkewSummary::default(),
            connect_failures: 0,
            late_buyers: 0,
            overrun: None,
            reconnected: 0,
            early_answers: 0,
            top_errors: Vec::new(),
            release_us: None,
            stream: None,
            fairness: Default::default(),
            timeseries_interval_ms: default_interval_ms(),
            environment: Environment::default(),
            thresholds: Vec::new(),
            repetitions: Vec::new(),
            shown_repetition: None,
            violation_rate: BTreeMap::new(),
            baseline: None,
            resources: None,
            interrupted: None,
            shards: Vec::new(),
            faults: Vec::new(),
        }
    }

    pub fn passed(&self) -> bool {
        self.exit_code == Exit::Pass
    }

    /// One line: why it failed, or what it proved.
    pub fn headline(&self) -> String {
        if let Some(reason) = self.reasons.first() {
            return reason.clone();
        }
        let caught: Vec<&str> = self
            .invariants
            .iter()
            .filter(|i| i.expected_violation && i.status == Status::Fail)
            .map(|i| i.name.name())
            .collect();
        let held = if caught.is_empty() {
            self.invariants_line()
        } else {
            format!("caught the expected violation of {}", caught.join(", "))
        };
        let unresponsive = (self.target.after_run == Some(Liveness::Unresponsive))
            .then(|| "the target did not answer after the load".to_string());
        let queued = self.queued.as_ref().map(Queued::line);
        [Some(held), self.indeterminate_line(), queued, self.not_sent_line(), unresponsive]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// "all 10 invariants held", or what held, what could not be checked and what was not
    /// selected: a pass never hides what it did not prove.
    pub fn invariants_line(&self) -> String {
        let of = |st: Status| self.invariants.iter().filter(move |i| i.status == st && !i.expected_violation);
        let unselected = |i: &&InvariantSummary| i.detail.starts_with("not selected");
        let held = of(Status::Pass).count();
        let open: Vec<&str> = of(Status::NotApplicable).filter(|i| !unselected(i)).map(|i| i.name.name()).collect();
        let skipped = of(Status::NotApplicable).filter(unselected).count();
        let tolerated: Vec<&str> = of(Status::Fail).map(|i| i.name.name()).collect();
        if open.is_empty() && skipped == 0 && tolerated.is_empty() {
            return format!("all {held} invariants held");
        }
        let mut line = format!("{held} of {} invariants held", self.invariants.len());
        if !tolerated.is_empty() {
            line.push_str(&format!(", {} violated as expect.may_also_violate allows", tolerated.join(", ")));
        }
        if !open.is_empty() {
            line.push_str(&format!(", {} could not be checked ({})", open.len(), open.join(", ")));
        }
        if skipped > 0 {
            line.push_str(&format!(", {skipped} not selected by expect.invariants"));
        }
        line
    }

    /// How many requests never left, in one line: they take no part in any invariant.
    pub fn not_sent_line(&self) -> Option<String> {
        let n = self.outcomes.get("not_sent").copied().filter(|&n| n > 0)?;
        Some(format!("{n} of {} requests never sent (no connection), so not part of any invariant", self.attempts))
    }

    /// What the run's `error` and `timeout` attempts turned out to do, in one line.
    pub fn indeterminate_line(&self) -> Option<String> {
        let count = |o: &str| self.outcomes.get(o).copied().unwrap_or(0);
        self.indeterminate.line(count("error"), count("timeout"))
    }
}
