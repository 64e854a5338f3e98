//! Thresholds, in a syntax familiar from k6: `latency.won.p99 < 50ms` (from each attempt's
//! intended start), `service_time.won.p99 < 20ms` (from the request leaving),
//! `latency.all.p99.9 < 200ms`, `rate.error == 0`, `count.won == 5`, `throughput > 1000/s`,
//! `send_skew.p99 < 2ms`. A metric, an operator and a value with its unit. The same metric
//! names serve the baseline's regression limits. Evaluated against a run in
//! `threshold`.

use super::Outcome;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A statistic of a distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stat {
    Min,
    Max,
    Mean,
    /// A percentile, 0 to 100.
    Pct(f64),
}

/// What a threshold or a regression limit measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// Latency of one outcome (`None`: all attempts), in µs: intended start → answer.
    Latency(Option<Outcome>, Stat),
    /// Service time of one outcome (`None`: all attempts), in µs: sent → answer.
    ServiceTime(Option<Outcome>, Stat),
    /// Attempts with this outcome (`None`: all attempts).
    Count(Option<Outcome>),
    /// Share of attempts with this outcome, 0 to 1.
    Rate(Outcome),
    /// Attempts per second.
    Throughput,
    /// Send skew, in µs.
    SendSkew(Stat),
    /// Arrivals of the open stream dropped for want of a free slot (`dropped`).
    Dropped,
    /// Share of the open stream's arrivals dropped, 0 to 1 (`dropped_rate`).
    DroppedRate,
    /// FCFS inversions (`fairness.inversions`).
    Inversions,
    /// The worst arrival rank of a winner (`fairness.worst_rank_of_a_winner`).
    WorstWinnerRank,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

impl Op {
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Op::Lt => a < b,
            Op::Le => a <= b,
            Op::Gt => a > b,
            Op::Ge => a >= b,
            Op::Eq => (a - b).abs() < 1e-9,
            Op::Ne => (a - b).abs() >= 1e-9,
        }
    }
}

fn parse_stat(s: &str) -> Result<Stat, String> {
    match s {
        "min" => Ok(Stat::Min),
        "max" => Ok(Stat::Max),
        "avg" | "mean" => Ok(Stat::Mean),
        "med" | "median" => Ok(Stat::Pct(50.0)),
        _ => {
            let digits = s.strip_prefix("p(").and_then(|r| r.strip_suffix(')')).or_else(|| s.strip_prefix('p'));
            let p: f64 = digits.and_then(|d| d.parse().ok()).ok_or_else(|| {
                format!("unknown statistic {s:?}; use min, max, avg, or a percentile such as p50, p99, p99.9")
            })?;
            if !(0.0..=100.0).contains(&p) {
                return Err(format!("percentile {p} is not between 0 and 100"));
            }
            Ok(Stat::Pct(p))
        }
    }
}

fn parse_outcome(s: &str) -> Result<Option<Outcome>, String> {
    if s == "all" {
        return Ok(None);
    }
    Outcome::ALL.iter().find(|o| o.name() == s).map(|o| Some(*o)).ok_or_else(|| {
        let names: Vec<&str> = Outcome::ALL.iter().map(|o| o.name()).collect();
        format!("unknown outcome {s:?}; use all or one of {}", names.join(", "))
    })
}

impl FromStr for Metric {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let parts: Vec<&str> = s.trim().splitn(2, '.').collect();
        match parts.as_slice() {
            ["throughput"] => Ok(Metric::Throughput),
            ["dropped"] => Ok(Metric::Dropped),
            ["dropped_rate"] => Ok(Metric::DroppedRate),
            ["fairness", "inversions"] => Ok(Metric::Inversions),
            ["fairness", "worst_rank_of_a_winner"] => Ok(Metric::WorstWinnerRank),
            ["latency", rest] => {
                let (outcome, stat) = rest
                    .split_once('.')
                    .ok_or_else(|| format!("{s:?}: write latency.<outcome>.<statistic>, e.g. latency.won.p99"))?;
                Ok(Metric::Latency(parse_outcome(outcome)?, parse_stat(stat)?))
            }
            ["service_time", rest] => {
                let (outcome, stat) = rest.split_once('.').ok_or_else(|| {
                    format!("{s:?}: write service_time.<outcome>.<statistic>, e.g. service_time.won.p99")
                })?;
                Ok(Metric::ServiceTime(parse_outcome(outcome)?, parse_stat(stat)?))
            }
            ["send_skew", stat] => Ok(Metric::SendSkew(parse_stat(stat)?)),
            ["count", outcome] => Ok(Metric::Count(parse_outcome(outcome)?)),
            ["rate", outcome] => parse_outcome(outcome)?
                .map(Metric::Rate)
                .ok_or_else(|| "rate.all is always 1; name an outcome, e.g. rate.error".to_string()),
            _ => Err(format!(
                "unknown metric {s:?}; use latency.<outcome>.<stat>, service_time.<outcome>.<stat>, count.<outcome>, rate.<outcome>, throughput, send_skew.<stat>, dropped, dropped_rate, fairness.inversions or fairness.worst_rank_of_a_winner"
            )),
        }
    }
}

