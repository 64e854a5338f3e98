//! Helpers for the integration tests: run the built `flashbench` binary, read `summary.json`.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Load runs measure races, so one at a time per test process (`cargo test` runs a binary's
/// tests on several threads; nextest's `load` group does the same across processes).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `flashbench ARGS` from the repository root.
pub fn flashbench(args: &[&str]) -> Ran {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let out =
        Command::new(env!("CARGO_BIN_EXE_flashbench")).args(args).current_dir(repo()).output().expect("run flashbench");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs a scenario into a fresh folder and returns the run, its summary and the folder.
pub fn run_scenario(scenario: &str, extra: &[&str]) -> (Ran, Value, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let out_s = out.to_string_lossy().into_owned();
    let mut args = vec!["run", scenario, "--quiet", "--out", &out_s];
    args.extend_from_slice(extra);
    let ran = flashbench(&args);
    let summary = read_summary(&out).unwrap_or_else(|| {
        panic!("no summary.json for {scenario} {extra:?}: exit {}\n{}\n{}", ran.code, ran.stdout, ran.stderr)
    });
    (ran, summary, dir)
}

pub fn read_summary(dir: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join("summary.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// The status of invariant `name` in a summary.
pub fn invariant<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["invariants"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["name"] == name))
        .unwrap_or_else(|| panic!("no invariant {name} in {summary}"))
}

pub fn status(summary: &Value, name: &str) -> String {
    invariant(summary, name)["status"].as_str().unwrap_or_default().to_string()
}

/// Orders and final stock of the first product.
pub fn sold(summary: &Value) -> (u64, i64) {
    let p = &summary["products"][0];
    (p["orders"].as_u64().unwrap_or(u64::MAX), p["final_stock"].as_i64().unwrap_or(i64::MIN))
}
