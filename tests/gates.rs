//! CI gates: thresholds (exit 3), repeated races, suites, baselines, the scenario schema and
//! the nightly workflow.

mod common;
use common::*;
use serde_json::Value;

fn scenario_file(dir: &std::path::Path, name: &str, extra: &str) -> String {
    let path = dir.join(format!("{name}.yaml"));
    let text = format!("name: {name}\nproducts:\n  - id: p\n    stock: 5\nbuyers:\n  count: 100\n  target: p\n{extra}");
    std::fs::write(&path, text).expect("write");
    path.to_string_lossy().into_owned()
}

#[test]
fn an_unmeetable_threshold_exits_3_with_the_observed_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = scenario_file(dir.path(), "slo", "thresholds:\n  - latency.all.p99 < 1us\n  - count.won == 5\n");
    let (ran, s, _d) = run_scenario(&file, &[]);
    assert_eq!(ran.code, 3, "{}{}", ran.stdout, ran.stderr);
    let t = s["thresholds"].as_array().expect("thresholds");
    assert_eq!(t.len(), 2);
    assert_eq!((t[0]["expression"].as_str(), t[0]["status"].as_str()), (Some("latency.all.p99 < 1us"), Some("fail")));
    assert!(t[0]["observed"].as_f64() > Some(1.0), "{}", t[0]);
    assert_eq!((t[1]["status"].as_str(), t[1]["observed"].as_f64()), (Some("pass"), Some(5.0)));
    assert!(ran.stdout.contains("threshold latency.all.p99 < 1us failed: observed"), "{}", ran.stdout);
    assert!(s["invariants"].as_array().expect("inv").iter().all(|i| i["status"] != "fail"), "invariants held");
}

#[test]
fn a_bad_threshold_is_a_scenario_error_with_its_position() {
    let v = flashbench(&["validate", "fixtures/invalid/bad-threshold.yaml"]);
    assert_eq!(v.code, 2);
    assert!(
        v.stdout.contains("bad-threshold.yaml:10:3: thresholds[1]: \"50\" needs a time unit: us, ms or s"),
        "{}",
        v.stdout
    );
}

#[test]
fn twenty_repetitions_of_a_correct_strategy_pass() {
    let (ran, s, _d) = run_scenario("scenarios/limited.yaml", &["--repeat", "20", "--buyers", "300"]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    let reps = s["repetitions"].as_array().expect("repetitions");
    assert_eq!(reps.len(), 20);
    assert!(reps.iter().all(|r| r["exit_code"] == 0 && r["orders"] == 5), "{reps:?}");
    assert_eq!(s["attempts"], 20 * 300, "latency and counts merge across repetitions");
    assert_eq!(s["latency_us"]["all"]["count"], 20 * 300);
    assert_eq!(s["violation_rate"]["no_oversell"].as_f64(), Some(0.0));
}

#[test]
fn repeated_naive_races_fail_with_a_violation_rate() {
    let (ran, s, _d) =
        run_scenario("scenarios/limited.yaml", &["--repeat", "3", "--strategy", "naive", "--buyers", "300"]);
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    assert_eq!(s["repetitions"].as_array().map(Vec::len), Some(3));
    assert_eq!(s["violation_rate"]["no_oversell"].as_f64(), Some(1.0));
    assert!(
        s["reasons"].as_array().expect("reasons").iter().any(|r| r == "no_oversell violated in 100% of repetitions"),
        "{}",
        s["reasons"]
    );
}

#[test]
fn a_baseline_flags_an_injected_regression_with_exit_3_and_the_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let baseline = dir.path().join("baseline.json");
    let b = baseline.to_string_lossy().into_owned();
    // The baseline: the in-memory store. Then the same scenario on SQLite, much slower per order.
    let (ran, _s, _d) = run_scenario("scenarios/limited.yaml", &["--backend", "memory", "--save-baseline", &b]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&baseline).expect("saved")).expect("json");
    assert_eq!(saved["scenario"], "limited");
    let (ran, s, _d) =
        run_scenario("scenarios/limited.yaml", &["--baseline", &b, "--regression", "latency.all.p50=10%"]);
    assert_eq!(ran.code, 3, "{}{}", ran.stdout, ran.stderr);
    let rows = s["baseline"]["rows"].as_array().expect("rows");
    let p50 = rows.iter().find(|r| r["metric"] == "latency.all.p50").expect("the limited metric");
    assert_eq!(p50["status"], "fail", "{p50}");
    assert!(p50["now"].as_f64() > p50["before"].as_f64());
    assert!(rows.iter().any(|r| r["metric"] == "send_skew.p99" && r["status"] == "info"), "no limit: shown only");
    let reasons = s["reasons"].as_array().expect("reasons");
    assert!(
        reasons.iter().any(|r| r.as_str().is_some_and(|r| r.starts_with("regression: latency.all.p50"))),
        "{reasons:?}"
    );
    let bad = flashbench(&["run", "scenarios/limited.yaml", "--regression", "latency.won.p99=lots"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
}

#[test]
fn a_suite_writes_its_summary_and_fail_fast_stops_at_the_first_failure() {
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = dir.path().join("suite");
    std::fs::create_dir(&suite).expect("mkdir");
    scenario_file(&suite, "a-broken", "server:\n  backend: memory\n  strategy: naive\n");
    scenario_file(&suite, "b-good", "");
    let out = dir.path().join("out");
    let ran = flashbench(&["run", &suite.to_string_lossy(), "--quiet", "--out", &out.to_string_lossy()]);
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).expect("suite summary")).expect("json");
    assert_eq!((summary["exit_code"].as_i64(), summary["verdict"].as_str()), (Some(1), Some("fail")));
    assert_eq!(summary["failed"], serde_json::json!(["a-broken"]));
    assert_eq!(summary["scenarios"].as_array().map(Vec::len), Some(2));
    let out2 = dir.path().join("out2");
    let ff = flashbench(&["run", &suite.to_string_lossy(), "--quiet", "--fail-fast", "--out", &out2.to_string_lossy()]);
    assert_eq!(ff.code, 1);
    assert!(
        out2.join("a-broken/summary.json").exists() && !out2.join("b-good").exists(),
        "stopped after the first failure"
    );
}

