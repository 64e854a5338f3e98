//! The verdict and its exit code: invariants (with self-test expectations) and expected
//! outcome counts, composed into one answer CI can gate on.
//!
//! Exit codes (a contract, documented in the README): `0` all passed, `1` an invariant was
//! violated (or a self-test's expected violation was missed), `2` usage or scenario error,
//! `3` a threshold or expected count failed while invariants held, `4` the environment failed.

use crate::harness::Overrun;
use crate::outcome::Outcome;
use crate::scenario::{CountExpectation, Scenario};
use crate::threshold::ThresholdResult;
use crate::truth::TruthReading;
use crate::verify::{Check, Status};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const EXIT_PASS: i32 = 0;
pub const EXIT_VIOLATION: i32 = 1;
pub const EXIT_USAGE: i32 = 2;
pub const EXIT_THRESHOLD: i32 = 3;
pub const EXIT_ENVIRONMENT: i32 = 4;

/// The most severe of several exit codes, in the order 2, 1, 4, 3, 0.
pub fn most_severe(codes: impl IntoIterator<Item = i32>) -> i32 {
    let rank = |c: i32| match c {
        // Ctrl-C or SIGTERM: the suite was stopped, whatever ran before.
        130 | 143 => 5,
        EXIT_USAGE => 4,
        EXIT_VIOLATION => 3,
        EXIT_ENVIRONMENT => 2,
        EXIT_THRESHOLD => 1,
        _ => 0,
    };
    codes.into_iter().max_by_key(|&c| rank(c)).unwrap_or(EXIT_PASS)
}

/// One expected outcome count, checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeCheck {
    pub outcome: Outcome,
    pub expected: String,
    pub observed: u64,
    pub pass: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub exit_code: i32,
    /// Why it did not pass, one line each; empty on a pass.
    pub reasons: Vec<String>,
    pub outcome_checks: Vec<OutcomeCheck>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.exit_code == EXIT_PASS
    }
}

/// What happened to the run itself, beside its invariants and counts: a deadline that cut
/// attempts short, a ground truth that had not settled, no order request sent at all. Each
/// leaves a pass unproven, so the run then exits 4 (unless an invariant was violated: that
/// stands, it is a proof).
#[derive(Debug, Clone, Copy)]
pub struct RunFacts<'a> {
    pub overrun: Option<&'a Overrun>,
    pub truth: &'a TruthReading,
    /// Why no order request was sent at all, when none was (every attempt `not_sent`).
    pub nothing_sent: Option<&'a str>,
}

impl RunFacts<'_> {
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(why) = self.nothing_sent {
            out.push(format!("no order request reached the target, so nothing was tested: {why}"));
        }
        if let Some(o) = self.overrun {
            out.push(format!(
                "the run overran its deadline of {:.1}s: {} attempt(s) were cut short{}; the invariants were checked \
                 on what happened",
                o.deadline_ms as f64 / 1000.0,
                o.cut_attempts,
                if o.unfinished_buyers > 0 {
                    format!(", {} buyer(s) never finished", o.unfinished_buyers)
                } else {
                    String::new()
                }
            ));
        }
        if !self.truth.settled {
            out.push(format!(
                "ground truth had not settled, so a pass proves nothing: {}",
                self.truth.notes.join("; ")
            ));
        }
        out
    }
}

