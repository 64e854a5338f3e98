//! Reading a scenario file: YAML parsing, the catalogue, and the checks serde cannot make.

use super::locate::{locate, locate_exactly, Seg};
use super::types::{ArrivalMode, Catalogue, Scenario};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Buyers one run may hold at most; beyond this the run is refused before it starts.
pub const MAX_BUYERS: u32 = 100_000;
/// Server instances one run may start at most.
pub const MAX_INSTANCES: u32 = 64;

/// A scenario that cannot be used. Always names the file, and the line and column when known.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Invalid { file: String, line: usize, column: usize, message: String },
}

/// A problem found after parsing, with the path of the field at fault.
#[derive(Debug, Clone)]
pub struct Problem {
    pub path: Vec<Seg>,
    pub message: String,
}

/// Reads and checks the scenario at `path`.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { file: file.clone(), source })?;
    load_str(&text, &file, path.parent().unwrap_or(Path::new(".")))
}

/// Parses and checks scenario `text`; `file` names it in errors and `base` resolves `catalogue`.
pub fn load_str(text: &str, file: &str, base: &Path) -> Result<Scenario, ScenarioError> {
    if text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
        return Err(ScenarioError::Invalid {
            file: file.to_string(),
            line: 1,
            column: 1,
            message: "the file is empty; a scenario needs at least `name`, `products` and `buyers`".into(),
        });
    }
    let mut scenario: Scenario = parse(text, file)?;
    if let Some(rel) = scenario.catalogue.clone() {
        if !scenario.products.is_empty() {
            return Err(at(text, file, &[Seg::Key("catalogue")], "give either `products` or `catalogue`, not both"));
        }
        let cat_path: PathBuf = base.join(&rel);
        let cat_file = cat_path.display().to_string();
        let cat_text = std::fs::read_to_string(&cat_path)
            .map_err(|source| ScenarioError::Read { file: cat_file.clone(), source })?;
        let catalogue: Catalogue = parse(&cat_text, &cat_file)?;
        if let Some(p) = product_problems(&catalogue.products).into_iter().next() {
            return Err(at(&cat_text, &cat_file, &p.path, &p.message));
        }
        scenario.products = catalogue.products;
    }
    if let Some(p) = validate(&scenario).into_iter().next() {
        return Err(at(text, file, &p.path, &p.message));
    }
    Ok(scenario)
}

fn parse<T: serde::de::DeserializeOwned>(text: &str, file: &str) -> Result<T, ScenarioError> {
    let deserializer = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let mut message = inner.to_string();
        if let Some(cut) = message.rfind(" at line ") {
            message.truncate(cut);
        }
        if message.starts_with("EOF while parsing") {
            message = "the file is empty; a scenario needs at least `name`, `products` and `buyers`".into();
        }
        let has_path = !matches!(path.as_str(), "." | "" | "?");
        if let Some((prefix, rest)) = message.split_once(": ") {
            if has_path && path.starts_with(prefix) && !prefix.contains(' ') {
                message = rest.to_string();
            }
        }
        if has_path && !message.starts_with(&path) {
            message = format!("{path}: {message}");
        }
        // The parser knows where syntax and type errors are; for errors raised by a field's
        // own parsing it may not, and the path finds the line instead.
        // The parser knows where syntax and type errors are; for an error raised by a field's
        // own parsing it may point at its parent, so the path wins when it can be followed.
        let segments = path_segments(&path);
        let (line, column) = match (inner.location(), has_path.then(|| locate_exactly(text, &segments)).flatten()) {
            (_, Some(exact)) if is_custom(&message) => exact,
            (Some(l), _) if !(has_path && (l.line(), l.column()) == (1, 1)) => (l.line(), l.column()),
            _ => locate(text, &segments),
        };
        ScenarioError::Invalid { file: file.to_string(), line, column, message }
    })
}

/// Errors raised by a field's own parsing (durations, rate limits, thresholds), as opposed
/// to the parser's type and syntax errors, whose positions it knows exactly.
fn is_custom(message: &str) -> bool {
    !(message.contains("invalid type")
        || message.contains("unknown field")
        || message.contains("unknown variant")
        || message.contains("missing field"))
}

/// `buyers.retry.on[1]` as path segments.
fn path_segments(path: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty() && *p != "?") {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            out.push(Seg::Key(leak(&rest[..i])));
            rest = &rest[i..];
            while let Some(end) = rest.find(']') {
                if let Ok(n) = rest[1..end].parse() {
                    out.push(Seg::Index(n));
                }
                rest = &rest[end + 1..];
            }
        } else {
            out.push(Seg::Key(leak(rest)));
        }
    }
    out
}

/// Path keys are field names of the format, a small fixed set; keeping them `'static` keeps
/// [`Seg`] simple. Only error paths reach this.
fn leak(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

fn at(text: &str, file: &str, path: &[Seg], message: &str) -> ScenarioError {
    let (line, column) = locate(text, path);
    let dotted = path
        .iter()
        .map(|s| match s {
            Seg::Key(k) => k.to_string(),
            Seg::Index(i) => format!("[{i}]"),
        })
        .collect::<Vec<_>>()
        .join(".")
        .replace(".[", "[");
    ScenarioError::Invalid {
        file: file.to_string(),
        line,
        column,
        message: if dotted.is_empty() { message.to_string() } else { format!("{dotted}: {message}") },
    }
}

fn problem(path: &[Seg], message: impl Into<String>) -> Problem {
    Problem { path: path.to_vec(), message: message.into() }
}

fn product_problems(products: &[super::Product]) -> Vec<Problem> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for (i, p) in products.iter().enumerate() {
        let here = [Seg::Key("products"), Seg::Index(i), Seg::Key("id")];
        if p.id.trim().is_empty() {
            out.push(problem(&here, "a product id may not be empty"));
        } else if !seen.insert(p.id.as_str()) {
            out.push(problem(&here, format!("product id {:?} appears twice", p.id)));
        }
    }
    out
}

