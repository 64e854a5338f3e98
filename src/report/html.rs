//! `index.html`: the run's report in one self-contained file (inline CSS and SVG; no script,
//! font or image from the network), linking the files beside it.

use super::charts::Chart;
use super::Summary;
use crate::model::check::Status;
use crate::model::exit::Exit;
use crate::model::threshold::ThresholdStatus;
use std::fmt::Write;

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

pub(crate) const CSS: &str = r#"
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d1d1f;background:#f6f7f9}
main{max-width:1040px;margin:0 auto;padding:0 20px 40px}
.banner{padding:22px 20px;color:#fff;margin-bottom:18px}
.banner.pass{background:#2a8a3e}.banner.fail{background:#c0392b}.banner.interrupted{background:#b7791f}
.banner h1{margin:0;font-size:28px}.banner p{margin:6px 0 0;font-size:16px}
section{background:#fff;border:1px solid #e2e4e8;border-radius:8px;padding:14px 18px;margin:14px 0}
h2{font-size:18px;margin:0 0 10px}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eceef1;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;color:#fff}
.b-pass{background:#2a8a3e}.b-fail{background:#c0392b}.b-na{background:#8a8f98}.b-caught{background:#1f6fb2}.b-missed{background:#c0392b}
.ex{color:#555;font-size:13px;margin-top:3px}
figure{margin:10px 0 24px}figure svg{width:100%;height:auto;border:1px solid #eceef1}
figcaption{font-size:13px;color:#555}
pre{background:#f3f4f6;padding:10px;overflow:auto;font-size:13px}
.muted{color:#666}
"#;

fn badge(status: Status, expected: bool) -> &'static str {
    match (status, expected) {
        (Status::Pass, false) => r#"<span class="badge b-pass">pass</span>"#,
        (Status::Fail, false) => r#"<span class="badge b-fail">FAIL</span>"#,
        (Status::Fail, true) => r#"<span class="badge b-caught">caught</span>"#,
        (_, true) => r#"<span class="badge b-missed">missed</span>"#,
        (Status::NotApplicable, false) => r#"<span class="badge b-na">n/a</span>"#,
    }
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

/// Inline SVG without its namespace URL (HTML does not need it), scaling to the page.
pub(crate) fn inline_svg(svg: &str) -> String {
    svg.replacen(r#" xmlns="http://www.w3.org/2000/svg""#, "", 1).replacen(
        &format!(r#"width="{}" height="{}""#, super::charts::WIDTH, super::charts::HEIGHT),
        r#"width="100%""#,
        1,
    )
}

/// Renders the report. `scenario_yaml` is the scenario as run; `files` are the names of the
/// other files in the run folder, to link.
pub fn render(s: &Summary, charts: &[Chart], scenario_yaml: &str, files: &[String]) -> String {
    let mut o = String::new();
    banner(&mut o, s);
    scenario_section(&mut o, s);
    truth_section(&mut o, s);
    invariants_section(&mut o, s);
    thresholds_section(&mut o, s);
    latency_section(&mut o, s);
    repetitions_section(&mut o, s);
    baseline_section(&mut o, s);
    charts_section(&mut o, charts, scenario_yaml);
    environment_section(&mut o, s, files);
    o
}

/// The report's the page's head and the verdict banner.
fn banner(o: &mut String, s: &Summary) {
    let pass = s.passed();
    let (verdict, class) = match (pass, s.interrupted.is_some()) {
        (_, true) => ("INTERRUPTED", "interrupted"),
        (true, false) => ("PASS", "pass"),
        (false, false) => ("FAIL", "fail"),
    };
    let _ = writeln!(
        o,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>flashbench · {} · {verdict}</title><style>{CSS}</style></head><body>",
        esc(&s.scenario)
    );
    let _ = writeln!(
        o,
        "<header class=\"banner {}\"><main style=\"padding:0\"><h1>{verdict} · {} <span style=\"font-weight:400;font-size:16px\">exit {}</span></h1><p>{}</p></main></header><main>",
        class,
        esc(&s.scenario),
        s.exit_code,
        esc(&s.headline())
    );
}

/// The report's why it did not pass, the scenario and an environment failure.
fn scenario_section(o: &mut String, s: &Summary) {
    if s.reasons.len() > 1 {
        o.push_str("<section><h2>Why it did not pass</h2><ul>");
        for r in &s.reasons {
            let _ = write!(o, "<li>{}</li>", esc(r));
        }
        o.push_str("</ul></section>\n");
    }
    let t = &s.target;
    let after = t.after_run.map_or(String::new(), |l| {
        format!("<tr><th>after the run</th><td>{}</td></tr>", esc(super::terminal::liveness(l)))
    });
    let _ = writeln!(
        o,
        "<section><h2>Scenario</h2><p><b>{}</b>{}</p><table>\
         <tr><th>target</th><td>{}</td></tr>\
         <tr><th>{}</th><td>{}</td></tr>{after}\
         <tr><th>buyers</th><td>{} ({} attempts; {} could not connect, {} late for the release)</td></tr>\
         <tr><th>scenario file</th><td>{}</td></tr></table></section>",
        esc(&s.scenario),
        match s.description.trim() {
            "" => String::new(),
            d => format!(" — {}", esc(d)),
        },
        esc(&super::terminal::target_line(t)),
        if t.kind == "http" { "ground truth from" } else { "store" },
        esc(&t.store),
        s.buyers,
        s.attempts,
        s.connect_failures,
        s.late_buyers,
        esc(&s.scenario_file)
    );
    if let Some(err) = &s.error {
        let _ = writeln!(o, "<section><h2>Environment failure</h2><p>{}</p></section>", esc(err));
    }
}

/// The report's stock and orders as ground truth has them.
fn truth_section(o: &mut String, s: &Summary) {
    o.push_str("<section><h2>Stock and orders (ground truth)</h2><table><tr><th>product</th><th class=n>initial stock</th><th class=n>final stock</th><th class=n>orders</th><th class=n>units ordered</th></tr>");
    for p in &s.products {
        let _ = write!(
            o,
            "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            esc(&p.id),
            p.initial_stock,
            p.final_text(),
            p.orders_text(),
            p.units_ordered
        );
    }
    o.push_str("</table>");
    for line in super::terminal::truth_lines(s) {
        let _ = write!(o, "<p>{}</p>", esc(&line));
    }
}

/// The report's each invariant with its evidence.
fn invariants_section(o: &mut String, s: &Summary) {
    o.push_str("</section>\n<section><h2>Invariants</h2><table><tr><th></th><th>invariant</th><th>kind</th><th>evidence</th></tr>");
    for i in super::by_kind(&s.invariants) {
        let examples = if i.examples.is_empty() {
            String::new()
        } else {
            format!("<div class=ex>e.g. {}</div>", esc(&i.examples.join("; ")))
        };
        let _ = write!(
            o,
            "<tr><td>{}</td><td><code>{}</code>{}</td><td>{}</td><td>{}{examples}</td></tr>",
            badge(i.status, i.expected_violation),
            i.name.name(),
            i.name.kind().name(),
            if i.expected_violation { " <span class=muted>(expected to be violated)</span>" } else { "" },
            esc(&i.detail)
        );
    }
}

/// The report's thresholds and expected outcome counts.
fn thresholds_section(o: &mut String, s: &Summary) {
    o.push_str("</table></section>\n<section><h2>Thresholds</h2>");
    if !s.thresholds.is_empty() {
        o.push_str("<table><tr><th></th><th>threshold</th><th class=n>observed</th></tr>");
        for t in &s.thresholds {
            let _ = write!(
                o,
                "<tr><td>{}</td><td><code>{}</code></td><td class=n>{}</td></tr>",
                if t.status == ThresholdStatus::Pass {
                    r#"<span class="badge b-pass">pass</span>"#
                } else {
                    r#"<span class="badge b-fail">FAIL</span>"#
                },
                esc(&t.expression),
                esc(&t.observed_text)
            );
        }
        o.push_str("</table>");
    }
    if s.expected_outcomes.is_empty() && s.thresholds.is_empty() {
        o.push_str("<p class=muted>No thresholds in this scenario.</p>");
    } else if !s.expected_outcomes.is_empty() {
        o.push_str("<table><tr><th></th><th>expression</th><th class=n>observed</th></tr>");
        for oc in &s.expected_outcomes {
            let _ = write!(
                o,
                "<tr><td>{}</td><td><code>count.{} {}</code></td><td class=n>{}</td></tr>",
                if oc.pass {
                    r#"<span class="badge b-pass">pass</span>"#
                } else {
                    r#"<span class="badge b-fail">FAIL</span>"#
                },
                oc.outcome,
                esc(&oc.expected),
                oc.observed
            );
        }
        o.push_str("</table>");
    }
}

/// The report's outcomes and latency, the load's lines and the most frequent errors.
fn latency_section(o: &mut String, s: &Summary) {
    o.push_str("</section>\n<section><h2>Outcomes and latency (ms)</h2><table><tr><th>outcome</th><th class=n>count</th><th class=n>p50</th><th class=n>p90</th><th class=n>p99</th><th class=n>p99.9</th><th class=n>max</th><th class=n>service p50</th><th class=n>service p99</th></tr>");
    for (name, l) in &s.latency_us {
        if l.count == 0 && name != "all" {
            continue;
        }
        let svc = s.service_time_us.get(name).copied().unwrap_or_default();
        let _ = write!(
            o,
            "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            esc(name),
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
    let _ = write!(
        o,
        "</table><p>Latency runs from each attempt's intended start (the release, its arrival slot, the end of its backoff) to its answer, as the buyer lives it; service time from the request leaving to its answer.</p><p>{:.0} attempts/s over {} ms of load; send skew p50 {} ms, p99 {} ms, max {} ms.</p>",
        s.throughput_rps,
        s.load_ms,
        ms(s.send_skew_us.p50),
        ms(s.send_skew_us.p99),
        ms(s.send_skew_us.max)
    );
    for line in super::lines::load(s) {
        let _ = write!(o, "<p>{}</p>", esc(&line));
    }
    if !s.top_errors.is_empty() {
        o.push_str("<p>Most frequent errors:</p><ul>");
        for e in &s.top_errors {
            let _ = write!(o, "<li>{} × {}</li>", e.count, esc(&e.message));
        }
        o.push_str("</ul>");
    }
    o.push_str("</section>\n");
}

/// The report's each repetition of a repeated race.
fn repetitions_section(o: &mut String, s: &Summary) {
    if !s.repetitions.is_empty() {
        let passed = s.repetitions.iter().filter(|r| r.exit_code == Exit::Pass).count();
        let _ = write!(o, "<section><h2>Repetitions</h2><p>{passed} of {} passed.", s.repetitions.len());
        for (name, rate) in s.violation_rate.iter().filter(|(_, r)| **r > 0.0) {
            let _ = write!(o, " <code>{name}</code> violated in {:.1}%.", rate * 100.0);
        }
        if let Some(k) = s.shown_repetition {
            let _ = write!(
                o,
                " Evidence, ground truth and charts are repetition {k}'s; outcome counts and latency are pooled over all."
            );
        }
        o.push_str("</p><table><tr><th>#</th><th>verdict</th><th class=n>final stock</th><th class=n>orders</th><th>outcomes</th><th>why</th></tr>");
        for r in &s.repetitions {
            let finals: Vec<String> = r.products.iter().map(|p| p.final_text()).collect();
            let outcomes: Vec<String> =
                r.outcomes.iter().filter(|(_, n)| **n > 0).map(|(k, n)| format!("{k} {n}")).collect();
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td>{}</td><td>{}</td></tr>",
                r.index,
                esc(r.verdict.name()),
                esc(&finals.join(", ")),
                r.orders,
                esc(&outcomes.join(" · ")),
                esc(r.reason.as_deref().unwrap_or(""))
            );
        }
        o.push_str("</table></section>\n");
    }
}

/// The report's the comparison with a baseline.
fn baseline_section(o: &mut String, s: &Summary) {
    if let Some(b) = &s.baseline {
        let _ = write!(
            o,
            "<section><h2>Against the baseline</h2><p class=muted>{} {}</p><table><tr><th>metric</th><th class=n>before</th><th class=n>now</th><th class=n>change</th><th>limit</th></tr>",
            esc(&b.file),
            esc(&b.basis())
        );
        for r in &b.rows {
            let _ = write!(
                o,
                "<tr><td><code>{}</code></td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td>{}</td></tr>",
                esc(&r.metric),
                esc(&r.before_text),
                esc(&r.now_text),
                r.change_text(),
                match (r.limit_percent, r.status.as_str()) {
                    (Some(l), "fail") => format!(r#"{l}% <span class="badge b-fail">REGRESSED</span>"#),
                    (Some(l), "n/a") => format!(r#"{l}% <span class="badge b-na">n/a: not compared</span>"#),
                    (Some(l), _) => format!(r#"{l}% <span class="badge b-pass">ok</span>"#),
                    _ => String::new(),
                }
            );
        }
        o.push_str("</table></section>\n");
    }
}

/// The report's the charts, inline, and the scenario as run.
fn charts_section(o: &mut String, charts: &[Chart], scenario_yaml: &str) {
    o.push_str("<section><h2>Charts</h2>");
    for c in charts {
        let _ = writeln!(
            o,
            "<figure id=\"{0}\">{1}<figcaption>{2} · <a href=\"{0}.png\">PNG</a> · <a href=\"{0}@2x.png\">PNG @2x</a> · <a href=\"{0}.svg\">SVG</a></figcaption></figure>",
            c.name,
            inline_svg(&c.svg),
            esc(c.title)
        );
    }
    if charts.is_empty() {
        o.push_str("<p class=muted>No charts: the run produced no ledger.</p>");
    }
    let _ = writeln!(o, "</section>\n<section><h2>Scenario as run</h2><pre>{}</pre></section>", esc(scenario_yaml));
}

/// The report's the environment and the run folder's other files.
fn environment_section(o: &mut String, s: &Summary, files: &[String]) {
    let env = &s.environment;
    let _ = writeln!(
        o,
        "<section><h2>Environment</h2><table><tr><th>flashbench</th><td>{}</td></tr><tr><th>started</th><td>{}</td></tr>\
         <tr><th>duration</th><td>{} ms</td></tr><tr><th>machine</th><td>{}</td></tr>\
         <tr><th>store</th><td>{}</td></tr><tr><th>git revision</th><td>{}</td></tr></table></section>",
        esc(&s.flashbench_version),
        esc(&s.started_at),
        s.duration_ms,
        esc(&env.machine_line()),
        esc(&match &s.target.store_version {
            Some(v) => format!("{}: {v}", s.target.store),
            None => s.target.store.clone(),
        }),
        esc(env.git_revision.as_deref().unwrap_or("unknown (not a git checkout)"))
    );
    o.push_str("<section><h2>Files</h2><ul>");
    for f in files {
        let _ = write!(o, "<li><a href=\"{0}\">{0}</a></li>", esc(f));
    }
    o.push_str("</ul></section>\n</main></body></html>\n");
}
