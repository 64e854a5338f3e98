//! The shipped self-tests: every broken strategy on every backend must be caught, which is
//! the proof that the checks have teeth. One test per scenario file (a custom harness); one
//! whose service does not answer is counted as skipped, unless `FLASHBENCH_REQUIRE_SERVICES=1`.

mod common;
use common::*;

fn catches_its_violation(file: std::path::PathBuf) {
    let scenario = flashbench::scenario::load(&file).expect("self-test scenario loads");
    let extra = service_args(scenario.server.backend.name()).unwrap_or_default();
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let (out, s, _d) = run_scenario(&file.to_string_lossy(), &extra);
    assert_eq!(out.code, 0, "{}: {}{}", file.display(), out.stdout, out.stderr);
    let expected: Vec<&serde_json::Value> =
        s["invariants"].as_array().expect("invariants").iter().filter(|i| i["expected_violation"] == true).collect();
    assert!(!expected.is_empty(), "{} expects no violation", file.display());
    for i in expected {
        assert_eq!(i["status"], "fail", "{}: {} was not caught: {}", file.display(), i["name"], i["detail"]);
    }
}

/// The same mutant in an ordinary scenario (no expectations): the run fails, exit 1, on the
/// invariant the self-test targets.
fn fails_on_its_own(file: std::path::PathBuf) {
    let scenario = flashbench::scenario::load(&file).expect("self-test scenario loads");
    let target = scenario.expect.violations.first().expect("a self-test targets an invariant").name();
    let text = std::fs::read_to_string(&file).expect("read");
    let plain = text.split("\nexpect:").next().unwrap_or(&text).to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("plain.yaml");
    std::fs::write(&copy, format!("{plain}\n")).expect("write");
    let extra = service_args(scenario.server.backend.name()).unwrap_or_default();
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let (out, s, _d) = run_scenario(&copy.to_string_lossy(), &extra);
    assert_eq!(out.code, 1, "{}: {}{}", file.display(), out.stdout, out.stderr);
    assert_eq!(status(&s, target), "fail", "{}: {}", file.display(), invariant(&s, target));
}

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

/// Every safety invariant is the target of a mutant on memory and on SQLite. (The liveness
/// ones are made to fail by misbehaving shops: `tests/http_targets.rs`, a deadlocked pool and
/// a crash mid-sale.)
fn every_invariant_has_a_mutant_on_memory_and_sqlite(files: Vec<std::path::PathBuf>) {
    for backend in ["memory", "sqlite"] {
        let mut targeted = std::collections::BTreeSet::new();
        for f in &files {
            let s = flashbench::scenario::load(f).expect("loads");
            if s.server.backend.name() == backend {
                targeted.extend(s.expect.violations.iter().copied());
            }
        }
        for inv in flashbench::model::check::Invariant::ALL
            .into_iter()
            .filter(|i| i.kind() == flashbench::model::check::Kind::Safety)
        {
            assert!(targeted.contains(&inv), "no {backend} self-test targets {inv}");
        }
    }
}

fn main() -> std::process::ExitCode {
    let mut files: Vec<_> = std::fs::read_dir(repo().join("scenarios/self-test"))
        .expect("self-test folder")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    let mut t = Trials::new();
    for file in files.clone() {
        let scenario = flashbench::scenario::load(&file).expect("self-test scenario loads");
        let name = file.file_stem().map(|s| s.to_string_lossy().replace('-', "_")).unwrap_or_default();
        let needs: Vec<Service> = Service::for_backend(scenario.server.backend.name()).into_iter().collect();
        let f = file.clone();
        t.add(format!("self_test::{name}"), &needs, move || catches_its_violation(f));
        t.add(format!("on_its_own::{name}_exits_1"), &needs, move || fails_on_its_own(file));
    }
    t.add("a_self_test_that_misses_its_violation_fails", &[], a_self_test_that_misses_its_violation_fails);
    t.add("every_invariant_has_a_mutant_on_memory_and_sqlite", &[], move || {
        every_invariant_has_a_mutant_on_memory_and_sqlite(files)
    });
    t.run()
}
