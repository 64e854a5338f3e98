//! The ledger: one record per order attempt, on one monotonic clock (µs since the run's
//! epoch), plus the stock the harness observed while the sale ran.

use super::Outcome;
use serde::{Deserialize, Serialize};

/// One order attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// Which repetition of the scenario (1 unless `--repeat`); each has its own clock,
    /// buyers and store.
    #[serde(default = "first")]
    pub repetition: u32,
    pub buyer: u32,
    /// Index into [`Ledger::products`].
    pub product: u32,
    /// Server instance the buyer talked to.
    pub instance: u32,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// When the attempt was meant to start (release, ramp slot, or end of backoff).
    pub intended_us: u64,
    pub sent_us: u64,
    pub done_us: u64,
    /// HTTP status; 0 when there was no answer.
    pub status: u16,
    pub outcome: Outcome,
    /// For `error` and `timeout`: what ground truth says the attempt did.
    #[serde(default)]
    pub resolved: Option<Resolution>,
    /// Empty in `ledger.csv` when there is none (every row has every column).
    #[serde(default)]
    pub order_id: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    /// When an `accepted` (queued) answer came, µs since the epoch: latency to the queue is
    /// `accepted_us − sent_us`, to the final status `done_us − sent_us`. Empty otherwise.
    #[serde(default)]
    pub accepted_us: Option<u64>,
    /// Which shard's process made the attempt (0 for a run in one process; see
    /// `shard`). Last in `ledger.csv`, and 0 when an older file has no such column.
    #[serde(default)]
    pub shard: u32,
    /// Which of its buyer's concurrent sessions made it (`buyers.sessions`; 0 for the first).
    /// After `shard` in `ledger.csv`, and 0 when an older file has no such column.
    #[serde(default)]
    pub session: u32,
}

fn first() -> u32 {
    1
}

impl Attempt {
    /// Latency as the buyer lives it: from the instant the attempt was meant to start (its
    /// arrival slot, the release of a burst, the end of its backoff) to its answer. A sender
    /// held up by anything (a slow gate, a busy client, a server that lets connections wait)
    /// shows here: no coordinated omission.
    pub fn latency_us(&self) -> u64 {
        self.done_us.saturating_sub(self.intended_us.min(self.sent_us))
    }

    /// Service time: from the request leaving to its answer, what the server alone took.
    pub fn service_time_us(&self) -> u64 {
        self.done_us.saturating_sub(self.sent_us)
    }

    /// For a queued order: from the send to the `accepted` answer.
    pub fn accept_latency_us(&self) -> Option<u64> {
        self.accepted_us.map(|at| at.saturating_sub(self.sent_us))
    }
}

/// A product's stock as the harness read it from the API during the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockSample {
    #[serde(default = "first")]
    pub repetition: u32,
    pub t_us: u64,
    pub product: u32,
    pub instance: u32,
    pub stock: i64,
}

/// Everything the harness saw.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ledger {
    /// Product ids, indexed by `Attempt::product`.
    pub products: Vec<String>,
    pub buyers: u32,
    pub attempts: Vec<Attempt>,
    pub stock_samples: Vec<StockSample>,
    /// When a burst was released (µs since epoch).
    pub release_us: Option<u64>,
    /// Buyers that could not open a connection before the release.
    pub connect_failures: u32,
    /// Buyers that had not connected when the burst was released anyway.
    pub late_buyers: u32,
    /// Set when the run reached its deadline before every buyer was done.
    #[serde(default)]
    pub overrun: Option<Overrun>,
    /// Prepared connections the server closed before the release (reopened and prepared again).
    #[serde(default)]
    pub reconnected: u32,
    /// Prepared requests the server answered before their last byte was sent (its own request
    /// timeout): those answers answer no order; the request was prepared or sent again.
    #[serde(default)]
    pub early_answers: u32,
    /// Arrivals of the open stream that found every slot busy (k6's dropped_iterations).
    #[serde(default)]
    pub dropped: Vec<Dropped>,
    /// Buyers the open stream brought, dropped ones included (every repetition).
    #[serde(default)]
    pub arrivals: u64,
    /// When the open stream started (µs since epoch), if the run has one.
    #[serde(default)]
    pub stream_start_us: Option<u64>,
    /// The ledger's epoch on the machine's clocks, so parts written by several processes
    /// can be put on one clock (`shard::merge`).
    #[serde(default)]
    pub epoch: Option<Epoch>,
    /// With a release given from outside (a shard): how late this process's gate started
    /// writing after the common release instant, µs.
    #[serde(default)]
    pub release_late_us: Option<u64>,
}

