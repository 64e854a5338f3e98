//! `stock_conserved`: final stock plus units ordered equals the initial stock, per product.
//! It needs order records: without them units ordered are derived from the stock, and the
//! sum holds by construction, so it is reported as not applicable.

use super::Input;
use crate::model::check::{Check, Invariant, Status};

pub fn check(input: &Input) -> Check {
    let t = input.truth;
    if t.orders.is_none() {
        return Check::new(
            Invariant::StockConserved,
            Status::NotApplicable,
            "the store keeps no order records, so stock cannot be compared with orders",
        );
    }
    let mut broken = Vec::new();
    for (i, p) in t.products.iter().enumerate() {
        let ordered = t.units_ordered(i).unwrap_or(0);
        match p.final_stock {
            None => broken.push(format!("{}: missing from the store", p.id)),
            Some(f) if f + ordered != p.initial_stock as i64 => broken.push(format!(
                "{}: final stock {f} + {ordered} ordered = {} ≠ initial {}{}",
                p.id,
                f + ordered,
                p.initial_stock,
                if p.stores > 1 { format!(" ({} stores each hold the stock)", p.stores) } else { String::new() }
            )),
            Some(_) => {}
        }
    }
    if broken.is_empty() {
        Check::new(
            Invariant::StockConserved,
            Status::Pass,
            format!(
                "final stock + orders = initial stock for {}",
                crate::text::count(t.products.len() as u64, "product")
            ),
        )
    } else {
        Check::new(Invariant::StockConserved, Status::Fail, broken.join("; ")).count("products_broken", broken.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;

    #[test]
    fn passes_and_fails_on_the_sum() {
        let (s, l) = (scenario(3, 5), ledger(vec![]));
        let ok = truth(3, 1, &[1, 2]);
        assert_eq!(check(&Input::new(&s, &l, &ok)).status, Status::Pass);
        let lost_update = truth(3, 2, &[1, 2, 3]);
        let c = check(&Input::new(&s, &l, &lost_update));
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("final stock 2 + 3 ordered = 5 ≠ initial 3"), "{}", c.detail);
        let mut stock_only = truth(3, 1, &[]);
        stock_only.orders = None;
        assert_eq!(check(&Input::new(&s, &l, &stock_only)).status, Status::NotApplicable);
    }
}