impl Metric {
    fn is_time(self) -> bool {
        matches!(self, Metric::Latency(..) | Metric::ServiceTime(..) | Metric::SendSkew(_))
    }

    /// Parses a limit for this metric into its unit (µs, a share, per second, a count).
    fn parse_value(self, text: &str) -> Result<f64, String> {
        let t = text.trim();
        let number = |n: &str| {
            n.trim().parse::<f64>().ok().filter(|v| v.is_finite()).ok_or_else(|| format!("{t:?} is not a number"))
        };
        match self {
            Metric::Latency(..) | Metric::ServiceTime(..) | Metric::SendSkew(_) => {
                let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
                let (n, unit) = t.split_at(split);
                let factor = match unit.trim() {
                    "us" | "µs" => 1.0,
                    "ms" => 1e3,
                    "s" => 1e6,
                    "" => return Err(format!("{t:?} needs a time unit: us, ms or s")),
                    u => return Err(format!("unknown time unit {u:?}; use us, ms or s")),
                };
                Ok(number(n)? * factor)
            }
            Metric::Rate(_) | Metric::DroppedRate => match t.strip_suffix('%') {
                Some(p) => Ok(number(p)? / 100.0),
                None => number(t),
            },
            Metric::Throughput => number(t.strip_suffix("/s").unwrap_or(t)),
            Metric::Count(_) | Metric::Dropped | Metric::Inversions | Metric::WorstWinnerRank => number(t),
        }
    }

    /// The values this metric can take in a run of at most `most` attempts, and whether
    /// they are whole numbers.
    fn domain(self, most: u64) -> (f64, f64, bool) {
        match self {
            Metric::Count(_) => (0.0, most as f64, true),
            Metric::Dropped | Metric::Inversions | Metric::WorstWinnerRank => (0.0, f64::INFINITY, true),
            Metric::Rate(_) | Metric::DroppedRate => (0.0, 1.0, false),
            Metric::Latency(..) | Metric::ServiceTime(..) | Metric::SendSkew(_) | Metric::Throughput => {
                (0.0, f64::INFINITY, false)
            }
        }
    }

    /// A value of this metric, with its unit, for people.
    pub fn show(self, v: f64) -> String {
        match self {
            _ if self.is_time() => format!("{:.2} ms", v / 1000.0),
            Metric::Rate(_) | Metric::DroppedRate => percent(v * 100.0),
            Metric::Throughput => format!("{v:.0} req/s"),
            _ => format!("{v}"),
        }
    }

    /// Is a larger value worse (latency, skew, error rates), or better (throughput)?
    pub fn higher_is_worse(self) -> bool {
        !matches!(self, Metric::Throughput)
    }
}

impl Op {
    /// Can `x op limit` hold for some `x` in `[lo, hi]` (whole numbers only when `whole`)?
    fn satisfiable(self, limit: f64, lo: f64, hi: f64, whole: bool) -> bool {
        match self {
            Op::Lt => lo < limit,
            Op::Le => lo <= limit,
            Op::Gt => hi > limit,
            Op::Ge => hi >= limit,
            Op::Eq => (lo..=hi).contains(&limit) && (!whole || limit.fract() == 0.0),
            Op::Ne => !(lo == hi && lo == limit),
        }
    }
}

/// One threshold, as written and as parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub expression: String,
    pub metric: Metric,
    pub op: Op,
    pub limit: f64,
}

impl FromStr for Threshold {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let ops = [("<=", Op::Le), (">=", Op::Ge), ("==", Op::Eq), ("!=", Op::Ne), ("<", Op::Lt), (">", Op::Gt)];
        let (at, text, op) = ops
            .iter()
            .filter_map(|(t, op)| s.find(t).map(|i| (i, *t, *op)))
            .min_by_key(|(i, t, _)| (*i, std::cmp::Reverse(t.len())))
            .ok_or_else(|| format!("{s:?}: no comparison; write e.g. `latency.won.p99 < 50ms`"))?;
        let metric: Metric = s[..at].trim().parse()?;
        let limit = metric.parse_value(&s[at + text.len()..])?;
        Ok(Threshold { expression: s.trim().to_string(), metric, op, limit })
    }
}

impl Threshold {
    /// Why this threshold can never hold in a run of at most `most` attempts, if it cannot.
    pub fn impossible(&self, most: u64) -> Option<String> {
        let (lo, hi, whole) = self.metric.domain(most);
        if self.op.satisfiable(self.limit, lo, hi, whole) {
            return None;
        }
        let range = if hi.is_infinite() {
            format!("at least {}", self.metric.show(lo))
        } else {
            format!("from {} to {}", self.metric.show(lo), self.metric.show(hi))
        };
        let whole = if whole { " whole numbers" } else { "" };
        Some(format!("`{}` can never hold: the value is always{whole} {range}", self.expression))
    }
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Threshold {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.expression)
    }
}