/// Decides the verdict of a run whose ground truth was read.
pub fn decide(
    s: &Scenario,
    checks: &[Check],
    counts: &BTreeMap<Outcome, u64>,
    thresholds: &[ThresholdResult],
    facts: RunFacts,
) -> Verdict {
    let mut reasons = Vec::new();
    let mut violated = false;
    for c in checks {
        let expected = s.expect.violations.contains(&c.name);
        let tolerated = s.expect.may_also_violate.contains(&c.name);
        match (c.status, expected) {
            (Status::Fail, false) if !tolerated => {
                violated = true;
                reasons.push(format!("{} violated: {}", c.name, c.detail));
            }
            (Status::Pass | Status::NotApplicable, true) => {
                violated = true;
                reasons.push(format!(
                    "{} was expected to be violated but was {}: {}",
                    c.name,
                    c.status.name(),
                    c.detail
                ));
            }
            _ => {}
        }
    }
    let outcome_checks: Vec<OutcomeCheck> = s
        .expect
        .outcomes
        .iter()
        .map(|(&outcome, exp): (&Outcome, &CountExpectation)| {
            let observed = counts.get(&outcome).copied().unwrap_or(0);
            OutcomeCheck { outcome, expected: exp.to_string(), observed, pass: exp.admits(observed) }
        })
        .collect();
    let mut missed = false;
    for oc in outcome_checks.iter().filter(|oc| !oc.pass) {
        missed = true;
        reasons.push(format!("expected count.{} {}, observed {}", oc.outcome, oc.expected, oc.observed));
    }
    for t in thresholds.iter().filter(|t| t.status != "pass") {
        missed = true;
        reasons.push(format!("threshold {} failed: observed {}", t.expression, t.observed_text));
    }
    let problems = facts.problems();
    let unproven = !problems.is_empty();
    reasons.extend(problems);
    let exit_code = if violated {
        EXIT_VIOLATION
    } else if unproven {
        EXIT_ENVIRONMENT
    } else if missed {
        EXIT_THRESHOLD
    } else {
        EXIT_PASS
    };
    Verdict { exit_code, reasons, outcome_checks }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{fixtures, Invariant};

    fn settled() -> TruthReading {
        TruthReading { quiet: true, settled: true, reads: 1, ..TruthReading::default() }
    }

    fn decide(
        s: &Scenario,
        checks: &[Check],
        counts: &BTreeMap<Outcome, u64>,
        thresholds: &[ThresholdResult],
    ) -> Verdict {
        super::decide(s, checks, counts, thresholds, RunFacts { overrun: None, truth: &settled(), nothing_sent: None })
    }

    fn checks(failing: &[Invariant]) -> Vec<Check> {
        Invariant::ALL
            .iter()
            .map(|&i| Check::new(i, if failing.contains(&i) { Status::Fail } else { Status::Pass }, "d"))
            .collect()
    }

    #[test]
    fn exit_codes_follow_the_contract() {
        let mut s = fixtures::scenario(5, 10);
        let counts: BTreeMap<Outcome, u64> = [(Outcome::Won, 5)].into();
        assert_eq!(decide(&s, &checks(&[]), &counts, &[]).exit_code, EXIT_PASS);
        assert_eq!(decide(&s, &checks(&[Invariant::NoOversell]), &counts, &[]).exit_code, EXIT_VIOLATION);
        s.expect.outcomes.insert(Outcome::Won, CountExpectation::Exact(4));
        let v = decide(&s, &checks(&[]), &counts, &[]);
        assert_eq!(v.exit_code, EXIT_THRESHOLD);
        assert_eq!(v.reasons, vec!["expected count.won == 4, observed 5".to_string()]);
        assert_eq!(decide(&s, &checks(&[Invariant::NoOversell]), &counts, &[]).exit_code, EXIT_VIOLATION);
    }

    #[test]
    fn self_tests_pass_only_when_the_violation_is_caught() {
        let mut s = fixtures::scenario(5, 10);
        s.expect.violations = vec![Invariant::NoOversell];
        s.expect.may_also_violate = vec![Invariant::StockConserved];
        let counts = BTreeMap::new();
        assert_eq!(
            decide(&s, &checks(&[Invariant::NoOversell, Invariant::StockConserved]), &counts, &[]).exit_code,
            EXIT_PASS
        );
        assert_eq!(decide(&s, &checks(&[]), &counts, &[]).exit_code, EXIT_VIOLATION, "a missed violation fails");
        assert_eq!(
            decide(&s, &checks(&[Invariant::NoOversell, Invariant::PerBuyerLimit]), &counts, &[]).exit_code,
            EXIT_VIOLATION,
            "an unexpected violation fails"
        );
    }

    #[test]
    fn an_overrun_or_unsettled_truth_leaves_a_pass_unproven_but_a_violation_stands() {
        let s = fixtures::scenario(5, 10);
        let counts = BTreeMap::new();
        let overrun = Overrun { deadline_ms: 1500, cut_attempts: 7, unfinished_buyers: 0 };
        let facts = RunFacts { overrun: Some(&overrun), truth: &settled(), nothing_sent: None };
        let v = super::decide(&s, &checks(&[]), &counts, &[], facts);
        assert_eq!(v.exit_code, EXIT_ENVIRONMENT);
        assert!(v.reasons[0].starts_with("the run overran its deadline of 1.5s: 7 attempt(s)"), "{:?}", v.reasons);
        let v = super::decide(&s, &checks(&[Invariant::NoOversell]), &counts, &[], facts);
        assert_eq!(v.exit_code, EXIT_VIOLATION);
        let unsettled = TruthReading { notes: vec!["still changing".into()], ..TruthReading::default() };
        let v = super::decide(
            &s,
            &checks(&[]),
            &counts,
            &[],
            RunFacts { overrun: None, truth: &unsettled, nothing_sent: None },
        );
        assert_eq!(v.exit_code, EXIT_ENVIRONMENT);
        assert!(v.reasons[0].contains("had not settled") && v.reasons[0].contains("still changing"));
    }

    #[test]
    fn suite_severity_order() {
        assert_eq!(most_severe([0, 3, 4, 1]), 1);
        assert_eq!(most_severe([0, 3, 4]), 4);
        assert_eq!(most_severe([1, 2]), 2);
        assert_eq!(most_severe([0, 3]), 3);
        assert_eq!(most_severe([]), 0);
    }
}
