//! `flashbench probe FILE`: one request of each kind an `http` scenario sends (the warm-up, one
//! order with a throw-away buyer, the stock probe) and one read of its truth source, each shown
//! with its answer and how flashbench reads it. It runs no setup and no load: it is for writing
//! a scenario against a new server in minutes. (The one order may buy a unit: it says so.)

use crate::harness::classify::start_of;
use crate::harness::plan::BuyerVars;
use crate::harness::template::{RequestTemplate, Vars};
use crate::harness::{BuyerConn, Endpoint, Plan};
use crate::model::exit::Exit;
use crate::model::Outcome;
use crate::scenario::target::TargetKind;
use crate::scenario::Scenario;
use crate::target::http::HttpTarget;
use crate::target::Target;
use std::fmt::Write;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(10);

/// Probes the scenario's target; returns the text to print and the exit code.
pub async fn probe(s: &Scenario) -> (String, Exit) {
    if s.target.kind != TargetKind::Http {
        return (
            "probe is for `target.kind: http` scenarios; the reference server needs no probing\n".into(),
            Exit::Usage,
        );
    }
    let target = match HttpTarget::connect(s).await {
        Ok(t) => t,
        Err(e) => return (format!("error: {e}\n"), Exit::Environment),
    };
    let plan = target.plan();
    let endpoint = &plan.endpoints[0];
    let mut p = Probed { o: String::new(), code: Exit::Pass };
    let _ = writeln!(p.o, "probe {} (http {}), no setup, no load\n", s.name, endpoint.url);
    let buyer = format!("flashbench-probe-{}", plan.run);
    let mut session = BuyerVars::new(s, &plan, 0);
    session.buyer = buyer.clone();
    session.for_order(1);
    p.log_in(&plan, endpoint, &mut session).await;
    let vars = session.vars(1);
    p.warm_up(&plan, endpoint, &vars).await;
    p.order(&plan, endpoint, &vars, &buyer, &s.products[0].id).await;
    p.stock(s, &plan, endpoint, &vars).await;
    p.truth(s, &target).await;
    Box::new(target).stop().await;
    (p.o, p.code)
}

/// What the probe printed so far, and its exit code (4 once a step failed).
struct Probed {
    o: String,
    code: Exit,
}

impl Probed {
    /// The login steps, each with the token or cookie it got.
    async fn log_in(&mut self, plan: &Plan, endpoint: &Endpoint, session: &mut BuyerVars) {
        let mut conn = BuyerConn::to(endpoint);
        for step in &plan.auth {
            let what =
                format!("{} {}{}", step.request.method, endpoint.url, step.request.path.render_path(&session.vars(1)));
            match crate::harness::buyer::authenticate(&mut conn, endpoint, step, session, TIMEOUT).await {
                Ok(()) => {
                    let token =
                        if session.token.is_empty() { String::new() } else { format!(", token {}", session.token) };
                    let cookie =
                        if session.cookie.is_empty() { String::new() } else { format!(", cookie {}", session.cookie) };
                    let _ = writeln!(self.o, "{:<10} {what} → ok{token}{cookie}", step.name);
                }
                Err(why) => {
                    let _ = writeln!(self.o, "{:<10} {what} → FAILED: {why}", step.name);
                    self.code = Exit::Environment;
                }
            }
        }
    }

    /// The warm-up request, if the scenario has one.
    async fn warm_up(&mut self, plan: &Plan, endpoint: &Endpoint, vars: &Vars<'_>) {
        if let Some(warmup) = &plan.warmup {
            match send(endpoint, warmup, vars).await {
                Ok((line, _, _)) => {
                    let _ = writeln!(self.o, "warm-up    {line}");
                }
                Err(line) => {
                    let _ = writeln!(self.o, "warm-up    {line}");
                    self.code = Exit::Environment;
                }
            }
        } else {
            let _ = writeln!(self.o, "warm-up    none: buyers only open their connection");
        }
    }

