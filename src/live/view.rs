//! The live view on stderr while a run goes on. On a terminal (indicatif): the phase with a
//! bar and ETA where the total is known (connecting N of M, buyers done, arrivals handed
//! out), outcome counts with their rate per second, latency p50/p99 so far, and the stock
//! left per product from the stock monitor. On a non-terminal (CI logs): one plain line every
//! [`PLAIN_EVERY`] and at each change of phase. Hidden with `--quiet`.

use super::{Live, Phase, Snapshot};
use crate::color::{paint, Paint, Stream};
use crate::model::Outcome;
use crate::text::thousands;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a plain progress line is written when stderr is not a terminal.
pub const PLAIN_EVERY: Duration = Duration::from_secs(5);
/// How often the terminal view is redrawn.
const REDRAW_EVERY: Duration = Duration::from_millis(125);
/// Products shown by name on the stock line; the rest are summed up.
const STOCK_SHOWN: usize = 4;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Hidden,
    Terminal,
    Plain,
}

impl Mode {
    /// Terminal on a terminal, plain lines otherwise, nothing with `--quiet`.
    pub fn detect(quiet: bool) -> Mode {
        match (quiet, std::io::stderr().is_terminal()) {
            (true, _) => Mode::Hidden,
            (false, true) => Mode::Terminal,
            (false, false) => Mode::Plain,
        }
    }
}

/// The running view; [`View::stop`] clears it.
pub struct View {
    ticker: Option<tokio::task::JoinHandle<()>>,
    bar: Option<ProgressBar>,
}

impl View {
    /// Starts showing `live` (call inside the runtime).
    pub fn start(live: Arc<Live>, mode: Mode) -> View {
        match mode {
            Mode::Hidden => View { ticker: None, bar: None },
            Mode::Terminal => {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8));
                let drawn = bar.clone();
                let ticker = tokio::spawn(async move {
                    let mut rates = Rates::default();
                    let mut shape = None;
                    let mut every = tokio::time::interval(REDRAW_EVERY);
                    loop {
                        every.tick().await;
                        let snap = live.snapshot();
                        draw(&drawn, &live, &snap, rates.update(&snap), &mut shape);
                    }
                });
                View { ticker: Some(ticker), bar: Some(bar) }
            }
            Mode::Plain => {
                let ticker = tokio::spawn(async move {
                    let mut rates = Rates::default();
                    let mut changes = live.watch_phase();
                    let mut every = tokio::time::interval(PLAIN_EVERY);
                    let mut last_phase = None;
                    loop {
                        // A line every PLAIN_EVERY, and at each new phase.
                        let ticked = tokio::select! {
                            _ = every.tick() => true,
                            changed = changes.changed() => {
                                if changed.is_err() {
                                    return;
                                }
                                false
                            }
                        };
                        let snap = live.snapshot();
                        let per_second = rates.update(&snap);
                        if ticked || last_phase != Some(snap.phase) {
                            crate::logging::line(plain_line(&live, &snap, per_second));
                        }
                        last_phase = Some(snap.phase);
                    }
                });
                View { ticker: Some(ticker), bar: None }
            }
        }
    }
}

