//! Outcome rules: how an answer becomes an outcome. Ordered, first match wins; a rule matches
//! on the status (`201`, `"5xx"`, `"200-299"`), on the body (a substring, or `/regex/`) and on
//! JSON fields (a JSON pointer and the value it must equal), all it names. An answer no rule
//! matches is an `error` (indeterminate), with its status and the start of its body kept.
//!
//! The reference server's rules are the default: 2xx won, 409 sold out, 423 busy (and the
//! seed's 400 `{"error": "busy"}`), 429 rate limited, other 4xx rejected, 5xx error.

use crate::model::reference_api::{AnswerClass, REFERENCE_ANSWERS, REFERENCE_ORDER_ID};
use crate::model::Outcome;
use serde_json::Value;

/// Which statuses a rule matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusMatch {
    Exact(u16),
    Range(u16, u16),
}

impl StatusMatch {
    /// `201`, `"5xx"`, `"200-299"`.
    pub fn parse(text: &str) -> Result<StatusMatch, String> {
        let t = text.trim();
        let bad = || format!("status {t:?}: write a code (201), a class (\"5xx\") or a range (\"200-299\")");
        if let Some(class) = t.strip_suffix("xx").or_else(|| t.strip_suffix("XX")) {
            let d: u16 = class.parse().map_err(|_| bad())?;
            return if (1..=5).contains(&d) { Ok(StatusMatch::Range(d * 100, d * 100 + 99)) } else { Err(bad()) };
        }
        if let Some((a, b)) = t.split_once('-') {
            let (a, b): (u16, u16) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
            return if (100..=599).contains(&a) && a <= b && b <= 599 {
                Ok(StatusMatch::Range(a, b))
            } else {
                Err(bad())
            };
        }
        let code: u16 = t.parse().map_err(|_| bad())?;
        if (100..=599).contains(&code) {
            Ok(StatusMatch::Exact(code))
        } else {
            Err(bad())
        }
    }

    pub fn matches(&self, status: u16) -> bool {
        match *self {
            StatusMatch::Exact(c) => status == c,
            StatusMatch::Range(a, b) => (a..=b).contains(&status),
        }
    }
}

/// What a rule asks of the body.
#[derive(Debug, Clone)]
pub enum BodyMatch {
    Contains(String),
    Regex(regex_lite::Regex),
}

impl BodyMatch {
    /// A substring, or `/regex/` between slashes.
    pub fn parse(text: &str) -> Result<BodyMatch, String> {
        match text.strip_prefix('/').and_then(|t| t.strip_suffix('/')) {
            Some(re) if text.len() >= 2 => regex_lite::Regex::new(re)
                .map(BodyMatch::Regex)
                .map_err(|e| format!("body /{re}/ is not a regular expression: {e}")),
            _ => Ok(BodyMatch::Contains(text.to_string())),
        }
    }

    fn matches(&self, body: &str) -> bool {
        match self {
            BodyMatch::Contains(s) => body.contains(s.as_str()),
            BodyMatch::Regex(r) => r.is_match(body),
        }
    }
}

/// One rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub status: Option<StatusMatch>,
    pub body: Option<BodyMatch>,
    /// JSON pointers and the values found there must equal.
    pub json: Vec<(String, Value)>,
    pub outcome: Outcome,
}

impl Rule {
    fn matches(&self, status: u16, body: &str, json: &mut Option<Option<Value>>) -> bool {
        if self.status.as_ref().is_some_and(|s| !s.matches(status)) {
            return false;
        }
        if self.body.as_ref().is_some_and(|b| !b.matches(body)) {
            return false;
        }
        if self.json.is_empty() {
            return true;
        }
        let doc = json.get_or_insert_with(|| serde_json::from_str(body).ok());
        let Some(doc) = doc else { return false };
        self.json.iter().all(|(pointer, want)| doc.pointer(pointer).is_some_and(|got| loosely_equal(got, want)))
    }
}

/// JSON equality that also takes `1` for `"1"`: shops disagree on how ids are typed.
fn loosely_equal(got: &Value, want: &Value) -> bool {
    got == want
        || match (got, want) {
            (Value::String(s), other) | (other, Value::String(s)) if !other.is_string() => {
                s.as_str() == other.to_string().as_str()
            }
            _ => false,
        }
}

/// What an answer was classified as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub outcome: Outcome,
    /// Which rule matched (0-based); `None`: none did.
    pub rule: Option<usize>,
    pub order_id: Option<String>,
    /// Why it is worth a look: an unmatched answer, a win without an order id, an error's text.
    pub note: Option<String>,
}

/// The rules of one order request, and where a win's order id is.
#[derive(Debug, Clone)]
pub struct Classifier {
    pub rules: Vec<Rule>,
    /// JSON pointer to the order id in a won answer.
    pub order_id: Option<String>,
}

impl Classifier {
    /// The reference server's API: a rule per line of its table, the one the server counts
    /// its own answers by.
    pub fn reference() -> Classifier {
        let rule = |c: &AnswerClass| Rule {
            status: Some(if c.from == c.to { StatusMatch::Exact(c.from) } else { StatusMatch::Range(c.from, c.to) }),
            body: None,
            json: c.error.map(|code| ("/error".to_string(), Value::String(code.into()))).into_iter().collect(),
            outcome: c.outcome,
        };
        Classifier { rules: REFERENCE_ANSWERS.iter().map(rule).collect(), order_id: Some(REFERENCE_ORDER_ID.into()) }
    }

