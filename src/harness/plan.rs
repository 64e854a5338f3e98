//! What the harness gets from the target, whatever its kind: where buyers connect, the order
//! request they send, the warm-up they open their connection with, how answers are classified,
//! and how to sample the stock while the sale runs. The harness knows nothing else about the
//! target.

use super::classify::Classifier;
use super::template::{JsonTemplate, RequestTemplate, Template, Vars};
use crate::scenario::Scenario;
use std::net::SocketAddr;

/// One address buyers connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub addr: SocketAddr,
    /// The `host` header (the name as the user wrote it, with its port).
    pub host: String,
    /// The base URL, for reports and for the stock monitor.
    pub url: String,
}

impl Endpoint {
    /// An endpoint on an address, with the address as its host.
    pub fn at(addr: SocketAddr) -> Endpoint {
        Endpoint { addr, host: addr.to_string(), url: format!("http://{addr}") }
    }
}

/// How the stock is sampled during the sale: a request per product, and where in its JSON
/// answer the stock is.
#[derive(Debug, Clone)]
pub struct StockProbe {
    pub request: RequestTemplate,
    pub pointer: String,
}

/// Everything the harness needs to drive one target.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Buyer `i` talks to endpoint `i % len`.
    pub endpoints: Vec<Endpoint>,
    pub order: RequestTemplate,
    /// Sent once on each buyer's connection before its start; `None`: only connect.
    pub warmup: Option<RequestTemplate>,
    pub classifier: Classifier,
    pub stock: Option<StockProbe>,
    /// This run's tag (`{run}`).
    pub run: String,
}

impl Plan {
    /// The reference server's API on `endpoints`.
    pub fn reference(endpoints: Vec<Endpoint>) -> Plan {
        let t = |text: &str| Template::parse(text).unwrap_or_else(|_| Template::literal(text));
        let body = serde_json::json!({"product_id": "{product}", "buyer_id": "{buyer}", "quantity": "{quantity:int}"});
        Plan {
            endpoints,
            order: RequestTemplate {
                method: "POST".into(),
                path: t("/orders"),
                headers: Vec::new(),
                body: JsonTemplate::parse(&body).ok(),
            },
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
        }
    }

    pub fn endpoint_of(&self, buyer: u32) -> &Endpoint {
        &self.endpoints[buyer as usize % self.endpoints.len().max(1)]
    }
}

/// A fresh `{run}` tag.
pub fn new_run_tag() -> String {
    format!("{:08x}", rand::random::<u32>())
}

/// The placeholder values of buyer `buyer`'s attempt `attempt`, for its `order`-th order.
pub struct BuyerVars {
    pub product: String,
    pub buyer: String,
    pub quantity: u32,
    pub stock: u32,
    pub idempotency_key: String,
    pub run: String,
}

impl BuyerVars {
    pub fn new(s: &Scenario, plan: &Plan, buyer: u32, order: u32) -> BuyerVars {
        let product = &s.products[s.product_of(buyer)];
        let id = s.buyer_id(buyer);
        BuyerVars {
            product: product.id.clone(),
            idempotency_key: format!("{}-{id}-{order}", plan.run),
            buyer: id,
            quantity: s.buyers.quantity,
            stock: product.stock,
            run: plan.run.clone(),
        }
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
            token: "",
        }
    }
}
