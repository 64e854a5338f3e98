//! `flashbench validate`: scenario files checked, their targets compiled, without any load.

use crate::model::exit::Exit;
use crate::run::{self};
use std::path::PathBuf;

pub(super) fn validate_command(paths: &[PathBuf]) -> Exit {
    let mut code = Exit::Pass;
    for path in paths {
        let files = match run::expand(std::slice::from_ref(path)) {
            Ok(f) => f,
            Err(e) => {
                crate::outln!("error  {e}");
                code = Exit::Usage;
                continue;
            }
        };
        for file in files {
            match run::load(&file) {
                Ok(s) => crate::outln!(
                    "ok     {} ({}: {}, {})",
                    file.display(),
                    s.name,
                    crate::text::count(s.total_buyers(), "buyer"),
                    crate::text::count(s.products.len() as u64, "product")
                ),
                Err(e) => {
                    crate::outln!("error  {e}");
                    code = Exit::Usage;
                }
            }
        }
    }
    code
}
