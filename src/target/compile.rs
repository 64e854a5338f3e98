//! An `http` target's scenario text turned into what runs: request templates, outcome rules,
//! the stock probe and the endpoints. Validation runs the same compilation, so a scenario that
//! `validate` accepts compiles here; errors carry the path of the field at fault.

use crate::harness::classify::{BodyMatch, Classifier, Rule, StatusMatch};
use crate::harness::plan::{AuthStep, StatusPoll};
use crate::harness::template::{fits, JsonTemplate, Kind, RequestTemplate, Template, Var};
use crate::harness::tls::TlsSettings;
use crate::harness::{Endpoint, StockProbe};
use crate::model::Outcome;
use crate::scenario::target::{expand_env, OrderSpec, RequestSpec, StockSpec, TargetSpec};
use crate::scenario::{Scenario, Seg};
use std::collections::BTreeMap;
use std::net::ToSocketAddrs;
use std::sync::Arc;

/// A compilation error and the field it is about: a scenario problem like the others.
pub use crate::scenario::Problem;

fn problem(path: &[Seg], message: impl Into<String>) -> Problem {
    Problem { path: path.to_vec(), message: message.into() }
}

/// A base URL, checked: `http://host:port` or `https://…` (a path is refused: it belongs in
/// the requests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    pub host: String,
    pub port: u16,
    pub https: bool,
}

impl BaseUrl {
    pub fn parse(text: &str) -> Result<BaseUrl, String> {
        let expanded = expand_env(text)?;
        let url = reqwest::Url::parse(&expanded).map_err(|e| format!("{expanded:?} is not a URL: {e}"))?;
        let https = match url.scheme() {
            "http" => false,
            "https" => true,
            other => return Err(format!("{expanded:?}: the scheme must be http or https, not {other}")),
        };
        if !matches!(url.path(), "" | "/") || url.query().is_some() {
            return Err(format!("{expanded:?}: give the server's base URL only; paths belong in `order.path`"));
        }
        let host = url.host_str().ok_or_else(|| format!("{expanded:?} has no host"))?.to_string();
        Ok(BaseUrl { port: url.port_or_known_default().unwrap_or(80), host, https })
    }

    /// Resolves the host (once, now) into an endpoint; `insecure`: take any TLS certificate.
    pub fn resolve(&self, insecure: bool) -> Result<Endpoint, String> {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        let addr = (host, self.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {}: {e}", self.host))?
            .next()
            .ok_or_else(|| format!("{} resolves to no address", self.host))?;
        let host_header = format!("{}:{}", self.host, self.port);
        let tls = self.https.then(|| TlsSettings::new(&self.host, insecure)).transpose()?.map(Arc::new);
        let scheme = if self.https { "https" } else { "http" };
        Ok(Endpoint { addr, url: format!("{scheme}://{host_header}"), host: host_header, tls })
    }
}

/// Headers, environment expanded, as templates.
fn headers(
    common: &BTreeMap<String, String>,
    own: &BTreeMap<String, String>,
    at: &[Seg],
) -> Result<Vec<(String, Template)>, Problem> {
    let mut out = Vec::new();
    for (name, value) in common.iter().chain(own) {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) {
            return Err(problem(at, format!("header name {name:?} is not a token")));
        }
        let value = expand_env(value).map_err(|e| problem(at, format!("header {name}: {e}")))?;
        let t = Template::parse(&value).map_err(|e| problem(at, format!("header {name}: {e}")))?;
        out.push((name.to_ascii_lowercase(), t));
    }
    Ok(out)
}

fn method(text: &str, at: &[Seg]) -> Result<String, Problem> {
    let m = text.trim().to_ascii_uppercase();
    if m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(problem(at, format!("method {text:?} is not an HTTP method")));
    }
    Ok(m)
}

fn path(text: &str, at: &[Seg]) -> Result<Template, Problem> {
    if !text.starts_with('/') {
        return Err(problem(at, format!("path {text:?} must start with `/`")));
    }
    Template::parse(text).map_err(|e| problem(at, e))
}

