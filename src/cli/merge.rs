//! `flashbench merge`: the parts of `run --shard i/N` judged as one run.

use crate::model::exit::Exit;
use crate::run::RunOptions;
use std::path::PathBuf;

pub(super) async fn merge_command(dirs: &[PathBuf], out: Option<PathBuf>, quiet: bool) -> Exit {
    crate::interrupt::install();
    let opts = RunOptions { out, quiet, ..RunOptions::default() };
    let result = crate::shard::distributed::merge_dirs(dirs, &opts).await;
    super::run::print_result(&result, quiet);
    result.exit_code
}
