//! The Docker image cannot be built here (no Docker engine), so its build stage is replayed:
//! the files the Dockerfile's build stage copies, and only those, are laid out in a fresh
//! folder as they would be under its WORKDIR, and `cargo check --locked --offline --release`
//! runs there. A file the build needs and the Dockerfile forgets to copy (the fixtures the
//! chart font is embedded from, the migrations, a test target Cargo.toml names) fails it.
//!
//! `CARGO_TARGET_DIR` is the repository's own `target/`, so dependencies already built are
//! reused (cargo takes the folder's lock while it checks: fine once the tests run).

use std::path::{Path, PathBuf};
use std::process::Output;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The build stage of a Dockerfile: from the first `FROM` up to the second.
#[derive(Debug, Default)]
struct BuildStage {
    workdir: String,
    /// `COPY <src...> <dst>` without `--from`: the sources (paths in the build context) and
    /// the destination.
    copies: Vec<(Vec<String>, String)>,
    runs: Vec<String>,
}

fn build_stage(dockerfile: &str) -> BuildStage {
    let mut stage = BuildStage { workdir: "/".to_string(), ..BuildStage::default() };
    let mut froms = 0;
    // Instructions may continue on the next line after a trailing backslash.
    let joined = dockerfile.replace("\\\n", " ");
    for line in joined.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (instruction, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let rest = rest.trim();
        match instruction.to_ascii_uppercase().as_str() {
            "FROM" => {
                froms += 1;
                if froms == 2 {
                    break;
                }
            }
            "WORKDIR" => {
                stage.workdir = if rest.starts_with('/') {
                    rest.to_string()
                } else {
                    format!("{}/{rest}", stage.workdir.trim_end_matches('/'))
                }
            }
            "COPY" | "ADD" => {
                let words: Vec<&str> = rest.split_whitespace().collect();
                assert!(
                    !words.iter().any(|w| w.starts_with("--from")),
                    "the build stage copies from another stage: {line}"
                );
                assert!(!rest.starts_with('['), "JSON form of COPY is not replayed: {line}");
                let words: Vec<String> =
                    words.into_iter().filter(|w| !w.starts_with("--")).map(str::to_string).collect();
                let (dst, srcs) = words.split_last().unwrap_or_else(|| panic!("COPY without a destination: {line}"));
                assert!(!srcs.is_empty(), "COPY without a source: {line}");
                stage.copies.push((srcs.to_vec(), dst.clone()));
            }
            "RUN" => stage.runs.push(rest.to_string()),
            _ => {}
        }
    }
    assert!(froms >= 1, "no FROM in the Dockerfile");
    stage
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).expect("mkdir");
        for entry in std::fs::read_dir(from).expect("read_dir") {
            let entry = entry.expect("entry");
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::copy(from, to).unwrap_or_else(|e| panic!("copy {} to {}: {e}", from.display(), to.display()));
    }
}

/// Lays the stage's copies out under `root`, which stands for its WORKDIR, as Docker would:
/// a directory source's contents go into the destination, a file goes into it when it ends
/// with `/` (or there are several sources), else becomes it.
fn lay_out(stage: &BuildStage, root: &Path) {
    let workdir = stage.workdir.trim_end_matches('/');
    for (srcs, dst) in &stage.copies {
        let relative = if let Some(abs) = dst.strip_prefix('/') {
            let inside = abs
                .strip_prefix(workdir.trim_start_matches('/'))
                .unwrap_or_else(|| panic!("COPY to {dst}, outside WORKDIR {workdir}: not replayed"));
            inside.trim_start_matches('/').to_string()
        } else {
            dst.clone()
        };
        let target = root.join(relative.trim_start_matches("./"));
        let into_dir = dst.ends_with('/') || dst == "." || srcs.len() > 1;
        for src in srcs {
            assert!(!src.contains('*') && !src.contains('?'), "wildcards are not replayed: {src}");
            let from = repo().join(src);
            assert!(from.exists(), "the Dockerfile copies {src}, which is not in the repository");
            if from.is_dir() {
                copy_tree(&from, &target);
            } else if into_dir {
                copy_tree(&from, &target.join(from.file_name().expect("file name")));
            } else {
                copy_tree(&from, &target);
            }
        }
    }
}

/// `cargo check --locked --offline --release` in a fresh folder holding exactly what the
/// build stage of `dockerfile` copies.
fn check_build_stage(dockerfile: &str) -> (Output, tempfile::TempDir) {
    let stage = build_stage(dockerfile);
    let dir = tempfile::tempdir().expect("tempdir");
    lay_out(&stage, dir.path());
    let out = std::process::Command::new(env!("CARGO"))
        .args(["check", "--locked", "--offline", "--release"])
        .current_dir(dir.path())
        .env("CARGO_TARGET_DIR", target_dir())
        .env("CARGO_TERM_COLOR", "never")
        .output()
        .expect("run cargo");
    (out, dir)
}

/// The repository's `target/` (or `CARGO_TARGET_DIR` when the tests were built with one).
fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => repo().join(dir),
        None => repo().join("target"),
    }
}

fn dockerfile() -> String {
    std::fs::read_to_string(repo().join("Dockerfile")).expect("read Dockerfile")
}

#[test]
fn the_build_stage_runs_the_checked_command() {
    let stage = build_stage(&dockerfile());
    assert_eq!(stage.workdir, "/src");
    // What the check below stands for: a locked release build, nothing else.
    assert_eq!(stage.runs, ["cargo build --release --locked"]);
    let sources: Vec<&str> = stage.copies.iter().flat_map(|(s, _)| s.iter().map(String::as_str)).collect();
    for needed in ["Cargo.toml", "Cargo.lock", "src"] {
        assert!(sources.contains(&needed), "the build stage copies {needed}: {sources:?}");
    }
}

#[test]
fn the_build_stage_compiles_with_what_it_copies() {
    let (out, dir) = check_build_stage(&dockerfile());
    assert!(
        out.status.success(),
        "`cargo check --locked --offline --release` fails with only what the Dockerfile copies \
         (laid out in {}):\n{}",
        dir.path().display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The check above is honest: without `COPY fixtures ./fixtures` (the chart font is embedded
/// from it) the same check fails.
#[test]
fn a_build_stage_missing_the_fixtures_fails_the_check() {
    let text = dockerfile();
    let without: String =
        text.lines().filter(|l| l.trim() != "COPY fixtures ./fixtures").map(|l| format!("{l}\n")).collect();
    assert_ne!(without, text, "the Dockerfile has a `COPY fixtures ./fixtures` line");
    let (out, _dir) = check_build_stage(&without);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the check passed without the fixtures:\n{stderr}");
    assert!(stderr.contains("fixtures"), "it failed for the fixtures:\n{stderr}");
}
