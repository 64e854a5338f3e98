//! The `target:` section (which server the sale runs on) and the truth sources of an `http`
//! target. Field docs here are the reference for `README.md` ("Test your own server").

use super::HumanDuration;
use crate::model::Outcome;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Which kind of target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// The bundled reference server, started and seeded by flashbench (`server:` says how).
    #[default]
    Reference,
    /// A server of your own, already running.
    Http,
}

/// Where the sale runs. Without `target:`, the reference server.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub kind: TargetKind,
    /// `http`: the server's base URLs (`http://host:port`); host names are resolved once;
    /// buyers are spread over several round robin. `${VAR}` is read from the environment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// `https://` targets: take any certificate (self-signed staging servers).
    #[serde(default, skip_serializing_if = "is_false")]
    pub insecure: bool,
    /// Headers sent with every request (`${VAR}` from the environment).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Sent once on each buyer's connection before its start; without it the connection is
    /// only opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<RequestSpec>,
    /// Run once per buyer before its start, in the connect phase: create the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register: Option<AuthSpec>,
    /// Run once per buyer after `register`: its answer's token (`token: /token`) fills
    /// `{token}` in later requests, and its `Set-Cookie` is sent back with them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login: Option<AuthSpec>,
    /// The order request and how its answers are read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<OrderSpec>,
    /// Steps run in order before the load, and before every repetition: reset the stock.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub setup: Vec<SetupSpec>,
    /// Live stock samples for the charts (optional).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stock: Option<StockSpec>,
}

/// One HTTP request of a scenario.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    #[serde(default = "get")]
    pub method: String,
    /// The path (and query), with placeholders: `/api/orders/{product}`.
    pub path: String,
    /// A JSON body template; typed placeholders `"{product:int}"`. Omitted: no body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Extra headers for this request.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// A per-buyer request before the sale: `register` or `login`. A buyer whose step fails is
/// `not_sent`, with the reason.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthSpec {
    #[serde(default = "post")]
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The status of success: `200`, `"2xx"` (default) or `"200-299"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<StatusSpec>,
    /// JSON pointer to the token in the answer; it fills `{token}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// The order request.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderSpec {
    #[serde(default = "post")]
    pub method: String,
    /// Placeholders: {product} {buyer} {attempt} {quantity} {stock} {idempotency_key} {run}.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Ordered rules, first match wins; absent: the reference server's mapping.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outcomes: Vec<OutcomeRuleSpec>,
    /// JSON pointer to the order id in a won or accepted answer (`/orderId`); a string or a
    /// number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// For queued orders: the request that tells an `accepted` order's fate, polled until its
    /// status is final or `within` has passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<OrderStatusSpec>,
}

/// How an accepted order's status is read: `{method: GET, path: /orders/{order_id}, pointer:
/// /status, map: {CONFIRMED: won, REJECTED: sold_out}}`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderStatusSpec {
    #[serde(default = "get")]
    pub method: String,
    /// `{order_id}` is the id the accepted answer gave (at `order.order_id`).
    pub path: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// JSON pointer to the status in the answer.
    pub pointer: String,
    /// Final statuses and the outcome each means; any other status is still pending.
    pub map: BTreeMap<String, Outcome>,
    /// JSON pointer to the stored order's id in a final answer, when the accepted answer's id
    /// is a ticket and not the id the store keeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// How long to wait between two polls of one order.
    #[serde(default = "default_status_every")]
    pub every: HumanDuration,
    /// How long after the accepted answer to give up (the order stays `accepted`, for truth
    /// to settle).
    #[serde(default = "default_status_within")]
    pub within: HumanDuration,
}

fn default_status_every() -> HumanDuration {
    HumanDuration::from_millis(100)
}

fn default_status_within() -> HumanDuration {
    HumanDuration::from_millis(10_000)
}

/// One outcome rule: what it matches, and the outcome it gives.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeRuleSpec {
    /// `201`, `"5xx"` or `"200-299"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusSpec>,
    /// A substring of the body, or `/regex/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// JSON pointers and the values they must equal: `{/detail: "Out of stock"}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<BTreeMap<String, Value>>,
    pub outcome: Outcome,
}

/// A status as written: a number, or text (`"5xx"`, `"200-299"`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum StatusSpec {
    Code(u16),
    Text(String),
}

