//! `target.kind: http`: flashbench against servers it did not start, from YAML alone. The
//! reference server run by hand gets the same verdict as a reference run; shops with other APIs
//! (`shops/`) each get the right verdict: integer ids and failed rows, a Redis counter as the
//! only truth with `200 Sold Out!` chunked answers and plain-text 500s, idle connections closed
//! before the release, a deadlocked pool, a read-then-write that oversells, a pool that raises
//! (500s while stock remains: an undersell), per-buyer login, https with a self-signed
//! certificate, and queued orders (202, polled or settled by truth; a queue that loses jobs).

mod common;
mod shops;

use common::*;
use serde_json::{json, Value};
use shops::{handler, Reply, Shop};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Runs `yaml` (a scenario) and returns the run and its summary.
fn run_yaml(yaml: &str, extra: &[&str]) -> (Ran, Value) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("shop.yaml");
    std::fs::write(&file, yaml).expect("write");
    let (ran, s, _out) = run_scenario(&file.to_string_lossy(), extra);
    (ran, s)
}

fn same_verdict_as_the_reference_run(strategy: &str, code: i32) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("shop.db");
    let served = serve(&db, strategy);
    let example = std::fs::read_to_string(repo().join("scenarios/examples/serve-sqlite.yaml")).expect("example");
    let yaml = example
        .replace("http://127.0.0.1:8080", &served.url)
        .replace("sqlite://shop.db", &format!("sqlite://{}", db.display()))
        .replace("expect:\n  outcomes:\n    won: 5\n", "");
    let (ran, http) = run_yaml(&yaml, &[]);
    assert_eq!(ran.code, code, "http {strategy}: {}{}", ran.stdout, ran.stderr);
    let reference_yaml = yaml.split("\ntarget:").next().expect("head").to_string()
        + "\n"
        + &format!("server:\n  backend: sqlite\n  strategy: {strategy}\n  rate_limit: \"off\"\n");
    let (ran, reference) = run_yaml(&reference_yaml, &[]);
    assert_eq!(ran.code, code, "reference {strategy}: {}{}", ran.stdout, ran.stderr);
    assert_eq!(http["target"]["kind"], "http");
    assert_eq!(http["verdict"], reference["verdict"]);
    let failed = |s: &Value| -> Vec<String> {
        s["invariants"]
            .as_array()
            .expect("inv")
            .iter()
            .filter(|i| i["status"] == "fail")
            .map(|i| i["name"].to_string())
            .collect()
    };
    if code == 0 {
        assert_eq!(sold(&http), sold(&reference), "the same orders and final stock");
        assert_eq!(sold(&http), (5, 0));
    } else {
        assert!(failed(&http).contains(&"\"no_oversell\"".to_string()), "{:?}", failed(&http));
        assert!(failed(&reference).contains(&"\"no_oversell\"".to_string()));
    }
    assert_eq!(http["target"]["after_run"], "responsive");
}

/// A server that closes idle keep-alive connections after 100 ms, and a stream whose slots
/// wait about 250 ms between buyers: every request after a slot's first would go out on a
/// connection the server has closed. Each goes out on a new one instead, and none is lost.
fn a_short_idle_timeout_loses_no_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("shop.db");
    let served = serve_with(&db, "conditional", &["--header-timeout", "100ms"]);
    let example = std::fs::read_to_string(repo().join("scenarios/examples/serve-sqlite.yaml")).expect("example");
    let yaml = example
        .replace("http://127.0.0.1:8080", &served.url)
        .replace("sqlite://shop.db", &format!("sqlite://{}", db.display()))
        .replace("    stock: 5\n", "    stock: 100\n")
        .replace("  count: 1500\n", "")
        .replace("expect:\n  outcomes:\n    won: 5\n", "")
        + "arrival: {mode: rate, rate: 4/s, duration: 3s, max_in_flight: 3}\nexpect:\n  outcomes:\n    won: 12\n    error: 0\n";
    let (ran, s) = run_yaml(&yaml, &[]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(s["outcomes"]["won"], 12, "{}", s["outcomes"]);
    assert_eq!(sold(&s), (12, 88));
}

const INT_IDS_SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS products (id INTEGER PRIMARY KEY, stock INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY AUTOINCREMENT, product_id INTEGER, user_id TEXT, \
     quantity_ordered INTEGER, status TEXT)",
    "INSERT OR IGNORE INTO products (id, stock) VALUES (1, 0), (2, 0)",
];

/// Integer ids in a JSON body, `400 {"detail":"Out of stock"}`, and failed attempts kept as
/// order rows: a correct shop, judged right only when truth counts `status = 'SUCCESS'` rows.
fn integer_ids_and_failed_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("shop.db");
    let file = db.clone();
    let shop = Shop::start(None, move || async move {
        let pool = shops::sqlite(&file, INT_IDS_SCHEMA).await;
        handler(move |r| {
            let pool = pool.clone();
            async move {
                if r.path == "/health" {
                    return shops::json(200, json!({"ok": true}));
                }
                let body = r.json();
                let (product, user, q) =
                    (body["productId"].as_i64(), body["userId"].as_str(), body["quantity"].as_i64());
                let (Some(product), Some(user), Some(q)) = (product, user, q) else {
                    return shops::json(422, json!({"detail": "bad body"}));
                };
                let mut tx = pool.begin().await.expect("tx");
                let sold = sqlx::query("UPDATE products SET stock = stock - ?1 WHERE id = ?2 AND stock >= ?1")
                    .bind(q)
                    .bind(product)
                    .execute(&mut *tx)
                    .await
                    .expect("update")
                    .rows_affected()
                    == 1;
                let status = if sold { "SUCCESS" } else { "FAILED_OUT_OF_STOCK" };
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO orders (product_id, user_id, quantity_ordered, status) VALUES (?1, ?2, ?3, ?4) RETURNING id",
                )
                .bind(product)
                .bind(user)
                .bind(q)
                .bind(status)
                .fetch_one(&mut *tx)
                .await
                .expect("insert");
                tx.commit().await.expect("commit");
                if sold {
                    shops::json(201, json!({"orderId": id}))
                } else {
                    shops::json(400, json!({"detail": "Out of stock"}))
                }
            }
        })
    });
    let yaml = format!(
        r#"name: int-ids
products:
  - id: "1"
    stock: 5
  - id: "2"
    stock: 3
buyers:
  count: 300
  id_format: "u-{{n}}"
target:
  kind: http
  urls: [{url}]
  warmup: {{path: /health}}
  order:
    path: /api/orders/{{product}}
    body: {{productId: "{{product:int}}", quantity: "{{quantity:int}}", userId: "{{buyer}}"}}
    outcomes:
      - {{status: 201, outcome: won}}
      - {{status: 400, json: {{/detail: Out of stock}}, outcome: sold_out}}
      - {{status: "5xx", outcome: error}}
    order_id: /orderId
  setup:
    - sql: DELETE FROM orders
    - sql: "UPDATE products SET stock = {{stock}} WHERE id = {{product:int}}"
truth:
  settle: 100ms
  sql:
    url: sqlite://{db}
    stock: SELECT id AS product, stock FROM products
    orders: "SELECT id, product_id AS product, user_id AS buyer, quantity_ordered AS quantity FROM orders WHERE status = 'SUCCESS'"
"#,
        url = shop.url(),
        db = db.display()
    );
    let (ran, s) = run_yaml(&yaml, &[]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    let products = s["products"].as_array().expect("products");
    let sold: Vec<(Option<u64>, Option<i64>)> =
        products.iter().map(|p| (p["orders"].as_u64(), p["final_stock"].as_i64())).collect();
    assert_eq!(sold, [(Some(5), Some(0)), (Some(3), Some(0))]);
    assert_eq!(s["outcomes"]["won"], 8);
    assert_eq!(s["outcomes"]["sold_out"], 292);
    assert_eq!(
        status(&s, "acked_orders_durable"),
        "pass",
        "order ids matched: {}",
        invariant(&s, "acked_orders_durable")
    );
}

