//! The reference server's HTTP API: correct answers, 4xx JSON (never 5xx) for malformed
//! requests, admin routes behind the token, the per-buyer rate limit.

use flashbench::model::{RateLimit, Strategy};
use flashbench::server::store::{SeedProduct, StoreLocation, StoreOptions};
use flashbench::server::{self, RunningServer, ServerConfig};
use serde_json::{json, Value};
use std::time::Duration;

const TOKEN: &str = "test-token";

async fn start(rate_limit: &str) -> RunningServer {
    let config = ServerConfig {
        store: StoreOptions {
            location: StoreLocation::Memory,
            pool_size: 1,
            timeout: Duration::from_secs(3),
            acquire_timeout: Duration::from_secs(3),
            latency: Duration::ZERO,
        },
        strategy: Strategy::Atomic,
        rate_limit: rate_limit.parse::<RateLimit>().expect("rate"),
        admin_token: TOKEN.into(),
        instance: 0,
        limits: server::ConnLimits::defaults(),
    };
    let srv = server::start(&config, "127.0.0.1:0".parse().expect("addr")).await.expect("start");
    srv.store
        .seed(&[SeedProduct { id: "p".into(), name: "P".into(), stock: 2, limit_per_buyer: 1 }])
        .await
        .expect("seed");
    srv
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().expect("client")
}

async fn post(srv: &RunningServer, body: &str, content_type: Option<&str>) -> (u16, Value) {
    let mut req = client().post(format!("{}/orders", srv.url())).body(body.to_string());
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.expect("send");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn orders_sell_out_and_enforce_the_buyer_limit() {
    let srv = start("off").await;
    let order = |b: &str| json!({"product_id": "p", "buyer_id": b}).to_string();
    let (s, body) = post(&srv, &order("a"), Some("application/json")).await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["order"]["buyer_id"], "a");
    assert_eq!(body["remaining_stock"], 1);
    assert_eq!(post(&srv, &order("a"), Some("application/json")).await.0, 403, "limit of 1 per buyer");
    assert_eq!(post(&srv, &order("b"), Some("application/json")).await.0, 201);
    let (s, body) = post(&srv, &order("c"), Some("application/json")).await;
    assert_eq!((s, body["error"].as_str()), (409, Some("sold_out")));
    let product: Value =
        client().get(format!("{}/products/p", srv.url())).send().await.expect("get").json().await.expect("json");
    assert_eq!(product["stock"], 0);
    assert_eq!(client().get(format!("{}/products/zz", srv.url())).send().await.expect("get").status(), 404);
    assert_eq!(client().get(format!("{}/healthz", srv.url())).send().await.expect("get").status(), 200);
}

#[tokio::test]
async fn malformed_requests_get_a_4xx_json_error() {
    let srv = start("off").await;
    let ct = Some("application/json");
    let cases: Vec<(&str, Option<&str>, u16)> = vec![
        ("{not json", ct, 400),
        ("", ct, 400),
        ("{\"product_id\": \"p\"}", ct, 422),
        ("{\"product_id\": 5, \"buyer_id\": \"a\"}", ct, 422),
        ("{\"product_id\": \"p\", \"buyer_id\": \"a\", \"quantity\": 0}", ct, 422),
        ("{\"product_id\": \"p\", \"buyer_id\": \"a\", \"quantity\": -3}", ct, 422),
        ("{\"product_id\": \"p\", \"buyer_id\": \"a\", \"extra\": 1}", ct, 422),
        ("{\"product_id\": \"\", \"buyer_id\": \"a\"}", ct, 422),
        ("{\"product_id\": \"p\", \"buyer_id\": \"a\"}", None, 415),
        ("{\"product_id\": \"p\", \"buyer_id\": \"a\"}", Some("text/plain"), 415),
        ("{\"product_id\": \"nope\", \"buyer_id\": \"a\"}", ct, 404),
    ];
    for (body, content_type, want) in cases {
        let (status, json) = post(&srv, body, content_type).await;
        assert_eq!(status, want, "{body:?} with {content_type:?}: {json}");
        assert!(json["error"].is_string() && json["message"].is_string(), "{body:?}: {json}");
    }
    let long = "x".repeat(200);
    let (status, _) = post(&srv, &json!({"product_id": "p", "buyer_id": long}).to_string(), ct).await;
    assert_eq!(status, 422);
    let resp = client().get(format!("{}/no/such/route", srv.url())).send().await.expect("get");
    assert_eq!(resp.status(), 404);
    let resp = client().delete(format!("{}/orders", srv.url())).send().await.expect("delete");
    assert_eq!(resp.status(), 405);
    assert!(resp.json::<Value>().await.expect("json")["error"].is_string());
    // Nothing was sold by any of it.
    assert_eq!(srv.store.snapshot().await.expect("snapshot").orders.len(), 0);
}

