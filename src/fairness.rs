//! Fairness, measured: did the sale serve buyers first come, first served?
//!
//! - A buyer's **arrival rank** (1 = first) orders the buyers of one product by their first
//!   attempt's intended instant (its arrival slot in a ramp or a stream), then by when it was
//!   sent (in a burst every buyer is meant to start at the release, so the write order
//!   decides).
//! - An **FCFS inversion** is a pair of buyers of one product where the first was refused
//!   (`busy` or `sold_out`, and never won) with an answer that came before the second one's
//!   winning request was even sent: the server turned someone away and then sold to a later
//!   buyer. Causally ordered, so concurrency cannot excuse it.
//! - The **worst rank of a winner**, over the products where some buyer was refused (where
//!   there was contention): with perfect FCFS and stock for `n` orders it is `n`.
//!
//! Each repetition counts on its own clock; inversions add up, the worst rank is the worst.

use crate::model::Outcome;
use crate::model::{Attempt, Fairness, Ledger};

use std::collections::{BTreeMap, HashMap, HashSet};

/// The rank key of a buyer: its first attempt's (intended, sent) instants.
pub fn rank_key(a: &Attempt) -> (u64, u64) {
    (a.intended_us, a.sent_us)
}

/// A buyer's place in its product's queue: (rank key, buyer).
type Queued = ((u64, u64), u32);

/// Each buyer's arrival rank within its product (1 = first), for one repetition's attempts.
pub fn arrival_ranks<'a>(attempts: impl Iterator<Item = &'a Attempt>) -> HashMap<u32, u64> {
    let mut by_product: BTreeMap<u32, Vec<Queued>> = BTreeMap::new();
    for a in attempts.filter(|a| a.attempt == 1) {
        by_product.entry(a.product).or_default().push((rank_key(a), a.buyer));
    }
    let mut out = HashMap::new();
    for (_, mut buyers) in by_product {
        buyers.sort_unstable();
        out.extend(buyers.iter().enumerate().map(|(i, (_, b))| (*b, i as u64 + 1)));
    }
    out
}

/// The fairness of a ledger (every repetition).
pub fn measure(ledger: &Ledger) -> Fairness {
    let mut reps: BTreeMap<u32, Vec<&Attempt>> = BTreeMap::new();
    for a in &ledger.attempts {
        reps.entry(a.repetition).or_default().push(a);
    }
    let mut out = Fairness::default();
    for attempts in reps.values() {
        let f = of_repetition(attempts);
        out.inversions += f.inversions;
        out.worst_rank_of_a_winner = out.worst_rank_of_a_winner.max(f.worst_rank_of_a_winner);
    }
    out
}

fn of_repetition(attempts: &[&Attempt]) -> Fairness {
    let winners: HashSet<u32> = attempts.iter().filter(|a| a.outcome == Outcome::Won).map(|a| a.buyer).collect();
    let ranks = arrival_ranks(attempts.iter().copied());
    let contended: HashSet<u32> =
        attempts.iter().filter(|a| matches!(a.outcome, Outcome::Busy | Outcome::SoldOut)).map(|a| a.product).collect();
    let worst = attempts
        .iter()
        .filter(|a| a.outcome == Outcome::Won && contended.contains(&a.product))
        .filter_map(|a| ranks.get(&a.buyer))
        .copied()
        .max()
        .unwrap_or(0);
    // Per product: when each refused-and-never-won buyer was last refused, sorted.
    let mut refused: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    let mut last_refusal: HashMap<(u32, u32), u64> = HashMap::new();
    for a in attempts.iter().filter(|a| matches!(a.outcome, Outcome::Busy | Outcome::SoldOut)) {
        if !winners.contains(&a.buyer) {
            let t = last_refusal.entry((a.product, a.buyer)).or_insert(0);
            *t = (*t).max(a.done_us);
        }
    }
    for ((product, _), t) in last_refusal {
        refused.entry(product).or_default().push(t);
    }
    refused.values_mut().for_each(|v| v.sort_unstable());
    let mut inversions = 0u64;
    for w in attempts.iter().filter(|a| a.outcome == Outcome::Won) {
        if let Some(times) = refused.get(&w.product) {
            inversions += times.partition_point(|&t| t < w.sent_us) as u64;
        }
    }
    Fairness { inversions, worst_rank_of_a_winner: worst }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(buyer: u32, intended: u64, sent: u64, done: u64, outcome: Outcome) -> Attempt {
        Attempt { intended_us: intended, done_us: done, ..crate::fixtures::attempt(buyer, outcome, sent) }
    }

    #[test]
    fn first_come_first_served_has_no_inversion() {
        let l = Ledger {
            attempts: vec![
                at(0, 0, 1, 5, Outcome::Won),
                at(1, 10, 11, 15, Outcome::Won),
                at(2, 20, 21, 25, Outcome::SoldOut),
                at(3, 30, 31, 35, Outcome::SoldOut),
            ],
            ..Ledger::default()
        };
        assert_eq!(measure(&l), Fairness { inversions: 0, worst_rank_of_a_winner: 2 });
    }

    #[test]
    fn a_refusal_before_a_later_buyers_win_is_an_inversion() {
        let l = Ledger {
            attempts: vec![
                at(0, 0, 1, 5, Outcome::SoldOut),
                at(1, 2, 3, 4, Outcome::Busy),
                at(2, 10, 11, 15, Outcome::Won),
                // Sent before buyer 0's refusal came: concurrent, not an inversion for it.
                at(3, 3, 4, 30, Outcome::Won),
            ],
            ..Ledger::default()
        };
        // Buyer 2's win (sent at 11) follows both refusals (5 and 4); buyer 3's (sent at 4)
        // follows none (4 is not before 4).
        assert_eq!(measure(&l), Fairness { inversions: 2, worst_rank_of_a_winner: 4 });
    }

    #[test]
    fn a_buyer_who_won_on_a_retry_was_not_wronged() {
        let mut retry = at(0, 6, 7, 8, Outcome::Won);
        retry.attempt = 2;
        let l = Ledger {
            attempts: vec![at(0, 0, 1, 2, Outcome::Busy), retry, at(1, 5, 9, 10, Outcome::Won)],
            ..Ledger::default()
        };
        assert_eq!(measure(&l).inversions, 0);
    }
}
