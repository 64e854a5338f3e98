//! `acked_orders_durable`: every `won` attempt's order is in the store. An answer with an
//! order id is looked up by id; one without is matched by (buyer, product) against the stored
//! orders that no id has claimed. Without order records, the acknowledged units must have
//! left the stock.
//!
//! An `accepted` order (queued, never given a final status) is an acknowledgement too: the
//! queue may refuse it for want of stock, but not while stock remained. So for a product whose
//! final stock still holds a whole order, an accepted order truth shows had no effect was lost.

use super::{Check, Input, Invariant, Status};
use crate::outcome::Outcome;
use crate::resolve::{self, Resolution};
use std::collections::{HashMap, HashSet};

pub fn check(input: &Input) -> Check {
    let check = acknowledged(input);
    with_accepted(input, check)
}

/// The orders acknowledged with a win.
fn acknowledged(input: &Input) -> Check {
    let (l, t) = (input.ledger, input.truth);
    let won: Vec<_> = l.attempts.iter().filter(|a| a.outcome == Outcome::Won).collect();
    let Some(orders) = &t.orders else { return by_count(input, won.len()) };
    let stored: HashSet<&str> = orders.iter().map(|o| o.id.as_str()).collect();
    let claimed: HashSet<&str> = won.iter().filter_map(|a| a.order_id.as_deref()).collect();
    let mut unclaimed: HashMap<(&str, &str), usize> = HashMap::new();
    for o in orders.iter().filter(|o| !claimed.contains(o.id.as_str())) {
        *unclaimed.entry((o.buyer_id.as_str(), o.product_id.as_str())).or_default() += 1;
    }
    let mut lost = Vec::new();
    let mut anonymous: HashMap<(String, usize), usize> = HashMap::new();
    for a in &won {
        match &a.order_id {
            Some(id) if !stored.contains(id.as_str()) => {
                lost.push(format!("order {id} (buyer-{}, attempt {})", a.buyer, a.attempt))
            }
            Some(_) => {}
            None => *anonymous.entry((input.scenario.buyer_id(a.buyer), a.product as usize)).or_default() += 1,
        }
    }
    let mut anonymous: Vec<_> = anonymous.into_iter().collect();
    anonymous.sort();
    for ((buyer, product), n) in anonymous {
        let pid = l.products.get(product).map_or("", |p| p.as_str());
        let have = unclaimed.get(&(buyer.as_str(), pid)).copied().unwrap_or(0);
        if have < n {
            lost.push(format!("{buyer} was told {n} order(s) of {pid} succeeded, the store holds {have} more"));
        }
    }
    let acked = won.len();
    let check = if lost.is_empty() {
        Check::new(
            Invariant::AckedOrdersDurable,
            Status::Pass,
            match acked {
                1 => "the 1 acknowledged order is stored".to_string(),
                n => format!("all {n} acknowledged orders are stored"),
            },
        )
    } else {
        Check::new(
            Invariant::AckedOrdersDurable,
            Status::Fail,
            format!("{} of {acked} acknowledged orders are missing from the store", lost.len()),
        )
        .examples(lost.clone())
    };
    check.count("acknowledged", acked).count("missing", lost.len())
}

/// Without order records: per product, the units that left the stock cover the acknowledged ones.
fn by_count(input: &Input, acked: usize) -> Check {
    let (s, l, t) = (input.scenario, input.ledger, input.truth);
    let q = i64::from(s.buyers.quantity);
    let mut short = Vec::new();
    for (i, p) in t.products.iter().enumerate() {
        let won = l.attempts.iter().filter(|a| a.product as usize == i && a.outcome == Outcome::Won).count() as i64;
        if let Some(sold) = t.units_ordered(i).filter(|&sold| sold < won * q) {
            short.push(format!(
                "{}: {} acknowledged ({}), only {} left the stock",
                p.id,
                crate::text::count(won, "order"),
                crate::text::count(won * q, "unit"),
                crate::text::count(sold, "unit")
            ));
        }
    }
    if short.is_empty() {
        Check::new(
            Invariant::AckedOrdersDurable,
            Status::Pass,
            match acked {
                1 => "the 1 acknowledged order left the stock (counted: the store keeps no order records)".to_string(),
                n => format!("all {n} acknowledged orders left the stock (counted: the store keeps no order records)"),
            },
        )
    } else {
        Check::new(Invariant::AckedOrdersDurable, Status::Fail, short.join("; "))
    }
    .count("acknowledged", acked)
}

