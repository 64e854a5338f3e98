//! `no_oversell`: per product, the units sold (summed over the stored orders, or without order
//! records the stock that left, so a final stock below zero is an oversell) and the units
//! promised (won answers, one sale per buyer and order id) never exceed the initial stock.

use super::Input;
use crate::model::check::{Check, Invariant, Status};
use crate::text::count;

pub fn check(input: &Input) -> Check {
    let mut over = Vec::new();
    let mut examples = Vec::new();
    let mut missing = Vec::new();
    let (mut sold_all, mut promised_all, mut stock_all) = (0i64, 0i64, 0i64);
    for h in &input.history.products {
        let promised = h.promised_sales() as i64 * h.quantity;
        promised_all += promised;
        stock_all += h.initial;
        if promised > h.initial {
            over.push(format!(
                "{}: {} promised (won answers) of {} in stock",
                h.id,
                count(promised, "unit"),
                h.initial
            ));
            examples.extend(
                h.ops
                    .iter()
                    .filter(|op| op.outcome() == crate::model::Outcome::Won)
                    .skip(h.initial.max(0) as usize)
                    .map(|op| {
                        format!(
                            "{} won {} (order {})",
                            op.who(),
                            h.id,
                            op.attempt.order_id.as_deref().unwrap_or("without id")
                        )
                    }),
            );
        }
        let Some(sold) = h.units_sold() else {
            missing.push(h.id);
            continue;
        };
        sold_all += sold;
        if sold <= h.initial {
            continue;
        }
        over.push(format!(
            "{}: {} sold of {} in stock ({} oversold)",
            h.id,
            count(sold, "unit"),
            h.initial,
            sold - h.initial
        ));
        match &h.orders {
            // The orders past the stock, in the order the store holds them.
            Some(orders) => {
                let mut units = 0i64;
                for o in orders {
                    units += i64::from(o.order.quantity);
                    if units > h.initial {
                        examples.push(o.describe());
                    }
                }
            }
            None => examples.push(format!("{} final stock {}", h.id, h.final_stock.unwrap_or_default())),
        }
    }
    let check = if !over.is_empty() {
        Check::new(Invariant::NoOversell, Status::Fail, over.join("; ")).examples(examples)
    } else if !missing.is_empty() {
        Check::new(
            Invariant::NoOversell,
            Status::NotApplicable,
            format!("not in the store, so units sold are unknown: {}", missing.join(", ")),
        )
    } else {
        Check::new(
            Invariant::NoOversell,
            Status::Pass,
            format!("{} sold and {} promised of {stock_all} in stock", count(sold_all, "unit"), promised_all),
        )
    };
    check.count("units_ordered", sold_all).count("units_promised", promised_all).count("initial_stock", stock_all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::model::Outcome::*;

    #[test]
    fn passes_at_exactly_the_stock() {
        let (s, l, t) = (scenario(2, 5), ledger(vec![]), truth(2, 0, &[1, 2]));
        let c = check(&Input::new(&s, &l, &t));
        assert_eq!(c.status, Status::Pass, "{c:?}");
    }

    #[test]
    fn fails_with_the_extra_orders_as_evidence() {
        let (s, l, t) = (scenario(2, 5), ledger(vec![]), truth(2, 0, &[1, 2, 3]));
        let c = check(&Input::new(&s, &l, &t));
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("3 units sold of 2"), "{}", c.detail);
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
        let c = check(&Input::new(&s, &l, &t));
        assert_eq!(c.status, Status::Fail, "6 units of 5");
        assert_eq!(c.examples, ["order o3 (buyer buyer-3, product p)"], "only the order past the 5th unit");
    }

    #[test]
    fn without_order_records_a_negative_stock_is_the_oversell() {
        let (s, l) = (scenario(5, 5), ledger(vec![]));
        let mut t = truth(5, -2, &[]);
        t.orders = None;
        let c = check(&Input::new(&s, &l, &t));
        assert!(c.status == Status::Fail && c.detail.contains("7 units sold of 5"), "{c:?}");
    }

    #[test]
    fn promised_units_count_against_the_stock_whatever_the_store_holds() {
        // 8 won answers for 5 units, against a stock-only truth that shows 1 unit gone.
        let s = scenario(5, 8);
        let l = ledger((0..8).map(|b| attempt(b, Won, u64::from(b))).collect());
        let mut t = truth(5, 4, &[]);
        t.orders = None;
        let c = check(&Input::new(&s, &l, &t));
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(c.detail.contains("8 units promised (won answers) of 5"), "{}", c.detail);
        assert_eq!(c.counts["units_promised"], 8);
    }
}
