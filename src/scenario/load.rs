//! Reading a scenario file: YAML parsing, the catalogue, and the checks serde cannot make.

use super::locate::{locate, locate_exactly, Seg};
use super::stream::Stream;
use super::target::{TargetKind, TargetSpec};
use super::types::{ArrivalMode, Catalogue, Scenario, ServerSpec};
use crate::model::{MAX_ID_LEN, MAX_LIMIT, MAX_QUANTITY};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Buyers one run may hold at most; beyond this the run is refused before it starts.
pub const MAX_BUYERS: u32 = 100_000;
/// Concurrent sessions of one buyer, at most.
pub const MAX_SESSIONS: u32 = 64;
/// Server instances one run may start at most.
pub const MAX_INSTANCES: u32 = 64;
/// Products one scenario may sell.
pub const MAX_PRODUCTS: usize = 10_000;
/// Attempts (and orders wanted) per buyer at most.
pub const MAX_ATTEMPTS: u32 = 1000;
/// Largest backoff multiplier.
pub const MAX_MULTIPLIER: f64 = 1000.0;
/// Longest scenario name, in bytes (it names folders, schemas and key prefixes).
pub const MAX_NAME_LEN: usize = 100;

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
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub path: Vec<Seg>,
    pub message: String,
}

/// Checks of a layer above the scenario's (the compiled `http` target's), run on a scenario
/// that passed its own and located in its file the same way.
pub type MoreChecks = fn(&Scenario) -> Vec<Problem>;

/// Reads and checks the scenario at `path`.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    load_checked(path, |_| Vec::new())
}

/// Reads the scenario at `path` and checks it, `more` included.
pub fn load_checked(path: &Path, more: MoreChecks) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read { file: file.clone(), source })?;
    load_str_checked(&text, &file, path.parent().unwrap_or(Path::new(".")), more)
}

/// Parses and checks scenario `text`; `file` names it in errors and `base` resolves `catalogue`.
pub fn load_str(text: &str, file: &str, base: &Path) -> Result<Scenario, ScenarioError> {
    load_str_checked(text, file, base, |_| Vec::new())
}

/// [`load_str`], `more` checks included.
pub fn load_str_checked(text: &str, file: &str, base: &Path, more: MoreChecks) -> Result<Scenario, ScenarioError> {
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
    if let Some(p) = more(&scenario).into_iter().next() {
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
        message = plain_words(&message);
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
        // A syntax error inside a block (`did not find expected '-' indicator at line 5 column
        // 4, while parsing a block collection`) is about the line it names, usually one
        // indented unlike its neighbours: point there, and say so.
        if let Some((line, column)) = inner_position(&message) {
            let what = message.replace(&format!(" at line {line} column {column}"), "");
            let message =
                format!("line {line} is not indented like the lines around it, or is not valid YAML there ({what})");
            return ScenarioError::Invalid { file: file.to_string(), line, column, message };
        }
        let (line, column) = match (inner.location(), has_path.then(|| locate_exactly(text, &segments)).flatten()) {
            (_, Some(exact)) if is_custom(&message) => exact,
            (Some(l), _) if !(has_path && (l.line(), l.column()) == (1, 1)) => (l.line(), l.column()),
            _ => locate(text, &segments),
        };
        ScenarioError::Invalid { file: file.to_string(), line, column, message }
    })
}

/// `… at line 5 column 4, while …` in a parser's message: the position it names.
fn inner_position(message: &str) -> Option<(usize, usize)> {
    let rest = &message[message.find(" at line ")? + " at line ".len()..];
    let (line, rest) = rest.split_once(" column ")?;
    let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((line.trim().parse().ok()?, column.parse().ok()?))
}