    /// One order with the probe's buyer, how the outcome rules read it, and a queued order's status.
    async fn order(&mut self, plan: &Plan, endpoint: &Endpoint, vars: &Vars<'_>, buyer: &str, product: &str) {
        match send(endpoint, &plan.order, vars).await {
            Ok((line, status, body)) => {
                let _ = writeln!(self.o, "order      {line}");
                let c = plan.classifier.classify(status, &body);
                let rule = c.rule.map_or("no rule matched".to_string(), |i| format!("outcome rule {}", i + 1));
                let id = c.order_id.as_ref().map_or(String::new(), |id| format!(", order id {id}"));
                let note = c.note.map_or(String::new(), |n| format!(" ({n})"));
                let _ = writeln!(self.o, "           read as `{}` by {rule}{id}{note}", c.outcome);
                if let (Outcome::Accepted, Some(poll)) = (c.outcome, &plan.status) {
                    let ticket = c.order_id.unwrap_or_default();
                    let vars = Vars { order_id: &ticket, ..vars.clone() };
                    match send(endpoint, &poll.request, &vars).await {
                        Ok((line, _, body)) => {
                            let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
                            let value = json.as_ref().and_then(|j| j.pointer(&poll.pointer));
                            let meaning = match value {
                                None => format!("{} → NOT FOUND in the answer", poll.pointer),
                                Some(v) => match poll.final_outcome(v) {
                                    Some(outcome) => format!("{} → {v}: final, `{outcome}`", poll.pointer),
                                    None => format!("{} → {v}: not final yet (the run polls again)", poll.pointer),
                                },
                            };
                            let _ = writeln!(self.o, "status     {line}\n           {meaning}");
                        }
                        Err(line) => {
                            let _ = writeln!(self.o, "status     {line}");
                            self.code = Exit::Environment;
                        }
                    }
                }
                let _ = writeln!(self.o, "           (buyer {buyer} may have bought one unit of {product})");
            }
            Err(line) => {
                let _ = writeln!(self.o, "order      {line}");
                self.code = Exit::Environment;
            }
        }
    }

    /// The stock probe for every product, and the value it points at.
    async fn stock(&mut self, s: &Scenario, plan: &Plan, endpoint: &Endpoint, vars: &Vars<'_>) {
        if let Some(stock) = &plan.stock {
            for p in &s.products {
                let vars = Vars { product: &p.id, stock: p.stock, ..vars.clone() };
                match send(endpoint, &stock.request, &vars).await {
                    Ok((line, _, body)) => {
                        let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
                        let found = json.as_ref().and_then(|j| j.pointer(&stock.pointer)).map(|v| v.to_string());
                        let _ = writeln!(
                            self.o,
                            "stock      {line}\n           {} → {}",
                            stock.pointer,
                            found.unwrap_or_else(|| "NOT FOUND in the answer".into())
                        );
                    }
                    Err(line) => {
                        let _ = writeln!(self.o, "stock      {line}");
                        self.code = Exit::Environment;
                    }
                }
            }
        }
    }

    /// One read of the truth source.
    async fn truth(&mut self, s: &Scenario, target: &HttpTarget) {
        match target.read_once(s).await {
            Ok(reading) => {
                let _ = writeln!(self.o, "truth      {}", target.truth_from());
                for p in &s.products {
                    let stock = reading.stock.iter().find(|(id, _)| *id == p.id).map(|(_, n)| n.to_string());
                    let orders = reading.orders.as_ref().map(|all| all.iter().filter(|x| x.product_id == p.id).count());
                    let _ = writeln!(
                        self.o,
                        "           {}: stock {}{}",
                        p.id,
                        stock.unwrap_or_else(|| "NOT FOUND (is the product id right?)".into()),
                        orders.map_or(String::new(), |n| format!(", {n} orders"))
                    );
                }
                let unknown: Vec<&str> = reading
                    .stock
                    .iter()
                    .map(|(id, _)| id.as_str())
                    .filter(|id| !s.products.iter().any(|p| p.id == *id))
                    .take(5)
                    .collect();
                if !unknown.is_empty() {
                    let _ = writeln!(
                        self.o,
                        "           (also holds products the scenario does not name: {})",
                        unknown.join(", ")
                    );
                }
            }
            Err(e) => {
                let _ = writeln!(self.o, "truth      {}: {e}", target.truth_from());
                self.code = Exit::Environment;
            }
        }
    }
}

/// Sends one request on a connection of its own: `Ok((line, status, body))` with the line
/// saying what went and what came back, or `Err(line)` when nothing came back.
async fn send(endpoint: &Endpoint, t: &RequestTemplate, vars: &Vars<'_>) -> Result<(String, u16, Vec<u8>), String> {
    let what = format!("{} {}{}", t.method, endpoint.url, t.path.render_path(vars));
    let mut conn = BuyerConn::to(endpoint);
    let started = Instant::now();
    match conn.send(&t.bytes(&endpoint.host, vars), TIMEOUT).await {
        Ok(a) => {
            let body = String::from_utf8_lossy(&a.body);
            Ok((
                format!(
                    "{what} → {} in {:.1} ms: {}",
                    a.status,
                    started.elapsed().as_secs_f64() * 1000.0,
                    start_of(&body)
                ),
                a.status,
                a.body.to_vec(),
            ))
        }
        Err(e) => Err(format!("{what} → no answer: {e}")),
    }
}

/// `flashbench probe FILE`: the scenario loaded and checked, then probed.
pub(super) async fn probe_command(file: &std::path::Path) -> Exit {
    match crate::run::load(file) {
        Ok(s) => {
            let (text, code) = probe(&s).await;
            crate::out!("{text}");
            code
        }
        Err(e) => {
            crate::note!("error: {e}");
            Exit::Usage
        }
    }
}
