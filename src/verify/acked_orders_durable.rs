//! `acked_orders_durable`: every `won` attempt's order is in the store. An answer without an
//! order id is matched by (buyer, product) against the stored orders.

use super::{Check, Input, Invariant, Status};
use crate::harness::Ledger;
use crate::outcome::Outcome;
use std::collections::{HashMap, HashSet};

pub fn check(input: &Input) -> Check {
    let (l, t) = (input.ledger, input.truth);
    let stored: HashSet<&str> = t.orders.iter().map(|o| o.id.as_str()).collect();
    let mut per_pair: HashMap<(&str, &str), usize> = HashMap::new();
    for o in &t.orders {
        *per_pair.entry((o.buyer_id.as_str(), o.product_id.as_str())).or_default() += 1;
    }
    let mut lost = Vec::new();
    let mut anonymous: HashMap<(String, usize), usize> = HashMap::new();
    let mut acked = 0;
    for a in l.attempts.iter().filter(|a| a.outcome == Outcome::Won) {
        acked += 1;
        match &a.order_id {
            Some(id) if !stored.contains(id.as_str()) => {
                lost.push(format!("order {id} (buyer-{}, attempt {})", a.buyer, a.attempt))
            }
            Some(_) => {}
            None => *anonymous.entry((Ledger::buyer_id(a.buyer), a.product as usize)).or_default() += 1,
        }
    }
    for ((buyer, product), n) in anonymous {
        let pid = l.products.get(product).map_or("", |p| p.as_str());
        let have = per_pair.get(&(buyer.as_str(), pid)).copied().unwrap_or(0);
        if have < n {
            lost.push(format!("{buyer} was told {n} order(s) of {pid} succeeded, the store holds {have}"));
        }
    }
    let check = if lost.is_empty() {
        Check::new(Invariant::AckedOrdersDurable, Status::Pass, format!("all {acked} acknowledged orders are stored"))
    } else {
        Check::new(
            Invariant::AckedOrdersDurable,
            Status::Fail,
            format!("{} of {acked} acknowledged orders are missing from the store", lost.len()),
        )
        .examples(lost.clone())
    };
    check.count("acknowledged", acked).count("missing", lost.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome::*;
    use crate::verify::fixtures::*;

    #[test]
    fn finds_lost_acknowledged_orders() {
        let s = scenario(2, 3);
        let l = ledger(vec![attempt(0, Won, 0), attempt(1, Won, 1), attempt(2, SoldOut, 2)]);
        assert_eq!(check(&Input { scenario: &s, ledger: &l, truth: &truth(2, 0, &[0, 1]) }).status, Status::Pass);
        let c = check(&Input { scenario: &s, ledger: &l, truth: &truth(2, 1, &[0]) });
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.examples, vec!["order o1 (buyer-1, attempt 1)".to_string()]);
    }

    #[test]
    fn matches_answers_without_ids_by_buyer() {
        let s = scenario(2, 3);
        let mut won = attempt(1, Won, 1);
        won.order_id = None;
        let l = ledger(vec![won]);
        assert_eq!(check(&Input { scenario: &s, ledger: &l, truth: &truth(2, 1, &[1]) }).status, Status::Pass);
        assert_eq!(check(&Input { scenario: &s, ledger: &l, truth: &truth(2, 1, &[0]) }).status, Status::Fail);
    }
}