/// Every problem of a parsed scenario, in file order as far as practical.
pub fn validate(s: &Scenario) -> Vec<Problem> {
    use Seg::Key;
    let mut out = Vec::new();
    if s.name.trim().is_empty() || s.name.contains(['/', '\\']) || s.name.starts_with('.') {
        out.push(problem(
            &[Key("name")],
            "a name is needed, without `/`, `\\` or a leading `.` (it names the report folder)",
        ));
    }
    if s.products.is_empty() {
        out.push(problem(&[Key("products")], "at least one product is needed (`products:` or `catalogue:`)"));
    }
    out.extend(product_problems(&s.products));
    let b = &s.buyers;
    if b.count == 0 || b.count > MAX_BUYERS {
        out.push(problem(
            &[Key("buyers"), Key("count")],
            format!("expected 1 to {MAX_BUYERS} buyers, found {}", b.count),
        ));
    }
    if let Some(t) = &b.target {
        if !s.products.iter().any(|p| &p.id == t) {
            let ids: Vec<&str> = s.products.iter().map(|p| p.id.as_str()).collect();
            out.push(problem(
                &[Key("buyers"), Key("target")],
                format!("no product has id {t:?}; the products are {ids:?}"),
            ));
        }
    }
    for (field, v) in [("quantity", b.quantity), ("wants", b.wants), ("limit", b.limit), ("attempts", b.attempts)] {
        if v == 0 {
            out.push(problem(&[Key("buyers"), Key(field)], "must be at least 1"));
        }
    }
    if b.attempts > 1000 {
        out.push(problem(&[Key("buyers"), Key("attempts")], "at most 1000 attempts per buyer"));
    }
    let bo = &b.retry.backoff;
    if !(bo.multiplier.is_finite() && bo.multiplier >= 1.0) {
        out.push(problem(
            &[Key("buyers"), Key("retry"), Key("backoff"), Key("multiplier")],
            "must be a number of at least 1.0",
        ));
    }
    if bo.initial > bo.max {
        out.push(problem(&[Key("buyers"), Key("retry"), Key("backoff"), Key("initial")], "may not exceed `max`"));
    }
    match (s.arrival.mode, s.arrival.over) {
        (ArrivalMode::Ramp, None) => {
            out.push(problem(&[Key("arrival"), Key("mode")], "`ramp` needs `over`, e.g. `over: 2s`"))
        }
        (ArrivalMode::Burst, Some(_)) => {
            out.push(problem(&[Key("arrival"), Key("over")], "`over` only applies to `mode: ramp`"))
        }
        _ => {}
    }
    if s.request_timeout.0.is_zero() {
        out.push(problem(&[Key("request_timeout")], "must be more than zero"));
    }
    let srv = &s.server;
    if srv.instances == 0 || srv.instances > MAX_INSTANCES {
        out.push(problem(
            &[Key("server"), Key("instances")],
            format!("expected 1 to {MAX_INSTANCES} instances, found {}", srv.instances),
        ));
    }
    if let Some(strategy) = srv.strategy {
        if !srv.backend.supports(strategy) {
            out.push(problem(&[Key("server"), Key("strategy")], srv.backend.unsupported_message(strategy)));
        }
    }
    if srv.pool_size.is_some_and(|n| n == 0 || n > 256) {
        out.push(problem(&[Key("server"), Key("pool_size")], "expected 1 to 256 connections"));
    }
    for (field, url, schemes) in [
        ("redis_url", &srv.redis_url, &["redis://", "rediss://", "unix://"][..]),
        ("database_url", &srv.database_url, &["postgres://", "postgresql://"][..]),
    ] {
        if let Some(u) = url {
            if !schemes.iter().any(|sc| u.starts_with(sc)) {
                out.push(problem(
                    &[Key("server"), Key(field)],
                    format!("{u:?} should start with {}", schemes.join(" or ")),
                ));
            }
        }
    }
    if s.repeat == 0 || s.repeat > 1000 {
        out.push(problem(&[Key("repeat")], "expected 1 to 1000 repetitions"));
    }
    for (metric, limit) in &s.regression {
        if let Err(why) = crate::baseline::Limit::parse(metric, limit) {
            out.push(problem(&[Key("regression")], why));
        }
    }
    let e = &s.expect;
    for (i, v) in e.violations.iter().enumerate() {
        if e.may_also_violate.contains(v) {
            out.push(problem(
                &[Key("expect"), Key("may_also_violate")],
                format!("{v} is already listed in `violations`"),
            ));
        }
        if let Some(list) = &e.invariants {
            if !list.contains(v) {
                out.push(problem(
                    &[Key("expect"), Key("violations"), Seg::Index(i)],
                    format!("{v} is expected to be violated but is not in `invariants`"),
                ));
            }
        }
    }
    out
}

/// Reads the products of a catalogue file, or of a scenario (its `products` or its catalogue).
pub fn load_products(path: &Path) -> Result<Vec<super::Product>, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { file: file.clone(), source })?;
    if let Ok(catalogue) = serde_yaml::from_str::<Catalogue>(&text) {
        if let Some(p) = product_problems(&catalogue.products).into_iter().next() {
            return Err(at(&text, &file, &p.path, &p.message));
        }
        return Ok(catalogue.products);
    }
    load_str(&text, &file, path.parent().unwrap_or(Path::new("."))).map(|s| s.products)
}
