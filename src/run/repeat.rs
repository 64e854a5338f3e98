//! Repeated races: one clean run proves little, so a scenario may run K times on fresh state.
//! The repetitions fold into one summary: the worst repetition's verdict and evidence (its
//! number in `shown_repetition`), every repetition's verdict with its own truth and counts,
//! the violation rate per invariant, and latency merged across them. The merged ledger keeps
//! each repetition's rows apart (`repetition`): each has its own clock, buyers and store, so
//! charts draw one repetition (the shown one), never a mix.
//!
//! A self-test (a scenario with `expect.violations`) repeats to catch a race that does not
//! show every time: it passes when each expected violation was caught in at least one
//! repetition and no repetition broke anything else. A repetition that merely missed the
//! catch keeps its own `fail` in `repetitions[]`, but does not fail the scenario.

use crate::model::check::Status;
use crate::model::exit::Exit;
use crate::model::threshold::ThresholdStatus;
use crate::model::Ledger;
use crate::model::Summary;
use crate::model::{Repetition, RepetitionMetrics};
use crate::scenario::Expect;
use crate::stats;
use std::collections::BTreeMap;

/// The exit code a self-test repetition would have had if its missed catches had been
/// made, or `None` when it failed for another reason too (or is not a self-test miss).
pub fn code_without_misses(s: &Summary, expect: &Expect) -> Option<Exit> {
    if s.exit_code != Exit::Violation || expect.violations.is_empty() {
        return None;
    }
    let broke_something_else = s
        .invariants
        .iter()
        .any(|i| i.status == Status::Fail && !i.expected_violation && !expect.may_also_violate.contains(&i.name));
    if broke_something_else {
        return None;
    }
    let missed_counts =
        s.expected_outcomes.iter().any(|o| !o.pass) || s.thresholds.iter().any(|t| t.status != ThresholdStatus::Pass);
    Some(if missed_counts { Exit::Threshold } else { Exit::Pass })
}

/// Each repetition's exit code as it counts for the scenario: a self-test repetition that
/// only missed catches made by another repetition counts as if it had made them.
fn counted_codes(reps: &[(Summary, Ledger)], expect: &Expect) -> Vec<Exit> {
    let caught =
        |name| reps.iter().any(|(s, _)| s.invariants.iter().any(|i| i.name == name && i.status == Status::Fail));
    let all_caught = expect.violations.iter().all(|&v| caught(v));
    reps.iter()
        .map(|(s, _)| match code_without_misses(s, expect) {
            Some(code) if all_caught => code,
            _ => s.exit_code,
        })
        .collect()
}

/// Folds the repetitions of one scenario into one summary and one ledger, with each
/// repetition's exit code as it counts for the scenario (for [`crate::run::judge::fold`]).
pub fn aggregate(mut reps: Vec<(Summary, Ledger)>, expect: &Expect) -> (Summary, Ledger, Vec<Exit>) {
    if reps.len() <= 1 {
        let (summary, ledger) = reps.pop().unwrap_or_else(|| (Summary::empty(), Ledger::default()));
        let code = summary.exit_code;
        return (summary, ledger, vec![code]);
    }
    let k = reps.len();
    let counted = counted_codes(&reps, expect);
    let (kind, worst_code) = crate::run::judge::fold(&counted, &[]);
    // Shown: the first repetition with the worst counted code, preferring one whose own
    // verdict agrees (for a passing self-test, a repetition that made the catch).
    let worst = (0..k)
        .find(|&i| counted[i] == worst_code && reps[i].0.exit_code == worst_code)
        .or_else(|| counted.iter().position(|&c| c == worst_code))
        .unwrap_or(0);
    let mut merged = Ledger { products: reps[0].1.products.clone(), buyers: reps[0].1.buyers, ..Ledger::default() };
    let mut violations: BTreeMap<String, usize> = BTreeMap::new();
    let mut repetitions = Vec::with_capacity(k);
    let (mut load_ms, mut duration_ms) = (0, 0);
    for (i, (s, l)) in reps.iter_mut().enumerate() {
        // Each repetition keeps its own rows: its own clock, buyers and store.
        l.set_repetition(i as u32 + 1);
        merged.attempts.extend(l.attempts.iter().cloned());
        merged.stock_samples.extend(l.stock_samples.iter().cloned());
        merged.dropped.extend(l.dropped.iter().cloned());
        merged.arrivals += l.arrivals;
        merged.connect_failures += l.connect_failures;
        merged.late_buyers += l.late_buyers;
        for c in &s.invariants {
            let n = violations.entry(c.name.name().to_string()).or_default();
            if c.status == Status::Fail {
                *n += 1;
            }
        }
        load_ms += s.load_ms;
        duration_ms += s.duration_ms;
        repetitions.push(repetition(i as u32 + 1, s));
    }
    merged.release_us = reps[worst].1.release_us;
    merged.overrun = reps[worst].1.overrun;
    let mut summary = reps.swap_remove(worst).0;
    summary.shown_repetition = Some(worst as u32 + 1);
    summary.indeterminate = crate::model::Indeterminate::of(&merged);
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
    let failed = counted.iter().filter(|&&c| c != Exit::Pass).count();
    let mut reasons = Vec::new();
    if failed > 0 {
        reasons.push(format!("{failed} of {k} repetitions failed; repetition {} shown", worst + 1));
        for (name, rate) in summary.violation_rate.iter().filter(|(_, r)| **r > 0.0) {
            reasons.push(format!("{name} violated in {:.0}% of repetitions", rate * 100.0));
        }
    }
    reasons.append(&mut summary.reasons);
    summary.reasons = reasons;
    summary.exit_code = worst_code;
    summary.verdict = kind;
    summary.repetitions = repetitions;
    (summary, merged, counted)
}