/// Rust type names in a parser's message, said in plain words: `expected u32` becomes
/// `expected a whole number ≥ 0`.
fn plain_words(message: &str) -> String {
    let mut out = message.to_string();
    for (rust, plain) in [
        ("u8", "a whole number from 0 to 255"),
        ("u16", "a whole number from 0 to 65,535"),
        ("u32", "a whole number ≥ 0"),
        ("u64", "a whole number ≥ 0"),
        ("usize", "a whole number ≥ 0"),
        ("i32", "a whole number"),
        ("i64", "a whole number"),
        ("f32", "a number"),
        ("f64", "a number"),
        ("a boolean", "true or false"),
    ] {
        out = out.replace(&format!("expected {rust}"), &format!("expected {plain}"));
    }
    out.replace("floating point `", "a decimal number `").replace("invalid value: integer `", "invalid value: `")
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
    if products.len() > MAX_PRODUCTS {
        out.push(problem(
            &[Seg::Key("products")],
            format!("at most {MAX_PRODUCTS} products, found {}", products.len()),
        ));
    }
    for (i, p) in products.iter().enumerate() {
        let here = [Seg::Key("products"), Seg::Index(i), Seg::Key("id")];
        if p.id.trim().is_empty() {
            out.push(problem(&here, "a product id may not be empty"));
        } else if p.id.len() > MAX_ID_LEN {
            out.push(problem(
                &here,
                format!(
                    "a product id may be at most {MAX_ID_LEN} bytes (the server refuses longer), found {}",
                    p.id.len()
                ),
            ));
        } else if p.id.chars().any(char::is_control) {
            out.push(problem(&here, "a product id may not hold control characters"));
        } else if !seen.insert(p.id.as_str()) {
            out.push(problem(&here, format!("product id {:?} appears twice", p.id)));
        }
    }
    out
}

/// Every problem of a parsed scenario, in file order as far as practical.
pub fn validate(s: &Scenario) -> Vec<Problem> {
    let mut out = Vec::new();
    name_and_product_problems(s, &mut out);
    buyer_problems(s, &mut out);
    timing_problems(s, &mut out);
    target_kind_problems(s, &mut out);
    server_problems(s, &mut out);
    repeat_and_compare_problems(s, &mut out);
    expect_problems(s, &mut out);
    out
}

/// Problems of the name and the products.
fn name_and_product_problems(s: &Scenario, out: &mut Vec<Problem>) {
    use Seg::Key;
    if s.name.trim().is_empty()
        || s.name.contains(['/', '\\'])
        || s.name.starts_with('.')
        || s.name.chars().any(char::is_control)
        || s.name.len() > MAX_NAME_LEN
    {
        out.push(problem(
            &[Key("name")],
            format!(
                "a name of 1 to {MAX_NAME_LEN} bytes is needed, without `/`, `\\`, control characters or a leading `.` \
                 (it names the report folder)"
            ),
        ));
    }
    if s.products.is_empty() {
        out.push(problem(&[Key("products")], "at least one product is needed (`products:` or `catalogue:`)"));
    }
    out.extend(product_problems(&s.products));
}

/// Problems of `buyers`: how many, their ids, sessions, attempts and backoff.
fn buyer_problems(s: &Scenario, out: &mut Vec<Problem>) {
    use Seg::Key;
    let b = &s.buyers;
    if s.arrival.mode == ArrivalMode::Rate {
        if b.count != 0 {
            out.push(problem(
                &[Key("buyers"), Key("count")],
                format!(
                    "does not apply to `arrival.mode: rate`: its buyers come from the rate ({} arrivals here); leave it out",
                    s.total_buyers()
                ),
            ));
        }
    } else if b.count == 0 || b.count > MAX_BUYERS {
        out.push(problem(
            &[Key("buyers"), Key("count")],
            format!("expected 1 to {MAX_BUYERS} buyers, found {}", b.count),
        ));
    }
    out.extend(arrival_problems(s));
    out.extend(super::faults::problems(s));
    if let Some(t) = &b.target {
        if !s.products.iter().any(|p| &p.id == t) {
            let ids: Vec<&str> = s.products.iter().map(|p| p.id.as_str()).collect();
            out.push(problem(
                &[Key("buyers"), Key("target")],
                format!("no product has id {t:?}; the products are {ids:?}"),
            ));
        }
    }
    for (field, v, max, why) in [
        ("quantity", b.quantity, MAX_QUANTITY, "units per order the server accepts"),
        ("wants", b.wants, MAX_ATTEMPTS, "orders per buyer"),
        ("limit", b.limit, MAX_LIMIT, "orders per buyer the server can be seeded with"),
        ("attempts", b.attempts, MAX_ATTEMPTS, "attempts per buyer"),
    ] {
        if v == 0 || v > max {
            out.push(problem(&[Key("buyers"), Key(field)], format!("expected 1 to {max} ({why}), found {v}")));
        }
    }
    if let Some(f) = &b.id_format {
        let longest = s.buyer_id(s.total_buyers().saturating_sub(1)).len();
        if !f.contains("{n}") {
            out.push(problem(&[Key("buyers"), Key("id_format")], "must hold `{n}`, the buyer's number, e.g. `u-{n}`"));
        } else if longest > MAX_ID_LEN || f.chars().any(char::is_control) {
            out.push(problem(
                &[Key("buyers"), Key("id_format")],
                format!("buyer ids may be at most {MAX_ID_LEN} bytes, without control characters"),
            ));
        }
    }
    session_and_retry_problems(s, out);
}

