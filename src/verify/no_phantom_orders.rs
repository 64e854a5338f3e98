//! `no_phantom_orders`: every stored order maps to a `won` attempt (by order id), or to an
//! indeterminate attempt (or a `won` without an id) of the same buyer and product; never to
//! a definite refusal, and never to a buyer that did not take part. Without order records:
//! the units that left the stock are at most those the won and indeterminate attempts asked for.

use super::{Check, Input, Invariant, Status};
use crate::outcome::Outcome;
use crate::resolve;
use std::collections::{HashMap, HashSet};

pub fn check(input: &Input) -> Check {
    let (l, t) = (input.ledger, input.truth);
    let Some(orders) = &t.orders else { return by_count(input) };
    let won_ids: HashSet<&str> =
        l.attempts.iter().filter(|a| a.outcome == Outcome::Won).filter_map(|a| a.order_id.as_deref()).collect();
    let acked = resolve::claimed_ids(l, t);
    // Orders each (buyer, product) may hold without an id: indeterminate attempts, accepted
    // ones whose id the store does not hold, and id-less wins.
    let mut allowance: HashMap<(String, &str), usize> = HashMap::new();
    for a in &l.attempts {
        let unexplained_win = a.outcome == Outcome::Won && a.order_id.is_none();
        let claimed = a.order_id.as_deref().is_some_and(|id| acked.contains(id));
        if (a.outcome.is_open() && !claimed) || unexplained_win {
            let pid = l.products.get(a.product as usize).map_or("", |p| p.as_str());
            *allowance.entry((input.scenario.buyer_id(a.buyer), pid)).or_default() += 1;
        }
    }
    let mut phantom = Vec::new();
    for o in orders {
        if acked.contains(o.id.as_str()) || won_ids.contains(o.id.as_str()) {
            continue;
        }
        match allowance.get_mut(&(o.buyer_id.clone(), o.product_id.as_str())) {
            Some(n) if *n > 0 => *n -= 1,
            _ => phantom.push(format!("order {} (buyer {}, product {})", o.id, o.buyer_id, o.product_id)),
        }
    }
    let check = if phantom.is_empty() {
        Check::new(
            Invariant::NoPhantomOrders,
            Status::Pass,
            match orders.len() {
                1 => "the 1 stored order was acknowledged or indeterminate".to_string(),
                n => format!("all {n} stored orders were acknowledged or indeterminate"),
            },
        )
    } else {
        Check::new(
            Invariant::NoPhantomOrders,
            Status::Fail,
            format!("{} of {} stored orders match no won or indeterminate attempt", phantom.len(), orders.len()),
        )
        .examples(phantom.clone())
    };
    check.count("stored", orders.len()).count("phantom", phantom.len())
}

/// Without order records: per product, units sold ≤ (won + indeterminate attempts) × quantity.
fn by_count(input: &Input) -> Check {
    let (s, l, t) = (input.scenario, input.ledger, input.truth);
    let q = i64::from(s.buyers.quantity);
    let mut extra = Vec::new();
    for (i, p) in t.products.iter().enumerate() {
        let could = l
            .attempts
            .iter()
            .filter(|a| a.product as usize == i && (a.outcome == Outcome::Won || a.outcome.is_open()))
            .count() as i64
            * q;
        if let Some(sold) = t.units_ordered(i).filter(|&sold| sold > could) {
            extra.push(format!(
                "{}: {sold} units left the stock, won and indeterminate attempts account for {could}",
                p.id
            ));
        }
    }
    if extra.is_empty() {
        Check::new(
            Invariant::NoPhantomOrders,
            Status::Pass,
            "the units that left the stock are accounted for (counted: the store keeps no order records)",
        )
    } else {
        Check::new(Invariant::NoPhantomOrders, Status::Fail, extra.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome::*;
    use crate::verify::fixtures::*;

    #[test]
    fn indeterminate_attempts_explain_orders_refusals_do_not() {
        let s = scenario(3, 3);
        let l = ledger(vec![attempt(0, Won, 0), attempt(1, Timeout, 1), attempt(2, Busy, 2)]);
        let explained = truth(3, 1, &[0, 1]);
        assert_eq!(check(&Input { scenario: &s, ledger: &l, truth: &explained }).status, Status::Pass);
        let refused_but_stored = truth(3, 0, &[0, 1, 2]);
        let c = check(&Input { scenario: &s, ledger: &l, truth: &refused_but_stored });
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.examples, vec!["order o2 (buyer buyer-2, product p)".to_string()]);
    }

    #[test]
    fn an_order_id_on_a_refusal_does_not_acknowledge_the_order() {
        let s = scenario(3, 3);
        let mut busy = attempt(2, Busy, 2);
        busy.order_id = Some("o2".into());
        let l = ledger(vec![busy]);
        let c = check(&Input { scenario: &s, ledger: &l, truth: &truth(3, 2, &[2]) });
        assert_eq!(c.status, Status::Fail, "a busy answer that carried an id is still a refusal");
    }

    #[test]
    fn without_order_records_counts_units() {
        let s = scenario(5, 3);
        let l = ledger(vec![attempt(0, Won, 0), attempt(1, Error, 1), attempt(2, Busy, 2)]);
        let mut t = truth(5, 3, &[]);
        t.orders = None;
        assert_eq!(check(&Input { scenario: &s, ledger: &l, truth: &t }).status, Status::Pass);
        t.products[0].final_stock = Some(2);
        assert_eq!(check(&Input { scenario: &s, ledger: &l, truth: &t }).status, Status::Fail);
    }
}
