//! Resolution of indeterminate attempts against ground truth, once truth is read.
//!
//! An `error` or `timeout` attempt may or may not have taken effect; the store knows. With
//! order records, each (buyer, product) holds a number of orders: those not matched to a
//! `won` answer belong to that pair's indeterminate attempts. None left: every one of them
//! had **no effect**; as many as attempts: every one **took effect**; some: which ones cannot
//! be told, so each is **unknown** (the count is still exact, and checkers that count use it).
//! Without order records (a store that keeps only stock), units are counted instead: if the
//! units that left the stock equal the acknowledged units, no indeterminate attempt of that
//! product took effect. A "no effect" is only claimed once truth has settled: a store that
//! was still changing may yet apply a request, so then it stays unknown.
//!
//! An `accepted` attempt left without a final status (a queued order) is resolved the same
//! way; an accepted answer whose id the store holds took effect by that id.
//!
//! The raw outcome stays in the ledger; the resolution is added beside it (`resolved`).

use crate::harness::Ledger;
use crate::outcome::Outcome;
use crate::scenario::Scenario;
use crate::truth::Truth;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// What an indeterminate attempt turned out to have done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    TookEffect,
    NoEffect,
    Unknown,
}

impl Resolution {
    pub fn name(self) -> &'static str {
        match self {
            Resolution::TookEffect => "took_effect",
            Resolution::NoEffect => "no_effect",
            Resolution::Unknown => "unknown",
        }
    }
}

/// The indeterminate attempts of a run and what became of them (`summary.json`
/// `indeterminate`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Indeterminate {
    pub total: u64,
    pub took_effect: u64,
    pub no_effect: u64,
    pub unknown: u64,
}

impl Indeterminate {
    /// Counts the resolutions of the indeterminate attempts recorded in `ledger`.
    pub fn of(ledger: &Ledger) -> Indeterminate {
        Indeterminate::among(ledger, Outcome::is_indeterminate)
    }

    /// Counts the resolutions of the attempts left `accepted` (no final status).
    pub fn of_accepted(ledger: &Ledger) -> Indeterminate {
        Indeterminate::among(ledger, |o| o == Outcome::Accepted)
    }

    fn among(ledger: &Ledger, which: impl Fn(Outcome) -> bool) -> Indeterminate {
        let mut out = Indeterminate::default();
        for a in ledger.attempts.iter().filter(|a| which(a.outcome)) {
            out.total += 1;
            match a.resolved {
                Some(Resolution::TookEffect) => out.took_effect += 1,
                Some(Resolution::NoEffect) => out.no_effect += 1,
                Some(Resolution::Unknown) | None => out.unknown += 1,
            }
        }
        out
    }

    /// One line on what the indeterminate attempts (`errors` and `timeouts` of them) did,
    /// e.g. "890 errors, all resolved: no effect"; `None` when there were none.
    pub fn line(&self, errors: u64, timeouts: u64) -> Option<String> {
        if self.total == 0 {
            return None;
        }
        let what = match (errors, timeouts) {
            (e, 0) => plural(e, "error"),
            (0, t) => plural(t, "timeout"),
            (e, t) => format!("{} and {}", plural(e, "error"), plural(t, "timeout")),
        };
        let parts: Vec<String> =
            [(self.no_effect, "no effect"), (self.took_effect, "took effect"), (self.unknown, "unknown")]
                .iter()
                .filter(|(n, _)| *n > 0)
                .map(|(n, name)| format!("{n} {name}"))
                .collect();
        Some(if parts.len() == 1 {
            let name = [(self.no_effect, "no effect"), (self.took_effect, "took effect"), (self.unknown, "unknown")]
                .iter()
                .find(|(n, _)| *n > 0)
                .map_or("", |(_, name)| *name);
            format!("{what}, all resolved: {name}")
        } else {
            format!("{what} resolved: {}", parts.join(", "))
        })
    }
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Resolves every open attempt (indeterminate, or accepted without a final status) of `ledger` against `truth` (setting `resolved`) and
/// returns the counts.
pub fn resolve(s: &Scenario, ledger: &mut Ledger, truth: &Truth) -> Indeterminate {
    let settled = truth.reading.settled;
    let resolutions = match &truth.orders {
        Some(_) => by_orders(s, ledger, truth),
        None => by_counting(s, ledger, truth),
    };
    for (a, r) in ledger.attempts.iter_mut().zip(resolutions) {
        a.resolved = r.map(|r| if r == Resolution::NoEffect && !settled { Resolution::Unknown } else { r });
    }
    Indeterminate::of(ledger)
}

/// The ids of stored orders that an answer named: a `won` answer's, and an `accepted` one's
/// when the store holds that id (a queue's ticket may be the order's id).
pub fn claimed_ids<'a>(ledger: &'a Ledger, truth: &Truth) -> HashSet<&'a str> {
    let stored: HashSet<&str> = truth.orders.iter().flatten().map(|o| o.id.as_str()).collect();
    ledger
        .attempts
        .iter()
        .filter(|a| a.outcome == Outcome::Won || a.outcome == Outcome::Accepted)
        .filter_map(|a| a.order_id.as_deref())
        .filter(|id| stored.contains(id))
        .collect()
}

