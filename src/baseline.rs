//! Baselines: compare a run with a previous run's (or suite's) `summary.json`, metric by
//! metric, and fail (exit 3) where it regressed beyond a limit (`regression:` in the scenario,
//! or `--regression` on the command line). `--save-baseline` writes the file the next run
//! compares with.

use crate::model::baseline::Limit;
use crate::model::baseline::LimitStatus;
use crate::model::threshold::{Metric, Stat};
use crate::model::{BaselineReport, Comparison, Summary};
use serde::Deserialize;
use std::path::Path;

/// A metric's value in a summary, when the summary holds it: `None` when it has none to give
/// (latency of an outcome that never happened, a statistic it does not keep), never a 0 that
/// would read as a −100 % change.
pub fn value(s: &Summary, m: Metric) -> Option<f64> {
    let from = |map: &std::collections::BTreeMap<String, crate::model::LatencySummary>, key: &str, st: Stat| {
        let l = map.get(key).copied().filter(|l| l.count > 0)?;
        match st {
            Stat::Min => Some(l.min as f64),
            Stat::Max => Some(l.max as f64),
            Stat::Mean => Some(l.mean),
            Stat::Pct(50.0) => Some(l.p50 as f64),
            Stat::Pct(90.0) => Some(l.p90 as f64),
            Stat::Pct(99.0) => Some(l.p99 as f64),
            Stat::Pct(99.9) => Some(l.p999 as f64),
            Stat::Pct(_) => None,
        }
    };
    match m {
        Metric::Latency(o, st) => from(&s.latency_us, o.map_or("all", |o| o.name()), st),
        // Summaries written before service time was kept have none: no comparison then.
        Metric::ServiceTime(_, _) if s.service_time_us.is_empty() => None,
        Metric::ServiceTime(o, st) => from(&s.service_time_us, o.map_or("all", |o| o.name()), st),
        Metric::Count(None) => Some(s.attempts as f64),
        Metric::Count(Some(o)) => Some(s.outcomes.get(o.name()).copied().unwrap_or(0) as f64),
        Metric::Rate(o) => Some(if s.attempts == 0 {
            0.0
        } else {
            s.outcomes.get(o.name()).copied().unwrap_or(0) as f64 / s.attempts as f64
        }),
        Metric::Throughput => Some(s.throughput_rps),
        Metric::SendSkew(Stat::Pct(50.0)) => Some(s.send_skew_us.p50 as f64),
        Metric::SendSkew(Stat::Pct(99.0)) => Some(s.send_skew_us.p99 as f64),
        Metric::SendSkew(Stat::Max) => Some(s.send_skew_us.max as f64),
        Metric::SendSkew(_) => None,
        Metric::Dropped => Some(s.stream.as_ref().map_or(0, |st| st.dropped) as f64),
        Metric::DroppedRate => Some(s.stream.as_ref().map_or(0.0, |st| st.dropped_rate)),
        Metric::Inversions => Some(s.fairness.inversions as f64),
        Metric::WorstWinnerRank => Some(s.fairness.worst_rank_of_a_winner as f64),
    }
}