#[test]
fn the_committed_schema_is_current_and_scenarios_point_at_it() {
    let printed = flashbench(&["schema"]);
    assert_eq!(printed.code, 0);
    let committed = std::fs::read_to_string(repo().join("schema/scenario.schema.json")).expect("schema file");
    assert_eq!(printed.stdout.trim(), committed.trim(), "regenerate: flashbench schema > schema/scenario.schema.json");
    let schema: Value = serde_json::from_str(&committed).expect("valid JSON");
    for field in
        ["name", "products", "catalogue", "buyers", "arrival", "server", "expect", "thresholds", "repeat", "regression"]
    {
        assert!(schema["properties"][field].is_object(), "schema lacks {field}");
    }
    assert_eq!(schema["additionalProperties"], false, "unknown fields are errors in editors too");
    for dir in ["scenarios", "scenarios/self-test"] {
        for entry in std::fs::read_dir(repo().join(dir)).expect("dir").filter_map(Result::ok) {
            let path = entry.path();
            if path.extension().is_some_and(|x| x == "yaml") {
                let text = std::fs::read_to_string(&path).expect("read");
                assert!(text.starts_with("# yaml-language-server: $schema="), "{} lacks the modeline", path.display());
                let rel = text.lines().next().and_then(|l| l.split("$schema=").nth(1)).unwrap_or_default();
                assert!(
                    path.parent().map(|p| p.join(rel)).is_some_and(|p| p.exists()),
                    "{}: {rel} does not resolve",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn the_nightly_workflow_parses_and_does_its_job() {
    let text = std::fs::read_to_string(repo().join(".github/workflows/nightly.yml")).expect("workflow");
    let wf: serde_yaml::Value = serde_yaml::from_str(&text).expect("the workflow is valid YAML");
    assert!(wf["on"]["schedule"][0]["cron"].as_str().is_some(), "scheduled");
    let job = &wf["jobs"]["suite"];
    assert!(job["services"]["redis"]["image"].as_str().is_some_and(|i| i.starts_with("redis")));
    assert!(job["services"]["postgres"]["image"].as_str().is_some_and(|i| i.starts_with("postgres")));
    let steps = job["steps"].as_sequence().expect("steps");
    let uses: Vec<&str> = steps.iter().filter_map(|s| s["uses"].as_str()).collect();
    let runs: String = steps.iter().filter_map(|s| s["run"].as_str()).collect::<Vec<_>>().join("\n");
    assert!(runs.contains("flashbench run scenarios/"), "runs the suite");
    assert!(runs.contains("GITHUB_STEP_SUMMARY"), "writes the job summary");
    assert!(uses.iter().any(|u| u.starts_with("mikepenz/action-junit-report")), "publishes JUnit");
    assert!(uses.iter().any(|u| u.starts_with("actions/upload-artifact")), "uploads the reports");
    assert_eq!(wf["permissions"]["checks"].as_str(), Some("write"), "JUnit publishing needs checks: write");
    assert!(runs.contains("--baseline baseline.json") && runs.contains("--repeat 3"), "gates on the baseline");
    assert!(!runs.contains("libssl-dev"), "nothing to install: rustls, bundled SQLite");
    let save = steps.iter().find(|s| s["name"].as_str() == Some("Save the baseline")).expect("saves a baseline");
    let when = save["if"].as_str().unwrap_or_default();
    assert!(when.contains("always()") && when.contains("refs/heads/main"), "saved on every run of main: {when}");
    // Every shipped scenario the nightly runs carries regression limits it can gate on.
    for entry in std::fs::read_dir(repo().join("scenarios")).expect("dir").filter_map(Result::ok) {
        let path = entry.path();
        if path.extension().is_some_and(|x| x == "yaml") {
            let s: serde_yaml::Value =
                serde_yaml::from_str(&std::fs::read_to_string(&path).expect("read")).expect("yaml");
            assert!(
                s["regression"].as_mapping().is_some_and(|m| !m.is_empty()),
                "{} has no regression:",
                path.display()
            );
        }
    }
}

/// The nightly's own limits (limited.yaml's `regression:`), compared as medians over three
/// repetitions: the same build passes against itself; a store 1 ms slower per order (about
/// 4x the latency of every answer, a quarter of the throughput) exits 3.
#[test]
fn the_nightly_limits_pass_the_same_build_and_catch_a_slower_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = dir.path().join("baseline.json").to_string_lossy().into_owned();
    let reps = ["--buyers", "500", "--repeat", "3"];
    let (ran, _s, _d) = run_scenario("scenarios/limited.yaml", &[&reps[..], &["--save-baseline", &b]].concat());
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    let (ran, s, _d) = run_scenario("scenarios/limited.yaml", &[&reps[..], &["--baseline", &b]].concat());
    assert_eq!(ran.code, 0, "the same build regressed against itself: {}", s["baseline"]);
    assert_eq!(s["baseline"]["now_repetitions"], 3, "medians over the repetitions");
    let limited =
        s["baseline"]["rows"].as_array().expect("rows").iter().filter(|r| r["limit_percent"].is_number()).count();
    assert_eq!(limited, 3, "the scenario's three limits: {}", s["baseline"]);
    let text = std::fs::read_to_string(repo().join("scenarios/limited.yaml")).expect("limited.yaml");
    let slow = dir.path().join("limited.yaml");
    std::fs::write(&slow, text.replace("  rate_limit: 1000/min\n", "  rate_limit: 1000/min\n  store_latency: 1ms\n"))
        .expect("write");
    let (ran, s, _d) = run_scenario(&slow.to_string_lossy(), &[&reps[..], &["--baseline", &b]].concat());
    assert_eq!(ran.code, 3, "{}{}", ran.stdout, ran.stderr);
    let rows = s["baseline"]["rows"].as_array().expect("rows");
    let failed: Vec<&str> =
        rows.iter().filter(|r| r["status"] == "fail").filter_map(|r| r["metric"].as_str()).collect();
    assert!(failed.contains(&"latency.all.p99") && failed.contains(&"throughput"), "{failed:?}");
    assert!(s["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .any(|r| r.as_str().is_some_and(|r| r.starts_with("regression:"))));
}

#[test]
fn a_metric_missing_on_either_side_is_n_a_never_minus_100_percent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let b = dir.path().join("baseline.json").to_string_lossy().into_owned();
    // Five buyers for five units: nobody is told sold_out, so that latency does not exist.
    let (ran, _s, _d) = run_scenario("scenarios/limited.yaml", &["--buyers", "5", "--save-baseline", &b]);
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    let (_ran, s, d) = run_scenario("scenarios/limited.yaml", &["--buyers", "50", "--baseline", &b]);
    let rows = s["baseline"]["rows"].as_array().expect("rows");
    let row = rows.iter().find(|r| r["metric"] == "latency.sold_out.p99").expect("sold_out row");
    assert!(row["before"].is_null() && row["change_percent"].is_null(), "{row}");
    assert_eq!((row["status"].as_str(), row["before_text"].as_str()), (Some("n/a"), Some("n/a")));
    let md = std::fs::read_to_string(d.path().join("run/summary.md")).expect("summary.md");
    let line = md.lines().find(|l| l.contains("latency.sold_out.p99")).expect("in the Markdown table");
    assert!(line.contains("n/a") && !line.contains("-100"), "{line}");
    let html = std::fs::read_to_string(d.path().join("run/index.html")).expect("index.html");
    assert!(html.contains("Against the baseline"), "the regression table is in the HTML");
}

#[test]
fn a_suite_with_one_invalid_file_runs_nothing_and_lists_the_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let suite = dir.path().join("suite");
    std::fs::create_dir(&suite).expect("mkdir");
    scenario_file(&suite, "a-naive", "server:\n  backend: memory\n  strategy: naive\n");
    scenario_file(&suite, "b-good", "");
    scenario_file(&suite, "c-typo", "repat: 3\n");
    let out = dir.path().join("out");
    let ran = flashbench(&["run", &suite.to_string_lossy(), "--quiet", "--out", &out.to_string_lossy()]);
    assert_eq!(ran.code, 2, "{}{}", ran.stdout, ran.stderr);
    assert!(ran.stderr.contains("c-typo.yaml") && ran.stderr.contains("repat"), "{}", ran.stderr);
    assert!(ran.stderr.contains("nothing was run"), "{}", ran.stderr);
    assert!(!out.exists(), "no scenario ran, so no folder claims a result");
}
