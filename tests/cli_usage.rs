//! Bad input: every malformed scenario exits 2 with file, line and column, and leaves no run
//! folder behind; `--help` and `--version` work everywhere.

mod common;
use common::*;

#[test]
fn each_invalid_scenario_is_refused_with_its_position() {
    let cases = [
        ("bad-type.yaml", "4:12: products[0].stock: invalid type: string \"five\""),
        ("unknown-field.yaml", "7:3: buyers.patience: unknown field `patience`"),
        ("missing-field.yaml", "1:1: missing field `buyers`"),
        ("bad-yaml.yaml", "6:10: buyers.count"),
        ("unknown-target.yaml", "7:3: buyers.target: no product has id \"iphone-16\""),
        (
            "wrong-strategy.yaml",
            "9:3: server.strategy: backend memory has no strategy lua; it has: atomic, naive, seed-lock",
        ),
        ("negative-stock.yaml", "4:12: products[0].stock: invalid type: integer `-1`"),
        ("zero-buyers.yaml", "6:3: buyers.count: expected 1 to 100000 buyers, found 0"),
        ("bad-duration.yaml", "7:1: request_timeout: invalid duration \"10\""),
        (
            "attempts-below-wants.yaml",
            "9:3: buyers.attempts: 1 attempt(s) cannot get the 2 order(s) each buyer wants; give `attempts` at least `wants`",
        ),
    ];
    for (file, expected) in cases {
        let path = format!("fixtures/invalid/{file}");
        let v = flashbench(&["validate", &path]);
        assert_eq!(v.code, 2, "{file}: {}", v.stdout);
        assert!(v.stdout.contains(&format!("{path}:{expected}")), "{file}: {}", v.stdout);

        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("run");
        let r = flashbench(&["run", &path, "--out", &out.to_string_lossy()]);
        assert_eq!(r.code, 2, "{file}: {}{}", r.stdout, r.stderr);
        assert!(r.stderr.contains(&format!("{path}:{expected}")), "{file}: {}", r.stderr);
        assert!(!out.exists(), "{file}: a run folder was created for a scenario that never ran");
    }
}

#[test]
fn validate_accepts_every_shipped_scenario() {
    let v = flashbench(&["validate", "scenarios/", "scenarios/self-test/"]);
    assert_eq!(v.code, 0, "{}", v.stdout);
    assert!(v.stdout.lines().count() >= 7, "{}", v.stdout);
    assert!(v.stdout.lines().all(|l| l.starts_with("ok ")), "{}", v.stdout);
}

#[test]
fn empty_and_missing_files_are_usage_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "# nothing\n").expect("write");
    let v = flashbench(&["validate", &empty.to_string_lossy(), "no/such.yaml"]);
    assert_eq!(v.code, 2);
    assert!(v.stdout.contains("empty.yaml:1:1: the file is empty"), "{}", v.stdout);
    assert!(v.stdout.contains("no/such.yaml: no such file or folder"), "{}", v.stdout);
    let r = flashbench(&["run", "no/such.yaml"]);
    assert_eq!(r.code, 2);
}

