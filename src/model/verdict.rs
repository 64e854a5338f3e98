//! A verdict's parts as `summary.json` carries them: each expected outcome count checked, and
//! what a signal cut short. Decided by `crate::verdict`.

use super::Outcome;
use serde::{Deserialize, Serialize};

/// A run stopped by a signal: its summary is partial, its verdict `interrupted`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interruption {
    /// `SIGINT` (Ctrl-C) or `SIGTERM`.
    pub signal: String,
    /// The phase the run was in when the signal came (`connecting`, `buying`, `truth`, …).
    pub during: String,
    /// Whether every buyer had made all its attempts (the signal came after the load): the
    /// checks are then complete, but the run still exits with the signal's code.
    pub load_complete: bool,
    /// Attempts still unanswered at the end of the drain, recorded as `timeout`.
    pub cut_attempts: u64,
    /// Buyers that sent no order request: stopped before their start (recorded as
    /// `not_sent`) or never started.
    pub stopped_buyers: u64,
    /// The signal's exit (130, 143).
    #[serde(skip)]
    pub exit_code: super::exit::Exit,
    /// The first reason line: the signal, the phase, what was sent, cut and never sent.
    #[serde(skip)]
    pub reason: String,
}

/// One expected outcome count, checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomeCheck {
    pub outcome: Outcome,
    pub expected: String,
    pub observed: u64,
    pub pass: bool,
}
