//! The exit codes (a contract, documented in the README) as [`Exit`], ordered by severity, and
//! the [`Verdict`] each stands for: `0` all passed, `1` an invariant was violated (or a
//! self-test's expected violation was missed), `2` usage or scenario error, `3` a threshold or
//! expected count failed while invariants held, `4` the environment failed, `130` and `143`
//! stopped by SIGINT or SIGTERM. `summary.json` writes the code as its number.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How flashbench ends, least severe first: the most severe of several is their `max`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Exit {
    /// `0`: everything held.
    #[default]
    Pass,
    /// `3`: a threshold, an expected count or a regression limit failed while invariants held.
    Threshold,
    /// `4`: the environment failed (a store, a target, a fault that could not act).
    Environment,
    /// `1`: an invariant was violated, or a self-test's expected violation was missed.
    Violation,
    /// `2`: the command line or a scenario is wrong.
    Usage,
    /// `130`: stopped by SIGINT (Ctrl-C), 128 + 2 as shells report it.
    Interrupted,
    /// `143`: stopped by SIGTERM, 128 + 15.
    Terminated,
}

impl Exit {
    /// The process exit code.
    pub const fn code(self) -> i32 {
        match self {
            Exit::Pass => 0,
            Exit::Violation => 1,
            Exit::Usage => 2,
            Exit::Threshold => 3,
            Exit::Environment => 4,
            Exit::Interrupted => 130,
            Exit::Terminated => 143,
        }
    }

    /// The exit of a process that ended with `code`; a code flashbench never gives (a crash's
    /// 101, a signal's -1) is an environment failure, never a pass.
    pub fn from_code(code: i32) -> Exit {
        match code {
            0 => Exit::Pass,
            1 => Exit::Violation,
            2 => Exit::Usage,
            3 => Exit::Threshold,
            130 => Exit::Interrupted,
            143 => Exit::Terminated,
            _ => Exit::Environment,
        }
    }

    /// Stopped by a signal.
    pub fn is_stop(self) -> bool {
        matches!(self, Exit::Interrupted | Exit::Terminated)
    }

    /// What the exit says of the run.
    pub fn verdict(self) -> Verdict {
        match self {
            Exit::Pass => Verdict::Pass,
            Exit::Interrupted | Exit::Terminated => Verdict::Interrupted,
            _ => Verdict::Fail,
        }
    }

    /// The most severe of `exits` (a stop, then 2, 1, 4, 3, 0); a pass when there are none.
    pub fn most_severe(exits: impl IntoIterator<Item = Exit>) -> Exit {
        exits.into_iter().max().unwrap_or_default()
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code())
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code() as u8)
    }
}

impl Serialize for Exit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(self.code())
    }
}

impl<'de> Deserialize<'de> for Exit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Exit::from_code(i32::deserialize(d)?))
    }
}

/// What a run's verdict says: `pass`, `fail` or `interrupted` in `summary.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    Interrupted,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_runs_stop_usage_violation_environment_threshold_pass() {
        use Exit::*;
        assert_eq!(Exit::most_severe([Pass, Threshold, Environment, Violation]), Violation);
        assert_eq!(Exit::most_severe([Pass, Threshold, Environment]), Environment);
        assert_eq!(Exit::most_severe([Violation, Usage]), Usage);
        assert_eq!(Exit::most_severe([Pass, Threshold]), Threshold);
        assert_eq!(Exit::most_severe([Usage, Interrupted]), Interrupted, "a stopped suite says it was stopped");
        assert_eq!(Exit::most_severe([]), Pass);
    }

    #[test]
    fn codes_round_trip_and_unknown_ones_never_pass() {
        for exit in [Exit::Pass, Exit::Violation, Exit::Usage, Exit::Threshold, Exit::Environment] {
            assert_eq!(Exit::from_code(exit.code()), exit);
        }
        assert_eq!(Exit::from_code(130), Exit::Interrupted);
        assert_eq!(Exit::from_code(143), Exit::Terminated);
        assert_eq!(Exit::from_code(101), Exit::Environment, "a panicked child");
        assert_eq!(serde_json::to_string(&Exit::Threshold).expect("json"), "3");
        assert_eq!(serde_json::from_str::<Exit>("143").expect("json"), Exit::Terminated);
        assert_eq!(serde_json::to_string(&Verdict::Interrupted).expect("json"), "\"interrupted\"");
    }
}
