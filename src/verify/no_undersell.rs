//! `no_undersell`: when eligible demand covered the stock and nothing was indeterminate,
//! everything sold (final stock below one order's quantity); and no `sold_out` answer came
//! while a whole order's worth of stock remained (stock only decreases, so the final stock
//! bounds the stock at every earlier instant).

use super::{Check, Input, Invariant, Status};
use crate::outcome::Outcome;

pub fn check(input: &Input) -> Check {
    let (s, l, t) = (input.scenario, input.ledger, input.truth);
    let q = u64::from(s.buyers.quantity);
    let demand = s.eligible_demand();
    let mut failures = Vec::new();
    let mut examples = Vec::new();
    let mut skipped = Vec::new();
    let mut checked = 0;
    for (i, p) in t.products.iter().enumerate() {
        let Some(final_stock) = p.final_stock else {
            skipped.push(format!("{}: not in the store", p.id));
            continue;
        };
        // Part 2: a sold_out answer while stock for a whole order remained.
        if final_stock >= q as i64 {
            let early: Vec<_> =
                l.attempts.iter().filter(|a| a.product as usize == i && a.outcome == Outcome::SoldOut).collect();
            if !early.is_empty() {
                failures.push(format!("{}: {} sold_out answers while {final_stock} units remained", p.id, early.len()));
                examples.extend(
                    early.iter().map(|a| format!("buyer-{} attempt {} at {} µs", a.buyer, a.attempt, a.done_us)),
                );
            }
        }
        // Part 1: demand covered the stock, so all of it must have sold.
        let indeterminate =
            l.attempts.iter().filter(|a| a.product as usize == i && a.outcome.is_indeterminate()).count();
        if demand.get(i).copied().unwrap_or(0) < p.initial_stock {
            skipped.push(format!(
                "{}: demand {} below stock {}",
                p.id,
                demand.get(i).copied().unwrap_or(0),
                p.initial_stock
            ));
            continue;
        }
        if indeterminate > 0 {
            skipped.push(format!("{}: {indeterminate} indeterminate attempts", p.id));
            continue;
        }
        checked += 1;
        let sellable = p.initial_stock - p.initial_stock % q;
        let ordered = t.units_ordered(i);
        if ordered < sellable {
            failures.push(format!(
                "{}: demand {} ≥ stock {}, but only {ordered} units sold and {final_stock} left unsold",
                p.id, demand[i], p.initial_stock
            ));
        }
    }
    let unsold: i64 = t.products.iter().filter_map(|p| p.final_stock).sum();
    let status = if !failures.is_empty() {
        Status::Fail
    } else if checked == 0 {
        Status::NotApplicable
    } else {
        Status::Pass
    };
    let detail = match status {
        Status::Fail => failures.join("; "),
        Status::NotApplicable => format!("nothing to check: {}", skipped.join("; ")),
        Status::Pass => format!("every unit sold where demand covered the stock ({checked} product(s))"),
    };
    Check::new(Invariant::NoUndersell, status, detail).count("final_stock", unsold).examples(examples)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome::*;
    use crate::verify::fixtures::*;

    fn run(stock: u32, buyers: u32, attempts: Vec<crate::harness::Attempt>, final_stock: i64, won: &[u32]) -> Check {
        let (s, l, t) = (scenario(stock, buyers), ledger(attempts), truth(u64::from(stock), final_stock, won));
        check(&Input { scenario: &s, ledger: &l, truth: &t })
    }

    #[test]
    fn passes_when_everything_sold() {
        let c = run(2, 3, vec![attempt(0, Won, 0), attempt(1, Won, 1), attempt(2, SoldOut, 2)], 0, &[0, 1]);
        assert_eq!(c.status, Status::Pass, "{c:?}");
    }

    #[test]
    fn fails_when_busy_buyers_left_stock_unsold() {
        let c = run(2, 3, vec![attempt(0, Won, 0), attempt(1, Busy, 1), attempt(2, Busy, 2)], 1, &[0]);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("only 1 units sold and 1 left unsold"), "{}", c.detail);
    }

    #[test]
    fn fails_on_sold_out_while_stock_remained_even_with_low_demand() {
        let c = run(5, 2, vec![attempt(0, Won, 0), attempt(1, SoldOut, 1)], 4, &[0]);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("sold_out answers while 4 units remained"), "{}", c.detail);
    }

    #[test]
    fn not_applicable_with_indeterminate_attempts_or_low_demand() {
        assert_eq!(run(2, 3, vec![attempt(0, Won, 0), attempt(1, Timeout, 1)], 1, &[0]).status, Status::NotApplicable);
        assert_eq!(run(5, 2, vec![attempt(0, Won, 0), attempt(1, Won, 1)], 3, &[0, 1]).status, Status::NotApplicable);
    }
}
