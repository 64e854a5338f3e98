//! Figures from the ledger: latency percentiles per outcome (HDR histograms, µs), throughput,
//! and the burst's send skew (how far each first attempt was sent after its intended start).

use crate::model::Outcome;
use crate::model::{ErrorCount, Indeterminate, LatencySummary, Ledger, Queued, SkewSummary};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;

fn histogram() -> Histogram<u64> {
    // 1 µs to one hour, 3 significant digits; the bounds are constants, so this cannot fail.
    Histogram::new_with_bounds(1, 3_600_000_000, 3)
        .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
}

fn summarize(h: &Histogram<u64>) -> LatencySummary {
    if h.is_empty() {
        return LatencySummary::default();
    }
    LatencySummary {
        count: h.len(),
        min: h.min(),
        mean: (h.mean() * 10.0).round() / 10.0,
        p50: h.value_at_quantile(0.50),
        p90: h.value_at_quantile(0.90),
        p99: h.value_at_quantile(0.99),
        p999: h.value_at_quantile(0.999),
        max: h.max(),
    }
}

/// Latency (intended start → answer) per outcome, plus `all`; every outcome is present (count
/// 0 when it never happened).
pub fn latency(ledger: &Ledger) -> BTreeMap<String, LatencySummary> {
    per_outcome(ledger, crate::model::Attempt::latency_us)
}

/// Service time (sent → answer) per outcome, plus `all`.
pub fn service_time(ledger: &Ledger) -> BTreeMap<String, LatencySummary> {
    per_outcome(ledger, crate::model::Attempt::service_time_us)
}

/// Latency (intended start → answer) of the attempts whose outcome `keep` accepts.
pub fn latency_where(ledger: &Ledger, keep: impl Fn(Outcome) -> bool) -> LatencySummary {
    let mut h = histogram();
    for a in ledger.attempts.iter().filter(|a| keep(a.outcome)) {
        h.saturating_record(a.latency_us().max(1));
    }
    summarize(&h)
}

fn per_outcome(ledger: &Ledger, measure: fn(&crate::model::Attempt) -> u64) -> BTreeMap<String, LatencySummary> {
    let mut all = histogram();
    let mut per: Vec<Histogram<u64>> = Outcome::ALL.iter().map(|_| histogram()).collect();
    for a in &ledger.attempts {
        let v = measure(a).max(1);
        all.saturating_record(v);
        per[a.outcome.index()].saturating_record(v);
    }
    let mut out: BTreeMap<String, LatencySummary> =
        Outcome::ALL.iter().map(|o| (o.name().to_string(), summarize(&per[o.index()]))).collect();
    out.insert("all".into(), summarize(&all));
    out
}

/// Queued orders: `None` when no answer was `accepted`. Read after resolution (for
/// `unsettled`).
pub fn queued(ledger: &Ledger) -> Option<Queued> {
    let queued: Vec<_> = ledger.attempts.iter().filter(|a| a.accepted_us.is_some()).collect();
    if queued.is_empty() {
        return None;
    }
    let (mut to_accepted, mut to_final) = (histogram(), histogram());
    let mut outcomes = BTreeMap::new();
    for a in &queued {
        to_accepted.saturating_record(a.accept_latency_us().unwrap_or(0).max(1));
        to_final.saturating_record(a.latency_us().max(1));
        *outcomes.entry(a.outcome.name().to_string()).or_default() += 1;
    }
    Some(Queued {
        accepted: queued.len() as u64,
        outcomes,
        unsettled: Indeterminate::of_accepted(ledger),
        to_accepted_us: summarize(&to_accepted),
        to_final_us: summarize(&to_final),
    })
}

/// Counts per outcome, every outcome present.
pub fn outcome_counts(ledger: &Ledger) -> BTreeMap<Outcome, u64> {
    let mut out: BTreeMap<Outcome, u64> = Outcome::ALL.iter().map(|&o| (o, 0)).collect();
    for a in &ledger.attempts {
        *out.entry(a.outcome).or_default() += 1;
    }
    out
}

