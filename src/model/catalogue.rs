//! The catalogue of backends and strategies the reference server can run, correct and broken,
//! and the per-buyer rate limit setting.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::num::NonZeroU32;
use std::str::FromStr;
use std::time::Duration;

/// Longest product or buyer id the server accepts, in bytes. Scenarios are checked against
/// the same constant, so a scenario `validate` accepts is one the server serves.
pub const MAX_ID_LEN: usize = 128;

/// Most units one order may ask for.
pub const MAX_QUANTITY: u32 = 1000;

/// Highest per-buyer order limit a product may be seeded with.
pub const MAX_LIMIT: u32 = 1_000_000;

/// Where the server keeps stock and orders.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, clap::ValueEnum, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// In the server process's memory: one store per instance.
    Memory,
    /// An SQLite file (compiled in, nothing to install), shared by every instance.
    #[default]
    Sqlite,
    /// A PostgreSQL server (`run` gives each run its own schema; `serve` uses `--pg-schema`).
    Postgres,
    /// A Redis server (`run` gives each run its own key prefix; `serve` uses `--redis-prefix`).
    Redis,
    /// A MySQL 8 or MariaDB 10.5+ server (`run` gives each run its own database; `serve` uses
    /// `--mysql-database`).
    Mysql,
}

/// How the server takes an order. Some are correct; the broken ones reproduce real designs so
/// that flashbench can prove it catches them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Check and decrement under one lock (memory). Correct.
    Atomic,
    /// Read the stock, yield, write it back: oversells under contention. Broken.
    Naive,
    /// The seed design: lock `lock:product:{id}:stock:{stock}` for 2 s, released only by
    /// expiry; losers are told "High demand! Please try again.": undersells. Broken.
    SeedLock,
    /// `UPDATE … SET stock = stock - q WHERE id = ? AND stock >= q` and the order insert, in one
    /// transaction (SQL). Correct.
    Conditional,
    /// `SELECT … FOR UPDATE`, check, update and insert in one transaction (PostgreSQL). Correct.
    ForUpdate,
    /// A version column checked on update, no retry: concurrent buyers are refused while stock
    /// remains, so it undersells. Broken.
    Optimistic,
    /// Check, decrement and the order record in one Lua script (Redis). Correct.
    Lua,
    /// The seed's lock done right (Redis): one lock per product holding an owner token,
    /// waited for (not refused), and a write fenced by it (written only while the token still
    /// holds the lock, in one script), so a holder paused past the TTL writes nothing. Correct.
    Lock,
    /// Answers 201, but the first two orders of each instance are lost afterwards (their
    /// transaction is undone). Broken (`acked_orders_durable`).
    LossyAck,
    /// Stores every order but answers every other one 423 busy. Broken (`no_phantom_orders`).
    Phantom,
    /// Never checks the per-buyer limit. Broken (`per_buyer_limit`).
    NoLimit,
    /// Decrements without checking the stock. Broken (`stock_never_negative`).
    Negative,
    /// Caches "sold out" per instance on contention and answers from the stale cache while
    /// stock remains. Broken (`no_undersell`).
    EarlySoldOut,
    /// Answers 503 instead of waiting when every pooled connection is in use. Broken
    /// (`no_undersell`: unsold stock hidden behind errors).
    PoolExhaustion,
    /// Reserves, then rolls the first two orders of each instance back 20 ms later after a
    /// failed payment: later buyers win what earlier ones were told was sold out. Broken
    /// (`no_win_after_sold_out`).
    LateRollback,
}

