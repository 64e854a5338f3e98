//! Fuzzing the scenario loader: mutated copies of every shipped scenario (values swapped for
//! extreme ones, lines dropped, doubled, re-indented, cut short) must load or be refused with a
//! scenario error, never panic; what loads must be usable by every later step without a panic
//! (deadlines, demand, backoff, the rate limiter, thresholds, placement). A sample of loaded
//! mutants is run end to end: each exits 0, 1, 2, 3 or 4.

mod common;
use common::*;
use flashbench::harness::run_deadline;
use flashbench::model::Ledger;
use flashbench::scenario::{load_str, Scenario};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Values that have broken parsers before: overflow, signs, floats, types, durations, rates.
const NASTY: &[&str] = &[
    "0",
    "-1",
    "1",
    "4294967295",
    "4294967296",
    "18446744073709551615",
    "99999999999999999999999",
    "1e308",
    "-0.0",
    "NaN",
    ".inf",
    "''",
    "~",
    "[]",
    "{}",
    "[1, [2]]",
    "18446744073709551615s",
    "584942417355y",
    "0s",
    "1ns",
    "24h",
    "1/18446744073709551615s",
    "0/s",
    "1000000000/ms",
    "off",
    "latency.won.p100 < 1ms",
    "count.won == 18446744073709551616",
    "rate.error == -5%",
    "\"\\u0000\"",
    "!!binary aGk=",
    "*nowhere",
    "&a b",
    "true",
    "ramp",
    "burst",
    "postgres",
    "redis://",
    "\"x/y\"",
];

/// Every shipped scenario and invalid fixture, with its text (read once).
fn shipped() -> &'static [(PathBuf, String)] {
    static ALL: std::sync::OnceLock<Vec<(PathBuf, String)>> = std::sync::OnceLock::new();
    ALL.get_or_init(read_shipped)
}

fn read_shipped() -> Vec<(PathBuf, String)> {
    let mut out = Vec::new();
    for dir in ["scenarios", "scenarios/self-test", "fixtures/invalid"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join(dir))
            .expect("dir")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).expect("read");
            out.push((f, text));
        }
    }
    out
}

/// One edit of a scenario's text.
#[derive(Debug, Clone)]
enum Edit {
    /// Replace the value of line `n` (after its `:` or `- `) with a nasty one.
    Value(usize, usize),
    Drop(usize),
    Double(usize),
    Indent(usize, bool),
    /// Cut the text at this fraction of its length.
    Cut(u8),
    /// Insert a line `key: value` with a nasty value under the line.
    Insert(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), 0..NASTY.len()).prop_map(|(l, v)| Edit::Value(l, v)),
        1 => any::<usize>().prop_map(Edit::Drop),
        1 => any::<usize>().prop_map(Edit::Double),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(l, d)| Edit::Indent(l, d)),
        1 => any::<u8>().prop_map(Edit::Cut),
        1 => (any::<usize>(), 0..NASTY.len()).prop_map(|(l, v)| Edit::Insert(l, v)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for e in edits {
        if lines.is_empty() {
            break;
        }
        let at = |n: usize| n % lines.len();
        match *e {
            Edit::Value(n, v) => {
                let i = at(n);
                let line = &lines[i];
                let cut = line.find(": ").map(|c| c + 2).or_else(|| line.find("- ").map(|c| c + 2));
                if let Some(c) = cut {
                    lines[i] = format!("{}{}", &line[..c], NASTY[v]);
                }
            }
            Edit::Drop(n) => {
                lines.remove(at(n));
            }
            Edit::Double(n) => {
                let i = at(n);
                lines.insert(i, lines[i].clone());
            }
            Edit::Indent(n, deeper) => {
                let i = at(n);
                lines[i] = if deeper { format!("  {}", lines[i]) } else { lines[i].trim_start().to_string() };
            }
            Edit::Cut(f) => {
                let joined = lines.join("\n");
                let mut end = joined.len() * usize::from(f) / 255;
                while !joined.is_char_boundary(end) {
                    end -= 1;
                }
                lines = joined[..end].lines().map(str::to_string).collect();
            }
            Edit::Insert(n, v) => {
                let i = at(n);
                let indent = lines[i].len() - lines[i].trim_start().len();
                let keys = ["count", "stock", "over", "settle", "rate_limit", "attempts", "quantity", "repeat"];
                let key = keys[v % keys.len()];
                lines.insert(i + 1, format!("{}{key}: {}", " ".repeat(indent), NASTY[v]));
            }
        }
    }
    lines.join("\n") + "\n"
}

