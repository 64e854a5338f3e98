//! `acked_orders_durable`: every acknowledged sale is exactly one stored order, of that buyer
//! and product, whose id no other buyer's sale was given. A view of the history's attribution
//! ([`super::history`]): a won answer whose order the store lacks, one naming an order of
//! another buyer or product, and one order given to several buyers' sales each fail it.
//!
//! An `accepted` order (queued, never given a final status) is an acknowledgement too: the
//! queue may refuse it for want of stock, but not while stock remained. So for a product whose
//! final stock still holds a whole order, an accepted order truth shows had no effect was lost.
//!
//! Without order records (stock only) which sales the units that left were cannot be told:
//! fewer units gone than acknowledged proves a loss; anything else is not applicable.

use super::history::{Anomaly, ProductHistory};
use super::Input;
use crate::model::check::{Check, Invariant, Status, MAX_EXAMPLES};
use crate::model::Outcome;
use crate::model::Resolution;
use crate::text::count;

pub fn check(input: &Input) -> Check {
    let check = if input.history.attributable() { by_attribution(input) } else { by_count(input) };
    with_accepted(input, check)
}

/// With order records: the attribution's anomalies.
fn by_attribution(input: &Input) -> Check {
    let mut broken = Vec::new();
    let mut acked = 0;
    for h in &input.history.products {
        acked += h.promised_sales();
        for a in &h.anomalies {
            match a {
                Anomaly::Lost { why, .. } | Anomaly::Misattributed { why, .. } => broken.push(why.clone()),
                Anomaly::Shared { order, buyers } => broken.push(format!(
                    "order {} was given to {} buyers: {}",
                    h.orders.as_ref().map_or("?", |o| o[*order].order.id.as_str()),
                    buyers.len(),
                    buyers.join(", ")
                )),
                Anomaly::Phantom { .. } => {}
            }
        }
    }
    let check = if broken.is_empty() {
        Check::new(
            Invariant::AckedOrdersDurable,
            Status::Pass,
            match acked {
                1 => "the 1 acknowledged sale is one stored order of its buyer".to_string(),
                n => format!("each of the {n} acknowledged sales is one stored order of its buyer, named by no other"),
            },
        )
    } else {
        Check::new(
            Invariant::AckedOrdersDurable,
            Status::Fail,
            format!("{} of {} acknowledged sales are not one stored order of their own", broken.len(), acked),
        )
        .examples(broken.clone())
    };
    check.count("acknowledged", acked).count("missing", broken.len())
}

/// Without order records: the units that left the stock must cover the acknowledged ones;
/// beyond that nothing can be proven.
fn by_count(input: &Input) -> Check {
    let mut short = Vec::new();
    let mut acked = 0;
    for h in &input.history.products {
        let won = h.promised_sales() as i64;
        acked += won as usize;
        if let Some(sold) = h.units_sold().filter(|&sold| sold < won * h.quantity) {
            short.push(format!(
                "{}: {} acknowledged ({}), only {} left the stock",
                h.id,
                count(won, "order"),
                count(won * h.quantity, "unit"),
                count(sold, "unit")
            ));
        }
    }
    let check = if short.is_empty() {
        Check::new(
            Invariant::AckedOrdersDurable,
            Status::NotApplicable,
            format!(
                "the store keeps no order records, so which sales the units that left the stock were cannot be told \
                 ({} acknowledged; at least as many units left the stock)",
                count(acked as u64, "order")
            ),
        )
    } else {
        Check::new(Invariant::AckedOrdersDurable, Status::Fail, short.join("; ")).count("missing", short.len())
    };
    check.count("acknowledged", acked)
}

