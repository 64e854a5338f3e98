//! The terminal summary: verdict first, then stock and orders, outcomes, invariants with
//! evidence, latency per outcome, throughput and send skew.

use super::Summary;
use crate::color::{paint, status, Paint, Stream};
use crate::model::check::Status;
use crate::model::exit::{Exit, Verdict};
use crate::model::threshold::ThresholdStatus;
use std::fmt::Write;

/// A status word for stdout, coloured by what it means when stdout has colour.
fn mark(word: &str) -> String {
    status(Stream::Stdout, word)
}

/// `PASS`, `FAIL` or `INTERRUPTED`, coloured.
pub fn verdict_word(s: &Summary) -> String {
    match (s.passed(), s.interrupted.is_some()) {
        (_, true) => paint(Stream::Stdout, Paint::Warn, "INTERRUPTED"),
        (true, false) => paint(Stream::Stdout, Paint::Good, "PASS"),
        (false, false) => paint(Stream::Stdout, Paint::Bad, "FAIL"),
    }
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

/// The full summary of one run, as text.
pub fn render(s: &Summary, run_dir: Option<&std::path::Path>) -> String {
    let mut o = String::new();
    header(&mut o, s);
    stock_and_outcomes(&mut o, s);
    load(&mut o, s);
    invariants(&mut o, s);
    latency(&mut o, s);
    repetitions_and_baseline(&mut o, s);
    if let Some(dir) = run_dir {
        let _ = writeln!(o, "\nsummary    {}", dir.join("summary.json").display());
        let _ = writeln!(
            o,
            "report     {}",
            paint(Stream::Stdout, Paint::Bold, &dir.join("index.html").display().to_string())
        );
    }
    o
}

/// The scenario, the target, the verdict and its reasons.
fn header(o: &mut String, s: &Summary) {
    let verdict = verdict_word(s);
    match s.description.trim() {
        "" => writeln!(o, "flashbench · {}", s.scenario),
        d => writeln!(o, "flashbench · {} — {d}", s.scenario),
    }
    .ok();
    let t = &s.target;
    let _ = writeln!(o, "target     {}", target_line(t));
    if t.kind == "http" {
        let _ = writeln!(o, "truth      {}", t.store);
    } else if t.backend != "memory" {
        match &t.store_version {
            Some(v) => writeln!(o, "store      {} ({v})", t.store),
            None => writeln!(o, "store      {}", t.store),
        }
        .ok();
    }
    if let Some(alive) = t.after_run {
        let _ = writeln!(o, "after run  {}", liveness(alive));
    }
    let _ = writeln!(o, "verdict    {verdict} (exit {}): {}", s.exit_code, s.headline());
    for r in s.reasons.iter().skip(1) {
        let _ = writeln!(o, "           · {r}");
    }
    if let Some(e) = &s.error {
        let _ = writeln!(o, "error      {e}");
    }
}

/// Ground truth per product, the outcome counts, expected counts and thresholds.
fn stock_and_outcomes(o: &mut String, s: &Summary) {
    let _ = writeln!(o, "\nproduct                 initial    final   orders");
    for p in &s.products {
        let _ = writeln!(o, "  {:<20} {:>8} {:>8} {:>8}", p.id, p.initial_stock, p.final_text(), p.orders_text());
    }
    for line in truth_lines(s) {
        let _ = writeln!(o, "  {line}");
    }
    let outcomes: Vec<String> = s.outcomes.iter().filter(|(_, &n)| n > 0).map(|(k, n)| format!("{k} {n}")).collect();
    let _ = writeln!(o, "\noutcomes   {}", if outcomes.is_empty() { "none".to_string() } else { outcomes.join(" · ") });
    for oc in &s.expected_outcomes {
        let _ = writeln!(
            o,
            "  {} count.{} {} (observed {})",
            mark(if oc.pass { "ok  " } else { "FAIL" }),
            oc.outcome,
            oc.expected,
            oc.observed
        );
    }
    for t in &s.thresholds {
        let _ = writeln!(
            o,
            "  {} {}  (observed {})",
            mark(if t.status == ThresholdStatus::Pass { "ok  " } else { "FAIL" }),
            t.expression,
            t.observed_text
        );
    }
}

/// What the load did: attempts, throughput and skew, its lines, errors, connections, memory.
fn load(o: &mut String, s: &Summary) {
    let sent = s.attempts.saturating_sub(s.outcomes.get("not_sent").copied().unwrap_or(0));
    if sent == 0 {
        let _ = writeln!(o, "attempts   {} by {} buyers, none reached the target", s.attempts, s.buyers);
    } else {
        let _ = writeln!(
            o,
            "attempts   {} by {} buyers in {} ms ({:.0}/s); send skew p50 {} ms, p99 {} ms, max {} ms",
            s.attempts,
            s.buyers,
            s.load_ms,
            s.throughput_rps,
            ms(s.send_skew_us.p50),
            ms(s.send_skew_us.p99),
            ms(s.send_skew_us.max)
        );
    }
    for line in super::lines::load(s) {
        let _ = writeln!(o, "           {line}");
    }
    for e in &s.top_errors {
        let _ = writeln!(o, "           {} × {}", e.count, e.message);
    }
    if s.connect_failures > 0 || s.late_buyers > 0 {
        let _ = writeln!(
            o,
            "           {} buyers failed to connect, {} were late for the release",
            s.connect_failures, s.late_buyers
        );
    }
    if s.early_answers > 0 {
        let _ = writeln!(
            o,
            "           {} prepared requests were answered before the release sent their last byte \
             (the server's own request timeout?): no such answer was taken for an order's; \
             each request was prepared again",
            s.early_answers
        );
    }
    if let Some(line) = memory_line(s) {
        let _ = writeln!(o, "           {line}");
    }
}

/// The invariants by kind, or one line when none could be checked.
fn invariants(o: &mut String, s: &Summary) {
    let _ = writeln!(o, "\ninvariants");
    let unchecked =
        s.invariants.iter().all(|i| i.status == Status::NotApplicable && i.detail.starts_with("not checked"));
    if unchecked {
        let _ = writeln!(
            o,
            "  {}    all {} were not checked: the run did not reach ground truth",
            mark("n/a"),
            s.invariants.len()
        );
    }
    for kind in [crate::model::check::Kind::Safety, crate::model::check::Kind::Liveness] {
        let of_kind: Vec<_> = s.invariants.iter().filter(|i| !unchecked && i.name.kind() == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        let _ = writeln!(o, "  {}", kind.name());
        for i in of_kind {
            invariant_line(o, i);
        }
    }
}

/// Latency and service time per outcome.
fn latency(o: &mut String, s: &Summary) {
    let _ =
        writeln!(o, "\nlatency ms        count      p50      p90      p99    p99.9      max | service p50      p99");
    for (name, l) in &s.latency_us {
        if l.count == 0 && name != "all" {
            continue;
        }
        let svc = s.service_time_us.get(name).copied().unwrap_or_default();
        let _ = writeln!(
            o,
            "  {:<14}{:>8} {:>8} {:>8} {:>8} {:>8} {:>8} | {:>11} {:>8}",
            name,
            l.count,
            ms(l.p50),
            ms(l.p90),
            ms(l.p99),
            ms(l.p999),
            ms(l.max),
            ms(svc.p50),
            ms(svc.p99)
        );
    }
    let _ = writeln!(o, "  (latency: intended start → answer; service: sent → answer)");
}

/// Each failed repetition, the violation rates, and the comparison with a baseline.
fn repetitions_and_baseline(o: &mut String, s: &Summary) {
    if !s.repetitions.is_empty() {
        let passed = s.repetitions.iter().filter(|r| r.exit_code == Exit::Pass).count();
        let _ = writeln!(o, "\nrepetitions {passed} of {} passed", s.repetitions.len());
        for r in s.repetitions.iter().filter(|r| r.exit_code != Exit::Pass) {
            let _ = writeln!(o, "  #{:<4} exit {}  {}", r.index, r.exit_code, r.reason.as_deref().unwrap_or(""));
        }
        for (name, rate) in s.violation_rate.iter().filter(|(_, r)| **r > 0.0) {
            let _ = writeln!(o, "  violation rate {name}: {:.1}%", rate * 100.0);
        }
    }
    if let Some(b) = &s.baseline {
        let _ = writeln!(o, "\nbaseline   {} {}", b.file, b.basis());
        let _ = writeln!(o, "  {:<24}{:>14}{:>14}{:>10}  limit", "metric", "before", "now", "change");
        for r in &b.rows {
            let limit = r.limit_percent.map_or("-".to_string(), |l| format!("{l}%"));
            let mark = match (r.status.as_str(), r.limit_percent) {
                ("fail", _) => format!("  {}", mark("REGRESSED")),
                ("n/a", Some(_)) => format!("  {}", paint(Stream::Stdout, Paint::Muted, "n/a: not compared")),
                _ => String::new(),
            };
            let _ = writeln!(
                o,
                "  {:<24}{:>14}{:>14}{:>10}  {limit}{mark}",
                r.metric,
                r.before_text,
                r.now_text,
                r.change_text()
            );
        }
    }
}

/// `memory: flashbench 41 → 98 MB (12.1 KB per connection); servers 30 → 180 MB (30.2 KB per connection)`
pub fn memory_line(s: &Summary) -> Option<String> {
    let r = s.resources.as_ref()?;
    let mb = |b: u64| format!("{:.0}", b as f64 / 1e6);
    let per = |v: Option<f64>| v.map_or(String::new(), |b| format!(" ({:.1} KB per connection)", b / 1e3));
    let mut line = format!(
        "memory: flashbench {} → {} MB{}",
        mb(r.flashbench.before_load_bytes),
        mb(r.flashbench.peak_bytes),
        per(r.flashbench_bytes_per_connection)
    );
    if let Some(sv) = r.servers {
        line.push_str(&format!(
            "; servers {} → {} MB{}",
            mb(sv.before_load_bytes),
            mb(sv.peak_bytes),
            per(r.server_bytes_per_connection)
        ));
    }
    Some(line)
}

/// The target in one line: `reference sqlite/conditional ×1 (in-process), rate limit 1000/min`
/// or `http http://shop:8000`.
pub fn target_line(t: &super::TargetInfo) -> String {
    if t.kind == "http" {
        format!("http {}", t.urls.join(", "))
    } else {
        format!(
            "{} {}/{} ×{} ({}), rate limit {}",
            t.kind, t.backend, t.strategy, t.instances, t.placement, t.rate_limit
        )
    }
}

/// `responsive` or `UNRESPONSIVE (did not answer after the load)`.
pub fn liveness(l: crate::model::Liveness) -> &'static str {
    match l {
        crate::model::Liveness::Responsive => "responsive",
        crate::model::Liveness::Unresponsive => "UNRESPONSIVE: no answer to a request after the load",
    }
}

/// What the reader of the stock table should know about it: which repetition it is, what
/// the indeterminate attempts did, and how ground truth was read when that was not plain.
pub fn truth_lines(s: &Summary) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(k) = s.shown_repetition {
        out.push(format!("(repetition {k} of {}; counts and latency below are pooled)", s.repetitions.len()));
    }
    if let Some(line) = s.indeterminate_line() {
        let over = if s.shown_repetition.is_some() { " (all repetitions)" } else { "" };
        out.push(format!("indeterminate{over}: {line}"));
    }
    if let Some(q) = &s.queued {
        out.push(format!("queued: {}", q.line()));
    }
    if let Some(t) = &s.truth {
        if t.reads > 1 || !t.notes.is_empty() {
            let after = if s.target.kind == "http" { "read" } else { "read after the target was quiet" };
            let state = match (t.quiet, t.settled, t.reads) {
                (true, true, 1) => "read once, after the target was quiet and every attempt answered".to_string(),
                (true, true, 2) => format!("{after}; two reads agreed"),
                (true, true, n) => format!("{after}; the last two of {n} reads agreed"),
                (_, _, n) => format!("NOT settled after {n} reads"),
            };
            let notes = if t.notes.is_empty() { String::new() } else { format!(" ({})", t.notes.join("; ")) };
            out.push(format!("ground truth {state}, {} ms after the load{notes}", t.waited_ms));
        }
    }
    out
}

