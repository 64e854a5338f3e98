//! The scenario format. Field docs here are the reference for `README.md`.

use super::stream::{Rate, Stage, Stream};
use super::target::{HttpTruth, RedisTruth, SqlTruth, TargetKind, TargetSpec};
use super::HumanDuration;
use crate::model::check::Invariant;
use crate::model::Outcome;
use crate::model::{Backend, RateLimit, Strategy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// One contention scenario, as read from YAML.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used for the report folder (`reports/<name>/`).
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Products for sale. Either this or `catalogue`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub products: Vec<Product>,
    /// A YAML file (relative to the scenario) with `products:`; either this or `products`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalogue: Option<PathBuf>,
    pub buyers: Buyers,
    #[serde(default)]
    pub arrival: Arrival,
    /// Width of one row of `timeseries.csv` and of the over-time charts (default 100ms).
    #[serde(default = "default_timeseries_interval")]
    pub timeseries_interval: HumanDuration,
    /// Timeout of one order request; a request that takes longer is a `timeout` outcome.
    #[serde(default = "default_request_timeout")]
    pub request_timeout: HumanDuration,
    /// Where the sale runs: the reference server (default) or a server of your own.
    #[serde(default, skip_serializing_if = "TargetSpec::is_reference")]
    pub target: TargetSpec,
    /// The reference server (`target.kind: reference` only).
    #[serde(default)]
    pub server: ServerSpec,
    /// How ground truth is read after the load.
    #[serde(default, skip_serializing_if = "TruthSpec::is_default")]
    pub truth: TruthSpec,
    #[serde(default)]
    pub expect: Expect,
    /// Thresholds (k6 style), e.g. `latency.won.p99 < 50ms`; a failed one exits 3.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<crate::model::threshold::Threshold>,
    /// Run the race this many times on fresh state (`--repeat` wins); any violation fails.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub repeat: u32,
    /// Regression limits against a baseline, e.g. `latency.won.p99: 20%`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub regression: BTreeMap<String, String>,
    /// The designs `flashbench compare` runs this scenario over (`flashbench run` runs the
    /// scenario's own `server:` and ignores it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<super::Matrix>,
    /// What goes wrong during the sale: pauses, kills, stalls, slow stores, commands of your
    /// own (the nemesis), each with its trigger.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<super::Fault>,
}

/// A product and its initial stock.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Product {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub stock: u32,
}

/// A catalogue file: a list of products shared by several scenarios.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    pub products: Vec<Product>,
}

/// Who buys, what and how persistently.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Buyers {
    /// How many buyers (one goose user each) in a `burst` or a `ramp`; a `rate` stream's
    /// buyers come from its rate instead.
    #[serde(default)]
    pub count: u32,
    /// Product id every buyer wants; without it buyers are spread uniformly over the products.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Units per order.
    #[serde(default = "one")]
    pub quantity: u32,
    /// Orders each buyer tries to get.
    #[serde(default = "one")]
    pub wants: u32,
    /// Per-buyer order limit, enforced by the server and checked by `per_buyer_limit`.
    #[serde(default = "one")]
    pub limit: u32,
    /// Attempts per buyer at most, the first included.
    #[serde(default = "one")]
    pub attempts: u32,
    #[serde(default)]
    pub retry: Retry,
    /// How buyer ids are written, `{n}` standing for the buyer's number (0, 1, …); default
    /// `buyer-{n}`. It is what `{buyer}` renders as and what truth's orders are matched by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_format: Option<String>,
    /// Concurrent sessions of each buyer: one account in several tabs. Each session has its
    /// own connection, cookies, login and attempts, all under the buyer's one id; `limit`,
    /// `wants` and every invariant count the buyer once. `burst` and `ramp` only.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub sessions: u32,
}

/// Which answers a buyer retries, and how long it waits before the next attempt.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    #[serde(default = "default_retry_on")]
    pub on: Vec<Outcome>,
    #[serde(default)]
    pub backoff: Backoff,
}

