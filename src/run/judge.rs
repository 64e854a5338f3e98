//! The verdict and its exit code, decided in one place ([`judge`]) from every fact of a run:
//! the invariants (safety and liveness, with self-test expectations), expected outcome counts
//! and thresholds, the faults that could not be tested, the truth reading, an environment that
//! failed, and an interruption; and for a whole scenario ([`fold`]) from its repetitions and
//! its regressions against a baseline. Nothing patches a verdict after it.
//!
//! Exit codes (a contract, documented in the README): `0` all passed, `1` an invariant was
//! violated (or a self-test's expected violation was missed), `2` usage or scenario error,
//! `3` a threshold or expected count failed while invariants held, `4` the environment failed.

use crate::model::check::{Check, Status};
use crate::model::exit::Exit;
/// What a run's verdict says: `pass`, `fail` or `interrupted` in `summary.json`.
pub use crate::model::exit::Verdict as Kind;
use crate::model::threshold::ThresholdResult;
use crate::model::threshold::ThresholdStatus;
use crate::model::Overrun;
use crate::model::TruthReading;
use crate::model::{Interruption, Outcome, OutcomeCheck};
use crate::scenario::{CountExpectation, Scenario};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub kind: Kind,
    pub exit_code: Exit,
    /// Why it did not pass, one line each; empty on a pass.
    pub reasons: Vec<String>,
    pub outcome_checks: Vec<OutcomeCheck>,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.exit_code == Exit::Pass
    }
}

/// Every fact a run's verdict is decided from. Beside the checks and counts, what happened to
/// the run itself: a deadline that cut attempts short, a ground truth that had not settled, no
/// order request sent at all, a fault that could not act: each leaves a pass unproven, so the
/// run then exits 4 (unless an invariant was violated: that stands, it is a proof). An
/// environment that failed (no truth read) leaves nothing checked: exit 4. A signal decides
/// the exit code last (130, 143), a violation found before it still named.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts<'a> {
    pub checks: &'a [Check],
    pub counts: Option<&'a BTreeMap<Outcome, u64>>,
    pub thresholds: &'a [ThresholdResult],
    pub overrun: Option<&'a Overrun>,
    /// The truth reading; `None` when truth was never read (then `environment` says why).
    pub truth: Option<&'a TruthReading>,
    /// Why no order request was sent at all, when none was (every attempt `not_sent`).
    pub nothing_sent: Option<&'a str>,
    /// Why the environment failed (the target did not start, the load or truth could not run).
    pub environment: Option<&'a str>,
    /// Faults that could not act, or whose trigger never came: untested, one line each.
    pub untested_faults: &'a [String],
    pub interruption: Option<&'a Interruption>,
}

impl Facts<'_> {
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(self.untested_faults.iter().cloned());
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
        if let Some(truth) = self.truth.filter(|t| !t.settled) {
            out.push(format!("ground truth had not settled, so a pass proves nothing: {}", truth.notes.join("; ")));
        }
        out
    }
}

/// Decides the verdict of one run (one repetition) from all its facts.
pub fn judge(s: &Scenario, facts: &Facts) -> Verdict {
    let verdict = match facts.environment {
        Some(error) => Verdict {
            kind: Kind::Fail,
            exit_code: Exit::Environment,
            reasons: facts.untested_faults.iter().cloned().chain([format!("environment failed: {error}")]).collect(),
            outcome_checks: Vec::new(),
        },
        None => decide(s, facts),
    };
    match facts.interruption {
        Some(i) => interrupted(s, facts, verdict, i),
        None => verdict,
    }
}

/// An interrupted run exits with its signal's code; a violation found before it stands and is
/// named, as does an environment that failed.
fn interrupted(s: &Scenario, facts: &Facts, verdict: Verdict, i: &Interruption) -> Verdict {
    let mut reasons = vec![i.reason.clone()];
    reasons.extend(
        facts
            .checks
            .iter()
            .filter(|c| c.status == Status::Fail && !s.expect.violations.contains(&c.name))
            .map(|c| format!("{} violated before the interruption (a violation stands): {}", c.name.name(), c.detail)),
    );
    reasons.extend(verdict.reasons.into_iter().filter(|r| r.starts_with("environment failed")));
    Verdict { kind: Kind::Interrupted, exit_code: i.exit_code, reasons, outcome_checks: verdict.outcome_checks }
}

