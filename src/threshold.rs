//! Thresholds evaluated: everything a threshold can ask about one run ([`Observed`]), computed
//! once from the ledger, and each threshold's result. The syntax is [`crate::model::threshold`].

use crate::model::threshold::ThresholdStatus;
use crate::model::threshold::{Metric, Stat, Threshold, ThresholdResult};
use crate::model::{Ledger, Outcome};

/// Everything a threshold can ask about one run, computed once from the ledger.
pub struct Observed {
    latency: Vec<Vec<u64>>,
    all: Vec<u64>,
    service: Vec<Vec<u64>>,
    service_all: Vec<u64>,
    skew: Vec<u64>,
    throughput: f64,
    dropped: u64,
    arrivals: u64,
    fairness: crate::model::Fairness,
}

fn stat(v: &[u64], s: Stat) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    match s {
        Stat::Min => v[0] as f64,
        Stat::Max => v[v.len() - 1] as f64,
        Stat::Mean => v.iter().sum::<u64>() as f64 / v.len() as f64,
        Stat::Pct(p) => {
            let i = ((p / 100.0 * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            v[i] as f64
        }
    }
}

impl Observed {
    pub fn new(ledger: &Ledger) -> Self {
        let mut latency = vec![Vec::new(); Outcome::ALL.len()];
        let mut all = Vec::with_capacity(ledger.attempts.len());
        let mut service = vec![Vec::new(); Outcome::ALL.len()];
        let mut service_all = Vec::with_capacity(ledger.attempts.len());
        let mut skew = Vec::new();
        for a in &ledger.attempts {
            latency[a.outcome.index()].push(a.latency_us());
            all.push(a.latency_us());
            service[a.outcome.index()].push(a.service_time_us());
            service_all.push(a.service_time_us());
            if a.attempt == 1 {
                skew.push(a.sent_us.saturating_sub(a.intended_us));
            }
        }
        for v in latency.iter_mut().chain(service.iter_mut()).chain([&mut all, &mut service_all, &mut skew]) {
            v.sort_unstable();
        }
        Observed {
            latency,
            all,
            service,
            service_all,
            skew,
            throughput: crate::stats::throughput_rps(ledger),
            dropped: ledger.dropped.len() as u64,
            arrivals: ledger.arrivals,
            fairness: crate::fairness::measure(ledger),
        }
    }

    pub fn value(&self, m: Metric) -> f64 {
        match m {
            Metric::Latency(None, s) => stat(&self.all, s),
            Metric::Latency(Some(o), s) => stat(&self.latency[o.index()], s),
            Metric::ServiceTime(None, s) => stat(&self.service_all, s),
            Metric::ServiceTime(Some(o), s) => stat(&self.service[o.index()], s),
            Metric::Count(None) => self.all.len() as f64,
            Metric::Count(Some(o)) => self.latency[o.index()].len() as f64,
            Metric::Rate(o) => {
                if self.all.is_empty() {
                    0.0
                } else {
                    self.latency[o.index()].len() as f64 / self.all.len() as f64
                }
            }
            Metric::Throughput => self.throughput,
            Metric::SendSkew(s) => stat(&self.skew, s),
            Metric::Dropped => self.dropped as f64,
            Metric::DroppedRate => match self.arrivals {
                0 => 0.0,
                n => self.dropped as f64 / n as f64,
            },
            Metric::Inversions => self.fairness.inversions as f64,
            Metric::WorstWinnerRank => self.fairness.worst_rank_of_a_winner as f64,
        }
    }

    pub fn evaluate(&self, t: &Threshold) -> ThresholdResult {
        let v = self.value(t.metric);
        ThresholdResult {
            expression: t.expression.clone(),
            observed: v,
            observed_text: t.metric.show(v),
            status: ThresholdStatus::of(t.op.holds(v, t.limit)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attempt, Outcome};

    fn at(outcome: Outcome, latency: u64) -> Attempt {
        Attempt {
            repetition: 1,
            buyer: 0,
            product: 0,
            instance: 0,
            attempt: 1,
            intended_us: 0,
            sent_us: 100,
            done_us: 100 + latency,
            status: 0,
            outcome,
            resolved: None,
            order_id: None,
            error: None,
            accepted_us: None,
            shard: 0,
            session: 0,
        }
    }

    #[test]
    fn evaluates_against_a_ledger() {
        let ledger = Ledger {
            attempts: vec![
                at(Outcome::Won, 1000),
                at(Outcome::SoldOut, 200),
                at(Outcome::SoldOut, 400),
                at(Outcome::Error, 5000),
            ],
            ..Ledger::default()
        };
        let obs = Observed::new(&ledger);
        let eval = |s: &str| obs.evaluate(&s.parse().expect("threshold"));
        assert_eq!(eval("count.won == 1").status.as_str(), "pass");
        assert_eq!(eval("rate.error < 20%").status.as_str(), "fail");
        assert_eq!(eval("rate.error < 20%").observed_text, "25%", "no needless digits");
        // Each attempt was sent 100 µs after its intended start: latency counts that wait,
        // service time does not.
        assert_eq!(eval("service_time.sold_out.max <= 400us").status.as_str(), "pass");
        assert_eq!(eval("latency.sold_out.max <= 400us").status.as_str(), "fail");
        assert_eq!(eval("service_time.all.p50 < 1us").observed, 400.0);
        assert_eq!(eval("latency.all.p50 < 1us").observed, 500.0);
        assert_eq!(eval("latency.all.p99 < 1us").observed_text, "5.10 ms");
        assert_eq!(eval("service_time.all.p99 < 1us").observed_text, "5.00 ms");
        assert!("service_time.won < 1ms".parse::<Threshold>().is_err(), "needs a statistic");
    }
}
