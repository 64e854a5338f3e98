//! The reports of a run: every artifact present, the HTML self-contained with every chart,
//! the JUnit file well-formed with the right counts and evidence, `flashbench report`
//! rendering the same artifacts again, and a suite's index and combined JUnit.

mod common;
use common::*;
use std::path::Path;

const CHARTS: [&str; 6] = ["latency-percentiles", "latency-over-time", "throughput", "stock", "send-skew", "fairness"];

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// A testsuite's name, tests, failures and skipped.
type Suite = (String, u32, u32, u32);

/// Every testsuite, and the failure messages.
fn junit(text: &str) -> (Vec<Suite>, Vec<String>) {
    let doc = roxmltree::Document::parse(text).expect("junit.xml is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let attr = |n: roxmltree::Node, a: &str| n.attribute(a).and_then(|v| v.parse::<u32>().ok()).expect(a);
    let mut suites = Vec::new();
    for s in root.children().filter(|n| n.has_tag_name("testsuite")) {
        let cases: Vec<_> = s.children().filter(|n| n.has_tag_name("testcase")).collect();
        let failures = cases.iter().filter(|c| c.children().any(|x| x.has_tag_name("failure"))).count() as u32;
        let skipped = cases.iter().filter(|c| c.children().any(|x| x.has_tag_name("skipped"))).count() as u32;
        assert_eq!(attr(s, "tests"), cases.len() as u32, "tests= matches the testcases");
        assert_eq!(attr(s, "failures"), failures, "failures= matches");
        assert_eq!(attr(s, "skipped"), skipped, "skipped= matches");
        suites.push((s.attribute("name").unwrap_or_default().to_string(), cases.len() as u32, failures, skipped));
    }
    let messages = doc
        .descendants()
        .filter(|n| n.has_tag_name("failure"))
        .map(|n| n.attribute("message").unwrap_or_default().to_string())
        .collect();
    (suites, messages)
}

fn assert_self_contained(html: &str) {
    let lower = html.to_ascii_lowercase();
    for banned in ["http://", "https://", "<script", "<link", "@import", "url(", "src=\"//", "href=\"//"] {
        assert!(!lower.contains(banned), "index.html refers to the network or a script: {banned}");
    }
}

#[test]
fn a_run_folder_holds_every_artifact_and_the_html_is_self_contained() {
    let (ran, s, dir) = run_scenario("scenarios/limited.yaml", &[]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    let run = dir.path().join("run");
    for f in [
        "index.html",
        "summary.json",
        "junit.xml",
        "summary.md",
        "ledger.csv",
        "stock.csv",
        "scenario.yaml",
        "orders.db",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    for c in CHARTS {
        let png = std::fs::read(run.join(format!("{c}.png"))).expect("png");
        assert!(png.len() > 5_000 && png.starts_with(b"\x89PNG"), "{c}.png");
        let svg = read(&run, &format!("{c}.svg"));
        assert!(svg.starts_with("<svg") && svg.len() > 2_000, "{c}.svg");
    }
    let html = read(&run, "index.html");
    assert_self_contained(&html);
    for c in CHARTS {
        let at = html.find(&format!("<figure id=\"{c}\">")).unwrap_or_else(|| panic!("chart {c} not in the page"));
        let figure = &html[at..html[at..].find("</figure>").map_or(html.len(), |e| at + e)];
        let marks: usize =
            ["<polyline", "<path", "<rect", "<circle", "<line"].iter().map(|m| figure.matches(m).count()).sum();
        assert!(figure.contains("<svg") && marks > 10, "{c} is empty");
        assert!(figure.contains(&format!("href=\"{c}.png\"")), "{c} links its PNG");
    }
    for needle in
        ["PASS · limited", "no_oversell", "iphone-15", "Scenario as run", "flashbench", "junit.xml", "ledger.csv"]
    {
        assert!(html.contains(needle), "index.html lacks {needle}");
    }
    let (suites, failures) = junit(&read(&run, "junit.xml"));
    assert_eq!(suites, vec![("limited".to_string(), 11, 0, 0)], "10 invariants and 1 threshold, all passing");
    assert!(failures.is_empty());
    let md = read(&run, "summary.md");
    assert!(md.starts_with("## ✅ limited — PASS (exit 0)"), "{md}");
    assert!(md.contains("| `no_oversell` | safety | ✅ pass |"), "{md}");
    assert!(s["release_us"].as_u64().is_some(), "a burst records its release");
}

#[test]
fn an_oversell_shows_in_the_banner_and_the_junit_failure_with_its_numbers() {
    let (ran, s, dir) = run_scenario("scenarios/limited.yaml", &["--strategy", "naive"]);
    assert_eq!(ran.code, 1, "{}{}", ran.stdout, ran.stderr);
    let run = dir.path().join("run");
    let sold = s["products"][0]["units_ordered"].as_u64().expect("units");
    let numbers = format!("{sold} units sold of 5 in stock");
    let html = read(&run, "index.html");
    let banner = &html[html.find("<header").expect("banner")..html.find("</header>").expect("banner end")];
    assert!(banner.contains("FAIL") && banner.contains(&numbers), "banner: {banner}");
    let (suites, failures) = junit(&read(&run, "junit.xml"));
    assert!(suites[0].2 >= 2, "no_oversell and the won count fail: {suites:?}");
    assert!(failures.iter().any(|m| m.starts_with("no_oversell violated") && m.contains(&numbers)), "{failures:?}");
}

#[test]
fn report_renders_the_same_artifacts_again() {
    let (ran, _s, dir) = run_scenario("scenarios/limited.yaml", &["--buyers", "200"]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    let run = dir.path().join("run");
    let mut rendered = vec!["index.html".to_string(), "junit.xml".into(), "summary.md".into()];
    rendered.extend(CHARTS.iter().flat_map(|c| [format!("{c}.png"), format!("{c}.svg")]));
    let before: Vec<Vec<u8>> = rendered.iter().map(|f| std::fs::read(run.join(f)).expect("artifact")).collect();
    for f in &rendered {
        std::fs::remove_file(run.join(f)).expect("remove");
    }
    let r = flashbench(&["report", &run.to_string_lossy()]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    for (f, old) in rendered.iter().zip(before) {
        let new = std::fs::read(run.join(f)).unwrap_or_else(|_| panic!("{f} was not rendered again"));
        assert!(new == old, "{f} differs after `flashbench report`");
    }
    let missing = flashbench(&["report", "no/such/run"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("not a flashbench run folder"), "{}", missing.stderr);
}

#[test]
fn a_suite_writes_an_index_and_a_combined_junit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("suite");
    let ran = flashbench(&[
        "run",
        "scenarios/single-unit.yaml",
        "scenarios/post-depletion.yaml",
        "--quiet",
        "--out",
        &out.to_string_lossy(),
    ]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    let index = read(&out, "index.html");
    assert_self_contained(&index);
    assert!(
        index.contains("href=\"single-unit/index.html\"") && index.contains("href=\"post-depletion/index.html\""),
        "{index}"
    );
    let (suites, _) = junit(&read(&out, "junit.xml"));
    let names: Vec<&str> = suites.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(names, vec!["single-unit", "post-depletion"]);
}
