//! Colour on the terminal: verdicts and statuses (PASS green, FAIL red, n/a grey) and the live
//! view. `--color auto` (the default) colours a stream only when it is a terminal and
//! `NO_COLOR` is unset or empty (<https://no-color.org>); `always` and `never` decide alone.
//! Text written to files (reports) is never coloured.

use anstyle::{AnsiColor, Style};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when the stream is a terminal and NO_COLOR is not set.
    #[default]
    Auto,
    Always,
    Never,
}

/// Where text goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

static STDOUT: AtomicBool = AtomicBool::new(false);
static STDERR: AtomicBool = AtomicBool::new(false);

/// Decides, once at start-up, whether stdout and stderr get colour.
pub fn init(choice: ColorChoice) {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let decide = |terminal: bool| match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => terminal && !no_color && std::env::var("TERM").map_or(true, |t| t != "dumb"),
    };
    STDOUT.store(decide(std::io::stdout().is_terminal()), Ordering::Relaxed);
    STDERR.store(decide(std::io::stderr().is_terminal()), Ordering::Relaxed);
}

pub fn enabled(stream: Stream) -> bool {
    match stream {
        Stream::Stdout => STDOUT.load(Ordering::Relaxed),
        Stream::Stderr => STDERR.load(Ordering::Relaxed),
    }
}

/// The colours flashbench uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paint {
    /// PASS, ok, won.
    Good,
    /// FAIL, violated, regressed.
    Bad,
    /// Warnings, indeterminate outcomes, interrupted.
    Warn,
    /// n/a, not checked, skipped.
    Muted,
    /// Headings and the verdict's emphasis.
    Bold,
}

impl Paint {
    fn style(self) -> Style {
        let fg = |c: AnsiColor| Style::new().fg_color(Some(c.into()));
        match self {
            Paint::Good => fg(AnsiColor::Green).bold(),
            Paint::Bad => fg(AnsiColor::Red).bold(),
            Paint::Warn => fg(AnsiColor::Yellow),
            Paint::Muted => fg(AnsiColor::BrightBlack),
            Paint::Bold => Style::new().bold(),
        }
    }
}

/// `text` in `paint` when `stream` has colour, else `text` as is.
pub fn paint(stream: Stream, paint: Paint, text: &str) -> String {
    if enabled(stream) {
        let style = paint.style();
        format!("{style}{text}{style:#}")
    } else {
        text.to_string()
    }
}

/// A status word (`pass`, `PASS`, `ok`, `FAIL`, `n/a`, …) painted by what it means; the
/// padding is kept outside the colour so columns stay aligned.
pub fn status(stream: Stream, word: &str) -> String {
    let trimmed = word.trim_end();
    let pad = &word[trimmed.len()..];
    let p = match trimmed.trim().to_ascii_lowercase().as_str() {
        "pass" | "ok" | "caught" | "also" => Paint::Good,
        "fail" | "regressed" | "missed" | "violated" => Paint::Bad,
        "interrupted" | "warn" | "skipped" => Paint::Warn,
        _ => Paint::Muted,
    };
    format!("{}{pad}", paint(stream, p, trimmed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_plain_without_colour_and_keep_their_padding() {
        STDOUT.store(false, Ordering::Relaxed);
        assert_eq!(status(Stream::Stdout, "ok  "), "ok  ");
        STDOUT.store(true, Ordering::Relaxed);
        let painted = status(Stream::Stdout, "FAIL ");
        assert!(
            painted.starts_with("\u{1b}[") && painted.contains("FAIL") && painted.ends_with("\u{1b}[0m "),
            "{painted:?}"
        );
        assert!(status(Stream::Stdout, "PASS").contains("32m"), "green");
        assert!(status(Stream::Stdout, "n/a").contains("90m"), "grey");
        STDOUT.store(false, Ordering::Relaxed);
    }
}
