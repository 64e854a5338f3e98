//! `summary.md`: a compact Markdown summary, fit for a CI job summary page.

use super::Summary;
use crate::model::check::Status;
use crate::model::exit::Exit;
use crate::model::threshold::ThresholdStatus;
use std::fmt::Write;

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

/// Markdown cells cannot hold `|` or newlines.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The run's summary as Markdown (a CI job summary, a pull-request comment).
pub fn render(s: &Summary) -> String {
    let mut o = String::new();
    headline(&mut o, s);
    stock_and_invariants(&mut o, s);
    gates(&mut o, s);
    latency(&mut o, s);
    o
}

/// The verdict, the headline, the load in one line and the load's lines.
fn headline(o: &mut String, s: &Summary) {
    let (mark, verdict) = match (s.passed(), s.interrupted.is_some()) {
        (_, true) => ("⏹️", "INTERRUPTED"),
        (true, false) => ("✅", "PASS"),
        (false, false) => ("❌", "FAIL"),
    };
    let t = &s.target;
    let _ = writeln!(o, "## {mark} {} — {verdict} (exit {})\n", s.scenario, s.exit_code);
    let _ = writeln!(o, "{}\n", cell(&s.headline()));
    let _ = writeln!(
        o,
        "{} buyers · {} · {} attempts · {:.0}/s · send skew p99 {} ms\n",
        s.buyers,
        super::terminal::target_line(t),
        s.attempts,
        s.throughput_rps,
        ms(s.send_skew_us.p99)
    );
    for line in super::lines::load(s) {
        let _ = writeln!(o, "{}\n", cell(&line));
    }
}

/// Ground truth per product, and each invariant with its evidence.
fn stock_and_invariants(o: &mut String, s: &Summary) {
    o.push_str("| product | initial | final | orders |\n|---|---:|---:|---:|\n");
    for p in &s.products {
        let _ = writeln!(o, "| {} | {} | {} | {} |", cell(&p.id), p.initial_stock, p.final_text(), p.orders_text());
    }
    for line in super::terminal::truth_lines(s) {
        let _ = writeln!(o, "\n{}", cell(&line));
    }
    o.push_str("\n| invariant | kind | status | evidence |\n|---|---|---|---|\n");
    for i in super::by_kind(&s.invariants) {
        let status = match (i.status, i.expected_violation) {
            (Status::Pass, false) => "✅ pass",
            (Status::Fail, false) => "❌ FAIL",
            (Status::Fail, true) => "🎯 caught",
            (_, true) => "❌ missed",
            (Status::NotApplicable, false) => "➖ n/a",
        };
        let _ = writeln!(o, "| `{}` | {} | {status} | {} |", i.name.name(), i.name.kind().name(), cell(&i.detail));
    }
}

/// Expected outcome counts, thresholds, repetitions and the baseline.
fn gates(o: &mut String, s: &Summary) {
    if !s.expected_outcomes.is_empty() {
        o.push_str("\n| threshold | observed | |\n|---|---:|---|\n");
        for e in &s.expected_outcomes {
            let _ = writeln!(
                o,
                "| `count.{} {}` | {} | {} |",
                e.outcome,
                e.expected,
                e.observed,
                if e.pass { "✅" } else { "❌" }
            );
        }
    }
    if !s.thresholds.is_empty() {
        o.push_str("\n| threshold | observed | |\n|---|---:|---|\n");
        for t in &s.thresholds {
            let _ = writeln!(
                o,
                "| `{}` | {} | {} |",
                cell(&t.expression),
                t.observed_text,
                if t.status == ThresholdStatus::Pass { "✅" } else { "❌" }
            );
        }
    }
    if !s.repetitions.is_empty() {
        let passed = s.repetitions.iter().filter(|r| r.exit_code == Exit::Pass).count();
        let _ = writeln!(o, "\n**Repetitions:** {passed} of {} passed.", s.repetitions.len());
        for (name, rate) in s.violation_rate.iter().filter(|(_, r)| **r > 0.0) {
            let _ = writeln!(o, "- `{name}` violated in {:.1}% of repetitions", rate * 100.0);
        }
    }
    if let Some(b) = &s.baseline {
        if !b.basis().is_empty() {
            let _ = writeln!(o, "\nAgainst the baseline: {}.", b.basis());
        }
        o.push_str("\n| vs baseline | before | now | change | limit |\n|---|---:|---:|---:|---|\n");
        for r in &b.rows {
            let mark = match r.status.as_str() {
                "fail" => " ❌ regressed",
                "n/a" => " n/a: not compared",
                _ => " ✅",
            };
            let limit = r.limit_percent.map_or("".to_string(), |l| format!("{l}%{mark}"));
            let _ =
                writeln!(o, "| `{}` | {} | {} | {} | {limit} |", r.metric, r.before_text, r.now_text, r.change_text());
        }
    }
}

/// Latency per outcome, and an environment failure.
fn latency(o: &mut String, s: &Summary) {
    o.push_str("\n| latency (ms) | count | p50 | p99 | max |\n|---|---:|---:|---:|---:|\n");
    for (name, l) in s.latency_us.iter().filter(|(n, l)| l.count > 0 || n.as_str() == "all") {
        let _ = writeln!(o, "| {name} | {} | {} | {} | {} |", l.count, ms(l.p50), ms(l.p99), ms(l.max));
    }
    if let Some(err) = &s.error {
        let _ = writeln!(o, "\n**Environment failure:** {}", cell(err));
    }
}
