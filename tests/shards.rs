//! Shards over several processes: `run --shard i/N --release-at T` as N real processes against
//! a server flashbench did not start, then `merge`: the same verdict, orders and attempts as
//! one run of the same scenario, every shard in the merged report; and a merge that refuses
//! parts that are missing, foreign or failed.

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The README's http example, pointed at `url` and its database, without its expectations.
fn scenario(dir: &Path, url: &str, db: &Path) -> PathBuf {
    let example = std::fs::read_to_string(repo().join("scenarios/examples/serve-sqlite.yaml")).expect("example");
    let yaml = example
        .replace("http://127.0.0.1:8080", url)
        .replace("sqlite://shop.db", &format!("sqlite://{}", db.display()))
        .replace("expect:\n  outcomes:\n    won: 5\n", "");
    let file = dir.join("shop.yaml");
    std::fs::write(&file, yaml).expect("write");
    file
}

/// A release instant `secs` from now, as `--release-at` takes it.
fn release_in(secs: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::seconds(secs)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Runs shards `0..of` of `file` as `of` processes at once, released together; their exits
/// and part folders.
fn run_shards(file: &Path, dir: &Path, of: u32) -> (Vec<i32>, Vec<PathBuf>) {
    let at = release_in(3);
    let parts: Vec<PathBuf> = (0..of).map(|i| dir.join(format!("part-{i}"))).collect();
    let children: Vec<_> = parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            Command::new(env!("CARGO_BIN_EXE_flashbench"))
                .args(["run", &file.to_string_lossy(), "--quiet", "--shard", &format!("{i}/{of}")])
                .args(["--release-at", &at, "--out", &part.to_string_lossy()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("a shard")
        })
        .collect();
    let codes = children.into_iter().map(|c| c.wait_with_output().expect("wait").status.code().unwrap_or(-1)).collect();
    (codes, parts)
}

fn merge(parts: &[PathBuf], out: &Path) -> (Ran, Option<Value>) {
    let mut args = vec!["merge".to_string(), "--quiet".into(), "--out".into(), out.to_string_lossy().into_owned()];
    args.extend(parts.iter().map(|p| p.to_string_lossy().into_owned()));
    let ran = flashbench(&args.iter().map(String::as_str).collect::<Vec<_>>());
    (ran, read_summary(out))
}

fn four_shards_merged_match_one_run(strategy: &str, code: i32) {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("shop.db");
    let served = serve(&db, strategy);
    let file = scenario(dir.path(), &served.url, &db);
    let (codes, parts) = run_shards(&file, dir.path(), 4);
    assert_eq!(codes, [0, 0, 0, 0], "every shard ran its load");
    let merged_dir = dir.path().join("merged");
    let (ran, merged) = merge(&parts, &merged_dir);
    let merged = merged.unwrap_or_else(|| panic!("no merged summary: {}{}", ran.stdout, ran.stderr));
    assert_eq!(ran.code, code, "{}{}", ran.stdout, ran.stderr);
    let (ran, single, _keep) = run_scenario(&file.to_string_lossy(), &[]);
    assert_eq!(ran.code, code, "one run: {}{}", ran.stdout, ran.stderr);
    assert_eq!(merged["verdict"], single["verdict"]);
    assert_eq!(merged["attempts"], single["attempts"]);
    assert_eq!(merged["attempts"], 1500);
    assert_eq!(merged["products"][0]["orders"], single["products"][0]["orders"], "the same order count");
    if code == 0 {
        assert_eq!(sold(&merged), (5, 0));
    } else {
        assert_eq!(status(&merged, "no_oversell"), "fail", "the merged verdict catches the oversell");
    }
    let shards = merged["shards"].as_array().expect("shards in the summary");
    let slices: Vec<(u64, u64)> =
        shards.iter().map(|s| (s["buyers"][0].as_u64().unwrap_or(9), s["buyers"][1].as_u64().unwrap_or(9))).collect();
    assert_eq!(slices, [(0, 375), (375, 750), (750, 1125), (1125, 1500)]);
    assert!(shards.iter().all(|s| s["clock_used"] == "monotonic" && s["attempts"] == 375), "{shards:?}");
    assert!(merged["release_us"].as_u64().is_some(), "one release instant on the merged clock");
    let chart = std::fs::read_to_string(merged_dir.join("send-skew.svg")).expect("skew chart");
    for i in 0..4 {
        assert!(chart.contains(&format!("shard {i} (375 buyers)")), "the skew chart shows shard {i}");
    }
    let ledger = std::fs::read_to_string(merged_dir.join("ledger.csv")).expect("ledger");
    assert!(
        ledger.lines().next().is_some_and(|h| h.ends_with(",shard,session")),
        "ledger.csv has shard and session columns"
    );

    // Parts that are not one whole run are refused, and say why.
    let (ran, _) = merge(&parts[..3], &dir.path().join("three"));
    assert_eq!(ran.code, 4, "a missing shard is an environment failure: {}", ran.stderr);
    assert!(ran.stderr.contains("shard 3/4 missing"), "{}", ran.stderr);
    let twice = [parts[0].clone(), parts[0].clone(), parts[1].clone(), parts[2].clone()];
    let (ran, _) = merge(&twice, &dir.path().join("twice"));
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(ran.stderr.contains("shard 0/4 is given twice"), "{}", ran.stderr);
    let (ran, _) = merge(std::slice::from_ref(&merged_dir), &dir.path().join("again"));
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(ran.stderr.contains("not a shard's part"), "{}", ran.stderr);
}

#[test]
fn four_shards_merged_match_one_run_of_a_correct_server() {
    four_shards_merged_match_one_run("conditional", 0);
}

#[test]
fn four_shards_merged_catch_an_overselling_server() {
    four_shards_merged_match_one_run("naive", 1);
}

#[test]
fn shards_that_cannot_run_write_a_failed_part_and_the_merge_names_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("shop.db");
    // The server made its database and is gone: nobody listens at its address any more.
    let closed = {
        let served = serve(&db, "conditional");
        served.url.trim_start_matches("http://").to_string()
    };
    let file = scenario(dir.path(), &format!("http://{closed}"), &db);
    let (codes, parts) = run_shards(&file, dir.path(), 2);
    assert_eq!(codes, [4, 4], "neither shard could run");
    let part: Value =
        serde_json::from_str(&std::fs::read_to_string(parts[1].join("part.json")).expect("part.json")).expect("json");
    assert_eq!(part["exit_code"], 4);
    assert!(part["error"].as_str().is_some_and(|e| e.contains(&closed)), "names the address: {part}");
    let (ran, summary) = merge(&parts, &dir.path().join("merged"));
    assert_eq!(ran.code, 4, "{}", ran.stderr);
    assert!(ran.stderr.contains("shard 0/2") && ran.stderr.contains("did not finish its load"), "{}", ran.stderr);
    assert!(summary.is_none(), "no verdict from a failed shard");
}

