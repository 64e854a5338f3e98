//! What the harness gets from the target, whatever its kind: where buyers connect, the order
//! request they send, the warm-up they open their connection with, how answers are classified,
//! and how to sample the stock while the sale runs. The harness knows nothing else about the
//! target.

use super::classify::{Classifier, StatusMatch};
use super::template::{JsonTemplate, RequestTemplate, Template, Vars};
use super::tls::TlsSettings;
use crate::model::Outcome;
use crate::scenario::Scenario;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// One address buyers connect to.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    /// The `host` header (the name as the user wrote it, with its port).
    pub host: String,
    /// The base URL, for reports and for the stock monitor.
    pub url: String,
    /// `https://`: how to speak TLS to it.
    pub tls: Option<Arc<TlsSettings>>,
}

impl Endpoint {
    /// A plain-HTTP endpoint on an address, with the address as its host.
    pub fn at(addr: SocketAddr) -> Endpoint {
        Endpoint { addr, host: addr.to_string(), url: format!("http://{addr}"), tls: None }
    }
}

/// How the stock is sampled during the sale: a request per product, and where in its JSON
/// answer the stock is.
#[derive(Debug, Clone)]
pub struct StockProbe {
    pub request: RequestTemplate,
    pub pointer: String,
}

/// How an `accepted` order's fate is polled: the request (`{order_id}` from the accepted
/// answer), where the status is in its JSON, which statuses are final and what each means.
#[derive(Debug, Clone)]
pub struct StatusPoll {
    pub request: RequestTemplate,
    pub pointer: String,
    /// Final statuses (as text: `1` and `"1"` are one) and their outcomes.
    pub finals: Vec<(String, Outcome)>,
    /// JSON pointer to the stored order's id in a final answer.
    pub order_id: Option<String>,
    pub every: Duration,
    pub within: Duration,
}

impl StatusPoll {
    /// The outcome a status value means, if it is final.
    pub fn final_outcome(&self, value: &serde_json::Value) -> Option<Outcome> {
        let text = value.as_str().map_or_else(|| value.to_string(), str::to_string);
        self.finals.iter().find(|(s, _)| *s == text).map(|(_, o)| *o)
    }
}

/// A per-buyer step before the sale (register, login).
#[derive(Debug, Clone)]
pub struct AuthStep {
    pub name: &'static str,
    pub request: RequestTemplate,
    /// The statuses of success.
    pub expect: StatusMatch,
    /// JSON pointer to the token in the answer.
    pub token: Option<String>,
}

/// Everything the harness needs to drive one target.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Buyer `i` talks to endpoint `i % len`.
    pub endpoints: Vec<Endpoint>,
    /// Run on each buyer's connection before its start, in order.
    pub auth: Vec<AuthStep>,
    pub order: RequestTemplate,
    /// Polled after an `accepted` answer until its status is final.
    pub status: Option<StatusPoll>,
    /// Sent once on each buyer's connection before its start; `None`: only connect.
    pub warmup: Option<RequestTemplate>,
    pub classifier: Classifier,
    pub stock: Option<StockProbe>,
    /// This run's tag (`{run}`).
    pub run: String,
    /// Local addresses buyers' connections are bound to, spread over buyers (empty: the
    /// kernel chooses); see `limits::source_addresses`.
    pub sources: Vec<std::net::IpAddr>,
}

impl Plan {
    /// The reference server's API on `endpoints`.
    pub fn reference(endpoints: Vec<Endpoint>) -> Plan {
        let t = |text: &str| Template::parse(text).unwrap_or_else(|_| Template::literal(text));
        let body = serde_json::json!({"product_id": "{product}", "buyer_id": "{buyer}", "quantity": "{quantity:int}"});
        Plan {
            endpoints,
            auth: Vec::new(),
            order: RequestTemplate {
                method: "POST".into(),
                path: t("/orders"),
                headers: Vec::new(),
                body: JsonTemplate::parse(&body).ok(),
            },
            status: None,
            warmup: Some(RequestTemplate {
                method: "GET".into(),
                path: t("/healthz"),
                headers: Vec::new(),
                body: None,
            }),
            classifier: Classifier::reference(),
            stock: Some(StockProbe {
                request: RequestTemplate {
                    method: "GET".into(),
                    path: t("/products/{product}"),
                    headers: Vec::new(),
                    body: None,
                },
                pointer: "/stock".into(),
            }),
            run: new_run_tag(),
            sources: Vec::new(),
        }
    }