impl Drop for View {
    /// Stops and clears the view.
    fn drop(&mut self) {
        if let Some(t) = &self.ticker {
            t.abort();
        }
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// `limited`, or `limited (2 of 3)` during repetitions.
fn title(live: &Live) -> String {
    match live.repetition() {
        (_, 1) => live.labels.scenario.clone(),
        (i, of) => format!("{} ({i} of {of})", live.labels.scenario),
    }
}

/// Attempts per second per outcome, over the last second (a sliding window of snapshots).
#[derive(Default)]
struct Rates {
    window: std::collections::VecDeque<(Instant, [u64; Outcome::ALL.len()])>,
}

/// The span the rates are measured over.
const RATE_WINDOW: Duration = Duration::from_secs(1);

impl Rates {
    fn update(&mut self, snap: &Snapshot) -> [f64; Outcome::ALL.len()] {
        let now = Instant::now();
        let counts = snap.counts.map(|(_, n)| n);
        self.window.push_back((now, counts));
        while self.window.len() > 2 && self.window.get(1).is_some_and(|(at, _)| now.duration_since(*at) >= RATE_WINDOW)
        {
            self.window.pop_front();
        }
        let mut rates = [0.0; Outcome::ALL.len()];
        if let Some((at, before)) = self.window.front() {
            let dt = now.duration_since(*at).as_secs_f64();
            if dt >= 0.1 {
                for i in 0..counts.len() {
                    rates[i] = counts[i].saturating_sub(before[i]) as f64 / dt;
                }
            }
        }
        rates
    }
}

/// What the bar counts in this phase: (done, total, unit), or none (a spinner).
fn bar_of(snap: &Snapshot, closed_buyers: u64, connections: u64) -> Option<(u64, u64, &'static str)> {
    match snap.phase {
        Phase::Connecting => Some((snap.connected, connections, "connected")),
        Phase::Buying | Phase::Ramping | Phase::Draining if closed_buyers > 0 => {
            Some((snap.buyers_done, closed_buyers, "buyers done"))
        }
        Phase::Streaming if snap.arrivals_total > 0 => Some((snap.arrivals, snap.arrivals_total, "arrivals")),
        _ => None,
    }
}

fn draw(bar: &ProgressBar, live: &Live, snap: &Snapshot, rates: [f64; Outcome::ALL.len()], shape: &mut Option<bool>) {
    let counted = bar_of(snap, live.closed_buyers(), live.connections());
    let with_bar = counted.is_some();
    if *shape != Some(with_bar) {
        let coloured = crate::color::enabled(Stream::Stderr);
        let template = match (with_bar, coloured) {
            (true, true) => "{spinner} {prefix} {bar:28.cyan/blue} {pos}/{len} {msg}",
            (true, false) => "{spinner} {prefix} {bar:28} {pos}/{len} {msg}",
            (false, _) => "{spinner} {prefix} {msg}",
        };
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .progress_chars("━╸ ");
        bar.set_style(style);
        *shape = Some(with_bar);
    }
    let phase = paint(Stream::Stderr, Paint::Bold, snap.phase.words());
    bar.set_prefix(format!("{} {phase}", title(live)));
    let mut head = format!("[{}]", clock(snap.elapsed));
    if let Some((done, total, unit)) = counted {
        bar.set_length(total.max(1));
        bar.set_position(done.min(total));
        head = format!("{unit}, eta {} {head}", eta(bar));
    }
    bar.set_message(format!("{head}\n  {}\n  {}", outcome_line(snap, rates), figures_line(snap)));
    bar.tick();
}

fn eta(bar: &ProgressBar) -> String {
    let left = bar.eta();
    if bar.position() == 0 || left.is_zero() {
        "–".into()
    } else {
        format!("{}s", left.as_secs_f64().ceil() as u64)
    }
}

fn clock(d: Duration) -> String {
    let s = d.as_secs();
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// `attempts 1,784 (850/s): won 5 · sold_out 1,779 (840/s) · in flight 12`
fn outcome_line(snap: &Snapshot, rates: [f64; Outcome::ALL.len()]) -> String {
    let total_rate: f64 = rates.iter().sum();
    let mut line = format!("attempts {} ({}/s)", thousands(snap.attempts()), thousands(total_rate.round() as u64));
    let mut parts = Vec::new();
    for (i, (o, n)) in snap.counts.iter().enumerate() {
        if *n == 0 {
            continue;
        }
        let name = match o {
            Outcome::Won => paint(Stream::Stderr, Paint::Good, o.name()),
            Outcome::Error | Outcome::Timeout => paint(Stream::Stderr, Paint::Warn, o.name()),
            _ => o.name().to_string(),
        };
        let rate = rates[i].round() as u64;
        let rate = if rate > 0 { format!(" ({}/s)", thousands(rate)) } else { String::new() };
        parts.push(format!("{name} {}{rate}", thousands(*n)));
    }
    if !parts.is_empty() {
        line.push_str(": ");
        line.push_str(&parts.join(" · "));
    }
    if snap.in_flight > 0 {
        line.push_str(&format!(" · in flight {}", thousands(snap.in_flight)));
    }
    if snap.dropped > 0 {
        line.push_str(&format!(" · dropped {}", thousands(snap.dropped)));
    }
    line
}

/// `latency p50 12.3 ms p99 40.1 ms · stock p1 0 of 5, p2 3 of 10`
fn figures_line(snap: &Snapshot) -> String {
    let latency = match (snap.p50, snap.p99) {
        (Some(p50), Some(p99)) => format!("latency p50 {} p99 {}", ms(p50), ms(p99)),
        _ => "latency –".into(),
    };
    let sampled: Vec<&(String, Option<i64>, u64)> = snap.stock.iter().filter(|(_, s, _)| s.is_some()).collect();
    if sampled.is_empty() {
        return latency;
    }
    let mut shown: Vec<String> = sampled
        .iter()
        .take(STOCK_SHOWN)
        .map(|(p, s, initial)| {
            let left = s.unwrap_or_default();
            let text = format!("{p} {left} of {initial}");
            if left < 0 {
                paint(Stream::Stderr, Paint::Bad, &text)
            } else {
                text
            }
        })
        .collect();
    if sampled.len() > STOCK_SHOWN {
        let rest: i64 = sampled[STOCK_SHOWN..].iter().map(|(_, s, _)| s.unwrap_or_default()).sum();
        shown.push(format!("{} more with {rest} left", sampled.len() - STOCK_SHOWN));
    }
    format!("{latency} · stock {}", shown.join(", "))
}

fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms >= 100.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// One line for logs: `limited [00:00:05] connecting 4,812 of 5,000 · attempts 0 · …`.
fn plain_line(live: &Live, snap: &Snapshot, rates: [f64; Outcome::ALL.len()]) -> String {
    let mut line = format!("{} [{}] {}", title(live), clock(snap.elapsed), snap.phase.words());
    if let Some((done, total, unit)) = bar_of(snap, live.closed_buyers(), live.connections()) {
        line.push_str(&format!(" {} of {} {unit}", thousands(done), thousands(total)));
    }
    format!("{line} · {} · {}", outcome_line(snap, rates), figures_line(snap))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::RunLabels;

    #[test]
    fn a_plain_line_says_phase_progress_outcomes_latency_and_stock() {
        let live =
            Live::new(RunLabels { scenario: "limited".into(), ..RunLabels::default() }, vec![("p1".into(), 5)], 100);
        live.set_shape(100, 100);
        live.set_phase(Phase::Connecting);
        for _ in 0..40 {
            live.connected();
        }
        live.sending();
        live.answered(Outcome::Won, Duration::from_millis(12));
        live.stock_sample(0, 4);
        let snap = live.snapshot();
        let line = plain_line(&live, &snap, [0.0; Outcome::ALL.len()]);
        assert!(line.starts_with("limited [00:00:00] connecting 40 of 100 connected"), "{line}");
        assert!(line.contains("attempts 1 (0/s): won 1"), "{line}");
        assert!(line.contains("latency p50 12.0 ms p99 12.0 ms"), "{line}");
        assert!(line.ends_with("stock p1 4 of 5"), "{line}");
    }
}
