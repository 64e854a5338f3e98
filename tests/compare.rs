//! `flashbench compare`: one scenario over several designs, and finished runs side by side.

mod common;
use common::*;
use serde_json::Value;

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .expect("json")
}

fn row<'a>(c: &'a Value, label: &str) -> &'a Value {
    c["designs"].as_array().expect("designs").iter().find(|r| r["label"] == label).expect("a row per design")
}

#[test]
fn designs_side_by_side_and_the_same_from_their_folders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("cmp");
    let ran = flashbench(&[
        "compare",
        "scenarios/limited.yaml",
        "--strategies",
        "memory/atomic,memory/naive,sqlite/conditional",
        "--buyers",
        "300",
        "--quiet",
        "--out",
        &out.to_string_lossy(),
    ]);
    // A broken design is a finding: the comparison exits as a suite would.
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    assert!(ran.stdout.contains("memory/naive") && ran.stdout.contains("5 of 5"), "{}", ran.stdout);
    let c = read_json(&out.join("summary.json"));
    assert_eq!((c["kind"].as_str(), c["exit_code"].as_i64()), (Some("comparison"), Some(1)));
    let atomic = row(&c, "memory/atomic");
    assert_eq!((atomic["verdict"].as_str(), atomic["units_sold"].as_u64()), (Some("pass"), Some(5)));
    assert!(atomic["latency_won_us"]["count"].as_u64() == Some(5), "{atomic}");
    assert!(atomic["latency_refused_us"]["count"].as_u64() > Some(0), "{atomic}");
    let naive = row(&c, "memory/naive");
    assert!(naive["units_sold"].as_u64() > Some(5), "naive oversells: {naive}");
    assert!(naive["violated"].as_array().expect("violated").iter().any(|v| v == "no_oversell"), "{naive}");
    assert_eq!(row(&c, "sqlite/conditional")["verdict"], "pass");
    for d in ["memory-atomic", "memory-naive", "sqlite-conditional"] {
        assert!(out.join(d).join("summary.json").exists(), "{d} has its own run folder");
    }
    for f in [
        "index.html",
        "summary.md",
        "compare-latency.png",
        "compare-latency@2x.png",
        "compare-throughput.svg",
        "compare-violations.png",
    ] {
        assert!(out.join(f).exists(), "{f}");
    }
    let html = std::fs::read_to_string(out.join("index.html")).expect("index.html");
    assert!(
        html.contains("Designs side by side") && html.contains("href=\"memory-naive/index.html\""),
        "links each design"
    );
    assert!(html.contains("no_oversell"), "names the violation");

    // The same comparison from the finished runs' folders.
    let again = dir.path().join("again");
    let ran = flashbench(&[
        "compare",
        &out.join("memory-atomic").to_string_lossy(),
        &out.join("sqlite-conditional").to_string_lossy(),
        "--out",
        &again.to_string_lossy(),
    ]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    let c2 = read_json(&again.join("summary.json"));
    assert_eq!(c2["designs"].as_array().map(Vec::len), Some(2));
    assert_eq!(row(&c2, "memory/atomic")["latency_won_us"], atomic["latency_won_us"], "read back the same");
}

#[test]
fn a_wrong_design_or_folder_is_a_usage_error_and_runs_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("cmp");
    let ran = flashbench(&[
        "compare",
        "scenarios/limited.yaml",
        "--strategies",
        "redis/for-update",
        "--out",
        &out.to_string_lossy(),
    ]);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(ran.stderr.contains("backend redis has no strategy for-update"), "{}", ran.stderr);
    assert!(!out.exists());
    let ran = flashbench(&["compare", "scenarios/limited.yaml", "--out", &out.to_string_lossy()]);
    assert_eq!(ran.code, 2, "no --strategies and no matrix: {}", ran.stderr);
    assert!(ran.stderr.contains("matrix"), "{}", ran.stderr);
    let ran = flashbench(&["compare", "scenarios", "scenarios/self-test"]);
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(ran.stderr.contains("finished run folders"), "{}", ran.stderr);
    let ran = flashbench(&["validate", "scenarios/compare/"]);
    assert_eq!(ran.code, 0, "the shipped comparison is valid: {}{}", ran.stdout, ran.stderr);
}

/// Every store, a correct and a broken design each (the seed's question, smaller).
#[test]
fn every_store_correct_and_broken() {
    let (Some(pg), Some(redis)) = (Service::Postgres.available(), Service::Redis.available()) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("cmp");
    let ran = flashbench(&[
        "compare",
        "scenarios/compare/seed-designs.yaml",
        "--strategies",
        "memory/atomic,sqlite/naive,postgres/for-update,postgres/naive,redis/lua,redis/naive",
        "--buyers",
        "300",
        // A naive design oversells only when two buyers read before either writes: nearly
        // every burst, not all on a loaded machine; a violation in any repetition fails it.
        "--repeat",
        "3",
        "--quiet",
        "--database-url",
        &pg,
        "--redis-url",
        &redis,
        "--out",
        &out.to_string_lossy(),
    ]);
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    let c = read_json(&out.join("summary.json"));
    for good in ["memory/atomic", "postgres/for-update", "redis/lua"] {
        let r = row(&c, good);
        assert_eq!((r["verdict"].as_str(), r["units_sold"].as_u64()), (Some("pass"), Some(5)), "{r}");
    }
    for bad in ["sqlite/naive", "postgres/naive", "redis/naive"] {
        let r = row(&c, bad);
        assert_eq!(r["verdict"], "fail", "{r}");
        assert!(!r["violated"].as_array().expect("violated").is_empty(), "{bad} is caught: {r}");
    }
}
