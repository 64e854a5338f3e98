//! The layers of DESIGN.md, held: every top-level module of `src/` belongs to one layer, and
//! a module imports only from its own layer or the layers below, never from one above; and no
//! two top-level modules import each other, directly or through others. Imports are read from
//! the source: every `crate::module` path outside comments, `use crate::{a, b}` groups
//! included, test code too (a test fixture above its user is a cycle like any other).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first. A module not listed here fails the test: place it.
const LAYERS: &[(&str, &[&str])] = &[
    ("model: data and their invariants", &["model"]),
    ("helpers", &["clock", "color", "folder", "logging", "redact", "task", "text"]),
    ("scenario: YAML to types; the checkers' test fixtures", &["scenario", "fixtures"]),
    (
        "the system under test and the harness",
        &["server", "limits", "resources", "interrupt", "live", "harness", "target", "truth", "faults"],
    ),
    ("the checker and the gates", &["resolve", "verify", "threshold", "baseline", "stats", "fairness", "timeseries"]),
    ("run: prepare, execute, conclude, judge", &["run"]),
    ("report and shard", &["report", "shard"]),
    ("cli", &["cli"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, modules)| modules.contains(&module))
}

/// `src/`, or the `src` of a tree given by `FLASHBENCH_LAYERING_SRC` (to show the test failing
/// on a tree with one import added).
fn src_dir() -> PathBuf {
    std::env::var_os("FLASHBENCH_LAYERING_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`None`: the crate root, `lib.rs` or `main.rs`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_string_lossy().into_owned();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
    (name != "lib" && name != "main").then_some(name)
}

/// The code of a line: without its `//` comment (doc comments included). String literals
/// holding `//` are rare enough in this crate not to matter: a URL in a literal only cuts the
/// line short, which can hide an import but never invent one.
fn code_of(line: &str) -> &str {
    line.find("//").map_or(line, |i| &line[..i])
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The top-level modules one line of code names: `crate::x` paths, and `use crate::{x, y::z}`.
fn modules_named(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before_ok = rest[..i].chars().next_back().is_none_or(|c| !is_ident(c) && c != '$');
        rest = &rest[i + "crate::".len()..];
        if !before_ok {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item.trim().chars().take_while(|&c| is_ident(c)).collect();
                if !name.is_empty() && name != "self" {
                    out.push(name);
                }
            }
        } else {
            let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
            if !name.is_empty() {
                out.push(name);
            }
        }
    }
    out
}

/// Every import between two top-level modules: (from, to) → the places (`file:line`).
fn imports(src: &Path) -> BTreeMap<(String, String), Vec<String>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    assert!(!files.is_empty(), "no Rust files under {}", src.display());
    let mut out: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for file in files {
        let Some(from) = module_of(src, &file) else { continue };
        let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        // A `use crate::{` group may span lines: join it before reading.
        let mut pending = String::new();
        for (n, line) in text.lines().enumerate() {
            let code = code_of(line);
            pending.push_str(code);
            if pending.contains("crate::{") && !pending.contains('}') {
                continue;
            }
            for to in modules_named(&pending) {
                if to != from {
                    let at = format!("{}:{}", file.strip_prefix(src).unwrap_or(&file).display(), n + 1);
                    out.entry((from.clone(), to)).or_default().push(at);
                }
            }
            pending.clear();
        }
    }
    out
}

#[test]
fn every_module_has_a_layer() {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let unplaced: BTreeSet<String> =
        files.iter().filter_map(|f| module_of(&src, f)).filter(|m| layer_of(m).is_none()).collect();
    assert!(unplaced.is_empty(), "modules with no layer in tests/layering.rs LAYERS: {unplaced:?}");
}

#[test]
fn no_module_imports_from_a_layer_above_its_own() {
    let mut upward = Vec::new();
    for ((from, to), places) in imports(&src_dir()) {
        let (Some(lf), Some(lt)) = (layer_of(&from), layer_of(&to)) else { continue };
        if lt > lf {
            upward.push(format!("{from} ({}) imports {to} ({}) at {}", LAYERS[lf].0, LAYERS[lt].0, places.join(", ")));
        }
    }
    assert!(upward.is_empty(), "imports from a layer above:\n  {}", upward.join("\n  "));
}

#[test]
fn no_two_modules_import_each_other() {
    let edges = imports(&src_dir());
    let mut graph: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (from, to) in edges.keys() {
        if layer_of(to).is_some() {
            graph.entry(from).or_default().insert(to);
        }
    }
    // Depth-first search for a back edge; the path to it is the cycle.
    fn visit<'a>(
        m: &'a str,
        graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<&'a str>> {
        if let Some(i) = path.iter().position(|p| *p == m) {
            let mut cycle = path[i..].to_vec();
            cycle.push(m);
            return Some(cycle);
        }
        if !done.insert(m) {
            return None;
        }
        path.push(m);
        for next in graph.get(m).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        if let Some(cycle) = visit(m, &graph, &mut Vec::new(), &mut done) {
            let places: Vec<String> = cycle
                .windows(2)
                .map(|w| format!("{} → {} at {}", w[0], w[1], edges[&(w[0].to_string(), w[1].to_string())][0]))
                .collect();
            panic!("a cycle between top-level modules: {}\n  {}", cycle.join(" → "), places.join("\n  "));
        }
    }
}

#[test]
fn the_reader_finds_imports_and_ignores_comments() {
    assert_eq!(modules_named("use crate::model::{Ledger, Outcome};"), ["model"]);
    assert_eq!(modules_named("use crate::{model, text::count};"), ["model", "text"]);
    assert_eq!(modules_named("let x = crate::stats::latency(&l) + crate::fairness::f();"), ["stats", "fairness"]);
    assert_eq!(modules_named(code_of("/// see [`crate::shard`]")), Vec::<String>::new());
    assert_eq!(modules_named("$crate::logging::line(x)"), Vec::<String>::new(), "a macro's own path");
}
