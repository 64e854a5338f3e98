//! The live progress line on stderr: phase, attempts and outcomes so far, elapsed time.
//! Counting is lock-free; a ticker redraws a few times a second. Hidden with `--quiet` and
//! when stderr is not a terminal.

use crate::outcome::Outcome;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

#[derive(Debug)]
pub struct Progress {
    counts: [AtomicU64; Outcome::ALL.len()],
    connected: AtomicU64,
    dropped: AtomicU64,
    phase: Mutex<&'static str>,
    bar: ProgressBar,
}

impl Progress {
    pub fn new(visible: bool, label: &str) -> Self {
        let bar = if visible {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8))
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} {prefix} [{elapsed_precise}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_prefix(label.to_string());
        Progress {
            counts: Default::default(),
            connected: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            phase: Mutex::new("starting"),
            bar,
        }
    }

    pub fn record(&self, outcome: Outcome) {
        self.counts[outcome.index()].fetch_add(1, Ordering::Relaxed);
    }

    pub fn connected(&self) {
        self.connected.fetch_add(1, Ordering::Relaxed);
    }

    /// An arrival of the open stream found every slot busy.
    pub fn dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    pub fn set_phase(&self, phase: &'static str) {
        *self.phase.lock().unwrap_or_else(|p| p.into_inner()) = phase;
        self.redraw();
    }

    pub fn redraw(&self) {
        let phase = *self.phase.lock().unwrap_or_else(|p| p.into_inner());
        let mut msg = format!("{phase}: {} connected", self.connected.load(Ordering::Relaxed));
        let total: u64 = self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum();
        msg.push_str(&format!(", {total} attempts"));
        for o in Outcome::ALL {
            let n = self.counts[o.index()].load(Ordering::Relaxed);
            if n > 0 {
                msg.push_str(&format!(" {o}={n}"));
            }
        }
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            msg.push_str(&format!(" dropped={dropped}"));
        }
        self.bar.set_message(msg);
        self.bar.tick();
    }

    pub fn finish(&self) {
        self.redraw();
        self.bar.finish_and_clear();
    }
}