/// Adds the accepted orders left without a final status to `check`: lost ones fail it, and
/// ones that truth cannot settle while stock remained leave a pass undecided.
fn with_accepted(input: &Input, check: Check) -> Check {
    let accepted = input.ledger.attempts.iter().filter(|a| a.outcome == Outcome::Accepted).count();
    if accepted == 0 {
        return check;
    }
    let limit = input.scenario.buyers.limit;
    let (mut lost, mut open, mut examples) = (0usize, 0usize, Vec::new());
    for h in &input.history.products {
        let (missing, unsettled, shown) = accepted_lost(h, limit);
        if missing > 0 {
            lost += missing;
            examples.push(format!(
                "{}: {} accepted orders never reached the store while {} remained",
                h.id,
                missing,
                count(h.final_stock.unwrap_or_default(), "unit")
            ));
            examples.extend(shown);
        }
        open += unsettled;
    }
    let mut check = check.count("accepted", accepted).count("accepted_lost", lost);
    if lost > 0 {
        let line = format!("{lost} accepted (queued) orders were lost while stock remained");
        check.detail = if check.status == Status::Fail { format!("{}; {line}", check.detail) } else { line };
        check.status = Status::Fail;
        check.examples.extend(examples);
        check.examples.truncate(MAX_EXAMPLES);
    } else if open > 0 && check.status == Status::Pass {
        check.status = Status::NotApplicable;
        check.detail = format!(
            "{}; but {open} accepted orders cannot be settled by truth while stock remained: they may have been lost",
            check.detail
        );
    } else if check.status == Status::Pass {
        check.detail = format!("{}; {accepted} accepted orders settled by truth", check.detail);
    }
    check
}

