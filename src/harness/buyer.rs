//! One buyer's attempts: send an order, classify the answer, retry with backoff when the
//! scenario says so, stop on a win (once it has what it wants), sold out or a refusal.

use super::connection::{request_bytes, BuyerConn, ConnError};
use super::ledger::{Attempt, Ledger};
use super::Shared;
use crate::outcome::Outcome;
use rand::Rng;
use serde::Deserialize;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[derive(Deserialize)]
struct AnswerBody {
    #[serde(default)]
    order: Option<AnswerOrder>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct AnswerOrder {
    id: String,
}

/// The bytes of buyer `buyer`'s order request.
pub fn order_request(shared: &Shared, buyer: u32) -> Vec<u8> {
    let s = &shared.scenario;
    let body = serde_json::json!({
        "product_id": s.products[s.product_of(buyer)].id,
        "buyer_id": Ledger::buyer_id(buyer),
        "quantity": s.buyers.quantity,
    })
    .to_string();
    let host = shared.addrs[buyer as usize % shared.addrs.len()].to_string();
    request_bytes("POST", "/orders", &host, body.as_bytes())
}

/// Runs buyer `buyer`'s attempts with `request`, the first meant to start at
/// `first_intended` (and already written but its last byte when the connection is prepared).
pub async fn buy(
    shared: &Shared,
    conn: &mut BuyerConn,
    buyer: u32,
    request: &[u8],
    first_intended: Instant,
) -> Vec<Attempt> {
    let s = &shared.scenario;
    let product = s.product_of(buyer);
    let instance = buyer as usize % shared.addrs.len();
    let mut out = Vec::with_capacity(1);
    let mut won = 0;
    let mut intended = first_intended;
    for attempt in 1..=s.buyers.attempts {
        // Every attempt ends by the run's deadline: one in flight then is a `timeout`.
        let left = shared.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            shared.cut_by_deadline.fetch_add(1, Ordering::Relaxed);
            break;
        }
        let timeout = s.request_timeout.0.min(left);
        let (sent, result) = if conn.is_prepared() {
            conn.complete(timeout).await
        } else {
            (Instant::now(), conn.send(request, timeout).await)
        };
        let cut = timeout < s.request_timeout.0 && result.as_ref().is_err_and(ConnError::is_timeout);
        if cut {
            shared.cut_by_deadline.fetch_add(1, Ordering::Relaxed);
        }
        let (status, outcome, order_id, error) = match result {
            Ok(answer) => {
                let parsed: Option<AnswerBody> = serde_json::from_slice(&answer.body).ok();
                let busy_hint = parsed.as_ref().and_then(|a| a.error.as_deref()) == Some("busy");
                let outcome = Outcome::from_status(answer.status, busy_hint);
                let error = match outcome {
                    Outcome::Won if parsed.as_ref().and_then(|a| a.order.as_ref()).is_none() => {
                        Some(format!("{} without an order id in the body", answer.status))
                    }
                    // Keep what the server said about a failure: the summary groups these.
                    Outcome::Error => Some(match parsed.as_ref().and_then(|a| a.message.clone()) {
                        Some(m) => format!("{}: {m}", answer.status),
                        None => format!(
                            "{}: {}",
                            answer.status,
                            String::from_utf8_lossy(&answer.body[..answer.body.len().min(200)])
                        ),
                    }),
                    _ => None,
                };
                let order_id = parsed.and_then(|a| a.order).map(|o| o.id);
                (answer.status, outcome, order_id, error)
            }
            Err(e) if cut => {
                (0, transport_outcome(&e), None, Some(format!("cut by the run's deadline: {}", describe(&e))))
            }
            Err(e) => (0, transport_outcome(&e), None, Some(describe(&e))),
        };
        let done = Instant::now();
        shared.progress.record(outcome);
        out.push(Attempt {
            repetition: 1,
            buyer,
            product: product as u32,
            instance: instance as u32,
            attempt,
            intended_us: shared.micros(intended),
            sent_us: shared.micros(sent),
            done_us: shared.micros(done),
            status,
            outcome,
            resolved: None,
            order_id,
            error,
        });
        match outcome {
            Outcome::Won => {
                won += 1;
                if won >= s.buyers.wants {
                    break;
                }
                intended = Instant::now();
            }
            Outcome::SoldOut | Outcome::Rejected => break,
            other if s.buyers.retry.on.contains(&other) => {
                let mut delay = s.buyers.retry.backoff.delay(attempt);
                if s.buyers.retry.backoff.jitter && !delay.is_zero() {
                    delay = Duration::from_secs_f64(rand::rng().random_range(0.0..=delay.as_secs_f64()));
                }
                if attempt < s.buyers.attempts {
                    intended = Instant::now() + delay;
                    tokio::time::sleep_until(intended.min(shared.deadline).into()).await;
                }
            }
            _ => break,
        }
    }
    out
}

/// A failure without an answer: `not_sent` when the request never left in full (the server
/// cannot have acted on it), `timeout` when it left and no answer came in time, else `error`.
fn transport_outcome(e: &ConnError) -> Outcome {
    if e.is_unsent() {
        Outcome::NotSent
    } else if e.is_timeout() {
        Outcome::Timeout
    } else {
        Outcome::Error
    }
}

/// The error and its causes on one line.
pub fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}
