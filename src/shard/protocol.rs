//! What a local parent and its `flashbench shard` children say to each other: one JSON object
//! per line, the parent on the child's stdin, the child on a copy of its stdout taken before
//! goose silences stdout.

use crate::model::exit::Exit;
use serde::{Deserialize, Serialize};

/// From a shard to its parent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FromShard {
    /// Its buyers are connected, their requests written but their last byte (or its connect
    /// timeout passed): `arrived` of `expected`.
    Ready { arrived: u64, expected: u64 },
    /// Its figures so far (cumulative), for the parent's live view.
    Progress {
        connected: u64,
        done: u64,
        in_flight: u64,
        /// Attempts by outcome, in `Outcome::ALL` order.
        counts: Vec<u64>,
        /// Stock per product as its monitor last read it (shard 0 only).
        stock: Vec<Option<i64>>,
    },
    /// Its part is written (`exit_code` 0, or 130/143 when it was stopped), or it failed (4).
    Done { exit_code: Exit, error: Option<String> },
}

/// From the parent to a shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToShard {
    /// Release at this `CLOCK_MONOTONIC` instant, ns (the same clock in every process here).
    Release { at_mono_ns: u64 },
    /// Stop as after Ctrl-C (`SIGINT`) or SIGTERM (`SIGTERM`): no release if there was none,
    /// attempts in flight drained, the part written.
    Stop { signal: String },
}

/// One message as a line.
pub fn line<T: Serialize>(message: &T) -> String {
    let mut text = serde_json::to_string(message).unwrap_or_default();
    text.push('\n');
    text
}