/// The value compared for a run: with several repetitions, the median of the repetitions'
/// values (one slow repetition on a noisy runner does not move it); otherwise the run's own.
/// Returns the value and how many repetitions it is the median of (1 for a single run).
pub fn compared_value(s: &Summary, m: Metric) -> Option<(f64, usize)> {
    let per_rep: Vec<f64> =
        s.repetitions.iter().filter(|r| r.metrics.is_some()).filter_map(|r| value(&r.view(s), m)).collect();
    if s.repetitions.len() > 1 && per_rep.len() == s.repetitions.len() {
        return Some((median(per_rep), s.repetitions.len()));
    }
    value(s, m).map(|v| (v, 1))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Metrics always shown, limit or not.
const SHOWN: [&str; 5] = ["latency.all.p99", "latency.won.p99", "latency.sold_out.p99", "throughput", "send_skew.p99"];

pub fn compare(file: &str, before: &Summary, now: &Summary, limits: &[Limit]) -> BaselineReport {
    let mut names: Vec<String> = limits.iter().map(|l| l.name.clone()).collect();
    for n in SHOWN {
        if !names.iter().any(|x| x == n) {
            names.push(n.to_string());
        }
    }
    let (mut before_reps, mut now_reps) = (1, 1);
    let rows = names
        .iter()
        .filter_map(|name| {
            let m: Metric = name.parse().ok()?;
            let b = compared_value(before, m);
            let n = compared_value(now, m);
            before_reps = before_reps.max(b.map_or(1, |x| x.1));
            now_reps = now_reps.max(n.map_or(1, |x| x.1));
            let (b, n) = (b.map(|x| x.0), n.map(|x| x.0));
            let limit = limits.iter().find(|l| &l.name == name).map(|l| l.percent);
            let change = match (b, n) {
                (Some(b), Some(n)) if b == 0.0 && n == 0.0 => Some(0.0),
                // From nothing to something: no percentage says how much worse.
                (Some(0.0), Some(n)) => Some(if n > 0.0 { 100.0 } else { -100.0 }),
                (Some(b), Some(n)) => Some((n - b) / b * 100.0),
                _ => None,
            };
            let status = match (change, limit) {
                (None, _) => LimitStatus::NotApplicable,
                (Some(c), Some(l)) if (if m.higher_is_worse() { c } else { -c }) > l => LimitStatus::Fail,
                (Some(_), Some(_)) => LimitStatus::Pass,
                (Some(_), None) => LimitStatus::Info,
            };
            let text = |v: Option<f64>| v.map_or_else(|| "n/a".to_string(), |v| m.show(v));
            Some(Comparison {
                metric: name.clone(),
                before: b,
                now: n,
                change_percent: change.map(|c| (c * 10.0).round() / 10.0),
                limit_percent: limit,
                status,
                before_text: text(b),
                now_text: text(n),
            })
        })
        .collect();
    BaselineReport { file: file.to_string(), rows, before_repetitions: before_reps, now_repetitions: now_reps }
}

/// A baseline file: one run's `summary.json`, or a suite's (with `scenarios[]`).
#[derive(Debug, Clone)]
pub struct Baseline {
    pub file: String,
    pub runs: Vec<Summary>,
}

#[derive(Deserialize)]
struct SuiteFile {
    scenarios: Vec<Summary>,
}

impl Baseline {
    pub fn load(path: &Path) -> Result<Baseline, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let runs = match serde_json::from_str::<Summary>(&text) {
            Ok(s) => vec![s],
            Err(single) => match serde_json::from_str::<SuiteFile>(&text) {
                Ok(suite) => suite.scenarios,
                Err(_) => return Err(format!("{}: not a flashbench summary.json ({single})", path.display())),
            },
        };
        Ok(Baseline { file: path.display().to_string(), runs })
    }

    pub fn run(&self, scenario: &str) -> Option<&Summary> {
        self.runs.iter().find(|s| s.scenario == scenario)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_regressions_beyond_their_limit_only() {
        let mut before = Summary::empty();
        before
            .latency_us
            .insert("won".into(), crate::model::LatencySummary { p99: 10_000, count: 5, ..Default::default() });
        before.throughput_rps = 1000.0;
        let mut now = before.clone();
        now.latency_us
            .insert("won".into(), crate::model::LatencySummary { p99: 13_000, count: 5, ..Default::default() });
        now.throughput_rps = 700.0;
        let limits = vec![
            Limit::parse("latency.won.p99", "20%").expect("limit"),
            Limit::parse("throughput", "50%").expect("limit"),
        ];
        let report = compare("b.json", &before, &now, &limits);
        let row = |m: &str| report.rows.iter().find(|r| r.metric == m).expect("row");
        assert_eq!(
            (row("latency.won.p99").status.as_str(), row("latency.won.p99").change_percent),
            ("fail", Some(30.0))
        );
        assert_eq!((row("throughput").status.as_str(), row("throughput").change_percent), ("pass", Some(-30.0)));
        assert_eq!(row("send_skew.p99").status, LimitStatus::Info);
        let sold_out = row("latency.sold_out.p99");
        assert_eq!(
            (sold_out.status.as_str(), sold_out.now_text.as_str(), sold_out.change_text()),
            ("n/a", "n/a", "n/a".to_string()),
            "no sold_out answer on either side: n/a, never -100%"
        );
        assert!(Limit::parse("latency.won.p95", "20%").is_err(), "p95 is not in a summary");
        assert!(Limit::parse_arg("latency.won.p99=abc").is_err());
        assert_eq!(Limit::parse_arg("latency.all.max=5%").map(|l| l.percent), Ok(5.0));
    }
}
