//! A burst released from outside the process: a shard's gate does not open when its own buyers
//! are ready, but at the common instant every shard was given (by the parent process that
//! coordinates local shards, or by `--release-at` for shards on several machines).

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

/// Where a shard's release instant comes from.
pub trait ReleaseSignal: Send + Sync + std::fmt::Debug {
    /// The shard's buyers are ready (connected, requests prepared but their last byte), or
    /// its connect timeout has passed: `arrived` of `expected` are.
    fn ready(&self, arrived: usize, expected: usize);

    /// The common release instant on this process's clock, once it is known; `None` when
    /// there will be none (the run was stopped).
    fn release_at(&self) -> Pin<Box<dyn Future<Output = Option<Instant>> + Send + '_>>;
}
