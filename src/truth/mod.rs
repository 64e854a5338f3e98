//! Ground truth: the real final state (stock and orders) read from the stores after the run
//! drained, never from the server's answers. Independent stores (one `memory` store per
//! instance) are added up: each sold from its own copy of the stock.
//!
//! A store may keep no order records (stock only, as some users' servers do): then `orders`
//! is `None`, and what needs them is settled by counting units instead (see `resolve`).
//!
//! Sources: the reference server's own stores (`server/store/`), and for `http` targets
//! [`sql`] (PostgreSQL or SQLite: stock and orders, in one transaction), [`redis`] (a stock key
//! per product, read atomically) and [`http`] (the server's own answer: least trusted). Each
//! gives a [`Reading`]; [`settle`] reads until two readings `truth.settle` apart agree.

pub mod http;
pub mod redis;
pub mod sql;

use crate::model::{Order, ProductTruth, Truth, TruthReading};
use crate::scenario::{Scenario, TruthSpec};
use crate::server::store::Snapshot;
use std::time::Instant;

/// One read of a truth source: each product's stock as the store has it (products it holds
/// that the scenario does not name are ignored later), and the orders that count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reading {
    pub stock: Vec<(String, i64)>,
    /// `None` when the source keeps no order records.
    pub orders: Option<Vec<Order>>,
}

/// Reads with `read` until two readings `interval` apart agree (or once, when nothing could
/// still change them: `!unsettled_possible`) and `draining` says no queued order is still on
/// its way, within `spec.max_wait`. Returns the last reading, how many reads it took, and
/// whether the last two agreed.
pub async fn settle<T, E, F, Fut>(
    spec: &TruthSpec,
    interval: std::time::Duration,
    unsettled_possible: bool,
    draining: impl Fn(&T) -> bool,
    mut read: F,
) -> Result<(T, u32, bool), E>
where
    T: PartialEq,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let give_up = Instant::now() + spec.max_wait.0;
    let mut last = read().await?;
    let mut reads = 1;
    if !unsettled_possible && !draining(&last) {
        return Ok((last, reads, true));
    }
    let mut agree = false;
    while Instant::now() + interval <= give_up {
        tokio::time::sleep(interval).await;
        let next = read().await?;
        reads += 1;
        agree = next == last;
        last = next;
        if agree && !draining(&last) {
            return Ok((last, reads, true));
        }
    }
    Ok((last, reads, agree))
}

/// What the run leads truth to expect: whether a request may still be running, and the
/// orders still in a queue (accepted, no final status), so reads go on until they drained.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Awaited {
    /// Some attempt had no answer.
    pub unsettled_possible: bool,
    /// Per product with queued orders: its id, initial stock, and the units the store must
    /// show sold once its queue drained (wins and accepted orders), unless it sold out.
    pub queued: Vec<(String, i64, i64)>,
    pub quantity: i64,
    /// Twice the longest gap between two commits seen during the run (won answers, stock
    /// changes the harness sampled): two reads that agree only prove the store quiet when
    /// they are at least this far apart, or a server still selling slowly would look still.
    pub window: std::time::Duration,
}

impl Awaited {
    pub fn of(s: &Scenario, ledger: &crate::model::Ledger) -> Awaited {
        use crate::model::Outcome;
        let q = i64::from(s.buyers.quantity);
        let queued = s
            .products
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let of = |o: Outcome| {
                    ledger.attempts.iter().filter(|a| a.product as usize == i && a.outcome == o).count() as i64
                };
                let accepted = of(Outcome::Accepted);
                (accepted > 0).then(|| (p.id.clone(), i64::from(p.stock), q * (of(Outcome::Won) + accepted)))
            })
            .collect();
        Awaited {
            unsettled_possible: ledger.attempts.iter().any(|a| a.outcome.is_open()),
            queued,
            quantity: q,
            window: std::time::Duration::from_micros(2 * longest_gap_between_commits(ledger)),
        }
    }

    /// How far apart two agreeing reads must be: `truth.settle`, or the quiet window when longer.
    pub fn interval(&self, spec: &TruthSpec) -> std::time::Duration {
        match self.unsettled_possible {
            true => spec.settle.0.max(self.window),
            false => spec.settle.0,
        }
    }

    /// Are queued orders still to show in `r`: some product holds less sold than its wins and
    /// accepted orders, and still the stock for another order?
    pub fn draining(&self, r: &Reading) -> bool {
        self.queued.iter().any(|(id, initial, units)| {
            r.stock
                .iter()
                .find(|(p, _)| p == id)
                .is_some_and(|(_, stock)| *stock >= self.quantity && initial - stock < *units)
        })
    }
}