/// One line per scenario of a suite, and the suite's exit code.
pub fn render_suite(rows: &[(String, Exit, String)], exit_code: Exit) -> String {
    let mut o = String::from("\nsuite\n");
    let width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    for (name, code, what) in rows {
        let word = match code.verdict() {
            Verdict::Pass => "PASS ",
            Verdict::Interrupted => "INTERRUPTED ",
            Verdict::Fail => "FAIL ",
        };
        let _ = writeln!(o, "  {} exit {code}  {name:<width$}  {what}", mark(word));
    }
    let passed = rows.iter().filter(|r| r.1 == Exit::Pass).count();
    let _ = writeln!(o, "{passed} passed, {} failed; suite exit {exit_code}", rows.len() - passed);
    o
}

/// One invariant of the summary, with a few examples of a failure.
fn invariant_line(o: &mut String, i: &crate::model::InvariantSummary) {
    let mark = match (i.status, i.expected_violation) {
        (Status::Pass, false) => "pass",
        (Status::Fail, true) => "CAUGHT",
        (Status::Fail, false) => "FAIL",
        (Status::Pass, true) => "MISSED",
        (Status::NotApplicable, true) => "MISSED",
        (Status::NotApplicable, false) => "n/a",
    };
    let _ = writeln!(o, "  {}{:<24}{}", status(Stream::Stdout, &format!("{mark:<7}")), i.name.name(), i.detail);
    if !i.examples.is_empty() {
        let shown: Vec<&str> = i.examples.iter().take(3).map(String::as_str).collect();
        let more = i.examples.len().saturating_sub(shown.len());
        let more = if more > 0 { format!(" (+{more} more in summary.json)") } else { String::new() };
        let _ = writeln!(o, "  {:<31}e.g. {}{more}", "", shown.join("; "));
    }
}