/// A ledger's epoch (its 0 µs) read on the machine's two clocks at the same moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Epoch {
    /// Wall clock, µs since 1970 (comparable across machines as far as their clocks agree).
    pub unix_us: u64,
    /// `CLOCK_MONOTONIC`, µs (comparable between processes of one machine since its boot).
    pub mono_us: u64,
}

/// An arrival of the open stream that found every slot busy: its buyer never sent anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropped {
    #[serde(default = "first")]
    pub repetition: u32,
    pub buyer: u32,
    pub product: u32,
    /// Its arrival instant, µs since the epoch.
    pub intended_us: u64,
}

/// What the run's deadline cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overrun {
    pub deadline_ms: u64,
    /// Attempts in flight at the deadline (recorded as `timeout`) and buyers stopped before
    /// their next attempt.
    pub cut_attempts: u32,
    /// Buyers still at work when the harness stopped waiting (0 unless goose itself hung).
    pub unfinished_buyers: u32,
}

impl Ledger {
    pub fn count(&self, outcome: Outcome) -> u64 {
        self.attempts.iter().filter(|a| a.outcome == outcome).count() as u64
    }

    pub fn indeterminate(&self) -> u64 {
        self.attempts.iter().filter(|a| a.outcome.is_indeterminate()).count() as u64
    }

    /// Marks every attempt and sample as repetition `k`.
    pub fn set_repetition(&mut self, k: u32) {
        self.attempts.iter_mut().for_each(|a| a.repetition = k);
        self.stock_samples.iter_mut().for_each(|s| s.repetition = k);
        self.dropped.iter_mut().for_each(|d| d.repetition = k);
    }

    /// Repetitions in this ledger (1 for a single run).
    pub fn repetitions(&self) -> u32 {
        self.attempts.iter().map(|a| a.repetition).max().unwrap_or(1)
    }

    /// Buyers of the stream that arrived but were dropped, sorted.
    pub fn dropped_buyers(&self) -> Vec<u32> {
        let mut b: Vec<u32> = self.dropped.iter().map(|d| d.buyer).collect();
        b.sort_unstable();
        b.dedup();
        b
    }

    /// The attempts and samples of repetition `k` alone (their own clock, buyers and store);
    /// the rest as in this ledger.
    pub fn repetition(&self, k: u32) -> Ledger {
        Ledger {
            products: self.products.clone(),
            buyers: self.buyers,
            attempts: self.attempts.iter().filter(|a| a.repetition == k).cloned().collect(),
            stock_samples: self.stock_samples.iter().filter(|s| s.repetition == k).cloned().collect(),
            release_us: self.release_us,
            connect_failures: self.connect_failures,
            late_buyers: self.late_buyers,
            overrun: self.overrun,
            reconnected: self.reconnected,
            early_answers: self.early_answers,
            dropped: self.dropped.iter().filter(|d| d.repetition == k).cloned().collect(),
            stream_start_us: self.stream_start_us,
            arrivals: self.arrivals / u64::from(self.repetitions().max(1)),
            epoch: self.epoch,
            release_late_us: self.release_late_us,
        }
    }
}

/// What an indeterminate attempt turned out to have done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    TookEffect,
    NoEffect,
    Unknown,
}

impl Resolution {
    pub fn name(self) -> &'static str {
        match self {
            Resolution::TookEffect => "took_effect",
            Resolution::NoEffect => "no_effect",
            Resolution::Unknown => "unknown",
        }
    }
}
