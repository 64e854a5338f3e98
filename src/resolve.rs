//! Resolution of indeterminate attempts against ground truth, once truth is read.
//!
//! An `error` or `timeout` attempt may or may not have taken effect; the store knows. The
//! stored orders are attributed to the attempts that explain them once, in
//! `verify::history`: by the ids answers named, then per buyer, then (for orders that
//! name no buyer) per product. An open attempt no order is left for had **no effect**; one
//! whose buyer's orders cover all its open attempts **took effect**; where only some are
//! covered, which cannot be told, so each is **unknown** (the count is still exact). Without
//! order records (a store that keeps only stock), units are counted instead. A "no effect" is
//! only claimed once truth has settled: a store that was still changing may yet apply a
//! request, so then it stays unknown.
//!
//! An `accepted` attempt left without a final status (a queued order) is resolved the same
//! way; an accepted answer whose id the store holds took effect by that id.
//!
//! The raw outcome stays in the ledger; the resolution is added beside it (`resolved`).

use crate::model::Truth;
use crate::model::{Indeterminate, Ledger};
use crate::scenario::Scenario;

/// Resolves every open attempt (indeterminate, or accepted without a final status) of
/// `ledger` against `truth` (setting `resolved`) and returns the counts. The resolutions are
/// the history's (`verify::history`): the checker reads the same attribution.
pub fn resolve(s: &Scenario, ledger: &mut Ledger, truth: &Truth) -> Indeterminate {
    let resolutions = crate::verify::history::History::build(s, ledger, truth).resolutions(ledger.attempts.len());
    for (a, r) in ledger.attempts.iter_mut().zip(resolutions) {
        a.resolved = r;
    }
    Indeterminate::of(ledger)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::model::Outcome::*;
    use crate::model::Resolution;

    /// What buyer `b` holds at the end, by the history.
    fn held(s: &Scenario, l: &Ledger, t: &Truth, b: u32) -> Option<u32> {
        let h = crate::verify::history::History::build(s, l, t);
        h.products[0].holdings().get(s.buyer_id(b).as_str()).copied().flatten()
    }

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
        assert_eq!((held(&s, &l, &t, 0), held(&s, &l, &t, 1)), (Some(1), None));
        t.reading.settled = true;
        resolve(&s, &mut l, &t);
        assert_eq!(held(&s, &l, &t, 1), Some(0), "settled: its attempt had no effect");
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
        assert_eq!((held(&s, &l, &t, 0), held(&s, &l, &t, 1)), (Some(1), Some(0)));
        t.products[0].final_stock = Some(2);
        let counts = resolve(&s, &mut l, &t);
        assert_eq!(counts.took_effect, 2, "5 − 2 = 3 units left: the win and both errors");
        t.products[0].final_stock = Some(3);
        let counts = resolve(&s, &mut l, &t);
        assert_eq!(counts.unknown, 2, "one of the two took effect, which one is unknown");
        assert_eq!(held(&s, &l, &t, 1), None);
    }
}
