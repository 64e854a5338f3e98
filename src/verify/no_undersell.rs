//! `no_undersell`: stock is never left unsold while a buyer who wanted it went without, and
//! no buyer is told `sold_out` while stock remained.
//!
//! Stock only decreases, so a final stock that still holds a whole order (`quantity`) was
//! there all along. Then two things may not have happened:
//! - a `sold_out` answer (it was false when given);
//! - a buyer ended holding fewer orders than it wanted (`min(wants, limit)`) although it sent
//!   requests: each was refused (busy, rate limited, rejected) or, resolved against the
//!   store, had no effect (an `error` or `timeout` that did nothing). Errors do not excuse an
//!   undersell: a server that answers 500 to most of a burst while stock remains undersells.
//!
//! A product that sold out may still have refused a buyer too early: a `sold_out` answer is
//! legal only if stock could have been gone at some instant within its interval, that is if
//! the sales sent before it completed (and the attempts whose effect is unknown, and the units
//! no attempt explains) could have taken the whole stock.
//!
//! Holdings are the history's ([`super::history`]): the stored orders a buyer's answers named,
//! or that name the buyer. Buyers whose requests never left (`not_sent`) take no part. When
//! some buyers' holdings cannot be resolved and no other buyer went without, those unresolved
//! attempts could account for the unsold stock: the check is then not applicable, and says so.

use super::history::{Op, ProductHistory};
use super::{ms, Input};
use crate::model::check::{Check, Invariant, Status};
use crate::model::Outcome;
use crate::text::count;
use std::collections::BTreeMap;

pub fn check(input: &Input) -> Check {
    let s = input.scenario;
    let (wanted, demand) = (s.orders_wanted(), s.eligible_demand());
    let mut f = Findings::default();
    for h in &input.history.products {
        product(input, h, wanted, &demand, &mut f);
    }
    let (status, detail) = if !f.failures.is_empty() {
        (Status::Fail, f.failures.join("; "))
    } else if !f.open.is_empty() {
        (Status::NotApplicable, format!("cannot be decided: {}", f.open.join("; ")))
    } else {
        (Status::Pass, f.fine.join("; "))
    };
    let unsold: i64 = input.history.products.iter().filter_map(|h| h.final_stock).sum();
    Check::new(Invariant::NoUndersell, status, detail)
        .count("final_stock", unsold)
        .count("buyers_went_without", f.unmet_all)
        .count("buyers_unresolved", f.unresolved_all)
        .examples(f.examples)
}

/// What the products showed: failures with examples, what cannot be decided, what held.
#[derive(Default)]
struct Findings {
    failures: Vec<String>,
    examples: Vec<String>,
    open: Vec<String>,
    fine: Vec<String>,
    unmet_all: usize,
    unresolved_all: usize,
}

/// One product: sold out too early, sold out while stock remained, or stock left while
/// buyers who wanted it went without.
fn product(input: &Input, h: &ProductHistory, wanted: u32, demand: &[u64], f: &mut Findings) {
    let Some(final_stock) = h.final_stock else {
        f.open.push(format!("{}: not in the store", h.id));
        return;
    };
    if final_stock < h.quantity {
        match early_sold_out(h) {
            Some((line, example)) => {
                f.failures.push(line);
                f.examples.push(example);
            }
            None => f.fine.push(format!("{}: sold out", h.id)),
        }
        return;
    }
    let sold_out: Vec<&Op> = h.ops.iter().filter(|op| op.outcome() == Outcome::SoldOut).collect();
    if !sold_out.is_empty() {
        f.failures.push(format!(
            "{}: {} while {} remained",
            h.id,
            count(sold_out.len() as u64, "sold_out answer"),
            count(final_stock, "unit")
        ));
        f.examples.extend(sold_out.iter().map(|op| format!("{} sold_out at {}", op.who(), ms(op.attempt.done_us))));
    }
    let held = h.holdings();
    let mut unmet: Vec<&str> = Vec::new();
    let mut unresolved = 0;
    for (&buyer, n) in &held {
        match n {
            Some(n) if *n < wanted => unmet.push(buyer),
            None => unresolved += 1,
            Some(_) => {}
        }
    }
    f.unmet_all += unmet.len();
    f.unresolved_all += unresolved;
    if !unmet.is_empty() {
        let ended = how_they_ended(h, &unmet);
        f.failures.push(format!(
            "{}: {} left unsold while {} who wanted them went without ({ended})",
            h.id,
            count(final_stock, "unit"),
            count(unmet.len() as u64, "buyer")
        ));
        // Indeterminate attempts first: they are the ones a reader would doubt.
        let last = last_attempts(h);
        let mut last: Vec<&Op> = unmet.iter().filter_map(|b| last.get(b).copied()).collect();
        last.sort_by_key(|op| (!op.attempt.outcome.is_open(), op.attempt.buyer));
        f.examples.extend(last.iter().map(|op| format!("{}: {}", op.who(), label(op))));
    } else if unresolved > 0 {
        f.open.push(format!(
            "{}: {} unsold, and {} had attempts the store cannot resolve; \
             they could account for the unsold stock",
            h.id,
            count(final_stock, "unit"),
            count(unresolved as u64, "buyer")
        ));
    } else if sold_out.is_empty() {
        f.fine.push(all_served(input, h, demand, final_stock, held.len()));
    }
}

