//! `faults:` end to end on SQLite (the PostgreSQL and Redis faults are in `services.rs`): the
//! nemesis pauses and kills the run's own server processes and undoes it all, leaves no
//! process behind, records what each fault did, and fails the run (exit 4) when a fault could
//! not act or never came: a fault that did not happen was not tested.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

/// A short stream on two SQLite instances with `faults` (YAML list items, indented by 2).
fn scenario(dir: &Path, faults: &str) -> std::path::PathBuf {
    let yaml = format!(
        "name: faults-test\nproducts:\n  - {{id: p, name: P, stock: 60}}\nbuyers:\n  attempts: 1\n\
         arrival:\n  mode: rate\n  rate: 100/s\n  duration: 1500ms\n  max_in_flight: 200\nrequest_timeout: 2s\n\
         server:\n  backend: sqlite\n  strategy: conditional\n  instances: 2\n  rate_limit: off\nfaults:\n{faults}"
    );
    let file = dir.join("faults.yaml");
    std::fs::write(&file, yaml).expect("write scenario");
    file
}

fn run(file: &Path, out: &Path) -> (Ran, Value) {
    let ran = flashbench(&["run", &file.to_string_lossy(), "--quiet", "--out", &out.to_string_lossy()]);
    let summary = read_summary(out).unwrap_or_else(|| panic!("no summary: {}{}", ran.stdout, ran.stderr));
    (ran, summary)
}

/// Processes whose command line mentions `needle` (the run folder: every child server's
/// SQLite file is in it).
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains(needle) {
            out.push(format!("{}: {cmdline}", entry.file_name().to_string_lossy()));
        }
    }
    out
}

#[test]
fn pause_and_kill_are_undone_recorded_and_leave_no_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = scenario(
        dir.path(),
        "  - {kind: pause_instance, instance: 0, at: 200ms, for: 600ms}\n\
         \x20 - {kind: kill_instance, instance: 1, after: 50 attempts, restart: true, for: 300ms}\n",
    );
    let out = dir.path().join("run");
    let (ran, s) = run(&file, &out);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(s["target"]["placement"], "child processes", "process faults need child processes");
    let faults = s["faults"].as_array().expect("faults[]");
    assert_eq!(faults.len(), 2, "{faults:?}");
    for (f, kind) in faults.iter().zip(["pause_instance", "kill_instance"]) {
        assert_eq!(f["kind"], kind);
        assert!(f["target"].as_str().is_some_and(|t| t.contains("pid")), "{f}");
        let (start, end) = (f["start_us"].as_u64().expect("start"), f["end_us"].as_u64().expect("end"));
        assert!(end > start, "{f}");
        assert!(f["effect"]["attempts"].as_u64().is_some_and(|n| n > 0), "attempts were sent while it lasted: {f}");
        assert!(f.get("error").is_none(), "{f}");
    }
    let pause = &faults[0];
    // `at: 200ms` counts from the stream's start (its first arrival), as the charts do.
    let stream_start = s["stream"]["start_us"].as_u64().expect("stream start");
    let after = pause["start_us"].as_u64().unwrap_or(0).saturating_sub(stream_start);
    assert!((200_000..1_000_000).contains(&after), "the pause began {after} µs after the stream's start, not 200 ms");
    let lasted = pause["end_us"].as_u64().unwrap_or(0) - pause["start_us"].as_u64().unwrap_or(0);
    assert!((600_000..1_600_000).contains(&lasted), "the pause lasted its 600 ms: {lasted} µs");
    assert_eq!(s["faults"][1]["effect"]["orders_lost"], 0, "SQLite lost no acknowledged order");
    assert_eq!(sold(&s), (60, 0), "the stock sold exactly, across the kill");
    let left = processes_mentioning(&out.to_string_lossy());
    assert!(left.is_empty(), "processes left behind: {left:?}");
    // The report draws each fault as a band on every time chart.
    for chart in ["rates", "in-flight", "latency-trend", "latency-over-time", "throughput", "stock"] {
        let svg = std::fs::read_to_string(out.join(format!("{chart}.svg"))).expect("chart");
        assert!(svg.contains("fault: pause_instance") && svg.contains("fault: kill_instance"), "bands on {chart}");
    }
}

