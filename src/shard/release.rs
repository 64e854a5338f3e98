//! A release at a wall-clock instant (`--release-at`): every shard, on every machine, opens
//! its gate when its own wall clock reads that instant. How close they are is bounded by how
//! well the machines' clocks agree ([`crate::clock::ClockSync`]).

use crate::harness::ReleaseSignal;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// How long before the instant the wall clock is read again (it may have been slewed since).
const REREAD_BEFORE: Duration = Duration::from_millis(100);

/// The `Instant` at which this machine's wall clock reads `t` (in the past when it has).
pub fn instant_of(t: SystemTime) -> Instant {
    let (now, wall) = (Instant::now(), SystemTime::now());
    match t.duration_since(wall) {
        Ok(ahead) => now + ahead,
        Err(behind) => now.checked_sub(behind.duration()).unwrap_or(now),
    }
}

/// Releases at a wall-clock instant.
#[derive(Debug)]
pub struct WallClockRelease {
    pub at: SystemTime,
    /// When the shard's buyers were ready, and how many of how many.
    pub ready: Mutex<Option<(Instant, usize, usize)>>,
}

impl WallClockRelease {
    pub fn new(at: SystemTime) -> WallClockRelease {
        WallClockRelease { at, ready: Mutex::new(None) }
    }
}

impl ReleaseSignal for WallClockRelease {
    fn ready(&self, arrived: usize, expected: usize) {
        *self.ready.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), arrived, expected));
        if arrived < expected {
            log::warn!("{arrived} of {expected} buyers connected by the connect timeout; the rest miss the release");
        }
    }

    fn release_at(&self) -> Pin<Box<dyn Future<Output = Option<Instant>> + Send + '_>> {
        Box::pin(async move {
            let first = instant_of(self.at);
            if let Some(before) = first.checked_sub(REREAD_BEFORE) {
                tokio::time::sleep_until(before.into()).await;
            }
            Some(instant_of(self.at))
        })
    }
}

/// `--release-at`: an RFC 3339 instant with its offset (`2026-12-01T10:00:00.000Z`).
pub fn parse_release_at(text: &str) -> Result<SystemTime, String> {
    let t = chrono::DateTime::parse_from_rfc3339(text.trim())
        .map_err(|e| format!("{text:?}: not an RFC 3339 instant ({e}); write e.g. 2026-12-01T10:00:00.000Z"))?;
    let ns = t.timestamp_nanos_opt().filter(|n| *n >= 0).ok_or(format!("{text:?}: out of range"))?;
    Ok(SystemTime::UNIX_EPOCH + Duration::from_nanos(ns as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_instants_parse_with_their_offset() {
        let a = parse_release_at("2026-12-01T10:00:00.250Z").expect("utc");
        let b = parse_release_at("2026-12-01T11:00:00.250+01:00").expect("offset");
        assert_eq!(a, b);
        assert_eq!(a.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.subsec_millis()).ok(), Some(250));
        assert!(parse_release_at("2026-12-01 10:00").is_err_and(|e| e.contains("RFC 3339")));
    }

    #[test]
    fn wall_instants_map_onto_the_monotonic_clock() {
        let ahead = instant_of(SystemTime::now() + Duration::from_secs(5));
        let left = ahead.saturating_duration_since(Instant::now());
        assert!(left > Duration::from_millis(4900) && left <= Duration::from_secs(5), "{left:?}");
        let past = instant_of(SystemTime::now() - Duration::from_secs(1));
        assert!(past < Instant::now());
    }
}
