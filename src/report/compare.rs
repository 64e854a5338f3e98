//! The report of a comparison (`flashbench compare`): one row per design or finished run, side
//! by side: its verdict and the violations found, units sold against stock, latency of the
//! winning orders and of the refusals, throughput and send skew; charts that overlay the
//! designs; and the comparison's own `summary.json`. Built from run folders only, so fresh runs
//! and finished ones are compared by the same code.

use super::html::{esc, inline_svg, CSS};
use super::{Environment, Summary};
use crate::folder::write_atomic;
use crate::model::check::Status;
use crate::model::exit::{Exit, Verdict};
use crate::model::Ledger;
use crate::model::Outcome;
use crate::model::{LatencySummary, SkewSummary};
use crate::text::thousands;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// One compared run, as read back from its folder.
pub struct Compared {
    /// `sqlite/conditional`, or the run folder's name for a finished run.
    pub label: String,
    pub dir: PathBuf,
    pub summary: Summary,
    pub ledger: Ledger,
}

/// One row of the comparison (`designs[]` in its `summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub label: String,
    pub scenario: String,
    pub backend: String,
    pub strategy: String,
    /// The run's folder, relative to the comparison's when inside it.
    pub dir: String,
    /// `pass` or `fail`, and the run's own exit code.
    pub verdict: Verdict,
    pub exit_code: Exit,
    /// The run's first reason when it did not pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Invariants this design violated (in any repetition).
    pub violated: Vec<String>,
    /// Per invariant, the share of repetitions that violated it (0 or 1 for one run).
    pub violation_rate: BTreeMap<String, f64>,
    pub repetitions: u32,
    pub initial_stock: u64,
    /// Units in orders, from the store's truth (the shown repetition's); absent when unread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub units_sold: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub final_stock: Option<i64>,
    pub attempts: u64,
    pub won: u64,
    pub refused: u64,
    /// Latency of the winning orders, µs.
    pub latency_won_us: LatencySummary,
    /// Latency of the refusals (sold_out, busy, rate_limited, rejected), µs.
    pub latency_refused_us: LatencySummary,
    pub throughput_rps: f64,
    pub send_skew_us: SkewSummary,
}

impl Row {
    pub fn of(c: &Compared, base: &Path) -> Row {
        let s = &c.summary;
        let count = |keep: fn(Outcome) -> bool| c.ledger.attempts.iter().filter(|a| keep(a.outcome)).count() as u64;
        let repetitions = s.repetitions.len().max(1) as u32;
        let violation_rate: BTreeMap<String, f64> = if s.violation_rate.is_empty() {
            s.invariants
                .iter()
                .map(|i| (i.name.name().to_string(), if i.status == Status::Fail { 1.0 } else { 0.0 }))
                .collect()
        } else {
            s.violation_rate.clone()
        };
        let finals: Vec<i64> = s.products.iter().filter_map(|p| p.final_stock).collect();
        Row {
            label: c.label.clone(),
            scenario: s.scenario.clone(),
            backend: s.target.backend.clone(),
            strategy: s.target.strategy.clone(),
            dir: c.dir.strip_prefix(base).unwrap_or(&c.dir).display().to_string(),
            verdict: s.verdict,
            exit_code: s.exit_code,
            reason: (!s.passed()).then(|| s.reasons.first().cloned()).flatten(),
            violated: violation_rate.iter().filter(|(_, r)| **r > 0.0).map(|(n, _)| n.clone()).collect(),
            violation_rate,
            repetitions,
            initial_stock: s.products.iter().map(|p| p.initial_stock).sum(),
            units_sold: s
                .products
                .iter()
                .all(|p| p.orders.is_some())
                .then(|| s.products.iter().map(|p| p.units_ordered).sum()),
            final_stock: (finals.len() == s.products.len()).then(|| finals.iter().sum()),
            attempts: s.attempts,
            won: count(|o| o == Outcome::Won),
            refused: count(Outcome::is_refusal),
            latency_won_us: crate::stats::latency_where(&c.ledger, |o| o == Outcome::Won),
            latency_refused_us: crate::stats::latency_where(&c.ledger, Outcome::is_refusal),
            throughput_rps: s.throughput_rps,
            send_skew_us: s.send_skew_us,
        }
    }

    /// `5 of 5`, `6 of 5`, or `n/a` when truth was not read.
    pub fn sold_text(&self) -> String {
        match self.units_sold {
            Some(u) => format!("{} of {}", thousands(u), thousands(self.initial_stock)),
            None => "n/a".into(),
        }
    }