#[tokio::test]
async fn control_characters_in_ids_and_duplicate_seeds_are_refused_at_the_edge() {
    let srv = start("off").await;
    for body in [json!({"product_id": "p\u{0}", "buyer_id": "a"}), json!({"product_id": "p", "buyer_id": "a\nb"})] {
        let (s, answer) = post(&srv, &body.to_string(), Some("application/json")).await;
        assert_eq!((s, answer["error"].as_str()), (422, Some("bad_request")), "{body}: {answer}");
        assert!(answer["message"].as_str().is_some_and(|m| m.contains("control characters")), "{answer}");
    }
    let got = client().get(format!("{}/products/p%00", srv.url())).send().await.expect("get");
    assert_eq!(got.status(), 422, "a NUL in the path too");
    let seed = client()
        .post(format!("{}/admin/seed", srv.url()))
        .bearer_auth(TOKEN)
        .json(&json!({"products": [{"id": "q", "stock": 1}, {"id": "q", "stock": 2}]}))
        .send()
        .await
        .expect("seed");
    assert_eq!(seed.status(), 422);
    let answer: Value = seed.json().await.expect("json");
    assert!(answer["message"].as_str().is_some_and(|m| m.contains("\"q\" is given twice")), "{answer}");
    assert_eq!(srv.store.snapshot().await.expect("snapshot").orders.len(), 0, "nothing changed");
}

#[tokio::test]
async fn admin_routes_need_the_token() {
    let srv = start("off").await;
    let c = client();
    assert_eq!(c.get(format!("{}/admin/truth", srv.url())).send().await.expect("get").status(), 401);
    let wrong = c.get(format!("{}/admin/truth", srv.url())).bearer_auth("nope").send().await.expect("get");
    assert_eq!(wrong.status(), 401);
    let truth = |auth: String| c.get(format!("{}/admin/truth", srv.url())).header("authorization", auth).send();
    // Same length, one byte off; the token as a prefix; another scheme: all refused.
    for auth in ["Bearer test-tokeN", "Bearer test-toke", "Basic test-token", "test-token"] {
        assert_eq!(truth(auth.to_string()).await.expect("get").status(), 401, "{auth}");
    }
    // The scheme's case does not matter (RFC 9110).
    for auth in ["bearer test-token", "BEARER test-token"] {
        assert_eq!(truth(auth.to_string()).await.expect("get").status(), 200, "{auth}");
    }
    let seed = c
        .post(format!("{}/admin/seed", srv.url()))
        .bearer_auth(TOKEN)
        .json(&json!({"products": [{"id": "q", "stock": 7}]}))
        .send()
        .await
        .expect("seed");
    assert_eq!(seed.status(), 204);
    let bad_seed = c
        .post(format!("{}/admin/seed", srv.url()))
        .bearer_auth(TOKEN)
        .json(&json!({"products": [{"id": "q"}]}))
        .send()
        .await
        .expect("seed");
    assert_eq!(bad_seed.status(), 422);
    let truth: Value = c
        .get(format!("{}/admin/truth", srv.url()))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(truth["products"], json!([{"id": "q", "name": "", "stock": 7}]));
    assert_eq!(truth["orders"], json!([]));
}

#[tokio::test]
async fn the_store_latency_is_set_at_run_time_behind_the_token() {
    let srv = start("off").await;
    let c = client();
    let put = |token: &'static str, body: Value| {
        c.put(format!("{}/admin/store-latency", srv.url())).bearer_auth(token).json(&body).send()
    };
    assert_eq!(put("nope", json!({"latency_us": 1000})).await.expect("put").status(), 401);
    assert_eq!(put(TOKEN, json!({"latency_us": 61_000_000})).await.expect("put").status(), 422, "over a minute");
    assert_eq!(put(TOKEN, json!({"latency": 5})).await.expect("put").status(), 422, "an unknown field");
    assert_eq!(put(TOKEN, json!({"latency_us": 150_000})).await.expect("put").status(), 204);
    let srv = &srv;
    let timed = |buyer: &'static str| async move {
        let started = std::time::Instant::now();
        let body = json!({"product_id": "p", "buyer_id": buyer}).to_string();
        (post(srv, &body, Some("application/json")).await.0, started.elapsed())
    };
    let (status, took) = timed("slow").await;
    assert_eq!(status, 201);
    assert!(took >= Duration::from_millis(150), "the order waited the added 150 ms: {took:?}");
    assert_eq!(put(TOKEN, json!({"latency_us": 0})).await.expect("put").status(), 204);
    let (status, took) = timed("fast").await;
    assert_eq!(status, 201);
    assert!(took < Duration::from_millis(150), "and no longer once it is 0: {took:?}");
}

#[tokio::test]
async fn the_rate_limit_answers_429_per_buyer() {
    let srv = start("2/min").await;
    let ct = Some("application/json");
    let body = |b: &str| json!({"product_id": "nope", "buyer_id": b}).to_string();
    assert_eq!(post(&srv, &body("a"), ct).await.0, 404);
    assert_eq!(post(&srv, &body("a"), ct).await.0, 404);
    let (status, json) = post(&srv, &body("a"), ct).await;
    assert_eq!((status, json["error"].as_str()), (429, Some("rate_limited")));
    assert_eq!(post(&srv, &body("b"), ct).await.0, 404, "another buyer is not limited");
}