/// Repetition `index` as the scenario's summary lists it.
fn repetition(index: u32, s: &Summary) -> Repetition {
    let violated: Vec<String> = s
        .invariants
        .iter()
        .filter(|c| c.status == Status::Fail && !c.expected_violation)
        .map(|c| c.name.name().to_string())
        .collect();
    Repetition {
        index,
        verdict: s.verdict,
        exit_code: s.exit_code,
        violated,
        orders: s.products.iter().filter_map(|p| p.orders).sum(),
        reason: s.reasons.first().cloned(),
        products: s.products.clone(),
        outcomes: s.outcomes.clone(),
        indeterminate: s.indeterminate,
        metrics: Some(RepetitionMetrics::of(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::check::{Check, Invariant};
    use crate::model::InvariantSummary;

    /// A repetition whose `failing` invariants failed, `expected` marking the self-test's.
    fn rep(failing: &[Invariant], expected: &[Invariant], exit_code: i32) -> (Summary, Ledger) {
        let mut s = Summary::empty();
        s.exit_code = Exit::from_code(exit_code);
        s.invariants = Invariant::ALL
            .iter()
            .map(|&i| {
                let status = if failing.contains(&i) { Status::Fail } else { Status::Pass };
                InvariantSummary::from_check(&Check::new(i, status, "d"), expected.contains(&i))
            })
            .collect();
        (s, Ledger::default())
    }

    fn self_test(violations: &[Invariant]) -> Expect {
        Expect { violations: violations.to_vec(), ..Expect::default() }
    }

    const UNDER: Invariant = Invariant::NoUndersell;

    #[test]
    fn a_self_test_passes_when_one_repetition_makes_the_catch() {
        let expect = self_test(&[UNDER]);
        let reps = vec![rep(&[], &[UNDER], 1), rep(&[UNDER], &[UNDER], 0), rep(&[], &[UNDER], 1)];
        let (s, _, _) = aggregate(reps, &expect);
        assert_eq!(s.exit_code.code(), 0, "{:?}", s.reasons);
        let own: Vec<i32> = s.repetitions.iter().map(|r| r.exit_code.code()).collect();
        assert_eq!(own, [1, 0, 1], "each repetition keeps its own verdict");
        assert!(s.invariants.iter().any(|i| i.name == UNDER && i.status == Status::Fail), "the catch is shown");
        assert!((s.violation_rate["no_undersell"] - 1.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn a_self_test_fails_when_no_repetition_makes_the_catch() {
        let (s, _, _) = aggregate(vec![rep(&[], &[UNDER], 1), rep(&[], &[UNDER], 1)], &self_test(&[UNDER]));
        assert_eq!(s.exit_code.code(), 1);
        assert_eq!(s.reasons[0], "2 of 2 repetitions failed; repetition 1 shown");
    }

    #[test]
    fn a_self_test_fails_when_a_repetition_breaks_something_else() {
        let over = Invariant::NoOversell;
        let reps = vec![rep(&[UNDER], &[UNDER], 0), rep(&[over], &[UNDER], 1)];
        let (s, _, _) = aggregate(reps, &self_test(&[UNDER]));
        assert_eq!(s.exit_code.code(), 1);
        assert_eq!(s.reasons[0], "1 of 2 repetitions failed; repetition 2 shown");
        let tolerated = Expect { may_also_violate: vec![over], ..self_test(&[UNDER]) };
        let reps = vec![rep(&[UNDER], &[UNDER], 0), rep(&[over], &[UNDER], 1)];
        assert_eq!(aggregate(reps, &tolerated).0.exit_code.code(), 0, "a tolerated violation is no failure");
    }

    #[test]
    fn any_violation_fails_an_ordinary_scenario() {
        let reps = vec![rep(&[], &[], 0), rep(&[UNDER], &[], 1), rep(&[], &[], 0)];
        let (s, _, _) = aggregate(reps, &Expect::default());
        assert_eq!(s.exit_code.code(), 1);
        assert_eq!(s.reasons[0], "1 of 3 repetitions failed; repetition 2 shown");
        assert_eq!(s.reasons[1], "no_undersell violated in 33% of repetitions");
    }
}
