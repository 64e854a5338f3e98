//! Hand-built scenarios, ledgers and truths for the checkers' unit tests.

use crate::model::Order;
use crate::model::Outcome;
use crate::model::{Attempt, Ledger};
use crate::model::{ProductTruth, Truth, TruthReading};
use crate::scenario::{load_str, Scenario};
use std::path::Path;

/// One product `p` with `stock` units and `buyers` buyers on it, one attempt each.
pub fn scenario(stock: u32, buyers: u32) -> Scenario {
    let text = format!("name: t\nproducts:\n  - id: p\n    stock: {stock}\nbuyers:\n  count: {buyers}\n");
    load_str(&text, "test.yaml", Path::new(".")).expect("fixture scenario")
}

/// An attempt of `buyer` (on product 0), sent at `sent` µs, done 100 µs later.
pub fn attempt(buyer: u32, outcome: Outcome, sent: u64) -> Attempt {
    Attempt {
        repetition: 1,
        buyer,
        product: 0,
        instance: 0,
        attempt: 1,
        intended_us: sent,
        sent_us: sent,
        done_us: sent + 100,
        status: match outcome {
            Outcome::Won => 201,
            Outcome::Accepted => 202,
            Outcome::SoldOut => 409,
            Outcome::Busy => 423,
            Outcome::RateLimited => 429,
            Outcome::Rejected => 403,
            Outcome::Error => 500,
            Outcome::Timeout | Outcome::NotSent => 0,
        },
        outcome,
        resolved: None,
        order_id: (outcome == Outcome::Won).then(|| format!("o{buyer}")),
        error: None,
        accepted_us: None,
        shard: 0,
        session: 0,
    }
}

/// `n` won answers of `buyer` naming its one order `o<buyer>` (retries, sessions of one account).
pub fn repeats(buyer: u32, n: u32) -> Vec<Attempt> {
    (1..=n)
        .map(|k| {
            let mut a = attempt(buyer, Outcome::Won, u64::from(k));
            a.attempt = k;
            a
        })
        .collect()
}

pub fn ledger(attempts: Vec<Attempt>) -> Ledger {
    Ledger { products: vec!["p".into()], buyers: 0, attempts, ..Ledger::default() }
}

pub fn order(buyer: u32) -> Order {
    Order { id: format!("o{buyer}"), product_id: "p".into(), buyer_id: format!("buyer-{buyer}"), quantity: 1 }
}

/// Truth for product `p` (initial `initial`) with `final_stock` left and an order per buyer in `buyers`.
pub fn truth(initial: u64, final_stock: i64, buyers: &[u32]) -> Truth {
    Truth {
        products: vec![ProductTruth {
            id: "p".into(),
            initial_stock: initial,
            final_stock: Some(final_stock),
            stores: 1,
        }],
        orders: Some(buyers.iter().map(|&b| order(b)).collect()),
        reading: TruthReading { quiet: true, settled: true, reads: 1, ..TruthReading::default() },
    }
}