#[test]
fn a_fault_that_could_not_act_or_never_came_fails_the_run_with_exit_4() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = scenario(
        dir.path(),
        "  - {kind: command, at: 100ms, run: 'echo no docker here >&2; exit 3'}\n\
         \x20 - {kind: slow_store, after: 1000000 attempts, latency: 5ms, for: 1s}\n",
    );
    let (ran, s) = run(&file, &dir.path().join("run"));
    assert_eq!(ran.code, 4, "{}{}", ran.stdout, ran.stderr);
    let reasons = s["reasons"].to_string();
    assert!(reasons.contains("fault 0 (command) could not act") && reasons.contains("no docker here"), "{reasons}");
    assert!(reasons.contains("fault 1 (slow_store) never came"), "{reasons}");
    assert!(s["faults"][1]["start_us"].is_null(), "{}", s["faults"]);
}

#[test]
fn slow_store_and_command_act_while_they_last() {
    let dir = tempfile::tempdir().expect("tempdir");
    let marks = dir.path().join("marks");
    let faults = format!(
        "  - {{kind: slow_store, at: 300ms, for: 500ms, latency: 40ms}}\n\
         \x20 - {{kind: command, at: 200ms, for: 300ms, run: 'echo on >> {m}', undo: 'echo off >> {m}'}}\n",
        m = marks.display()
    );
    let file = scenario(dir.path(), &faults);
    let out = dir.path().join("run");
    let (ran, s) = run(&file, &out);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(std::fs::read_to_string(&marks).expect("the command ran"), "on\noff\n");
    // The store was 40 ms slower while the fault lasted, and only then.
    let (start, end) =
        (s["faults"][0]["start_us"].as_u64().expect("start"), s["faults"][0]["end_us"].as_u64().expect("end"));
    let ledger = std::fs::read_to_string(out.join("ledger.csv")).expect("ledger.csv");
    let mut rows = csv::Reader::from_reader(ledger.as_bytes());
    let headers = rows.headers().expect("headers").clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap_or_else(|| panic!("no {name} column"));
    let (sent, done) = (col("sent_us"), col("done_us"));
    let (mut inside, mut outside) = (Vec::new(), Vec::new());
    for row in rows.records().flatten() {
        let t: u64 = row[sent].parse().expect("sent_us");
        let took = row[done].parse::<u64>().expect("done_us") - t;
        // Well inside the window (a request sent just before it may end inside it).
        if t > start + 50_000 && t + 50_000 < end {
            inside.push(took);
        } else if t + 100_000 < start || t > end + 100_000 {
            outside.push(took);
        }
    }
    let median = |v: &mut Vec<u64>| {
        v.sort_unstable();
        v.get(v.len() / 2).copied().unwrap_or(0)
    };
    let (mid_in, mid_out) = (median(&mut inside), median(&mut outside));
    assert!(mid_in >= 40_000, "orders inside the band took the added 40 ms: median {mid_in} µs of {}", inside.len());
    assert!(mid_out < 40_000, "orders outside it did not: median {mid_out} µs of {}", outside.len());
}

