//! `per_buyer_limit`: no buyer holds more orders of a product than the scenario's limit, and
//! none was promised more (distinct sales acknowledged). Holdings come from the history's
//! attribution: a stored order is its buyer's, or, when it names none, the buyer's whose
//! answer named its id. Orders whose buyer cannot be told, and a store without order records
//! where a buyer sent more attempts than the limit, leave it not applicable.

use super::history::ProductHistory;
use super::Input;
use crate::model::check::{Check, Invariant, Status};
use crate::text::count;
use std::collections::BTreeMap;

pub fn check(input: &Input) -> Check {
    let limit = input.scenario.buyers.limit;
    let (mut over, mut open, mut most) = (Vec::new(), Vec::new(), 0u32);
    for h in &input.history.products {
        for (buyer, n) in promised(h) {
            if n > limit {
                over.push(format!("{buyer} was promised {n} of {}", h.id));
            }
            most = most.max(n);
        }
        match held(h, limit) {
            Ok(held) => {
                for (buyer, n) in held {
                    most = most.max(n);
                    if n > limit {
                        over.push(format!("{buyer} holds {n} of {}", h.id));
                    }
                }
            }
            Err(why) => open.push(why),
        }
    }
    over.sort();
    over.dedup();
    let check = if !over.is_empty() {
        Check::new(
            Invariant::PerBuyerLimit,
            Status::Fail,
            format!(
                "{} over the limit of {}, up to {most}",
                count(over.len() as u64, "holding"),
                count(u64::from(limit), "order")
            ),
        )
        .examples(over.clone())
    } else if !open.is_empty() {
        Check::new(Invariant::PerBuyerLimit, Status::NotApplicable, open.join("; "))
    } else {
        Check::new(Invariant::PerBuyerLimit, Status::Pass, format!("no buyer holds more than {most} (limit {limit})"))
    };
    check.count("limit", limit).count("most_held", most).count("buyers_over", over.len())
}

/// Distinct sales acknowledged to each buyer (at least).
fn promised<'a>(h: &'a ProductHistory) -> BTreeMap<&'a str, u32> {
    h.promised_by_buyer()
}

/// Orders each buyer holds, or why that cannot be told.
fn held<'a>(h: &'a ProductHistory, limit: u32) -> Result<BTreeMap<&'a str, u32>, String> {
    match &h.orders {
        Some(orders) => {
            let ownerless = orders.iter().filter(|o| o.owner.is_none()).count();
            if ownerless > 0 {
                return Err(format!(
                    "{}: {} name no buyer and no answer named them, so whose they are cannot be told",
                    h.id,
                    count(ownerless as u64, "stored order")
                ));
            }
            let mut out: BTreeMap<&str, u32> = BTreeMap::new();
            for owner in orders.iter().filter_map(|o| o.owner.as_deref()) {
                *out.entry(owner).or_default() += 1;
            }
            Ok(out)
        }
        None => {
            let mut sent: BTreeMap<&str, u32> = BTreeMap::new();
            for op in &h.ops {
                *sent.entry(op.buyer.as_str()).or_default() += 1;
            }
            // No buyer sent more attempts than the limit: none can hold more.
            let more = sent.values().filter(|&&n| n > limit).count();
            if more > 0 {
                return Err(format!(
                    "{}: the store keeps no order records and {} sent more than {}, so what each holds cannot be told",
                    h.id,
                    count(more as u64, "buyer"),
                    count(u64::from(limit), "attempt")
                ));
            }
            Ok(BTreeMap::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::model::Outcome::*;

    #[test]
    fn counts_orders_per_buyer() {
        let (s, l) = (scenario(5, 3), ledger(vec![]));
        assert_eq!(check(&Input::new(&s, &l, &truth(5, 3, &[0, 1]))).status, Status::Pass);
        let mut t = truth(5, 2, &[0, 1]);
        t.orders.get_or_insert_with(Vec::new).push(crate::model::Order { id: "x".into(), ..order(1) });
        let c = check(&Input::new(&s, &l, &t));
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.examples, vec!["buyer-1 holds 2 of p".to_string()]);
    }

    #[test]
    fn a_promise_over_the_limit_fails_whatever_the_store_holds() {
        let s = scenario(5, 1);
        let mut second = attempt(0, Won, 9);
        second.attempt = 2;
        second.order_id = Some("o9".into());
        let l = ledger(vec![attempt(0, Won, 0), second]);
        let mut t = truth(5, 3, &[]);
        t.orders = None;
        let c = check(&Input::new(&s, &l, &t));
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(c.examples.contains(&"buyer-0 was promised 2 of p".to_string()), "{c:?}");
    }

    #[test]
    fn without_order_records_several_attempts_of_a_buyer_leave_it_open() {
        let s = scenario(5, 1);
        let mut maybe = attempt(0, Timeout, 9);
        maybe.attempt = 2;
        let l = ledger(vec![attempt(0, Won, 0), maybe]);
        let mut t = truth(5, 3, &[]);
        t.orders = None;
        assert_eq!(check(&Input::new(&s, &l, &t)).status, Status::NotApplicable);
        let l = ledger(vec![attempt(0, Won, 0)]);
        assert_eq!(check(&Input::new(&s, &l, &t)).status, Status::Pass, "one attempt each: nobody can be over 1");
    }
}