/// No body and no buyer id, `200 {"message":"Sold Out!"}` in chunks, a plain-text 500 now
/// and then, and a Redis counter as the only truth: judged with what stock-only truth proves.
fn redis_counter_only() {
    let url = Service::Redis.available().expect("Redis");
    let key = format!("flashbench-test:{:08x}:stock", rand::random::<u32>());
    let (shop_url, shop_key) = (url.clone(), key.clone());
    let shop = Shop::start(None, move || async move {
        let client = redis::Client::open(shop_url.as_str()).expect("client");
        let conn = client.get_multiplexed_async_connection().await.expect("redis");
        let seen = Arc::new(AtomicU32::new(0));
        handler(move |r| {
            let (mut conn, key, seen) = (conn.clone(), shop_key.clone(), seen.clone());
            async move {
                if r.method == "GET" {
                    return Reply::Send(200, "text/plain", "ok".into());
                }
                if seen.fetch_add(1, Ordering::Relaxed) % 7 == 6 {
                    return Reply::Send(500, "text/plain", "Internal Server Error".into());
                }
                let left: i64 = redis::cmd("DECR").arg(&key).query_async(&mut conn).await.expect("decr");
                if left < 0 {
                    let _: i64 = redis::cmd("INCR").arg(&key).query_async(&mut conn).await.expect("incr");
                    Reply::Chunked(200, "application/json", json!({"message": "Sold Out!"}).to_string())
                } else {
                    Reply::Chunked(200, "application/json", json!({"message": "Order placed"}).to_string())
                }
            }
        })
    });
    let yaml = format!(
        r#"name: counter
products:
  - id: drop
    stock: 10
buyers:
  count: 400
target:
  kind: http
  urls: [{shop}]
  order:
    path: /buy
    outcomes:
      - {{status: 200, body: Sold Out, outcome: sold_out}}
      - {{status: 200, outcome: won}}
      - {{status: "5xx", outcome: error}}
  setup:
    - redis: [SET, "{key}", "{{stock}}"]
truth:
  settle: 100ms
  redis:
    url: {url}
    stock: {{key: "{key}"}}
"#,
        shop = shop.url()
    );
    let (ran, s) = run_yaml(&yaml, &[]);
    let client = redis::Client::open(url.as_str()).expect("client");
    let mut conn = client.get_connection().expect("connect");
    let _: () = redis::cmd("DEL").arg(&key).query(&mut conn).expect("del");
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(s["outcomes"]["won"], 10);
    assert!(s["outcomes"]["error"].as_u64() > Some(40), "{}", s["outcomes"]);
    assert_eq!(s["products"][0]["final_stock"], 0);
    assert_eq!(s["products"][0]["orders"], Value::Null, "no order records");
    assert_eq!(status(&s, "stock_conserved"), "not_applicable");
    assert!(invariant(&s, "stock_conserved")["detail"].as_str().is_some_and(|d| d.contains("no order records")));
    // Which sales the units that left the counter were cannot be told from stock alone.
    assert_eq!(status(&s, "acked_orders_durable"), "not_applicable");
    assert!(invariant(&s, "acked_orders_durable")["detail"].as_str().is_some_and(|d| d.contains("cannot be told")));
    assert_eq!(status(&s, "no_oversell"), "pass");
    assert_eq!(s["indeterminate"]["no_effect"], s["outcomes"]["error"], "errors resolved by counting units");
    assert!(
        s["top_errors"][0]["message"].as_str().is_some_and(|m| m.contains("Internal Server Error")),
        "{}",
        s["top_errors"]
    );
}

/// Keep-alive connections closed after 1 s without a whole request: one buyer's warm-up is
/// slow, the others wait prepared past that second, and their connections are reopened and
/// prepared again before the release. Truth from the shop's own stock route (least trusted).
fn idle_connections_closed_before_the_release() {
    let stock = Arc::new(Mutex::new(0i64));
    let healths = Arc::new(AtomicU32::new(0));
    let shop = Shop::start(Some(Duration::from_secs(1)), move || async move {
        handler(move |r| {
            let (stock, healths) = (stock.clone(), healths.clone());
            async move {
                if r.path == "/health" {
                    if healths.fetch_add(1, Ordering::Relaxed) == 5 {
                        tokio::time::sleep(Duration::from_millis(1600)).await;
                    }
                    return shops::json(200, json!({}));
                }
                if let Some(n) = r.path.strip_prefix("/reset?stock=") {
                    *stock.lock().expect("stock") = n.parse().unwrap_or(0);
                    return shops::json(200, json!({}));
                }
                if r.path.starts_with("/stock/") {
                    return shops::json(200, json!({"available": {"count": *stock.lock().expect("stock")}}));
                }
                let mut left = stock.lock().expect("stock");
                if *left > 0 {
                    *left -= 1;
                    shops::json(201, json!({"ok": true}))
                } else {
                    shops::json(409, json!({"ok": false}))
                }
            }
        })
    });
    let yaml = format!(
        r#"name: idle
products:
  - id: p
    stock: 20
buyers:
  count: 60
target:
  kind: http
  urls: [{url}]
  warmup: {{path: /health}}
  order: {{path: /orders, body: {{buyer: "{{buyer}}"}}}}
  setup:
    - http: {{method: POST, path: "/reset?stock={{stock}}"}}
truth:
  settle: 100ms
  http:
    stock: {{path: "/stock/{{product}}", pointer: /available/count}}
"#,
        url = shop.url()
    );
    let (ran, s) = run_yaml(&yaml, &[]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert!(s["reconnected"].as_u64() > Some(0), "connections were closed and prepared again: {}", s["reconnected"]);
    assert_eq!(s["outcomes"]["won"], 20);
    assert_eq!(s["outcomes"]["sold_out"], 40);
    assert_eq!(s["outcomes"]["error"], 0, "no attempt lost to a closed connection");
    assert!(s["target"]["store"].as_str().is_some_and(|t| t.contains("least trusted")), "{}", s["target"]);
}

/// The conditional sale of one unit of product 1 to `user`, in one transaction: true if sold.
async fn sell_one(pool: &sqlx::SqlitePool, user: &str) -> bool {
    let mut tx = pool.begin().await.expect("tx");
    let sold = sqlx::query("UPDATE products SET stock = stock - 1 WHERE id = 1 AND stock >= 1")
        .execute(&mut *tx)
        .await
        .expect("update")
        .rows_affected()
        == 1;
    if sold {
        sqlx::query("INSERT INTO orders (product_id, user_id, quantity_ordered, status) VALUES (1, ?1, 1, 'SUCCESS')")
            .bind(user)
            .execute(&mut *tx)
            .await
            .expect("insert");
    }
    tx.commit().await.expect("commit");
    sold
}

/// After 20 orders the pool deadlocks: every later request hangs, though each still commits
/// two seconds later for a buyer who gave up. The run ends on time, reports the timeouts,
/// resolves them from truth read once the commits stop, and fails on liveness: the buyers
/// were never answered and the target does not answer after the load (exit 1), while every
/// safety invariant holds.
fn a_deadlocked_pool() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("shop.db");
    let file = db.clone();
    let shop = Shop::start(None, move || async move {
        let pool = shops::sqlite(&file, INT_IDS_SCHEMA).await;
        let served = Arc::new(AtomicU32::new(0));
        let stuck = Arc::new(AtomicBool::new(false));
        handler(move |r| {
            let (pool, served, stuck) = (pool.clone(), served.clone(), stuck.clone());
            async move {
                if r.path == "/health" {
                    return shops::json(200, json!({}));
                }
                let late = stuck.load(Ordering::Acquire);
                if r.method == "POST" && served.fetch_add(1, Ordering::AcqRel) >= 20 {
                    stuck.store(true, Ordering::Release);
                }
                if r.method != "POST" {
                    return if late { Reply::Hang } else { shops::json(405, json!({})) };
                }
                if stuck.load(Ordering::Acquire) {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                let user = r.json()["user"].as_str().unwrap_or_default().to_string();
                let sold = sell_one(&pool, &user).await;
                if stuck.load(Ordering::Acquire) {
                    return Reply::Hang;
                }
                if sold {
                    shops::json(201, json!({}))
                } else {
                    shops::json(409, json!({}))
                }
            }
        })
    });
    let yaml = format!(
        r#"name: deadlock
products:
  - id: "1"
    stock: 500
buyers:
  count: 100
arrival:
  mode: ramp
  over: 1s
request_timeout: 1s
target:
  kind: http
  urls: [{url}]
  order: {{path: /orders, body: {{user: "{{buyer}}"}}}}
  setup:
    - sql: DELETE FROM orders
    - sql: "UPDATE products SET stock = {{stock}} WHERE id = {{product:int}}"
truth:
  settle: 500ms
  sql:
    url: sqlite://{db}
    stock: SELECT id AS product, stock FROM products
    orders: SELECT id, product_id AS product, user_id AS buyer, quantity_ordered AS quantity FROM orders
"#,
        url = shop.url(),
        db = db.display()
    );
    let started = Instant::now();
    let (ran, s) = run_yaml(&yaml, &[]);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1 + 1 + 10), "took {took:?}");
    assert_eq!(ran.code, 1, "a hung server is no pass: {}{}", ran.stdout, ran.stderr);
    assert!(s["outcomes"]["timeout"].as_u64() >= Some(70), "{}", s["outcomes"]);
    assert_eq!(s["target"]["after_run"], "unresponsive");
    assert!(s["indeterminate"]["took_effect"].as_u64() >= Some(70), "late commits resolved: {}", s["indeterminate"]);
    assert_eq!(s["products"][0]["orders"], 100, "every buyer's order committed in the end");
    assert_eq!(status(&s, "every_buyer_answered"), "fail", "{}", s["reasons"]);
    assert_eq!(status(&s, "target_alive_after_run"), "fail", "{}", s["reasons"]);
    for i in s["invariants"].as_array().expect("invariants") {
        let liveness = ["every_buyer_answered", "target_alive_after_run"].contains(&i["name"].as_str().unwrap_or(""));
        assert!(liveness || i["status"] != "fail", "safety holds: {i}");
    }
}

