//! The checker, Jepsen style: one history per product ([`history`]: every attempt with its
//! invocation and completion, its outcome and order id, and every stored order attributed to
//! the attempts that explain it) checked against the sale model of DESIGN.md, and the
//! invariants as views of that one check, each returning pass, fail or not applicable with
//! evidence (counts and example ids). [`check_all`] runs the ones the scenario asks for.
//!
//! Safety (nothing bad happened to the stock and the orders) and liveness (every buyer was
//! answered, the target still answers) are kinds of invariant ([`Kind`]), reported apart.
//!
//! Indeterminate attempts (`error`, `timeout`) may or may not have taken effect; the views
//! bound them and never count them as failures by themselves. `accepted` attempts (queued,
//! no final status) are bounded the same way, except that one truth shows had no effect while
//! its product still had stock is a lost acknowledgement (`acked_orders_durable`). What needs
//! orders attributed to attempts is not applicable on a store that keeps only stock, unless
//! the counts alone prove a violation.

mod acked_orders_durable;
mod every_buyer_answered;
pub mod history;
mod no_oversell;
mod no_phantom_orders;
mod no_undersell;
mod no_win_after_sold_out;
mod per_buyer_limit;
mod stock_conserved;
mod stock_never_negative;
mod target_alive_after_run;

#[cfg(test)]
mod generated;

use crate::model::check::{Check, Invariant, Status};
use crate::model::Ledger;
use crate::model::Truth;
use crate::scenario::Scenario;
use crate::target::AfterRun;
use history::History;

/// What every view reads: the run, its ground truth, the one history built from them, and
/// what the target answered after the load.
pub struct Input<'a> {
    pub scenario: &'a Scenario,
    pub ledger: &'a Ledger,
    pub truth: &'a Truth,
    pub history: History<'a>,
    /// `None` when the target was not probed after the load.
    pub after_run: Option<&'a AfterRun>,
}

impl<'a> Input<'a> {
    pub fn new(scenario: &'a Scenario, ledger: &'a Ledger, truth: &'a Truth) -> Input<'a> {
        Input { scenario, ledger, truth, history: History::build(scenario, ledger, truth), after_run: None }
    }

    pub fn with_after_run(mut self, after_run: Option<&'a AfterRun>) -> Input<'a> {
        self.after_run = after_run;
        self
    }

    /// The buyer id the target saw for buyer index `n`.
    pub fn buyer(&self, n: u32) -> String {
        self.scenario.buyer_id(n)
    }
}

/// Runs the invariants the scenario selects (all by default); the others are reported as
/// not applicable.
pub fn check_all(input: &Input) -> Vec<Check> {
    let selected = input.scenario.expect.invariants.as_ref();
    Invariant::ALL
        .iter()
        .map(|&inv| {
            if selected.is_some_and(|list| !list.contains(&inv)) {
                Check::new(inv, Status::NotApplicable, "not selected by expect.invariants")
            } else {
                checker(inv)(input)
            }
        })
        .collect()
}

/// The view that checks `invariant`.
fn checker(invariant: Invariant) -> fn(&Input) -> Check {
    match invariant {
        Invariant::NoOversell => no_oversell::check,
        Invariant::NoUndersell => no_undersell::check,
        Invariant::StockConserved => stock_conserved::check,
        Invariant::StockNeverNegative => stock_never_negative::check,
        Invariant::AckedOrdersDurable => acked_orders_durable::check,
        Invariant::NoPhantomOrders => no_phantom_orders::check,
        Invariant::PerBuyerLimit => per_buyer_limit::check,
        Invariant::NoWinAfterSoldOut => no_win_after_sold_out::check,
        Invariant::EveryBuyerAnswered => every_buyer_answered::check,
        Invariant::TargetAliveAfterRun => target_alive_after_run::check,
    }
}

/// "8 of 10 invariants selected by expect.invariants", when the scenario chose some.
pub fn selection(s: &Scenario) -> Option<String> {
    let list = s.expect.invariants.as_ref()?;
    let chosen = Invariant::ALL.iter().filter(|i| list.contains(i)).count();
    Some(format!("{chosen} of {} invariants selected by expect.invariants", Invariant::ALL.len()))
}

/// Milliseconds since the run's epoch, for evidence: "16.8 ms".
pub(crate) fn ms(us: u64) -> String {
    format!("{:.1} ms", us as f64 / 1000.0)
}

/// The same verdict for every invariant when ground truth could not be read.
pub fn unchecked(reason: &str) -> Vec<Check> {
    Invariant::ALL.iter().map(|&inv| Check::new(inv, Status::NotApplicable, format!("not checked: {reason}"))).collect()
}
