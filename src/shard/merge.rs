//! Parts → one run: checks that the parts belong together and that none is missing, puts
//! every part on one clock (the machine's `CLOCK_MONOTONIC` when all parts come from one boot
//! of one machine, the wall clock otherwise), and joins their ledgers. What each shard did
//! (its slice, its lateness, its own send skew, its clock) is kept for the summary.

use super::part::ReadPart;
use crate::model::exit::Exit;
use crate::model::{Ledger, Overrun, ShardSummary};
use crate::stats;

/// Why parts cannot be merged.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum MergeError {
    /// The parts are not one run's (exit 2).
    #[error("{0}")]
    Mismatch(String),
    /// A shard is missing or did not run to the end (exit 4: its environment failed).
    #[error("{0}")]
    Incomplete(String),
}

/// The parts in shard order, once they are checked to be every part of one run, each once,
/// and each finished (or cut by the run's stop).
fn complete(parts: &[ReadPart], stopped: bool) -> Result<Vec<&ReadPart>, MergeError> {
    let first = parts.first().ok_or(MergeError::Mismatch("no part to merge".into()))?;
    let of = first.part.of;
    for p in parts {
        let same = p.part.of == of
            && p.part.run_tag == first.part.run_tag
            && p.part.release_at == first.part.release_at
            && p.part.total_buyers == first.part.total_buyers
            && p.scenario_yaml == first.scenario_yaml;
        if !same {
            return Err(MergeError::Mismatch(format!(
                "{} and {} are not parts of one run (their scenario, shard count, buyers, run tag or release \
                 instant differ)",
                first.dir.display(),
                p.dir.display()
            )));
        }
    }
    let mut by_index: Vec<Option<&ReadPart>> = vec![None; of as usize];
    for p in parts {
        match by_index.get_mut(p.part.shard as usize) {
            Some(slot @ None) => *slot = Some(p),
            Some(Some(other)) => {
                return Err(MergeError::Mismatch(format!(
                    "shard {}/{of} is given twice: {} and {}",
                    p.part.shard,
                    other.dir.display(),
                    p.dir.display()
                )))
            }
            None => return Err(MergeError::Mismatch(format!("{}: shard {} of {of}?", p.dir.display(), p.part.shard))),
        }
    }
    let missing: Vec<String> =
        (0..of).filter(|i| by_index[*i as usize].is_none()).map(|i| format!("{i}/{of}")).collect();
    if !missing.is_empty() {
        return Err(MergeError::Incomplete(format!("shard {} missing: no part given for it", missing.join(", "))));
    }
    let parts: Vec<&ReadPart> = by_index.into_iter().flatten().collect();
    let cut_by_the_stop = |code: Exit| stopped && code.is_stop();
    if let Some(failed) = parts.iter().find(|p| p.part.exit_code != Exit::Pass && !cut_by_the_stop(p.part.exit_code)) {
        let p = &failed.part;
        return Err(MergeError::Incomplete(format!(
            "shard {}/{of} (pid {} on {}, buyers {}..{}) did not finish its load: exit {}{}",
            p.shard,
            p.pid,
            p.host,
            p.buyers[0],
            p.buyers[1],
            p.exit_code,
            p.error.as_deref().map(|e| format!(": {e}")).unwrap_or_default()
        )));
    }
    Ok(parts)
}