/// Problems of `buyers.sessions`, `attempts` and the backoff.
fn session_and_retry_problems(s: &Scenario, out: &mut Vec<Problem>) {
    use Seg::Key;
    let b = &s.buyers;
    if b.sessions == 0 || b.sessions > MAX_SESSIONS {
        out.push(problem(
            &[Key("buyers"), Key("sessions")],
            format!("expected 1 to {MAX_SESSIONS} concurrent sessions per buyer, found {}", b.sessions),
        ));
    } else if b.sessions > 1 && s.arrival.mode == ArrivalMode::Rate {
        out.push(problem(
            &[Key("buyers"), Key("sessions")],
            "applies to `arrival.mode: burst` or `ramp`: a rate stream's arrivals are new buyers; leave it out",
        ));
    } else if u64::from(b.count) * u64::from(b.sessions) > u64::from(MAX_BUYERS) {
        out.push(problem(
            &[Key("buyers"), Key("sessions")],
            format!(
                "{} buyers × {} sessions is {} connections; at most {MAX_BUYERS} in all",
                b.count,
                b.sessions,
                u64::from(b.count) * u64::from(b.sessions)
            ),
        ));
    }
    if b.attempts < b.wants {
        out.push(problem(
            &[Key("buyers"), Key("attempts")],
            format!(
                "{} attempt(s) cannot get the {} order(s) each buyer wants; give `attempts` at least `wants`",
                b.attempts, b.wants
            ),
        ));
    }
    let bo = &b.retry.backoff;
    if !(bo.multiplier.is_finite() && (1.0..=MAX_MULTIPLIER).contains(&bo.multiplier)) {
        out.push(problem(
            &[Key("buyers"), Key("retry"), Key("backoff"), Key("multiplier")],
            format!("must be a number from 1.0 to {MAX_MULTIPLIER}"),
        ));
    }
    if bo.initial > bo.max {
        out.push(problem(&[Key("buyers"), Key("retry"), Key("backoff"), Key("initial")], "may not exceed `max`"));
    }
}

/// Problems of the arrival's span, the timeouts and truth's waits.
fn timing_problems(s: &Scenario, out: &mut Vec<Problem>) {
    use Seg::Key;
    match (s.arrival.mode, s.arrival.over) {
        (ArrivalMode::Ramp, None) => {
            out.push(problem(&[Key("arrival"), Key("mode")], "`ramp` needs `over`, e.g. `over: 2s`"))
        }
        (ArrivalMode::Burst | ArrivalMode::Rate, Some(_)) => {
            out.push(problem(&[Key("arrival"), Key("over")], "`over` only applies to `mode: ramp`"))
        }
        _ => {}
    }
    for (path, d) in [
        (&[Key("request_timeout")][..], Some(s.request_timeout)),
        (&[Key("timeseries_interval")][..], Some(s.timeseries_interval)),
        (&[Key("arrival"), Key("connect_timeout")][..], Some(s.arrival.connect_timeout)),
        (&[Key("arrival"), Key("over")][..], s.arrival.over),
        (&[Key("truth"), Key("max_wait")][..], Some(s.truth.max_wait)),
    ] {
        if d.is_some_and(|d| d.0.is_zero()) {
            out.push(problem(path, "must be more than zero"));
        }
    }
    if s.truth.settle > s.truth.max_wait {
        out.push(problem(&[Key("truth"), Key("settle")], "may not exceed `max_wait`"));
    }
}

/// Problems of what the target's kind allows.
fn target_kind_problems(s: &Scenario, out: &mut Vec<Problem>) {
    use Seg::Key;
    match s.target.kind {
        TargetKind::Reference => {
            if s.target != TargetSpec::default() {
                out.push(problem(
                    &[Key("target")],
                    "urls, headers, warmup, order, setup and stock are for `kind: http`; the reference server needs only `server:`",
                ));
            }
            for (field, given) in
                [("sql", s.truth.sql.is_some()), ("redis", s.truth.redis.is_some()), ("http", s.truth.http.is_some())]
            {
                if given {
                    out.push(problem(
                        &[Key("truth"), Key(field)],
                        "truth sources are for `target.kind: http`; the reference server's truth is read from its own store",
                    ));
                }
            }
        }
        TargetKind::Http => {
            if s.server != ServerSpec::default() {
                out.push(problem(
                    &[Key("server")],
                    "`server:` configures the bundled reference server; an http target is your own server, so leave it out",
                ));
            }
        }
    }
}

