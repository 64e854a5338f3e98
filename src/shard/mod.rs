//! Shards: one burst driven by several processes, on one machine or many, released at one
//! instant and judged as one run.
//!
//! | module | owns |
//! |---|---|
//! | [`clock`] | the machine's clocks: `CLOCK_MONOTONIC`, the boot id, the kernel's estimate of the wall clock's error |
//! | [`release`] | a release at a wall-clock instant (`--release-at`) |
//! | [`part`] | a shard's partial run folder: `part.json` beside its `ledger.csv` |
//! | [`merge`] | parts → one ledger on one clock, with each shard's figures |
//! | [`distributed`] | `run --shard i/N --release-at T` (one part) and `merge DIR...` (the verdict) |
//! | [`local`], [`child`], [`protocol`] | shards on one machine: the parent that starts `flashbench shard` children, releases them at one instant and merges their parts; the child; what they say |
//!
//! Buyers are split in contiguous slices ([`Slice::of`]): buyer ids, products and instances
//! stay those of the whole scenario, so the parts together are exactly the scenario's buyers.

pub mod child;
pub mod clock;
pub mod distributed;
pub mod local;
pub mod merge;
pub mod part;
pub mod protocol;
pub mod release;

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

/// A run tag every shard derives alike from what they share (the scenario and the release
/// instant), so `{run}` and idempotency keys are the same as one process would make them.
pub fn shared_run_tag(scenario_yaml: &str, release_at: &str) -> String {
    // FNV-1a: stable across builds and machines, which is all this needs.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in scenario_yaml.bytes().chain([0]).chain(release_at.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{:08x}", (h >> 32) as u32 ^ h as u32)
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

    #[test]
    fn the_run_tag_is_the_same_for_the_same_inputs_only() {
        let a = shared_run_tag("name: x", "2026-12-01T10:00:00Z");
        assert_eq!(a, shared_run_tag("name: x", "2026-12-01T10:00:00Z"));
        assert_ne!(a, shared_run_tag("name: x", "2026-12-01T10:00:01Z"));
        assert_eq!(a.len(), 8);
    }
}