/// Everything later steps compute from a loaded scenario, so that a panic would show here.
fn use_it(s: &Scenario) {
    assert!(flashbench::scenario::validate(s).is_empty(), "loaded, yet invalid");
    let _ = run_deadline(s);
    let _ = s.eligible_demand();
    let _ = s.max_attempts();
    for retry in 1..=s.buyers.attempts.min(70) {
        let _ = s.buyers.retry.backoff.delay(retry);
    }
    let _ = flashbench::server::BuyerLimiter::new(s.server.rate_limit).admit("buyer-0");
    let observed = flashbench::threshold::Observed::new(&Ledger::default());
    for t in &s.thresholds {
        let _ = observed.evaluate(t);
    }
    let _ = flashbench::limits::place(u64::from(s.buyers.count), u64::from(s.server.instances), 20_000, None);
    let _ = flashbench::limits::source_addresses(u64::from(s.concurrent_connections()), Some(28_232), true, &[]);
    let _ = serde_yaml::to_string(s).expect("a loaded scenario writes back");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_scenarios_load_or_are_refused_never_panic(file in 0usize..1000, edits in prop::collection::vec(edit(), 1..4)) {
        let all = shipped();
        let (path, text) = &all[file % all.len()];
        let mutated = apply(text, &edits);
        let base = path.parent().unwrap_or(Path::new("."));
        if let Ok(s) = load_str(&mutated, "fuzz.yaml", base) {
            use_it(&s);
        }
    }
}

/// Loaded mutants, end to end through the binary: every exit code is one of the contract's.
#[test]
fn mutated_scenarios_that_load_run_to_a_contract_exit_code() {
    let all = shipped();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = (0usize..1000, prop::collection::vec(edit(), 1..3));
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ran = 0;
    for i in 0..400 {
        if ran >= 12 {
            break;
        }
        let (file, edits) = strategy.new_tree(&mut runner).expect("value").current();
        let (path, text) = &all[file % all.len()];
        let mutated = apply(text, &edits);
        let base = path.parent().unwrap_or(Path::new("."));
        let Ok(s) = load_str(&mutated, "fuzz.yaml", base) else { continue };
        // Keep the sample quick: short ramps, short timeouts, a few repetitions.
        let quick = s.arrival.over.is_none_or(|o| o.0 <= Duration::from_secs(3))
            && s.request_timeout.0 <= Duration::from_secs(10)
            && s.repeat <= 3
            && s.buyers.attempts <= 5
            && s.catalogue.is_none();
        if !quick || Service::for_backend(s.server.backend.name()).is_some_and(Service::skip) {
            continue;
        }
        let file = dir.path().join(format!("m{i}.yaml"));
        std::fs::write(&file, &mutated).expect("write");
        let out = dir.path().join(format!("out{i}"));
        let buyers = s.buyers.count.min(200).to_string();
        let r = flashbench(&[
            "run",
            &file.to_string_lossy(),
            "--quiet",
            "--buyers",
            &buyers,
            "--out",
            &out.to_string_lossy(),
        ]);
        assert!((0..=4).contains(&r.code), "exit {} for\n{mutated}\n{}{}", r.code, r.stdout, r.stderr);
        ran += 1;
    }
    assert!(ran >= 5, "only {ran} mutants loaded and ran");
}
