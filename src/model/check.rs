//! The invariant names (public interface: `summary.json`, scenario `expect`), their kinds,
//! and what one checker found. The checkers are `verify`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The invariant names: public interface (`summary.json`, scenario `expect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Invariant {
    NoOversell,
    NoUndersell,
    StockConserved,
    StockNeverNegative,
    AckedOrdersDurable,
    NoPhantomOrders,
    PerBuyerLimit,
    NoWinAfterSoldOut,
    EveryBuyerAnswered,
    TargetAliveAfterRun,
}

/// Safety: nothing bad happened to the stock and the orders. Liveness: the target kept answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Safety,
    Liveness,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Safety => "safety",
            Kind::Liveness => "liveness",
        }
    }
}

impl Invariant {
    pub const ALL: [Invariant; 10] = [
        Invariant::NoOversell,
        Invariant::NoUndersell,
        Invariant::StockConserved,
        Invariant::StockNeverNegative,
        Invariant::AckedOrdersDurable,
        Invariant::NoPhantomOrders,
        Invariant::PerBuyerLimit,
        Invariant::NoWinAfterSoldOut,
        Invariant::EveryBuyerAnswered,
        Invariant::TargetAliveAfterRun,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Invariant::NoOversell => "no_oversell",
            Invariant::NoUndersell => "no_undersell",
            Invariant::StockConserved => "stock_conserved",
            Invariant::StockNeverNegative => "stock_never_negative",
            Invariant::AckedOrdersDurable => "acked_orders_durable",
            Invariant::NoPhantomOrders => "no_phantom_orders",
            Invariant::PerBuyerLimit => "per_buyer_limit",
            Invariant::NoWinAfterSoldOut => "no_win_after_sold_out",
            Invariant::EveryBuyerAnswered => "every_buyer_answered",
            Invariant::TargetAliveAfterRun => "target_alive_after_run",
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Invariant::EveryBuyerAnswered | Invariant::TargetAliveAfterRun => Kind::Liveness,
            _ => Kind::Safety,
        }
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Fail,
    NotApplicable,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail => "fail",
            Status::NotApplicable => "not_applicable",
        }
    }
}

/// What one checker found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub name: Invariant,
    pub status: Status,
    /// One line a person can read: the numbers behind the status.
    pub detail: String,
    /// The same numbers, for machines.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub counts: BTreeMap<String, i64>,
    /// A few ids (orders, buyers) that show the failure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<String>,
}

/// Examples kept per failing check.
pub const MAX_EXAMPLES: usize = 5;

impl Check {
    pub fn new(name: Invariant, status: Status, detail: impl Into<String>) -> Self {
        Check { name, status, detail: detail.into(), counts: BTreeMap::new(), examples: Vec::new() }
    }

    pub fn count(mut self, key: &str, value: impl TryInto<i64>) -> Self {
        self.counts.insert(key.to_string(), value.try_into().unwrap_or(i64::MAX));
        self
    }

    pub fn examples<I: IntoIterator<Item = String>>(mut self, ids: I) -> Self {
        self.examples = ids.into_iter().take(MAX_EXAMPLES).collect();
        self
    }
}

/// Whether the target still answered once the load was over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Liveness {
    Responsive,
    Unresponsive,
}