#[test]
fn sharding_is_refused_where_it_cannot_be_sound() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("p");
    let out_s = out.to_string_lossy().into_owned();
    let at = release_in(60);
    let ran = flashbench(&["run", "scenarios/limited.yaml", "--shard", "0/2", "--release-at", &at, "--out", &out_s]);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(ran.stderr.contains("target.kind: http"), "{}", ran.stderr);
    let ran = flashbench(&["run", "scenarios/limited.yaml", "--shard", "0/2", "--out", &out_s]);
    assert_eq!(ran.code, 2, "--shard without --release-at: {}", ran.stderr);
    assert!(ran.stderr.contains("--release-at"), "{}", ran.stderr);
    let ran = flashbench(&["run", "scenarios/limited.yaml", "--shard", "2/2", "--release-at", &at, "--out", &out_s]);
    assert_eq!(ran.code, 2);
    assert!(ran.stderr.contains("0 to 1"), "{}", ran.stderr);
    // An http burst with faults: each shard would set them all off.
    let file = scenario(dir.path(), "http://127.0.0.1:9", &dir.path().join("shop.db"));
    let yaml = std::fs::read_to_string(&file).expect("read") + "faults:\n  - {kind: command, run: 'true'}\n";
    std::fs::write(&file, yaml).expect("write");
    let ran = flashbench(&["run", &file.to_string_lossy(), "--shard", "0/2", "--release-at", &at, "--out", &out_s]);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(ran.stderr.contains("--shard sets off no `faults:`"), "{}", ran.stderr);
    assert!(!out.join("part.json").exists(), "nothing written");
}