/// The self-tests of a suite as a table, mutant × invariant: `CAUGHT` (expected and found),
/// `MISSED` (expected, not found), `also` (found and tolerated), `FAIL` (found, not
/// expected), `·` (held or not applicable). `None` when no scenario is a self-test.
pub fn render_self_tests(summaries: &[&Summary]) -> Option<String> {
    use crate::model::check::Invariant;
    let tests: Vec<&&Summary> =
        summaries.iter().filter(|s| s.invariants.iter().any(|i| i.expected_violation)).collect();
    if tests.is_empty() {
        return None;
    }
    let short = |i: Invariant| match i {
        Invariant::NoOversell => "oversell",
        Invariant::NoUndersell => "undersell",
        Invariant::StockConserved => "conserved",
        Invariant::StockNeverNegative => "negative",
        Invariant::AckedOrdersDurable => "durable",
        Invariant::NoPhantomOrders => "phantom",
        Invariant::PerBuyerLimit => "limit",
        Invariant::NoWinAfterSoldOut => "late win",
        Invariant::EveryBuyerAnswered => "answered",
        Invariant::TargetAliveAfterRun => "alive",
    };
    let label = |s: &Summary| {
        let n = if s.target.instances > 1 { format!(" ×{}", s.target.instances) } else { String::new() };
        format!("{}/{}{n}", s.target.backend, s.target.strategy)
    };
    let width = tests.iter().map(|s| label(s).len()).max().unwrap_or(0).max(6);
    let mut o = format!("\nself-tests: mutant × invariant\n  {:<width$}", "mutant");
    for i in Invariant::ALL {
        let _ = write!(o, " {:>10}", short(i));
    }
    o.push('\n');
    let mut missed = 0;
    for s in &tests {
        let _ = write!(o, "  {:<width$}", label(s));
        for inv in Invariant::ALL {
            let cell = match s.invariants.iter().find(|i| i.name == inv) {
                Some(i) => match (i.status, i.expected_violation) {
                    (Status::Fail, true) => "CAUGHT",
                    (_, true) if s.interrupted.is_some() => "n/a",
                    (_, true) => {
                        missed += 1;
                        "MISSED"
                    }
                    (Status::Fail, false) if s.exit_code == Exit::Pass => "also",
                    (Status::Fail, false) => "FAIL",
                    _ => "·",
                },
                None => "?",
            };
            let _ = write!(o, " {}", mark(&format!("{cell:>10}")));
        }
        o.push('\n');
    }
    let _ = writeln!(
        o,
        "{} mutant(s), {}",
        tests.len(),
        if missed == 0 {
            "every one caught by the invariant it targets".to_string()
        } else {
            format!("{missed} MISSED")
        }
    );
    Some(o)
}
