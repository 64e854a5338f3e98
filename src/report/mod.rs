//! Reports of a run: `summary.json` (public interface), the ledger, the terminal summary, and
//! the run folder they go into (`reports/<scenario>/<timestamp>/` with a `latest` link).

mod folder;
mod summary;
mod terminal;

pub use folder::{create_run_dir, write_atomic, RunDir};
pub use summary::{InvariantSummary, ProductSummary, Summary, TargetInfo};
pub use terminal::{render, render_suite};
