//! `flashbench run` end to end on the seed scenarios: correct strategies sell exactly the
//! stock and pass every invariant; each broken one is caught with the right invariant.

mod common;
use common::*;

/// Orders in an SQLite file, read with a connection of our own.
fn orders_in_sqlite(file: &std::path::Path) -> i64 {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(file).read_only(true);
        let pool = sqlx::SqlitePool::connect_with(opts).await.expect("open orders.db");
        sqlx::query_scalar("SELECT COUNT(*) FROM orders").fetch_one(&pool).await.expect("count")
    })
}

const ALL: [&str; 8] = [
    "no_oversell",
    "no_undersell",
    "stock_conserved",
    "stock_never_negative",
    "acked_orders_durable",
    "no_phantom_orders",
    "per_buyer_limit",
    "no_win_after_sold_out",
];

#[test]
fn limited_sells_exactly_five_and_every_invariant_passes() {
    let (ran, s, dir) = run_scenario("scenarios/limited.yaml", &[]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(sold(&s), (5, 0));
    for name in ALL {
        assert_eq!(status(&s, name), "pass", "{name}: {}", invariant(&s, name));
    }
    assert_eq!(s["verdict"], "pass");
    assert_eq!(s["exit_code"], 0);
    assert_eq!(s["outcomes"]["won"], 5);
    assert_eq!(
        s["attempts"].as_u64(),
        Some(s["outcomes"].as_object().map_or(0, |o| o.values().filter_map(|v| v.as_u64()).sum()))
    );
    for key in ["all", "won", "sold_out", "busy", "rate_limited", "rejected", "error", "timeout"] {
        for field in ["count", "p50", "p90", "p99", "p999", "max"] {
            assert!(s["latency_us"][key][field].is_u64(), "latency_us.{key}.{field} in {}", s["latency_us"]);
        }
    }
    assert!(s["latency_us"]["won"]["count"] == 5);
    assert!(s["throughput_rps"].as_f64().is_some_and(|t| t > 0.0));
    assert!(s["duration_ms"].is_u64());
    for field in ["p50", "p99", "max"] {
        assert!(s["send_skew_us"][field].is_u64());
    }
    assert_eq!(s["target"]["backend"], "sqlite", "SQLite is the embedded default");
    assert_eq!(orders_in_sqlite(&dir.path().join("run/orders.db")), 5, "the run folder's orders.db holds the orders");
    let ledger = std::fs::read_to_string(dir.path().join("run/ledger.csv")).expect("ledger");
    assert_eq!(
        ledger.lines().count() as u64 - 1,
        s["attempts"].as_u64().unwrap_or(0),
        "a header and a row per attempt"
    );
    // --quiet: one verdict line on stdout, nothing from goose.
    assert_eq!(ran.stdout.lines().count(), 1, "stdout: {:?}", ran.stdout);
    assert!(ran.stdout.starts_with("PASS limited exit 0"), "{}", ran.stdout);
}

#[test]
fn single_unit_sells_exactly_one() {
    let (ran, s, _d) = run_scenario("scenarios/single-unit.yaml", &[]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(sold(&s), (1, 0));
}

#[test]
fn post_depletion_sells_nothing_and_every_attempt_is_sold_out() {
    let (ran, s, _d) = run_scenario("scenarios/post-depletion.yaml", &[]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(sold(&s), (0, 0));
    assert_eq!(s["outcomes"]["sold_out"], s["attempts"]);
    assert_eq!(s["attempts"], 1500);
}

#[test]
fn hyper_sells_only_the_contended_product() {
    let (ran, s, _d) = run_scenario("scenarios/hyper.yaml", &[]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    let products = s["products"].as_array().expect("products");
    assert_eq!(products.len(), 5);
    assert_eq!((products[0]["orders"].as_u64(), products[0]["final_stock"].as_i64()), (Some(5), Some(0)));
    assert!(products[1..].iter().all(|p| p["orders"] == 0 && p["final_stock"] == p["initial_stock"]));
}

#[test]
fn naive_is_caught_overselling() {
    let (ran, s, _d) = run_scenario("scenarios/limited.yaml", &["--strategy", "naive"]);
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(status(&s, "no_oversell"), "fail");
    assert!(sold(&s).0 > 5);
    assert_eq!(s["verdict"], "fail");
    assert!(ran.stdout.contains("no_oversell violated"), "{}", ran.stdout);
}

#[test]
fn seed_lock_is_caught_underselling() {
    // A race that undersells in nearly every run, not all: three tries make a miss unlikely
    // (about 1 in 40 each), and any repetition's violation fails the run.
    let (ran, s, _d) = run_scenario("scenarios/limited.yaml", &["--strategy", "seed-lock", "--repeat", "3"]);
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(status(&s, "no_undersell"), "fail", "{}", invariant(&s, "no_undersell"));
    assert_eq!(status(&s, "no_oversell"), "pass");
    let (orders, left) = sold(&s);
    assert!(orders < 5 && left > 0, "orders {orders}, left {left}");
    assert!(s["outcomes"]["busy"].as_u64() > Some(0));
}

#[test]
fn two_memory_instances_are_caught_overselling() {
    let (ran, s, _d) = run_scenario("scenarios/limited.yaml", &["--backend", "memory", "--instances", "2"]);
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(status(&s, "no_oversell"), "fail");
    assert_eq!(sold(&s).0, 10, "each instance sells its own copy of the 5 units");
    assert_eq!(s["target"]["instances"], 2);
}

#[test]
fn child_process_servers_give_the_same_verdict() {
    let (ran, s, _d) = run_scenario("scenarios/limited.yaml", &["--placement", "child"]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(s["target"]["placement"], "child processes");
    assert_eq!(sold(&s), (5, 0));
    let (ran, s, _d) = run_scenario("scenarios/limited.yaml", &["--placement", "child", "--strategy", "naive"]);
    assert_eq!(ran.code, 1);
    assert_eq!(status(&s, "no_oversell"), "fail");
}

#[test]
fn buyers_override_replaces_the_scenario_count() {
    let (ran, s, _d) = run_scenario("scenarios/limited.yaml", &["--buyers", "40"]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(s["buyers"], 40);
    assert_eq!(s["attempts"], 40);
    assert_eq!(sold(&s), (5, 0));
}

#[test]
fn a_suite_with_a_breaking_scenario_exits_one_and_names_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = dir.path().join("suite");
    std::fs::create_dir(&suite).expect("mkdir");
    let limited = std::fs::read_to_string(repo().join("scenarios/limited.yaml")).expect("read");
    std::fs::write(
        suite.join("a-good.yaml"),
        limited.replace("name: limited", "name: good").replace("count: 1500", "count: 50"),
    )
    .expect("w");
    std::fs::write(
        suite.join("b-broken.yaml"),
        limited.replace("name: limited", "name: broken").replace("strategy: conditional", "strategy: naive"),
    )
    .expect("w");
    let out = dir.path().join("out");
    let ran = flashbench(&["run", &suite.to_string_lossy(), "--quiet", "--out", &out.to_string_lossy()]);
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("FAIL  exit 1  broken"), "{}", ran.stdout);
    assert!(ran.stdout.contains("PASS  exit 0  good"), "{}", ran.stdout);
    assert!(read_summary(&out.join("good")).is_some() && read_summary(&out.join("broken")).is_some());
}