#[test]
fn faults_that_cannot_apply_are_refused_before_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (faults, says) in [
        ("  - {kind: redis_stall, at: 1s, for: 1s}\n", "needs `server.backend: redis`"),
        ("  - {kind: pause_instance, at: 1s}\n", "needs `for`"),
        ("  - {kind: pause_instance, instance: 2, for: 1s}\n", "no instance 2"),
        ("  - {kind: kill_instance, at: 1s, after: first_sold_out}\n", "either `at` or `after`"),
        ("  - {kind: kill_instance, after: soon}\n", "first_sold_out"),
        ("  - {kind: slow_store, for: 1s}\n", "needs `latency`"),
        ("  - {kind: command, run: ' '}\n", "needs `run`"),
        ("  - {kind: postgres_kill_connections, for: 1s}\n", "does not apply"),
        ("  - {kind: pause_instanse, for: 1s}\n", "pause_instance"),
        ("  - {kind: slow_store, latency: 1ms, for: 1s, instance: 0}\n", "applies to pause_instance, kill_instance"),
    ] {
        let file = scenario(dir.path(), faults);
        let ran =
            flashbench(&["run", &file.to_string_lossy(), "--quiet", "--out", &dir.path().join("x").to_string_lossy()]);
        assert_eq!(ran.code, 2, "{faults}: {}{}", ran.stdout, ran.stderr);
        assert!(ran.stderr.contains(says) && ran.stderr.contains("faults"), "{faults}: {}", ran.stderr);
    }
    // A store fault acts on a Redis of the run's own (`server.own_redis`), never on a Redis of
    // the user's; a stall of a shared Redis must say it pauses the whole server.
    for (backend, server, faults, says) in [
        ("redis", "", "  - {kind: kill_store, at: 1s}\n", "add `server.own_redis"),
        ("redis", "", "  - {kind: redis_stall, at: 1s, for: 1s}\n", "whole_server: true"),
        ("redis", "  own_redis: {persistence: none}\n", "  - {kind: kill_store, at: 1s, for: 1s}\n", "`restart: true`"),
        ("redis", "  own_redis: {persistence: forever}\n", "  - {kind: kill_store, at: 1s}\n", "aof_everysec"),
        (
            "redis",
            "  own_redis: {persistence: none}\n  redis_url: redis://127.0.0.1:6379\n",
            "  - {kind: kill_store, at: 1s}\n",
            "not both",
        ),
        ("sqlite", "  own_redis: {persistence: none}\n", "  - {kind: kill_instance, at: 1s}\n", "starts a Redis for"),
        ("sqlite", "", "  - {kind: kill_store, at: 1s}\n", "needs `server.backend: redis`"),
    ] {
        let file = scenario(dir.path(), faults);
        let yaml = std::fs::read_to_string(&file)
            .expect("read")
            .replace("backend: sqlite\n  strategy: conditional", &format!("backend: {backend}"))
            .replace("faults:\n", &format!("{server}faults:\n"));
        std::fs::write(&file, yaml).expect("write");
        let ran =
            flashbench(&["run", &file.to_string_lossy(), "--quiet", "--out", &dir.path().join("x").to_string_lossy()]);
        assert_eq!(ran.code, 2, "{server}{faults}: {}{}", ran.stdout, ran.stderr);
        assert!(ran.stderr.contains(says), "{server}{faults}: {}", ran.stderr);
    }
    let file = scenario(dir.path(), "  - {kind: kill_instance, at: 1s}\n");
    let ran = flashbench(&["run", &file.to_string_lossy(), "--placement", "in-process", "--quiet"]);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(ran.stderr.contains("leave out --placement in-process"), "{}", ran.stderr);
}

/// The state letter of every process whose command line mentions `needle` (`T`: stopped).
fn states_of(needle: &str) -> Vec<char> {
    processes_mentioning(needle)
        .iter()
        .filter_map(|p| p.split(':').next())
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|stat| stat.rsplit_once(") ").and_then(|(_, rest)| rest.chars().next()))
        .collect()
}

/// Starts a run whose instance 0 is frozen for a minute, and waits (at most 20 s) until it is.
fn run_frozen(dir: &Path) -> (std::process::Child, std::path::PathBuf) {
    let file = scenario(dir, "  - {kind: pause_instance, instance: 0, at: 100ms, for: 60s}\n");
    let out = dir.join("run");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_flashbench"))
        .args(["run", &file.to_string_lossy(), "--quiet", "--out", &out.to_string_lossy()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = std::time::Instant::now();
    while !states_of(&out.to_string_lossy()).contains(&'T') {
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "instance 0 was never frozen");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    (run, out)
}

/// Waits (at most 10 s) until no process mentions `needle`.
fn until_none_left(needle: &str) {
    let started = std::time::Instant::now();
    loop {
        let left = processes_mentioning(needle);
        if left.is_empty() {
            return;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "processes left behind: {left:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn ctrl_c_during_a_pause_undoes_it_and_leaves_no_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut run, out) = run_frozen(dir.path());
    let pid = libc::pid_t::try_from(run.id()).expect("pid");
    // SAFETY: kill(2) on the child this test started.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let status = run.wait().expect("wait");
    assert_eq!(status.code(), Some(130), "an interrupted run");
    until_none_left(&out.to_string_lossy());
    let s = read_summary(&out).expect("a partial summary");
    assert_eq!(s["verdict"], "interrupted");
}

#[test]
fn a_killed_flashbench_takes_its_frozen_servers_with_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut run, out) = run_frozen(dir.path());
    run.kill().expect("SIGKILL flashbench");
    let _ = run.wait();
    // Stopped, the servers cannot see their stdin close: the parent-death signal kills them.
    until_none_left(&out.to_string_lossy());
}