/// One worker sells one unit every 500 ms, whoever waits: the first buyers are answered, the
/// rest time out and are sold to after the load. Truth is read until two reads twice the
/// longest gap between two commits apart agree (1 s, though `truth.settle` is 200 ms), so it
/// sees every late sale: each timeout took effect, and nothing was undersold.
fn a_server_that_commits_slowly_after_the_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("shop.db");
    let file = db.clone();
    let shop = Shop::start(None, move || async move {
        let pool = shops::sqlite(&file, INT_IDS_SCHEMA).await;
        let worker = Arc::new(tokio::sync::Mutex::new(()));
        handler(move |r| {
            let (pool, worker) = (pool.clone(), worker.clone());
            async move {
                if r.method != "POST" {
                    return shops::json(200, json!({}));
                }
                let user = r.json()["user"].as_str().unwrap_or_default().to_string();
                // The sale goes on whether or not the buyer still waits.
                let sale = tokio::spawn(async move {
                    let _one_at_a_time = worker.lock().await;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    sell_one(&pool, &user).await
                });
                match sale.await {
                    Ok(true) => shops::json(201, json!({})),
                    _ => shops::json(409, json!({})),
                }
            }
        })
    });
    let yaml = format!(
        r#"name: slow-commits
products:
  - id: "1"
    stock: 6
buyers:
  count: 6
request_timeout: 1200ms
target:
  kind: http
  urls: [{url}]
  order: {{path: /orders, body: {{user: "{{buyer}}"}}}}
  setup:
    - sql: DELETE FROM orders
    - sql: "UPDATE products SET stock = {{stock}} WHERE id = {{product:int}}"
truth:
  settle: 200ms
  sql:
    url: sqlite://{db}
    stock: SELECT id AS product, stock FROM products
    orders: SELECT id, product_id AS product, user_id AS buyer, quantity_ordered AS quantity FROM orders
expect:
  may_also_violate: [every_buyer_answered]
"#,
        url = shop.url(),
        db = db.display()
    );
    let (ran, s) = run_yaml(&yaml, &[]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert!(s["outcomes"]["timeout"].as_u64() >= Some(1), "some buyers gave up: {}", s["outcomes"]);
    assert_eq!(s["products"][0]["final_stock"], 0, "every unit sold in the end: {}", s["truth"]);
    assert_eq!(s["indeterminate"]["took_effect"], s["outcomes"]["timeout"], "{}", s["indeterminate"]);
    assert_eq!(status(&s, "no_undersell"), "pass", "{}", invariant(&s, "no_undersell"));
}

/// After 10 orders the shop crashes: every later request's connection is closed unanswered.
/// Nothing was oversold or lost, yet it is no pass: `every_buyer_answered` and
/// `target_alive_after_run` fail (exit 1), with the closed connections as evidence.
fn a_shop_that_crashes_mid_sale() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("shop.db");
    let file = db.clone();
    let shop = Shop::start(None, move || async move {
        let pool = shops::sqlite(&file, INT_IDS_SCHEMA).await;
        let served = Arc::new(AtomicU32::new(0));
        handler(move |r| {
            let (pool, served) = (pool.clone(), served.clone());
            async move {
                if served.load(Ordering::Acquire) >= 10 {
                    return Reply::Close;
                }
                if r.method != "POST" {
                    return shops::json(200, json!({}));
                }
                served.fetch_add(1, Ordering::AcqRel);
                let user = r.json()["user"].as_str().unwrap_or_default().to_string();
                let sold = sell_one(&pool, &user).await;
                shops::json(if sold { 201 } else { 409 }, json!({}))
            }
        })
    });
    let yaml = format!(
        r#"name: crash
products:
  - id: "1"
    stock: 50
buyers:
  count: 60
arrival:
  mode: ramp
  over: 300ms
request_timeout: 2s
target:
  kind: http
  urls: [{url}]
  order: {{path: /orders, body: {{user: "{{buyer}}"}}}}
  setup:
    - sql: DELETE FROM orders
    - sql: "UPDATE products SET stock = {{stock}} WHERE id = {{product:int}}"
truth:
  sql:
    url: sqlite://{db}
    stock: SELECT id AS product, stock FROM products
    orders: SELECT id, product_id AS product, user_id AS buyer, quantity_ordered AS quantity FROM orders
"#,
        url = shop.url(),
        db = db.display()
    );
    let (ran, s) = run_yaml(&yaml, &[]);
    assert_eq!(ran.code, 1, "a crashed shop is no pass: {}{}", ran.stdout, ran.stderr);
    assert_eq!(status(&s, "every_buyer_answered"), "fail", "{}", s["reasons"]);
    assert!(
        invariant(&s, "every_buyer_answered")["detail"].as_str().is_some_and(|d| d.contains("lost their connection")),
        "{}",
        invariant(&s, "every_buyer_answered")
    );
    assert_eq!(status(&s, "target_alive_after_run"), "fail", "{}", s["reasons"]);
    assert_eq!(status(&s, "no_oversell"), "pass", "{}", invariant(&s, "no_oversell"));
    assert_eq!(s["products"][0]["orders"], 10);
}

