//! The shipped self-tests: every broken strategy must be caught, which is the proof that the
//! checks have teeth.

mod common;
use common::*;

#[test]
fn every_self_test_scenario_catches_its_violation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let ran = flashbench(&["run", "scenarios/self-test/", "--quiet", "--out", &out.to_string_lossy()]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    let names: Vec<String> = std::fs::read_dir(&out)
        .expect("out")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.len() >= 3, "{names:?}");
    for name in names {
        let s = read_summary(&out.join(&name)).expect("summary");
        let caught: Vec<&serde_json::Value> = s["invariants"]
            .as_array()
            .expect("invariants")
            .iter()
            .filter(|i| i["expected_violation"] == true)
            .collect();
        assert!(!caught.is_empty(), "{name} expects no violation");
        for i in caught {
            assert_eq!(i["status"], "fail", "{name}: {} was not caught: {}", i["name"], i["detail"]);
        }
    }
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