    /// The violations in words: `none`, or `no_oversell (3 of 3)`.
    pub fn violations_text(&self) -> String {
        if self.violated.is_empty() {
            return "none".into();
        }
        self.violated
            .iter()
            .map(|n| {
                let rate = self.violation_rate.get(n).copied().unwrap_or(0.0);
                if self.repetitions > 1 {
                    let k = (rate * f64::from(self.repetitions)).round() as u32;
                    format!("{n} ({k} of {})", self.repetitions)
                } else {
                    n.clone()
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The comparison's `summary.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Always `comparison` (a run's summary has none; a suite's has `scenarios`).
    pub kind: String,
    pub flashbench_version: String,
    /// The scenario compared (the names, joined, when finished runs of several are compared).
    pub scenario: String,
    /// `pass` when every design passed; the exit code is the most severe of the designs'.
    pub verdict: Verdict,
    pub exit_code: Exit,
    pub designs: Vec<Row>,
    #[serde(default)]
    pub environment: Environment,
}

impl Comparison {
    pub fn new(compared: &[Compared], base: &Path, environment: Environment) -> Comparison {
        let designs: Vec<Row> = compared.iter().map(|c| Row::of(c, base)).collect();
        let exit_code = Exit::most_severe(designs.iter().map(|r| r.exit_code));
        let mut names: Vec<&str> = designs.iter().map(|r| r.scenario.as_str()).collect();
        names.dedup();
        Comparison {
            kind: "comparison".into(),
            flashbench_version: env!("CARGO_PKG_VERSION").into(),
            scenario: names.join(", "),
            verdict: if exit_code == Exit::Pass { Verdict::Pass } else { Verdict::Fail },
            exit_code,
            designs,
            environment,
        }
    }

    /// The rows that held every invariant, fastest p99 of the winners first.
    pub fn sound(&self) -> Vec<&Row> {
        let mut ok: Vec<&Row> =
            self.designs.iter().filter(|r| r.violated.is_empty() && r.exit_code != Exit::Environment).collect();
        ok.sort_by_key(|r| r.latency_won_us.p99);
        ok
    }

    /// One sentence a reader starts from.
    pub fn headline(&self) -> String {
        let broken: Vec<&str> =
            self.designs.iter().filter(|r| !r.violated.is_empty()).map(|r| r.label.as_str()).collect();
        let failed_env: Vec<&str> =
            self.designs.iter().filter(|r| r.exit_code == Exit::Environment).map(|r| r.label.as_str()).collect();
        let mut parts = Vec::new();
        match self.sound().first() {
            Some(best) => parts.push(format!(
                "{} of {} held every invariant; fastest of those: {} (won p99 {} ms)",
                self.sound().len(),
                crate::text::count(self.designs.len() as u64, "design"),
                best.label,
                ms(best.latency_won_us.p99)
            )),
            None => parts.push(format!(
                "none of the {} held every invariant",
                crate::text::count(self.designs.len() as u64, "design")
            )),
        }
        if !broken.is_empty() {
            parts.push(format!("violated invariants: {}", broken.join(", ")));
        }
        if !failed_env.is_empty() {
            parts.push(format!("could not be judged (environment): {}", failed_env.join(", ")));
        }
        parts.join("; ")
    }
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

/// `p50 / p99` in ms, or `n/a` when there were none.
fn pair(l: &LatencySummary) -> String {
    if l.count == 0 {
        "n/a".into()
    } else {
        format!("{} / {}", ms(l.p50), ms(l.p99))
    }
}

/// The comparison as a terminal table.
pub fn render_terminal(c: &Comparison, dir: &Path) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "\nflashbench compare · {}", c.scenario);
    let _ = writeln!(
        o,
        "{:<26} {:<7} {:>11} {:>19} {:>19} {:>9} {:>9}  violations",
        "design", "verdict", "sold", "won p50/p99 ms", "refused p50/p99 ms", "req/s", "skew p99"
    );
    for r in &c.designs {
        let _ = writeln!(
            o,
            "{:<26} {:<7} {:>11} {:>19} {:>19} {:>9} {:>9}  {}",
            r.label,
            if r.exit_code == Exit::Pass { "PASS" } else { "FAIL" },
            r.sold_text(),
            pair(&r.latency_won_us),
            pair(&r.latency_refused_us),
            thousands(r.throughput_rps.round() as u64),
            format!("{} ms", ms(r.send_skew_us.p99)),
            r.violations_text()
        );
    }
    let _ = writeln!(o, "{}", c.headline());
    let _ = writeln!(o, "comparison report {}", dir.join("index.html").display());
    o
}

/// The comparison in Markdown (for a CI job page).
pub fn render_markdown(c: &Comparison) -> String {
    let mut o = format!("## flashbench compare · {}\n\n{}\n\n", c.scenario, c.headline());
    o.push_str("| design | verdict | units sold | violations | won p50 / p99 (ms) | refused p50 / p99 (ms) | throughput (req/s) | send skew p99 (ms) |\n");
    o.push_str("|---|---|---:|---|---:|---:|---:|---:|\n");
    for r in &c.designs {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.label,
            if r.exit_code == Exit::Pass { "✅ pass" } else { "❌ fail" },
            r.sold_text(),
            r.violations_text(),
            pair(&r.latency_won_us),
            pair(&r.latency_refused_us),
            thousands(r.throughput_rps.round() as u64),
            ms(r.send_skew_us.p99)
        );
    }
    o
}

/// The comparison's `index.html`: the table, then the charts, each design linking its report.
pub fn render_html(c: &Comparison, charts: &[super::charts::Chart]) -> String {
    let mut o = String::new();
    let pass = c.exit_code == Exit::Pass;
    let _ = writeln!(
        o,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>flashbench compare · {}</title><style>{CSS}</style></head><body>\
         <div class=\"banner {}\"><h1>Comparison · {}</h1><p>{}</p></div><main>",
        esc(&c.scenario),
        if pass { "pass" } else { "fail" },
        esc(&c.scenario),
        esc(&c.headline())
    );
    o.push_str(
        "<section><h2>Designs side by side</h2><p class=muted>Each design ran the same scenario on fresh state. \
         <b>Units sold</b> is read from the store after the run (ground truth), against the initial stock: more is an \
         oversell, fewer with demand left is an undersell. Latency runs from each request's intended start to its answer; \
         refusals are sold_out, busy, rate_limited and rejected answers. A design's name links its own report.</p>\
         <table><tr><th>design</th><th>verdict</th><th class=n>units sold</th><th>violations found</th>\
         <th class=n>won p50 / p99 (ms)</th><th class=n>refused p50 / p99 (ms)</th><th class=n>throughput (req/s)</th>\
         <th class=n>send skew p99 (ms)</th></tr>\n",
    );
    for r in &c.designs {
        let badge = if r.exit_code == Exit::Pass {
            r#"<span class="badge b-pass">PASS</span>"#.to_string()
        } else {
            format!(r#"<span class="badge b-fail">FAIL</span> <span class=muted>exit {}</span>"#, r.exit_code)
        };
        let why = r.reason.as_deref().map(|w| format!("<div class=ex>{}</div>", esc(w))).unwrap_or_default();
        let _ = writeln!(
            o,
            "<tr><td><a href=\"{}/index.html\">{}</a>{why}</td><td>{badge}</td><td class=n>{}</td><td>{}</td>\
             <td class=n>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
            esc(&r.dir),
            esc(&r.label),
            esc(&r.sold_text()),
            esc(&r.violations_text()),
            pair(&r.latency_won_us),
            pair(&r.latency_refused_us),
            thousands(r.throughput_rps.round() as u64),
            ms(r.send_skew_us.p99)
        );
    }
    o.push_str("</table></section>\n<section><h2>Charts</h2>");
    for ch in charts {
        let _ = write!(
            o,
            "<figure>{}<figcaption>{} · <a href=\"{1}.png\">PNG</a> · <a href=\"{1}@2x.png\">PNG @2x</a> · <a href=\"{1}.svg\">SVG</a></figcaption></figure>",
            inline_svg(&ch.svg),
            ch.name
        );
    }
    let env = &c.environment;
    let _ = writeln!(
        o,
        "</section><section><h2>Environment</h2><p class=muted>{}</p><p><a href=\"summary.json\">summary.json</a> · \
         <a href=\"summary.md\">summary.md</a></p></section></main></body></html>",
        esc(&env.line())
    );
    o
}

/// Writes the comparison's files into `dir`: charts, `index.html`, `summary.md`, and
/// `summary.json` last.
pub fn write(dir: &Path, c: &Comparison, compared: &[Compared]) -> Result<(), super::ReportError> {
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| super::ReportError::Io { path: p, source }
    };
    let charts = super::charts::render_comparison(c, compared, dir).map_err(super::ReportError::Render)?;
    let page = render_html(c, &charts);
    let index = dir.join("index.html");
    write_atomic(&index, page.as_bytes()).map_err(io(&index))?;
    let md = dir.join("summary.md");
    write_atomic(&md, render_markdown(c).as_bytes()).map_err(io(&md))?;
    let json = serde_json::to_vec_pretty(c).map_err(|e| super::ReportError::Render(e.to_string()))?;
    let path = dir.join(crate::folder::SUMMARY_JSON);
    write_atomic(&path, &json).map_err(io(&path))
}

/// Reads a finished run back from its folder, for a comparison.
pub fn read_run(dir: &Path, label: Option<String>) -> Result<Compared, super::ReportError> {
    let (summary, ledger) = super::read_run_folder(dir)?;
    let label = label.unwrap_or_else(|| {
        if summary.target.kind == "reference" {
            format!("{}/{}", summary.target.backend, summary.target.strategy)
        } else {
            dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned())
        }
    });
    Ok(Compared { label, dir: dir.to_path_buf(), summary, ledger })
}

/// Labels made unique: two runs of the same design become `sqlite/conditional (2)`.
pub fn unique_labels(compared: &mut [Compared]) {
    let mut seen: BTreeMap<String, u32> = BTreeMap::new();
    for c in compared.iter_mut() {
        let n = seen.entry(c.label.clone()).or_default();
        *n += 1;
        if *n > 1 {
            c.label = format!("{} ({n})", c.label);
        }
    }
}