/// Problems of `server`: instances, strategy, pool, store URLs, `own_redis`.
fn server_problems(s: &Scenario, out: &mut Vec<Problem>) {
    use Seg::Key;
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
        ("mysql_url", &srv.mysql_url, &["mysql://", "mariadb://"][..]),
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
    if srv.own_redis.is_some() {
        if srv.backend != crate::model::Backend::Redis {
            out.push(problem(
                &[Key("server"), Key("own_redis")],
                format!("starts a Redis for `backend: redis`; this server's backend is {}", srv.backend),
            ));
        }
        if srv.redis_url.is_some() {
            out.push(problem(
                &[Key("server"), Key("own_redis")],
                "give either `redis_url` (a Redis of yours) or `own_redis` (one flashbench starts), not both",
            ));
        }
    }
}

/// Problems of `repeat`, `regression` and `matrix`.
fn repeat_and_compare_problems(s: &Scenario, out: &mut Vec<Problem>) {
    use Seg::Key;
    if s.repeat == 0 || s.repeat > 1000 {
        out.push(problem(&[Key("repeat")], "expected 1 to 1000 repetitions"));
    }
    for (metric, limit) in &s.regression {
        if let Err(why) = crate::model::baseline::Limit::parse(metric, limit) {
            out.push(problem(&[Key("regression")], why));
        }
    }
    if let Some(m) = &s.matrix {
        if s.target.kind != TargetKind::Reference {
            out.push(problem(
                &[Key("matrix")],
                "a matrix compares the reference server's designs; an http target is your own server, so leave it out",
            ));
        }
        if m.strategies.is_empty() {
            out.push(problem(&[Key("matrix"), Key("strategies")], "name at least one design, e.g. sqlite/conditional"));
        }
        for (i, d) in m.strategies.iter().enumerate() {
            if m.strategies[..i].contains(d) {
                out.push(problem(&[Key("matrix"), Key("strategies"), Seg::Index(i)], format!("{d} is named twice")));
            }
        }
    }
}

/// Problems of `expect` and `thresholds`.
fn expect_problems(s: &Scenario, out: &mut Vec<Problem>) {
    use Seg::Key;
    let e = &s.expect;
    if e.invariants.as_ref().is_some_and(Vec::is_empty) {
        out.push(problem(
            &[Key("expect"), Key("invariants")],
            "an empty list checks nothing; name at least one invariant, or leave `invariants` out to check all",
        ));
    }
    let most = s.max_attempts();
    for (outcome, expected) in &e.outcomes {
        if let Some(why) = expected.impossible(most) {
            out.push(problem(&[Key("expect"), Key("outcomes"), Key(outcome.name())], why));
        }
    }
    for (i, t) in s.thresholds.iter().enumerate() {
        if let Some(why) = t.impossible(most) {
            out.push(problem(&[Key("thresholds"), Seg::Index(i)], why));
        }
    }
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
}

/// Problems of `arrival`: fields of another mode, and the open stream of `rate` or
/// `background`.
fn arrival_problems(s: &Scenario) -> Vec<Problem> {
    use Seg::Key;
    let a = &s.arrival;
    let mut out = Vec::new();
    let rate_fields = [
        ("rate", a.rate.is_some()),
        ("duration", a.duration.is_some()),
        ("stages", !a.stages.is_empty()),
        ("max_in_flight", a.max_in_flight.is_some()),
    ];
    if a.mode != ArrivalMode::Rate {
        for (field, _) in rate_fields.iter().filter(|(_, given)| *given) {
            let hint = if a.mode == ArrivalMode::Burst { "; a burst takes a stream as `background:`" } else { "" };
            out.push(problem(&[Key("arrival"), Key(field)], format!("`{field}` only applies to `mode: rate`{hint}")));
        }
    }
    if a.mode != ArrivalMode::Burst {
        for (field, given) in [("background", a.background.is_some()), ("at", a.at.is_some())] {
            if given {
                out.push(problem(&[Key("arrival"), Key(field)], format!("`{field}` only applies to `mode: burst`")));
            }
        }
    } else if a.at.is_some() && a.background.is_none() {
        out.push(problem(&[Key("arrival"), Key("at")], "`at` places the burst in a `background` stream; add one"));
    }
    let (stream, path): (Option<Stream>, Vec<Seg>) = match a.mode {
        ArrivalMode::Rate => (a.stream(), vec![Key("arrival")]),
        _ => (a.background.clone(), vec![Key("arrival"), Key("background")]),
    };
    if let Some(stream) = stream {
        stream_problems(s, &stream, &path, &mut out);
    }
    out
}

