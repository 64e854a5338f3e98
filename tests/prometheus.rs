//! The metrics with a real Prometheus (Debian's `prometheus`, which `.ci/run` installs):
//! Prometheus scrapes a running `flashbench serve` (with its admin token) and a `flashbench run
//! --metrics-listen`, and receives the run's `--prometheus-remote-write`; its HTTP API then
//! shows the series, and they agree with the run's `summary.json` (5 won of 5 in stock).
//!
//! Without the `prometheus` binary the test is skipped loudly, unless
//! `FLASHBENCH_REQUIRE_SERVICES=1` (CI), when it fails.

mod common;
use common::*;
use serde_json::Value;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "prometheus-test-token";

/// Kills a child process when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn prometheus_binary() -> Option<String> {
    let found = Command::new("prometheus").arg("--version").output().is_ok_and(|o| o.status.success());
    if found {
        return Some("prometheus".into());
    }
    assert!(!required(), "prometheus is required (FLASHBENCH_REQUIRE_SERVICES=1): apt-get install prometheus");
    eprintln!("\n!!! SKIPPED: no `prometheus` on PATH (apt-get install prometheus) !!!\n");
    None
}

/// `flashbench serve` on an SQLite file, with an admin token; its URL.
fn serve(db: &std::path::Path) -> (Killed, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_flashbench"))
        .args(["serve", "--listen", "127.0.0.1:0", "--quiet", "--rate-limit", "off", "--backend", "sqlite"])
        .args(["--strategy", "conditional", "--sqlite-file", &db.to_string_lossy(), "--admin-token", TOKEN])
        .stdout(Stdio::piped())
        .spawn()
        .expect("flashbench serve");
    let stdout = child.stdout.take().expect("stdout");
    let line = std::io::BufReader::new(stdout).lines().next().expect("a line").expect("utf8");
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).expect("url").to_string();
    (Killed(child), url)
}

/// A GET, answered or not (no answer: `None`).
struct Http {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl Http {
    fn new() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("client");
        Http { rt, client }
    }

    fn get(&self, url: reqwest::Url) -> Option<(u16, String)> {
        self.rt.block_on(async {
            let r = self.client.get(url).send().await.ok()?;
            let status = r.status().as_u16();
            Some((status, r.text().await.ok()?))
        })
    }
}

/// One instant query; the result vector.
fn query(client: &Http, prom: &str, q: &str) -> Vec<Value> {
    let url = reqwest::Url::parse_with_params(&format!("{prom}/api/v1/query"), &[("query", q)]).expect("url");
    let body: Value = client.get(url).and_then(|(_, b)| serde_json::from_str(&b).ok()).unwrap_or(Value::Null);
    body["data"]["result"].as_array().cloned().unwrap_or_default()
}

