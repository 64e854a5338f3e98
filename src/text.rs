//! Wording shared by every report: counts with their nouns in the right number (`1 unit`,
//! `3 units`), so no message reads "1 units" or "buyer(s)".

/// `1 unit`, `3 units`, `0 buyers`; nouns ending in `y` after a consonant take `ies`.
pub fn count(n: impl Into<i128>, noun: &str) -> String {
    let n = n.into();
    format!("{n} {}", noun_for(n, noun))
}

/// The noun alone in the number `n` calls for: `unit` or `units`.
pub fn noun_for(n: impl Into<i128>, noun: &str) -> String {
    if n.into() == 1 {
        return noun.to_string();
    }
    // Only the last word of a phrase takes the plural: `final stock` → `final stocks`.
    let (head, last) = match noun.rsplit_once(' ') {
        Some((h, l)) => (format!("{h} "), l),
        None => (String::new(), noun),
    };
    let plural = if let Some(stem) = last.strip_suffix('y').filter(|s| !s.ends_with(['a', 'e', 'o', 'u'])) {
        format!("{stem}ies")
    } else if last.ends_with('s') || last.ends_with("sh") || last.ends_with("ch") || last.ends_with('x') {
        format!("{last}es")
    } else {
        format!("{last}s")
    };
    format!("{head}{plural}")
}

/// `12,500`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The error and its causes on one line.
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals() {
        assert_eq!(count(1u32, "unit"), "1 unit");
        assert_eq!(count(3u64, "unit"), "3 units");
        assert_eq!(count(0usize as u64, "buyer"), "0 buyers");
        assert_eq!(count(1i64, "final stock"), "1 final stock");
        assert_eq!(count(2i64, "final stock"), "2 final stocks");
        assert_eq!(count(2u32, "repetition"), "2 repetitions");
        assert_eq!(count(2u32, "entry"), "2 entries");
        assert_eq!(count(2u32, "day"), "2 days");
        assert_eq!(count(-1i64, "unit"), "-1 units");
    }
}
