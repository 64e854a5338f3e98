//! What the load saw while each fault lasted: the attempts sent from its start to one request
//! timeout after its end, by how they ended, and (for kills) the acknowledged orders the store
//! no longer holds.

use crate::model::FaultKind;
use crate::model::Ledger;
use crate::model::Outcome;
use crate::model::{Effect, FaultRecord};
use std::time::Duration;

/// Puts `records` (read on `CLOCK_MONOTONIC`) on the ledger's clock and fills in their
/// effects; `orders_lost` is `acked_orders_durable`'s count of missing acknowledged orders,
/// shown on the kills (the faults that can lose them).
pub fn effects(records: &mut [FaultRecord], ledger: &Ledger, request_timeout: Duration, orders_lost: Option<u64>) {
    if let Some(epoch) = ledger.epoch {
        for r in records.iter_mut() {
            r.start_us = r.start_us.map(|t| t.saturating_sub(epoch.mono_us));
            r.end_us = r.end_us.map(|t| t.saturating_sub(epoch.mono_us));
        }
    }
    let tail = request_timeout.as_micros() as u64;
    for r in records.iter_mut() {
        let (Some(start), Some(end)) = (r.start_us, r.end_us) else { continue };
        let mut e = Effect::default();
        for a in ledger.attempts.iter().filter(|a| a.sent_us >= start && a.sent_us <= end.saturating_add(tail)) {
            e.attempts += 1;
            match a.outcome {
                Outcome::Error => e.failed += 1,
                Outcome::Timeout => e.timeouts += 1,
                Outcome::NotSent => e.not_sent += 1,
                Outcome::Won | Outcome::Accepted => e.won += 1,
                _ => {}
            }
        }
        if matches!(r.kind, FaultKind::KillInstance | FaultKind::KillStore) {
            e.orders_lost = orders_lost;
        }
        r.effect = Some(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::{attempt, ledger};

    #[test]
    fn counts_the_attempts_sent_while_a_fault_lasted() {
        let ledger = ledger(vec![
            attempt(0, Outcome::Won, 900),
            attempt(1, Outcome::Error, 1_000),
            attempt(2, Outcome::Timeout, 1_500),
            attempt(3, Outcome::Won, 2_400),
            attempt(4, Outcome::SoldOut, 3_100),
            attempt(5, Outcome::NotSent, 1_200),
        ]);
        let mut records = vec![FaultRecord {
            kind: FaultKind::KillInstance,
            target: "instance 0".into(),
            start_us: Some(1_000),
            end_us: Some(2_000),
            detail: None,
            error: None,
            effect: None,
        }];
        effects(&mut records, &ledger, Duration::from_micros(500), Some(2));
        let e = records[0].effect.clone().expect("an effect");
        assert_eq!(e, Effect { attempts: 4, failed: 1, timeouts: 1, not_sent: 1, won: 1, orders_lost: Some(2) });
    }
}
