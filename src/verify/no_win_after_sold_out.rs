//! `no_win_after_sold_out`: stock only decreases, so once a `sold_out` answer has completed,
//! no attempt sent afterwards (in real time, on one clock) may take effect on the same
//! product: not a won answer, and not an indeterminate or queued one that truth proves stored.
//! An attempt sent afterwards whose effect truth cannot settle leaves it not applicable.

use super::history::ProductHistory;
use super::{ms, Input};
use crate::model::check::{Check, Invariant, Status};
use crate::model::Outcome;

pub fn check(input: &Input) -> Check {
    let mut late = Vec::new();
    let mut open = 0usize;
    let mut any_sold_out = false;
    for h in &input.history.products {
        let Some(first) = first_sold_out(h) else { continue };
        any_sold_out = true;
        let t = first.attempt.done_us;
        for (op, n) in h.sales_after(t) {
            let many = if n > 1 { format!(" ({n} sales)") } else { String::new() };
            late.push(format!(
                "{}: sold_out done at {}; {}: sent at {}, {}{many}",
                first.who(),
                ms(t),
                op.who(),
                ms(op.attempt.sent_us),
                what_it_did(h, op)
            ));
        }
        // Units no buyer can be told for: an unknown attempt sent afterwards may be one of them.
        if h.sales_by_buyer().1 > 0 {
            open += h.unknown().filter(|op| op.attempt.sent_us > t).count();
        }
    }
    if !any_sold_out {
        return Check::new(Invariant::NoWinAfterSoldOut, Status::NotApplicable, "no sold_out answer");
    }
    if !late.is_empty() {
        Check::new(
            Invariant::NoWinAfterSoldOut,
            Status::Fail,
            format!(
                "{} took effect though sent after a sold_out answer had completed",
                crate::text::count(late.len() as u64, "sale")
            ),
        )
        .count("late_wins", late.len())
        .examples(late)
    } else if open > 0 {
        Check::new(
            Invariant::NoWinAfterSoldOut,
            Status::NotApplicable,
            format!(
                "{} sent after a sold_out answer may have taken effect: truth cannot tell",
                crate::text::count(open as u64, "attempt")
            ),
        )
        .count("late_unknown", open)
    } else {
        Check::new(Invariant::NoWinAfterSoldOut, Status::Pass, "nothing sent after a sold_out answer took effect")
    }
}

/// The sold_out answer that completed first.
fn first_sold_out<'h, 'a>(h: &'h ProductHistory<'a>) -> Option<&'h super::history::Op<'a>> {
    h.ops.iter().filter(|op| op.outcome() == Outcome::SoldOut).min_by_key(|op| op.attempt.done_us)
}

/// "won order 7", "no answer, order 6 stored", "error 500, order 6 stored".
fn what_it_did(h: &ProductHistory, op: &super::history::Op) -> String {
    let order =
        op.order.and_then(|k| h.orders.as_ref().map(|o| o[k].order.id.clone())).or_else(|| op.attempt.order_id.clone());
    let stored = |o: Option<String>| o.map_or("a unit left the stock".to_string(), |id| format!("order {id} stored"));
    match op.outcome() {
        Outcome::Won => format!("won (order {})", op.attempt.order_id.as_deref().unwrap_or("without id")),
        Outcome::Timeout => format!("no answer, {}", stored(order)),
        Outcome::Error if op.attempt.status == 0 => format!("connection closed unanswered, {}", stored(order)),
        o => format!("{o} {}, {}", op.attempt.status, stored(order)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::model::Outcome::*;

    #[test]
    fn orders_by_real_time() {
        let s = scenario(1, 3);
        let t = truth(1, 0, &[0]);
        // sold_out done at 150; a win sent at 50 overlaps it: allowed.
        let fine = ledger(vec![attempt(0, Won, 50), attempt(1, SoldOut, 50)]);
        assert_eq!(check(&Input::new(&s, &fine, &t)).status, Status::Pass);
        let bad = ledger(vec![attempt(1, SoldOut, 0), attempt(0, Won, 500)]);
        let c = check(&Input::new(&s, &bad, &t));
        assert_eq!(c.status, Status::Fail);
        assert!(c.examples[0].contains("buyer-0 attempt 1: sent at 0.5 ms, won"), "{:?}", c.examples);
        let none = ledger(vec![attempt(0, Won, 0)]);
        assert_eq!(check(&Input::new(&s, &none, &t)).status, Status::NotApplicable);
    }

    #[test]
    fn an_indeterminate_attempt_truth_proves_stored_counts_as_a_win() {
        let s = scenario(1, 2);
        let l = ledger(vec![attempt(1, SoldOut, 0), attempt(0, Error, 500)]);
        let c = check(&Input::new(&s, &l, &truth(1, 0, &[0])));
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(c.examples[0].contains("error 500, order o0 stored"), "{:?}", c.examples);
        let c = check(&Input::new(&s, &l, &truth(1, 1, &[])));
        assert_eq!(c.status, Status::Pass, "the error had no effect: {c:?}");
    }
}
