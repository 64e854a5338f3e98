//! `per_buyer_limit`: no buyer holds more orders of a product than the scenario's limit.

use super::{Check, Input, Invariant, Status};
use std::collections::HashMap;

pub fn check(input: &Input) -> Check {
    let limit = input.scenario.buyers.limit as usize;
    let mut held: HashMap<(&str, &str), usize> = HashMap::new();
    for o in &input.truth.orders {
        *held.entry((o.buyer_id.as_str(), o.product_id.as_str())).or_default() += 1;
    }
    let mut over: Vec<(&(&str, &str), &usize)> = held.iter().filter(|(_, &n)| n > limit).collect();
    over.sort();
    let most = held.values().copied().max().unwrap_or(0);
    let check = if over.is_empty() {
        Check::new(Invariant::PerBuyerLimit, Status::Pass, format!("no buyer holds more than {most} (limit {limit})"))
    } else {
        Check::new(
            Invariant::PerBuyerLimit,
            Status::Fail,
            format!("{} buyer(s) hold more than {limit} orders, up to {most}", over.len()),
        )
        .examples(over.iter().map(|((b, p), n)| format!("{b} holds {n} of {p}")))
    };
    check.count("limit", limit).count("most_held", most).count("buyers_over", over.len())
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
        t.orders.push(crate::server::store::Order { id: "x".into(), ..order(1) });
        let c = check(&Input { scenario: &s, ledger: &l, truth: &t });
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.examples, vec!["buyer-1 holds 2 of p".to_string()]);
    }
}