impl Default for Retry {
    fn default() -> Self {
        Retry { on: default_retry_on(), backoff: Backoff::default() }
    }
}

/// Exponential backoff: `initial`, times `multiplier` per retry, capped at `max`, with full
/// jitter when `jitter` is on.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Backoff {
    #[serde(default = "default_backoff_initial")]
    pub initial: HumanDuration,
    #[serde(default = "default_backoff_max")]
    pub max: HumanDuration,
    #[serde(default = "default_multiplier")]
    pub multiplier: f64,
    #[serde(default = "yes")]
    pub jitter: bool,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            initial: default_backoff_initial(),
            max: default_backoff_max(),
            multiplier: default_multiplier(),
            jitter: true,
        }
    }
}

impl Backoff {
    /// The wait before retry number `retry` (1 for the first retry), before jitter.
    pub fn delay(&self, retry: u32) -> Duration {
        let factor = self.multiplier.powi(retry.saturating_sub(1).min(64) as i32);
        let secs = self.initial.0.as_secs_f64() * factor;
        Duration::try_from_secs_f64(secs).map_or(self.max.0, |d| d.min(self.max.0))
    }
}

/// How buyers arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ArrivalMode {
    /// Every buyer connects, waits at a barrier, and all are released together.
    #[default]
    Burst,
    /// Buyers start one after another, evenly spread over `over`.
    Ramp,
    /// An open model: new buyers arrive at `rate` for `duration` (or through `stages`),
    /// however slow the server is; `buyers.count` does not apply.
    Rate,
}

#[derive(Debug, Clone, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Arrival {
    #[serde(default)]
    pub mode: ArrivalMode,
    /// For `ramp`: the time over which buyers start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over: Option<HumanDuration>,
    /// For `burst`: how long buyers may take to connect before the release goes ahead anyway;
    /// for `rate` and `background`: how long the stream's buyers may take to open their
    /// connections before it starts anyway.
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: HumanDuration,
    /// For `rate`: arrivals per second (`500/s`), constant for `duration`, or where `stages`
    /// start from (default `0/s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    /// For `rate`: how long a constant rate lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<HumanDuration>,
    /// For `rate`: the rate ramped linearly through targets, e.g. `[{rate: 100/s, over: 10s},
    /// {rate: 2000/s, over: 5s}, {rate: 0/s, over: 5s}]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<Stage>,
    /// For `rate`: buyers at work at most (default 1000); an arrival finding all busy is
    /// recorded as dropped, never delayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<u32>,
    /// For `burst`: a stream of buyers arriving from the start (steady browsing and
    /// ordering), with the burst released `at` into it: the realistic sale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<Stream>,
    /// For `burst` with `background`: when the burst is released, from the stream's start
    /// (default 0s); if its buyers are not all connected by then, it waits for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<HumanDuration>,
}

impl Default for Arrival {
    fn default() -> Self {
        Arrival {
            mode: ArrivalMode::Burst,
            over: None,
            connect_timeout: default_connect_timeout(),
            rate: None,
            duration: None,
            stages: Vec::new(),
            max_in_flight: None,
            background: None,
            at: None,
        }
    }
}

impl Arrival {
    /// The open stream of this arrival: the `rate` model's, or a burst's `background`.
    pub fn stream(&self) -> Option<Stream> {
        match self.mode {
            ArrivalMode::Rate => Some(Stream {
                rate: self.rate,
                duration: self.duration,
                stages: self.stages.clone(),
                max_in_flight: self.max_in_flight,
                target: None,
            }),
            ArrivalMode::Burst => self.background.clone(),
            ArrivalMode::Ramp => None,
        }
    }
}

