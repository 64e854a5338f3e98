//! Request templates: paths, headers and JSON bodies with placeholders, compiled once from the
//! scenario and rendered per buyer and attempt.
//!
//! Placeholders: `{product}` (the product's id), `{buyer}` (the buyer's id), `{attempt}` (1 for
//! the first), `{quantity}`, `{stock}` (the product's initial stock), `{idempotency_key}` (one
//! per order a buyer tries for: its retries share it), `{run}` (a tag per run), `{token}` (what
//! the buyer's login returned), `{order_id}` (in `order.status` only: the id an `accepted`
//! answer gave). In a JSON body a string that is one placeholder with a type,
//! `"{product:int}"`, becomes that type (`:int`, `:float`, `:bool`); elsewhere the type is
//! ignored. `{{` and `}}` are literal braces.

use serde_json::Value;
use std::fmt::Write;

/// A placeholder's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    Product,
    Buyer,
    Attempt,
    Quantity,
    Stock,
    IdempotencyKey,
    Run,
    Token,
    OrderId,
}

impl Var {
    const ALL: [(&'static str, Var); 9] = [
        ("product", Var::Product),
        ("buyer", Var::Buyer),
        ("attempt", Var::Attempt),
        ("quantity", Var::Quantity),
        ("stock", Var::Stock),
        ("idempotency_key", Var::IdempotencyKey),
        ("run", Var::Run),
        ("token", Var::Token),
        ("order_id", Var::OrderId),
    ];

    fn parse(name: &str) -> Option<Var> {
        Var::ALL.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    pub fn name(self) -> &'static str {
        Var::ALL.iter().find(|(_, v)| *v == self).map_or("?", |(n, _)| n)
    }
}

/// The JSON type a typed placeholder renders as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Float,
    Bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Var(Var, Kind),
}

/// Text with placeholders.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template(Vec<Piece>);

/// The values placeholders take for one request.
#[derive(Debug, Clone, Default)]
pub struct Vars<'a> {
    pub product: &'a str,
    pub buyer: &'a str,
    pub attempt: u32,
    pub quantity: u32,
    pub stock: u32,
    pub idempotency_key: &'a str,
    pub run: &'a str,
    pub token: &'a str,
    /// The order id of an `accepted` answer, for its status request.
    pub order_id: &'a str,
    /// Cookies the buyer's login set, sent back as a `cookie` header (empty: none).
    pub cookie: &'a str,
}

impl Vars<'_> {
    fn text(&self, v: Var) -> String {
        match v {
            Var::Product => self.product.to_string(),
            Var::Buyer => self.buyer.to_string(),
            Var::Attempt => self.attempt.to_string(),
            Var::Quantity => self.quantity.to_string(),
            Var::Stock => self.stock.to_string(),
            Var::IdempotencyKey => self.idempotency_key.to_string(),
            Var::Run => self.run.to_string(),
            Var::Token => self.token.to_string(),
            Var::OrderId => self.order_id.to_string(),
        }
    }
}

impl Template {
    /// Compiles `text`; an unknown placeholder, type or an unclosed brace is an error naming it.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        while let Some(i) = rest.find(['{', '}']) {
            lit.push_str(&rest[..i]);
            let tail = &rest[i..];
            if let Some(after) = tail.strip_prefix("{{").or_else(|| tail.strip_prefix("}}")) {
                lit.push_str(&tail[..1]);
                rest = after;
                continue;
            }
            if tail.starts_with('}') {
                return Err(format!("a lone `}}` in {text:?}; write `}}}}` for a literal brace"));
            }
            let end = tail.find('}').ok_or_else(|| format!("`{{` without `}}` in {text:?}"))?;
            let inner = &tail[1..end];
            let (name, kind) = match inner.split_once(':') {
                Some((n, "int")) => (n, Kind::Int),
                Some((n, "float")) => (n, Kind::Float),
                Some((n, "bool")) => (n, Kind::Bool),
                Some((n, "text" | "str")) => (n, Kind::Text),
                Some((_, k)) => return Err(format!("unknown type `:{k}` in {{{inner}}}; use :int, :float or :bool")),
                None => (inner, Kind::Text),
            };
            let var = Var::parse(name).ok_or_else(|| {
                let names: Vec<&str> = Var::ALL.iter().map(|(n, _)| *n).collect();
                format!("unknown placeholder {{{name}}}; use one of {{{}}}", names.join("} {"))
            })?;
            if !lit.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut lit)));
            }
            pieces.push(Piece::Var(var, kind));
            rest = &tail[end + 1..];
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            pieces.push(Piece::Text(lit));
        }
        Ok(Template(pieces))
    }

    /// A template without placeholders.
    pub fn literal(text: &str) -> Template {
        Template(if text.is_empty() { Vec::new() } else { vec![Piece::Text(text.to_string())] })
    }

    pub fn render(&self, vars: &Vars) -> String {
        self.render_with(vars, |v| v.to_string())
    }

    /// Renders a URL path or query: placeholder values are percent-encoded (an id may hold
    /// `/`, `?`, `#` or spaces), the template's own text is kept as written.
    pub fn render_path(&self, vars: &Vars) -> String {
        self.render_with(vars, percent_encode)
    }

    fn render_with(&self, vars: &Vars, value: impl Fn(&str) -> String) -> String {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Var(v, _) => out.push_str(&value(&vars.text(*v))),
            }
        }
        out
    }

    /// Does it use `var` anywhere?
    pub fn uses(&self, var: Var) -> bool {
        self.0.iter().any(|p| matches!(p, Piece::Var(v, _) if *v == var))
    }

    /// The typed placeholder this template is, whole (`"{product:int}"`), if it is one.
    fn typed(&self) -> Option<(Var, Kind)> {
        match self.0.as_slice() {
            [Piece::Var(v, k)] if *k != Kind::Text => Some((*v, *k)),
            _ => None,
        }
    }
}

