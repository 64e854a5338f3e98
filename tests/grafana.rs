//! `deploy/grafana/flashbench.json` queries only metrics the exporters really expose: every
//! `flashbench_*` name in a panel's, a template variable's or an annotation's query is checked
//! against the names in the exposition of a running `flashbench serve` (`GET /metrics` with its
//! admin token) and of the harness (`flashbench::live::exposition_example`, every family
//! registered), and against the contract, deploy/METRICS.md. The dashboard's panels and its
//! verdict annotation are checked by title and query.

use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn dashboard() -> Value {
    let text = std::fs::read_to_string(repo().join("deploy/grafana/flashbench.json")).expect("read dashboard");
    serde_json::from_str(&text).expect("the dashboard is JSON")
}

/// Every query of the dashboard, with where it is: panels' targets (`expr`), template
/// variables (`query`, a string or `{query}`, and `definition`) and annotations (`expr`).
fn queries(dash: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    fn panels<'a>(list: &'a Value, into: &mut Vec<&'a Value>) {
        for p in list.as_array().into_iter().flatten() {
            into.push(p);
            // Rows keep their collapsed panels inside.
            panels(&p["panels"], into);
        }
    }
    let mut all = Vec::new();
    panels(&dash["panels"], &mut all);
    for p in all {
        for t in p["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = t["expr"].as_str() {
                out.push((format!("panel {:?}", p["title"].as_str().unwrap_or("?")), expr.to_string()));
            }
        }
    }
    for v in dash["templating"]["list"].as_array().into_iter().flatten() {
        let name = format!("variable {}", v["name"]);
        for q in [&v["query"], &v["query"]["query"], &v["definition"]] {
            if let Some(q) = q.as_str() {
                out.push((name.clone(), q.to_string()));
            }
        }
    }
    for a in dash["annotations"]["list"].as_array().into_iter().flatten() {
        if let Some(expr) = a["expr"].as_str() {
            out.push((format!("annotation {}", a["name"]), expr.to_string()));
        }
    }
    out
}

/// The `flashbench_*` metric names in a PromQL expression.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let bytes = expr.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b':';
    let mut names = BTreeSet::new();
    let mut i = 0;
    while let Some(at) = expr[i..].find("flashbench_") {
        let start = i + at;
        let mut end = start;
        while end < bytes.len() && ident(bytes[end]) {
            end += 1;
        }
        // Not the tail of a longer identifier, nor inside a string (a label value).
        let preceded = start > 0 && (ident(bytes[start - 1]) || bytes[start - 1] == b'"');
        if !preceded {
            names.insert(expr[start..end].to_string());
        }
        i = end;
    }
    names
}

/// A series name's family: without `_bucket`, `_sum` or `_count`.
fn family(name: &str) -> &str {
    ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name)
}

/// What an OpenMetrics exposition offers to a query: every sample's name, and the series
/// names each `# TYPE` line implies (a family may have no sample yet), with each family's
/// type.
#[derive(Debug, Default)]
struct Exposed {
    series: BTreeSet<String>,
    types: std::collections::BTreeMap<String, String>,
}

fn exposed(text: &str) -> Exposed {
    let mut e = Exposed::default();
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut words = rest.split_whitespace();
            let (Some(name), Some(kind)) = (words.next(), words.next()) else { continue };
            let series: &[&str] = match kind {
                "counter" => &["_total", "_created"],
                "histogram" | "gaugehistogram" => &["_bucket", "_sum", "_count", "_created"],
                "summary" => &["", "_sum", "_count", "_created"],
                "info" => &["_info"],
                _ => &[""],
            };
            for suffix in series {
                e.series.insert(format!("{name}{suffix}"));
            }
            e.types.insert(name.to_string(), kind.to_string());
        } else if !line.is_empty() && !line.starts_with('#') {
            let name: String = line.chars().take_while(|&c| c != '{' && c != ' ').collect();
            e.series.insert(name);
        }
    }
    e
}

