//! Finds where a field stands in YAML text, so that a check made after parsing (a product
//! id that does not exist, a strategy the backend lacks) can still name its line and column.
//!
//! It reads block-style YAML as people write scenarios: `key: value` lines and `- ` items.
//! When a path cannot be followed to the end, the deepest part found is returned.

/// One step of a path into the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(&'static str),
    Index(usize),
}

#[derive(Debug)]
struct Entry {
    line: usize,
    indent: usize,
    dash: bool,
    text: String,
}

fn entries(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let mut indent = raw.len() - raw.trim_start_matches(' ').len();
        let mut rest = &raw[indent..];
        if rest.is_empty() || rest.starts_with('#') || rest.starts_with("---") {
            continue;
        }
        while let Some(after) = rest.strip_prefix('-') {
            if !(after.is_empty() || after.starts_with(' ')) {
                break;
            }
            out.push(Entry { line: i + 1, indent, dash: true, text: String::new() });
            let spaces = after.len() - after.trim_start_matches(' ').len();
            indent += 1 + spaces;
            rest = after.trim_start_matches(' ');
        }
        if !rest.is_empty() {
            out.push(Entry { line: i + 1, indent, dash: false, text: rest.to_string() });
        }
    }
    out
}

/// The 1-based (line, column) of the deepest part of `path` found in `text`.
pub fn locate(text: &str, path: &[Seg]) -> (usize, usize) {
    let (at, _) = walk(text, path);
    at
}

/// The 1-based (line, column) of the whole of `path`, when every part of it is found.
pub fn locate_exactly(text: &str, path: &[Seg]) -> Option<(usize, usize)> {
    let (at, depth) = walk(text, path);
    (depth == path.len() && !path.is_empty()).then_some(at)
}

/// Follows `path` as far as it goes: the position reached and how many parts were found.
fn walk(text: &str, path: &[Seg]) -> ((usize, usize), usize) {
    let all = entries(text);
    let mut block: &[Entry] = &all;
    let mut best = (1, 1);
    let mut depth = 0;
    for seg in path {
        let Some(min) = block.iter().map(|e| e.indent).min() else { break };
        let found = match seg {
            Seg::Key(key) => block.iter().position(|e| {
                e.indent == min && !e.dash && e.text.strip_prefix(key).is_some_and(|r| r.trim_start().starts_with(':'))
            }),
            Seg::Index(n) => {
                block.iter().enumerate().filter(|(_, e)| e.indent == min && e.dash).nth(*n).map(|(i, _)| i)
            }
        };
        let Some(at) = found else { break };
        let head = &block[at];
        best = (head.line, head.indent + 1);
        depth += 1;
        let end = block[at + 1..]
            .iter()
            .position(|e| e.indent <= head.indent && !(head.dash && e.line == head.line))
            .map_or(block.len(), |p| at + 1 + p);
        block = &block[at + 1..end];
    }
    (best, depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str =
        "name: x\nproducts:\n  - id: a\n    stock: 1\n  - id: b\n    stock: 2\nbuyers:\n  count: 3\n  target: zz\n";

    #[test]
    fn finds_nested_keys_and_items() {
        assert_eq!(locate(DOC, &[Seg::Key("buyers"), Seg::Key("target")]), (9, 3));
        assert_eq!(locate(DOC, &[Seg::Key("products"), Seg::Index(1), Seg::Key("stock")]), (6, 5));
        assert_eq!(locate(DOC, &[Seg::Key("products"), Seg::Index(1), Seg::Key("id")]), (5, 5));
    }

    #[test]
    fn falls_back_to_deepest_found() {
        assert_eq!(locate(DOC, &[Seg::Key("buyers"), Seg::Key("nope")]), (7, 1));
        assert_eq!(locate(DOC, &[Seg::Key("server"), Seg::Key("strategy")]), (1, 1));
    }
}
