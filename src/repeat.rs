//! Repeated races: one clean run proves little, so a scenario may run K times on fresh state.
//! The repetitions fold into one summary: the worst repetition's verdict and evidence, every
//! repetition's verdict, the violation rate per invariant, and latency merged across them.

use crate::harness::Ledger;
use crate::report::summary::Repetition;
use crate::report::Summary;
use crate::stats;
use crate::verdict::most_severe;
use crate::verify::Status;
use std::collections::BTreeMap;

/// Folds the repetitions of one scenario into one summary and one ledger.
pub fn aggregate(mut reps: Vec<(Summary, Ledger)>) -> (Summary, Ledger) {
    if reps.len() <= 1 {
        return reps.pop().unwrap_or_else(|| (Summary::empty(), Ledger::default()));
    }
    let k = reps.len();
    let worst_code = most_severe(reps.iter().map(|(s, _)| s.exit_code));
    let worst = reps.iter().position(|(s, _)| s.exit_code == worst_code).unwrap_or(0);
    let mut merged = Ledger { products: reps[0].1.products.clone(), buyers: reps[0].1.buyers, ..Ledger::default() };
    let mut violations: BTreeMap<String, usize> = BTreeMap::new();
    let mut repetitions = Vec::with_capacity(k);
    let (mut load_ms, mut duration_ms) = (0, 0);
    for (i, (s, l)) in reps.iter().enumerate() {
        merged.attempts.extend(l.attempts.iter().cloned());
        merged.stock_samples.extend(l.stock_samples.iter().cloned());
        merged.connect_failures += l.connect_failures;
        merged.late_buyers += l.late_buyers;
        let violated: Vec<String> = s
            .invariants
            .iter()
            .filter(|c| c.status == Status::Fail && !c.expected_violation)
            .map(|c| c.name.name().to_string())
            .collect();
        for c in &s.invariants {
            let n = violations.entry(c.name.name().to_string()).or_default();
            if c.status == Status::Fail {
                *n += 1;
            }
        }
        load_ms += s.load_ms;
        duration_ms += s.duration_ms;
        repetitions.push(Repetition {
            index: i as u32 + 1,
            verdict: s.verdict.clone(),
            exit_code: s.exit_code,
            violated,
            orders: s.products.iter().map(|p| p.orders).sum(),
            reason: s.reasons.first().cloned(),
        });
    }
    merged.release_us = reps[worst].1.release_us;
    let mut summary = reps.swap_remove(worst).0;
    summary.attempts = merged.attempts.len() as u64;
    summary.outcomes = stats::outcome_counts(&merged).into_iter().map(|(o, n)| (o.name().to_string(), n)).collect();
    summary.latency_us = stats::latency(&merged);
    summary.send_skew_us = stats::send_skew(&merged);
    summary.top_errors = stats::top_errors(&merged, 5);
    summary.throughput_rps =
        if load_ms > 0 { (summary.attempts as f64 * 1000.0 / load_ms as f64).round() } else { 0.0 };
    summary.load_ms = load_ms;
    summary.duration_ms = duration_ms;
    summary.connect_failures = merged.connect_failures;
    summary.late_buyers = merged.late_buyers;
    summary.violation_rate = violations.into_iter().map(|(name, n)| (name, n as f64 / k as f64)).collect();
    let failed = repetitions.iter().filter(|r| r.exit_code != 0).count();
    let mut reasons = Vec::new();
    if failed > 0 {
        let worst_rep = repetitions.iter().find(|r| r.exit_code == worst_code).map_or(0, |r| r.index);
        reasons.push(format!("{failed} of {k} repetitions failed; repetition {worst_rep} shown"));
        for (name, rate) in summary.violation_rate.iter().filter(|(_, r)| **r > 0.0) {
            reasons.push(format!("{name} violated in {:.0}% of repetitions", rate * 100.0));
        }
    }
    reasons.append(&mut summary.reasons);
    summary.reasons = reasons;
    summary.exit_code = worst_code;
    summary.verdict = if worst_code == 0 { "pass" } else { "fail" }.into();
    summary.repetitions = repetitions;
    (summary, merged)
}