/// Adds the accepted orders left without a final status to `check`: lost ones fail it, and
/// ones that truth cannot settle while stock remained leave a pass undecided.
fn with_accepted(input: &Input, check: Check) -> Check {
    let (s, l, t) = (input.scenario, input.ledger, input.truth);
    let accepted: Vec<_> = l.attempts.iter().filter(|a| a.outcome == Outcome::Accepted).collect();
    if accepted.is_empty() {
        return check;
    }
    let q = i64::from(s.buyers.quantity);
    let claimed = resolve::claimed_ids(l, t);
    let held = t.holdings();
    let (mut lost, mut open, mut examples) = (0usize, 0usize, Vec::new());
    for (i, p) in t.products.iter().enumerate() {
        let of_product: Vec<_> = accepted.iter().filter(|a| a.product as usize == i).collect();
        // Sold out at the end: the queue may have refused them for want of stock.
        let Some(final_stock) = p.final_stock.filter(|&f| f >= q && !of_product.is_empty()) else { continue };
        let stored_by_id = of_product.iter().filter(|a| a.order_id.as_deref().is_some_and(|id| claimed.contains(id)));
        let unstored: Vec<_> = of_product
            .iter()
            .filter(|a| !a.order_id.as_deref().is_some_and(|id| claimed.contains(id)))
            // A buyer at its limit may be refused by the queue: that is no loss.
            .filter(|a| {
                let at_limit = held.as_ref().is_some_and(|h| {
                    h.get(&(s.buyer_id(a.buyer).as_str(), p.id.as_str())).copied().unwrap_or(0) >= s.buyers.limit
                });
                !at_limit
            })
            .collect();
        let wins = l.attempts.iter().filter(|a| a.product as usize == i && a.outcome == Outcome::Won).count() as i64;
        let extra = t.units_ordered(i).unwrap_or(0) - q * (wins + stored_by_id.count() as i64);
        // However the extra units are shared out, at least this many accepted orders are missing.
        let by_count = (unstored.len() as i64 - (extra.max(0) + q - 1) / q).max(0) as usize;
        let no_effect: Vec<_> = unstored.iter().filter(|a| a.resolved == Some(Resolution::NoEffect)).collect();
        let missing = by_count.max(no_effect.len());
        if missing > 0 {
            lost += missing;
            examples.push(format!(
                "{}: {} of {} accepted orders never reached the store while {final_stock} units remained",
                p.id,
                missing,
                unstored.len()
            ));
            examples.extend(
                no_effect.iter().take(missing).map(|a| {
                    format!("buyer-{} attempt {} accepted (order {}), never stored", a.buyer, a.attempt, id(a))
                }),
            );
        } else if !t.reading.settled || unstored.iter().any(|a| a.resolved != Some(Resolution::TookEffect)) {
            open += unstored.iter().filter(|a| a.resolved != Some(Resolution::TookEffect)).count();
        }
    }
    let mut check = check.count("accepted", accepted.len()).count("accepted_lost", lost);
    if lost > 0 {
        let line = format!("{lost} accepted (queued) orders were lost while stock remained");
        check.detail = if check.status == Status::Fail { format!("{}; {line}", check.detail) } else { line };
        check.status = Status::Fail;
        check.examples.extend(examples);
        check.examples.truncate(super::MAX_EXAMPLES);
    } else if open > 0 && check.status == Status::Pass {
        check.status = Status::NotApplicable;
        check.detail = format!(
            "{}; but {open} accepted orders cannot be settled by truth while stock remained: they may have been lost",
            check.detail
        );
    } else if check.status == Status::Pass {
        check.detail = format!("{}; {} accepted orders settled by truth", check.detail, accepted.len());
    }
    check
}

