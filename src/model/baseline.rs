//! Baselines as data: a regression limit (`latency.won.p99` may grow 20 %), and the comparison
//! with a baseline run as `summary.json` carries it, one row per metric with both values, the
//! change and the limit. Made by `baseline`.

use super::threshold::{Metric, Stat};
use serde::{Deserialize, Serialize};

/// A regression limit: `latency.won.p99` may grow by at most 20 % (throughput: shrink).
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    pub name: String,
    pub metric: Metric,
    pub percent: f64,
}

impl Limit {
    pub fn parse(metric: &str, limit: &str) -> Result<Limit, String> {
        let m: Metric = metric.parse()?;
        if !kept(m) {
            return Err(format!(
                "{metric}: a baseline only holds avg, min, max, p50, p90, p99 and p99.9 (and p50, p99, max of send_skew)"
            ));
        }
        let pct = limit
            .trim()
            .strip_suffix('%')
            .and_then(|p| p.trim().parse::<f64>().ok())
            .filter(|p| *p >= 0.0)
            .ok_or_else(|| format!("{metric}: {limit:?} is not a percentage such as 20%"))?;
        Ok(Limit { name: metric.to_string(), metric: m, percent: pct })
    }

    /// `METRIC=PCT`, as given to `--regression`.
    pub fn parse_arg(arg: &str) -> Result<Limit, String> {
        let (m, l) =
            arg.split_once('=').ok_or_else(|| format!("{arg:?}: write METRIC=PERCENT, e.g. latency.won.p99=20%"))?;
        Limit::parse(m.trim(), l)
    }
}

/// Does a summary keep this metric at all (whatever its value in one run)?
fn kept(m: Metric) -> bool {
    let stat = |st: Stat| matches!(st, Stat::Min | Stat::Max | Stat::Mean) || kept_percentile(st);
    match m {
        Metric::Latency(_, st) | Metric::ServiceTime(_, st) => stat(st),
        Metric::SendSkew(st) => matches!(st, Stat::Max) || matches!(st, Stat::Pct(p) if p == 50.0 || p == 99.0),
        _ => true,
    }
}

fn kept_percentile(st: Stat) -> bool {
    matches!(st, Stat::Pct(p) if [50.0, 90.0, 99.0, 99.9].contains(&p))
}

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
    pub status: LimitStatus,
    pub before_text: String,
    pub now_text: String,
}

/// What one row of a baseline comparison says: `pass`, `fail` (regressed beyond the limit),
/// `info` (no limit) or `n/a` (a side has no value: nothing was compared), in `summary.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum LimitStatus {
    #[serde(rename = "pass")]
    Pass,
    #[serde(rename = "fail")]
    Fail,
    #[serde(rename = "info")]
    Info,
    #[serde(rename = "n/a")]
    NotApplicable,
}

impl LimitStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitStatus::Pass => "pass",
            LimitStatus::Fail => "fail",
            LimitStatus::Info => "info",
            LimitStatus::NotApplicable => "n/a",
        }
    }
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
