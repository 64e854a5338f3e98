//! A suite's own files: `index.html` linking every scenario's report with its verdict, and a
//! combined `junit.xml`.

use super::html::esc;
use super::{junit, Summary};
use crate::folder::write_atomic;
use crate::model::exit::Exit;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// A suite's `summary.json`: its verdict, and every scenario's summary.
#[derive(Debug, serde::Serialize)]
pub struct SuiteSummary<'a> {
    pub verdict: &'static str,
    pub exit_code: Exit,
    pub passed: usize,
    pub failed: Vec<&'a str>,
    pub scenarios: &'a [&'a Summary],
}

impl<'a> SuiteSummary<'a> {
    pub fn new(scenarios: &'a [&'a Summary], exit_code: Exit) -> Self {
        SuiteSummary {
            verdict: if exit_code == Exit::Pass { "pass" } else { "fail" },
            exit_code,
            passed: scenarios.iter().filter(|s| s.passed()).count(),
            failed: scenarios.iter().filter(|s| !s.passed()).map(|s| s.scenario.as_str()).collect(),
            scenarios,
        }
    }
}

/// One scenario of a suite: its summary (absent when it never ran) and its folder.
pub struct Entry<'a> {
    pub name: String,
    pub exit_code: Exit,
    pub what: String,
    pub summary: Option<&'a Summary>,
    pub dir: Option<PathBuf>,
}

fn relative(from: &Path, to: &Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to_c: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to_c).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..from.len() {
        out.push("..");
    }
    for c in &to_c[common..] {
        out.push(c);
    }
    out.display().to_string()
}

/// Writes `index.html` and `junit.xml` into `dir`.
pub fn write(dir: &Path, entries: &[Entry], exit_code: Exit) -> std::io::Result<()> {
    let summaries: Vec<&Summary> = entries.iter().filter_map(|e| e.summary).collect();
    write_atomic(&dir.join("junit.xml"), junit::document(&summaries).as_bytes())?;
    let abs_dir = std::path::absolute(dir)?;
    let passed = entries.iter().filter(|e| e.exit_code == Exit::Pass).count();
    let mut o = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>flashbench suite · exit {exit_code}</title>\
         <style>body{{font:15px/1.45 system-ui,sans-serif;max-width:1000px;margin:20px auto;padding:0 20px}}\
         table{{border-collapse:collapse;width:100%}}td,th{{text-align:left;padding:6px 8px;border-bottom:1px solid #e5e7eb}}\
         .p{{color:#2a8a3e;font-weight:600}}.f{{color:#c0392b;font-weight:600}}</style></head><body>\
         <h1>flashbench suite: <span class=\"{}\">{}</span></h1><p>{passed} passed, {} failed; exit {exit_code}. \
         <a href=\"junit.xml\">junit.xml</a></p><table><tr><th>verdict</th><th>scenario</th><th>exit</th><th>why</th></tr>\n",
        if exit_code == Exit::Pass { "p" } else { "f" },
        if exit_code == Exit::Pass { "PASS" } else { "FAIL" },
        entries.len() - passed
    );
    for e in entries {
        let link = match &e.dir {
            Some(d) => {
                let target = std::path::absolute(d.join("index.html"))?;
                format!("<a href=\"{}\">{}</a>", esc(&relative(&abs_dir, &target)), esc(&e.name))
            }
            None => esc(&e.name),
        };
        let _ = writeln!(
            o,
            "<tr><td class=\"{}\">{}</td><td>{link}</td><td>{}</td><td>{}</td></tr>",
            if e.exit_code == Exit::Pass { "p" } else { "f" },
            if e.exit_code == Exit::Pass { "PASS" } else { "FAIL" },
            e.exit_code,
            esc(&e.what)
        );
    }
    o.push_str("</table></body></html>\n");
    write_atomic(&dir.join("index.html"), o.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_links() {
        assert_eq!(
            relative(Path::new("/r/suites/t1"), Path::new("/r/limited/t2/index.html")),
            "../../limited/t2/index.html"
        );
        assert_eq!(relative(Path::new("/out"), Path::new("/out/limited/index.html")), "limited/index.html");
    }
}
