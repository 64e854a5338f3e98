//! Secrets kept out of what flashbench prints and writes: the password of a store or target
//! URL (`postgres://user:secret@host/db`) becomes `***`, in a single URL or anywhere in a text
//! such as the scenario copied into a run folder.

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`. Parsed with the `url`
/// crate, so a raw `@` in the password (`p@ss`) is masked whole. Text that does not parse as
/// a URL, or whose path still holds an `@` (a `/` in the password), is masked up to its last
/// `@`: more is hidden rather than less.
pub fn redact(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(u) if u.path().contains('@') => mask_userinfo(text),
        Ok(mut u) if u.password().is_some() => match u.set_password(Some("***")) {
            Ok(()) => u.to_string(),
            Err(()) => mask_userinfo(text),
        },
        Ok(_) => text.to_string(),
        Err(_) => mask_userinfo(text),
    }
}

/// The fallback: everything between `scheme://user:` and the last `@` before the query is
/// masked.
fn mask_userinfo(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else { return text.to_string() };
    let query = rest.find(['?', '#']).unwrap_or(rest.len());
    match rest[..query].rfind('@').map(|at| (&rest[..at], &rest[at + 1..])) {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        _ => text.to_string(),
    }
}

/// `text` with the password of every URL in it masked (URLs end at whitespace or a quote).
pub fn redact_urls_in(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        // The scheme: the letters, digits, `+`, `-` and `.` just before `://`.
        let scheme_start = rest[..at]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        let end =
            rest[at..].find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'')).map_or(rest.len(), |i| at + i);
        out.push_str(&rest[..scheme_start]);
        out.push_str(&redact(&rest[scheme_start..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_the_password_only() {
        assert_eq!(redact("postgres://u:pw@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        assert_eq!(redact("redis://:hunter2@127.0.0.1:6379/0"), "redis://:***@127.0.0.1:6379/0");
    }

    #[test]
    fn a_raw_at_sign_in_the_password_is_masked_whole() {
        let shown = redact("postgres://app:p@ss@w0rd@db.internal:5432/shop");
        assert_eq!(shown, "postgres://app:***@db.internal:5432/shop");
        assert!(!redact("postgres://app:p@ss/word@db/shop").contains("ss"), "a slash in the password too");
    }

    #[test]
    fn masks_every_url_in_a_text() {
        let yaml = "server:\n  database_url: postgres://app:s3cr@t@127.0.0.1/test\n  redis_url: \"redis://:top@secret@h:6379\"\nname: a://b\n";
        let shown = redact_urls_in(yaml);
        assert!(!shown.contains("s3cr") && !shown.contains("top@secret"), "{shown}");
        assert!(shown.contains("postgres://app:***@127.0.0.1/test"), "{shown}");
        assert!(shown.contains("\"redis://:***@h:6379\""), "{shown}");
        assert!(shown.ends_with("name: a://b\n"), "{shown}");
    }
}