/// Is `a` an accepted attempt whose id names a stored order?
fn accepted_and_stored(a: &crate::harness::Attempt, claimed: &HashSet<&str>) -> bool {
    a.outcome == Outcome::Accepted && a.order_id.as_deref().is_some_and(|id| claimed.contains(id))
}

/// With order records: per (buyer, product), the orders no answer's id accounts for.
fn by_orders(s: &Scenario, ledger: &Ledger, truth: &Truth) -> Vec<Option<Resolution>> {
    let orders = truth.orders.as_deref().unwrap_or_default();
    let acked = claimed_ids(ledger, truth);
    let mut unexplained: HashMap<(&str, &str), u64> = HashMap::new();
    for o in orders.iter().filter(|o| !acked.contains(o.id.as_str())) {
        *unexplained.entry((o.buyer_id.as_str(), o.product_id.as_str())).or_default() += 1;
    }
    let buyer_ids: Vec<String> = ledger.attempts.iter().map(|a| s.buyer_id(a.buyer)).collect();
    let product = |a: &crate::harness::Attempt| ledger.products.get(a.product as usize).map_or("", String::as_str);
    // A win without an order id holds one of its pair's orders.
    for (a, buyer) in ledger.attempts.iter().zip(&buyer_ids) {
        if a.outcome == Outcome::Won && a.order_id.is_none() {
            if let Some(n) = unexplained.get_mut(&(buyer.as_str(), product(a))) {
                *n = n.saturating_sub(1);
            }
        }
    }
    let mut pending: HashMap<(&str, &str), u64> = HashMap::new();
    for (a, buyer) in ledger.attempts.iter().zip(&buyer_ids) {
        if a.outcome.is_open() && !accepted_and_stored(a, &acked) {
            *pending.entry((buyer.as_str(), product(a))).or_default() += 1;
        }
    }
    ledger
        .attempts
        .iter()
        .zip(&buyer_ids)
        .map(|(a, buyer)| {
            if accepted_and_stored(a, &acked) {
                return Some(Resolution::TookEffect);
            }
            a.outcome.is_open().then(|| {
                let key = (buyer.as_str(), product(a));
                let (left, tried) =
                    (unexplained.get(&key).copied().unwrap_or(0), pending.get(&key).copied().unwrap_or(1));
                match left {
                    0 => Resolution::NoEffect,
                    n if n >= tried => Resolution::TookEffect,
                    _ => Resolution::Unknown,
                }
            })
        })
        .collect()
}

/// Without order records: per product, the units that left the stock beyond the
/// acknowledged ones.
fn by_counting(s: &Scenario, ledger: &Ledger, truth: &Truth) -> Vec<Option<Resolution>> {
    let q = i64::from(s.buyers.quantity);
    let per_product: Vec<Resolution> = (0..truth.products.len())
        .map(|i| {
            let acked = ledger.attempts.iter().filter(|a| a.product as usize == i && a.outcome == Outcome::Won).count();
            let tried =
                ledger.attempts.iter().filter(|a| a.product as usize == i && a.outcome.is_open()).count() as i64;
            match truth.units_ordered(i).map(|sold| sold - acked as i64 * q) {
                Some(0) => Resolution::NoEffect,
                Some(extra) if extra == tried * q => Resolution::TookEffect,
                _ => Resolution::Unknown,
            }
        })
        .collect();
    ledger
        .attempts
        .iter()
        .map(|a| {
            a.outcome.is_open().then(|| per_product.get(a.product as usize).copied().unwrap_or(Resolution::Unknown))
        })
        .collect()
}

