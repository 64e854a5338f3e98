//! `flashbench compare`: the arguments and the command; the comparison itself is
//! [`super::compare_designs`].

use super::StoreArgs;
use crate::model::exit::Exit;
use crate::report;
use crate::run::{Overrides, RunOptions};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// One scenario file, or finished run folders (each holding summary.json and ledger.csv).
    #[arg(required = true, value_name = "FILE|RUN_DIR")]
    pub paths: Vec<std::path::PathBuf>,
    /// The designs, BACKEND/STRATEGY separated by commas, e.g.
    /// memory/atomic,sqlite/conditional,postgres/for-update,redis/lua,redis/seed-lock;
    /// wins over the scenario's `matrix:`.
    #[arg(long, value_name = "LIST", value_parser = crate::scenario::matrix::parse_design_list)]
    pub strategies: Option<crate::scenario::matrix::DesignList>,
    /// Run each design K times on fresh state (wins over `repeat:`); latency merges across
    /// repetitions and violations are shown as a share of them.
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: Option<u32>,
    /// Write the comparison here (each design in DIR/<backend>-<strategy>/). Default:
    /// reports/<scenario>-compare/<timestamp>/ (reports/compare/… for run folders).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// No progress line while each design runs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Replace the scenario's number of buyers.
    #[arg(long, value_name = "N")]
    pub buyers: Option<u32>,
    /// Replace the scenario's number of server instances.
    #[arg(long, value_name = "N")]
    pub instances: Option<u32>,
    #[command(flatten)]
    pub store: StoreArgs,
}

pub(super) async fn compare_command(args: CompareArgs) -> Exit {
    crate::interrupt::install();
    let opts = args.store.apply(RunOptions {
        out: args.out.clone(),
        quiet: args.quiet,
        overrides: Overrides { buyers: args.buyers, instances: args.instances, ..Overrides::default() },
        repeat: args.repeat,
        spread: Some(std::sync::Arc::new(crate::shard::local::Spawn::of(None))),
        ..RunOptions::default()
    });
    let runs = args.paths.iter().all(|p| p.join(crate::folder::SUMMARY_JSON).is_file());
    let result = match (runs, args.paths.as_slice()) {
        (true, dirs) => {
            if args.strategies.is_some() || args.repeat.is_some() || args.buyers.is_some() || args.instances.is_some() {
                crate::note!("error: --strategies, --repeat, --buyers and --instances apply to a scenario file, not to finished runs");
                return Exit::Usage;
            }
            crate::cli::compare_designs::compare_runs(dirs, &opts)
        }
        (false, [file]) if file.is_file() => {
            crate::cli::compare_designs::compare_scenario(file, args.strategies.clone().map(|l| l.0), &opts).await
        }
        (false, paths) => {
            let odd: Vec<String> = paths
                .iter()
                .filter(|p| !p.join(crate::folder::SUMMARY_JSON).is_file())
                .map(|p| p.display().to_string())
                .collect();
            crate::note!(
                "error: give one scenario file, or finished run folders (each with a summary.json); not: {}",
                odd.join(", ")
            );
            return Exit::Usage;
        }
    };
    match result {
        Ok(done) => {
            crate::out!("{}", report::compare::render_terminal(&done.comparison, &done.dir));
            done.comparison.exit_code
        }
        Err(e) => {
            crate::note!("error: {e}");
            e.exit_code()
        }
    }
}