/// Read the stock, wait, write it back: the shop oversells, and the verdict says so.
fn a_read_then_write_oversells() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("shop.db");
    let file = db.clone();
    let shop = Shop::start(None, move || async move {
        let pool = shops::sqlite(&file, INT_IDS_SCHEMA).await;
        handler(move |r| {
            let pool = pool.clone();
            async move {
                if r.method != "POST" {
                    return shops::json(200, json!({}));
                }
                let stock: i64 =
                    sqlx::query_scalar("SELECT stock FROM products WHERE id = 1").fetch_one(&pool).await.expect("read");
                tokio::time::sleep(Duration::from_millis(2)).await;
                if stock < 1 {
                    return shops::json(200, json!({"status": "SOLD_OUT"}));
                }
                sqlx::query("UPDATE products SET stock = ?1 WHERE id = 1")
                    .bind(stock - 1)
                    .execute(&pool)
                    .await
                    .expect("write");
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO orders (product_id, user_id, quantity_ordered, status) VALUES (1, ?1, 1, 'SUCCESS') RETURNING id",
                )
                .bind(r.json()["u"].as_str().unwrap_or_default())
                .fetch_one(&pool)
                .await
                .expect("insert");
                shops::json(200, json!({"status": "OK", "id": id}))
            }
        })
    });
    let yaml = format!(
        r#"name: oversell
products:
  - id: "1"
    stock: 5
buyers:
  count: 300
target:
  kind: http
  urls: [{url}]
  order:
    path: /checkout
    body: {{u: "{{buyer}}"}}
    outcomes:
      - {{status: 200, json: {{/status: SOLD_OUT}}, outcome: sold_out}}
      - {{status: 200, json: {{/status: OK}}, outcome: won}}
    order_id: /id
  setup:
    - sql: DELETE FROM orders
    - sql: "UPDATE products SET stock = {{stock}} WHERE id = 1"
truth:
  settle: 100ms
  sql:
    url: sqlite://{db}
    stock: SELECT id AS product, stock FROM products
    orders: SELECT id, product_id AS product, user_id AS buyer, quantity_ordered AS quantity FROM orders
"#,
        url = shop.url(),
        db = db.display()
    );
    let (ran, s) = run_yaml(&yaml, &[]);
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(status(&s, "no_oversell"), "fail", "{}", invariant(&s, "no_oversell"));
    assert!(s["products"][0]["orders"].as_u64() > Some(5));
}

/// A pool of two connections that raises instead of waiting: most of a burst gets a plain-text
/// `500 pool exhausted` while stock remains. Nothing oversells, but the sale undersells:
/// `no_undersell` fails, and the 500s are resolved (no effect) from the orders table.
fn a_pool_that_raises_undersells() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("shop.db");
    let file = db.clone();
    let shop = Shop::start(None, move || async move {
        let pool = shops::sqlite(&file, INT_IDS_SCHEMA).await;
        let permits = Arc::new(tokio::sync::Semaphore::new(2));
        handler(move |r| {
            let (pool, permits) = (pool.clone(), permits.clone());
            async move {
                if r.method != "POST" {
                    return shops::json(200, json!({}));
                }
                let Ok(_conn) = permits.try_acquire() else {
                    return Reply::Send(500, "text/plain", "pool exhausted: no connection available".into());
                };
                tokio::time::sleep(Duration::from_millis(5)).await;
                let sold = sqlx::query("UPDATE products SET stock = stock - 1 WHERE id = 1 AND stock >= 1")
                    .execute(&pool)
                    .await
                    .expect("update")
                    .rows_affected()
                    == 1;
                if !sold {
                    return shops::json(409, json!({"error": "Insufficient stock"}));
                }
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO orders (product_id, user_id, quantity_ordered, status) VALUES (1, ?1, 1, 'SUCCESS') RETURNING id",
                )
                .bind(r.json()["u"].as_str().unwrap_or_default())
                .fetch_one(&pool)
                .await
                .expect("insert");
                shops::json(201, json!({"id": id}))
            }
        })
    });
    let yaml = format!(
        r#"name: pool-raises
products:
  - id: "1"
    stock: 100
buyers:
  count: 300
target:
  kind: http
  urls: [{url}]
  order:
    path: /buy
    body: {{u: "{{buyer}}"}}
    order_id: /id
  setup:
    - sql: DELETE FROM orders
    - sql: "UPDATE products SET stock = {{stock}} WHERE id = 1"
truth:
  settle: 100ms
  sql:
    url: sqlite://{db}
    stock: SELECT id AS product, stock FROM products
    orders: SELECT id, product_id AS product, user_id AS buyer, quantity_ordered AS quantity FROM orders
"#,
        url = shop.url(),
        db = db.display()
    );
    let (ran, s) = run_yaml(&yaml, &[]);
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    let undersell = invariant(&s, "no_undersell");
    assert_eq!(undersell["status"], "fail", "{undersell}");
    assert!(undersell["detail"].as_str().is_some_and(|d| d.contains("error→no effect")), "{undersell}");
    assert_eq!(status(&s, "no_oversell"), "pass");
    let errors = s["outcomes"]["error"].as_u64().unwrap_or(0);
    assert!(errors > 100, "most of the burst got a 500: {}", s["outcomes"]);
    assert_eq!(s["indeterminate"]["no_effect"].as_u64(), Some(errors), "{}", s["indeterminate"]);
    assert!(
        s["top_errors"][0]["message"].as_str().is_some_and(|m| m.contains("pool exhausted")),
        "{}",
        s["top_errors"]
    );
}

/// A shop where each buyer logs in first: a token for the `Authorization` header and a session
/// cookie, both checked on every order. One buyer in ten has a wrong password: those buyers
/// are `not_sent`, with the reason, and the run goes on.
fn per_buyer_login() {
    let stock = Arc::new(Mutex::new(0i64));
    let shop = Shop::start(None, move || async move {
        handler(move |r| {
            let stock = stock.clone();
            async move {
                let body = r.json();
                let email = body["email"].as_str().unwrap_or_default().to_string();
                match (r.method.as_str(), r.path.as_str()) {
                    ("POST", "/reset") => {
                        *stock.lock().expect("stock") = body["stock"].as_i64().unwrap_or(0);
                        shops::json(200, json!({}))
                    }
                    ("GET", "/stock") => shops::json(200, json!({"left": *stock.lock().expect("stock")})),
                    ("POST", "/login") => {
                        let number = email.trim_start_matches("user").split('@').next().unwrap_or("").parse::<u32>();
                        if body["password"] != format!("pw-{}", email.split('@').next().unwrap_or(""))
                            || number.is_ok_and(|n| n % 10 == 0)
                        {
                            return shops::json(401, json!({"error": "bad credentials"}));
                        }
                        Reply::SendWith(
                            200,
                            "application/json",
                            json!({"token": format!("t-{email}")}).to_string(),
                            format!("sid=s-{email}; Path=/; HttpOnly"),
                        )
                    }
                    ("POST", "/orders") => {
                        let bearer_ok = r.header("authorization") == Some(&format!("Bearer t-{email}"));
                        let cookie_ok =
                            r.header("cookie").is_some_and(|c| c.split("; ").any(|c| c == format!("sid=s-{email}")));
                        if !(bearer_ok && cookie_ok) {
                            return shops::json(401, json!({"error": "not logged in"}));
                        }
                        let mut left = stock.lock().expect("stock");
                        if *left > 0 {
                            *left -= 1;
                            shops::json(201, json!({}))
                        } else {
                            shops::json(409, json!({}))
                        }
                    }
                    _ => shops::json(404, json!({})),
                }
            }
        })
    });
    let yaml = format!(
        r#"name: login
products:
  - id: p
    stock: 50
buyers:
  count: 100
  id_format: "user{{n}}"
target:
  kind: http
  urls: [{url}]
  headers: {{Authorization: "Bearer {{token}}"}}
  login:
    path: /login
    body: {{email: "{{buyer}}@example.test", password: "pw-{{buyer}}"}}
    token: /token
  order: {{path: /orders, body: {{email: "{{buyer}}@example.test"}}}}
  setup:
    - http: {{method: POST, path: /reset, body: {{stock: "{{stock:int}}"}}}}
truth:
  settle: 100ms
  http:
    stock: {{path: /stock, pointer: /left}}
"#,
        url = shop.url()
    );
    let (ran, s) = run_yaml(&yaml, &[]);
    assert_eq!(ran.code, 0, "{}{} {} {}", ran.stdout, ran.stderr, s["outcomes"], s["top_errors"]);
    assert_eq!(s["outcomes"]["not_sent"], 10, "{}", s["outcomes"]);
    assert_eq!(s["outcomes"]["won"], 50);
    assert_eq!(s["outcomes"]["sold_out"], 40);
    assert_eq!(s["outcomes"]["rejected"], 0, "every logged-in buyer's order carried its token and cookie");
    let reason = &s["top_errors"][0];
    assert_eq!(reason["count"], 10);
    assert!(reason["message"].as_str().is_some_and(|m| m.starts_with("login failed: 401")), "{reason}");
}