/// Checks that every name the dashboard queries with `prefix` is a series of `exposition`;
/// returns the names checked.
fn check_against(prefix: &str, exposition: &str, source: &str) -> BTreeSet<String> {
    let exposed = exposed(exposition);
    assert!(exposed.types.keys().any(|k| k.starts_with(prefix)), "{source} exposes no {prefix}* family:\n{exposition}");
    let mut checked = BTreeSet::new();
    let mut missing = Vec::new();
    for (place, expr) in queries(&dashboard()) {
        for name in metric_names(&expr).into_iter().filter(|n| n.starts_with(prefix)) {
            if !exposed.series.contains(&name) {
                missing.push(format!("{place}: {name} in `{expr}`"));
            } else if name.ends_with("_bucket") {
                assert_eq!(
                    exposed.types.get(family(&name)).map(String::as_str),
                    Some("histogram"),
                    "{place}: {name} is the bucket of a histogram"
                );
            }
            checked.insert(name);
        }
    }
    assert!(
        missing.is_empty(),
        "the dashboard queries names {source} does not expose:\n  {}\nexposed: {:?}",
        missing.join("\n  "),
        exposed.series
    );
    checked
}

#[test]
fn every_query_names_flashbench_metrics_of_the_contract() {
    let contract = std::fs::read_to_string(repo().join("deploy/METRICS.md")).expect("read METRICS.md");
    let mut names = BTreeSet::new();
    for (place, expr) in queries(&dashboard()) {
        for name in metric_names(&expr) {
            assert!(
                name.starts_with("flashbench_run_") || name.starts_with("flashbench_server_"),
                "{place}: {name} is neither a harness nor a server metric"
            );
            assert!(contract.contains(&format!("`{}`", family(&name))), "{place}: {name} is not in deploy/METRICS.md");
            names.insert(name);
        }
    }
    assert!(names.len() >= 15, "the dashboard queries most of the contract: {names:?}");
}

#[test]
fn harness_queries_name_series_the_harness_exposes() {
    let checked = check_against("flashbench_run_", &flashbench::live::exposition_example(), "the harness");
    for name in ["flashbench_run_attempts_total", "flashbench_run_latency_seconds_bucket", "flashbench_run_info"] {
        assert!(checked.contains(name), "the dashboard queries {name}: {checked:?}");
    }
}

/// A `flashbench serve` of the test's own (SQLite in a temporary folder), stopped when dropped.
struct Served {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const TOKEN: &str = "grafana-test-token";

fn serve() -> Served {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("shop.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_flashbench"))
        .args(["serve", "--listen", "127.0.0.1:0", "--quiet", "--backend", "sqlite", "--admin-token", TOKEN])
        .args(["--products", "fixtures/catalogue.yaml", "--sqlite-file", &db.to_string_lossy()])
        .current_dir(repo())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn flashbench serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read");
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .unwrap_or_else(|| panic!("serve's first line names its URL: {line:?}"))
        .trim_end_matches('/')
        .to_string();
    Served { child, addr, _dir: dir }
}