fn id(a: &crate::harness::Attempt) -> &str {
    a.order_id.as_deref().unwrap_or("without id")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome::*;
    use crate::verify::fixtures::*;

    #[test]
    fn finds_lost_acknowledged_orders() {
        let s = scenario(2, 3);
        let l = ledger(vec![attempt(0, Won, 0), attempt(1, Won, 1), attempt(2, SoldOut, 2)]);
        assert_eq!(check(&Input { scenario: &s, ledger: &l, truth: &truth(2, 0, &[0, 1]) }).status, Status::Pass);
        let c = check(&Input { scenario: &s, ledger: &l, truth: &truth(2, 1, &[0]) });
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.examples, vec!["order o1 (buyer-1, attempt 1)".to_string()]);
    }

    #[test]
    fn matches_answers_without_ids_by_buyer_to_orders_no_id_claimed() {
        let s = scenario(2, 3);
        let mut anonymous = attempt(1, Won, 1);
        anonymous.order_id = None;
        let l = ledger(vec![anonymous.clone()]);
        assert_eq!(check(&Input { scenario: &s, ledger: &l, truth: &truth(2, 1, &[1]) }).status, Status::Pass);
        assert_eq!(check(&Input { scenario: &s, ledger: &l, truth: &truth(2, 1, &[0]) }).status, Status::Fail);
        // Buyer 1 won twice, once with id o1 and once without: its one stored order is o1's.
        let mut second = attempt(1, Won, 5);
        second.attempt = 2;
        second.order_id = None;
        let l = ledger(vec![attempt(1, Won, 1), second]);
        let c = check(&Input { scenario: &s, ledger: &l, truth: &truth(2, 1, &[1]) });
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(c.examples[0].contains("the store holds 0 more"), "{:?}", c.examples);
    }

    /// Buyer `b`'s accepted (queued) attempt with ticket `t<b>`.
    fn queued(b: u32) -> crate::harness::Attempt {
        let mut a = attempt(b, Accepted, u64::from(b));
        a.order_id = Some(format!("t{b}"));
        a
    }

    #[test]
    fn an_accepted_order_never_stored_while_stock_remained_was_lost() {
        let s = scenario(5, 3);
        let mut l = ledger(vec![queued(0), queued(1), queued(2)]);
        // Buyers 0 and 1 hold their orders (by buyer: the store's ids are not the tickets).
        let t = truth(5, 3, &[0, 1]);
        crate::resolve::resolve(&s, &mut l, &t);
        let c = check(&Input { scenario: &s, ledger: &l, truth: &t });
        assert_eq!((c.status, c.counts["accepted_lost"]), (Status::Fail, 1), "{c:?}");
        assert!(c.examples.iter().any(|e| e.contains("buyer-2 attempt 1 accepted (order t2)")), "{c:?}");
        // Sold out at the end: the queue refused it for want of stock, no loss.
        let t = truth(2, 0, &[0, 1]);
        crate::resolve::resolve(&s, &mut l, &t);
        let c = check(&Input { scenario: &s, ledger: &l, truth: &t });
        assert_eq!((c.status, c.counts["accepted_lost"]), (Status::Pass, 0), "{c:?}");
    }

    #[test]
    fn accepted_orders_counted_without_order_records() {
        let s = scenario(5, 3);
        let mut l = ledger(vec![queued(0), queued(1), attempt(2, Error, 2)]);
        let mut t = truth(5, 4, &[]);
        t.orders = None;
        crate::resolve::resolve(&s, &mut l, &t);
        let c = check(&Input { scenario: &s, ledger: &l, truth: &t });
        assert_eq!((c.status, c.counts["accepted_lost"]), (Status::Fail, 1), "1 unit left for 2 accepted: {c:?}");
        // 2 units left: both accepted, or one and the error: which, truth cannot tell.
        t.products[0].final_stock = Some(3);
        crate::resolve::resolve(&s, &mut l, &t);
        let c = check(&Input { scenario: &s, ledger: &l, truth: &t });
        assert_eq!(c.status, Status::NotApplicable, "{c:?}");
        t.products[0].final_stock = Some(2);
        crate::resolve::resolve(&s, &mut l, &t);
        assert_eq!(check(&Input { scenario: &s, ledger: &l, truth: &t }).status, Status::Pass);
    }

    #[test]
    fn without_order_records_counts_units() {
        let s = scenario(5, 3);
        let l = ledger(vec![attempt(0, Won, 0), attempt(1, Won, 1)]);
        let mut t = truth(5, 3, &[]);
        t.orders = None;
        assert_eq!(check(&Input { scenario: &s, ledger: &l, truth: &t }).status, Status::Pass);
        t.products[0].final_stock = Some(4);
        let c = check(&Input { scenario: &s, ledger: &l, truth: &t });
        assert!(c.status == Status::Fail && c.detail.contains("only 1 unit left"), "{c:?}");
    }
}
