//! The reference server's `GET /metrics`: behind the admin token, OpenMetrics text with the
//! names of deploy/METRICS.md, order answers counted by class, stock read from the store, and
//! the seed-lock strategy's lock counts.

use flashbench::model::{RateLimit, Strategy};
use flashbench::server::store::{SeedProduct, Store, StoreLocation, StoreOptions, SEED_LOCK_TTL};
use flashbench::server::{self, RunningServer, ServerConfig};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

const TOKEN: &str = "metrics-token";

fn config(location: StoreLocation, strategy: Strategy, rate_limit: &str) -> ServerConfig {
    ServerConfig {
        store: StoreOptions {
            location,
            pool_size: 1,
            timeout: Duration::from_secs(3),
            acquire_timeout: Duration::from_secs(3),
            latency: Duration::ZERO,
        },
        strategy,
        rate_limit: rate_limit.parse::<RateLimit>().expect("rate"),
        admin_token: TOKEN.into(),
        instance: 7,
        limits: server::ConnLimits::defaults(),
    }
}

async fn start(strategy: Strategy, stock: u32) -> RunningServer {
    start_with(&config(StoreLocation::Memory, strategy, "off"), stock).await
}

async fn start_with(config: &ServerConfig, stock: u32) -> RunningServer {
    let srv = server::start(config, "127.0.0.1:0".parse().expect("addr")).await.expect("start");
    srv.store
        .seed(&[SeedProduct { id: "drop-1".into(), name: "Drop".into(), stock, limit_per_buyer: 1 }])
        .await
        .expect("seed");
    srv
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().expect("client")
}

async fn order(srv: &RunningServer, buyer: &str) -> u16 {
    client()
        .post(format!("{}/orders", srv.url()))
        .json(&json!({"product_id": "drop-1", "buyer_id": buyer}))
        .send()
        .await
        .expect("order")
        .status()
        .as_u16()
}

/// One sample of the exposition: the series name, its labels, its value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the OpenMetrics text (samples only; `# ` lines are skipped): `name{k="v",...} value`.
fn parse(text: &str) -> Vec<Sample> {
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.is_empty()) {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value in {line:?}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), BTreeMap::new()),
            Some((name, rest)) => (name.to_string(), parse_labels(rest.strip_suffix('}').expect("closing brace"))),
        };
        samples.push(Sample { name, labels, value });
    }
    samples
}

/// `k="v",k2="v\"2"` → {k: v, k2: v"2}.
fn parse_labels(mut rest: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"").expect("label key");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("closing quote") {
                (i, '"') => break i,
                (_, '\\') => match chars.next().expect("escape").1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.to_string(), value);
        rest = after[end + 1..].trim_start_matches(',');
    }
    labels
}

/// The value of the one sample named `name` whose labels include `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .collect();
    assert_eq!(found.len(), 1, "want one {name} {labels:?}, found {found:?}");
    found[0].value
}

async fn scrape(srv: &RunningServer) -> Vec<Sample> {
    let resp = client().get(format!("{}/metrics", srv.url())).bearer_auth(TOKEN).send().await.expect("scrape");
    assert_eq!(resp.status(), 200);
    let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_string);
    assert_eq!(content_type.as_deref(), Some("application/openmetrics-text; version=1.0.0; charset=utf-8"));
    let text = resp.text().await.expect("text");
    assert!(text.ends_with("# EOF\n"), "{text}");
    parse(&text)
}

#[tokio::test]
async fn metrics_need_the_admin_token() {
    let srv = start(Strategy::Atomic, 3).await;
    let url = format!("{}/metrics", srv.url());
    let c = client();
    let none = c.get(&url).send().await.expect("get");
    assert_eq!(none.status(), 401);
    let body: serde_json::Value = none.json().await.expect("json");
    assert_eq!(body["error"], "unauthorized");
    assert_eq!(c.get(&url).bearer_auth("nope").send().await.expect("get").status(), 401);
    assert_eq!(c.get(&url).header("authorization", "Basic eDp5").send().await.expect("get").status(), 401);
    let odd = c.get(&url).header("authorization", vec![0xff_u8, 0xfe]).send().await.expect("get");
    assert_eq!(odd.status(), 401, "a header that is not text is refused, not a 5xx");
    assert_eq!(c.post(&url).bearer_auth(TOKEN).send().await.expect("post").status(), 405);
    assert_eq!(c.get(format!("{url}?x=%ff")).bearer_auth(TOKEN).send().await.expect("get").status(), 200);
}

