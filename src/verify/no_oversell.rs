//! `no_oversell`: units ordered never exceed the initial stock, per product.

use super::{Check, Input, Invariant, Status};

pub fn check(input: &Input) -> Check {
    let t = input.truth;
    let mut over = Vec::new();
    let (mut ordered_all, mut stock_all) = (0u64, 0u64);
    for (i, p) in t.products.iter().enumerate() {
        let ordered = t.units_ordered(i);
        ordered_all += ordered;
        stock_all += p.initial_stock;
        if ordered > p.initial_stock {
            over.push(format!(
                "{}: {ordered} units ordered of {} in stock ({} oversold)",
                p.id,
                p.initial_stock,
                ordered - p.initial_stock
            ));
        }
    }
    let check = if over.is_empty() {
        Check::new(Invariant::NoOversell, Status::Pass, format!("{ordered_all} units ordered of {stock_all} in stock"))
    } else {
        let oversold_ids: Vec<String> = t
            .products
            .iter()
            .enumerate()
            .filter(|(i, p)| t.units_ordered(*i) > p.initial_stock)
            .flat_map(|(_, p)| t.orders.iter().filter(move |o| o.product_id == p.id).skip(p.initial_stock as usize))
            .map(|o| format!("order {} (buyer {}, product {})", o.id, o.buyer_id, o.product_id))
            .collect();
        Check::new(Invariant::NoOversell, Status::Fail, over.join("; ")).examples(oversold_ids)
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
        assert_eq!(c.examples.len(), 1);
        assert_eq!(c.counts["units_ordered"], 3);
    }
}
