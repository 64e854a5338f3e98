//! The `flashbench` binary: parse the command line, run it, exit with its code.

use clap::Parser;
use flashbench::cli::{dispatch, Cli};

fn main() {
    let cli = Cli::parse();
    flashbench::logging::init(cli.verbose);
    flashbench::color::init(cli.color);
    let runtime = match flashbench::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(flashbench::model::exit::Exit::Environment.code());
        }
    };
    let code = runtime.block_on(dispatch(cli));
    // Goose users and in-flight connections may still be winding down; do not wait for them.
    runtime.shutdown_background();
    // What repeated or could not be written, in a line or two, after the verdict.
    flashbench::logging::finish();
    std::process::exit(code.code());
}