/// The reference server that runs the sale.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSpec {
    #[serde(default)]
    pub backend: Backend,
    /// Defaults to the backend's first correct strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// Server instances; buyers are spread across them round robin.
    #[serde(default = "one")]
    pub instances: u32,
    /// Per-buyer rate limit of each instance: `1000/min`, `50/s`, or `off`.
    #[serde(default)]
    pub rate_limit: RateLimit,
    /// Redis to use for `backend: redis` (overridden by `--redis-url` and `FLASHBENCH_REDIS_URL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    /// PostgreSQL to use for `backend: postgres` (overridden by `--database-url` and
    /// `FLASHBENCH_DATABASE_URL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// MySQL or MariaDB to use for `backend: mysql` (overridden by `--mysql-url` and
    /// `FLASHBENCH_MYSQL_URL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mysql_url: Option<String>,
    /// Database connections per instance (SQL backends); default 8 for PostgreSQL, 4 for SQLite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_size: Option<u32>,
    /// Latency added to every order's store round trip, e.g. `2ms` (a slow disk, a far
    /// database; SQL backends hold one pooled connection while it passes). For trying a gate
    /// or a design under a slower store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_latency: Option<HumanDuration>,
    /// `backend: redis`: a Redis server flashbench starts for this run alone (`redis-server` on
    /// a free port of 127.0.0.1, its data in a folder of its own, stopped and removed at the
    /// end), instead of `redis_url`. Faults on the store (`kill_store`, `redis_stall`) then
    /// touch nothing but the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_redis: Option<OwnRedisSpec>,
}

/// The Redis server a run starts for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OwnRedisSpec {
    /// What it keeps across a crash: `none` (no AOF, no snapshots), `aof_everysec` (AOF,
    /// fsync once a second) or `aof_always` (AOF, fsync before every answer).
    pub persistence: RedisPersistence,
}

/// How a Redis server started by flashbench persists its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RedisPersistence {
    /// `--appendonly no --save ""`: a restart starts empty.
    None,
    /// `--appendonly yes --appendfsync everysec`.
    AofEverysec,
    /// `--appendonly yes --appendfsync always`.
    AofAlways,
}

impl RedisPersistence {
    /// The `redis-server` arguments that set it.
    pub fn args(self) -> &'static [&'static str] {
        match self {
            RedisPersistence::None => &["--appendonly", "no", "--save", ""],
            RedisPersistence::AofEverysec => &["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
            RedisPersistence::AofAlways => &["--appendonly", "yes", "--appendfsync", "always", "--save", ""],
        }
    }
}

impl std::fmt::Display for RedisPersistence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RedisPersistence::None => "no persistence",
            RedisPersistence::AofEverysec => "AOF, fsync every second",
            RedisPersistence::AofAlways => "AOF, fsync always",
        })
    }
}

impl Default for ServerSpec {
    fn default() -> Self {
        ServerSpec {
            backend: Backend::default(),
            strategy: None,
            instances: 1,
            rate_limit: RateLimit::default(),
            redis_url: None,
            database_url: None,
            mysql_url: None,
            pool_size: None,
            store_latency: None,
            own_redis: None,
        }
    }
}

impl TargetSpec {
    fn is_reference(&self) -> bool {
        self.kind == TargetKind::Reference && *self == TargetSpec::default()
    }
}

impl ServerSpec {
    /// The strategy in force: the one named, or the backend's default.
    pub fn strategy(&self) -> Strategy {
        self.strategy.unwrap_or_else(|| self.backend.default_strategy())
    }
}

/// How ground truth is read once the load is over: the target must first be quiet (no order
/// request in flight), then two reads `settle` apart must agree, all within `max_wait`.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TruthSpec {
    /// Time between the two reads that must agree (only needed when some attempt was
    /// indeterminate: otherwise every order request has been answered and nothing can change).
    #[serde(default = "default_settle")]
    pub settle: HumanDuration,
    /// Longest wait for quiet and agreeing reads; after it, truth is read anyway and the
    /// summary says it had not settled.
    #[serde(default = "default_truth_wait")]
    pub max_wait: HumanDuration,
    /// `http` targets: stock (and orders) from SQL: PostgreSQL, MySQL/MariaDB or SQLite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<SqlTruth>,
    /// `http` targets: stock from Redis keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisTruth>,
    /// `http` targets: stock from the server itself (least trusted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpTruth>,
}

