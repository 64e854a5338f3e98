//! `per_buyer_limit`: no buyer holds more orders of a product than the scenario's limit.
//! Without order records a buyer's holding is its wins plus the attempts that took effect;
//! unknown attempts that could push it over leave the check open.

use super::{Check, Input, Invariant, Status};
use crate::outcome::Outcome;
use crate::resolve::Resolution;
use std::collections::HashMap;

pub fn check(input: &Input) -> Check {
    let limit = input.scenario.buyers.limit as usize;
    let Some(held) = input.truth.holdings() else { return by_ledger(input) };
    let mut over: Vec<(&(&str, &str), &u32)> = held.iter().filter(|(_, &n)| n as usize > limit).collect();
    over.sort();
    let most = held.values().copied().max().unwrap_or(0);
    let check = if over.is_empty() {
        Check::new(Invariant::PerBuyerLimit, Status::Pass, format!("no buyer holds more than {most} (limit {limit})"))
    } else {
        Check::new(
            Invariant::PerBuyerLimit,
            Status::Fail,
            format!(
                "{} more than {}, up to {most}",
                if over.len() == 1 { "1 buyer holds".to_string() } else { format!("{} buyers hold", over.len()) },
                crate::text::count(limit as u64, "order")
            ),
        )
        .examples(over.iter().map(|((b, p), n)| format!("{b} holds {n} of {p}")))
    };
    check.count("limit", limit).count("most_held", most).count("buyers_over", over.len())
}

/// Without order records: wins and attempts that took effect, per buyer.
fn by_ledger(input: &Input) -> Check {
    let (limit, l) = (input.scenario.buyers.limit as usize, input.ledger);
    let mut held: HashMap<u32, (usize, usize)> = HashMap::new();
    for a in &l.attempts {
        let (sure, maybe) = held.entry(a.buyer).or_default();
        match (a.outcome, a.resolved) {
            (Outcome::Won, _) | (_, Some(Resolution::TookEffect)) => *sure += 1,
            (o, Some(Resolution::Unknown) | None) if o.is_open() => *maybe += 1,
            _ => {}
        }
    }
    let mut over: Vec<_> = held.iter().filter(|(_, (sure, _))| *sure > limit).map(|(b, (n, _))| (*b, *n)).collect();
    over.sort();
    let open = held.values().filter(|(sure, maybe)| *sure <= limit && sure + maybe > limit).count();
    if !over.is_empty() {
        Check::new(
            Invariant::PerBuyerLimit,
            Status::Fail,
            format!(
                "{} got more than {}",
                crate::text::count(over.len() as u64, "buyer"),
                crate::text::count(limit as u64, "order")
            ),
        )
        .examples(over.iter().map(|(b, n)| format!("buyer-{b} got {n}")))
    } else if open > 0 {
        Check::new(
            Invariant::PerBuyerLimit,
            Status::NotApplicable,
            format!(
                "{} could be over the limit of {limit} through attempts that could not be resolved",
                crate::text::count(open as u64, "buyer")
            ),
        )
    } else {
        Check::new(
            Invariant::PerBuyerLimit,
            Status::Pass,
            format!("no buyer got more than {limit} (counted: the store keeps no order records)"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::fixtures::*;

    #[test]
    fn counts_orders_per_buyer() {
        let (s, l) = (scenario(5, 3), ledger(vec![]));
        assert_eq!(check(&Input { scenario: &s, ledger: &l, truth: &truth(5, 3, &[0, 1]) }).status, Status::Pass);
        let mut t = truth(5, 2, &[0, 1]);
        t.orders.get_or_insert_with(Vec::new).push(crate::server::store::Order { id: "x".into(), ..order(1) });
        let c = check(&Input { scenario: &s, ledger: &l, truth: &t });
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.examples, vec!["buyer-1 holds 2 of p".to_string()]);
    }

    #[test]
    fn without_order_records_counts_wins_and_resolved_attempts() {
        use crate::outcome::Outcome::*;
        let s = scenario(5, 3);
        let mut second = attempt(0, Won, 9);
        second.attempt = 2;
        let mut t = truth(5, 3, &[]);
        t.orders = None;
        let l = ledger(vec![attempt(0, Won, 0), second]);
        assert_eq!(check(&Input { scenario: &s, ledger: &l, truth: &t }).status, Status::Fail);
        let mut maybe = attempt(0, Timeout, 9);
        maybe.resolved = Some(Resolution::Unknown);
        let l = ledger(vec![attempt(0, Won, 0), maybe]);
        assert_eq!(check(&Input { scenario: &s, ledger: &l, truth: &t }).status, Status::NotApplicable);
    }
}