#[tokio::test]
async fn orders_stock_and_info_are_exposed() {
    let srv = start(Strategy::Atomic, 3).await;
    let mut statuses = Vec::new();
    for b in 0..5 {
        statuses.push(order(&srv, &format!("buyer-{b}")).await);
    }
    assert_eq!(statuses, [201, 201, 201, 409, 409]);
    let s = scrape(&srv).await;
    let orders = |outcome| value(&s, "flashbench_server_orders_total", &[("outcome", outcome)]);
    assert_eq!((orders("won"), orders("sold_out"), orders("busy"), orders("error")), (3.0, 2.0, 0.0, 0.0));
    assert_eq!(value(&s, "flashbench_server_stock", &[("product", "drop-1")]), 0.0);
    let requests = |outcome| value(&s, "flashbench_server_request_duration_seconds_count", &[("outcome", outcome)]);
    assert_eq!(requests("won") + requests("sold_out"), 5.0);
    let all: f64 =
        s.iter().filter(|x| x.name == "flashbench_server_request_duration_seconds_count").map(|x| x.value).sum();
    assert_eq!(all, 5.0, "the request histogram counts the five orders");
    assert_eq!(value(&s, "flashbench_server_store_duration_seconds_count", &[]), 5.0);
    let info = s.iter().find(|x| x.name == "flashbench_server_info").expect("info");
    assert_eq!(info.value, 1.0);
    assert_eq!(info.labels.get("backend").map(String::as_str), Some("memory"));
    assert_eq!(info.labels.get("strategy").map(String::as_str), Some("atomic"));
    assert_eq!(info.labels.get("server_instance").map(String::as_str), Some("7"));
    assert_eq!(value(&s, "flashbench_server_in_flight_requests", &[]), 0.0);
    assert_eq!(value(&s, "flashbench_server_rate_limited_total", &[]), 0.0);
    assert_eq!(value(&s, "flashbench_server_lock_acquisitions_total", &[]), 0.0, "atomic takes no locks");
    assert_eq!(value(&s, "flashbench_server_lock_expiries_total", &[]), 0.0);
}

#[tokio::test]
async fn malformed_orders_count_as_rejected_and_change_no_answer() {
    let srv = start(Strategy::Atomic, 3).await;
    let resp = client()
        .post(format!("{}/orders", srv.url()))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("post");
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "bad_request");
    let s = scrape(&srv).await;
    assert_eq!(value(&s, "flashbench_server_orders_total", &[("outcome", "rejected")]), 1.0);
    assert_eq!(value(&s, "flashbench_server_store_duration_seconds_count", &[]), 0.0, "never reached the store");
}

#[tokio::test]
async fn seed_lock_counts_lock_acquisitions_and_busy_answers() {
    let srv = start(Strategy::SeedLock, 5).await;
    // Six buyers at once: they meet on the lock of the same stock level.
    let tasks: Vec<_> = (0..6)
        .map(|b| {
            let url = format!("{}/orders", srv.url());
            tokio::spawn(async move {
                let body = json!({"product_id": "drop-1", "buyer_id": format!("buyer-{b}")});
                client().post(url).json(&body).send().await.expect("order").status().as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("task"));
    }
    let count = |status| statuses.iter().filter(|s| **s == status).count() as f64;
    let (won, busy) = (count(201), count(400));
    assert!(won >= 1.0 && won + busy == 6.0, "{statuses:?}");
    let s = scrape(&srv).await;
    let acquisitions = value(&s, "flashbench_server_lock_acquisitions_total", &[]);
    assert!(acquisitions > 0.0 && acquisitions >= won, "{acquisitions} locks for {won} wins");
    assert_eq!(value(&s, "flashbench_server_orders_total", &[("outcome", "won")]), won);
    assert_eq!(value(&s, "flashbench_server_orders_total", &[("outcome", "busy")]), busy, "the seed's 400 busy");
    assert_eq!(value(&s, "flashbench_server_lock_expiries_total", &[]), 0.0, "the 2 s TTL has not passed");
    let info = s.iter().find(|x| x.name == "flashbench_server_info").expect("info");
    assert_eq!(info.labels.get("strategy").map(String::as_str), Some("seed-lock"));
    // The design never releases a lock: every one has ended by its TTL once that has passed.
    tokio::time::sleep(SEED_LOCK_TTL + Duration::from_millis(100)).await;
    let s = scrape(&srv).await;
    assert_eq!(value(&s, "flashbench_server_lock_expiries_total", &[]), acquisitions);
    assert_eq!(value(&s, "flashbench_server_lock_acquisitions_total", &[]), acquisitions);
}

#[tokio::test]
async fn the_rate_limiter_refusals_are_counted() {
    let srv = start_with(&config(StoreLocation::Memory, Strategy::Atomic, "1/min"), 3).await;
    assert_eq!(order(&srv, "a").await, 201);
    assert_eq!(order(&srv, "a").await, 429);
    let s = scrape(&srv).await;
    assert_eq!(value(&s, "flashbench_server_rate_limited_total", &[]), 1.0);
    assert_eq!(value(&s, "flashbench_server_orders_total", &[("outcome", "rate_limited")]), 1.0);
    assert_eq!(value(&s, "flashbench_server_store_duration_seconds_count", &[]), 1.0);
}

#[tokio::test]
async fn a_store_that_cannot_be_read_gives_503_not_numbers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("orders.db");
    let cfg = config(StoreLocation::Sqlite { file: file.clone() }, Strategy::Conditional, "off");
    Store::prepare(&cfg.store).await.expect("prepare");
    let srv = start_with(&cfg, 3).await;
    assert_eq!(scrape(&srv).await.iter().filter(|s| s.name == "flashbench_server_stock").count(), 1);
    let pool =
        sqlx::SqlitePool::connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(&file)).await.expect("open");
    sqlx::query("DROP TABLE products").execute(&pool).await.expect("drop");
    pool.close().await;
    let resp = client().get(format!("{}/metrics", srv.url())).bearer_auth(TOKEN).send().await.expect("scrape");
    assert_eq!(resp.status(), 503);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["error"], "store_unavailable");
}
