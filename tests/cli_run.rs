//! `flashbench run` end to end on the seed scenarios: correct strategies sell exactly the
//! stock and pass every invariant; each broken one is caught with the right invariant.

mod common;
use common::*;

/// Orders in an SQLite file, read with a connection of our own.
fn orders_in_sqlite(file: &std::path::Path) -> i64 {
    try_orders_in_sqlite(file).unwrap_or_else(|e| panic!("count the orders in {}: {e}", file.display()))
}

/// The same, or why not (a file whose tables are not created yet, while a run starts).
fn try_orders_in_sqlite(file: &std::path::Path) -> Result<i64, sqlx::Error> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let opts = sqlx::sqlite::SqliteConnectOptions::new().filename(file).read_only(true);
        let pool = sqlx::SqlitePool::connect_with(opts).await?;
        sqlx::query_scalar("SELECT COUNT(*) FROM orders").fetch_one(&pool).await
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
    // Latency runs from the release, service time from each buyer's own send: in a burst the
    // first is never shorter, and the gap at the top is the gate's writing.
    let (lat, svc) = (&s["latency_us"]["all"], &s["service_time_us"]["all"]);
    assert_eq!(lat["count"], svc["count"]);
    for field in ["p50", "p99", "max"] {
        assert!(lat[field].as_u64() >= svc[field].as_u64(), "{field}: latency {lat} vs service {svc}");
    }
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
    // Both sides' memory is measured: 1,500 connections grow flashbench and the server.
    let r = &s["resources"];
    assert_eq!(r["connections"], 1500, "{r}");
    for side in ["flashbench", "servers"] {
        let (before, peak) = (r[side]["before_load_bytes"].as_u64(), r[side]["peak_bytes"].as_u64());
        assert!(before.is_some_and(|b| b > 0) && peak >= before, "{side}: {r}");
    }
    assert!(r["server_bytes_per_connection"].as_f64().is_some_and(|b| b > 0.0), "{r}");
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

/// Writes `text` as a scenario file in a fresh folder.
fn scenario_file(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("s.yaml");
    std::fs::write(&path, text).expect("write");
    let p = path.to_string_lossy().into_owned();
    (dir, p)
}