impl Default for TruthSpec {
    fn default() -> Self {
        TruthSpec { settle: default_settle(), max_wait: default_truth_wait(), sql: None, redis: None, http: None }
    }
}

impl TruthSpec {
    fn is_default(&self) -> bool {
        *self == TruthSpec::default()
    }
}

/// What the run must show.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Invariants to check; all that apply when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invariants: Option<Vec<Invariant>>,
    /// Exact (`won: 5`) or bounded (`sold_out: {min: 1}`) outcome counts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outcomes: BTreeMap<Outcome, CountExpectation>,
    /// Self-test: these invariants must be violated (the broken strategy must be caught).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub violations: Vec<Invariant>,
    /// Self-test: these may be violated too without failing the run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub may_also_violate: Vec<Invariant>,
}

/// An expected count: exact, or within bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(untagged)]
pub enum CountExpectation {
    Exact(u64),
    Range(CountRange),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CountRange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
}

impl CountExpectation {
    /// Why no run of at most `most` attempts could meet this expectation, if none could.
    pub fn impossible(&self, most: u64) -> Option<String> {
        let (min, max) = match *self {
            CountExpectation::Exact(v) => (Some(v), Some(v)),
            CountExpectation::Range(CountRange { min, max }) => (min, max),
        };
        match (min, max) {
            (Some(a), Some(b)) if a > b => Some(format!("min {a} is above max {b}: no count is both")),
            (Some(a), _) if a > most => {
                Some(format!("{a} can never be observed: the run makes at most {most} attempts"))
            }
            _ => None,
        }
    }

    pub fn admits(&self, n: u64) -> bool {
        match *self {
            CountExpectation::Exact(v) => n == v,
            CountExpectation::Range(r) => r.min.is_none_or(|min| n >= min) && r.max.is_none_or(|max| n <= max),
        }
    }
}

impl std::fmt::Display for CountExpectation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            CountExpectation::Exact(v) => write!(f, "== {v}"),
            CountExpectation::Range(CountRange { min, max }) => match (min, max) {
                (Some(a), Some(b)) => write!(f, "in {a}..={b}"),
                (Some(a), None) => write!(f, ">= {a}"),
                (None, Some(b)) => write!(f, "<= {b}"),
                (None, None) => write!(f, "any"),
            },
        }
    }
}

impl Scenario {
    /// Does a fault act on a server process (the reference server then runs in child
    /// processes)?
    pub fn has_process_faults(&self) -> bool {
        self.faults.iter().any(|f| f.kind.is_process_fault())
    }

    /// The product each buyer targets, by buyer index. A burst's background buyers (numbered
    /// after the burst's) want the background's target.
    pub fn product_of(&self, buyer: u32) -> usize {
        let target = match &self.arrival.background {
            Some(bg) if self.arrival.mode == ArrivalMode::Burst && buyer >= self.buyers.count => &bg.target,
            _ => &self.buyers.target,
        };
        match target {
            Some(id) => self.products.iter().position(|p| &p.id == id).unwrap_or(0),
            None => buyer as usize % self.products.len().max(1),
        }
    }

    /// Buyers that start at once or one by one: a burst's or a ramp's (none in a `rate` run).
    pub fn closed_buyers(&self) -> u32 {
        match self.arrival.mode {
            ArrivalMode::Rate => 0,
            _ => self.buyers.count,
        }
    }

    /// Sessions per buyer of a burst or a ramp (`buyers.sessions`); 1 for a rate stream.
    pub fn sessions(&self) -> u32 {
        match self.arrival.mode {
            ArrivalMode::Rate => 1,
            _ => self.buyers.sessions.max(1),
        }
    }

    /// The harness's users of a burst or a ramp: every session of every buyer. User `u` is
    /// session `u % sessions` of buyer `u / sessions`; a stream's users follow them.
    pub fn closed_users(&self) -> u32 {
        self.closed_buyers().saturating_mul(self.sessions())
    }

    /// Every user of the run: each session of a burst's or a ramp's buyers, then every
    /// arrival of its stream.
    pub fn total_users(&self) -> u32 {
        let streamed = self.total_buyers() - self.closed_buyers();
        self.closed_users().saturating_add(streamed)
    }

