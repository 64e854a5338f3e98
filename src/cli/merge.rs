//! `flashbench merge`: the parts of `run --shard i/N` judged as one run.

use crate::report;
use crate::run::RunOptions;
use std::path::PathBuf;

pub(super) async fn merge_command(dirs: &[PathBuf], out: Option<PathBuf>, quiet: bool) -> i32 {
    crate::interrupt::install();
    let opts = RunOptions { out, quiet, ..RunOptions::default() };
    let result = crate::shard::distributed::merge_dirs(dirs, &opts).await;
    match (&result.summary, &result.error) {
        (Some(s), _) if !quiet => crate::out!("{}", report::render(s, result.dir.as_deref())),
        (Some(s), _) => {
            crate::outln!("{} {} exit {}: {}", report::terminal::verdict_word(s), s.scenario, s.exit_code, s.headline())
        }
        (None, Some(e)) => crate::note!("error: {e}"),
        (None, None) => {}
    }
    result.exit_code
}
