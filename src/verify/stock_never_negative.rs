//! `stock_never_negative`: no stock the harness observed during the run, and no final stock,
//! is below zero.

use super::Input;
use crate::model::check::{Check, Invariant, Status};

pub fn check(input: &Input) -> Check {
    let (l, t) = (input.ledger, input.truth);
    let observed: Vec<String> = l
        .stock_samples
        .iter()
        .filter(|s| s.stock < 0)
        .map(|s| {
            format!(
                "{} = {} at {} µs (instance {})",
                l.products.get(s.product as usize).map_or("?", |p| p.as_str()),
                s.stock,
                s.t_us,
                s.instance
            )
        })
        .collect();
    let finals: Vec<String> = t
        .products
        .iter()
        .filter(|p| p.final_stock.is_some_and(|f| f < 0))
        .map(|p| format!("{} final = {}", p.id, p.final_stock.unwrap_or_default()))
        .collect();
    let min_seen = l.stock_samples.iter().map(|s| s.stock).chain(t.products.iter().filter_map(|p| p.final_stock)).min();
    let check = if observed.is_empty() && finals.is_empty() {
        Check::new(
            Invariant::StockNeverNegative,
            Status::Pass,
            format!(
                "{} and {}, lowest {}",
                crate::text::count(l.stock_samples.len() as u64, "sample"),
                crate::text::count(t.products.len() as u64, "final stock"),
                min_seen.unwrap_or(0)
            ),
        )
    } else {
        Check::new(
            Invariant::StockNeverNegative,
            Status::Fail,
            format!(
                "{}, {}",
                crate::text::count(observed.len() as u64, "negative sample"),
                crate::text::count(finals.len() as u64, "negative final stock")
            ),
        )
        .examples(finals.into_iter().chain(observed))
    };
    check.count("samples", l.stock_samples.len()).count("lowest", min_seen.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::model::StockSample;

    #[test]
    fn flags_negative_samples_and_finals() {
        let s = scenario(1, 2);
        let mut l = ledger(vec![]);
        l.stock_samples = vec![StockSample { repetition: 1, t_us: 5, product: 0, instance: 0, stock: 1 }];
        let t = truth(1, 0, &[1]);
        assert_eq!(check(&Input::new(&s, &l, &t)).status, Status::Pass);
        l.stock_samples.push(StockSample { repetition: 1, t_us: 9, product: 0, instance: 0, stock: -1 });
        let c = check(&Input::new(&s, &l, &t));
        assert_eq!(c.status, Status::Fail);
        assert!(c.examples[0].contains("p = -1 at 9"), "{:?}", c.examples);
        let below = truth(1, -2, &[1, 2, 3]);
        assert_eq!(check(&Input::new(&s, &ledger(vec![]), &below)).status, Status::Fail);
    }
}