/// "every buyer got what it wanted (demand 3 < stock 5)": a product no buyer went without.
fn all_served(input: &Input, h: &ProductHistory, demand: &[u64], final_stock: i64, held: usize) -> String {
    let wanting = demand.get(h.index).copied().unwrap_or(0);
    let why = if (wanting as i64) < h.initial {
        format!("demand {wanting} < stock {}", h.initial)
    } else {
        format!("{} unsold", count(final_stock, "unit"))
    };
    let tried: std::collections::BTreeSet<u32> =
        input.ledger.attempts.iter().filter(|a| a.product as usize == h.index).map(|a| a.buyer).collect();
    let silent = tried.len().saturating_sub(held);
    let who = if silent == 0 {
        "every buyer got what it wanted".to_string()
    } else {
        format!("every buyer who sent a request got what it wanted ({silent} sent none)")
    };
    format!("{}: {who} ({why})", h.id)
}

/// On a product that sold out: the first `sold_out` answer that completed before enough sales
/// could have been made to take the stock, with the evidence.
fn early_sold_out(h: &ProductHistory) -> Option<(String, String)> {
    let q = h.quantity;
    let mut refusals: Vec<&Op> = h.ops.iter().filter(|op| op.outcome() == Outcome::SoldOut).collect();
    refusals.sort_by_key(|op| op.attempt.done_us);
    let done: Vec<u64> = refusals.iter().map(|op| op.attempt.done_us).collect();
    let could = h.could_have_sold_before(&done);
    let early: Vec<usize> = (0..refusals.len()).filter(|&k| h.initial - could[k] >= q).collect();
    let &first = early.first()?;
    let at = done[first];
    let sent_before = h.ops.iter().filter(|op| op.attempt.sent_us < at).count();
    Some((
        format!(
            "{}: {} came while stock remained (the first at {}, when at most {} of {} could have been sold)",
            h.id,
            count(early.len() as u64, "sold_out answer"),
            ms(at),
            count(could[first], "unit"),
            h.initial
        ),
        format!(
            "{}: sold_out done at {}; only {} had been sent before it",
            refusals[first].who(),
            ms(at),
            count(sent_before as u64, "attempt")
        ),
    ))
}

/// How an attempt ended, with its resolution: `busy`, `timeout→no effect`.
fn label(op: &Op) -> String {
    match op.attempt.outcome {
        o if o.is_open() => format!("{}→{}", o, op.effect.name().replace('_', " ")),
        o => o.to_string(),
    }
}

/// Each buyer's last attempt.
fn last_attempts<'h, 'a>(h: &'h ProductHistory<'a>) -> BTreeMap<&'h str, &'h Op<'a>> {
    let mut out: BTreeMap<&str, &Op> = BTreeMap::new();
    for op in &h.ops {
        let last = out.entry(op.buyer.as_str()).or_insert(op);
        if op.attempt.attempt > last.attempt.attempt {
            *last = op;
        }
    }
    out
}

/// "busy 591, timeout→no effect 909": how the attempts of `buyers` ended.
fn how_they_ended(h: &ProductHistory, buyers: &[&str]) -> String {
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for op in h.ops.iter().filter(|op| buyers.binary_search(&op.buyer.as_str()).is_ok()) {
        *by.entry(label(op)).or_default() += 1;
    }
    let mut rows: Vec<(String, usize)> = by.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let shown: Vec<String> = rows.iter().map(|(k, n)| format!("{k} {n}")).collect();
    format!("their attempts: {}", shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::model::Attempt;
    use crate::model::Outcome::*;

    fn run(stock: u32, buyers: u32, attempts: Vec<Attempt>, final_stock: i64, won: &[u32]) -> Check {
        let (s, l, t) = (scenario(stock, buyers), ledger(attempts), truth(u64::from(stock), final_stock, won));
        check(&Input::new(&s, &l, &t))
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
        let s = scenario(5, 3);
        // One unit beyond the win left the stock: one of the two timeouts took effect.
        let l = ledger(vec![attempt(0, Won, 0), attempt(1, Timeout, 1), attempt(2, Timeout, 2)]);
        let mut t = truth(5, 3, &[]);
        t.orders = None;
        let c = check(&Input::new(&s, &l, &t));
        assert_eq!(c.status, Status::NotApplicable, "{c:?}");
        assert!(c.detail.contains("2 buyers had attempts the store cannot resolve"), "{}", c.detail);
    }

    #[test]
    fn a_sold_out_answer_before_the_stock_could_have_gone_is_an_undersell() {
        // 2 units: buyer 1 told sold_out at 100 µs, before buyer 2's sale was even sent.
        let c = run(2, 3, vec![attempt(0, Won, 0), attempt(1, SoldOut, 0), attempt(2, Won, 500)], 0, &[0, 2]);
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(c.detail.contains("1 sold_out answer came while stock remained"), "{}", c.detail);
        // Sent together, the sold_out answer may have come last.
        let c = run(2, 3, vec![attempt(0, Won, 0), attempt(1, SoldOut, 0), attempt(2, Won, 50)], 0, &[0, 2]);
        assert_eq!(c.status, Status::Pass, "{c:?}");
    }

    #[test]
    fn one_order_named_by_sessions_of_one_buyer_is_what_each_wanted() {
        let s = scenario(5, 1);
        let l = ledger(repeats(0, 5));
        let c = check(&Input::new(&s, &l, &truth(5, 4, &[0])));
        assert_eq!(c.status, Status::Pass, "{c:?}");
    }

    #[test]
    fn buyers_that_never_sent_and_low_demand_leave_nothing_undersold() {
        let c = run(5, 3, vec![attempt(0, Won, 0), attempt(1, Won, 1), attempt(2, NotSent, 2)], 3, &[0, 1]);
        assert_eq!(c.status, Status::Pass, "{c:?}");
        assert!(c.detail.contains("every buyer who sent a request got what it wanted (1 sent none)"), "{}", c.detail);
    }
}