/// The verdict of a run whose ground truth was read.
fn decide(s: &Scenario, facts: &Facts) -> Verdict {
    let empty = BTreeMap::new();
    let counts = facts.counts.unwrap_or(&empty);
    let mut reasons = Vec::new();
    let mut violated = false;
    for c in facts.checks {
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
    for t in facts.thresholds.iter().filter(|t| t.status != ThresholdStatus::Pass) {
        missed = true;
        reasons.push(format!("threshold {} failed: observed {}", t.expression, t.observed_text));
    }
    let problems = facts.problems();
    let unproven = !problems.is_empty();
    reasons.extend(problems);
    let exit_code = if violated {
        Exit::Violation
    } else if unproven {
        Exit::Environment
    } else if missed {
        Exit::Threshold
    } else {
        Exit::Pass
    };
    Verdict { kind: exit_code.verdict(), exit_code, reasons, outcome_checks }
}

/// The verdict of a whole scenario from its repetitions' exit codes as they count (see
/// `repeat`) and its regressions against a baseline (each fails the run with exit 3 unless
/// something worse did): the most severe code decides.
pub fn fold(codes: &[Exit], regressions: &[String]) -> (Kind, Exit) {
    let regressed = (!regressions.is_empty()).then_some(Exit::Threshold);
    let code = Exit::most_severe(codes.iter().copied().chain(regressed));
    (code.verdict(), code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;
    use crate::model::check::Invariant;

    fn settled() -> TruthReading {
        TruthReading { quiet: true, settled: true, reads: 1, ..TruthReading::default() }
    }

    fn decide(
        s: &Scenario,
        checks: &[Check],
        counts: &BTreeMap<Outcome, u64>,
        thresholds: &[ThresholdResult],
    ) -> Verdict {
        let truth = settled();
        judge(s, &Facts { checks, counts: Some(counts), thresholds, truth: Some(&truth), ..Facts::default() })
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
        assert_eq!(decide(&s, &checks(&[]), &counts, &[]).exit_code, Exit::Pass);
        assert_eq!(decide(&s, &checks(&[]), &counts, &[]).kind, Kind::Pass);
        assert_eq!(decide(&s, &checks(&[Invariant::NoOversell]), &counts, &[]).exit_code, Exit::Violation);
        s.expect.outcomes.insert(Outcome::Won, CountExpectation::Exact(4));
        let v = decide(&s, &checks(&[]), &counts, &[]);
        assert_eq!((v.exit_code, v.kind), (Exit::Threshold, Kind::Fail));
        assert_eq!(v.reasons, vec!["expected count.won == 4, observed 5".to_string()]);
        assert_eq!(decide(&s, &checks(&[Invariant::NoOversell]), &counts, &[]).exit_code, Exit::Violation);
    }

    #[test]
    fn self_tests_pass_only_when_the_violation_is_caught() {
        let mut s = fixtures::scenario(5, 10);
        s.expect.violations = vec![Invariant::NoOversell];
        s.expect.may_also_violate = vec![Invariant::StockConserved];
        let counts = BTreeMap::new();
        assert_eq!(
            decide(&s, &checks(&[Invariant::NoOversell, Invariant::StockConserved]), &counts, &[]).exit_code,
            Exit::Pass
        );
        assert_eq!(decide(&s, &checks(&[]), &counts, &[]).exit_code, Exit::Violation, "a missed violation fails");
        assert_eq!(
            decide(&s, &checks(&[Invariant::NoOversell, Invariant::PerBuyerLimit]), &counts, &[]).exit_code,
            Exit::Violation,
            "an unexpected violation fails"
        );
    }

    #[test]
    fn an_overrun_or_unsettled_truth_leaves_a_pass_unproven_but_a_violation_stands() {
        let s = fixtures::scenario(5, 10);
        let overrun = Overrun { deadline_ms: 1500, cut_attempts: 7, unfinished_buyers: 0 };
        let truth = settled();
        let (pass, oversold) = (checks(&[]), checks(&[Invariant::NoOversell]));
        let facts = Facts { checks: &pass, overrun: Some(&overrun), truth: Some(&truth), ..Facts::default() };
        let v = judge(&s, &facts);
        assert_eq!(v.exit_code, Exit::Environment);
        assert!(v.reasons[0].starts_with("the run overran its deadline of 1.5s: 7 attempt(s)"), "{:?}", v.reasons);
        let v = judge(&s, &Facts { checks: &oversold, ..facts });
        assert_eq!(v.exit_code, Exit::Violation);
        let unsettled = TruthReading { notes: vec!["still changing".into()], ..TruthReading::default() };
        let v = judge(&s, &Facts { checks: &pass, truth: Some(&unsettled), ..Facts::default() });
        assert_eq!(v.exit_code, Exit::Environment);
        assert!(v.reasons[0].contains("had not settled") && v.reasons[0].contains("still changing"));
    }

    #[test]
    fn an_untested_fault_leaves_a_pass_unproven_but_a_violation_stands() {
        let s = fixtures::scenario(5, 10);
        let truth = settled();
        let untested = vec!["fault 0 (kill) never came: the load ended before its trigger".to_string()];
        let pass = checks(&[]);
        let facts = Facts { checks: &pass, truth: Some(&truth), untested_faults: &untested, ..Facts::default() };
        let v = judge(&s, &facts);
        assert_eq!((v.kind, v.exit_code), (Kind::Fail, Exit::Environment));
        assert_eq!(v.reasons, untested);
        let oversold = checks(&[Invariant::NoOversell]);
        assert_eq!(judge(&s, &Facts { checks: &oversold, ..facts }).exit_code, Exit::Violation);
    }

    #[test]
    fn an_environment_that_failed_checks_nothing_even_for_a_self_test() {
        let mut s = fixtures::scenario(5, 10);
        s.expect.violations = vec![Invariant::NoOversell];
        let unchecked = crate::verify::unchecked("the target did not start");
        let v = judge(&s, &Facts { checks: &unchecked, environment: Some("it did not start"), ..Facts::default() });
        assert_eq!((v.kind, v.exit_code), (Kind::Fail, Exit::Environment), "not a missed catch (exit 1)");
        assert_eq!(v.reasons, vec!["environment failed: it did not start".to_string()]);
    }

    #[test]
    fn a_signal_decides_the_code_last_and_a_violation_found_before_it_stands() {
        let s = fixtures::scenario(5, 10);
        let truth = settled();
        let oversold = checks(&[Invariant::NoOversell]);
        let i = Interruption {
            signal: "SIGTERM".into(),
            during: "verifying".into(),
            load_complete: true,
            cut_attempts: 0,
            stopped_buyers: 0,
            exit_code: Exit::Terminated,
            reason: "interrupted by SIGTERM in phase `verifying`: the load had finished".into(),
        };
        let v =
            judge(&s, &Facts { checks: &oversold, truth: Some(&truth), interruption: Some(&i), ..Facts::default() });
        assert_eq!((v.kind, v.exit_code), (Kind::Interrupted, Exit::Terminated));
        assert!(v.reasons[0].starts_with("interrupted by SIGTERM in phase `verifying`"), "{:?}", v.reasons);
        assert!(v.reasons[1].starts_with("no_oversell violated before the interruption"), "{:?}", v.reasons);
    }

    #[test]
    fn a_scenario_folds_its_repetitions_and_regressions() {
        use Exit::*;
        assert_eq!(fold(&[Pass, Pass], &[]), (Kind::Pass, Pass));
        assert_eq!(fold(&[Pass, Pass], &["regression: p99".into()]), (Kind::Fail, Threshold));
        assert_eq!(fold(&[Violation], &["regression: p99".into()]), (Kind::Fail, Violation));
        assert_eq!(
            fold(&[Pass, Interrupted], &[]),
            (Kind::Interrupted, Interrupted),
            "an interrupted repetition stays interrupted"
        );
    }

    #[test]
    fn suite_severity_order() {
        let worst = |codes: &[i32]| Exit::most_severe(codes.iter().map(|&c| Exit::from_code(c))).code();
        assert_eq!(worst(&[0, 3, 4, 1]), 1);
        assert_eq!(worst(&[0, 3, 4]), 4);
        assert_eq!(worst(&[1, 2]), 2);
        assert_eq!(worst(&[0, 3]), 3);
        assert_eq!(worst(&[]), 0);
    }
}
