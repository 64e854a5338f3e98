//! The figures of a run as `summary.json` carries them: latency and send-skew percentiles,
//! queued orders, error messages, indeterminate attempts and what they did, fairness, memory.
//! Computed by `stats`, `resolve`, `fairness` and `resources`.

use super::{Ledger, Outcome, Resolution};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Percentiles of one distribution, in µs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub min: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

/// Send skew percentiles, in µs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SkewSummary {
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

/// Queued orders: the attempts answered `accepted`, what their polled status made of them, and
/// latency both to the accepted answer and to the end (the final status, or giving up).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Queued {
    /// Attempts answered `accepted`.
    pub accepted: u64,
    /// Their outcomes at the end: a final status's, or `accepted` when none came.
    pub outcomes: BTreeMap<String, u64>,
    /// The ones left `accepted`, settled by ground truth.
    pub unsettled: Indeterminate,
    pub to_accepted_us: LatencySummary,
    pub to_final_us: LatencySummary,
}

impl Queued {
    /// "1500 orders queued (202): 5 won, 1495 sold_out by their status; p50 1.2 ms to the
    /// queue, 340 ms to the final status"
    pub fn line(&self) -> String {
        let ends: Vec<String> =
            self.outcomes.iter().filter(|(o, _)| o.as_str() != "accepted").map(|(o, n)| format!("{n} {o}")).collect();
        let settled = match ends.is_empty() {
            true => String::new(),
            false => format!(" {} by their status;", ends.join(", ")),
        };
        let left = match self.unsettled.total {
            0 => String::new(),
            n => format!(
                " {n} without a final status, settled by truth ({} took effect, {} no effect, {} unknown);",
                self.unsettled.took_effect, self.unsettled.no_effect, self.unsettled.unknown
            ),
        };
        let ms = |us: u64| format!("{:.1} ms", us as f64 / 1000.0);
        format!(
            "{} orders queued (accepted):{settled}{left} p50 {} to accepted, {} to the end (p99 {} and {})",
            self.accepted,
            ms(self.to_accepted_us.p50),
            ms(self.to_final_us.p50),
            ms(self.to_accepted_us.p99),
            ms(self.to_final_us.p99)
        )
    }
}

/// One error message and how many attempts ended with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCount {
    pub message: String,
    pub count: u64,
}

/// The indeterminate attempts of a run and what became of them (`summary.json`
/// `indeterminate`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indeterminate {
    pub total: u64,
    pub took_effect: u64,
    pub no_effect: u64,
    pub unknown: u64,
}

impl Indeterminate {
    /// Counts the resolutions of the indeterminate attempts recorded in `ledger`.
    pub fn of(ledger: &Ledger) -> Indeterminate {
        Indeterminate::among(ledger, Outcome::is_indeterminate)
    }

    /// Counts the resolutions of the attempts left `accepted` (no final status).
    pub fn of_accepted(ledger: &Ledger) -> Indeterminate {
        Indeterminate::among(ledger, |o| o == Outcome::Accepted)
    }

    fn among(ledger: &Ledger, which: impl Fn(Outcome) -> bool) -> Indeterminate {
        let mut out = Indeterminate::default();
        for a in ledger.attempts.iter().filter(|a| which(a.outcome)) {
            out.total += 1;
            match a.resolved {
                Some(Resolution::TookEffect) => out.took_effect += 1,
                Some(Resolution::NoEffect) => out.no_effect += 1,
                Some(Resolution::Unknown) | None => out.unknown += 1,
            }
        }
        out
    }

    /// One line on what the indeterminate attempts (`errors` and `timeouts` of them) did,
    /// e.g. "890 errors, all resolved: no effect"; `None` when there were none.
    pub fn line(&self, errors: u64, timeouts: u64) -> Option<String> {
        if self.total == 0 {
            return None;
        }
        let what = match (errors, timeouts) {
            (e, 0) => plural(e, "error"),
            (0, t) => plural(t, "timeout"),
            (e, t) => format!("{} and {}", plural(e, "error"), plural(t, "timeout")),
        };
        let parts: Vec<String> =
            [(self.no_effect, "no effect"), (self.took_effect, "took effect"), (self.unknown, "unknown")]
                .iter()
                .filter(|(n, _)| *n > 0)
                .map(|(n, name)| format!("{n} {name}"))
                .collect();
        Some(if parts.len() == 1 {
            let name = [(self.no_effect, "no effect"), (self.took_effect, "took effect"), (self.unknown, "unknown")]
                .iter()
                .find(|(n, _)| *n > 0)
                .map_or("", |(_, name)| *name);
            format!("{what}, all resolved: {name}")
        } else {
            format!("{what} resolved: {}", parts.join(", "))
        })
    }
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// `summary.json` `fairness`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fairness {
    /// Refused buyers whose refusal came before a later buyer's winning request was sent.
    pub inversions: u64,
    /// The highest arrival rank among the winners (0 when nobody won).
    pub worst_rank_of_a_winner: u64,
}

/// Memory before the load and at its peak, for one side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Side {
    /// Resident set when the load began (buyers not yet connected).
    pub before_load_bytes: u64,
    /// Highest resident set reached (the kernel's high-water mark).
    pub peak_bytes: u64,
}

impl Side {
    /// Sums sides (several server processes).
    pub fn plus(self, other: Side) -> Side {
        Side {
            before_load_bytes: self.before_load_bytes + other.before_load_bytes,
            peak_bytes: self.peak_bytes + other.peak_bytes,
        }
    }

    /// What the load added, per connection.
    pub fn per_connection(self, connections: u64) -> Option<f64> {
        (connections > 0).then(|| self.peak_bytes.saturating_sub(self.before_load_bytes) as f64 / connections as f64)
    }
}

/// `summary.json`'s `resources`: the memory a run took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// Buyer connections the load opened (buyers, and an open stream's slots).
    pub connections: u64,
    /// flashbench's own process (the harness; the server too when it runs in-process).
    pub flashbench: Side,
    /// The reference server's child processes together (absent in-process or for `http`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers: Option<Side>,
    /// flashbench's peak minus its size before the load, per connection: the client side
    /// (and the server side too when the server runs in-process).
    pub flashbench_bytes_per_connection: Option<f64>,
    /// The same for the child servers: the server side of each connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_bytes_per_connection: Option<f64>,
}

impl Resources {
    pub fn new(connections: u64, flashbench: Side, servers: Option<Side>) -> Self {
        Resources {
            connections,
            flashbench,
            servers,
            flashbench_bytes_per_connection: flashbench.per_connection(connections),
            server_bytes_per_connection: servers.and_then(|s| s.per_connection(connections)),
        }
    }
}