fn body(value: Option<&serde_json::Value>, at: &[Seg]) -> Result<Option<JsonTemplate>, Problem> {
    value.map(|v| JsonTemplate::parse(v).map_err(|e| problem(at, e))).transpose()
}

fn request(spec: &RequestSpec, common: &BTreeMap<String, String>, at: &[Seg]) -> Result<RequestTemplate, Problem> {
    let sub = |k: &'static str| [at, &[Seg::Key(k)]].concat();
    no_order_id(
        RequestTemplate {
            method: method(&spec.method, &sub("method"))?,
            path: path(&spec.path, &sub("path"))?,
            headers: headers(common, &spec.headers, &sub("headers"))?,
            body: body(spec.body.as_ref(), &sub("body"))?,
        },
        at,
    )
}

/// `{order_id}` exists only once an order was accepted: in `order.status`.
fn no_order_id(t: RequestTemplate, at: &[Seg]) -> Result<RequestTemplate, Problem> {
    match t.uses(Var::OrderId) {
        true => Err(problem(at, "{order_id} is known only in `order.status`, after an accepted answer")),
        false => Ok(t),
    }
}

/// The order request.
pub fn order(spec: &OrderSpec, common: &BTreeMap<String, String>) -> Result<RequestTemplate, Problem> {
    let as_request = RequestSpec {
        method: spec.method.clone(),
        path: spec.path.clone(),
        body: spec.body.clone(),
        headers: spec.headers.clone(),
    };
    request(&as_request, common, &[Seg::Key("target"), Seg::Key("order")])
}

/// The outcome rules (the reference mapping when none are given) and the order id pointer.
pub fn classifier(spec: &OrderSpec) -> Result<Classifier, Problem> {
    let at = |i: usize| vec![Seg::Key("target"), Seg::Key("order"), Seg::Key("outcomes"), Seg::Index(i)];
    let pointer_ok = |p: &str| p.is_empty() || p.starts_with('/');
    if let Some(p) = &spec.order_id {
        if !pointer_ok(p) {
            return Err(problem(
                &[Seg::Key("target"), Seg::Key("order"), Seg::Key("order_id")],
                format!("{p:?} is not a JSON pointer; write e.g. /orderId or /order/id"),
            ));
        }
    }
    if spec.outcomes.is_empty() {
        return Ok(Classifier { order_id: spec.order_id.clone(), ..Classifier::reference() });
    }
    let mut rules = Vec::new();
    for (i, r) in spec.outcomes.iter().enumerate() {
        let status =
            r.status.as_ref().map(|s| StatusMatch::parse(&s.text())).transpose().map_err(|e| problem(&at(i), e))?;
        let body = r.body.as_deref().map(BodyMatch::parse).transpose().map_err(|e| problem(&at(i), e))?;
        let mut json = Vec::new();
        for (pointer, value) in r.json.iter().flatten() {
            if !pointer_ok(pointer) {
                return Err(problem(&at(i), format!("{pointer:?} is not a JSON pointer (it starts with /)")));
            }
            json.push((pointer.clone(), value.clone()));
        }
        if !r.outcome.is_answer() {
            return Err(problem(
                &at(i),
                format!("an answer cannot be `{}`: that is what flashbench records when none came", r.outcome),
            ));
        }
        if status.is_none() && body.is_none() && json.is_empty() && i + 1 < spec.outcomes.len() {
            return Err(problem(&at(i), "a rule that matches everything hides the rules after it"));
        }
        rules.push(Rule { status, body, json, outcome: r.outcome });
    }
    Ok(Classifier { rules, order_id: spec.order_id.clone() })
}

