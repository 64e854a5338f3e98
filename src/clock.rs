//! The machine's clocks as the ledger and shards need them. `CLOCK_MONOTONIC` is one clock for every process
//! of a machine (std's `Instant` reads it), so shards on one machine share a clock exactly;
//! across machines only the wall clock is common, as far as NTP or PTP keeps the machines
//! together, and the kernel's own estimate of its error is reported with every part.

use crate::model::{ClockSync, Epoch};
use std::time::Duration;

/// `CLOCK_MONOTONIC` now, as a duration since the machine's boot.
pub fn mono_now() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// This boot of this machine (`/proc/sys/kernel/random/boot_id`): parts with the same one
/// share `CLOCK_MONOTONIC`.
pub fn boot_id() -> Option<String> {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok().map(|s| s.trim().to_string())
}

/// What the kernel says of its wall clock now (`adjtimex`, read only).
pub fn sync() -> ClockSync {
    // SAFETY: a zeroed timex is valid; with `modes` 0 adjtimex only reads, unprivileged.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: `tx` is a valid, writable timex.
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state < 0 {
        return ClockSync { source: "unknown".into(), synced: None, esterror_us: None, maxerror_us: None };
    }
    ClockSync {
        source: "adjtimex".into(),
        synced: Some(state != libc::TIME_ERROR),
        esterror_us: Some(tx.esterror.max(0) as u64),
        maxerror_us: Some(tx.maxerror.max(0) as u64),
    }
}

/// The epoch `at`, which is now or just past, on both clocks.
pub fn epoch_at(at: std::time::Instant) -> Epoch {
    let ago = at.elapsed();
    let unix = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    Epoch {
        unix_us: unix.saturating_sub(ago).as_micros() as u64,
        mono_us: mono_now().saturating_sub(ago).as_micros() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_monotonic_clock_is_the_one_instant_reads() {
        let a = mono_now();
        let i = std::time::Instant::now();
        let b = mono_now();
        assert!(b >= a && !a.is_zero());
        // Instant on Linux is CLOCK_MONOTONIC: the elapsed time agrees with it.
        let spent = i.elapsed();
        assert!(mono_now().saturating_sub(a) + Duration::from_millis(1) >= spent);
        assert!(boot_id().is_some_and(|id| id.len() >= 32));
        assert_ne!(sync().source, "", "adjtimex answered or said unknown");
    }
}