/// The value of a query that returns one series, once it does (bounded wait: scrapes come
/// every 250 ms).
fn value_of(client: &Http, prom: &str, q: &str, want: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got: Option<f64> =
            query(client, prom, q).first().and_then(|r| r["value"][1].as_str().and_then(|v| v.parse().ok()));
        match got {
            Some(v) if want(v) => return v,
            _ if Instant::now() > deadline => panic!("{q}: {got:?} after 15 s"),
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

#[test]
fn prometheus_scrapes_and_receives_what_the_summary_says() {
    let Some(prometheus) = prometheus_binary() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("shop.db");
    let (_serve, serve_url) = serve(&db);
    let (prom_port, run_port) = (free_port(), free_port());
    let config = format!(
        "global:\n  scrape_interval: 250ms\n  scrape_timeout: 200ms\nscrape_configs:\n  \
         - job_name: flashbench-serve\n    authorization: {{type: Bearer, credentials: {TOKEN}}}\n    \
         static_configs: [{{targets: ['{}']}}]\n  \
         - job_name: flashbench-run\n    static_configs: [{{targets: ['127.0.0.1:{run_port}']}}]\n",
        serve_url.trim_start_matches("http://")
    );
    std::fs::write(dir.path().join("prometheus.yml"), config).expect("write config");
    let _prom = Killed(
        Command::new(prometheus)
            .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .arg("--web.enable-remote-write-receiver")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    let prom = format!("http://127.0.0.1:{prom_port}");
    let client = Http::new();
    let ready = reqwest::Url::parse(&format!("{prom}/-/ready")).expect("url");
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(ready.clone()).is_none_or(|(status, _)| status != 200) {
        assert!(Instant::now() < deadline, "prometheus did not become ready");
        std::thread::sleep(Duration::from_millis(100));
    }

    // 5 units vs 1,500 buyers against the running server, ramped over 3 s so that scrapes
    // of the run's own endpoint land during it.
    let example = std::fs::read_to_string(repo().join("scenarios/examples/serve-sqlite.yaml")).expect("example");
    let yaml = example
        .replace("http://127.0.0.1:8080", &serve_url)
        .replace("sqlite://shop.db", &format!("sqlite://{}", db.display()))
        .replace("  target: iphone-15\n", "  target: iphone-15\narrival:\n  mode: ramp\n  over: 3s\n");
    let scenario = dir.path().join("watched.yaml");
    std::fs::write(&scenario, yaml).expect("write scenario");
    let out = dir.path().join("run");
    let ran = flashbench(&[
        "run",
        &scenario.to_string_lossy(),
        "--quiet",
        "--out",
        &out.to_string_lossy(),
        "--metrics-listen",
        &format!("127.0.0.1:{run_port}"),
        "--prometheus-remote-write",
        &format!("{prom}/api/v1/write"),
    ]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert!(!ran.stderr.contains("warning"), "the pushes went through: {}", ran.stderr);
    let summary = read_summary(&out).expect("summary.json");
    let won = summary["outcomes"]["won"].as_f64().expect("won");
    assert_eq!(won, 5.0);
    let attempts = summary["attempts"].as_f64().expect("attempts");

    // The server, scraped with its token: its own count of won orders and its stock.
    let server_won =
        value_of(&client, &prom, r#"flashbench_server_orders_total{job="flashbench-serve",outcome="won"}"#, |v| {
            v >= won
        });
    assert_eq!(server_won, won, "the server's won orders = the summary's");
    let stock =
        value_of(&client, &prom, r#"flashbench_server_stock{job="flashbench-serve",product="iphone-15"}"#, |v| {
            v == 0.0
        });
    assert_eq!(stock, summary["products"][0]["final_stock"].as_f64().expect("final stock"));
    let answered =
        value_of(&client, &prom, r#"sum(flashbench_server_orders_total{job="flashbench-serve"})"#, |v| v >= attempts);
    assert_eq!(answered, attempts, "every attempt was answered by the server and counted once");

    // The run, pushed by remote write at its end: the final figures, exactly.
    let run = r#"job="flashbench",scenario="example-serve-sqlite""#;
    let pushed_won =
        value_of(&client, &prom, &format!(r#"flashbench_run_attempts_total{{{run},outcome="won"}}"#), |_| true);
    assert_eq!(pushed_won, won);
    let pushed_all = value_of(&client, &prom, &format!("sum(flashbench_run_attempts_total{{{run}}})"), |_| true);
    assert_eq!(pushed_all, attempts);
    assert_eq!(value_of(&client, &prom, &format!("flashbench_run_exit_code{{{run}}}"), |_| true), 0.0);
    let ended = query(&client, &prom, &format!("flashbench_run_finished_timestamp_seconds{{{run}}}"));
    assert_eq!(ended.first().map(|r| r["metric"]["verdict"].clone()), Some(Value::from("pass")), "{ended:?}");
    assert_eq!(value_of(&client, &prom, &format!(r#"flashbench_run_phase{{{run},phase="done"}}"#), |_| true), 1.0);
    let latency_count =
        value_of(&client, &prom, &format!("sum(flashbench_run_latency_seconds_count{{{run}}})"), |_| true);
    assert_eq!(latency_count, attempts, "every answered attempt is in the latency histogram");

    // The run's own endpoint, scraped while it ran: the series exist with the run's labels.
    let buyers =
        value_of(&client, &prom, r#"max_over_time(flashbench_run_buyers{job="flashbench-run"}[5m])"#, |_| true);
    assert_eq!(buyers, 1500.0);
    // Over a window, as for the buyers: once the run has ended, Prometheus's next scrape of
    // its endpoint fails and marks the series stale, and an instant query then finds none.
    let phases = query(&client, &prom, r#"last_over_time(flashbench_run_phase{job="flashbench-run"}[5m])"#);
    assert_eq!(phases.len(), 10, "one series per phase: {phases:?}");
    let run_label = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    assert!(phases.iter().all(|p| p["metric"]["run"] == run_label.as_str()), "{phases:?}");
}
