//! `no_win_after_sold_out`: stock only decreases, so once a `sold_out` answer has completed,
//! no attempt sent afterwards (in real time, on one clock) may win the same product.

use super::{Check, Input, Invariant, Status};
use crate::outcome::Outcome;

pub fn check(input: &Input) -> Check {
    let l = input.ledger;
    let mut late = Vec::new();
    let mut any_sold_out = false;
    for p in 0..l.products.len() {
        let first_sold_out = l
            .attempts
            .iter()
            .filter(|a| a.product as usize == p && a.outcome == Outcome::SoldOut)
            .map(|a| a.done_us)
            .min();
        let Some(t) = first_sold_out else { continue };
        any_sold_out = true;
        late.extend(
            l.attempts
                .iter()
                .filter(|a| a.product as usize == p && a.outcome == Outcome::Won && a.sent_us > t)
                .map(|a| format!("buyer-{} won {} at {} µs, sold out since {t} µs", a.buyer, l.products[p], a.sent_us)),
        );
    }
    if !any_sold_out {
        return Check::new(Invariant::NoWinAfterSoldOut, Status::NotApplicable, "no sold_out answer");
    }
    if late.is_empty() {
        Check::new(Invariant::NoWinAfterSoldOut, Status::Pass, "no win was sent after a sold_out answer")
    } else {
        Check::new(
            Invariant::NoWinAfterSoldOut,
            Status::Fail,
            format!("{} wins were sent after a sold_out answer had completed", late.len()),
        )
        .count("late_wins", late.len())
        .examples(late)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome::*;
    use crate::verify::fixtures::*;

    #[test]
    fn orders_by_real_time() {
        let s = scenario(1, 3);
        let t = truth(1, 0, &[0]);
        // sold_out done at 150; a win sent at 50 overlaps it: allowed.
        let fine = ledger(vec![attempt(0, Won, 50), attempt(1, SoldOut, 50)]);
        assert_eq!(check(&Input { scenario: &s, ledger: &fine, truth: &t }).status, Status::Pass);
        let bad = ledger(vec![attempt(1, SoldOut, 0), attempt(0, Won, 500)]);
        let c = check(&Input { scenario: &s, ledger: &bad, truth: &t });
        assert_eq!(c.status, Status::Fail);
        assert!(c.examples[0].starts_with("buyer-0 won p at 500"), "{:?}", c.examples);
        let none = ledger(vec![attempt(0, Won, 0)]);
        assert_eq!(check(&Input { scenario: &s, ledger: &none, truth: &t }).status, Status::NotApplicable);
    }
}
