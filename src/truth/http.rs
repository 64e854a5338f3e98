//! Ground truth from the server itself: each product's stock as its own API reports it. The
//! least trusted source (the server is what is being tested): it cannot show orders, and the
//! report says where the truth came from.

use super::Reading;
use crate::harness::template::Vars;
use crate::harness::{BuyerConn, Endpoint, StockProbe};
use crate::scenario::Scenario;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

/// Every product's stock through `probe`, from `endpoint`, on a connection of its own.
pub async fn read(s: &Scenario, endpoint: &Endpoint, probe: &StockProbe) -> Result<Reading, String> {
    let mut conn = BuyerConn::to(endpoint);
    let mut stock = Vec::new();
    for p in &s.products {
        let vars = Vars { product: &p.id, stock: p.stock, quantity: s.buyers.quantity, ..Vars::default() };
        let path = probe.request.path.render_path(&vars);
        let answer = conn
            .send(&probe.request.bytes(&endpoint.host, &vars), TIMEOUT)
            .await
            .map_err(|e| format!("{}{path}: {e}", endpoint.url))?;
        if !(200..300).contains(&answer.status) {
            return Err(format!("{}{path} answered {}", endpoint.url, answer.status));
        }
        let body: serde_json::Value = serde_json::from_slice(&answer.body)
            .map_err(|e| format!("{}{path}: the answer is not JSON ({e})", endpoint.url))?;
        let value = body.pointer(&probe.pointer).ok_or_else(|| {
            format!(
                "{}{path}: no {} in {}",
                endpoint.url,
                probe.pointer,
                crate::harness::classify::start_of(&body.to_string())
            )
        })?;
        let n = value
            .as_i64()
            .or_else(|| value.as_str().and_then(|t| t.trim().parse().ok()))
            .ok_or_else(|| format!("{}{path}: {} is {value}, not a number", endpoint.url, probe.pointer))?;
        stock.push((p.id.clone(), n));
    }
    Ok(Reading { stock, orders: None })
}
