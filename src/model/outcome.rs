//! The outcome classes of DESIGN.md: every order attempt gets exactly one.
//!
//! `won`, `sold_out`, `busy`, `rate_limited` and `rejected` are definite answers; `error` and
//! `timeout` are indeterminate: the order may or may not have been taken, so the invariants
//! bound them (as Jepsen treats `:info`) and never count them as failures by themselves.
//! `accepted` is a server's "202 Accepted": the order was queued, to be sold or refused later.
//! It is neither a win nor a refusal: a polled status settles it (the attempt then takes the
//! final outcome), else ground truth does, as it does the indeterminate ones; an accepted
//! order truth never shows while stock remained is a lost acknowledgement.
//! `not_sent` is a request that never left (the connection was refused, or could not be
//! opened or written in time): definitely no effect, and no part of any invariant.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Won,
    Accepted,
    SoldOut,
    Busy,
    RateLimited,
    Rejected,
    Error,
    Timeout,
    NotSent,
}

impl Outcome {
    pub const ALL: [Outcome; 9] = [
        Outcome::Won,
        Outcome::Accepted,
        Outcome::SoldOut,
        Outcome::Busy,
        Outcome::RateLimited,
        Outcome::Rejected,
        Outcome::Error,
        Outcome::Timeout,
        Outcome::NotSent,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Won => "won",
            Outcome::Accepted => "accepted",
            Outcome::SoldOut => "sold_out",
            Outcome::Busy => "busy",
            Outcome::RateLimited => "rate_limited",
            Outcome::Rejected => "rejected",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
            Outcome::NotSent => "not_sent",
        }
    }

    /// May the attempt have taken effect without the client knowing?
    pub fn is_indeterminate(self) -> bool {
        matches!(self, Outcome::Error | Outcome::Timeout)
    }

    /// Is the attempt's effect for ground truth to settle: indeterminate, or accepted and
    /// never given a final status?
    pub fn is_open(self) -> bool {
        self.is_indeterminate() || self == Outcome::Accepted
    }

    /// Can an outcome rule or a polled status give it? `timeout` and `not_sent` are what the
    /// transport saw, never an answer.
    pub fn is_answer(self) -> bool {
        !matches!(self, Outcome::Timeout | Outcome::NotSent)
    }

    /// Is it a refusal: the server answered and sold nothing?
    pub fn is_refusal(self) -> bool {
        matches!(self, Outcome::SoldOut | Outcome::Busy | Outcome::RateLimited | Outcome::Rejected)
    }

    /// Did the request reach the target? `not_sent` did not: it takes no part in any invariant.
    pub fn was_sent(self) -> bool {
        self != Outcome::NotSent
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indeterminate_outcomes_are_open_and_not_sent_takes_no_part() {
        assert!(Outcome::Timeout.is_indeterminate() && !Outcome::Busy.is_indeterminate());
        assert!(Outcome::Accepted.is_open() && !Outcome::Accepted.is_indeterminate());
        assert!(!Outcome::NotSent.was_sent() && !Outcome::NotSent.is_answer());
        let refusals: Vec<Outcome> = Outcome::ALL.into_iter().filter(|o| o.is_refusal()).collect();
        assert_eq!(refusals, [Outcome::SoldOut, Outcome::Busy, Outcome::RateLimited, Outcome::Rejected]);
    }
}
