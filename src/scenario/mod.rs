//! Scenario: the YAML file a user writes, as typed Rust values.
//!
//! A scenario says what is for sale (`products`, or a `catalogue` file), who buys it
//! (`buyers`), how they arrive (`arrival`), which server runs the sale (`server`) and what
//! the run must show (`expect`). [`load`] turns a file into a checked [`Scenario`]; every
//! error it returns names the file, line and column. Unknown fields are errors.

mod duration;
pub mod faults;
mod load;
mod locate;
pub mod matrix;
pub mod stream;
pub mod target;
mod types;

pub use duration::{parse_duration, HumanDuration, MAX_DURATION};
pub use faults::{Fault, StallMode, Trigger};
pub use load::{
    load, load_checked, load_products, load_str, load_str_checked, validate, MoreChecks, Problem, ScenarioError,
    MAX_BUYERS, MAX_INSTANCES,
};
pub use locate::Seg;
pub use matrix::{Design, Matrix};
pub use stream::{Rate, Stage, Stream};
pub use types::*;

/// The JSON Schema of the scenario format, pretty-printed (`flashbench schema`).
pub fn schema_json() -> String {
    serde_json::to_string_pretty(&schemars::schema_for!(Scenario)).unwrap_or_default()
}
