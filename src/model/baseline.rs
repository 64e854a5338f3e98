//! The comparison with a baseline run as `summary.json` carries it: one row per metric, with
//! both values, the change and the limit. Made by `crate::baseline`.

use serde::{Deserialize, Serialize};

/// One row of the comparison table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub metric: String,
    /// The baseline's value; `null` when it has none (e.g. no sold_out answer to time).
    pub before: Option<f64>,
    /// This run's value; `null` when it has none.
    pub now: Option<f64>,
    /// Change in percent, positive when the value grew; `null` when either side is missing.
    pub change_percent: Option<f64>,
    /// The limit in percent, when the metric has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_percent: Option<f64>,
    /// `pass`, `fail` (regressed beyond the limit), `info` (no limit) or `n/a` (a side has
    /// no value: nothing was compared).
    pub status: String,
    pub before_text: String,
    pub now_text: String,
}

impl Comparison {
    /// `+30.0%`, or `n/a`.
    pub fn change_text(&self) -> String {
        self.change_percent.map_or_else(|| "n/a".to_string(), |c| format!("{c:+.1}%"))
    }
}

/// The comparison with a baseline, in `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineReport {
    pub file: String,
    pub rows: Vec<Comparison>,
    /// Each side's values are medians over this many repetitions (1: the run's own values).
    #[serde(default = "one")]
    pub before_repetitions: usize,
    #[serde(default = "one")]
    pub now_repetitions: usize,
}

fn one() -> usize {
    1
}

impl BaselineReport {
    /// What the values are: `medians over 3 repetitions (baseline: 3)`, or empty.
    pub fn basis(&self) -> String {
        match (self.before_repetitions, self.now_repetitions) {
            (1, 1) => String::new(),
            (b, n) => format!("medians over the repetitions (baseline: {b}, now: {n})"),
        }
    }
}
