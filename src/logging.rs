//! Every line flashbench writes to stderr (its own notes, the harness's, the server's and the
//! libraries' log records) goes through one bounded, non-blocking sink: a queue drained by one
//! writer thread. A slow or full pipe never blocks a worker (lines past the queue are dropped
//! and counted); a closed one never panics a task (the writer stops writing and counts). A
//! library that repeats one warning (a pool's slow-acquire line, once per waiting request) is
//! shown a few times, then summarised in one line at the end of the run.
//!
//! Installed first thing, it also keeps goose's own logger (which writes to stdout) from being
//! installed.

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Mutex, OnceLock};

/// Lines waiting for the writer at most; past that, lines are dropped and counted.
const QUEUE: usize = 4096;
/// Lines of one log target shown before the rest are only counted.
const SHOWN_PER_TARGET: u32 = 3;

enum Message {
    Line(String),
    /// Write everything before it, then answer.
    Flush(SyncSender<()>),
}

struct Sink {
    queue: SyncSender<Message>,
    dropped: AtomicU64,
    /// Per log target: lines seen, and the last one's text.
    repeats: Mutex<HashMap<String, (u32, String)>>,
}

fn sink() -> &'static Sink {
    static SINK: OnceLock<Sink> = OnceLock::new();
    SINK.get_or_init(|| {
        let (queue, lines) = sync_channel(QUEUE);
        // A thread of its own: a pipe nobody reads blocks this thread alone.
        let _ = std::thread::Builder::new().name("flashbench-stderr".into()).spawn(move || write_lines(lines));
        Sink { queue, dropped: AtomicU64::new(0), repeats: Mutex::new(HashMap::new()) }
    })
}

fn write_lines(lines: Receiver<Message>) {
    let mut open = true;
    for message in lines {
        match message {
            Message::Line(line) if open => {
                let mut err = std::io::stderr().lock();
                open = err.write_all(line.as_bytes()).and_then(|_| err.flush()).is_ok();
                if !open {
                    sink().dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            Message::Line(_) => {
                sink().dropped.fetch_add(1, Ordering::Relaxed);
            }
            Message::Flush(done) => {
                let _ = done.send(());
            }
        }
    }
}

/// Writes `text` and a newline to stderr through the sink; never blocks, never panics.
pub fn line(text: impl Into<String>) {
    let mut text = text.into();
    text.push('\n');
    if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = sink().queue.try_send(Message::Line(text)) {
        sink().dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// Writes `text` to stdout as it is; a closed pipe (`flashbench run … | head -1`) is ignored,
/// never a panic.
pub fn stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

/// Waits (a moment at most) until the lines queued so far are written.
pub fn flush() {
    let (done, wait) = sync_channel(1);
    if sink().queue.try_send(Message::Flush(done)).is_ok() {
        let _ = wait.recv_timeout(std::time::Duration::from_millis(500));
    }
}

/// The lines left out so far: summaries of repeated log lines, and what was dropped.
pub fn summary() -> Vec<String> {
    let mut out: Vec<String> = sink()
        .repeats
        .lock()
        .map(|r| {
            let mut rows: Vec<(&String, &(u32, String))> =
                r.iter().filter(|(_, (n, _))| *n > SHOWN_PER_TARGET).collect();
            rows.sort();
            rows.into_iter()
                .map(|(target, (n, last))| {
                    format!("[{target}] {} more like it, the last: {last}", n - SHOWN_PER_TARGET)
                })
                .collect()
        })
        .unwrap_or_default();
    let dropped = sink().dropped.load(Ordering::Relaxed);
    if dropped > 0 {
        out.push(format!("{dropped} lines to stderr were dropped: it was full or closed"));
    }
    out
}

/// Writes [`summary`] (once, at the end of a command) and flushes.
pub fn finish() {
    for s in summary() {
        line(format!("note: {s}"));
    }
    if let Ok(mut r) = sink().repeats.lock() {
        r.clear();
    }
    flush();
}

struct SinkLogger(LevelFilter);

impl Log for SinkLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= self.0
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Error => "error",
            Level::Warn => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        };
        let text = record.args().to_string();
        let shown = match sink().repeats.lock() {
            Ok(mut r) => {
                let seen = r.entry(record.target().to_string()).or_insert((0, String::new()));
                seen.0 += 1;
                seen.1 = text.clone();
                seen.0 <= SHOWN_PER_TARGET
            }
            Err(_) => true,
        };
        if shown {
            line(format!("{level}: [{}] {text}", record.target()));
        }
    }

    fn flush(&self) {
        flush();
    }
}

/// Installs the logger: warnings and errors, plus info at `verbose` 1 and debug at 2.
pub fn init(verbose: u8) {
    let level = match verbose {
        0 => LevelFilter::Warn,
        1 => LevelFilter::Info,
        _ => LevelFilter::Debug,
    };
    if log::set_boxed_logger(Box::new(SinkLogger(level))).is_ok() {
        log::set_max_level(level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_lines_of_one_target_are_summarised() {
        let logger = SinkLogger(LevelFilter::Warn);
        let target = "test::repeats";
        for n in 0..10 {
            logger.log(
                &Record::builder().level(Level::Warn).target(target).args(format_args!("slow acquire {n}")).build(),
            );
        }
        let summary = summary();
        let row = summary.iter().find(|s| s.contains(target)).expect("a summary row");
        assert!(row.contains("7 more like it, the last: slow acquire 9"), "{row}");
    }
}
