//! flashbench: load testing **and verification** for flash sales.
//!
//! A run follows one flow, and the modules follow it:
//!
//! | step | module | owns |
//! |---|---|---|
//! | 1 | [`scenario`] | YAML → typed [`scenario::Scenario`], errors with file, line and column |
//! | 2 | [`target`], [`server`], [`limits`] | the target behind one interface: the reference order server (axum, stores, strategies), started and seeded, or a user's own server over HTTP; the machine's socket budget |
//! | 3 | [`harness`] | goose users, one per buyer (or per slot of an open `rate` stream); burst gate, ramp or arrivals at a rate, dropped when no slot is free; outcome rules; queued orders polled to their status; the [`harness::Ledger`] of every attempt |
//! | 4 | [`truth`], [`resolve`] | the real final stock and orders, read from the stores once the target is quiet and the reads agree; what each indeterminate attempt turned out to do |
//! | 5 | [`verify`] | independent invariant checkers → pass / fail / not applicable with evidence |
//! | 6 | [`verdict`] | expected violations, outcome counts, thresholds, the deadline and the settling of truth → verdict and exit code |
//! | 7 | [`stats`], [`fairness`], [`timeseries`], [`report`] | latency percentiles, throughput, send skew; FCFS inversions and winners' ranks; per-interval figures over time; `summary.json`, the terminal summary |
//!
//! [`run`] strings the steps together for one scenario or a suite ([`repeat`] folds
//! repetitions, [`threshold`] and [`baseline`] are the CI gates); [`cli`] is the command line;
//! [`outcome`] holds the outcome classes every attempt is sorted into; [`interrupt`] turns the
//! first Ctrl-C or SIGTERM into a clean stop with a partial report (exit 130 or 143);
//! [`shard`] spreads one burst over several processes (past one process's open files, or over
//! machines with `run --shard i/N` and `merge`), released at one instant and judged as one run;
//! [`redact`] masks passwords in every URL flashbench prints or writes.
//!
//! While a run goes on, [`live`] holds its figures: the terminal view (`live::view`, coloured
//! by [`color`]), Prometheus metrics at `--metrics-listen` and pushed by
//! `--prometheus-remote-write`; the reference server exports its own at `/metrics`.
//!
//! Where a new piece goes: a target kind is a module under `target/` implementing
//! [`target::Target`] plus its arm in [`target::start`]; a truth source for `http` targets, a
//! module under `truth/` plus a field of `truth:`; a store is a module under `server/store/` plus its arm in
//! [`server::store::Backing`]; a broken strategy that wraps a correct one, a variant of
//! [`server::Strategy`] and its arm in `server/store/mutant.rs`; an invariant, a file under
//! `verify/` and a variant of [`verify::Invariant`].

/// `println!` to stdout that ignores a closed pipe ([`logging::stdout`]).
#[macro_export]
macro_rules! outln {
    ($($t:tt)*) => { $crate::logging::stdout(&format!("{}\n", format_args!($($t)*))) };
}

/// `print!` to stdout that ignores a closed pipe.
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => { $crate::logging::stdout(&format!($($t)*)) };
}

/// `eprintln!` through the bounded, non-blocking stderr sink ([`logging::line`]).
#[macro_export]
macro_rules! note {
    ($($t:tt)*) => { $crate::logging::line(format!($($t)*)) };
}

pub mod baseline;
pub mod cli;
pub mod clock;
pub mod color;
pub mod compare;
pub mod fairness;
pub mod faults;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod harness;
pub mod interrupt;
pub mod limits;
pub mod live;
pub mod logging;
pub mod model;
pub mod probe;
pub mod redact;
pub mod repeat;
pub mod report;
pub mod resolve;
pub mod resources;
pub mod run;
pub mod scenario;
pub mod server;
pub mod shard;
pub mod stats;
pub mod target;
pub mod text;
pub mod threshold;
pub mod timeseries;
pub mod truth;
pub mod verdict;
pub mod verify;

/// Ready tasks a worker runs before it polls for new I/O. The default (61) interleaves new
/// connections with requests in progress; 1024 drains the ready requests first, breadth
/// first, as the seed's single-threaded event loop did. A burst then meets the server the way
/// it met the seed design, and the server spends less time polling.
pub const EVENT_INTERVAL: u32 = 1024;

/// The tokio runtime flashbench runs on (the in-process servers included).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().event_interval(EVENT_INTERVAL).build()
}
