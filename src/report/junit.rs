//! `junit.xml`: one testsuite per scenario, one testcase per invariant and per threshold, with
//! the evidence in each failure; the format the JUnit consumers of common CI systems read.

use super::html::esc;
use super::Summary;
use crate::model::baseline::LimitStatus;
use crate::model::check::Status;
use crate::model::threshold::ThresholdStatus;
use std::fmt::Write;

/// One `<testsuite>` element for a run.
pub fn testsuite(s: &Summary) -> (String, Counts) {
    let mut cases = String::new();
    let mut n = Counts::default();
    let class = format!("flashbench.{}", s.scenario);
    environment_case(&mut cases, &mut n, s, &class);
    invariant_cases(&mut cases, &mut n, s, &class);
    threshold_cases(&mut cases, &mut n, s, &class);
    baseline_cases(&mut cases, &mut n, s, &class);
    (wrapped(s, &cases, n), n)
}

/// The environment's failure, as a testcase in error.
fn environment_case(cases: &mut String, n: &mut Counts, s: &Summary, class: &str) {
    if let Some(err) = &s.error {
        n.tests += 1;
        n.errors += 1;
        let _ = writeln!(
            cases,
            "    <testcase classname=\"{}.environment\" name=\"environment\" time=\"0\"><error message=\"{}\" type=\"environment\">{}</error></testcase>",
            esc(class),
            esc(err),
            esc(err)
        );
    }
}

/// One testcase per invariant: failed, skipped (not applicable), or caught as a self-test expects.
fn invariant_cases(cases: &mut String, n: &mut Counts, s: &Summary, class: &str) {
    for i in &s.invariants {
        n.tests += 1;
        let head =
            format!("    <testcase classname=\"{}.invariants\" name=\"{}\" time=\"0\"", esc(class), i.name.name());
        let evidence = if i.examples.is_empty() {
            i.detail.clone()
        } else {
            format!("{}\ne.g. {}", i.detail, i.examples.join("\n"))
        };
        match (i.status, i.expected_violation) {
            (Status::Fail, false) => {
                n.failures += 1;
                let _ = writeln!(
                    cases,
                    "{head}><failure message=\"{} violated: {}\" type=\"invariant\">{}</failure></testcase>",
                    i.name.name(),
                    esc(&i.detail),
                    esc(&evidence)
                );
            }
            (Status::Pass | Status::NotApplicable, true) => {
                n.failures += 1;
                let _ = writeln!(
                    cases,
                    "{head}><failure message=\"expected violation of {} was not found\" type=\"self-test\">{}</failure></testcase>",
                    i.name.name(),
                    esc(&evidence)
                );
            }
            (Status::NotApplicable, false) => {
                n.skipped += 1;
                let _ = writeln!(cases, "{head}><skipped message=\"not applicable: {}\"/></testcase>", esc(&i.detail));
            }
            (Status::Fail, true) => {
                let _ = writeln!(
                    cases,
                    "{head}><system-out>caught, as expected: {}</system-out></testcase>",
                    esc(&evidence)
                );
            }
            (Status::Pass, false) => {
                let _ = writeln!(cases, "{head}/>");
            }
        }
    }
}

/// One testcase per threshold and expected outcome count.
fn threshold_cases(cases: &mut String, n: &mut Counts, s: &Summary, class: &str) {
    // Expected outcome counts and threshold expressions are both thresholds to CI.
    let counts = s
        .expected_outcomes
        .iter()
        .map(|t| (format!("count.{} {}", t.outcome, t.expected), t.pass, t.observed.to_string()));
    let exprs =
        s.thresholds.iter().map(|t| (t.expression.clone(), t.status == ThresholdStatus::Pass, t.observed_text.clone()));
    for (name, pass, observed) in counts.chain(exprs) {
        n.tests += 1;
        let head = format!("    <testcase classname=\"{}.thresholds\" name=\"{}\" time=\"0\"", esc(class), esc(&name));
        if pass {
            let _ = writeln!(cases, "{head}/>");
        } else {
            n.failures += 1;
            let _ = writeln!(
                cases,
                "{head}><failure message=\"{} (observed {})\" type=\"threshold\">observed {}</failure></testcase>",
                esc(&name),
                esc(&observed),
                esc(&observed)
            );
        }
    }
}

/// One testcase per baseline metric with a limit.
fn baseline_cases(cases: &mut String, n: &mut Counts, s: &Summary, class: &str) {
    if let Some(b) = &s.baseline {
        for r in b.rows.iter().filter(|r| r.limit_percent.is_some()) {
            n.tests += 1;
            let name = format!("{} regression <= {}%", r.metric, r.limit_percent.unwrap_or(0.0));
            let head =
                format!("    <testcase classname=\"{}.baseline\" name=\"{}\" time=\"0\"", esc(class), esc(&name));
            if r.status == LimitStatus::Fail {
                n.failures += 1;
                let _ = writeln!(
                    cases,
                    "{head}><failure message=\"{} {} → {} ({})\" type=\"regression\">baseline {}</failure></testcase>",
                    esc(&r.metric),
                    esc(&r.before_text),
                    esc(&r.now_text),
                    r.change_text(),
                    esc(&b.file)
                );
            } else if r.status == LimitStatus::NotApplicable {
                n.skipped += 1;
                let _ = writeln!(
                    cases,
                    "{head}><skipped message=\"not compared: {} is n/a in the baseline or now\"/></testcase>",
                    esc(&r.metric)
                );
            } else {
                let _ = writeln!(cases, "{head}/>");
            }
        }
    }
}

/// The `<testsuite>` element around `cases`, with its counts and the target's properties.
fn wrapped(s: &Summary, cases: &str, n: Counts) -> String {
    let t = &s.target;
    let props = [
        ("backend", t.backend.as_str()),
        ("strategy", t.strategy.as_str()),
        ("placement", t.placement.as_str()),
        ("store", t.store.as_str()),
    ];
    let mut xml = format!(
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\" timestamp=\"{}\">\n    <properties>\n",
        esc(&s.scenario),
        n.tests,
        n.failures,
        n.errors,
        n.skipped,
        s.duration_ms as f64 / 1000.0,
        esc(s.started_at.trim_end_matches('Z'))
    );
    for (k, v) in props {
        let _ = writeln!(xml, "      <property name=\"{k}\" value=\"{}\"/>", esc(v));
    }
    let _ = writeln!(xml, "      <property name=\"instances\" value=\"{}\"/>", t.instances);
    xml.push_str("    </properties>\n");
    xml.push_str(cases);
    xml.push_str("  </testsuite>\n");
    xml
}

/// Test counts of a testsuite.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub tests: u32,
    pub failures: u32,
    pub errors: u32,
    pub skipped: u32,
}

/// A whole `junit.xml` for one or more runs.
pub fn document(summaries: &[&Summary]) -> String {
    let mut total = Counts::default();
    let mut body = String::new();
    let mut time = 0.0;
    for s in summaries {
        let (xml, n) = testsuite(s);
        body.push_str(&xml);
        total.tests += n.tests;
        total.failures += n.failures;
        total.errors += n.errors;
        total.skipped += n.skipped;
        time += s.duration_ms as f64 / 1000.0;
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"flashbench\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{time:.3}\">\n{body}</testsuites>\n",
        total.tests, total.failures, total.errors, total.skipped
    )
}