/// For one product whose final stock still holds an order: how many of its accepted orders
/// were lost (at least), how many truth cannot settle, and examples.
fn accepted_lost(h: &ProductHistory, limit: u32) -> (usize, usize, Vec<String>) {
    // Sold out at the end: the queue may have refused them for want of stock.
    if h.final_stock.is_none_or(|f| f < h.quantity) {
        return (0, 0, Vec::new());
    }
    let held = h.holdings();
    // A buyer at its limit may be refused by the queue: that is no loss.
    let unstored: Vec<_> = h
        .ops
        .iter()
        .filter(|op| op.outcome() == Outcome::Accepted && op.is_open())
        .filter(|op| held.get(op.buyer.as_str()).copied().flatten().is_none_or(|n| n < limit))
        .collect();
    let no_effect: Vec<_> = unstored.iter().filter(|op| op.effect == Resolution::NoEffect).collect();
    let by_count = match &h.orders {
        Some(_) => 0,
        None => {
            // However the units beyond the acknowledged sales are shared out, at least this
            // many accepted orders are missing.
            let extra = h.units_sold().unwrap_or(0) - h.quantity * h.promised_sales() as i64;
            (unstored.len() as i64 - (extra.max(0) + h.quantity - 1) / h.quantity).max(0) as usize
        }
    };
    let missing = by_count.max(no_effect.len());
    let shown = no_effect
        .iter()
        .take(missing)
        .map(|op| {
            format!(
                "{} accepted (order {}), never stored",
                op.who(),
                op.attempt.order_id.as_deref().unwrap_or("without id")
            )
        })
        .collect();
    let unsettled =
        if missing > 0 { 0 } else { unstored.iter().filter(|op| op.effect != Resolution::TookEffect).count() };
    (missing, unsettled, shown)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::model::Outcome::*;

    #[test]
    fn finds_lost_acknowledged_orders() {
        let s = scenario(2, 3);
        let l = ledger(vec![attempt(0, Won, 0), attempt(1, Won, 1), attempt(2, SoldOut, 2)]);
        assert_eq!(check(&Input::new(&s, &l, &truth(2, 0, &[0, 1]))).status, Status::Pass);
        let c = check(&Input::new(&s, &l, &truth(2, 1, &[0])));
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.examples, vec!["order o1 (buyer-1 attempt 1), not in the store".to_string()]);
    }

    #[test]
    fn matches_answers_without_ids_by_buyer_to_orders_no_id_claimed() {
        let s = scenario(2, 3);
        let mut anonymous = attempt(1, Won, 1);
        anonymous.order_id = None;
        let l = ledger(vec![anonymous.clone()]);
        assert_eq!(check(&Input::new(&s, &l, &truth(2, 1, &[1]))).status, Status::Pass);
        assert_eq!(check(&Input::new(&s, &l, &truth(2, 1, &[0]))).status, Status::Fail);
        let c = check(&Input::new(&s, &l, &truth(2, 1, &[0])));
        assert!(
            c.examples[0].contains("buyer-1 attempt 1 was told its order succeeded; the store holds no order"),
            "{c:?}"
        );
        // Buyer 1 won twice, once with id o1 and once without (another session, a retry): the
        // id-less answer may repeat o1, so its one stored order is both answers' sale.
        let mut second = attempt(1, Won, 5);
        second.attempt = 2;
        second.order_id = None;
        let l = ledger(vec![attempt(1, Won, 1), second]);
        let c = check(&Input::new(&s, &l, &truth(2, 1, &[1])));
        assert_eq!(c.status, Status::Pass, "{c:?}");
    }

    #[test]
    fn one_order_given_to_several_buyers_is_not_their_sale() {
        let s = scenario(5, 5);
        let l = ledger(
            (0..5)
                .map(|b| {
                    let mut a = attempt(b, Won, u64::from(b));
                    a.order_id = Some("o0".into());
                    a
                })
                .collect(),
        );
        let c = check(&Input::new(&s, &l, &truth(5, 4, &[0])));
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(c.examples.iter().any(|e| e.contains("order o0 was given to 5 buyers")), "{c:?}");
        assert!(c.examples.iter().any(|e| e.contains("stored under buyer-0")), "{c:?}");
    }

    #[test]
    fn repeats_of_one_buyer_naming_one_order_are_one_sale() {
        let s = scenario(5, 1);
        let l = ledger(repeats(0, 5));
        let c = check(&Input::new(&s, &l, &truth(5, 4, &[0])));
        assert_eq!((c.status, c.counts["acknowledged"]), (Status::Pass, 1), "{c:?}");
    }

    #[test]
    fn an_order_of_another_product_or_buyer_is_no_proof() {
        let s = scenario(5, 2);
        let mut a = attempt(1, Won, 1);
        a.order_id = Some("o0".into());
        let l = ledger(vec![a]);
        let c = check(&Input::new(&s, &l, &truth(5, 4, &[0])));
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(c.examples[0].contains("buyer-1 attempt 1 was given order o0, stored under buyer-0"), "{c:?}");
    }

    /// Buyer `b`'s accepted (queued) attempt with ticket `t<b>`.
    fn queued(b: u32) -> crate::model::Attempt {
        let mut a = attempt(b, Accepted, u64::from(b));
        a.order_id = Some(format!("t{b}"));
        a
    }

    #[test]
    fn an_accepted_order_never_stored_while_stock_remained_was_lost() {
        let s = scenario(5, 3);
        let l = ledger(vec![queued(0), queued(1), queued(2)]);
        // Buyers 0 and 1 hold their orders (by buyer: the store's ids are not the tickets).
        let t = truth(5, 3, &[0, 1]);
        let c = check(&Input::new(&s, &l, &t));
        assert_eq!((c.status, c.counts["accepted_lost"]), (Status::Fail, 1), "{c:?}");
        assert!(c.examples.iter().any(|e| e.contains("buyer-2 attempt 1 accepted (order t2)")), "{c:?}");
        // Sold out at the end: the queue refused it for want of stock, no loss.
        let t = truth(2, 0, &[0, 1]);
        let c = check(&Input::new(&s, &l, &t));
        assert_eq!((c.status, c.counts["accepted_lost"]), (Status::Pass, 0), "{c:?}");
    }

    #[test]
    fn accepted_orders_counted_without_order_records() {
        let s = scenario(5, 3);
        let l = ledger(vec![queued(0), queued(1), attempt(2, Error, 2)]);
        let mut t = truth(5, 4, &[]);
        t.orders = None;
        let c = check(&Input::new(&s, &l, &t));
        assert_eq!((c.status, c.counts["accepted_lost"]), (Status::Fail, 1), "1 unit left for 2 accepted: {c:?}");
        // 2 units left: both accepted, or one and the error: which, truth cannot tell.
        t.products[0].final_stock = Some(3);
        let c = check(&Input::new(&s, &l, &t));
        assert_eq!(c.status, Status::NotApplicable, "{c:?}");
    }

    #[test]
    fn without_order_records_only_a_shortfall_is_proven() {
        let s = scenario(5, 3);
        let l = ledger(vec![attempt(0, Won, 0), attempt(1, Won, 1)]);
        let mut t = truth(5, 3, &[]);
        t.orders = None;
        let c = check(&Input::new(&s, &l, &t));
        assert!(c.status == Status::NotApplicable && c.detail.contains("no order records"), "{c:?}");
        t.products[0].final_stock = Some(4);
        let c = check(&Input::new(&s, &l, &t));
        assert!(c.status == Status::Fail && c.detail.contains("only 1 unit left"), "{c:?}");
    }
}