    pub fn endpoint_of(&self, buyer: u32) -> &Endpoint {
        &self.endpoints[buyer as usize % self.endpoints.len().max(1)]
    }

    /// The source address of buyer `buyer`'s connections. Buyers are spread over endpoints
    /// first (`buyer % endpoints`), then over sources by `buyer / endpoints`, so every
    /// (source, endpoint) pair gets its share.
    pub fn source_of(&self, buyer: u32) -> Option<std::net::IpAddr> {
        if self.sources.is_empty() {
            return None;
        }
        let round = buyer as usize / self.endpoints.len().max(1);
        Some(self.sources[round % self.sources.len()])
    }
}

/// A fresh `{run}` tag.
pub fn new_run_tag() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// The placeholder values of one buyer: its product and id, its session (token, cookies) once
/// it logged in, and the idempotency key of the order it is trying for.
#[derive(Debug, Clone)]
pub struct BuyerVars {
    pub product: String,
    pub buyer: String,
    pub quantity: u32,
    pub stock: u32,
    pub idempotency_key: String,
    pub run: String,
    pub token: String,
    /// `name=value; name=value`, from the login's `Set-Cookie`.
    pub cookie: String,
    /// Which of the buyer's concurrent sessions (`buyers.sessions`) this is; `None` with one.
    session: Option<u32>,
}

impl BuyerVars {
    /// The values of harness user `user`: a session of buyer `s.buyer_of(user)`.
    pub fn new(s: &Scenario, plan: &Plan, user: u32) -> BuyerVars {
        let buyer = s.buyer_of(user);
        let product = &s.products[s.product_of(buyer)];
        let id = s.buyer_id(buyer);
        let mut vars = BuyerVars {
            product: product.id.clone(),
            idempotency_key: String::new(),
            buyer: id,
            quantity: s.buyers.quantity,
            stock: product.stock,
            run: plan.run.clone(),
            token: String::new(),
            cookie: String::new(),
            session: (s.sessions() > 1).then(|| s.session_of(user)),
        };
        vars.for_order(1);
        vars
    }

    /// The buyer now tries for its `order`-th order (1 for the first): a new idempotency key,
    /// of this session's own (two tabs are two purchases, not one repeated).
    pub fn for_order(&mut self, order: u32) {
        self.idempotency_key = match self.session {
            None => format!("{}-{}-{order}", self.run, self.buyer),
            Some(k) => format!("{}-{}-s{k}-{order}", self.run, self.buyer),
        };
    }

    /// Keeps the cookies an answer set, replacing earlier ones of the same name.
    pub fn keep_cookies(&mut self, cookies: &[String]) {
        let mut all: Vec<String> = self.cookie.split("; ").filter(|c| !c.is_empty()).map(str::to_string).collect();
        for c in cookies {
            let name = c.split('=').next().unwrap_or_default();
            all.retain(|x| x.split('=').next() != Some(name));
            all.push(c.clone());
        }
        self.cookie = all.join("; ");
    }

    pub fn vars(&self, attempt: u32) -> Vars<'_> {
        Vars {
            product: &self.product,
            buyer: &self.buyer,
            attempt,
            quantity: self.quantity,
            stock: self.stock,
            idempotency_key: &self.idempotency_key,
            run: &self.run,
            token: &self.token,
            order_id: "",
            cookie: &self.cookie,
        }
    }
}
