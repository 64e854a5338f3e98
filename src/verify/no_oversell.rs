//! `no_oversell`: units ordered never exceed the initial stock, per product. Units ordered are
//! summed over the stored orders, or, for a store without order records, the stock that left
//! (so a final stock below zero is an oversell).

use super::{Check, Input, Invariant, Status};

pub fn check(input: &Input) -> Check {
    let t = input.truth;
    let mut over = Vec::new();
    let mut examples = Vec::new();
    let mut missing = Vec::new();
    let (mut ordered_all, mut stock_all) = (0i64, 0u64);
    for (i, p) in t.products.iter().enumerate() {
        let Some(ordered) = t.units_ordered(i) else {
            missing.push(p.id.as_str());
            continue;
        };
        ordered_all += ordered;
        stock_all += p.initial_stock;
        if ordered <= p.initial_stock as i64 {
            continue;
        }
        over.push(format!(
            "{}: {} ordered of {} in stock ({} oversold)",
            p.id,
            crate::text::count(ordered, "unit"),
            p.initial_stock,
            ordered - p.initial_stock as i64
        ));
        match t.orders_of_product(i) {
            // The orders past the stock, in the order the store holds them.
            Some(orders) => {
                let mut units = 0i64;
                for o in orders {
                    units += i64::from(o.quantity);
                    if units > p.initial_stock as i64 {
                        examples.push(format!("order {} (buyer {}, product {})", o.id, o.buyer_id, o.product_id));
                    }
                }
            }
            None => examples.push(format!("{} final stock {}", p.id, p.final_stock.unwrap_or_default())),
        }
    }
    let check = if !over.is_empty() {
        Check::new(Invariant::NoOversell, Status::Fail, over.join("; ")).examples(examples)
    } else if !missing.is_empty() {
        Check::new(
            Invariant::NoOversell,
            Status::NotApplicable,
            format!("not in the store, so units ordered are unknown: {}", missing.join(", ")),
        )
    } else {
        Check::new(
            Invariant::NoOversell,
            Status::Pass,
            format!("{} ordered of {stock_all} in stock", crate::text::count(ordered_all, "unit")),
        )
    };
    check.count("units_ordered", ordered_all).count("initial_stock", stock_all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::fixtures::*;

    #[test]
    fn passes_at_exactly_the_stock() {
        let (s, l, t) = (scenario(2, 5), ledger(vec![]), truth(2, 0, &[1, 2]));
        let c = check(&Input { scenario: &s, ledger: &l, truth: &t });
        assert_eq!(c.status, Status::Pass, "{c:?}");
    }

    #[test]
    fn fails_with_the_extra_orders_as_evidence() {
        let (s, l, t) = (scenario(2, 5), ledger(vec![]), truth(2, 0, &[1, 2, 3]));
        let c = check(&Input { scenario: &s, ledger: &l, truth: &t });
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("3 units ordered of 2"), "{}", c.detail);
        assert_eq!(c.examples, ["order o3 (buyer buyer-3, product p)"]);
        assert_eq!(c.counts["units_ordered"], 3);
    }

    #[test]
    fn counts_units_not_orders() {
        let (s, l) = (scenario(5, 5), ledger(vec![]));
        let mut t = truth(5, 0, &[1, 2, 3]);
        for o in t.orders.iter_mut().flatten() {
            o.quantity = 2;
        }
        let c = check(&Input { scenario: &s, ledger: &l, truth: &t });
        assert_eq!(c.status, Status::Fail, "6 units of 5");
        assert_eq!(c.examples, ["order o3 (buyer buyer-3, product p)"], "only the order past the 5th unit");
    }

    #[test]
    fn without_order_records_a_negative_stock_is_the_oversell() {
        let (s, l) = (scenario(5, 5), ledger(vec![]));
        let mut t = truth(5, -2, &[]);
        t.orders = None;
        let c = check(&Input { scenario: &s, ledger: &l, truth: &t });
        assert!(c.status == Status::Fail && c.detail.contains("7 units ordered of 5"), "{c:?}");
    }
}