/// The mutants, broken in one way each; every backend runs them over its correct strategy.
pub const MUTANTS: [Strategy; 7] = [
    Strategy::LossyAck,
    Strategy::Phantom,
    Strategy::NoLimit,
    Strategy::Negative,
    Strategy::EarlySoldOut,
    Strategy::PoolExhaustion,
    Strategy::LateRollback,
];

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Atomic => "atomic",
            Strategy::Naive => "naive",
            Strategy::SeedLock => "seed-lock",
            Strategy::Conditional => "conditional",
            Strategy::ForUpdate => "for-update",
            Strategy::Optimistic => "optimistic",
            Strategy::Lua => "lua",
            Strategy::Lock => "lock",
            Strategy::LossyAck => "lossy-ack",
            Strategy::Phantom => "phantom",
            Strategy::NoLimit => "no-limit",
            Strategy::Negative => "negative",
            Strategy::EarlySoldOut => "early-sold-out",
            Strategy::PoolExhaustion => "pool-exhaustion",
            Strategy::LateRollback => "late-rollback",
        }
    }
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Memory => "memory",
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Redis => "redis",
            Backend::Mysql => "mysql",
        }
    }

    /// The backend's own strategies, correct ones first (the [`MUTANTS`] come on top).
    fn own_strategies(self) -> &'static [Strategy] {
        match self {
            Backend::Memory => &[Strategy::Atomic, Strategy::Naive, Strategy::SeedLock],
            Backend::Sqlite => &[Strategy::Conditional, Strategy::Naive, Strategy::SeedLock],
            Backend::Postgres => &[Strategy::Conditional, Strategy::ForUpdate, Strategy::Naive, Strategy::Optimistic],
            Backend::Redis => &[Strategy::Lua, Strategy::Lock, Strategy::SeedLock, Strategy::Naive],
            Backend::Mysql => &[Strategy::Conditional, Strategy::ForUpdate, Strategy::Naive, Strategy::Optimistic],
        }
    }

    /// Every strategy this backend runs: its own, correct ones first, then the mutants.
    pub fn strategies(self) -> Vec<Strategy> {
        self.own_strategies().iter().chain(MUTANTS.iter()).copied().collect()
    }

    /// Do all instances share one store? (`memory` keeps one per instance.)
    pub fn shares_store(self) -> bool {
        !matches!(self, Backend::Memory)
    }

    pub fn default_strategy(self) -> Strategy {
        self.own_strategies()[0]
    }

    pub fn supports(self, strategy: Strategy) -> bool {
        self.own_strategies().contains(&strategy) || MUTANTS.contains(&strategy)
    }

    pub fn unsupported_message(self, strategy: Strategy) -> String {
        let names: Vec<&str> = self.own_strategies().iter().map(|s| s.name()).collect();
        let mutants: Vec<&str> = MUTANTS.iter().map(|s| s.name()).collect();
        format!(
            "backend {} has no strategy {}; it has: {}, and the mutants {}",
            self.name(),
            strategy.name(),
            names.join(", "),
            mutants.join(", ")
        )
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Per-buyer request limit of one server instance: `1000/min` (the seed's), `50/s`, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    Off,
    Every { requests: NonZeroU32, period: Duration },
}

impl RateLimit {
    /// Most requests per period: with the shortest period, still one every nanosecond.
    pub const MAX_REQUESTS: u32 = 1_000_000;
    pub const MIN_PERIOD: Duration = Duration::from_millis(1);
    pub const MAX_PERIOD: Duration = Duration::from_secs(24 * 3600);
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit::Every { requests: NonZeroU32::new(1000).unwrap_or(NonZeroU32::MIN), period: Duration::from_secs(60) }
    }
}

impl FromStr for RateLimit {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(RateLimit::Off);
        }
        let bad = || format!("invalid rate limit {text:?}; write `1000/min`, `50/s`, `10/100ms` or `off`");
        let (count, per) = text.split_once('/').ok_or_else(bad)?;
        let requests: NonZeroU32 = count.trim().parse().map_err(|_| bad())?;
        let per = per.trim();
        let period = match per {
            "s" | "sec" | "second" => Duration::from_secs(1),
            "min" | "minute" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            other => humantime::parse_duration(other).map_err(|_| bad())?,
        };
        if requests.get() > RateLimit::MAX_REQUESTS
            || !(RateLimit::MIN_PERIOD..=RateLimit::MAX_PERIOD).contains(&period)
        {
            return Err(format!(
                "rate limit {text:?} is out of range: at most {} requests per period, and a period from 1ms to 24h",
                RateLimit::MAX_REQUESTS
            ));
        }
        Ok(RateLimit::Every { requests, period })
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateLimit::Off => f.write_str("off"),
            RateLimit::Every { requests, period } => match period.as_secs() {
                1 if period.subsec_nanos() == 0 => write!(f, "{requests}/s"),
                60 if period.subsec_nanos() == 0 => write!(f, "{requests}/min"),
                _ => write!(f, "{requests}/{}", humantime::format_duration(*period)),
            },
        }
    }
}

impl Serialize for RateLimit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for RateLimit {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for RateLimit {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RateLimit".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "Per-buyer requests per period: `1000/min`, `50/s`, `10/100ms`, or `off`.",
            "pattern": "^(off|[0-9]+/(s|sec|second|min|minute|h|hour|[0-9]+(ms|s|m)))$",
            "examples": ["1000/min", "off"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rate_limits() {
        assert_eq!("off".parse::<RateLimit>(), Ok(RateLimit::Off));
        assert_eq!("1000/min".parse::<RateLimit>(), Ok(RateLimit::default()));
        assert_eq!("1000/min".parse::<RateLimit>().map(|r| r.to_string()), Ok("1000/min".into()));
        assert!("0/min".parse::<RateLimit>().is_err());
        assert!("ten/s".parse::<RateLimit>().is_err());
        assert!("5/0s".parse::<RateLimit>().is_err());
        assert!("1/18446744073709551615s".parse::<RateLimit>().is_err_and(|e| e.contains("out of range")));
        assert!("2000000/s".parse::<RateLimit>().is_err());
        assert!("1/25h".parse::<RateLimit>().is_err());
        assert_eq!(
            "10/100ms".parse::<RateLimit>(),
            Ok(RateLimit::Every { requests: NonZeroU32::new(10).unwrap(), period: Duration::from_millis(100) })
        );
    }
}
