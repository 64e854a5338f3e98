//! `no_phantom_orders`: every stored order is explained by a `won` attempt (by order id), or
//! by an indeterminate or id-less won attempt of the same buyer and product (of the same
//! product, for orders that name no buyer); never by a definite refusal, and never by a buyer
//! that did not take part. A view of the history's attribution ([`super::history`]).
//!
//! Without order records: units beyond what the won and open attempts asked for prove a
//! phantom; anything less cannot say which attempts the units left for, so it is not applicable.

use super::history::Anomaly;
use super::Input;
use crate::model::check::{Check, Invariant, Status};
use crate::model::Outcome;

pub fn check(input: &Input) -> Check {
    if !input.history.attributable() {
        return by_count(input);
    }
    let mut phantom = Vec::new();
    let mut stored = 0;
    for h in &input.history.products {
        let orders = h.orders.as_deref().unwrap_or_default();
        stored += orders.len();
        phantom.extend(h.anomalies.iter().filter_map(|a| match a {
            Anomaly::Phantom { order } => Some(orders[*order].describe()),
            _ => None,
        }));
    }
    let check = if phantom.is_empty() {
        Check::new(
            Invariant::NoPhantomOrders,
            Status::Pass,
            match stored {
                1 => "the 1 stored order was acknowledged or indeterminate".to_string(),
                n => format!("all {n} stored orders were acknowledged or indeterminate"),
            },
        )
    } else {
        Check::new(
            Invariant::NoPhantomOrders,
            Status::Fail,
            format!("{} of {stored} stored orders match no won or indeterminate attempt", phantom.len()),
        )
        .examples(phantom.clone())
    };
    check.count("stored", stored).count("phantom", phantom.len())
}

/// Without order records: per product, units sold ≤ (won + open attempts) × quantity.
fn by_count(input: &Input) -> Check {
    let mut extra = Vec::new();
    let (mut sold_all, mut could_all) = (0i64, 0i64);
    for h in &input.history.products {
        let could = h.ops.iter().filter(|op| op.outcome() == Outcome::Won || op.is_open()).count() as i64 * h.quantity;
        could_all += could;
        let Some(sold) = h.units_sold() else { continue };
        sold_all += sold;
        if sold > could {
            extra.push(format!(
                "{}: {sold} units left the stock, won and indeterminate attempts account for {could}",
                h.id
            ));
        }
    }
    if extra.is_empty() {
        Check::new(
            Invariant::NoPhantomOrders,
            Status::NotApplicable,
            format!(
                "the store keeps no order records, so whose the {sold_all} units that left the stock are cannot be \
                 told (won and indeterminate attempts account for up to {could_all})"
            ),
        )
    } else {
        Check::new(Invariant::NoPhantomOrders, Status::Fail, extra.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::model::Outcome::*;

    #[test]
    fn indeterminate_attempts_explain_orders_refusals_do_not() {
        let s = scenario(3, 3);
        let l = ledger(vec![attempt(0, Won, 0), attempt(1, Timeout, 1), attempt(2, Busy, 2)]);
        let explained = truth(3, 1, &[0, 1]);
        assert_eq!(check(&Input::new(&s, &l, &explained)).status, Status::Pass);
        let refused_but_stored = truth(3, 0, &[0, 1, 2]);
        let c = check(&Input::new(&s, &l, &refused_but_stored));
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.examples, vec!["order o2 (buyer buyer-2, product p)".to_string()]);
    }

    #[test]
    fn an_order_id_on_a_refusal_does_not_acknowledge_the_order() {
        let s = scenario(3, 3);
        let mut busy = attempt(2, Busy, 2);
        busy.order_id = Some("o2".into());
        let l = ledger(vec![busy]);
        let c = check(&Input::new(&s, &l, &truth(3, 2, &[2])));
        assert_eq!(c.status, Status::Fail, "a busy answer that carried an id is still a refusal");
    }

    #[test]
    fn orders_without_buyers_are_matched_by_count() {
        let s = scenario(5, 3);
        let l = ledger(vec![attempt(0, Won, 0), attempt(1, Timeout, 1), attempt(2, Busy, 2)]);
        let mut t = truth(5, 3, &[0, 1]);
        for o in t.orders.iter_mut().flatten() {
            o.buyer_id.clear();
        }
        assert_eq!(check(&Input::new(&s, &l, &t)).status, Status::Pass, "o0 by id, o1 by the timeout");
        t.orders.get_or_insert_with(Vec::new).push(crate::model::Order {
            id: "x".into(),
            buyer_id: String::new(),
            ..order(2)
        });
        let c = check(&Input::new(&s, &l, &t));
        assert_eq!(c.status, Status::Fail, "a third order for one win and one timeout: {c:?}");
    }

    #[test]
    fn without_order_records_counts_units() {
        let s = scenario(5, 3);
        let l = ledger(vec![attempt(0, Won, 0), attempt(1, Error, 1), attempt(2, Busy, 2)]);
        let mut t = truth(5, 3, &[]);
        t.orders = None;
        assert_eq!(check(&Input::new(&s, &l, &t)).status, Status::NotApplicable);
        t.products[0].final_stock = Some(2);
        assert_eq!(check(&Input::new(&s, &l, &t)).status, Status::Fail);
    }
}