/// `flashbench run` under a low open-files limit, so a small burst needs several shard and
/// server processes (the same code path as 100,000 buyers under 20,000).
fn run_low_ulimit(out: &Path, extra: &str) -> std::process::Child {
    let command = format!(
        "ulimit -n 1200 && exec '{}' run scenarios/limited.yaml --buyers 2000 --quiet --out '{}' {extra}",
        env!("CARGO_BIN_EXE_flashbench"),
        out.display()
    );
    Command::new("sh")
        .args(["-c", &command])
        .current_dir(repo())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh")
}

fn local_shards_catch(strategy: &str, code: i32) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let ran = run_low_ulimit(&out, &format!("--strategy {strategy}")).wait_with_output().expect("run");
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert_eq!(ran.status.code(), Some(code), "{}{stderr}", String::from_utf8_lossy(&ran.stdout));
    let s = read_summary(&out).expect("summary");
    assert_eq!(s["attempts"], 2000, "every buyer of every shard");
    let shards = s["shards"].as_array().expect("shards");
    assert_eq!(shards.len(), 3, "688 sockets per process: 3 shards");
    assert!(s["target"]["placement"].as_str().is_some_and(|p| p.contains("3 per instance")), "{}", s["target"]);
    if code == 0 {
        assert_eq!(sold(&s), (5, 0));
    } else {
        assert_eq!(status(&s, "no_oversell"), "fail", "{}", invariant(&s, "no_oversell"));
    }
    for i in 0..3 {
        assert!(out.join(format!("shards/part-{i}/part.json")).is_file(), "shard {i} wrote its part");
    }
}

#[test]
fn local_shards_past_the_open_files_limit_pass_a_correct_server() {
    local_shards_catch("conditional", 0);
}

#[test]
fn local_shards_past_the_open_files_limit_catch_an_oversell() {
    local_shards_catch("naive", 1);
}

/// The pids of `flashbench shard` processes whose part goes under `out`.
fn shard_pids(out: &Path) -> Vec<u32> {
    let needle = out.join("shards").display().to_string();
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            text.contains(" shard ") && text.contains(&needle)
        })
        .collect()
}

#[test]
fn a_shard_killed_mid_run_fails_the_run_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let mut run = run_low_ulimit(&out, "");
    // Kill the first shard seen, as the OOM killer would.
    let killed = loop {
        if let Some(pid) = shard_pids(&out).first() {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            break *pid;
        }
        assert!(run.try_wait().expect("wait").is_none(), "the run ended before a shard was seen");
        std::thread::yield_now();
    };
    let ran = run.wait_with_output().expect("run");
    assert_eq!(ran.status.code(), Some(4), "{}", String::from_utf8_lossy(&ran.stderr));
    let s = read_summary(&out).expect("a summary of the failure");
    let error = s["error"].as_str().unwrap_or_default();
    assert!(error.contains(&format!("pid {killed}")) && error.contains("killed by signal 9"), "{error}");
    assert!(s["invariants"].as_array().is_some_and(|a| a.iter().all(|i| i["status"] != "pass")), "nothing proven");
    assert!(shard_pids(&out).is_empty(), "the other shards are stopped too");
}

#[test]
fn ctrl_c_stops_every_local_shard_and_claims_no_pass() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let mut run = run_low_ulimit(&out, "");
    while shard_pids(&out).is_empty() {
        assert!(run.try_wait().expect("wait").is_none(), "the run ended before a shard was seen");
        std::thread::yield_now();
    }
    // `sh -c 'exec …'`: the child's pid is flashbench's own. Shards are in their own process
    // group, so only the parent gets the signal, as from a terminal; it must forward it.
    let _ = Command::new("kill").args(["-INT", &run.id().to_string()]).status();
    let ran = run.wait_with_output().expect("run");
    assert_eq!(ran.status.code(), Some(130), "{}", String::from_utf8_lossy(&ran.stderr));
    let s = read_summary(&out).expect("a partial summary");
    assert_eq!(s["verdict"], "interrupted");
    assert!(shard_pids(&out).is_empty(), "no shard process is left behind");
}