/// A JSON body whose strings may hold placeholders.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonTemplate {
    Plain(Value),
    Text(Template),
    Array(Vec<JsonTemplate>),
    Object(Vec<(String, JsonTemplate)>),
}

impl JsonTemplate {
    pub fn parse(value: &Value) -> Result<JsonTemplate, String> {
        Ok(match value {
            Value::String(s) => {
                let t = Template::parse(s)?;
                if t.0.iter().all(|p| matches!(p, Piece::Text(_))) {
                    JsonTemplate::Plain(Value::String(t.render(&Vars::default())))
                } else {
                    JsonTemplate::Text(t)
                }
            }
            Value::Array(items) => {
                JsonTemplate::Array(items.iter().map(JsonTemplate::parse).collect::<Result<_, _>>()?)
            }
            Value::Object(map) => JsonTemplate::Object(
                map.iter().map(|(k, v)| Ok((k.clone(), JsonTemplate::parse(v)?))).collect::<Result<_, String>>()?,
            ),
            other => JsonTemplate::Plain(other.clone()),
        })
    }

    pub fn render(&self, vars: &Vars) -> Value {
        match self {
            JsonTemplate::Plain(v) => v.clone(),
            JsonTemplate::Text(t) => match t.typed() {
                Some((var, kind)) => typed(&vars.text(var), kind),
                None => Value::String(t.render(vars)),
            },
            JsonTemplate::Array(items) => Value::Array(items.iter().map(|i| i.render(vars)).collect()),
            JsonTemplate::Object(fields) => {
                Value::Object(fields.iter().map(|(k, v)| (k.clone(), v.render(vars))).collect())
            }
        }
    }

    /// Every placeholder with a type other than text, for validation against known values.
    pub fn typed_vars(&self, out: &mut Vec<(Var, Kind)>) {
        match self {
            JsonTemplate::Text(t) => out.extend(t.typed()),
            JsonTemplate::Array(items) => items.iter().for_each(|i| i.typed_vars(out)),
            JsonTemplate::Object(fields) => fields.iter().for_each(|(_, v)| v.typed_vars(out)),
            JsonTemplate::Plain(_) => {}
        }
    }

