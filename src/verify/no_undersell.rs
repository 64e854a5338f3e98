//! `no_undersell`: stock is never left unsold while a buyer who wanted it went without.
//!
//! Stock only decreases, so a final stock that still holds a whole order (`quantity`) was
//! there all along. Then two things may not have happened:
//! - a `sold_out` answer (it was false when given);
//! - a buyer ended holding fewer orders than it wanted (`min(wants, limit)`) although it sent
//!   requests: each was refused (busy, rate limited, rejected) or, resolved against the
//!   store, had no effect (an `error` or `timeout` that did nothing). Errors do not excuse an
//!   undersell: a server that answers 500 to most of a burst while stock remains undersells.
//!
//! Buyers whose requests never left (`not_sent`) take no part. When some buyers' holdings
//! cannot be resolved (unknown attempts) and no other buyer went without, those unresolved
//! attempts could account for the unsold stock: the check is then not applicable, and says so.

use super::{Check, Input, Invariant, Status};
use crate::harness::{Attempt, Ledger};
use crate::outcome::Outcome;
use crate::resolve;
use crate::text::count;
use std::collections::BTreeMap;

pub fn check(input: &Input) -> Check {
    let (s, l, t) = (input.scenario, input.ledger, input.truth);
    let q = i64::from(s.buyers.quantity);
    let wanted = s.orders_wanted();
    let held = resolve::holdings(s, l, t);
    let demand = s.eligible_demand();
    let mut failures = Vec::new();
    let mut examples = Vec::new();
    let mut open = Vec::new();
    let mut fine = Vec::new();
    let (mut unmet_all, mut unresolved_all) = (0usize, 0usize);
    for (i, p) in t.products.iter().enumerate() {
        let Some(final_stock) = p.final_stock else {
            open.push(format!("{}: not in the store", p.id));
            continue;
        };
        if final_stock < q {
            fine.push(format!("{}: sold out", p.id));
            continue;
        }
        let of_product = |a: &&Attempt| a.product as usize == i;
        let sold_out: Vec<&Attempt> =
            l.attempts.iter().filter(of_product).filter(|a| a.outcome == Outcome::SoldOut).collect();
        if !sold_out.is_empty() {
            failures.push(format!(
                "{}: {} while {} remained",
                p.id,
                count(sold_out.len() as u64, "sold_out answer"),
                count(final_stock, "unit")
            ));
            examples.extend(
                sold_out
                    .iter()
                    .map(|a| format!("buyer-{} attempt {} sold_out at {} µs", a.buyer, a.attempt, a.done_us)),
            );
        }
        let mut unmet: Vec<u32> = Vec::new();
        let mut unresolved = 0;
        for (&buyer, h) in held.iter().filter(|(b, _)| s.product_of(**b) == i) {
            match h {
                Some(h) if *h < wanted => unmet.push(buyer),
                None => unresolved += 1,
                Some(_) => {}
            }
        }
        unmet.sort_unstable();
        unmet_all += unmet.len();
        unresolved_all += unresolved;
        if !unmet.is_empty() {
            let ended = how_they_ended(l, &unmet);
            failures.push(format!(
                "{}: {} left unsold while {} who wanted them went without ({ended})",
                p.id,
                count(final_stock, "unit"),
                count(unmet.len() as u64, "buyer")
            ));
            // Indeterminate attempts first: they are the ones a reader would doubt.
            let mut last: Vec<&Attempt> = unmet.iter().filter_map(|b| last_attempt(l, *b)).collect();
            last.sort_by_key(|a| (!a.outcome.is_open(), a.buyer));
            examples.extend(last.iter().map(|a| format!("buyer-{} attempt {}: {}", a.buyer, a.attempt, label(a))));
        } else if unresolved > 0 {
            open.push(format!(
                "{}: {} unsold, and {} had attempts the store cannot resolve; \
                 they could account for the unsold stock",
                p.id,
                count(final_stock, "unit"),
                count(unresolved as u64, "buyer")
            ));
        } else if sold_out.is_empty() {
            let silent: std::collections::HashSet<u32> = l
                .attempts
                .iter()
                .filter(|a| a.product as usize == i && !held.contains_key(&a.buyer))
                .map(|a| a.buyer)
                .collect();
            let who = if silent.is_empty() {
                "every buyer got what it wanted".to_string()
            } else {
                format!("every buyer who sent a request got what it wanted ({} sent none)", silent.len())
            };
            fine.push(format!("{}: {who} (demand {} < stock {})", p.id, demand[i], p.initial_stock));
        }
    }
    let (status, detail) = if !failures.is_empty() {
        (Status::Fail, failures.join("; "))
    } else if !open.is_empty() {
        (Status::NotApplicable, format!("cannot be decided: {}", open.join("; ")))
    } else {
        (Status::Pass, fine.join("; "))
    };
    let unsold: i64 = t.products.iter().filter_map(|p| p.final_stock).sum();
    Check::new(Invariant::NoUndersell, status, detail)
        .count("final_stock", unsold)
        .count("buyers_went_without", unmet_all)
        .count("buyers_unresolved", unresolved_all)
        .examples(examples)
}

