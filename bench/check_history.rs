//! How long the checker takes on a large history: `cargo run --release --example check-history
//! [attempts]` builds a burst of N buyers (default and most 100,000) on 10 products of 500 units each,
//! with sold_out answers, timeouts that took effect or not and id-less wins, and times the
//! resolution and the checks (figures in BENCHMARKS.md).

use flashbench::model::Order;
use flashbench::model::Outcome;
use flashbench::model::{Attempt, Ledger};
use flashbench::model::{ProductTruth, Truth, TruthReading};
use std::time::Instant;

fn main() {
    let n: u32 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let (products, stock) = (10u32, 500u32);
    let yaml = format!(
        "name: big\nproducts:\n{}buyers:\n  count: {n}\n",
        (0..products).map(|p| format!("  - id: p{p}\n    stock: {stock}\n")).collect::<String>()
    );
    let s = flashbench::scenario::load_str(&yaml, "big.yaml", std::path::Path::new(".")).expect("scenario");
    let mut sold = vec![0u32; products as usize];
    let mut orders = Vec::new();
    let mut attempts = Vec::with_capacity(n as usize);
    for b in 0..n {
        let p = s.product_of(b);
        let sent = u64::from(b) * 2;
        let (outcome, id) = if sold[p] < stock {
            sold[p] += 1;
            let id = format!("o{b}");
            orders.push(Order { id: id.clone(), product_id: format!("p{p}"), buyer_id: s.buyer_id(b), quantity: 1 });
            match b % 7 {
                0 => (Outcome::Timeout, None),
                1 => (Outcome::Won, None),
                _ => (Outcome::Won, Some(id)),
            }
        } else if b % 11 == 0 {
            (Outcome::Timeout, None)
        } else {
            (Outcome::SoldOut, None)
        };
        attempts.push(Attempt {
            repetition: 1,
            buyer: b,
            product: p as u32,
            instance: 0,
            attempt: 1,
            intended_us: sent,
            sent_us: sent,
            done_us: sent + 500 + u64::from(b % 13) * 100,
            status: if outcome == Outcome::Won { 201 } else { 409 },
            outcome,
            resolved: None,
            order_id: id,
            error: None,
            accepted_us: None,
            shard: 0,
            session: 0,
        });
    }
    let truth = Truth {
        products: (0..products as usize)
            .map(|p| ProductTruth {
                id: format!("p{p}"),
                initial_stock: u64::from(stock),
                final_stock: Some(i64::from(stock - sold[p])),
                stores: 1,
            })
            .collect(),
        orders: Some(orders),
        reading: TruthReading { quiet: true, settled: true, reads: 2, ..TruthReading::default() },
    };
    let mut ledger =
        Ledger { products: (0..products).map(|p| format!("p{p}")).collect(), buyers: n, attempts, ..Ledger::default() };
    let started = Instant::now();
    let resolved = flashbench::resolve::resolve(&s, &mut ledger, &truth);
    let resolve_took = started.elapsed();
    let started = Instant::now();
    let checks = flashbench::verify::check_all(&flashbench::verify::Input::new(&s, &ledger, &truth));
    let check_took = started.elapsed();
    for c in &checks {
        println!("{:<24} {:<15} {}", c.name.name(), c.status.name(), c.detail);
    }
    println!(
        "{n} attempts, {} orders: resolve {:.2} s ({} indeterminate), check {:.2} s",
        truth.orders.as_ref().map_or(0, Vec::len),
        resolve_took.as_secs_f64(),
        resolved.total,
        check_took.as_secs_f64()
    );
}