    pub fn uses(&self, var: Var) -> bool {
        match self {
            JsonTemplate::Text(t) => t.uses(var),
            JsonTemplate::Array(items) => items.iter().any(|i| i.uses(var)),
            JsonTemplate::Object(fields) => fields.iter().any(|(_, v)| v.uses(var)),
            JsonTemplate::Plain(_) => false,
        }
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `text` as the JSON type `kind`, or as a string when it is not one (validation refuses
/// values that cannot be, so this is only a fallback).
pub fn typed(text: &str, kind: Kind) -> Value {
    let parsed = match kind {
        Kind::Text => None,
        Kind::Int => text.trim().parse::<i64>().ok().map(Value::from),
        Kind::Float => text.trim().parse::<f64>().ok().and_then(|f| serde_json::Number::from_f64(f).map(Value::Number)),
        Kind::Bool => text.trim().parse::<bool>().ok().map(Value::Bool),
    };
    parsed.unwrap_or_else(|| Value::String(text.to_string()))
}

/// Can `text` be rendered as `kind`?
pub fn fits(text: &str, kind: Kind) -> bool {
    !matches!(typed(text, kind), Value::String(_)) || kind == Kind::Text
}

/// One HTTP request with placeholders.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestTemplate {
    pub method: String,
    pub path: Template,
    pub headers: Vec<(String, Template)>,
    pub body: Option<JsonTemplate>,
}

impl RequestTemplate {
    /// The request's bytes for `vars`, to `host`.
    pub fn bytes(&self, host: &str, vars: &Vars) -> Vec<u8> {
        let body = self.body.as_ref().map(|b| b.render(vars).to_string());
        let mut head = format!("{} {} HTTP/1.1\r\nhost: {host}\r\n", self.method, self.path.render_path(vars));
        for (name, value) in &self.headers {
            let _ = write!(head, "{name}: {}\r\n", value.render(vars).replace(['\r', '\n'], " "));
        }
        if !vars.cookie.is_empty() {
            let _ = write!(head, "cookie: {}\r\n", vars.cookie.replace(['\r', '\n'], " "));
        }
        match &body {
            Some(b) => {
                let _ = write!(head, "content-type: application/json\r\ncontent-length: {}\r\n\r\n", b.len());
            }
            None if self.method.eq_ignore_ascii_case("GET") || self.method.eq_ignore_ascii_case("HEAD") => {
                head.push_str("\r\n")
            }
            None => head.push_str("content-length: 0\r\n\r\n"),
        }
        let mut out = head.into_bytes();
        out.extend_from_slice(body.as_deref().unwrap_or("").as_bytes());
        out
    }

    pub fn uses(&self, var: Var) -> bool {
        self.path.uses(var)
            || self.headers.iter().any(|(_, v)| v.uses(var))
            || self.body.as_ref().is_some_and(|b| b.uses(var))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Vars<'static> {
        Vars {
            product: "17",
            buyer: "u-3",
            attempt: 2,
            quantity: 1,
            stock: 5,
            idempotency_key: "r1-u-3-1",
            run: "r1",
            order_id: "",
            token: "t0k",
            cookie: "",
        }
    }

    #[test]
    fn renders_paths_and_typed_json_bodies() {
        let path = Template::parse("/api/orders/{product}?try={attempt}&x={{1}}").expect("path");
        assert_eq!(path.render(&vars()), "/api/orders/17?try=2&x={1}");
        let body =
            JsonTemplate::parse(&json!({"productId": "{product:int}", "userId": "{buyer}", "qty": "{quantity:int}",
            "note": "buyer {buyer}", "fixed": [true, 3], "key": "{idempotency_key}"}))
            .expect("body");
        assert_eq!(
            body.render(&vars()),
            json!({"productId": 17, "userId": "u-3", "qty": 1, "note": "buyer u-3", "fixed": [true, 3], "key": "r1-u-3-1"})
        );
    }

    #[test]
    fn refuses_unknown_placeholders_and_types() {
        assert!(Template::parse("/x/{prodct}").is_err_and(|e| e.contains("unknown placeholder {prodct}")));
        assert!(Template::parse("/x/{product:uuid}").is_err_and(|e| e.contains("unknown type `:uuid`")));
        assert!(Template::parse("/x/{product").is_err_and(|e| e.contains("without")));
        assert!(Template::parse("/x/}").is_err());
    }

    #[test]
    fn writes_whole_requests() {
        let t = RequestTemplate {
            method: "POST".into(),
            path: Template::parse("/orders/{product}").expect("path"),
            headers: vec![("authorization".into(), Template::parse("Bearer {token}").expect("h"))],
            body: None,
        };
        let text = String::from_utf8(t.bytes("shop:80", &vars())).expect("utf8");
        assert_eq!(
            text,
            "POST /orders/17 HTTP/1.1\r\nhost: shop:80\r\nauthorization: Bearer t0k\r\ncontent-length: 0\r\n\r\n"
        );
        assert!(fits("17", Kind::Int) && !fits("p-1", Kind::Int) && fits("anything", Kind::Text));
        let odd = Vars { product: "a/b c?#", ..vars() };
        assert_eq!(Template::parse("/products/{product}").expect("t").render_path(&odd), "/products/a%2Fb%20c%3F%23");
    }
}