/// The status poll of queued orders (`order.status`), if any. `{order_id}` needs the accepted
/// answer's id (`order.order_id`); the map's outcomes must be answers, not `accepted` again.
pub fn status(spec: &OrderSpec, common: &BTreeMap<String, String>) -> Result<Option<StatusPoll>, Problem> {
    let Some(st) = &spec.status else { return Ok(None) };
    let at = [Seg::Key("target"), Seg::Key("order"), Seg::Key("status")];
    let sub = |k: &'static str| [&at[..], &[Seg::Key(k)]].concat();
    let request = RequestTemplate {
        method: method(&st.method, &sub("method"))?,
        path: path(&st.path, &sub("path"))?,
        headers: headers(common, &st.headers, &sub("headers"))?,
        body: None,
    };
    if request.uses(Var::OrderId) && spec.order_id.is_none() {
        return Err(problem(
            &sub("path"),
            "{order_id} needs `order.order_id`: the JSON pointer to the id in the accepted answer",
        ));
    }
    for (k, p) in [("pointer", Some(&st.pointer)), ("order_id", st.order_id.as_ref())] {
        if let Some(p) = p.filter(|p| !p.starts_with('/')) {
            return Err(problem(&sub(k), format!("{p:?} is not a JSON pointer; write e.g. /status")));
        }
    }
    if st.map.is_empty() {
        return Err(problem(&sub("map"), "name the final statuses, e.g. {CONFIRMED: won, REJECTED: sold_out}"));
    }
    if let Some((s, o)) = st.map.iter().find(|(_, o)| !o.is_answer() || **o == Outcome::Accepted) {
        return Err(problem(
            &sub("map"),
            format!("{s:?} cannot mean {o}: a final status is won, sold_out, busy, rate_limited, rejected or error"),
        ));
    }
    if !spec.outcomes.iter().any(|r| r.outcome == Outcome::Accepted) {
        return Err(problem(
            &at,
            "the status is polled after an `accepted` answer, and no outcome rule gives `accepted` \
             (add e.g. {status: 202, outcome: accepted})",
        ));
    }
    if st.every.0.is_zero() || st.within.0 < st.every.0 {
        return Err(problem(&sub("every"), "`every` must be above zero and at most `within`"));
    }
    Ok(Some(StatusPoll {
        request,
        pointer: st.pointer.clone(),
        finals: st.map.iter().map(|(s, o)| (s.clone(), *o)).collect(),
        order_id: st.order_id.clone(),
        every: st.every.0,
        within: st.within.0,
    }))
}

/// The stock probe, for the charts or as a truth source.
pub fn stock(spec: &StockSpec, common: &BTreeMap<String, String>, at: &[Seg]) -> Result<StockProbe, Problem> {
    let sub = |k: &'static str| [at, &[Seg::Key(k)]].concat();
    if !spec.pointer.starts_with('/') {
        return Err(problem(&sub("pointer"), format!("{:?} is not a JSON pointer", spec.pointer)));
    }
    let request = RequestTemplate {
        method: method(&spec.method, &sub("method"))?,
        path: path(&spec.path, &sub("path"))?,
        headers: headers(common, &BTreeMap::new(), at)?,
        body: None,
    };
    Ok(StockProbe { request: no_order_id(request, at)?, pointer: spec.pointer.clone() })
}

/// The register and login steps, in that order.
pub fn auth(t: &TargetSpec) -> Result<Vec<AuthStep>, Problem> {
    let mut out = Vec::new();
    for (name, spec) in [("register", &t.register), ("login", &t.login)] {
        let Some(spec) = spec else { continue };
        let at = [Seg::Key("target"), Seg::Key(name)];
        let as_request = RequestSpec {
            method: spec.method.clone(),
            path: spec.path.clone(),
            body: spec.body.clone(),
            headers: spec.headers.clone(),
        };
        // Common headers that carry the token (`Authorization: Bearer {token}`) come after it.
        let common: BTreeMap<String, String> =
            t.headers.iter().filter(|(_, v)| !v.contains("{token")).map(|(k, v)| (k.clone(), v.clone())).collect();
        let request = self::request(&as_request, &common, &at)?;
        if request.uses(Var::Token) {
            return Err(problem(&at, "{token} comes from the login: it cannot be used before"));
        }
        let expect = match &spec.expect {
            Some(s) => {
                StatusMatch::parse(&s.text()).map_err(|e| problem(&[&at[..], &[Seg::Key("expect")]].concat(), e))?
            }
            None => StatusMatch::Range(200, 299),
        };
        if let Some(p) = spec.token.as_ref().filter(|p| !p.starts_with('/')) {
            return Err(problem(&[&at[..], &[Seg::Key("token")]].concat(), format!("{p:?} is not a JSON pointer")));
        }
        out.push(AuthStep { name, request, expect, token: spec.token.clone() });
    }
    Ok(out)
}