/// Problems of an open stream at `path`: its rate and duration or stages, its size, its slots
/// and its product.
fn stream_problems(s: &Scenario, stream: &Stream, path: &[Seg], out: &mut Vec<Problem>) {
    use Seg::Key;
    let at = |field: &'static str| {
        let mut p = path.to_vec();
        p.push(Key(field));
        p
    };
    match (stream.duration.is_some(), stream.stages.is_empty()) {
        (true, false) => out.push(problem(
            &at("duration"),
            "give either `rate` with `duration` (a constant rate) or `stages` (a ramped one), not both",
        )),
        (false, true) => out.push(problem(
            path,
            "an open stream needs `rate` and `duration` (e.g. `rate: 500/s, duration: 30s`) or `stages`",
        )),
        (true, true) if stream.rate.is_none() => {
            out.push(problem(&at("rate"), "a constant stream needs `rate`, e.g. `rate: 500/s`"))
        }
        _ => {}
    }
    for (i, st) in stream.stages.iter().enumerate() {
        if st.over.0.is_zero() {
            let mut p = at("stages");
            p.extend([Seg::Index(i), Key("over")]);
            out.push(problem(&p, "must be more than zero"));
        }
    }
    if stream.duration.is_some_and(|d| d.0.is_zero()) {
        out.push(problem(&at("duration"), "must be more than zero"));
    }
    let arrivals = stream.count();
    if out.is_empty() && arrivals == 0 {
        out.push(problem(path, "this stream brings no buyer: its rate over its duration is below one arrival"));
    }
    let total = u64::from(s.closed_buyers()) + arrivals;
    if total > u64::from(MAX_BUYERS) {
        out.push(problem(
            path,
            format!(
                "{total} buyers in all ({arrivals} from the stream) is above the most a run may have, {MAX_BUYERS}"
            ),
        ));
    }
    if stream.max_in_flight.is_some_and(|n| n == 0 || n > MAX_BUYERS) {
        out.push(problem(&at("max_in_flight"), format!("expected 1 to {MAX_BUYERS} buyers at work at once")));
    }
    if let Some(t) = &stream.target {
        if !s.products.iter().any(|p| &p.id == t) {
            let ids: Vec<&str> = s.products.iter().map(|p| p.id.as_str()).collect();
            out.push(problem(&at("target"), format!("no product has id {t:?}; the products are {ids:?}")));
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "name: t\nproducts:\n  - id: p\n    stock: 5\nbuyers:\n  count: 10\n";

    /// The error for `BASE` with `extra` appended, as `line:column: message`.
    fn error(extra: &str) -> String {
        match load_str(&format!("{BASE}{extra}"), "t.yaml", Path::new(".")) {
            Ok(_) => panic!("{extra:?} should be refused"),
            Err(ScenarioError::Invalid { line, column, message, .. }) => format!("{line}:{column}: {message}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn errors_speak_plainly_and_point_at_the_misindented_line() {
        let text = "name: t\nproducts:\n  - id: a\n    stock: 5\n   name: A\nbuyers:\n  count: 10\n  target: a\n";
        let e = load_str(text, "t.yaml", Path::new(".")).expect_err("misindented").to_string();
        assert!(e.starts_with("t.yaml:5:"), "points at line 5, the misindented one: {e}");
        assert!(e.contains("not indented like the lines around it"), "{e}");
        let text = "name: t\nproducts:\n  - id: a\n    stock: 1.5\nbuyers:\n  count: 10\n  target: a\n";
        let e = load_str(text, "t.yaml", Path::new(".")).expect_err("not a whole number").to_string();
        assert!(e.contains("expected a whole number ≥ 0") && !e.contains("u32"), "{e}");
    }

    #[test]
    fn buyers_need_an_attempt_for_every_order_they_want() {
        let text = BASE.replace("count: 10\n", "count: 10\n  wants: 2\n  limit: 2\n  attempts: 1\n");
        let e = load_str(&text, "t.yaml", Path::new(".")).expect_err("attempts < wants");
        assert!(e.to_string().contains("t.yaml:9:3: buyers.attempts: 1 attempt(s) cannot get the 2 order(s)"), "{e}");
    }

    #[test]
    fn inputs_the_server_refuses_are_refused_here_first() {
        let long = "x".repeat(MAX_ID_LEN + 1);
        let text = BASE.replace("id: p", &format!("id: {long}"));
        let e = load_str(&text, "t.yaml", Path::new(".")).expect_err("long id");
        assert!(e.to_string().contains("3:5: products[0].id: a product id may be at most 128 bytes"), "{e}");
        let text = BASE.replace("count: 10\n", "count: 10\n  quantity: 1001\n");
        let e = load_str(&text, "t.yaml", Path::new(".")).expect_err("quantity");
        assert!(e.to_string().contains("buyers.quantity: expected 1 to 1000"), "{e}");
    }

    #[test]
    fn durations_and_rates_that_could_overflow_are_refused() {
        for (extra, want) in [
            (
                "request_timeout: 18446744073709551615s\n",
                "7:1: request_timeout: duration \"18446744073709551615s\" is longer",
            ),
            ("request_timeout: 25h\n", "7:1: request_timeout: duration \"25h\" is longer than"),
            ("arrival:\n  connect_timeout: 100000h\n", "8:3: arrival.connect_timeout: duration"),
            ("arrival:\n  mode: ramp\n  over: 9999999h\n", "9:3: arrival.over: duration"),
            ("server:\n  rate_limit: 1/18446744073709551615s\n", "8:3: server.rate_limit: "),
        ] {
            let got = error(extra);
            assert!(got.starts_with(want), "{extra:?}: {got}");
        }
        let backoff = "buyers:\n  count: 10\n  retry:\n    backoff:\n      max: 99999h\n";
        let text = BASE.replace("buyers:\n  count: 10\n", backoff);
        let e = load_str(&text, "t.yaml", Path::new(".")).expect_err("backoff");
        assert!(e.to_string().contains("buyers.retry.backoff.max"), "{e}");
    }

    #[test]
    fn expectations_and_thresholds_that_can_never_pass_are_refused() {
        let got = error("expect:\n  outcomes:\n    won: {min: 5, max: 1}\n");
        assert!(got.starts_with("9:5: expect.outcomes.won: min 5 is above max 1"), "{got}");
        let got = error("expect:\n  outcomes:\n    won: 11\n");
        assert!(got.contains("the run makes at most 10 attempts"), "{got}");
        let got = error("thresholds:\n  - count.won == -1\n");
        assert!(got.starts_with("8:3: thresholds[0]: `count.won == -1` can never hold"), "{got}");
        let got = error("thresholds:\n  - rate.error == 200%\n");
        assert!(got.contains("can never hold"), "{got}");
        let got = error("expect:\n  invariants: []\n");
        assert!(got.contains("an empty list checks nothing"), "{got}");
    }

    #[test]
    fn sessions_number_their_users_buyer_by_buyer() {
        let text = BASE.replace("count: 10\n", "count: 10\n  sessions: 3\n");
        let s = load_str(&text, "t.yaml", Path::new(".")).expect("valid");
        assert_eq!((s.closed_users(), s.total_users(), s.total_buyers()), (30, 30, 10));
        assert_eq!(s.concurrent_connections(), 30, "a connection per session");
        assert_eq!(s.max_attempts(), 30);
        let users: Vec<(u32, u32)> = [0, 1, 2, 3, 29].iter().map(|&u| (s.buyer_of(u), s.session_of(u))).collect();
        assert_eq!(users, [(0, 0), (0, 1), (0, 2), (1, 0), (9, 2)]);
        let refused = |buyers: &str| {
            let text = BASE.replace("count: 10\n", buyers);
            load_str(&text, "t.yaml", Path::new(".")).expect_err(buyers).to_string()
        };
        let got = refused("count: 10\n  sessions: 0\n");
        assert!(got.contains("buyers.sessions: expected 1 to 64"), "{got}");
        let got = refused("count: 50000\n  sessions: 3\n");
        assert!(got.contains("50000 buyers × 3 sessions is 150000 connections"), "{got}");
    }

    #[test]
    fn truth_settings_are_checked() {
        let got = error("truth:\n  settle: 2s\n  max_wait: 1s\n");
        assert!(got.starts_with("8:3: truth.settle: may not exceed `max_wait`"), "{got}");
        let ok = load_str(&format!("{BASE}truth:\n  settle: 50ms\n"), "t.yaml", Path::new(".")).expect("valid");
        assert_eq!(ok.truth.settle.0, std::time::Duration::from_millis(50));
    }
}