#[test]
fn bad_overrides_are_usage_errors() {
    let r = flashbench(&["run", "scenarios/limited.yaml", "--buyers", "0", "--out", "/nonexistent/never"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--buyers 0: expected 1 to"), "{}", r.stderr);
    let r = flashbench(&["run", "scenarios/limited.yaml", "--strategy", "lua"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("--strategy lua: backend sqlite has no strategy lua; it has: conditional, naive, seed-lock"),
        "{}",
        r.stderr
    );
    let r = flashbench(&["run", "scenarios/limited.yaml", "--strategy", "bogus"]);
    assert_eq!(r.code, 2, "clap refuses unknown strategies: {}", r.stderr);
    assert!(r.stderr.contains("invalid value 'bogus'"), "{}", r.stderr);
}

#[test]
fn a_baseline_that_cannot_be_saved_is_refused_before_the_run() {
    let r = flashbench(&["run", "scenarios/limited.yaml", "--save-baseline", "/nonexistent/dir/b.json"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--save-baseline: the folder /nonexistent/dir does not exist"), "{}", r.stderr);
    assert!(!r.stdout.contains("PASS"), "nothing ran: {}", r.stdout);
}

#[test]
fn serve_refuses_malformed_store_settings_as_usage_errors() {
    let cases: [&[&str]; 3] = [
        &["--backend", "postgres", "--pg-schema", "Bad-Name"],
        &["--backend", "redis", "--redis-url", "notaurl"],
        &["--backend", "postgres", "--database-url", "mysql://x"],
    ];
    for args in cases {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let r = flashbench(&all);
        assert_eq!(r.code, 2, "{args:?} is a usage error, not a failed store: {}", r.stderr);
        assert!(r.stderr.contains(args[3]), "names the value: {}", r.stderr);
    }
}

#[test]
fn a_burst_beyond_the_machine_limits_is_refused_up_front() {
    // Past one process's open files a burst is spread over processes (tests/shards.rs), but
    // the memory backend keeps its stock in one process, so it cannot be: refused, said why.
    let out = tempfile::tempdir().expect("tempdir");
    let never = out.path().join("never");
    let args = ["run", "scenarios/limited.yaml", "--buyers", "30000", "--backend", "memory", "--out"];
    let r = flashbench(&[&args[..], &[never.to_string_lossy().as_ref()]].concat());
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("(ulimit -n)") && r.stderr.contains("`memory` backend"), "{}", r.stderr);
    assert!(!never.exists(), "refused before anything was created");
}

#[test]
fn help_and_version() {
    for args in [vec!["--help"], vec!["run", "--help"], vec!["validate", "--help"], vec!["serve", "--help"]] {
        let r = flashbench(&args);
        assert_eq!(r.code, 0, "{args:?}");
        assert!(r.stdout.contains("Usage:"), "{args:?}: {}", r.stdout);
    }
    let r = flashbench(&["run", "--help"]);
    for flag in ["--out", "--quiet", "--backend", "--strategy", "--buyers", "--instances", "--placement"] {
        assert!(r.stdout.contains(flag), "run --help lacks {flag}");
    }
    let v = flashbench(&["--version"]);
    assert_eq!(v.stdout.trim(), format!("flashbench {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn serve_prints_where_it_listens_and_answers() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("serve.db");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_flashbench"))
        .args(["serve", "--listen", "127.0.0.1:0", "--quiet", "--products", "fixtures/catalogue.yaml"])
        .args(["--sqlite-file", &db.to_string_lossy()])
        .current_dir(repo())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read");
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).map(str::to_string);
    let answer = url.as_ref().map(|u| {
        let addr = u.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        use std::io::{Read, Write};
        s.write_all(
            format!("GET /products/apple-watch HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n\r\n").as_bytes(),
        )
        .expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read");
        out
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(url.is_some(), "first line: {line:?}");
    let answer = answer.unwrap_or_default();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"stock\":1"), "the catalogue was seeded: {answer}");
    assert!(db.exists(), "the SQLite file goes where --sqlite-file says");
}

/// Ctrl-C as soon as the run folder exists: exit 130 and a partial summary that claims no pass.
#[test]
fn an_interrupted_run_claims_no_pass() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("slow.yaml");
    std::fs::write(
        &file,
        "name: slow\nproducts:\n  - id: p\n    stock: 1\nbuyers:\n  count: 40\narrival:\n  mode: ramp\n  over: 30s\n",
    )
    .expect("write");
    let out = dir.path().join("run");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_flashbench"))
        .args(["run", &file.to_string_lossy(), "--quiet", "--out", &out.to_string_lossy()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // The run folder appears once the scenario is loaded and the load is about to start.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !out.exists() && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert!(out.exists(), "the run never started");
    let killed = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(killed.success());
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(130), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("a partial summary"))
            .expect("json");
    assert_eq!(summary["verdict"], "interrupted", "{summary}");
    assert_eq!(summary["exit_code"], 130);
    assert_eq!(summary["interrupted"]["signal"], "SIGINT");
    assert!(summary["reasons"][0].as_str().is_some_and(|r| r.starts_with("interrupted by Ctrl-C")), "{summary}");
}