/// How an attempt ended, with its resolution: `busy`, `timeout→no effect`.
fn label(a: &Attempt) -> String {
    match a.resolved {
        Some(r) if a.outcome.is_open() => format!("{}→{}", a.outcome, r.name().replace('_', " ")),
        _ => a.outcome.to_string(),
    }
}

fn last_attempt(l: &Ledger, buyer: u32) -> Option<&Attempt> {
    l.attempts.iter().filter(|a| a.buyer == buyer && a.outcome.was_sent()).max_by_key(|a| a.attempt)
}

/// "busy 591, timeout→no effect 909": how the attempts of `buyers` ended.
fn how_they_ended(l: &Ledger, buyers: &[u32]) -> String {
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for a in l.attempts.iter().filter(|a| a.outcome.was_sent() && buyers.binary_search(&a.buyer).is_ok()) {
        *by.entry(label(a)).or_default() += 1;
    }
    let mut rows: Vec<(String, usize)> = by.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let shown: Vec<String> = rows.iter().map(|(k, n)| format!("{k} {n}")).collect();
    format!("their attempts: {}", shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome::*;
    use crate::resolve::Resolution;
    use crate::verify::fixtures::*;

    fn run(stock: u32, buyers: u32, attempts: Vec<Attempt>, final_stock: i64, won: &[u32]) -> Check {
        let (s, mut l, t) = (scenario(stock, buyers), ledger(attempts), truth(u64::from(stock), final_stock, won));
        resolve::resolve(&s, &mut l, &t);
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
        assert!(c.detail.contains("1 unit left unsold while 2 buyers who wanted them went without"), "{}", c.detail);
        assert!(c.detail.contains("their attempts: busy 2"), "{}", c.detail);
    }

    #[test]
    fn fails_on_sold_out_while_stock_remained_even_with_low_demand() {
        let c = run(5, 2, vec![attempt(0, Won, 0), attempt(1, SoldOut, 1)], 4, &[0]);
        assert_eq!(c.status, Status::Fail);
        assert!(c.detail.contains("1 sold_out answer while 4 units remained"), "{}", c.detail);
    }

    #[test]
    fn errors_and_timeouts_that_had_no_effect_do_not_excuse_unsold_stock() {
        let c = run(5, 3, vec![attempt(0, Timeout, 0), attempt(1, Timeout, 1), attempt(2, Error, 2)], 5, &[]);
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(c.detail.contains("timeout→no effect 2, error→no effect 1"), "{}", c.detail);
        assert_eq!(c.examples[0], "buyer-0 attempt 1: timeout→no effect");
    }

    #[test]
    fn an_indeterminate_attempt_that_took_effect_is_a_sale() {
        let c = run(2, 2, vec![attempt(0, Won, 0), attempt(1, Timeout, 1)], 0, &[0, 1]);
        assert_eq!(c.status, Status::Pass, "{c:?}");
    }

    #[test]
    fn unresolved_attempts_that_could_account_for_the_stock_leave_it_open() {
        let s = scenario(5, 2);
        let mut l = ledger(vec![attempt(0, Won, 0), attempt(1, Timeout, 1)]);
        l.attempts[1].resolved = Some(Resolution::Unknown);
        let mut t = truth(5, 4, &[]);
        t.orders = None;
        let c = check(&Input { scenario: &s, ledger: &l, truth: &t });
        assert_eq!(c.status, Status::NotApplicable, "{c:?}");
        assert!(c.detail.contains("1 buyer had attempts the store cannot resolve"), "{}", c.detail);
    }

    #[test]
    fn buyers_that_never_sent_and_low_demand_leave_nothing_undersold() {
        let c = run(5, 3, vec![attempt(0, Won, 0), attempt(1, Won, 1), attempt(2, NotSent, 2)], 3, &[0, 1]);
        assert_eq!(c.status, Status::Pass, "{c:?}");
        assert!(c.detail.contains("every buyer who sent a request got what it wanted (1 sent none)"), "{}", c.detail);
    }
}