/// `GET path` with the admin token: (status line, body).
fn get(addr: &str, path: &str, post: Option<&str>) -> (String, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let request = match post {
        Some(body) => format!(
            "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ),
        None => format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {TOKEN}\r\nconnection: close\r\n\r\n"),
    };
    s.write_all(request.as_bytes()).expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    (head.lines().next().unwrap_or_default().to_string(), body.to_string())
}

#[test]
fn server_queries_name_series_a_running_server_exposes() {
    let served = serve();
    // An order first, so that families with labels have children too.
    let (status, _) = get(&served.addr, "/orders", Some(r#"{"product_id":"iphone-15","buyer_id":"grafana"}"#));
    assert!(status.contains(" 201") || status.contains(" 200"), "an order: {status}");
    let (status, body) = get(&served.addr, "/metrics", None);
    assert!(!status.contains(" 404"), "flashbench serve has no GET /metrics yet: {status}");
    assert!(status.contains(" 200"), "GET /metrics with the admin token: {status}\n{body}");
    let checked = check_against("flashbench_server_", &body, "flashbench serve");
    for name in ["flashbench_server_stock", "flashbench_server_request_duration_seconds_bucket"] {
        assert!(checked.contains(name), "the dashboard queries {name}: {checked:?}");
    }
}

fn panel<'a>(dash: &'a Value, title: &str) -> &'a Value {
    dash["panels"]
        .as_array()
        .expect("panels")
        .iter()
        .find(|p| p["title"] == title)
        .unwrap_or_else(|| panic!("no panel {title:?}"))
}

fn exprs(panel: &Value) -> Vec<&str> {
    panel["targets"].as_array().expect("targets").iter().filter_map(|t| t["expr"].as_str()).collect()
}

#[test]
fn the_dashboard_has_its_panels_and_the_verdict_annotation() {
    let dash = dashboard();
    assert_eq!(dash["uid"], "flashbench");
    assert_eq!(dash["title"], "flashbench: a flash sale, live");
    let vars: Vec<&str> =
        dash["templating"]["list"].as_array().expect("variables").iter().filter_map(|v| v["name"].as_str()).collect();
    assert_eq!(vars, ["scenario", "run"]);
    assert_eq!(dash["templating"]["list"][0]["query"]["query"], "label_values(flashbench_run_info, scenario)");

    // Title, type, unit, and a piece of every query.
    let expected: &[(&str, &str, &str, &[&str])] = &[
        ("Phase", "stat", "none", &["flashbench_run_phase{", "== 1"]),
        ("Verdict", "stat", "none", &["flashbench_run_finished_timestamp_seconds{"]),
        ("Attempt latency, whole run", "stat", "s", &["flashbench_run_latency_seconds_bucket{"]),
        ("Attempts by outcome", "bargauge", "short", &["flashbench_run_attempts_total{"]),
        (
            "Outcomes per second",
            "timeseries",
            "reqps",
            &[
                r#"sum by (outcome) (rate(flashbench_run_attempts_total{scenario=~"$scenario",run=~"$run"}[$__rate_interval]))"#,
            ],
        ),
        ("Stock per product", "timeseries", "short", &["flashbench_run_stock{", "flashbench_server_stock"]),
        (
            "Attempt latency (p50, p90, p99)",
            "timeseries",
            "s",
            &[
                "histogram_quantile(0.5, sum by (le) (rate(flashbench_run_latency_seconds_bucket{",
                "histogram_quantile(0.9,",
                "histogram_quantile(0.99,",
            ],
        ),
        (
            "In flight",
            "timeseries",
            "short",
            &["flashbench_run_in_flight{", "sum(flashbench_server_in_flight_requests)"],
        ),
        (
            "Server request latency by outcome (p50, p99)",
            "timeseries",
            "s",
            &[
                "sum by (le, outcome) (rate(flashbench_server_request_duration_seconds_bucket",
                "histogram_quantile(0.99,",
            ],
        ),
        ("Store round trip (p50, p99)", "timeseries", "s", &["flashbench_server_store_duration_seconds_bucket"]),
        ("Send skew", "timeseries", "s", &["flashbench_run_send_skew_seconds{"]),
        ("Server orders by outcome", "timeseries", "reqps", &["flashbench_server_orders_total"]),
        ("Rate limited", "timeseries", "reqps", &["flashbench_server_rate_limited_total"]),
        (
            "Lock acquisitions and expiries",
            "timeseries",
            "ops",
            &["flashbench_server_lock_acquisitions_total", "flashbench_server_lock_expiries_total"],
        ),
    ];
    for (title, kind, unit, pieces) in expected {
        let p = panel(&dash, title);
        assert_eq!(p["type"], *kind, "{title}");
        assert_eq!(p["datasource"]["uid"], "prometheus", "{title}");
        assert_eq!(p["fieldConfig"]["defaults"]["unit"], *unit, "{title}");
        let queries = exprs(p).join("\n");
        for piece in *pieces {
            assert!(queries.contains(piece), "{title}: no {piece:?} in\n{queries}");
        }
        for t in p["targets"].as_array().expect("targets") {
            assert_eq!(t["datasource"]["uid"], "prometheus", "{title}");
        }
    }
    let stacked = |title: &str| panel(&dash, title)["fieldConfig"]["defaults"]["custom"]["stacking"]["mode"].clone();
    assert_eq!(stacked("Outcomes per second"), "normal");
    assert_eq!(stacked("Server orders by outcome"), "normal");
    assert_eq!(panel(&dash, "Phase")["targets"][0]["legendFormat"], "{{phase}}");

    let verdict = dash["annotations"]["list"]
        .as_array()
        .expect("annotations")
        .iter()
        .find(|a| a["expr"].as_str().is_some_and(|e| e.contains("flashbench_run_finished_timestamp_seconds")))
        .expect("an annotation from flashbench_run_finished_timestamp_seconds");
    assert_eq!(verdict["enable"], true);
    assert_eq!(verdict["datasource"]["uid"], "prometheus");
    // The value (seconds) is the instant: Grafana takes it in milliseconds.
    assert_eq!(verdict["useValueForTime"], true);
    assert!(verdict["expr"].as_str().unwrap_or_default().ends_with("* 1000"), "{}", verdict["expr"]);
    let shown = format!("{} {}", verdict["titleFormat"], verdict["textFormat"]);
    assert!(shown.contains("{{verdict}}") && shown.contains("{{scenario}}"), "{shown}");
}

/// `$__rate_interval` is at least four scrape intervals, taken from a query's min step, else
/// from the datasource's `timeInterval` (the harness's 1 s): a rate of a server metric needs
/// a min step of the servers' scrape interval, or its window holds too few samples.
#[test]
fn server_rates_span_enough_scrapes() {
    let prometheus: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(repo().join("deploy/prometheus/prometheus.yml")).expect("read"))
            .expect("prometheus.yml parses");
    let serve_job = prometheus["scrape_configs"]
        .as_sequence()
        .expect("scrape_configs")
        .iter()
        .find(|j| j["job_name"] == "flashbench-serve")
        .expect("the servers' job");
    let interval = serve_job["scrape_interval"].as_str().or(prometheus["global"]["scrape_interval"].as_str());
    let interval = interval.expect("the servers' scrape interval");
    let mut rates = 0;
    for p in dashboard()["panels"].as_array().expect("panels") {
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().unwrap_or_default();
            if expr.contains("rate(flashbench_server_") {
                assert_eq!(t["interval"].as_str(), Some(interval), "{}: min step of `{expr}`", p["title"]);
                rates += 1;
            }
        }
    }
    assert!(rates >= 5, "{rates}");
}

#[test]
fn metric_names_are_read_from_promql() {
    assert_eq!(
        metric_names(
            r#"histogram_quantile(0.5, sum by (le) (rate(flashbench_run_latency_seconds_bucket{run=~"flashbench_x"}[1m])))"#
        ),
        BTreeSet::from(["flashbench_run_latency_seconds_bucket".to_string()])
    );
    assert_eq!(family("flashbench_server_store_duration_seconds_count"), "flashbench_server_store_duration_seconds");
    let e = exposed(
        "# TYPE flashbench_run_attempts counter\n# TYPE flashbench_run info\nflashbench_run_info{a=\"b\"} 1\n# EOF\n",
    );
    assert!(e.series.contains("flashbench_run_attempts_total") && e.series.contains("flashbench_run_info"));
    assert!(!e.series.contains("flashbench_run_attempts"));
}