/// The warm-up request, if any.
pub fn warmup(t: &TargetSpec) -> Result<Option<RequestTemplate>, Problem> {
    t.warmup.as_ref().map(|w| request(w, &t.headers, &[Seg::Key("target"), Seg::Key("warmup")])).transpose()
}

/// A setup request.
pub fn setup_request(
    spec: &RequestSpec,
    common: &BTreeMap<String, String>,
    i: usize,
) -> Result<RequestTemplate, Problem> {
    request(spec, common, &[Seg::Key("target"), Seg::Key("setup"), Seg::Index(i), Seg::Key("http")])
}

/// Typed placeholders must fit every value they will take (`{product:int}` needs integer ids).
fn typed_fit(s: &Scenario, t: &RequestTemplate, at: &[Seg]) -> Result<(), Problem> {
    let mut typed = Vec::new();
    if let Some(b) = &t.body {
        b.typed_vars(&mut typed);
    }
    for (var, kind) in typed {
        let samples: Vec<String> = match var {
            Var::Product => s.products.iter().map(|p| p.id.clone()).collect(),
            Var::Buyer => vec![s.buyer_id(0), s.buyer_id(s.total_buyers().saturating_sub(1))],
            Var::Token | Var::IdempotencyKey | Var::Run if kind != Kind::Text => {
                return Err(problem(at, format!("{{{}}} is text; it cannot be typed", var.name())));
            }
            _ => Vec::new(),
        };
        if let Some(bad) = samples.iter().find(|v| !fits(v, kind)) {
            return Err(problem(at, format!("{{{}:{kind:?}}} cannot hold {bad:?}", var.name()).to_lowercase()));
        }
    }
    Ok(())
}

/// Every problem of an `http` target's section, compiled as the run would.
pub fn problems(s: &Scenario) -> Vec<Problem> {
    let mut out = Vec::new();
    request_problems(s, &mut out);
    setup_problems(s, &mut out);
    truth_problems(s, &mut out);
    out
}

fn key(k: &'static str) -> Vec<Seg> {
    vec![Seg::Key("target"), Seg::Key(k)]
}

/// The URLs, the order (its request, outcome rules and status poll), the warm-up, the login
/// and the stock probe.
fn request_problems(s: &Scenario, out: &mut Vec<Problem>) {
    let t = &s.target;
    if t.urls.is_empty() {
        out.push(problem(&key("kind"), "an http target needs `urls`, e.g. [http://localhost:8000]"));
    }
    for (i, u) in t.urls.iter().enumerate() {
        if let Err(e) = BaseUrl::parse(u) {
            out.push(problem(&[Seg::Key("target"), Seg::Key("urls"), Seg::Index(i)], e));
        }
    }
    match &t.order {
        None => out.push(problem(&key("kind"), "an http target needs `order`: the request that buys")),
        Some(o) => {
            match order(o, &t.headers) {
                Ok(req) => {
                    if let Err(p) = typed_fit(s, &req, &[Seg::Key("target"), Seg::Key("order"), Seg::Key("body")]) {
                        out.push(p);
                    }
                }
                Err(p) => out.push(p),
            }
            if let Err(p) = classifier(o) {
                out.push(p);
            }
            if let Err(p) = status(o, &t.headers) {
                out.push(p);
            }
        }
    }
    if let Err(p) = warmup(t) {
        out.push(p);
    }
    if let Err(p) = auth(t) {
        out.push(p);
    }
    let logged_in = t.login.as_ref().is_some_and(|l| l.token.is_some());
    let token_used = t.order.as_ref().is_some_and(|o| {
        o.path.contains("{token")
            || o.headers.values().chain(t.headers.values()).any(|h| h.contains("{token"))
            || o.body.as_ref().is_some_and(|b| b.to_string().contains("{token"))
    });
    if token_used && !logged_in {
        out.push(problem(&key("order"), "{token} needs a `login` with `token: /pointer` to fill it"));
    }
    if let Some(st) = &t.stock {
        if let Err(p) = stock(st, &t.headers, &key("stock")) {
            out.push(p);
        }
    }
}

