//! The shipped self-tests: every broken strategy on every backend must be caught, which is
//! the proof that the checks have teeth.

mod common;
use common::*;

#[test]
fn every_self_test_scenario_catches_its_violation() {
    let mut files: Vec<_> = std::fs::read_dir(repo().join("scenarios/self-test"))
        .expect("self-test folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 9, "{files:?}");
    let mut ran = 0;
    for file in files {
        let scenario = flashbench::scenario::load(&file).expect("self-test scenario loads");
        let Some(extra) = service_args(scenario.server.backend.name()) else { continue };
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let (out, s, _d) = run_scenario(&file.to_string_lossy(), &extra);
        assert_eq!(out.code, 0, "{}: {}{}", file.display(), out.stdout, out.stderr);
        let expected: Vec<&serde_json::Value> = s["invariants"]
            .as_array()
            .expect("invariants")
            .iter()
            .filter(|i| i["expected_violation"] == true)
            .collect();
        assert!(!expected.is_empty(), "{} expects no violation", file.display());
        for i in expected {
            assert_eq!(i["status"], "fail", "{}: {} was not caught: {}", file.display(), i["name"], i["detail"]);
        }
        ran += 1;
    }
    assert!(ran >= 4, "at least the memory and SQLite self-tests run everywhere");
}

#[test]
fn a_self_test_that_misses_its_violation_fails() {
    // The correct strategy under a scenario that expects an oversell: the expectation is missed.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("miss.yaml");
    let text = std::fs::read_to_string(repo().join("scenarios/self-test/memory-naive.yaml")).expect("read");
    std::fs::write(&file, text.replace("strategy: naive", "strategy: atomic").replace("count: 1500", "count: 100"))
        .expect("write");
    let (ran, s, _d) = run_scenario(&file.to_string_lossy(), &[]);
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    assert!(s["reasons"][0].as_str().is_some_and(|r| r.contains("was expected to be violated")), "{}", s["reasons"]);
}
