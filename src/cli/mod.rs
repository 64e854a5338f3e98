//! The command line, with clap: one file per command (`run`, `validate`, `serve`, `schema`,
//! `probe`, `compare`, `merge`, `shard`, `report`), each parsing its arguments, doing its work
//! through the layers below, printing, and returning the exit code. This is the top layer: it
//! wires what the lower ones cannot know of each other (a run's report, the local shards a
//! run may spread over).

mod compare;
pub mod compare_designs;
mod merge;
mod probe;
mod report;
mod run;
mod serve;
mod shard;
mod validate;

pub use compare::CompareArgs;
pub(crate) use run::report_run;
pub use run::{RunArgs, StoreArgs};
pub use serve::ServeArgs;
pub use shard::ShardArgs;

use crate::model::exit::Exit;
use crate::scenario;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "flashbench",
    version,
    about = "Load testing and verification for flash sales",
    long_about = "Drives YAML contention scenarios (a few units of stock, thousands of buyers at the same instant) \
                  against a reference order server, then proves from ground truth that nothing was oversold, \
                  undersold or lost.\n\nExit codes: 0 all passed, 1 an invariant was violated, 2 usage or scenario \
                  error, 3 a threshold failed while invariants held, 4 the environment failed."
)]
pub struct Cli {
    /// Log more (warnings are always shown; -v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// When to colour verdicts, statuses and the live view: auto (only on a terminal, and not
    /// when NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = crate::color::ColorChoice::Auto)]
    pub color: crate::color::ColorChoice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scenarios: files, or folders of *.yaml run in name order.
    Run(RunArgs),
    /// Check scenario files without running any load (exit 0 when all are valid, 2 otherwise).
    Validate {
        /// Scenario files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Run the reference order server on its own.
    Serve(ServeArgs),
    /// Print the JSON Schema of the scenario format (for editors: yaml-language-server).
    Schema,
    /// Send one request of each kind an http scenario sends (warm-up, one order, stock) and
    /// read its truth once, showing each answer and how it is read; no setup, no load.
    Probe {
        /// The scenario file (target.kind: http).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Compare designs side by side: one scenario over several backend/strategy pairs
    /// (`--strategies`, or the scenario's `matrix:`), or finished run folders. Writes one
    /// comparison report (table, overlaid charts, summary.json); exit code as a suite's.
    Compare(CompareArgs),
    /// Judge the parts written by `run --shard i/N` as one run: checks that every shard is
    /// there, puts their ledgers on one clock, reads ground truth once, and writes the reports
    /// a run in one process writes (with each shard's lateness, send skew and clock).
    Merge {
        /// The shards' part folders (each holding part.json and ledger.csv).
        #[arg(required = true, value_name = "PART_DIR")]
        dirs: Vec<PathBuf>,
        /// Write the merged run here. Default: reports/<scenario>/<timestamp>/.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// No live view; print only the verdict line.
        #[arg(short, long)]
        quiet: bool,
    },
    /// One local shard of a run over several processes (started by `flashbench run` itself).
    #[command(hide = true)]
    Shard(ShardArgs),
    /// Render a finished run's reports again (HTML, charts, JUnit, Markdown) from its folder.
    Report {
        /// Run folders (each holding summary.json and ledger.csv).
        #[arg(required = true, value_name = "RUN_DIR")]
        dirs: Vec<PathBuf>,
    },
}

/// Runs the parsed command; returns the process exit code.
pub async fn dispatch(cli: Cli) -> Exit {
    match cli.command {
        Command::Run(args) => run::run_command(args).await,
        Command::Validate { paths } => validate::validate_command(&paths),
        Command::Serve(args) => serve::serve_command(args).await,
        Command::Report { dirs } => report::report_command(&dirs),
        Command::Merge { dirs, out, quiet } => merge::merge_command(&dirs, out, quiet).await,
        Command::Shard(args) => shard::shard_command(args).await,
        Command::Compare(args) => compare::compare_command(args).await,
        Command::Probe { file } => probe::probe_command(&file).await,
        Command::Schema => {
            crate::outln!("{}", scenario::schema_json());
            Exit::Pass
        }
    }
}