/// From the first send to the last completion, in µs.
pub fn load_window_us(ledger: &Ledger) -> u64 {
    let first = ledger.attempts.iter().map(|a| a.sent_us).min().unwrap_or(0);
    let last = ledger.attempts.iter().map(|a| a.done_us).max().unwrap_or(0);
    last.saturating_sub(first)
}

/// Attempts per second over the load window.
pub fn throughput_rps(ledger: &Ledger) -> f64 {
    let window = load_window_us(ledger);
    if window == 0 {
        return 0.0;
    }
    let rps = ledger.attempts.len() as f64 / (window as f64 / 1e6);
    (rps * 10.0).round() / 10.0
}

/// The most order requests in flight at once (sent, not yet answered), in any repetition.
pub fn peak_in_flight(ledger: &Ledger) -> u64 {
    let mut events: Vec<(u32, u64, i64)> = Vec::with_capacity(ledger.attempts.len() * 2);
    for a in ledger.attempts.iter().filter(|a| a.outcome.was_sent()) {
        events.push((a.repetition, a.sent_us, 1));
        events.push((a.repetition, a.done_us, -1));
    }
    // At one instant, answers leave before sends arrive.
    events.sort_unstable();
    let (mut now, mut peak, mut rep) = (0i64, 0i64, 0);
    for (r, _, delta) in events {
        if r != rep {
            (rep, now) = (r, 0);
        }
        now += delta;
        peak = peak.max(now);
    }
    peak as u64
}

/// How late each buyer's first attempt was sent after its intended start.
pub fn send_skew(ledger: &Ledger) -> SkewSummary {
    let mut h = histogram();
    for a in ledger.attempts.iter().filter(|a| a.attempt == 1) {
        h.saturating_record(a.sent_us.saturating_sub(a.intended_us).max(1));
    }
    let s = summarize(&h);
    SkewSummary { p50: s.p50, p99: s.p99, max: s.max }
}

/// The most frequent error messages of indeterminate attempts, most frequent first.
pub fn top_errors(ledger: &Ledger, most: usize) -> Vec<ErrorCount> {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for a in ledger.attempts.iter().filter(|a| a.outcome.is_indeterminate() || !a.outcome.was_sent()) {
        *counts.entry(a.error.as_deref().unwrap_or("(no message)")).or_default() += 1;
    }
    let mut out: Vec<ErrorCount> =
        counts.into_iter().map(|(m, n)| ErrorCount { message: m.to_string(), count: n }).collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.message.cmp(&b.message)));
    out.truncate(most);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Attempt;

    fn at(buyer: u32, outcome: Outcome, intended: u64, sent: u64, done: u64) -> Attempt {
        Attempt {
            repetition: 1,
            buyer,
            product: 0,
            instance: 0,
            attempt: 1,
            intended_us: intended,
            sent_us: sent,
            done_us: done,
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
    fn percentiles_throughput_and_skew() {
        let ledger = Ledger {
            attempts: vec![
                at(0, Outcome::Won, 0, 10, 1_010),
                at(1, Outcome::SoldOut, 0, 20, 120),
                at(2, Outcome::SoldOut, 0, 1_000, 1_200),
            ],
            ..Ledger::default()
        };
        let lat = latency(&ledger);
        assert_eq!(lat["all"].count, 3);
        assert_eq!(lat["won"].max, 1010, "from its intended start, 10 µs before it was sent");
        assert_eq!(service_time(&ledger)["won"].max, 1000);
        assert_eq!(lat["sold_out"].max, 1200, "sent 1 ms late: the delay is the buyer's");
        assert_eq!(service_time(&ledger)["sold_out"].max, 200);
        assert_eq!(lat["sold_out"].count, 2);
        assert_eq!(lat["timeout"].count, 0);
        assert_eq!(load_window_us(&ledger), 1_190);
        assert!((throughput_rps(&ledger) - 2521.0).abs() < 1.0, "{}", throughput_rps(&ledger));
        let skew = send_skew(&ledger);
        assert_eq!((skew.p50, skew.max), (20, 1000));
    }
}
