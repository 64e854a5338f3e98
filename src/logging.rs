//! A small logger to stderr. Installed first thing, it also keeps goose's own logger (which
//! writes to stdout) from being installed.

use log::{Level, LevelFilter, Log, Metadata, Record};

struct StderrLogger(LevelFilter);

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= self.0
    }

    fn log(&self, record: &Record) {
        if self.enabled(record.metadata()) {
            let level = match record.level() {
                Level::Error => "error",
                Level::Warn => "warning",
                Level::Info => "info",
                Level::Debug => "debug",
                Level::Trace => "trace",
            };
            eprintln!("{level}: [{}] {}", record.target(), record.args());
        }
    }

    fn flush(&self) {}
}

/// Installs the logger: warnings and errors, plus info at `verbose` 1 and debug at 2.
pub fn init(verbose: u8) {
    let level = match verbose {
        0 => LevelFilter::Warn,
        1 => LevelFilter::Info,
        _ => LevelFilter::Debug,
    };
    if log::set_boxed_logger(Box::new(StderrLogger(level))).is_ok() {
        log::set_max_level(level);
    }
}
