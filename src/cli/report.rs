//! `flashbench report`: a finished run's reports rendered again from its folder.

use crate::model::exit::Exit;
use crate::report;
use std::path::PathBuf;

pub(super) fn report_command(dirs: &[PathBuf]) -> Exit {
    let mut code = Exit::Pass;
    for dir in dirs {
        match report::rerender(dir) {
            Ok(s) => crate::outln!(
                "rendered {} ({} {}, exit {})",
                dir.join("index.html").display(),
                s.scenario,
                s.verdict,
                s.exit_code
            ),
            Err(e) => {
                crate::note!("error: {e}");
                code = Exit::Usage;
            }
        }
    }
    code
}