/// Orders each buyer holds of its product at the end, by buyer index: from the order records
/// when the store keeps them, else from the buyer's wins and resolved attempts. `None` where
/// it is open: an unknown attempt without order records, or, on truth that had not settled,
/// an attempt that may still take effect. Buyers who never sent a request are left out.
pub fn holdings(s: &Scenario, ledger: &Ledger, truth: &Truth) -> HashMap<u32, Option<u32>> {
    let mut out: HashMap<u32, Option<u32>> = HashMap::new();
    for a in ledger.attempts.iter().filter(|a| a.outcome.was_sent()) {
        out.entry(a.buyer).or_insert(Some(0));
    }
    match truth.holdings() {
        Some(held) => {
            let pending: HashSet<u32> = ledger
                .attempts
                .iter()
                .filter(|a| !truth.reading.settled && a.resolved == Some(Resolution::Unknown))
                .map(|a| a.buyer)
                .collect();
            for (buyer, count) in out.iter_mut() {
                let pid = s.products.get(s.product_of(*buyer)).map_or("", |p| p.id.as_str());
                let now = held.get(&(s.buyer_id(*buyer).as_str(), pid)).copied().unwrap_or(0);
                *count = (!pending.contains(buyer)).then_some(now);
            }
        }
        None => {
            for a in ledger.attempts.iter().filter(|a| a.outcome.was_sent()) {
                let entry = out.entry(a.buyer).or_insert(Some(0));
                let add = match (a.outcome, a.resolved) {
                    (Outcome::Won, _) | (_, Some(Resolution::TookEffect)) => Some(1),
                    (o, Some(Resolution::NoEffect)) if o.is_open() => Some(0),
                    (o, _) if o.is_open() => None,
                    _ => Some(0),
                };
                *entry = entry.zip(add).map(|(h, n)| h + n);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome::*;
    use crate::verify::fixtures::*;

    fn resolutions(l: &Ledger) -> Vec<Option<&'static str>> {
        l.attempts.iter().map(|a| a.resolved.map(Resolution::name)).collect()
    }

    #[test]
    fn matches_indeterminate_attempts_to_the_orders_of_their_buyer() {
        let s = scenario(5, 4);
        // buyer 1 timed out but holds an order; buyer 2 errored and holds none.
        let mut l = ledger(vec![attempt(0, Won, 0), attempt(1, Timeout, 1), attempt(2, Error, 2), attempt(3, Busy, 3)]);
        let t = truth(5, 3, &[0, 1]);
        let counts = resolve(&s, &mut l, &t);
        assert_eq!(resolutions(&l), [None, Some("took_effect"), Some("no_effect"), None]);
        assert_eq!(counts, Indeterminate { total: 2, took_effect: 1, no_effect: 1, unknown: 0 });
        assert_eq!(
            counts.line(l.count(Error), l.count(Timeout)).as_deref(),
            Some("1 error and 1 timeout resolved: 1 no effect, 1 took effect")
        );
    }

    #[test]
    fn an_unsettled_store_proves_no_absence() {
        let s = scenario(5, 2);
        let mut l = ledger(vec![attempt(0, Timeout, 0), attempt(1, Timeout, 1)]);
        let mut t = truth(5, 4, &[0]);
        t.reading.settled = false;
        resolve(&s, &mut l, &t);
        assert_eq!(resolutions(&l), [Some("took_effect"), Some("unknown")]);
    }

    #[test]
    fn on_unsettled_truth_a_buyer_with_a_pending_attempt_holds_an_open_count() {
        let s = scenario(5, 2);
        let mut l = ledger(vec![attempt(0, Won, 0), attempt(1, Timeout, 1)]);
        let mut t = truth(5, 4, &[0]);
        t.reading.settled = false;
        resolve(&s, &mut l, &t);
        let held = holdings(&s, &l, &t);
        assert_eq!((held[&0], held[&1]), (Some(1), None));
        t.reading.settled = true;
        resolve(&s, &mut l, &t);
        assert_eq!(holdings(&s, &l, &t)[&1], Some(0), "settled: its attempt had no effect");
    }

    #[test]
    fn some_of_several_attempts_of_one_buyer_leave_each_unknown() {
        let s = scenario(5, 1);
        let mut second = attempt(0, Error, 10);
        second.attempt = 2;
        let mut l = ledger(vec![attempt(0, Error, 0), second]);
        let counts = resolve(&s, &mut l, &truth(5, 4, &[0]));
        assert_eq!(counts.unknown, 2);
        assert_eq!(counts.line(l.count(Error), l.count(Timeout)).as_deref(), Some("2 errors, all resolved: unknown"));
    }

    #[test]
    fn without_order_records_units_are_counted() {
        let s = scenario(5, 3);
        let mut l = ledger(vec![attempt(0, Won, 0), attempt(1, Error, 1), attempt(2, Error, 2)]);
        let mut t = truth(5, 4, &[]);
        t.orders = None;
        let counts = resolve(&s, &mut l, &t);
        assert_eq!(
            (counts.no_effect, counts.line(l.count(Error), l.count(Timeout)).as_deref()),
            (2, Some("2 errors, all resolved: no effect"))
        );
        let held = holdings(&s, &l, &t);
        assert_eq!((held[&0], held[&1]), (Some(1), Some(0)));
        t.products[0].final_stock = Some(2);
        let counts = resolve(&s, &mut l, &t);
        assert_eq!(counts.took_effect, 2, "5 − 2 = 3 units left: the win and both errors");
        t.products[0].final_stock = Some(3);
        let counts = resolve(&s, &mut l, &t);
        assert_eq!(counts.unknown, 2, "one of the two took effect, which one is unknown");
        assert_eq!(holdings(&s, &l, &t)[&1], None);
    }
}