    pub fn classify(&self, status: u16, body: &[u8]) -> Classified {
        let text = String::from_utf8_lossy(body);
        let mut json = None;
        let Some((index, rule)) = self.rules.iter().enumerate().find(|(_, r)| r.matches(status, &text, &mut json))
        else {
            return Classified {
                outcome: Outcome::Error,
                rule: None,
                order_id: None,
                note: Some(format!("{status} matched no outcome rule: {}", start_of(&text))),
            };
        };
        let outcome = rule.outcome;
        let order_id = match (outcome, &self.order_id) {
            (Outcome::Won | Outcome::Accepted, Some(pointer)) => {
                let doc = json.get_or_insert_with(|| serde_json::from_str(&text).ok());
                doc.as_ref().and_then(|d| d.pointer(pointer)).and_then(id_text)
            }
            _ => None,
        };
        let note = match outcome {
            Outcome::Won | Outcome::Accepted if order_id.is_none() && self.order_id.is_some() => {
                Some(format!("{status} without an order id in the body"))
            }
            // Keep what the server said about a failure: the summary groups these.
            Outcome::Error => {
                let doc = json.get_or_insert_with(|| serde_json::from_str(&text).ok());
                let message = doc.as_ref().and_then(|d| d.get("message")).and_then(Value::as_str);
                Some(format!("{status}: {}", message.map_or_else(|| start_of(&text), str::to_string)))
            }
            _ => None,
        };
        Classified { outcome, rule: Some(index), order_id, note }
    }
}

/// An id as text: a string as it is, a number in decimal; anything else is no id.
pub fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The first 200 bytes of a body, on one line.
pub fn start_of(text: &str) -> String {
    let mut end = text.len().min(200);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].replace(['\r', '\n'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_rules_classify_the_reference_api() {
        let c = Classifier::reference();
        let won = c.classify(201, br#"{"order":{"id":"42"},"remaining_stock":3}"#);
        assert_eq!(
            (won.outcome, won.order_id.as_deref(), won.note, won.rule),
            (Outcome::Won, Some("42"), None, Some(0))
        );
        assert_eq!(c.classify(409, b"{}").outcome, Outcome::SoldOut);
        assert_eq!(c.classify(423, b"{}").outcome, Outcome::Busy);
        assert_eq!(c.classify(400, br#"{"error":"busy","message":"High demand!"}"#).outcome, Outcome::Busy);
        assert_eq!(c.classify(400, br#"{"error":"bad_request"}"#).outcome, Outcome::Rejected);
        assert_eq!(c.classify(429, b"").outcome, Outcome::RateLimited);
        assert_eq!(c.classify(403, b"").outcome, Outcome::Rejected);
        let e = c.classify(503, br#"{"error":"store_unavailable","message":"pool exhausted"}"#);
        assert_eq!((e.outcome, e.note.as_deref()), (Outcome::Error, Some("503: pool exhausted")));
        let odd = c.classify(302, b"moved");
        assert_eq!((odd.outcome, odd.note.as_deref()), (Outcome::Error, Some("302 matched no outcome rule: moved")));
        let anonymous = c.classify(201, b"{}");
        assert_eq!(anonymous.note.as_deref(), Some("201 without an order id in the body"));
    }

    #[test]
    fn rules_match_bodies_regexes_and_json_fields_in_order() {
        let rule = |status: &str, body: Option<&str>, json: Vec<(&str, Value)>, outcome| Rule {
            status: Some(StatusMatch::parse(status).expect("status")),
            body: body.map(|b| BodyMatch::parse(b).expect("body")),
            json: json.into_iter().map(|(p, v)| (p.to_string(), v)).collect(),
            outcome,
        };
        let c = Classifier {
            rules: vec![
                rule("200", Some("Sold Out"), vec![], Outcome::SoldOut),
                rule("200", None, vec![], Outcome::Won),
                rule("400", None, vec![("/detail", "Out of stock".into())], Outcome::SoldOut),
                rule("400", Some("/[Ii]nsufficient stock/"), vec![], Outcome::SoldOut),
                rule("5xx", None, vec![], Outcome::Error),
            ],
            order_id: Some("/orderId".into()),
        };
        assert_eq!(c.classify(200, br#"{"message":"Sold Out!"}"#).outcome, Outcome::SoldOut);
        let won = c.classify(200, br#"{"orderId": 1234}"#);
        assert_eq!((won.outcome, won.order_id.as_deref()), (Outcome::Won, Some("1234")));
        assert_eq!(c.classify(400, br#"{"detail":"Out of stock"}"#).outcome, Outcome::SoldOut);
        assert_eq!(c.classify(400, br#"{"error":"Insufficient stock"}"#).outcome, Outcome::SoldOut);
        let plain = c.classify(500, b"<html>Internal Server Error</html>");
        assert_eq!(
            (plain.outcome, plain.note.as_deref()),
            (Outcome::Error, Some("500: <html>Internal Server Error</html>"))
        );
        assert_eq!(c.classify(404, b"nope").outcome, Outcome::Error, "matched no rule");
        assert!(StatusMatch::parse("6xx").is_err() && StatusMatch::parse("299-200").is_err());
        assert!(BodyMatch::parse("/(/").is_err());
        assert!(loosely_equal(&Value::from(1), &Value::from("1")));
    }
}