/// The smallest correct shop: `POST /reset {stock}`, `GET /stock`, and any other request buys
/// one unit under a lock (201, or 409 once none is left).
fn counter_shop(r: &shops::Request, stock: &Mutex<i64>) -> Reply {
    match r.path.as_str() {
        "/reset" => {
            *stock.lock().expect("stock") = r.json()["stock"].as_i64().unwrap_or(0);
            shops::json(200, json!({}))
        }
        "/stock" => shops::json(200, json!({"stock": *stock.lock().expect("stock")})),
        _ => {
            let mut left = stock.lock().expect("stock");
            if *left > 0 {
                *left -= 1;
                shops::json(201, json!({}))
            } else {
                shops::json(409, json!({}))
            }
        }
    }
}

/// An `https://` shop with a self-signed certificate: refused as untrusted (no request could
/// be sent: exit 4), taken with `insecure: true`, and the burst's last bytes still go in one
/// tight loop, as one TLS record each.
fn https_with_a_self_signed_certificate() {
    let stock = Arc::new(Mutex::new(0i64));
    let shop = Shop::start_tls(move || async move {
        handler(move |r| {
            let stock = stock.clone();
            async move { counter_shop(&r, &stock) }
        })
    });
    let yaml = |insecure: bool| {
        format!(
            r#"name: tls
products:
  - id: p
    stock: 20
buyers:
  count: 200
target:
  kind: http
  urls: [https://localhost:{port}]
  insecure: {insecure}
  order: {{path: /orders, body: {{b: "{{buyer}}"}}}}
  setup:
    - http: {{method: POST, path: /reset, body: {{stock: "{{stock:int}}"}}}}
truth:
  settle: 100ms
  http:
    stock: {{path: /stock, pointer: /stock}}
"#,
            port = shop.addr.port()
        )
    };
    let (ran, s) = run_yaml(&yaml(true), &[]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert_eq!((s["outcomes"]["won"].as_u64(), s["outcomes"]["sold_out"].as_u64()), (Some(20), Some(180)));
    assert_eq!(s["products"][0]["final_stock"], 0);
    assert!(s["release_us"].is_u64(), "a burst over TLS");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("strict.yaml");
    std::fs::write(&file, yaml(false)).expect("write");
    let strict =
        flashbench(&["run", &file.to_string_lossy(), "--quiet", "--out", &dir.path().join("out").to_string_lossy()]);
    assert_eq!(strict.code, 4, "an untrusted certificate: {}{}", strict.stdout, strict.stderr);
    assert!(
        format!("{}{}", strict.stdout, strict.stderr).to_lowercase().contains("certificate"),
        "{}{}",
        strict.stdout,
        strict.stderr
    );
}

/// `flashbench probe`: one request of each kind, shown with how it is read; no setup, no load.
fn probe_shows_each_request_and_how_it_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("shop.db");
    let served = serve(&db, "conditional");
    let example = std::fs::read_to_string(repo().join("scenarios/examples/serve-sqlite.yaml")).expect("example");
    let yaml = example
        .replace("http://127.0.0.1:8080", &served.url)
        .replace("sqlite://shop.db", &format!("sqlite://{}", db.display()));
    let file = dir.path().join("probe.yaml");
    std::fs::write(&file, yaml).expect("write");
    let p = flashbench(&["probe", &file.to_string_lossy()]);
    // No setup ran: the server was started empty, so the product is unknown to it.
    assert_eq!(p.code, 0, "{}{}", p.stdout, p.stderr);
    assert!(p.stdout.contains("warm-up    GET") && p.stdout.contains("→ 200"), "{}", p.stdout);
    assert!(p.stdout.contains("order      POST") && p.stdout.contains("→ 404"), "{}", p.stdout);
    assert!(p.stdout.contains("read as `rejected` by outcome rule 5"), "{}", p.stdout);
    assert!(p.stdout.contains("iphone-15: stock NOT FOUND"), "{}", p.stdout);
    drop(served);
    let gone = flashbench(&["probe", &file.to_string_lossy()]);
    assert_eq!(gone.code, 4, "{}", gone.stdout);
    assert!(gone.stdout.contains("no answer"), "{}", gone.stdout);
    let reference = flashbench(&["probe", "scenarios/limited.yaml"]);
    assert_eq!(reference.code, 2);
}

/// Mistakes in an http target's YAML are scenario errors with their line.
fn http_scenario_mistakes_are_refused_with_their_line() {
    let base = "name: t\nproducts:\n  - id: p-1\n    stock: 5\nbuyers:\n  count: 10\ntarget:\n  kind: http\n";
    let cases = [
        ("  urls: [http://127.0.0.1:1]\n  order: {path: /o}\n", "8:3: target.kind: an http target needs a truth source"),
        (
            "  urls: [ftp://x]\n  order: {path: /o}\ntruth:\n  http: {stock: {path: /s, pointer: /n}}\n",
            "9:3: target.urls[0]: \"ftp://x\": the scheme must be http",
        ),
        (
            "  urls: [http://x:1]\n  order: {path: \"/o/{prodct}\"}\ntruth:\n  http: {stock: {path: /s, pointer: /n}}\n",
            "target.order.path: unknown placeholder {prodct}",
        ),
        (
            "  urls: [http://x:1]\n  order: {path: /o, body: {id: \"{product:int}\"}}\ntruth:\n  http: {stock: {path: /s, pointer: /n}}\n",
            "target.order.body: {product:int} cannot hold \"p-1\"",
        ),
        (
            "  urls: [\"http://${FLASHBENCH_UNSET_FOR_TEST}\"]\n  order: {path: /o}\ntruth:\n  http: {stock: {path: /s, pointer: /n}}\n",
            "${FLASHBENCH_UNSET_FOR_TEST} is not set in the environment",
        ),
        (
            "  urls: [http://x:1]\n  order: {path: /o}\nserver:\n  backend: redis\ntruth:\n  http: {stock: {path: /s, pointer: /n}}\n",
            "server: `server:` configures the bundled reference server",
        ),
        (
            "  urls: [http://x:1]\n  order: {path: \"/o/{order_id}\"}\ntruth:\n  http: {stock: {path: /s, pointer: /n}}\n",
            "target.order: {order_id} is known only in `order.status`",
        ),
        (
            "  urls: [http://x:1]\n  order: {path: /o, order_id: /id, status: {path: \"/s/{order_id}\", pointer: /st, map: {OK: won}}}\ntruth:\n  http: {stock: {path: /s, pointer: /n}}\n",
            "target.order.status: the status is polled after an `accepted` answer, and no outcome rule gives `accepted`",
        ),
        (
            "  urls: [http://x:1]\n  order: {path: /o, outcomes: [{status: 202, outcome: accepted}], status: {path: \"/s/{order_id}\", pointer: /st, map: {OK: won}}}\ntruth:\n  http: {stock: {path: /s, pointer: /n}}\n",
            "target.order.status.path: {order_id} needs `order.order_id`",
        ),
        (
            "  urls: [http://x:1]\n  order: {path: /o, order_id: /id, outcomes: [{status: 202, outcome: accepted}], status: {path: \"/s/{order_id}\", pointer: /st, map: {QUEUED: accepted}}}\ntruth:\n  http: {stock: {path: /s, pointer: /n}}\n",
            "target.order.status.map: \"QUEUED\" cannot mean accepted",
        ),
        (
            "  urls: [http://x:1]\n  order: {path: /o, outcomes: [{status: 504, outcome: timeout}]}\ntruth:\n  http: {stock: {path: /s, pointer: /n}}\n",
            "target.order.outcomes[0]: an answer cannot be `timeout`",
        ),
    ];
    for (extra, want) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("t.yaml");
        std::fs::write(&file, format!("{base}{extra}")).expect("write");
        let v = flashbench(&["validate", &file.to_string_lossy()]);
        assert_eq!(v.code, 2, "{extra}: {}", v.stdout);
        assert!(v.stdout.contains(want), "{extra}: want {want:?} in {}", v.stdout);
    }
    let r = flashbench(&["run", "scenarios/examples/serve-sqlite.yaml", "--backend", "memory"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--backend applies to the reference server"), "{}", r.stderr);
}

const QUEUE_SCHEMA: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS products (id TEXT PRIMARY KEY, stock INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS orders (id TEXT PRIMARY KEY, product_id TEXT, user_id TEXT)",
    "INSERT OR IGNORE INTO products (id, stock) VALUES ('drop', 0)",
];

/// A shop that queues: `POST /orders` answers `202 {"ticket": …}` at once, and one worker
/// sells from the queue later (the order row's id is the ticket); `GET /orders/{ticket}`
/// answers `{"state": "PENDING" | "CONFIRMED" | "REJECTED"}`. With `lose_every` = n, the
/// worker drops every n-th job without a trace: its state stays PENDING forever.
fn queued_shop(db: std::path::PathBuf, lose_every: u32) -> Shop {
    Shop::start(None, move || async move {
        let pool = shops::sqlite(&db, QUEUE_SCHEMA).await;
        let states: Arc<Mutex<std::collections::HashMap<String, &'static str>>> = Arc::default();
        let (jobs, mut queue) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
        let (worker_pool, worker_states) = (pool.clone(), states.clone());
        tokio::spawn(async move {
            let mut n = 0u32;
            while let Some((ticket, user)) = queue.recv().await {
                n += 1;
                tokio::time::sleep(Duration::from_micros(500)).await;
                if lose_every > 0 && n.is_multiple_of(lose_every) {
                    continue;
                }
                let mut tx = worker_pool.begin().await.expect("tx");
                let sold = sqlx::query("UPDATE products SET stock = stock - 1 WHERE id = 'drop' AND stock >= 1")
                    .execute(&mut *tx)
                    .await
                    .expect("update")
                    .rows_affected()
                    == 1;
                if sold {
                    sqlx::query("INSERT INTO orders (id, product_id, user_id) VALUES (?1, 'drop', ?2)")
                        .bind(&ticket)
                        .bind(&user)
                        .execute(&mut *tx)
                        .await
                        .expect("insert");
                }
                tx.commit().await.expect("commit");
                let state = if sold { "CONFIRMED" } else { "REJECTED" };
                worker_states.lock().expect("states").insert(ticket, state);
            }
        });
        let tickets = Arc::new(AtomicU32::new(0));
        handler(move |r| {
            let (jobs, states, tickets) = (jobs.clone(), states.clone(), tickets.clone());
            async move {
                if let Some(ticket) = r.path.strip_prefix("/orders/") {
                    return match states.lock().expect("states").get(ticket) {
                        Some(state) => shops::json(200, json!({"state": state})),
                        None => shops::json(404, json!({"detail": "no such ticket"})),
                    };
                }
                let Some(user) = r.json()["user"].as_str().map(str::to_string) else {
                    return shops::json(422, json!({"detail": "who buys?"}));
                };
                let ticket = format!("t-{}", tickets.fetch_add(1, Ordering::Relaxed));
                states.lock().expect("states").insert(ticket.clone(), "PENDING");
                let _ = jobs.send((ticket.clone(), user));
                shops::json(202, json!({"ticket": ticket}))
            }
        })
    })
}

/// A queued-order scenario for `queued_shop`; `status` is the `order.status` block (or empty).
fn queued_yaml(url: &str, db: &std::path::Path, stock: u32, buyers: u32, status: &str, max_wait: &str) -> String {
    format!(
        r#"name: queued
products:
  - id: drop
    stock: {stock}
buyers:
  count: {buyers}
target:
  kind: http
  urls: [{url}]
  order:
    path: /orders
    body: {{user: "{{buyer}}"}}
    outcomes:
      - {{status: 202, outcome: accepted}}
      - {{status: "4xx", outcome: rejected}}
    order_id: /ticket
{status}  setup:
    - sql: DELETE FROM orders
    - sql: "UPDATE products SET stock = {{stock}} WHERE id = '{{product}}'"
truth:
  settle: 200ms
  max_wait: {max_wait}
  sql:
    url: sqlite://{db}
    stock: SELECT id AS product, stock FROM products
    orders: SELECT id, product_id AS product, user_id AS buyer, 1 AS quantity FROM orders
"#,
        db = db.display()
    )
}

const POLL_STATUS: &str = "    status: {path: \"/orders/{order_id}\", pointer: /state, map: {CONFIRMED: won, REJECTED: sold_out}, every: 50ms, within: 2s}\n";

/// Orders answered `202` and sold later by a worker, each polled to its final status: the
/// verdict is that of a correct shop, and latency is reported to the 202 and to the end.
fn queued_orders_polled_to_their_status() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("queue.db");
    let shop = queued_shop(db.clone(), 0);
    let yaml = queued_yaml(&shop.url(), &db, 5, 200, POLL_STATUS, "10s");
    let file = dir.path().join("queued.yaml");
    std::fs::write(&file, &yaml).expect("write");
    let probe = flashbench(&["probe", &file.to_string_lossy()]);
    assert!(probe.stdout.contains("read as `accepted` by outcome rule 1, order id t-0"), "{}", probe.stdout);
    assert!(probe.stdout.contains("status     GET") && probe.stdout.contains("/state → \""), "{}", probe.stdout);
    let (ran, s) = run_yaml(&yaml, &[]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert_eq!((s["outcomes"]["won"].as_u64(), s["outcomes"]["sold_out"].as_u64()), (Some(5), Some(195)));
    assert_eq!(s["outcomes"]["accepted"], 0, "every order got its final status");
    let q = &s["queued"];
    assert_eq!(q["accepted"], 200);
    assert_eq!((q["outcomes"]["won"].as_u64(), q["outcomes"]["sold_out"].as_u64()), (Some(5), Some(195)));
    let (to_202, to_end) = (q["to_accepted_us"]["p50"].as_u64(), q["to_final_us"]["p50"].as_u64());
    assert!(to_202.is_some_and(|a| to_end.is_some_and(|f| f > a)), "{q}");
    assert_eq!(status(&s, "acked_orders_durable"), "pass", "{}", invariant(&s, "acked_orders_durable"));
    assert_eq!(s["products"][0]["orders"], 5);
    assert!(ran.stdout.contains("200 orders queued (accepted): 195 sold_out, 5 won by their status"), "{}", ran.stdout);
}

/// The same shop without a status route: every order stays `accepted`, and ground truth,
/// read once the queue drained, settles each (the ticket is the stored order's id).
fn queued_orders_settled_by_truth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("queue.db");
    let shop = queued_shop(db.clone(), 0);
    let (ran, s) = run_yaml(&queued_yaml(&shop.url(), &db, 5, 200, "", "10s"), &[]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(s["outcomes"]["accepted"], 200);
    let unsettled = &s["queued"]["unsettled"];
    assert_eq!((unsettled["took_effect"].as_u64(), unsettled["no_effect"].as_u64()), (Some(5), Some(195)), "{s}");
    assert_eq!(s["products"][0]["final_stock"], 0);
    for name in ["no_oversell", "no_undersell", "acked_orders_durable", "no_phantom_orders", "stock_conserved"] {
        assert_eq!(status(&s, name), "pass", "{name}: {}", invariant(&s, name));
    }
}

/// A queue that drops every 10th job while stock remains: those orders were accepted and never
/// stored, so `acked_orders_durable` fails (and `no_undersell`: buyers went without while units
/// stayed unsold), whether or not their status is polled (it stays PENDING).
fn a_queue_that_loses_orders(status_block: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("queue.db");
    let shop = queued_shop(db.clone(), 10);
    let started = Instant::now();
    let (ran, s) = run_yaml(&queued_yaml(&shop.url(), &db, 100, 80, status_block, "1s"), &[]);
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    let acked = invariant(&s, "acked_orders_durable");
    assert_eq!(acked["status"], "fail", "{acked}");
    assert_eq!(acked["counts"]["accepted_lost"], 8, "{acked}");
    assert!(acked["detail"].as_str().is_some_and(|d| d.contains("8 accepted (queued) orders were lost")), "{acked}");
    assert_eq!(status(&s, "no_undersell"), "fail");
    assert_eq!(s["products"][0]["final_stock"], 28);
    assert_eq!(s["queued"]["unsettled"]["no_effect"], 8, "{}", s["queued"]);
    assert!(started.elapsed() < Duration::from_secs(30), "bounded: {:?}", started.elapsed());
}

/// A shop's store on a SQL server: PostgreSQL in a schema of its own, or MySQL/MariaDB with
/// tables named after the test; both dropped by `drop_all`.
#[derive(Clone)]
enum SqlShop {
    Postgres { url: String, schema: String },
    Mysql { url: String, prefix: String },
}

impl SqlShop {
    fn new(service: Service) -> SqlShop {
        let tag = format!("fbshop_{:08x}", rand::random::<u32>());
        let url = service.available().expect("service");
        match service {
            Service::Postgres => SqlShop::Postgres { url, schema: tag },
            _ => SqlShop::Mysql { url, prefix: tag },
        }
    }

    fn table(&self, name: &str) -> String {
        match self {
            SqlShop::Postgres { schema, .. } => format!("{schema}.{name}"),
            SqlShop::Mysql { prefix, .. } => format!("{prefix}_{name}"),
        }
    }

    fn schema(&self) -> Vec<String> {
        let (p, o) = (self.table("products"), self.table("orders"));
        let mut out = Vec::new();
        match self {
            SqlShop::Postgres { schema, .. } => {
                out.push(format!("CREATE SCHEMA {schema}"));
                out.push(format!("CREATE TABLE {p} (id INTEGER PRIMARY KEY, stock INTEGER NOT NULL)"));
                out.push(format!(
                    "CREATE TABLE {o} (id BIGSERIAL PRIMARY KEY, product_id INTEGER, user_id TEXT, qty INTEGER)"
                ));
            }
            SqlShop::Mysql { .. } => {
                out.push(format!("CREATE TABLE {p} (id INT PRIMARY KEY, stock INT NOT NULL) ENGINE=InnoDB"));
                out.push(format!(
                    "CREATE TABLE {o} (id BIGINT AUTO_INCREMENT PRIMARY KEY, product_id INT, user_id VARCHAR(64), qty INT) ENGINE=InnoDB"
                ));
            }
        }
        out.push(format!("INSERT INTO {p} (id, stock) VALUES (1, 0), (2, 0)"));
        out
    }

    /// Sells one unit of `product` to `user` in one transaction: the new order's id, or `None`
    /// when sold out.
    async fn sell(&self, pools: &ShopPool, product: i64, user: &str) -> Option<i64> {
        let (p, o) = (self.table("products"), self.table("orders"));
        let update = format!("UPDATE {p} SET stock = stock - 1 WHERE id = {product} AND stock >= 1");
        match pools {
            ShopPool::Postgres(pool) => {
                let mut tx = pool.begin().await.expect("tx");
                let sold = sqlx::query(sqlx::AssertSqlSafe(update)).execute(&mut *tx).await.expect("update");
                if sold.rows_affected() == 0 {
                    return None;
                }
                let insert =
                    format!("INSERT INTO {o} (product_id, user_id, qty) VALUES ({product}, $1, 1) RETURNING id");
                let id: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(insert))
                    .bind(user)
                    .fetch_one(&mut *tx)
                    .await
                    .expect("insert");
                tx.commit().await.expect("commit");
                Some(id)
            }
            ShopPool::Mysql(pool) => {
                let mut tx = pool.begin().await.expect("tx");
                let sold = sqlx::query(sqlx::AssertSqlSafe(update)).execute(&mut *tx).await.expect("update");
                if sold.rows_affected() == 0 {
                    return None;
                }
                let insert = format!("INSERT INTO {o} (product_id, user_id, qty) VALUES ({product}, ?, 1)");
                let done = sqlx::query(sqlx::AssertSqlSafe(insert)).bind(user).execute(&mut *tx).await.expect("insert");
                tx.commit().await.expect("commit");
                Some(done.last_insert_id() as i64)
            }
        }
    }

    async fn connect(&self) -> ShopPool {
        match self {
            SqlShop::Postgres { url, .. } => ShopPool::Postgres(
                sqlx::postgres::PgPoolOptions::new().max_connections(8).connect(url).await.expect("postgres"),
            ),
            SqlShop::Mysql { url, .. } => ShopPool::Mysql(
                sqlx::mysql::MySqlPoolOptions::new().max_connections(8).connect(url).await.expect("mysql"),
            ),
        }
    }

    fn drop_all(&self) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        rt.block_on(async {
            let statements = match self {
                SqlShop::Postgres { schema, .. } => vec![format!("DROP SCHEMA IF EXISTS {schema} CASCADE")],
                SqlShop::Mysql { .. } => {
                    vec![format!("DROP TABLE IF EXISTS {}, {}", self.table("orders"), self.table("products"))]
                }
            };
            let pools = self.connect().await;
            for s in statements {
                pools.execute(s).await.expect("drop");
            }
        });
    }
}

