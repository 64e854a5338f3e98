//! The mutants: broken strategies made by breaking a correct one in a single, realistic way,
//! each aimed at one invariant. flashbench must catch every one (`scenarios/self-test/`),
//! which is the proof that its checks have teeth. They run on every backend, over the
//! backend's correct strategy:
//!
//! | strategy | the bug | caught by |
//! |---|---|---|
//! | `lossy-ack` | answers 201, but the first two orders of each instance are lost afterwards (their transaction is undone: order gone, units back) | `acked_orders_durable` |
//! | `phantom` | stores every order, but answers every other one 423 busy (a post-commit step failed and was mapped to "try again") | `no_phantom_orders` |
//! | `no-limit` | never checks the per-buyer limit | `per_buyer_limit` |
//! | `negative` | decrements without checking the stock | `stock_never_negative` |
//! | `early-sold-out` | caches "sold out" per instance when an order meets contention, and answers from that stale cache while stock remains | `no_undersell` |
//! | `pool-exhaustion` | a pool of `pool_size` connections that answers 503 instead of waiting when all are in use | `no_undersell` |
//! | `late-rollback` | reserves the units, then the first two payments of each instance fail and their units go back 20 ms later: buyers told sold out meanwhile, later buyers win them | `no_win_after_sold_out` |
//!
//! `no-limit` and `negative` are checks the backends' correct strategies leave out
//! ([`super::Checks`]); the others wrap the correct strategy here.

use super::{Backing, OrderRequest, Placed, StoreError};
use crate::model::Strategy;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// How long `early-sold-out` trusts a cached "sold out".
const SOLD_OUT_TTL: Duration = Duration::from_secs(1);
/// The payment step of `late-rollback`, after the units were reserved.
const PAYMENT: Duration = Duration::from_millis(20);
/// Orders of each instance that `lossy-ack` loses and `late-rollback` rolls back.
const FIRST_FAILURES: u64 = 2;
/// What each wrapped order costs beyond the store call: a round trip to a cache or a payment
/// check. It is what lets concurrent orders meet, as they do against a real network.
const ROUND_TRIP: Duration = super::memory::ROUND_TRIP;

#[derive(Debug)]
enum Kind {
    LossyAck,
    Phantom,
    EarlySoldOut { sold_out: Mutex<HashMap<String, Instant>>, in_progress: Mutex<HashSet<String>> },
    PoolExhaustion { pool: Semaphore, size: u32 },
    LateRollback,
}

/// One instance's mutant: its bug and the state the bug needs.
#[derive(Debug)]
pub struct Mutant {
    kind: Kind,
    /// Orders created so far by this instance: "every other" counts these.
    created: AtomicU64,
}

impl Mutant {
    /// The wrapper for `strategy`, if it is one of the wrapping mutants.
    pub fn for_strategy(strategy: Strategy, pool_size: u32) -> Option<Mutant> {
        let kind = match strategy {
            Strategy::LossyAck => Kind::LossyAck,
            Strategy::Phantom => Kind::Phantom,
            Strategy::EarlySoldOut => {
                Kind::EarlySoldOut { sold_out: Mutex::new(HashMap::new()), in_progress: Mutex::new(HashSet::new()) }
            }
            Strategy::PoolExhaustion => {
                Kind::PoolExhaustion { pool: Semaphore::new(pool_size.max(1) as usize), size: pool_size.max(1) }
            }
            Strategy::LateRollback => Kind::LateRollback,
            _ => return None,
        };
        Some(Mutant { kind, created: AtomicU64::new(0) })
    }

    /// Counts a created order; true for every other one (the 2nd, 4th, …).
    fn every_other(&self) -> bool {
        self.created.fetch_add(1, Ordering::Relaxed) % 2 == 1
    }

    /// Counts a created order; true for the first [`FIRST_FAILURES`] of this instance.
    fn among_the_first(&self) -> bool {
        self.created.fetch_add(1, Ordering::Relaxed) < FIRST_FAILURES
    }

    pub async fn place(&self, store: &Backing, req: &OrderRequest) -> Result<Placed, StoreError> {
        match &self.kind {
            Kind::LossyAck => {
                let placed = store.place(req).await?;
                if let Placed::Created { order, .. } = &placed {
                    if self.among_the_first() {
                        // The answer goes out as 201; the transaction behind it is lost.
                        store.cancel(order).await?;
                    }
                }
                Ok(placed)
            }
            Kind::Phantom => {
                let placed = store.place(req).await?;
                Ok(match placed {
                    Placed::Created { .. } if self.every_other() => Placed::Busy { seed_style: false },
                    other => other,
                })
            }
            Kind::EarlySoldOut { sold_out, in_progress } => {
                let cached = lock(sold_out).get(&req.product_id).is_some_and(|until| *until > Instant::now());
                if cached {
                    return Ok(Placed::SoldOut);
                }
                if !lock(in_progress).insert(req.product_id.clone()) {
                    // Contention taken for exhaustion, and remembered: the bug.
                    lock(sold_out).insert(req.product_id.clone(), Instant::now() + SOLD_OUT_TTL);
                    return Ok(Placed::SoldOut);
                }
                let _done = Release(in_progress, &req.product_id);
                tokio::time::sleep(ROUND_TRIP).await;
                store.place(req).await
            }
            Kind::PoolExhaustion { pool, size } => {
                let Ok(_conn) = pool.try_acquire() else {
                    return Err(StoreError::Query {
                        backend: "pool",
                        cause: format!("connection pool exhausted: all {size} connections in use"),
                    });
                };
                tokio::time::sleep(ROUND_TRIP).await;
                store.place(req).await
            }
            Kind::LateRollback => {
                let placed = store.place(req).await?;
                let Placed::Created { order, .. } = &placed else { return Ok(placed) };
                tokio::time::sleep(PAYMENT).await;
                if self.among_the_first() {
                    store.cancel(order).await?;
                    return Ok(Placed::PaymentFailed);
                }
                Ok(placed)
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Clears a product's in-progress mark when the order is done (or dropped).
struct Release<'a>(&'a Mutex<HashSet<String>>, &'a str);

impl Drop for Release<'_> {
    fn drop(&mut self) {
        lock(self.0).remove(self.1);
    }
}