/// Each step of `setup`: parsed, and its truth source present.
fn setup_problems(s: &Scenario, out: &mut Vec<Problem>) {
    let t = &s.target;
    for (i, spec) in t.setup.iter().enumerate() {
        use crate::scenario::target::SetupStep;
        let at = [Seg::Key("target"), Seg::Key("setup"), Seg::Index(i)];
        let step = match spec.step() {
            Ok(step) => step,
            Err(e) => {
                out.push(problem(&at, e));
                continue;
            }
        };
        let checked = match &step {
            SetupStep::Http(r) => setup_request(r, &t.headers, i).map(|_| ()),
            SetupStep::Sql(sql) if s.truth.sql.is_none() => {
                Err(problem(&at, format!("`sql: {sql:?}` runs on truth.sql.url, and there is no truth.sql")))
            }
            SetupStep::Redis(_) if s.truth.redis.is_none() => {
                Err(problem(&at, "a redis step runs on truth.redis.url, and there is no truth.redis"))
            }
            SetupStep::Redis(args) | SetupStep::Command(args) if args.is_empty() => {
                Err(problem(&at, "give the command and its arguments, e.g. [SET, stock, \"{stock}\"]"))
            }
            SetupStep::Sql(text) => Template::parse(text).map(|_| ()).map_err(|e| problem(&at, e)),
            SetupStep::Redis(args) | SetupStep::Command(args) => {
                args.iter().try_for_each(|a| Template::parse(&expand_env(a)?).map(|_| ())).map_err(|e| problem(&at, e))
            }
        };
        if let Err(p) = checked {
            out.push(p);
        }
    }
}

/// One truth source, its URL's scheme, and what it reads.
fn truth_problems(s: &Scenario, out: &mut Vec<Problem>) {
    let t = &s.target;
    let sources = [s.truth.sql.is_some(), s.truth.redis.is_some(), s.truth.http.is_some()];
    let tk = |k: &'static str| vec![Seg::Key("truth"), Seg::Key(k)];
    match sources.iter().filter(|x| **x).count() {
        0 => out.push(problem(
            &key("kind"),
            "an http target needs a truth source: truth.sql (best: stock and orders), truth.redis or truth.http",
        )),
        1 => {}
        _ => out.push(problem(&[Seg::Key("truth")], "give one truth source: sql, redis or http")),
    }
    if let Some(sql) = &s.truth.sql {
        match expand_env(&sql.url) {
            Ok(u)
                if !["postgres://", "postgresql://", "mysql://", "mariadb://", "sqlite:"]
                    .iter()
                    .any(|s| u.starts_with(s)) =>
            {
                out.push(problem(
                    &[Seg::Key("truth"), Seg::Key("sql"), Seg::Key("url")],
                    format!("{u:?}: use postgres://, mysql:// (MySQL or MariaDB) or sqlite://"),
                ))
            }
            Err(e) => out.push(problem(&[Seg::Key("truth"), Seg::Key("sql"), Seg::Key("url")], e)),
            Ok(_) => {}
        }
    }
    if let Some(r) = &s.truth.redis {
        if let Err(e) = expand_env(&r.url).map_err(|e| e.to_string()).and_then(|u| {
            if u.starts_with("redis://") || u.starts_with("rediss://") || u.starts_with("unix://") {
                Ok(())
            } else {
                Err(format!("{u:?}: use redis://"))
            }
        }) {
            out.push(problem(&[Seg::Key("truth"), Seg::Key("redis"), Seg::Key("url")], e));
        }
        if let Err(e) = Template::parse(&r.stock.key) {
            out.push(problem(&[Seg::Key("truth"), Seg::Key("redis"), Seg::Key("stock")], e));
        }
    }
    if let Some(h) = &s.truth.http {
        if let Err(p) = stock(&h.stock, &t.headers, &tk("http")) {
            out.push(p);
        }
    }
}
