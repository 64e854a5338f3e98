//! A store that dies in the middle of a run: the run does not hang, the failures are counted
//! as indeterminate, and no invariant is reported as passing that could not be checked.

mod common;
use common::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A Redis server of the test's own on a free port, stopped when dropped.
struct OwnRedis(std::process::Child);

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

#[test]
fn redis_dying_mid_run_ends_with_exit_4_and_unchecked_invariants() {
    if Service::Redis.available().is_none() {
        return;
    }
    let port = free_port();
    let Ok(child) = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
    else {
        panic!("redis-server is not installed; .ci/run installs it (Debian package redis-server)");
    };
    let mut redis = OwnRedis(child);
    let url = format!("redis://127.0.0.1:{port}");
    let client = redis::Client::open(url.as_str()).expect("client");
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.get_connection().is_err() {
        assert!(Instant::now() < deadline, "our redis-server did not start");
        std::thread::yield_now();
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let scenario = dir.path().join("ramp.yaml");
    std::fs::write(
        &scenario,
        "name: death\nproducts:\n  - id: p\n    stock: 1000\nbuyers:\n  count: 400\narrival:\n  mode: ramp\n  over: 4s\n\
         request_timeout: 2s\nserver:\n  backend: redis\n  strategy: lua\n",
    )
    .expect("write");
    let out = dir.path().join("run");
    let started = Instant::now();
    let run = Command::new(env!("CARGO_BIN_EXE_flashbench"))
        .args(["run", &scenario.to_string_lossy(), "--quiet", "--redis-url", &url, "--out", &out.to_string_lossy()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn flashbench");
    // Kill Redis once some orders are in: the sequence key counts them.
    let mut conn = client.get_connection().expect("connect");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let keys: Vec<String> = redis::cmd("KEYS").arg("flashbench:death:*:seq").query(&mut conn).unwrap_or_default();
        let orders: i64 = keys.first().map_or(0, |k| redis::cmd("GET").arg(k).query(&mut conn).unwrap_or(0));
        if orders >= 20 {
            break;
        }
        assert!(Instant::now() < deadline, "the run never took 20 orders");
        std::thread::yield_now();
    }
    let _ = redis.0.kill();
    let output = run.wait_with_output().expect("wait");
    assert!(started.elapsed() < Duration::from_secs(30), "the run hung: {:?}", started.elapsed());
    assert_eq!(output.status.code(), Some(4), "{}", String::from_utf8_lossy(&output.stderr));
    let s = read_summary(&out).expect("summary");
    assert!(s["outcomes"]["won"].as_u64() >= Some(20));
    assert!(s["outcomes"]["error"].as_u64() > Some(0), "{}", s["outcomes"]);
    assert!(s["error"].as_str().is_some_and(|e| e.contains("ground truth")), "{}", s["error"]);
    assert!(s["top_errors"][0]["message"].as_str().is_some_and(|m| m.contains("503")), "{}", s["top_errors"]);
    for i in s["invariants"].as_array().expect("invariants") {
        assert_eq!(i["status"], "not_applicable", "{i}");
    }
}
