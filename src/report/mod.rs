//! Reports of a run, all in its folder (`reports/<scenario>/<timestamp>/` with a `latest`
//! link, or `--out`): `summary.json` (public interface, written last), `index.html`
//! (self-contained), PNG and SVG charts, `junit.xml`, `summary.md`, the ledger (`ledger.csv`,
//! `stock.csv`) and `scenario.yaml` as run; and the terminal summary. `flashbench report`
//! renders them again from the folder. A suite adds an index page and a combined `junit.xml`.

pub mod charts;
pub mod compare;
pub mod html;
pub mod junit;
pub mod ledger_files;
pub mod lines;
pub mod markdown;
pub mod suite;
pub mod terminal;

use crate::folder::{write_atomic, SCENARIO_YAML, SUMMARY_JSON};
use crate::model::{Environment, InvariantSummary, Summary, TargetInfo};
pub use terminal::{render, render_self_tests, render_suite};

use crate::model::Ledger;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Render(String),
    #[error("{path}: not a flashbench run folder ({why})")]
    NotARun { path: String, why: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io { path: path.display().to_string(), source }
}

/// Writes every file of a finished run into `dir`; `summary.json` last, so that it exists only
/// once the rest is on disk.
pub fn write_run(dir: &Path, summary: &Summary, ledger: &Ledger, scenario_yaml: &str) -> Result<(), ReportError> {
    let scenario_yaml = &crate::redact::redact_urls_in(scenario_yaml);
    ledger_files::write(dir, ledger).map_err(io(dir))?;
    let yaml = dir.join(SCENARIO_YAML);
    write_atomic(&yaml, scenario_yaml.as_bytes()).map_err(io(&yaml))?;
    render_artifacts(dir, summary, ledger, scenario_yaml)?;
    let path = dir.join(SUMMARY_JSON);
    let json = serde_json::to_vec_pretty(summary).map_err(|e| ReportError::Render(e.to_string()))?;
    write_atomic(&path, &json).map_err(io(&path))
}

/// Charts, `index.html`, `junit.xml` and `summary.md` from a summary and its ledger.
pub fn render_artifacts(
    dir: &Path,
    summary: &Summary,
    ledger: &Ledger,
    scenario_yaml: &str,
) -> Result<(), ReportError> {
    let scenario_yaml = &crate::redact::redact_urls_in(scenario_yaml);
    // Repetitions each have their own clock: charts draw the shown one, never a mix.
    let shown;
    let ledger = match summary.shown_repetition {
        Some(k) => {
            shown = ledger.repetition(k);
            &shown
        }
        None => ledger,
    };
    let interval = std::time::Duration::from_millis(summary.timeseries_interval_ms.max(1));
    let rows = crate::timeseries::compute(ledger, interval);
    let series = dir.join(crate::timeseries::TIMESERIES_CSV);
    write_atomic(&series, &crate::timeseries::to_csv(ledger, &rows)).map_err(io(&series))?;
    let charts = charts::render_all(summary, ledger, &rows, dir).map_err(ReportError::Render)?;
    let junit = junit::document(&[summary]);
    let md = markdown::render(summary);
    for (name, text) in [("junit.xml", junit.as_str()), ("summary.md", md.as_str())] {
        let path = dir.join(name);
        write_atomic(&path, text.as_bytes()).map_err(io(&path))?;
    }
    let mut files: Vec<String> =
        ["summary.json", "junit.xml", "summary.md", ledger_files::LEDGER_CSV, ledger_files::STOCK_CSV, SCENARIO_YAML]
            .iter()
            .map(|s| s.to_string())
            .collect();
    files.push(crate::timeseries::TIMESERIES_CSV.into());
    if !ledger.dropped.is_empty() {
        files.push(ledger_files::DROPPED_CSV.into());
    }
    if dir.join("orders.db").exists() {
        files.push("orders.db".into());
    }
    for c in &charts {
        files.push(format!("{}.png", c.name));
        files.push(format!("{}@2x.png", c.name));
        files.push(format!("{}.svg", c.name));
    }
    let page = html::render(summary, &charts, scenario_yaml, &files);
    let path = dir.join("index.html");
    write_atomic(&path, page.as_bytes()).map_err(io(&path))
}

/// A finished run's summary and ledger, read back from its folder (`report`, `compare`).
pub fn read_run_folder(dir: &Path) -> Result<(Summary, Ledger), ReportError> {
    let not_a_run = |why: String| ReportError::NotARun { path: dir.display().to_string(), why };
    let text =
        std::fs::read_to_string(dir.join(SUMMARY_JSON)).map_err(|e| not_a_run(format!("{SUMMARY_JSON}: {e}")))?;
    let summary: Summary = serde_json::from_str(&text).map_err(|e| {
        not_a_run(if text.contains("\"kind\": \"comparison\"") || text.contains("\"scenarios\"") {
            "it holds a comparison or a suite; name the runs inside it".to_string()
        } else {
            format!("{SUMMARY_JSON}: {e}")
        })
    })?;
    let ledger = if dir.join(ledger_files::LEDGER_CSV).exists() {
        ledger_files::read(dir, &summary).map_err(|e| not_a_run(e.to_string()))?
    } else {
        Ledger::default()
    };
    Ok((summary, ledger))
}

/// `flashbench report DIR`: renders every artifact of a finished run again from its folder.
pub fn rerender(dir: &Path) -> Result<Summary, ReportError> {
    let (summary, ledger) = read_run_folder(dir)?;
    let yaml = std::fs::read_to_string(dir.join(SCENARIO_YAML)).unwrap_or_default();
    render_artifacts(dir, &summary, &ledger, &yaml)?;
    Ok(summary)
}

/// The invariants with safety first, then liveness (reports keep the two apart).
pub fn by_kind(all: &[InvariantSummary]) -> impl Iterator<Item = &InvariantSummary> {
    let of = move |k: crate::model::check::Kind| all.iter().filter(move |i| i.name.kind() == k);
    of(crate::model::check::Kind::Safety).chain(of(crate::model::check::Kind::Liveness))
}