/// The longest time between two commits the run saw, µs: won answers, and changes of a
/// product's sampled stock.
fn longest_gap_between_commits(ledger: &crate::model::Ledger) -> u64 {
    use crate::model::Outcome;
    let mut at: Vec<u64> = ledger.attempts.iter().filter(|a| a.outcome == Outcome::Won).map(|a| a.done_us).collect();
    let mut samples: Vec<&crate::model::StockSample> = ledger.stock_samples.iter().collect();
    samples.sort_by_key(|s| (s.product, s.instance, s.t_us));
    at.extend(
        samples
            .windows(2)
            .filter(|w| (w[0].product, w[0].instance) == (w[1].product, w[1].instance) && w[0].stock != w[1].stock)
            .map(|w| w[1].t_us),
    );
    at.sort_unstable();
    at.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0)
}

impl Truth {
    /// Combines the snapshots of independent stores for `scenario`.
    pub fn from_snapshots(scenario: &Scenario, snapshots: &[Snapshot], reading: TruthReading) -> Truth {
        let products = scenario
            .products
            .iter()
            .map(|p| {
                let held: Vec<i64> = snapshots
                    .iter()
                    .filter_map(|s| s.products.iter().find(|x| x.id == p.id).map(|x| x.stock))
                    .collect();
                ProductTruth {
                    id: p.id.clone(),
                    initial_stock: u64::from(p.stock),
                    final_stock: (!held.is_empty()).then(|| held.iter().sum()),
                    stores: held.len() as u32,
                }
            })
            .collect();
        let orders = snapshots.iter().flat_map(|s| s.orders.iter().cloned()).collect();
        Truth { products, orders: Some(orders), reading }
    }

    /// Truth from one source's reading (one store: `stores` is 1 for every product it holds).
    pub fn from_reading(scenario: &Scenario, reading: Reading, how: TruthReading) -> Truth {
        let products = scenario
            .products
            .iter()
            .map(|p| {
                let held: Vec<i64> = reading.stock.iter().filter(|(id, _)| *id == p.id).map(|(_, s)| *s).collect();
                ProductTruth {
                    id: p.id.clone(),
                    initial_stock: u64::from(p.stock),
                    final_stock: held.first().copied(),
                    stores: held.len().min(1) as u32,
                }
            })
            .collect();
        let orders = reading
            .orders
            .map(|all| all.into_iter().filter(|o| scenario.products.iter().any(|p| p.id == o.product_id)).collect());
        Truth { products, orders, reading: how }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{attempt, ledger, scenario};
    use crate::model::Outcome;

    #[test]
    fn reads_go_on_while_queued_orders_have_stock_left_to_take() {
        let s = scenario(5, 3);
        let l =
            ledger(vec![attempt(0, Outcome::Won, 0), attempt(1, Outcome::Accepted, 1), attempt(2, Outcome::Busy, 2)]);
        let awaited = Awaited::of(&s, &l);
        assert!(awaited.unsettled_possible);
        let read = |stock| Reading { stock: vec![("p".to_string(), stock)], orders: None };
        assert!(awaited.draining(&read(4)), "1 unit sold of the 2 the won and accepted orders will take");
        assert!(!awaited.draining(&read(3)), "both sold");
        assert!(!awaited.draining(&read(0)), "sold out: the queue may refuse the rest");
        let quiet = Awaited::of(&s, &ledger(vec![attempt(0, Outcome::Won, 0)]));
        assert!(!quiet.unsettled_possible && quiet.queued.is_empty());
    }
}
