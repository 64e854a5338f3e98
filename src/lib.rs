//! flashbench: load testing **and verification** for flash sales.
//!
//! # Layers
//!
//! The modules stand in layers, each importing only from its own layer or those below, never
//! from one above, and no two importing each other (`tests/layering.rs` holds this, reading
//! every `crate::` path). Bottom first:
//!
//! | layer | modules | owns |
//! |---|---|---|
//! | data | [`model`] | what a run is made of and what it found: outcomes, the ledger, ground truth, invariant names and check results, the threshold syntax, the catalogue of backends and strategies, the figures, the faults as data, the exit codes ([`model::exit::Exit`], ordered by severity) and verdicts, the reference API's answer table, `summary.json`; imports nothing else of the crate |
//! | helpers | [`clock`], [`color`], [`folder`], [`logging`], [`redact`], [`task`], [`text`] | the machine's clocks; colour; run folders and atomic writes; the stderr sink; masked URLs; boxed futures and abort-on-drop tasks; small text |
//! | scenario | [`scenario`] | YAML → typed [`scenario::Scenario`], errors with file, line and column; checks of layers above are passed in ([`scenario::load_checked`]) |
//! | the system and the load | [`server`], [`target`], [`harness`], [`truth`], [`faults`], [`live`], [`limits`], [`resources`], [`interrupt`] | the reference order server; the target behind one interface ([`target::Target`]); goose users, the burst gate, outcome rules, the ledger; ground truth read from the stores; the nemesis; live figures; the socket budget; memory and the machine; Ctrl-C and SIGTERM |
//! | the checker and the gates | [`resolve`], [`verify`], [`threshold`], [`baseline`], [`stats`], [`fairness`], [`timeseries`] | what each open attempt did; the invariants, Jepsen style, over one history per product; thresholds and baselines; percentiles, fairness, figures over time |
//! | run | [`run`] | one scenario end to end, by phase: options, prepare, execute, conclude, judge (the one place that decides the exit code), repetitions |
//! | report, shard | [`report`], [`shard`] | the reports rendered from a summary (HTML, PNG/SVG charts, JUnit, Markdown, the terminal); a burst spread over processes ([`run::Spread`]), `run --shard` parts and their merge |
//! | cli | [`cli`] | one file per command; wires what the layers below cannot know of each other (a run's report, the local shards a run may spread over) |
//!
//! # The flow of a run
//!
//! scenario ([`scenario::load`], its target compiled by [`run::load`]) → target started and
//! seeded ([`target::start`]) → the load ([`harness::drive`], beside [`faults::run`]) → ground
//! truth once the target is quiet ([`truth`]) → open attempts resolved ([`resolve`]) →
//! invariants checked ([`verify::check_all`]) → thresholds, expected counts, untested faults,
//! the truth reading and an interruption judged together ([`run::judge`]) → `summary.json` and
//! the reports ([`report::write_run`], called by [`cli`]).
//!
//! While a run goes on, [`live`] holds its figures: the terminal view (`live::view`, coloured
//! by [`color`]), Prometheus metrics at `--metrics-listen` and pushed by
//! `--prometheus-remote-write`; the reference server exports its own at `/metrics`.
//!
//! # Where a change goes
//!
//! See the README's Development section for the files each kind of change touches.

// No function of the crate over 80 lines (`clippy.toml`); CI denies warnings.
#![warn(clippy::too_many_lines)]

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
pub mod fairness;
pub mod faults;
#[cfg(test)]
pub(crate) mod fixtures;
pub mod folder;
pub mod harness;
pub mod interrupt;
pub mod limits;
pub mod live;
pub mod logging;
pub mod model;
pub mod redact;
pub mod report;
pub mod resolve;
pub mod resources;
pub mod run;
pub mod scenario;
pub mod server;
pub mod shard;
pub mod stats;
pub mod target;
pub mod task;
pub mod text;
pub mod threshold;
pub mod timeseries;
pub mod truth;
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