    /// The buyer user `user` is a session of.
    pub fn buyer_of(&self, user: u32) -> u32 {
        let closed = self.closed_users();
        match user < closed {
            true => user / self.sessions(),
            false => user - closed + self.closed_buyers(),
        }
    }

    /// Which of its buyer's sessions user `user` is (0 for the first, and for every stream user).
    pub fn session_of(&self, user: u32) -> u32 {
        match user < self.closed_users() {
            true => user % self.sessions(),
            false => 0,
        }
    }

    /// Every buyer of the run: a burst's or a ramp's, and every arrival of its stream.
    /// Buyers are numbered from 0: first the burst's, then the stream's in arrival order.
    pub fn total_buyers(&self) -> u32 {
        let streamed = self.arrival.stream().map_or(0, |s| s.count());
        u64::from(self.closed_buyers()).saturating_add(streamed).min(u64::from(u32::MAX)) as u32
    }

    /// Connections the harness holds at once: one per session of a burst or ramp buyer, one
    /// per stream slot.
    pub fn concurrent_connections(&self) -> u32 {
        let slots = self.arrival.stream().map_or(0, |s| s.slots().min(s.count().max(1) as u32));
        self.closed_users().saturating_add(slots)
    }

    /// The id of buyer `n`, as sent to the target and as truth's orders name it.
    pub fn buyer_id(&self, n: u32) -> String {
        match &self.buyers.id_format {
            Some(f) => f.replace("{n}", &n.to_string()),
            None => format!("buyer-{n}"),
        }
    }

    /// Orders one buyer may lawfully get and can actually try for: `min(wants, limit,
    /// attempts)` (validation makes `attempts >= wants`, so this is `min(wants, limit)`).
    pub fn orders_wanted(&self) -> u32 {
        self.buyers.wants.min(self.buyers.limit).min(self.buyers.attempts)
    }

    /// Units of demand that may lawfully be served per product: buyers on it times
    /// [`Scenario::orders_wanted`] times `quantity`.
    pub fn eligible_demand(&self) -> Vec<u64> {
        self.eligible_demand_without(&[])
    }

    /// [`Scenario::eligible_demand`] without the `absent` buyers (a stream's dropped arrivals,
    /// sorted), who never asked for anything.
    pub fn eligible_demand_without(&self, absent: &[u32]) -> Vec<u64> {
        let mut demand = vec![0u64; self.products.len()];
        let per_buyer = u64::from(self.orders_wanted()) * u64::from(self.buyers.quantity);
        for buyer in 0..self.total_buyers() {
            if absent.binary_search(&buyer).is_err() {
                demand[self.product_of(buyer)] += per_buyer;
            }
        }
        demand
    }

    /// The most order attempts the run can make: every session of every buyer using every attempt.
    pub fn max_attempts(&self) -> u64 {
        u64::from(self.total_users()) * u64::from(self.buyers.attempts)
    }
}

fn one() -> u32 {
    1
}
fn is_one(n: &u32) -> bool {
    *n == 1
}
fn yes() -> bool {
    true
}
fn default_retry_on() -> Vec<Outcome> {
    vec![Outcome::Busy]
}
fn default_backoff_initial() -> HumanDuration {
    HumanDuration::from_millis(10)
}
fn default_backoff_max() -> HumanDuration {
    HumanDuration::from_millis(200)
}
fn default_multiplier() -> f64 {
    2.0
}
fn default_connect_timeout() -> HumanDuration {
    HumanDuration::from_millis(60_000)
}
fn default_timeseries_interval() -> HumanDuration {
    HumanDuration::from_millis(100)
}
fn default_settle() -> HumanDuration {
    HumanDuration::from_millis(500)
}
fn default_truth_wait() -> HumanDuration {
    HumanDuration::from_millis(30_000)
}
fn default_request_timeout() -> HumanDuration {
    HumanDuration::from_millis(10_000)
}