/// Merges the parts of one run into one ledger on one clock.
/// `stopped`: the run was interrupted, so parts cut by the same stop (exit 130/143) belong.
pub fn merge(parts: &[ReadPart], stopped: bool) -> Result<(Ledger, Vec<ShardSummary>), MergeError> {
    let parts = complete(parts, stopped)?;
    // One boot of one machine: CLOCK_MONOTONIC is exact. Otherwise the wall clocks.
    let one_machine = parts.iter().all(|p| p.part.boot_id.is_some() && p.part.boot_id == parts[0].part.boot_id);
    let origin = |p: &ReadPart| if one_machine { p.part.epoch.mono_us } else { p.part.epoch.unix_us };
    let base = parts.iter().map(|p| origin(p)).min().unwrap_or(0);
    let mut merged = Ledger {
        products: parts[0].ledger.products.clone(),
        buyers: parts[0].part.total_buyers,
        epoch: parts.iter().find(|p| origin(p) == base).and_then(|p| p.ledger.epoch),
        ..Ledger::default()
    };
    let mut shards = Vec::with_capacity(parts.len());
    for p in &parts {
        let shift = origin(p) - base;
        let mut ledger = p.ledger.clone();
        for a in &mut ledger.attempts {
            a.shard = p.part.shard;
            a.intended_us += shift;
            a.sent_us += shift;
            a.done_us += shift;
            a.accepted_us = a.accepted_us.map(|t| t + shift);
        }
        ledger.stock_samples.iter_mut().for_each(|s| s.t_us += shift);
        shards.push(ShardSummary {
            shard: p.part.shard,
            buyers: p.part.buyers,
            host: p.part.host.clone(),
            pid: p.part.pid,
            attempts: ledger.attempts.len() as u64,
            late_us: p.part.late_us,
            send_skew_us: stats::send_skew(&ledger),
            offset_us: shift,
            clock_used: if one_machine { "monotonic" } else { "wall" }.into(),
            clock: p.part.clock.clone(),
            connect_failures: p.part.connect_failures,
            late_buyers: p.part.late_buyers,
            peak_rss_bytes: p.part.peak_rss_bytes,
        });
        // Every shard released at one instant; on the merged clock the earliest reading of it.
        let release = p.part.release_us.map(|r| r + shift);
        merged.release_us = match (merged.release_us, release) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        merged.connect_failures += p.part.connect_failures;
        merged.late_buyers += p.part.late_buyers;
        merged.reconnected += p.part.reconnected;
        merged.early_answers += p.part.early_answers;
        merged.overrun = match (merged.overrun, p.part.overrun) {
            (Some(a), Some(b)) => Some(Overrun {
                deadline_ms: a.deadline_ms.max(b.deadline_ms),
                cut_attempts: a.cut_attempts + b.cut_attempts,
                unfinished_buyers: a.unfinished_buyers + b.unfinished_buyers,
            }),
            (a, b) => a.or(b),
        };
        merged.attempts.extend(ledger.attempts);
        merged.stock_samples.extend(ledger.stock_samples);
    }
    merged.attempts.sort_by_key(|a| (a.sent_us, a.buyer, a.attempt));
    merged.stock_samples.sort_by_key(|s| s.t_us);
    Ok((merged, shards))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Outcome;
    use crate::model::{Attempt, Epoch};
    use crate::shard::part::{Part, PART_VERSION};

    fn part(shard: u32, of: u32, epoch: Epoch, boot: &str, sent: &[u64]) -> ReadPart {
        let attempts = sent
            .iter()
            .enumerate()
            .map(|(i, s)| Attempt {
                repetition: 1,
                buyer: shard * 100 + i as u32,
                product: 0,
                instance: 0,
                attempt: 1,
                intended_us: 1_000,
                sent_us: *s,
                done_us: s + 500,
                status: 409,
                outcome: Outcome::SoldOut,
                resolved: None,
                order_id: None,
                error: None,
                accepted_us: None,
                shard: 0,
                session: 0,
            })
            .collect();
        ReadPart {
            dir: format!("part-{shard}").into(),
            part: Part {
                version: PART_VERSION,
                flashbench_version: "t".into(),
                scenario: "s".into(),
                shard,
                of,
                buyers: [shard * 100, shard * 100 + sent.len() as u32],
                total_buyers: of * 100,
                run_tag: "tag".into(),
                release_at: None,
                started_at: String::new(),
                epoch,
                boot_id: Some(boot.into()),
                release_us: Some(1_000),
                late_us: Some(40),
                clock: crate::clock::sync(),
                connect_failures: 1,
                late_buyers: 0,
                reconnected: 0,
                early_answers: 0,
                overrun: None,
                host: "h".into(),
                pid: 1,
                peak_rss_bytes: None,
                duration_ms: 1,
                exit_code: Exit::Pass,
                error: None,
            },
            ledger: Ledger { attempts, epoch: Some(epoch), ..Ledger::default() },
            scenario_yaml: "name: s".into(),
        }
    }

    #[test]
    fn parts_of_one_machine_meet_on_its_monotonic_clock() {
        // Shard 1 started 250 µs later by CLOCK_MONOTONIC; its wall clock says otherwise.
        let a = part(0, 2, Epoch { unix_us: 9_000_000, mono_us: 5_000 }, "boot", &[1_100]);
        let b = part(1, 2, Epoch { unix_us: 1_000, mono_us: 5_250 }, "boot", &[1_100, 1_200]);
        let (ledger, shards) = merge(&[b, a], false).expect("merged");
        let sent: Vec<(u32, u64)> = ledger.attempts.iter().map(|x| (x.shard, x.sent_us)).collect();
        assert_eq!(sent, [(0, 1_100), (1, 1_350), (1, 1_450)], "shifted by 250 µs, sorted by send");
        assert_eq!(ledger.release_us, Some(1_000), "the earliest reading of the common instant");
        assert_eq!(ledger.connect_failures, 2);
        assert_eq!((shards[0].offset_us, shards[1].offset_us), (0, 250));
        assert!(shards.iter().all(|s| s.clock_used == "monotonic"));
    }

    #[test]
    fn parts_of_several_machines_meet_on_the_wall_clock() {
        let a = part(0, 2, Epoch { unix_us: 2_000_000, mono_us: 1 }, "one", &[1_100]);
        let b = part(1, 2, Epoch { unix_us: 2_000_300, mono_us: 99_999 }, "two", &[1_100]);
        let (ledger, shards) = merge(&[a, b], false).expect("merged");
        assert_eq!(ledger.attempts.iter().map(|x| x.sent_us).collect::<Vec<_>>(), [1_100, 1_400]);
        assert!(shards.iter().all(|s| s.clock_used == "wall"));
    }

    #[test]
    fn missing_foreign_and_failed_parts_are_refused() {
        let e = Epoch { unix_us: 1, mono_us: 1 };
        let missing = merge(&[part(0, 3, e, "b", &[1]), part(2, 3, e, "b", &[1])], false);
        assert_eq!(missing.map(|_| ()), Err(MergeError::Incomplete("shard 1/3 missing: no part given for it".into())));
        let mut foreign = part(1, 2, e, "b", &[1]);
        foreign.part.run_tag = "other".into();
        assert!(matches!(merge(&[part(0, 2, e, "b", &[1]), foreign], false), Err(MergeError::Mismatch(_))));
        let mut failed = part(1, 2, e, "b", &[1]);
        failed.part.exit_code = Exit::Environment;
        failed.part.error = Some("cannot reach the target".into());
        let err = merge(&[part(0, 2, e, "b", &[1]), failed], false).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("shard 1/2") && err.contains("exit 4: cannot reach the target"), "{err}");
    }
}
