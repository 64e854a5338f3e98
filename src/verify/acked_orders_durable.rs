//! `acked_orders_durable`: every `won` attempt's order is in the store. An answer with an
//! order id is looked up by id; one without is matched by (buyer, product) against the stored
//! orders that no id has claimed. Without order records, the acknowledged units must have
//! left the stock.

use super::{Check, Input, Invariant, Status};
use crate::outcome::Outcome;
use std::collections::{HashMap, HashSet};

pub fn check(input: &Input) -> Check {
    let (l, t) = (input.ledger, input.truth);
    let won: Vec<_> = l.attempts.iter().filter(|a| a.outcome == Outcome::Won).collect();
    let Some(orders) = &t.orders else { return by_count(input, won.len()) };
    let stored: HashSet<&str> = orders.iter().map(|o| o.id.as_str()).collect();
    let claimed: HashSet<&str> = won.iter().filter_map(|a| a.order_id.as_deref()).collect();
    let mut unclaimed: HashMap<(&str, &str), usize> = HashMap::new();
    for o in orders.iter().filter(|o| !claimed.contains(o.id.as_str())) {
        *unclaimed.entry((o.buyer_id.as_str(), o.product_id.as_str())).or_default() += 1;
    }
    let mut lost = Vec::new();
    let mut anonymous: HashMap<(String, usize), usize> = HashMap::new();
    for a in &won {
        match &a.order_id {
            Some(id) if !stored.contains(id.as_str()) => {
                lost.push(format!("order {id} (buyer-{}, attempt {})", a.buyer, a.attempt))
            }
            Some(_) => {}
            None => *anonymous.entry((input.scenario.buyer_id(a.buyer), a.product as usize)).or_default() += 1,
        }
    }
    let mut anonymous: Vec<_> = anonymous.into_iter().collect();
    anonymous.sort();
    for ((buyer, product), n) in anonymous {
        let pid = l.products.get(product).map_or("", |p| p.as_str());
        let have = unclaimed.get(&(buyer.as_str(), pid)).copied().unwrap_or(0);
        if have < n {
            lost.push(format!("{buyer} was told {n} order(s) of {pid} succeeded, the store holds {have} more"));
        }
    }
    let acked = won.len();
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

/// Without order records: per product, the units that left the stock cover the acknowledged ones.
fn by_count(input: &Input, acked: usize) -> Check {
    let (s, l, t) = (input.scenario, input.ledger, input.truth);
    let q = i64::from(s.buyers.quantity);
    let mut short = Vec::new();
    for (i, p) in t.products.iter().enumerate() {
        let won = l.attempts.iter().filter(|a| a.product as usize == i && a.outcome == Outcome::Won).count() as i64;
        if let Some(sold) = t.units_ordered(i).filter(|&sold| sold < won * q) {
            short.push(format!(
                "{}: {won} orders acknowledged ({} units), only {sold} units left the stock",
                p.id,
                won * q
            ));
        }
    }
    if short.is_empty() {
        Check::new(
            Invariant::AckedOrdersDurable,
            Status::Pass,
            format!("all {acked} acknowledged orders left the stock (counted: the store keeps no order records)"),
        )
    } else {
        Check::new(Invariant::AckedOrdersDurable, Status::Fail, short.join("; "))
    }
    .count("acknowledged", acked)
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
    fn matches_answers_without_ids_by_buyer_to_orders_no_id_claimed() {
        let s = scenario(2, 3);
        let mut anonymous = attempt(1, Won, 1);
        anonymous.order_id = None;
        let l = ledger(vec![anonymous.clone()]);
        assert_eq!(check(&Input { scenario: &s, ledger: &l, truth: &truth(2, 1, &[1]) }).status, Status::Pass);
        assert_eq!(check(&Input { scenario: &s, ledger: &l, truth: &truth(2, 1, &[0]) }).status, Status::Fail);
        // Buyer 1 won twice, once with id o1 and once without: its one stored order is o1's.
        let mut second = attempt(1, Won, 5);
        second.attempt = 2;
        second.order_id = None;
        let l = ledger(vec![attempt(1, Won, 1), second]);
        let c = check(&Input { scenario: &s, ledger: &l, truth: &truth(2, 1, &[1]) });
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(c.examples[0].contains("the store holds 0 more"), "{:?}", c.examples);
    }

    #[test]
    fn without_order_records_counts_units() {
        let s = scenario(5, 3);
        let l = ledger(vec![attempt(0, Won, 0), attempt(1, Won, 1)]);
        let mut t = truth(5, 3, &[]);
        t.orders = None;
        assert_eq!(check(&Input { scenario: &s, ledger: &l, truth: &t }).status, Status::Pass);
        t.products[0].final_stock = Some(4);
        let c = check(&Input { scenario: &s, ledger: &l, truth: &t });
        assert!(c.status == Status::Fail && c.detail.contains("only 1 units left"), "{c:?}");
    }
}
