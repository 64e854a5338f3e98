//! Shards as data: which shard of how many, the buyers each drives, and what each did as the
//! merged summary reports it (its slice, lateness, skew and clock).

use super::SkewSummary;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which shard of how many: `--shard i/N`, `i` from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSpec {
    pub index: u32,
    pub of: u32,
}

/// Most shards one run may have.
pub const MAX_SHARDS: u32 = 1024;

impl FromStr for ShardSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (i, n) = text.split_once('/').ok_or(format!("{text:?}: expected INDEX/COUNT, e.g. 0/4"))?;
        let index: u32 = i.trim().parse().map_err(|_| format!("{text:?}: {i:?} is not a shard index"))?;
        let of: u32 = n.trim().parse().map_err(|_| format!("{text:?}: {n:?} is not a shard count"))?;
        if of == 0 || of > MAX_SHARDS {
            return Err(format!("{text:?}: the shard count must be 1 to {MAX_SHARDS}"));
        }
        if index >= of {
            return Err(format!("{text:?}: shards are numbered 0 to {} (from 0)", of - 1));
        }
        Ok(ShardSpec { index, of })
    }
}

impl fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.of)
    }
}

/// The buyers one shard drives: `first..end` of the scenario's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    pub shard: u32,
    pub of: u32,
    pub first: u32,
    pub end: u32,
}

impl Slice {
    /// Shard `spec`'s slice of `buyers`: contiguous, the sizes differing by one at most.
    pub fn of(spec: ShardSpec, buyers: u32) -> Slice {
        let bound = |i: u32| (u64::from(i) * u64::from(buyers) / u64::from(spec.of.max(1))) as u32;
        Slice { shard: spec.index, of: spec.of, first: bound(spec.index), end: bound(spec.index + 1) }
    }

    pub fn len(&self) -> u32 {
        self.end - self.first
    }

    pub fn is_empty(&self) -> bool {
        self.end == self.first
    }
}

/// One shard, as the merged summary reports it (`summary.json` `shards[]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardSummary {
    pub shard: u32,
    /// Its buyers: `[first, end)`.
    pub buyers: [u32; 2],
    pub host: String,
    pub pid: u32,
    pub attempts: u64,
    /// How late its gate began writing after the common release instant, µs.
    #[serde(default)]
    pub late_us: Option<u64>,
    /// Its buyers' send skew against the common release instant.
    pub send_skew_us: SkewSummary,
    /// Where its ledger's 0 lies on the merged clock, µs (the shift applied to its times).
    pub offset_us: u64,
    /// Which clock put it on the merged one: `monotonic` (one machine) or `wall`.
    pub clock_used: String,
    /// The kernel's estimate of its machine's wall-clock error.
    pub clock: ClockSync,
    pub connect_failures: u32,
    pub late_buyers: u32,
    #[serde(default)]
    pub peak_rss_bytes: Option<u64>,
}

/// What the kernel says of its wall clock (`adjtimex`, read only): whether NTP or PTP keeps it
/// synchronised, and its estimated and maximum error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockSync {
    /// Where the figures come from: `adjtimex`, or `unknown`.
    pub source: String,
    /// Whether the kernel considers the clock synchronised (`false`: nothing disciplines it,
    /// so other machines' shards may be off by any amount).
    pub synced: Option<bool>,
    /// The kernel's estimated error of the wall clock, µs.
    pub esterror_us: Option<u64>,
    /// Its maximum error, µs.
    pub maxerror_us: Option<u64>,
}

impl ClockSync {
    /// One line for people: `synchronised, estimated error 0.5 ms (at most 16 ms)`.
    pub fn describe(&self) -> String {
        let ms = |us: u64| format!("{:.1} ms", us as f64 / 1000.0);
        match (self.synced, self.esterror_us, self.maxerror_us) {
            (Some(true), Some(est), Some(max)) => {
                format!("synchronised, estimated error {} (at most {})", ms(est), ms(max))
            }
            (Some(false), ..) => "NOT synchronised (no NTP/PTP): its offset from other machines is unknown".into(),
            _ => "unknown".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_cover_every_buyer_once() {
        for (buyers, of) in [(100_000, 6), (7, 4), (3, 4), (1, 1), (1500, 4)] {
            let slices: Vec<Slice> = (0..of).map(|index| Slice::of(ShardSpec { index, of }, buyers)).collect();
            assert_eq!(slices[0].first, 0);
            assert_eq!(slices.last().map(|s| s.end), Some(buyers));
            for w in slices.windows(2) {
                assert_eq!(w[0].end, w[1].first, "contiguous");
            }
            let (min, max) = (slices.iter().map(Slice::len).min(), slices.iter().map(Slice::len).max());
            assert!(max.zip(min).is_some_and(|(a, b)| a - b <= 1), "{buyers}/{of}: {slices:?}");
        }
    }

    #[test]
    fn shard_specs_parse_and_refuse_nonsense() {
        assert_eq!("2/4".parse::<ShardSpec>(), Ok(ShardSpec { index: 2, of: 4 }));
        assert!("4/4".parse::<ShardSpec>().is_err_and(|e| e.contains("0 to 3")));
        assert!("0/0".parse::<ShardSpec>().is_err_and(|e| e.contains("1 to 1024")));
        assert!("1".parse::<ShardSpec>().is_err_and(|e| e.contains("INDEX/COUNT")));
        assert!("a/2".parse::<ShardSpec>().is_err_and(|e| e.contains("not a shard index")));
    }
}
