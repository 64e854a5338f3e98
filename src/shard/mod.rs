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
pub mod distributed;
pub mod local;
pub mod merge;
pub mod part;
pub mod protocol;
pub mod release;

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
    fn the_run_tag_is_the_same_for_the_same_inputs_only() {
        let a = shared_run_tag("name: x", "2026-12-01T10:00:00Z");
        assert_eq!(a, shared_run_tag("name: x", "2026-12-01T10:00:00Z"));
        assert_ne!(a, shared_run_tag("name: x", "2026-12-01T10:00:01Z"));
        assert_eq!(a.len(), 8);
    }
}