impl StatusSpec {
    pub fn text(&self) -> String {
        match self {
            StatusSpec::Code(c) => c.to_string(),
            StatusSpec::Text(t) => t.clone(),
        }
    }
}

/// A setup step, as written: exactly one of its fields. Steps that name `{product}` or
/// `{stock}` run once per product.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupSpec {
    /// A request to the target (its first URL); any 2xx answer is success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<RequestSpec>,
    /// A statement run on `truth.sql.url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// A command run on `truth.redis.url`: `[SET, product_stock, "{stock}"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<Vec<String>>,
    /// A program and its arguments, run without a shell; it must exit 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
}

/// A setup step.
#[derive(Debug, Clone, PartialEq)]
pub enum SetupStep {
    Http(RequestSpec),
    Sql(String),
    Redis(Vec<String>),
    Command(Vec<String>),
}

impl SetupSpec {
    /// The step, when exactly one kind is given.
    pub fn step(&self) -> Result<SetupStep, String> {
        let mut given = Vec::new();
        if let Some(h) = &self.http {
            given.push(SetupStep::Http(h.clone()));
        }
        if let Some(s) = &self.sql {
            given.push(SetupStep::Sql(s.clone()));
        }
        if let Some(r) = &self.redis {
            given.push(SetupStep::Redis(r.clone()));
        }
        if let Some(c) = &self.command {
            given.push(SetupStep::Command(c.clone()));
        }
        match given.len() {
            1 => Ok(given.remove(0)),
            0 => Err("a setup step is one of `http`, `sql`, `redis` or `command`".into()),
            _ => Err("give one of `http`, `sql`, `redis` or `command` per step (use several steps)".into()),
        }
    }
}

/// Where a product's stock is read over HTTP.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StockSpec {
    #[serde(default = "get")]
    pub method: String,
    /// With `{product}`: `/products/{product}`.
    pub path: String,
    /// JSON pointer to the stock in the answer (a number, or a number in a string).
    pub pointer: String,
}

/// Ground truth from SQL (PostgreSQL, MySQL/MariaDB or SQLite), read in one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SqlTruth {
    /// `postgres://…`, `mysql://…` (MySQL or MariaDB) or `sqlite://file.db` (`${VAR}` from the
    /// environment).
    pub url: String,
    /// A query returning columns `product` and `stock`, one row per product.
    pub stock: String,
    /// A query returning `id`, `product`, `buyer` and `quantity`, one row per order that
    /// counts; omitted: the store keeps no order records (stock-only truth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orders: Option<String>,
}

/// Ground truth from Redis: a key per product holding its stock.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedisTruth {
    pub url: String,
    pub stock: RedisStock,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RedisStock {
    /// The key, `{product}` allowed: `stock:{product}`.
    pub key: String,
}

/// Ground truth from the server itself: the least trusted source (it is the system under
/// test), and the report says so.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpTruth {
    pub stock: StockSpec,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn get() -> String {
    "GET".into()
}
fn post() -> String {
    "POST".into()
}

/// `${NAME}` references in `text`, in order.
pub fn env_refs(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        let Some(end) = rest[i..].find('}') else { break };
        out.push(&rest[i + 2..i + end]);
        rest = &rest[i + end + 1..];
    }
    out
}

/// `text` with every `${NAME}` replaced by the environment's value; an unset one is an error
/// naming it.
pub fn expand_env(text: &str) -> Result<String, String> {
    let mut out = text.to_string();
    for name in env_refs(text) {
        let value = std::env::var(name).map_err(|_| format!("${{{name}}} is not set in the environment"))?;
        out = out.replacen(&format!("${{{name}}}"), &value, 1);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_environment_references() {
        std::env::set_var("FLASHBENCH_TEST_TOKEN", "s3cret");
        assert_eq!(expand_env("Bearer ${FLASHBENCH_TEST_TOKEN}").as_deref(), Ok("Bearer s3cret"));
        assert_eq!(env_refs("${A}/x/${B}"), ["A", "B"]);
        assert!(expand_env("${FLASHBENCH_SURELY_UNSET_42}").is_err_and(|e| e.contains("is not set")));
        assert_eq!(expand_env("no refs {product}").as_deref(), Ok("no refs {product}"));
    }
}
