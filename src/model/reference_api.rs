//! The reference server's answers as outcome classes: one table, read by the server (which
//! counts its own answers by it) and by the harness (whose default outcome rules are made from
//! it), so the two cannot disagree. 2xx won, 409 sold out, 423 busy (and the seed design's 400
//! `{"error": "busy"}`), 429 rate limited, other 4xx rejected, 5xx error; anything else is an
//! error (indeterminate).

use super::Outcome;

/// One line of the table: the answers with a status in `from..=to` (and, where named, this
/// `error` code in the body's `error` field) are `outcome`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerClass {
    pub from: u16,
    pub to: u16,
    pub error: Option<&'static str>,
    pub outcome: Outcome,
}

const fn class(from: u16, to: u16, error: Option<&'static str>, outcome: Outcome) -> AnswerClass {
    AnswerClass { from, to, error, outcome }
}

/// The table, in order: the first line that matches an answer classifies it.
pub const REFERENCE_ANSWERS: [AnswerClass; 7] = [
    class(200, 299, None, Outcome::Won),
    class(409, 409, None, Outcome::SoldOut),
    class(423, 423, None, Outcome::Busy),
    class(400, 400, Some("busy"), Outcome::Busy),
    class(429, 429, None, Outcome::RateLimited),
    class(400, 499, None, Outcome::Rejected),
    class(500, 599, None, Outcome::Error),
];

/// Where a won answer of the reference server names its order (a JSON pointer).
pub const REFERENCE_ORDER_ID: &str = "/order/id";

/// The classes the reference server answers with, each once, in the table's order
/// (flashbench's outcome classes, less the ones only a client sees: `accepted`, `timeout`,
/// `not_sent`).
pub fn answer_classes() -> Vec<Outcome> {
    let mut classes: Vec<Outcome> = Vec::new();
    for c in REFERENCE_ANSWERS {
        if !classes.contains(&c.outcome) {
            classes.push(c.outcome);
        }
    }
    classes
}

/// The class of an answer with `status` and, for an error answer, its `error` code.
pub fn reference_outcome(status: u16, error: Option<&str>) -> Outcome {
    REFERENCE_ANSWERS
        .iter()
        .find(|c| (c.from..=c.to).contains(&status) && c.error.is_none_or(|code| error == Some(code)))
        .map_or(Outcome::Error, |c| c.outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_reads_the_reference_answers() {
        assert_eq!(reference_outcome(201, None), Outcome::Won);
        assert_eq!(reference_outcome(409, Some("sold_out")), Outcome::SoldOut);
        assert_eq!(reference_outcome(423, Some("busy")), Outcome::Busy);
        assert_eq!(reference_outcome(400, Some("busy")), Outcome::Busy, "the seed design's busy");
        assert_eq!(reference_outcome(400, Some("bad_request")), Outcome::Rejected);
        assert_eq!(reference_outcome(403, Some("busy")), Outcome::Rejected, "only the seed's 400 says busy so");
        assert_eq!(reference_outcome(429, None), Outcome::RateLimited);
        assert_eq!(reference_outcome(503, Some("store_unavailable")), Outcome::Error);
        assert_eq!(reference_outcome(302, None), Outcome::Error, "no line: indeterminate");
        use Outcome::*;
        assert_eq!(answer_classes(), [Won, SoldOut, Busy, RateLimited, Rejected, Error]);
    }
}
