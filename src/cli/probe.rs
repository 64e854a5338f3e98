//! `flashbench probe FILE`: one request of each kind an `http` scenario sends (the warm-up, one
//! order with a throw-away buyer, the stock probe) and one read of its truth source, each shown
//! with its answer and how flashbench reads it. It runs no setup and no load: it is for writing
//! a scenario against a new server in minutes. (The one order may buy a unit: it says so.)

use crate::harness::classify::start_of;
use crate::harness::plan::BuyerVars;
use crate::harness::template::{RequestTemplate, Vars};
use crate::harness::{BuyerConn, Endpoint};
use crate::model::exit::{EXIT_ENVIRONMENT, EXIT_PASS, EXIT_USAGE};
use crate::model::Outcome;
use crate::scenario::target::TargetKind;
use crate::scenario::Scenario;
use crate::target::http::HttpTarget;
use crate::target::Target;
use std::fmt::Write;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(10);

/// Probes the scenario's target; returns the text to print and the exit code.
pub async fn probe(s: &Scenario) -> (String, i32) {
    let mut o = String::new();
    if s.target.kind != TargetKind::Http {
        return (
            "probe is for `target.kind: http` scenarios; the reference server needs no probing\n".into(),
            EXIT_USAGE,
        );
    }
    let target = match HttpTarget::connect(s).await {
        Ok(t) => t,
        Err(e) => return (format!("error: {e}\n"), EXIT_ENVIRONMENT),
    };
    let plan = target.plan();
    let endpoint = &plan.endpoints[0];
    let _ = writeln!(o, "probe {} (http {}), no setup, no load\n", s.name, endpoint.url);
    let mut code = EXIT_PASS;
    let product = &s.products[0];
    let buyer = format!("flashbench-probe-{}", plan.run);
    let mut session = BuyerVars::new(s, &plan, 0);
    session.buyer = buyer.clone();
    session.for_order(1);
    let mut conn = BuyerConn::to(endpoint);
    for step in &plan.auth {
        let what =
            format!("{} {}{}", step.request.method, endpoint.url, step.request.path.render_path(&session.vars(1)));
        match crate::harness::buyer::authenticate(&mut conn, endpoint, step, &mut session, TIMEOUT).await {
            Ok(()) => {
                let token = if session.token.is_empty() { String::new() } else { format!(", token {}", session.token) };
                let cookie =
                    if session.cookie.is_empty() { String::new() } else { format!(", cookie {}", session.cookie) };
                let _ = writeln!(o, "{:<10} {what} → ok{token}{cookie}", step.name);
            }
            Err(why) => {
                let _ = writeln!(o, "{:<10} {what} → FAILED: {why}", step.name);
                code = EXIT_ENVIRONMENT;
            }
        }
    }
    let vars = session.vars(1);
    if let Some(warmup) = &plan.warmup {
        match send(endpoint, warmup, &vars).await {
            Ok((line, _, _)) => {
                let _ = writeln!(o, "warm-up    {line}");
            }
            Err(line) => {
                let _ = writeln!(o, "warm-up    {line}");
                code = EXIT_ENVIRONMENT;
            }
        }
    } else {
        let _ = writeln!(o, "warm-up    none: buyers only open their connection");
    }
    match send(endpoint, &plan.order, &vars).await {
        Ok((line, status, body)) => {
            let _ = writeln!(o, "order      {line}");
            let c = plan.classifier.classify(status, &body);
            let rule = c.rule.map_or("no rule matched".to_string(), |i| format!("outcome rule {}", i + 1));
            let id = c.order_id.as_ref().map_or(String::new(), |id| format!(", order id {id}"));
            let note = c.note.map_or(String::new(), |n| format!(" ({n})"));
            let _ = writeln!(o, "           read as `{}` by {rule}{id}{note}", c.outcome);
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
                        let _ = writeln!(o, "status     {line}\n           {meaning}");
                    }
                    Err(line) => {
                        let _ = writeln!(o, "status     {line}");
                        code = EXIT_ENVIRONMENT;
                    }
                }
            }
            let _ = writeln!(o, "           (buyer {buyer} may have bought one unit of {})", product.id);
        }
        Err(line) => {
            let _ = writeln!(o, "order      {line}");
            code = EXIT_ENVIRONMENT;
        }
    }
    if let Some(stock) = &plan.stock {
        for p in &s.products {
            let vars = Vars { product: &p.id, stock: p.stock, ..vars.clone() };
            match send(endpoint, &stock.request, &vars).await {
                Ok((line, _, body)) => {
                    let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
                    let found = json.as_ref().and_then(|j| j.pointer(&stock.pointer)).map(|v| v.to_string());
                    let _ = writeln!(
                        o,
                        "stock      {line}\n           {} → {}",
                        stock.pointer,
                        found.unwrap_or_else(|| "NOT FOUND in the answer".into())
                    );
                }
                Err(line) => {
                    let _ = writeln!(o, "stock      {line}");
                    code = EXIT_ENVIRONMENT;
                }
            }
        }
    }
    match target.read_once(s).await {
        Ok(reading) => {
            let _ = writeln!(o, "truth      {}", target.truth_from());
            for p in &s.products {
                let stock = reading.stock.iter().find(|(id, _)| *id == p.id).map(|(_, n)| n.to_string());
                let orders = reading.orders.as_ref().map(|all| all.iter().filter(|x| x.product_id == p.id).count());
                let _ = writeln!(
                    o,
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
                let _ =
                    writeln!(o, "           (also holds products the scenario does not name: {})", unknown.join(", "));
            }
        }
        Err(e) => {
            let _ = writeln!(o, "truth      {}: {e}", target.truth_from());
            code = EXIT_ENVIRONMENT;
        }
    }
    Box::new(target).stop().await;
    (o, code)
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
pub(super) async fn probe_command(file: &std::path::Path) -> i32 {
    match crate::run::load(file) {
        Ok(s) => {
            let (text, code) = probe(&s).await;
            crate::out!("{text}");
            code
        }
        Err(e) => {
            crate::note!("error: {e}");
            EXIT_USAGE
        }
    }
}