enum ShopPool {
    Postgres(sqlx::PgPool),
    Mysql(sqlx::MySqlPool),
}

impl ShopPool {
    /// Runs one statement.
    async fn execute(&self, statement: String) -> Result<(), sqlx::Error> {
        let sql = sqlx::AssertSqlSafe(statement);
        match self {
            ShopPool::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
            ShopPool::Mysql(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
        }
    }
}

/// A correct shop on PostgreSQL or MySQL/MariaDB, integer ids, `201 {"id": n}` or `409
/// {"error": "Insufficient stock"}`: two products sold out exactly, every invariant holds.
/// Truth is read from the shop's own tables, with ids cast (PostgreSQL) or as integers (MySQL).
fn a_shop_on_a_sql_server(service: Service) {
    let db = SqlShop::new(service);
    let shop_db = db.clone();
    let shop = Shop::start(None, move || async move {
        let pools = Arc::new(shop_db.connect().await);
        for s in shop_db.schema() {
            pools.execute(s).await.expect("schema");
        }
        handler(move |r| {
            let (db, pools) = (shop_db.clone(), pools.clone());
            async move {
                let product = r.path.rsplit('/').next().and_then(|p| p.parse::<i64>().ok());
                let user = r.json()["user"].as_str().map(str::to_string);
                let (Some(product), Some(user)) = (product, user) else {
                    return shops::json(400, json!({"error": "bad request"}));
                };
                match db.sell(&pools, product, &user).await {
                    Some(id) => shops::json(201, json!({"id": id})),
                    None => shops::json(409, json!({"error": "Insufficient stock"})),
                }
            }
        })
    });
    let (p, o) = (db.table("products"), db.table("orders"));
    let (url, stock, orders) = match &db {
        SqlShop::Postgres { url, .. } => (
            url.clone(),
            format!("SELECT id::text AS product, stock FROM {p}"),
            format!("SELECT id::text AS id, product_id::text AS product, user_id AS buyer, qty AS quantity FROM {o}"),
        ),
        SqlShop::Mysql { url, .. } => (
            url.clone(),
            format!("SELECT id AS product, stock FROM {p}"),
            format!("SELECT id, product_id AS product, user_id AS buyer, qty AS quantity FROM {o}"),
        ),
    };
    let yaml = format!(
        r#"name: sql-shop
products:
  - id: "1"
    stock: 5
  - id: "2"
    stock: 3
buyers:
  count: 200
target:
  kind: http
  urls: [{shop}]
  order:
    path: /buy/{{product}}
    body: {{user: "{{buyer}}"}}
    order_id: /id
  setup:
    - sql: DELETE FROM {o}
    - sql: "UPDATE {p} SET stock = {{stock}} WHERE id = {{product:int}}"
truth:
  settle: 100ms
  sql:
    url: {url}
    stock: "{stock}"
    orders: "{orders}"
"#,
        shop = shop.url()
    );
    let (ran, s) = run_yaml(&yaml, &[]);
    db.drop_all();
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    let sold: Vec<(Option<u64>, Option<i64>)> = s["products"]
        .as_array()
        .expect("products")
        .iter()
        .map(|p| (p["orders"].as_u64(), p["final_stock"].as_i64()))
        .collect();
    assert_eq!(sold, [(Some(5), Some(0)), (Some(3), Some(0))]);
    assert_eq!((s["outcomes"]["won"].as_u64(), s["outcomes"]["sold_out"].as_u64()), (Some(8), Some(192)));
    for name in ["no_oversell", "no_undersell", "acked_orders_durable", "no_phantom_orders", "stock_conserved"] {
        assert_eq!(status(&s, name), "pass", "{name}: {}", invariant(&s, name));
    }
}

/// A server's own request timeout answers `408` to a request whose last byte has not come
/// (prepared long before a slow release). Ten buyers get such an answer before the release;
/// it answers no order, so each prepares its request again on a new connection and buys or is
/// refused like everyone else. The shop holds the other buyers' warm-ups until the ten have
/// prepared again, so the release cannot come before their early answers: no timing decides
/// the order of events. Over plain HTTP and over TLS (where session tickets also arrive on an
/// idle connection and are not answers).
fn early_answers_before_the_release(tls: bool) {
    const EARLY: u32 = 10;
    let partials = Arc::new(tokio::sync::watch::Sender::new(0u32));
    let early_left = Arc::new(AtomicU32::new(EARLY));
    let early: shops::EarlyAnswer = {
        let (partials, early_left) = (partials.clone(), early_left.clone());
        Arc::new(move || {
            partials.send_modify(|n| *n += 1);
            let answer = early_left.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1)).is_ok();
            answer.then(|| "HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n".to_string())
        })
    };
    let stock = Arc::new(Mutex::new(0i64));
    let healths = Arc::new(AtomicU32::new(0));
    let shop = Shop::start_answering_early(tls, early, move || async move {
        handler(move |r| {
            let (stock, healths, mut partials) = (stock.clone(), healths.clone(), partials.subscribe());
            async move {
                match r.path.as_str() {
                    "/health" => {
                        if healths.fetch_add(1, Ordering::AcqRel) >= EARLY {
                            // Each early buyer's first prepared request, then its second.
                            let _ = partials.wait_for(|n| *n >= 2 * EARLY).await;
                        }
                        shops::json(200, json!({}))
                    }
                    _ => counter_shop(&r, &stock),
                }
            }
        })
    });
    let yaml = format!(
        r#"name: early
products:
  - id: p
    stock: 5
buyers:
  count: 20
target:
  kind: http
  urls: [{scheme}://localhost:{port}]
  insecure: true
  warmup: {{path: /health}}
  order: {{path: /orders, body: {{b: "{{buyer}}"}}}}
  setup:
    - http: {{method: POST, path: /reset, body: {{stock: "{{stock:int}}"}}}}
truth:
  settle: 100ms
  http:
    stock: {{path: /stock, pointer: /stock}}
"#,
        scheme = if tls { "https" } else { "http" },
        port = shop.addr.port()
    );
    let (ran, s) = run_yaml(&yaml, &[]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(s["early_answers"], EARLY, "every early answer was seen as one: {}", ran.stdout);
    assert_eq!(s["outcomes"]["rejected"], 0, "no 408 was taken for an order's answer: {}", ran.stdout);
    assert_eq!((s["outcomes"]["won"].as_u64(), s["outcomes"]["sold_out"].as_u64()), (Some(5), Some(15)));
}

fn main() -> std::process::ExitCode {
    let mut t = Trials::new();
    t.add("same_verdict_as_a_reference_run::correct", &[], || same_verdict_as_the_reference_run("conditional", 0));
    t.add("same_verdict_as_a_reference_run::naive", &[], || same_verdict_as_the_reference_run("naive", 1));
    t.add("shops::integer_ids_and_failed_rows", &[], integer_ids_and_failed_rows);
    t.add("shops::redis_counter_only", &[Service::Redis], redis_counter_only);
    t.add("shops::idle_connections_closed_before_the_release", &[], idle_connections_closed_before_the_release);
    t.add("shops::a_deadlocked_pool", &[], a_deadlocked_pool);
    t.add("shops::a_shop_that_crashes_mid_sale", &[], a_shop_that_crashes_mid_sale);
    t.add("shops::a_server_that_commits_slowly_after_the_load", &[], a_server_that_commits_slowly_after_the_load);
    t.add("shops::a_short_idle_timeout_loses_no_request", &[], a_short_idle_timeout_loses_no_request);
    t.add("shops::early_answers_before_the_release::http", &[], || early_answers_before_the_release(false));
    t.add("shops::early_answers_before_the_release::https", &[], || early_answers_before_the_release(true));
    t.add("shops::a_read_then_write_oversells", &[], a_read_then_write_oversells);
    t.add("shops::a_pool_that_raises_undersells", &[], a_pool_that_raises_undersells);
    t.add("shops::a_shop_on_a_sql_server::postgres", &[Service::Postgres], || {
        a_shop_on_a_sql_server(Service::Postgres)
    });
    t.add("shops::a_shop_on_a_sql_server::mysql", &[Service::Mysql], || a_shop_on_a_sql_server(Service::Mysql));
    t.add(
        "http_scenario_mistakes_are_refused_with_their_line",
        &[],
        http_scenario_mistakes_are_refused_with_their_line,
    );
    t.add("probe_shows_each_request_and_how_it_is_read", &[], probe_shows_each_request_and_how_it_is_read);
    t.add("shops::per_buyer_login", &[], per_buyer_login);
    t.add("shops::https_with_a_self_signed_certificate", &[], https_with_a_self_signed_certificate);
    t.add("shops::queued_orders_polled_to_their_status", &[], queued_orders_polled_to_their_status);
    t.add("shops::queued_orders_settled_by_truth", &[], queued_orders_settled_by_truth);
    t.add("shops::a_queue_that_loses_orders::polled", &[], || a_queue_that_loses_orders(POLL_STATUS));
    t.add("shops::a_queue_that_loses_orders::settled_by_truth", &[], || a_queue_that_loses_orders(""));
    t.run()
}