impl schemars::JsonSchema for Threshold {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Threshold".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "`<metric> <op> <value>`: latency.<outcome|all>.<avg|min|max|pNN> (intended start → answer), service_time.<outcome|all>.<stat> (sent → answer), count.<outcome|all>, rate.<outcome>, throughput, send_skew.<stat>, dropped, dropped_rate, fairness.inversions or fairness.worst_rank_of_a_winner; ops < <= > >= == !=; time values with us, ms or s.",
            "pattern": "^\\s*(latency|service_time|count|rate|throughput|send_skew|dropped|dropped_rate|fairness)[a-z0-9_.()]*\\s*(<=|>=|==|!=|<|>)\\s*\\S+",
            "examples": ["latency.won.p99 < 50ms", "rate.error == 0", "count.won == 5", "throughput > 1000/s"]
        })
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.expression)
    }
}

/// A threshold's result: public interface (`summary.json` `thresholds[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    pub expression: String,
    /// The observed value, in the metric's unit (µs, a share, per second, a count).
    pub observed: f64,
    /// The observed value with its unit, for people.
    pub observed_text: String,
    pub status: ThresholdStatus,
}

/// Whether a threshold held: `pass` or `fail` in `summary.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThresholdStatus {
    Pass,
    Fail,
}

impl ThresholdStatus {
    pub fn of(held: bool) -> ThresholdStatus {
        if held {
            ThresholdStatus::Pass
        } else {
            ThresholdStatus::Fail
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ThresholdStatus::Pass => "pass",
            ThresholdStatus::Fail => "fail",
        }
    }
}

/// A percentage with as many digits as it needs: `0%`, `12.5%`, `0.25%`, `0.0031%`.
pub fn percent(p: f64) -> String {
    if p == 0.0 {
        "0%".into()
    } else if p.abs() >= 1.0 {
        format!("{}%", trim_zeros(&format!("{p:.1}")))
    } else if p.abs() >= 0.01 {
        format!("{}%", trim_zeros(&format!("{p:.2}")))
    } else {
        format!("{}%", trim_zeros(&format!("{p:.4}")))
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_k6_like_syntax() {
        let t: Threshold = "latency.won.p99 < 50ms".parse().expect("parse");
        assert_eq!((t.metric, t.op, t.limit), (Metric::Latency(Some(Outcome::Won), Stat::Pct(99.0)), Op::Lt, 50_000.0));
        let t: Threshold = "latency.all.p99.9 <= 200ms".parse().expect("parse");
        assert_eq!((t.metric, t.op), (Metric::Latency(None, Stat::Pct(99.9)), Op::Le));
        assert_eq!("rate.error == 0".parse::<Threshold>().map(|t| t.limit), Ok(0.0));
        assert_eq!("rate.error < 1%".parse::<Threshold>().map(|t| t.limit), Ok(0.01));
        assert_eq!("count.won == 5".parse::<Threshold>().map(|t| t.limit), Ok(5.0));
        assert_eq!("throughput > 1000/s".parse::<Threshold>().map(|t| t.metric), Ok(Metric::Throughput));
        assert_eq!("dropped_rate < 1%".parse::<Threshold>().map(|t| t.limit), Ok(0.01));
        assert_eq!("dropped == 0".parse::<Threshold>().map(|t| t.metric), Ok(Metric::Dropped));
        assert_eq!("fairness.inversions == 0".parse::<Threshold>().map(|t| t.metric), Ok(Metric::Inversions));
        assert_eq!(
            "fairness.worst_rank_of_a_winner <= 5".parse::<Threshold>().map(|t| t.metric),
            Ok(Metric::WorstWinnerRank)
        );
        assert_eq!("send_skew.p99 < 2ms".parse::<Threshold>().map(|t| t.limit), Ok(2000.0));
        assert_eq!("latency.sold_out.p(95) >= 1s".parse::<Threshold>().map(|t| t.limit), Ok(1e6));
        assert_eq!("latency.all.avg != 3us".parse::<Threshold>().map(|t| t.op), Ok(Op::Ne));
        for bad in [
            "latency.won.p99 < 50",
            "latency.won < 5ms",
            "latncy.won.p99 < 5ms",
            "count.winners == 5",
            "throughput 5",
            "latency.won.p101 < 1ms",
            "rate.all < 1",
        ] {
            assert!(bad.parse::<Threshold>().is_err(), "{bad} should not parse");
        }
    }

    #[test]
    fn finds_thresholds_that_can_never_hold() {
        let impossible = |s: &str| s.parse::<Threshold>().expect("parses").impossible(100);
        for bad in ["count.won == -1", "count.won < 0", "count.won > 100", "count.won == 2.5", "rate.error == 200%"] {
            assert!(impossible(bad).is_some(), "{bad} should be impossible");
        }
        assert!(impossible("rate.error > 1").is_some_and(|w| w.contains("from 0% to 100%")));
        for fine in
            ["count.won == 100", "count.won < 1", "rate.error == 0", "rate.error <= 100%", "latency.won.p99 < 1us"]
        {
            assert_eq!(impossible(fine), None, "{fine}");
        }
        assert!("count.won == NaN".parse::<Threshold>().is_err(), "not a number");
    }
}
