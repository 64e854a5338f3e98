//! Every backend on the real stores (SQLite embedded; PostgreSQL and Redis as they run on this
//! machine): correct strategies sell exactly 1, 5 and 0 units of the seed scenarios with one
//! and with three instances, every broken one is caught, data is cleaned up, and a store that
//! cannot be reached ends the run quickly with exit 4.

mod common;
use common::*;
use std::time::{Duration, Instant};

const CORRECT: [(&str, &str); 5] = [
    ("sqlite", "conditional"),
    ("postgres", "conditional"),
    ("postgres", "for-update"),
    ("redis", "lua"),
    ("memory", "atomic"),
];

const BROKEN: [(&str, &str, &str); 8] = [
    ("sqlite", "naive", "no_oversell"),
    ("sqlite", "seed-lock", "no_undersell"),
    ("postgres", "naive", "no_oversell"),
    ("postgres", "optimistic", "no_undersell"),
    ("redis", "naive", "no_oversell"),
    ("redis", "seed-lock", "no_undersell"),
    ("memory", "naive", "no_oversell"),
    ("memory", "seed-lock", "no_undersell"),
];

fn run_on(
    scenario: &str,
    backend: &str,
    strategy: &str,
    instances: &str,
    repeat: &str,
) -> Option<(Ran, serde_json::Value)> {
    let extra = service_args(backend)?;
    let mut args = vec!["--backend", backend, "--strategy", strategy, "--instances", instances, "--repeat", repeat];
    args.extend(extra.iter().map(String::as_str));
    let (ran, s, _d) = run_scenario(scenario, &args);
    Some((ran, s))
}

#[test]
fn correct_strategies_sell_exactly_the_stock() {
    for (backend, strategy) in CORRECT {
        let instances: &[&str] = if backend == "memory" { &["1"] } else { &["1", "3"] };
        for n in instances {
            for (scenario, units) in
                [("scenarios/single-unit.yaml", 1), ("scenarios/limited.yaml", 5), ("scenarios/post-depletion.yaml", 0)]
            {
                let Some((ran, s)) = run_on(scenario, backend, strategy, n, "1") else { continue };
                let what = format!("{backend}/{strategy} ×{n} {scenario}");
                assert_eq!(ran.code, 0, "{what}: {}{}", ran.stdout, ran.stderr);
                assert_eq!(sold(&s), (units, 0), "{what}");
                for i in s["invariants"].as_array().expect("invariants") {
                    assert_ne!(i["status"], "fail", "{what}: {i}");
                }
            }
        }
    }
}

#[test]
fn broken_strategies_are_caught_with_three_instances() {
    for (backend, strategy, invariant) in BROKEN {
        let n = if backend == "memory" { "1" } else { "3" };
        // Underselling is a race that shows in nearly every run, not all (oversells show in
        // every one); any violation in three repetitions fails the run.
        let repeat = if invariant == "no_undersell" { "3" } else { "1" };
        let Some((ran, s)) = run_on("scenarios/limited.yaml", backend, strategy, n, repeat) else { continue };
        assert_eq!(ran.code, 1, "{backend}/{strategy}: {}{}", ran.stdout, ran.stderr);
        assert_eq!(status(&s, invariant), "fail", "{backend}/{strategy}: {}", invariant_detail(&s, invariant));
    }
}

fn invariant_detail(s: &serde_json::Value, name: &str) -> String {
    invariant(s, name)["detail"].as_str().unwrap_or_default().to_string()
}

#[test]
fn runs_clean_up_their_schema_and_keys_unless_kept() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    if let Some(url) = Service::Postgres.available() {
        for keep in [false, true] {
            let mut args = vec!["--backend", "postgres", "--database-url", &url, "--buyers", "20"];
            if keep {
                args.push("--keep-data");
            }
            let (ran, s, _d) = run_scenario("scenarios/limited.yaml", &args);
            assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
            let store = s["target"]["store"].as_str().unwrap_or_default().to_string();
            let schema = store.rsplit(' ').next().unwrap_or_default().to_string();
            assert!(schema.starts_with("fb_limited_"), "{store}");
            let exists: bool = rt.block_on(async {
                let pool = sqlx::PgPool::connect(&url).await.expect("connect");
                let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_namespace WHERE nspname = $1")
                    .bind(&schema)
                    .fetch_one(&pool)
                    .await
                    .expect("query");
                if n > 0 {
                    let orders: i64 =
                        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM \"{schema}\".orders")))
                            .fetch_one(&pool)
                            .await
                            .expect("orders");
                    assert_eq!(orders, 5, "the kept schema holds the run's orders");
                    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA \"{schema}\" CASCADE")))
                        .execute(&pool)
                        .await
                        .expect("drop");
                }
                n > 0
            });
            assert_eq!(exists, keep, "schema {schema} kept={keep}");
        }
    }
    if let Some(url) = Service::Redis.available() {
        for keep in [false, true] {
            let mut args = vec!["--backend", "redis", "--redis-url", &url, "--buyers", "20"];
            if keep {
                args.push("--keep-data");
            }
            let (ran, s, _d) = run_scenario("scenarios/limited.yaml", &args);
            assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
            let store = s["target"]["store"].as_str().unwrap_or_default().to_string();
            let pattern = store.rsplit(' ').next().unwrap_or_default().to_string();
            assert!(pattern.starts_with("flashbench:limited:") && pattern.ends_with(":*"), "{store}");
            let keys: Vec<String> = rt.block_on(async {
                let client = redis::Client::open(url.as_str()).expect("client");
                let mut conn = client.get_multiplexed_async_connection().await.expect("connect");
                let keys: Vec<String> = redis::cmd("KEYS").arg(&pattern).query_async(&mut conn).await.expect("keys");
                if !keys.is_empty() {
                    let _: () = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await.expect("del");
                }
                keys
            });
            assert_eq!(!keys.is_empty(), keep, "keys {pattern} kept={keep}: {keys:?}");
        }
    }
}

#[test]
fn an_unreachable_store_ends_the_run_quickly_with_exit_4() {
    for (backend, flag, url) in [
        ("redis", "--redis-url", "redis://127.0.0.1:1"),
        ("postgres", "--database-url", "postgres://postgres@127.0.0.1:1/test"),
    ] {
        let started = Instant::now();
        let (ran, s, _d) = run_scenario("scenarios/limited.yaml", &["--backend", backend, flag, url]);
        assert_eq!(ran.code, 4, "{backend}: {}{}", ran.stdout, ran.stderr);
        assert!(started.elapsed() < Duration::from_secs(10), "{backend} took {:?}", started.elapsed());
        let error = s["error"].as_str().unwrap_or_default();
        assert!(error.contains(url) && error.contains("refused"), "{backend}: {error}");
        assert!(s["invariants"].as_array().expect("invariants").iter().all(|i| i["status"] == "not_applicable"));
        assert_eq!(s["verdict"], "fail");
    }
}
