//! `no_phantom_orders`: every stored order maps to a `won` attempt (by order id), or to an
//! indeterminate attempt of the same buyer and product; never to a definite refusal, and
//! never to a buyer that did not take part.

use super::{Check, Input, Invariant, Status};
use crate::harness::Ledger;
use crate::outcome::Outcome;
use std::collections::{HashMap, HashSet};

pub fn check(input: &Input) -> Check {
    let (l, t) = (input.ledger, input.truth);
    let acked: HashSet<&str> = l.attempts.iter().filter_map(|a| a.order_id.as_deref()).collect();
    // Orders each (buyer, product) may hold without an id: indeterminate attempts and id-less wins.
    let mut allowance: HashMap<(String, &str), usize> = HashMap::new();
    for a in &l.attempts {
        let unexplained_win = a.outcome == Outcome::Won && a.order_id.is_none();
        if a.outcome.is_indeterminate() || unexplained_win {
            let pid = l.products.get(a.product as usize).map_or("", |p| p.as_str());
            *allowance.entry((Ledger::buyer_id(a.buyer), pid)).or_default() += 1;
        }
    }
    let mut phantom = Vec::new();
    for o in &t.orders {
        if acked.contains(o.id.as_str()) {
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
            format!("all {} stored orders were acknowledged or indeterminate", t.orders.len()),
        )
    } else {
        Check::new(
            Invariant::NoPhantomOrders,
            Status::Fail,
            format!("{} of {} stored orders match no won or indeterminate attempt", phantom.len(), t.orders.len()),
        )
        .examples(phantom.clone())
    };
    check.count("stored", t.orders.len()).count("phantom", phantom.len())
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
}
