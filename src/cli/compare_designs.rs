//! `flashbench compare`: one scenario over several designs (`--strategies`, or the scenario's
//! `matrix:`), or several finished runs, side by side. Each design runs exactly as
//! `flashbench run FILE --backend B --strategy S` would, into its own folder inside the
//! comparison's; then every run is read back from its folder, so fresh runs and finished ones
//! are compared by the same code ([`crate::report::compare`]).

use crate::model::exit::Exit;
use crate::report::compare::{read_run, unique_labels, Compared, Comparison};
use crate::report::ReportError;
use crate::run::{self, RunOptions};
use crate::scenario::target::TargetKind;
use crate::scenario::{self, Design};
use std::path::{Path, PathBuf};

/// Why a comparison could not be made, with the exit code it means.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// Nothing ran: the scenario, a design or a folder was wrong (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The comparison's own files could not be written (exit 4).
    #[error("{0}")]
    Report(#[from] ReportError),
}

impl CompareError {
    pub fn exit_code(&self) -> Exit {
        match self {
            CompareError::Usage(_) => Exit::Usage,
            CompareError::Report(_) => Exit::Environment,
        }
    }
}

/// A finished comparison: where it is and what it found.
pub struct Finished {
    pub dir: PathBuf,
    pub comparison: Comparison,
}

/// The designs to compare: `--strategies` wins over the scenario's `matrix:`.
fn designs_of(file: &Path, given: Option<Vec<Design>>) -> Result<(scenario::Scenario, Vec<Design>), CompareError> {
    let s = run::load(file).map_err(|e| CompareError::Usage(e.to_string()))?;
    if s.target.kind != TargetKind::Reference {
        return Err(CompareError::Usage(format!(
            "{}: compare runs the reference server's designs; this scenario's target is `kind: http` (compare finished runs instead: flashbench compare RUN_DIR RUN_DIR...)",
            file.display()
        )));
    }
    let designs = match given.or_else(|| s.matrix.as_ref().map(|m| m.strategies.clone())) {
        Some(d) if !d.is_empty() => d,
        _ => {
            return Err(CompareError::Usage(format!(
                "{}: no designs to compare; pass --strategies sqlite/conditional,redis/lua,… or add `matrix: {{strategies: [...]}}` to the scenario",
                file.display()
            )))
        }
    };
    Ok((s, designs))
}

/// Runs `file` once per design (each `--repeat` times) and writes the comparison.
pub async fn compare_scenario(
    file: &Path,
    given: Option<Vec<Design>>,
    opts: &RunOptions,
) -> Result<Finished, CompareError> {
    let (s, designs) = designs_of(file, given)?;
    // Every design's overrides are checked before the first one runs.
    let mut problems = Vec::new();
    for d in &designs {
        let mut copy = s.clone();
        let mut o = opts.overrides.clone();
        (o.backend, o.strategy) = (Some(d.backend), Some(d.strategy));
        if let Err(e) = run::apply_overrides(&mut copy, &o) {
            problems.push(format!("{d}: {e}"));
        }
    }
    if !problems.is_empty() {
        return Err(CompareError::Usage(problems.join("\n")));
    }
    let folder = crate::folder::create_run_dir(&opts.reports_root, &format!("{}-compare", s.name), opts.out.as_deref())
        .map_err(|e| CompareError::Usage(format!("cannot create the comparison folder: {e}")))?;
    let dir = folder.path.clone();
    let mut compared = Vec::with_capacity(designs.len());
    for (i, d) in designs.iter().enumerate() {
        // After Ctrl-C the designs not yet run are left out; the comparison shows those run.
        if crate::interrupt::requested().is_some() {
            crate::note!("interrupted: {} of {} designs were not run", designs.len() - i, designs.len());
            break;
        }
        if !opts.quiet {
            crate::note!("design {} of {}: {d}", i + 1, designs.len());
        }
        let mut o = opts.clone();
        (o.overrides.backend, o.overrides.strategy) = (Some(d.backend), Some(d.strategy));
        let run_dir = dir.join(d.slug());
        let result = crate::cli::report_run(run::run_file(file, &o, Some(&run_dir)).await, &o).await;
        match &result.summary {
            Some(sum) => crate::note!(
                "  {} {d}: exit {}: {}",
                if sum.passed() { "PASS" } else { "FAIL" },
                sum.exit_code,
                sum.headline()
            ),
            None => crate::note!("  FAIL {d}: exit {}: {}", result.exit_code, result.error.as_deref().unwrap_or("")),
        }
        match read_run(&run_dir, Some(d.to_string())) {
            Ok(c) => compared.push(c),
            // A design whose run left no summary (it could not start) still gets its row.
            Err(e) => compared.push(missing(d.to_string(), &run_dir, result.exit_code, &e.to_string())),
        }
    }
    let comparison = Comparison::new(&compared, &dir, crate::resources::environment());
    crate::report::compare::write(&dir, &comparison, &compared)?;
    folder.publish();
    Ok(Finished { dir, comparison })
}

/// The row of a design that produced no run folder: its exit code and why.
fn missing(label: String, dir: &Path, exit_code: Exit, why: &str) -> Compared {
    let mut summary = crate::model::Summary::empty();
    summary.exit_code = exit_code;
    summary.verdict = crate::model::exit::Verdict::Fail;
    summary.reasons = vec![why.to_string()];
    Compared { label, dir: dir.to_path_buf(), summary, ledger: crate::model::Ledger::default() }
}

/// Compares finished run folders (each holding `summary.json` and `ledger.csv`).
pub fn compare_runs(dirs: &[PathBuf], opts: &RunOptions) -> Result<Finished, CompareError> {
    let mut compared = Vec::new();
    let mut problems = Vec::new();
    for d in dirs {
        match read_run(d, None) {
            Ok(c) => compared.push(c),
            Err(e) => problems.push(e.to_string()),
        }
    }
    if !problems.is_empty() {
        return Err(CompareError::Usage(problems.join("\n")));
    }
    unique_labels(&mut compared);
    let folder = crate::folder::create_run_dir(&opts.reports_root, "compare", opts.out.as_deref())
        .map_err(|e| CompareError::Usage(format!("cannot create the comparison folder: {e}")))?;
    let dir = folder.path.clone();
    let comparison = Comparison::new(&compared, &dir, crate::resources::environment());
    crate::report::compare::write(&dir, &comparison, &compared)?;
    folder.publish();
    Ok(Finished { dir, comparison })
}