#[test]
fn the_seeds_mistake_is_not_made_again_timeouts_resolve_to_no_effect() {
    // The seed design with a request timeout so short that most buyers give up: before, one
    // timeout made no_undersell "not applicable" and the run passed with 5 units unsold.
    let text = std::fs::read_to_string(repo().join("scenarios/limited.yaml")).expect("read");
    let (_d, file) = scenario_file(&text.replace("request_timeout: 10s", "request_timeout: 1ms"));
    let (ran, s, _out) = run_scenario(&file, &["--backend", "memory", "--strategy", "seed-lock"]);
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(status(&s, "no_undersell"), "fail");
    let under = invariant(&s, "no_undersell");
    let detail = under["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("timeout→no effect"), "the evidence names the timeouts resolved to no effect: {detail}");
    assert!(under["examples"][0].as_str().is_some_and(|e| e.ends_with("timeout→no effect")), "{under}");
    let ind = &s["indeterminate"];
    assert_eq!(ind["total"], s["outcomes"]["timeout"], "{ind}");
    assert!(ind["no_effect"].as_u64() > Some(0), "{ind}");
    let ledger = std::fs::read_to_string(_out.path().join("run/ledger.csv")).expect("ledger");
    assert!(
        ledger.lines().next().is_some_and(|h| h.starts_with("repetition,") && h.contains(",resolved,")),
        "{ledger:.200}"
    );
    assert!(ledger.contains(",timeout,no_effect,"), "ledger rows carry the resolution");
}

#[test]
fn buyers_wanting_several_orders_of_several_units_get_exactly_the_stock() {
    // 10 buyers want 2 orders of 2 units each (limit 2): 20 units of demand for 12 in stock.
    let (_d, file) = scenario_file(
        "name: multi\nproducts:\n  - id: p\n    stock: 12\nbuyers:\n  count: 10\n  quantity: 2\n  wants: 2\n  limit: 2\n  \
         attempts: 2\nserver:\n  backend: memory\n",
    );
    let (ran, s, _o) = run_scenario(&file, &[]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    let p = &s["products"][0];
    assert_eq!(
        (p["orders"].as_u64(), p["units_ordered"].as_u64(), p["final_stock"].as_i64()),
        (Some(6), Some(12), Some(0))
    );
    assert_eq!(p["eligible_demand"], 40);
    for name in ALL {
        assert_ne!(status(&s, name), "fail", "{name}: {}", invariant(&s, name));
    }
    // With less stock than one order left over, nothing is undersold.
    let (_d, file) = scenario_file(
        "name: odd\nproducts:\n  - id: p\n    stock: 7\nbuyers:\n  count: 10\n  quantity: 2\nserver:\n  backend: memory\n",
    );
    let (ran, s, _o) = run_scenario(&file, &[]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(sold(&s), (3, 1), "three orders of 2; the last unit fits no order");
    assert_eq!(status(&s, "no_undersell"), "pass", "{}", invariant(&s, "no_undersell"));
}

#[test]
fn buyers_spread_over_several_products_without_a_target() {
    let (_d, file) = scenario_file(
        "name: spread\nproducts:\n  - id: a\n    stock: 5\n  - id: b\n    stock: 5\n  - id: c\n    stock: 200\nbuyers:\n  \
         count: 300\n",
    );
    let (ran, s, _o) = run_scenario(&file, &[]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    let products = s["products"].as_array().expect("products");
    let sold: Vec<(u64, i64)> =
        products.iter().map(|p| (p["orders"].as_u64().unwrap_or(0), p["final_stock"].as_i64().unwrap_or(-1))).collect();
    // 100 buyers each: a and b sell out, c keeps what 100 buyers could not buy.
    assert_eq!(sold, [(5, 0), (5, 0), (100, 100)]);
    assert!(invariant(&s, "no_undersell")["detail"]
        .as_str()
        .is_some_and(|d| d.contains("c: every buyer got what it wanted")));
}

#[test]
fn a_server_killed_mid_run_still_gets_a_verdict_from_the_store() {
    // Two child servers on one SQLite file; one is killed while buyers arrive. Ground truth is
    // read from the file itself, so the run ends with a verdict, not exit 4.
    let (dir, file) = scenario_file(
        "name: killed\nproducts:\n  - id: p\n    stock: 5000\nbuyers:\n  count: 600\narrival:\n  mode: ramp\n  over: 3s\n\
         request_timeout: 2s\nserver:\n  backend: sqlite\n  instances: 2\n\
         expect:\n  may_also_violate: [every_buyer_answered, target_alive_after_run]\n",
    );
    let out = dir.path().join("run");
    let db = out.join("orders.db");
    let output = signal_a_child_server_mid_run(&file, &out, "-KILL");
    let s = read_summary(&out).expect("a summary from truth");
    assert!(matches!(output.status.code(), Some(0) | Some(1)), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(s["overrun"].is_null(), "no buyer outlived the run: {}", s["overrun"]);
    assert_eq!(s["truth"]["settled"], true, "{}", s["truth"]);
    assert!(s["truth"]["notes"][0].as_str().is_some_and(|n| n.contains("not answering")), "{}", s["truth"]);
    assert!(
        s["outcomes"]["not_sent"].as_u64() > Some(0),
        "buyers of the dead server could not send: {}",
        s["outcomes"]
    );
    // Everyone who sent wanted a unit and there was plenty: the requests the dead server lost
    // left buyers without, and the verdict says so, from the store's own numbers.
    let orders = orders_in_sqlite(&db) as u64;
    assert_eq!(s["products"][0]["orders"].as_u64(), Some(orders));
    assert_eq!(s["indeterminate"]["unknown"], 0, "{}", s["indeterminate"]);
    assert_eq!(status(&s, "target_alive_after_run"), "fail", "the killed instance does not answer after the load");
    if output.status.code() == Some(1) {
        assert_eq!(status(&s, "no_undersell"), "fail", "{}", s["reasons"]);
    }
}

/// Runs `file` with two child servers on SQLite into `out`, sends `signal` to the first child
/// once 20 orders are in the store (polled, bounded), and returns the run's output.
fn signal_a_child_server_mid_run(file: &str, out: &std::path::Path, signal: &str) -> std::process::Output {
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_flashbench"))
        .args(["run", file, "--quiet", "--placement", "child", "--out", &out.to_string_lossy()])
        .current_dir(repo())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let db = out.join("orders.db");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    // The file exists before its tables do: a failed count is "not yet".
    while !(db.exists() && try_orders_in_sqlite(&db).is_ok_and(|n| n >= 20)) {
        assert!(std::time::Instant::now() < deadline, "no orders came in");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let children = children_of(run.id());
    assert_eq!(children.len(), 2, "two child servers: {children:?}");
    let sent = std::process::Command::new("kill").args([signal, &children[0].to_string()]).status();
    assert!(sent.is_ok_and(|s| s.success()), "kill {signal}");
    run.wait_with_output().expect("wait")
}

/// Pids of the direct children of `pid` (from /proc).
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").filter_map(Result::ok) {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // "pid (comm) state ppid ...": the comm may hold spaces, so read after the last ')'.
        let ppid = stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().nth(1)).and_then(|p| p.parse().ok());
        if ppid == Some(pid) {
            out.push(child);
        }
    }
    out.sort_unstable();
    out
}

#[test]
fn a_server_paused_past_the_truth_wait_leaves_the_run_unproven_exit_4() {
    // One of two child servers is paused (SIGSTOP) mid-run and never resumed: its requests
    // may still run one day, so truth cannot settle, and a pass cannot be claimed.
    let (dir, file) = scenario_file(
        "name: paused\nproducts:\n  - id: p\n    stock: 5000\nbuyers:\n  count: 400\narrival:\n  mode: ramp\n  over: 2s\n  \
         connect_timeout: 2s\nrequest_timeout: 1s\ntruth:\n  max_wait: 3s\nserver:\n  backend: sqlite\n  instances: 2\n\
         expect:\n  may_also_violate: [every_buyer_answered, target_alive_after_run]\n",
    );
    let out = dir.path().join("run");
    let output = signal_a_child_server_mid_run(&file, &out, "-STOP");
    assert_eq!(
        output.status.code(),
        Some(4),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let s = read_summary(&out).expect("summary");
    assert_eq!(
        (s["truth"]["quiet"].as_bool(), s["truth"]["settled"].as_bool()),
        (Some(false), Some(false)),
        "{}",
        s["truth"]
    );
    assert!(
        s["reasons"]
            .as_array()
            .expect("reasons")
            .iter()
            .any(|r| r.as_str().is_some_and(|r| r.contains("had not settled"))),
        "{}",
        s["reasons"]
    );
    assert!(
        s["indeterminate"]["unknown"].as_u64() > Some(0),
        "no effect is not claimed on unsettled truth: {}",
        s["indeterminate"]
    );
    // Safety holds; liveness is what the pause took away, and the scenario says it may.
    assert_eq!(status(&s, "every_buyer_answered"), "fail", "the paused server's buyers timed out");
    for i in s["invariants"].as_array().expect("invariants") {
        let liveness = ["every_buyer_answered", "target_alive_after_run"].contains(&i["name"].as_str().unwrap_or(""));
        assert!(liveness || i["status"] != "fail", "{i}");
    }
}

#[test]
fn colour_follows_color_and_the_log_gets_plain_progress_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let out_s = out.to_string_lossy().into_owned();
    let ran = flashbench(&["run", "scenarios/single-unit.yaml", "--out", &out_s, "--color", "always"]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("\u{1b}[1m\u{1b}[32mPASS"), "PASS in bold green:\n{}", ran.stdout);
    assert!(
        ran.stdout.trim_end().ends_with(&format!("{}\u{1b}[0m", out.join("index.html").display())),
        "{}",
        ran.stdout
    );
    // stderr is a pipe here: plain lines, one per phase at least, never a bar.
    let progress: Vec<&str> = ran.stderr.lines().filter(|l| l.starts_with("single-unit [")).collect();
    assert!(progress.iter().any(|l| l.contains("] connecting")), "no `connecting` line in:\n{}", ran.stderr);
    let after = ["] released", "] draining", "] reading truth", "] verifying", "] reporting"];
    assert!(
        progress.iter().any(|l| after.iter().any(|p| l.contains(p))),
        "no line after the release in:\n{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains('━'), "no bar on a non-terminal: {}", ran.stderr);
    let ran = flashbench(&["run", "scenarios/single-unit.yaml", "--out", &out_s, "--color", "never", "-q"]);
    assert_eq!(ran.code, 0);
    assert!(!ran.stdout.contains('\u{1b}') && !ran.stderr.contains('\u{1b}'), "{}{}", ran.stdout, ran.stderr);
    assert!(ran.stderr.lines().all(|l| !l.starts_with("single-unit [")), "--quiet shows no progress: {}", ran.stderr);
}

#[test]
fn source_addresses_are_bound_and_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let out_s = out.to_string_lossy().into_owned();
    let ran = flashbench(&[
        "run",
        "scenarios/single-unit.yaml",
        "-q",
        "--out",
        &out_s,
        "--source-addresses",
        "127.0.0.2,127.0.0.3",
    ]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    let s = read_summary(&out).expect("summary");
    assert_eq!(s["target"]["source_addresses"], serde_json::json!(["127.0.0.2", "127.0.0.3"]));
    // TEST-NET-1 is no address of this machine: refused before anything runs.
    let ran =
        flashbench(&["run", "scenarios/single-unit.yaml", "-q", "--out", &out_s, "--source-addresses", "192.0.2.7"]);
    assert_eq!(ran.code, 2, "{}{}", ran.stdout, ran.stderr);
    assert!(ran.stderr.contains("192.0.2.7 cannot be bound here"), "{}", ran.stderr);
    let ran = flashbench(&["run", "scenarios/single-unit.yaml", "--source-addresses", "10.0.0.1,nope"]);
    assert_eq!(ran.code, 2);
    assert!(ran.stderr.contains("\"nope\" is not an IP address"), "{}", ran.stderr);
}

/// `buyers.sessions`: one account in several tabs. 40 buyers × 4 sessions race for 300 units
/// with a limit of one order each: a server that keeps the limit per buyer sells 40 (one per
/// buyer, whichever session won) and every invariant holds; one that ignores the limit sells to
/// several sessions of one buyer, and `per_buyer_limit` says so.
#[test]
fn sessions_of_one_buyer_are_one_buyer() {
    let yaml = |strategy: &str| {
        format!(
            "name: tabs\nproducts:\n  - id: p\n    stock: 300\nbuyers:\n  count: 40\n  sessions: 4\n  limit: 1\n\
             arrival:\n  mode: burst\nserver:\n  backend: memory\n  strategy: {strategy}\n"
        )
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("tabs.yaml");
    std::fs::write(&file, yaml("atomic")).expect("write");
    let (ran, s, out) = run_scenario(&file.to_string_lossy(), &[]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(s["attempts"], 160, "a first attempt per session");
    assert_eq!(s["outcomes"]["won"], 40, "one order per buyer: {}", s["outcomes"]);
    for name in ALL {
        assert_ne!(status(&s, name), "fail", "{name}: {}", invariant(&s, name));
    }
    for name in ["per_buyer_limit", "no_undersell", "no_oversell", "acked_orders_durable"] {
        assert_eq!(status(&s, name), "pass", "{name}: {}", invariant(&s, name));
    }
    let ledger = std::fs::read_to_string(out.path().join("run/ledger.csv")).expect("ledger");
    let mut rows = ledger.lines();
    let header: Vec<&str> = rows.next().expect("header").split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (buyer, session) = (column("buyer"), column("session"));
    let mut seen = std::collections::BTreeSet::new();
    for row in rows {
        let cells: Vec<&str> = row.split(',').collect();
        seen.insert((cells[buyer].to_string(), cells[session].to_string()));
    }
    assert_eq!(seen.len(), 160, "every (buyer, session) once");
    assert!(seen.iter().all(|(b, k)| b.parse::<u32>().is_ok_and(|b| b < 40) && k.parse::<u32>().is_ok_and(|k| k < 4)));

    std::fs::write(&file, yaml("no-limit")).expect("write");
    let (ran, s, _out) = run_scenario(&file.to_string_lossy(), &[]);
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    assert!(s["outcomes"]["won"].as_u64() > Some(40), "sessions of one buyer won more than once: {}", s["outcomes"]);
    assert_eq!(status(&s, "per_buyer_limit"), "fail", "{}", invariant(&s, "per_buyer_limit"));
    assert_eq!(status(&s, "no_oversell"), "pass", "{}", invariant(&s, "no_oversell"));
}
