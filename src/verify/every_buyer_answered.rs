//! `every_buyer_answered` (liveness): every attempt that reached the target got an answer: none
//! timed out, none lost its connection unanswered. A server that hangs on a pool deadlock or
//! crashes mid-sale fails it, whatever the stock says. Attempts the run's own stop cut short
//! (Ctrl-C) are the tool's doing and take no part. Scenarios that expect unavailability (a
//! fault that kills the server) say so with `expect.may_also_violate`.

use super::{ms, Input};
use crate::harness::buyer::CUT_BY_STOP;
use crate::model::check::{Check, Invariant, Status};
use crate::model::Attempt;
use crate::model::Outcome;
use crate::text::count;

/// Was `a` sent and never answered?
pub fn unanswered(a: &Attempt) -> bool {
    let cut_by_stop = a.error.as_deref().is_some_and(|e| e.starts_with(CUT_BY_STOP));
    let no_answer = a.outcome == Outcome::Timeout || (a.outcome == Outcome::Error && a.status == 0);
    no_answer && !cut_by_stop
}

pub fn check(input: &Input) -> Check {
    let sent: Vec<&Attempt> = input.ledger.attempts.iter().filter(|a| a.outcome.was_sent()).collect();
    let silent: Vec<&&Attempt> = sent.iter().filter(|a| unanswered(a)).collect();
    let timeouts = silent.iter().filter(|a| a.outcome == Outcome::Timeout).count();
    let closed = silent.len() - timeouts;
    let check = if sent.is_empty() {
        Check::new(Invariant::EveryBuyerAnswered, Status::NotApplicable, "no attempt reached the target")
    } else if silent.is_empty() {
        Check::new(
            Invariant::EveryBuyerAnswered,
            Status::Pass,
            format!("all {} that reached the target were answered", count(sent.len() as u64, "attempt")),
        )
    } else {
        let buyers: std::collections::BTreeSet<u32> = silent.iter().map(|a| a.buyer).collect();
        let mut how = Vec::new();
        if timeouts > 0 {
            how.push(format!("{timeouts} timed out"));
        }
        if closed > 0 {
            how.push(format!("{closed} lost their connection unanswered"));
        }
        Check::new(
            Invariant::EveryBuyerAnswered,
            Status::Fail,
            format!(
                "{} of {} attempts were never answered ({}), {} of them",
                silent.len(),
                sent.len(),
                how.join(", "),
                count(buyers.len() as u64, "buyer")
            ),
        )
        .examples(silent.iter().map(|a| {
            let why = match a.outcome {
                Outcome::Timeout => format!("no answer after {}", ms(a.done_us.saturating_sub(a.sent_us))),
                _ => format!("connection closed unanswered ({})", a.error.as_deref().unwrap_or("no detail")),
            };
            format!("{} attempt {}: sent at {}, {why}", input.buyer(a.buyer), a.attempt, ms(a.sent_us))
        }))
    };
    check.count("sent", sent.len()).count("unanswered", silent.len()).count("timeouts", timeouts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::model::Outcome::*;

    #[test]
    fn a_timeout_or_a_closed_connection_is_no_answer_a_500_is_one() {
        let s = scenario(5, 4);
        let t = truth(5, 4, &[0]);
        let l = ledger(vec![attempt(0, Won, 0), attempt(1, Error, 1), attempt(2, SoldOut, 2), attempt(3, NotSent, 3)]);
        assert_eq!(check(&Input::new(&s, &l, &t)).status, Status::Pass, "a 500 is an answer");
        let mut closed = attempt(1, Error, 1);
        closed.status = 0;
        closed.error = Some("connection reset".into());
        let l = ledger(vec![attempt(0, Won, 0), closed, attempt(2, Timeout, 2)]);
        let c = check(&Input::new(&s, &l, &t));
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(
            c.detail.contains("2 of 3 attempts were never answered (1 timed out, 1 lost their connection"),
            "{}",
            c.detail
        );
        assert!(c
            .examples
            .iter()
            .any(|e| e.contains("buyer-1 attempt 1: sent at 0.0 ms, connection closed unanswered")));
    }

    #[test]
    fn attempts_cut_by_the_stop_are_not_the_targets_silence() {
        let s = scenario(5, 1);
        let mut cut = attempt(0, Timeout, 0);
        cut.error = Some(format!("{CUT_BY_STOP}: no answer within 2s of the stop"));
        let l = ledger(vec![cut]);
        assert_eq!(check(&Input::new(&s, &l, &truth(5, 5, &[]))).status, Status::Pass);
    }
}
