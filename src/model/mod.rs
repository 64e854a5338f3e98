//! The data at the bottom: what a run is made of and what it found, with the invariants of
//! the data themselves and nothing else. This layer imports nothing else of the crate;
//! everything above reads and writes these types.
//!
//! | module | owns |
//! |---|---|
//! | [`outcome`] | the outcome classes every attempt is sorted into, and their predicates |
//! | [`ledger`] | the ledger: attempts, stock samples, dropped arrivals, the deadline's cut, the epoch; what an open attempt turned out to do |
//! | [`truth`] | ground truth read from the stores: stock per product, the stored orders, how they were read |
//! | [`check`] | the invariant names, safety or liveness, and what one checker found |
//! | [`exit`] | the exit codes and their order of severity |
//! | [`threshold`] | the threshold syntax (`latency.won.p99 < 50ms`) and a threshold's result |
//! | [`catalogue`] | the reference server's backends and strategies, correct and broken; the per-buyer rate limit |
//! | [`figures`] | latency and skew percentiles, queued orders, error messages, fairness, memory |
//! | [`fault`] | the fault kinds, and each fault as it happened with what the load saw |
//! | [`verdict`] | expected outcome counts checked; what a signal cut short |
//! | [`baseline`] | the comparison with a baseline run |
//! | [`summary`] | `summary.json`: the public record of one run |
//! | [`shard`] | which shard of how many, its slice of buyers, what each shard did, its clock |

pub mod baseline;
pub mod catalogue;
pub mod check;
pub mod exit;
pub mod fault;
pub mod figures;
pub mod ledger;
pub mod outcome;
pub mod reference_api;
pub mod shard;
pub mod summary;
pub mod threshold;
pub mod truth;
pub mod verdict;

pub use baseline::{BaselineReport, Comparison};
pub use catalogue::{Backend, RateLimit, Strategy, MAX_ID_LEN, MAX_LIMIT, MAX_QUANTITY, MUTANTS};
pub use check::{Check, Invariant, Liveness, Status};
pub use fault::{Effect, FaultKind, FaultRecord};
pub use figures::{ErrorCount, Fairness, Indeterminate, LatencySummary, Queued, Resources, Side, SkewSummary};
pub use ledger::{Attempt, Dropped, Epoch, Ledger, Overrun, Resolution, StockSample};
pub use outcome::Outcome;
pub use shard::{ClockSync, ShardSpec, ShardSummary, Slice, MAX_SHARDS};
pub use summary::{
    Environment, InvariantSummary, ProductSummary, Repetition, RepetitionMetrics, StreamSummary, Summary, TargetInfo,
};
pub use threshold::ThresholdResult;
pub use truth::{Order, ProductTruth, Truth, TruthReading};
pub use verdict::{Interruption, OutcomeCheck};
