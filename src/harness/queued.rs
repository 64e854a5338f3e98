//! Queued orders: after an `accepted` answer (a 202: the order waits in a queue), the buyer
//! polls the order's status (`order.status`) on its own connection until the status is final
//! or `within` has passed. A final status gives the attempt its outcome; without one the
//! attempt stays `accepted`, and ground truth settles it once the queue drained.

use super::classify::{id_text, start_of};
use super::connection::BuyerConn;
use super::plan::{BuyerVars, StatusPoll};
use super::template::Vars;
use super::Shared;
use crate::model::Outcome;
use crate::text::describe;
use serde_json::Value;
use std::time::{Duration, Instant};

/// How polling an accepted order ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Polled {
    /// A final status: its outcome, the stored order id when the answer names it, the status.
    Final { outcome: Outcome, order_id: Option<String>, status: String },
    /// No final status by the deadline; why, with the last thing seen.
    Pending(String),
}

/// Polls the status of harness user `user`'s order accepted with `ticket`, every `poll.every`,
/// until final, `poll.within` after now, or the run's deadline (each request also bounded by
/// `request_timeout`).
pub async fn poll(
    shared: &Shared,
    poll: &StatusPoll,
    conn: &mut BuyerConn,
    user: u32,
    vars: &BuyerVars,
    attempt: u32,
    ticket: &str,
) -> Polled {
    let host = &shared.plan.endpoint_of(user).host;
    let deadline = (Instant::now() + poll.within).min(shared.deadline);
    let request_timeout: Duration = shared.scenario.request_timeout.0;
    let request = poll.request.bytes(host, &Vars { order_id: ticket, ..vars.vars(attempt) });
    let mut last = "no status read".to_string();
    let mut polls = 0u32;
    loop {
        let next = (Instant::now() + poll.every).min(deadline);
        tokio::time::sleep_until(next.into()).await;
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let waited = if polls == 0 { String::new() } else { format!(" ({polls} polls)") };
            return Polled::Pending(format!("accepted, no final status in time{waited}; last: {last}"));
        }
        polls += 1;
        match conn.send(&request, request_timeout.min(left)).await {
            Ok(answer) if (200..300).contains(&answer.status) => {
                let json: Option<Value> = serde_json::from_slice(&answer.body).ok();
                let Some(value) = json.as_ref().and_then(|j| j.pointer(&poll.pointer)) else {
                    last = format!("{} without {}: {}", answer.status, poll.pointer, body_start(&answer.body));
                    continue;
                };
                let status = value.as_str().map_or_else(|| value.to_string(), str::to_string);
                match poll.final_outcome(value) {
                    Some(outcome) => {
                        let order_id = poll
                            .order_id
                            .as_ref()
                            .and_then(|p| json.as_ref().and_then(|j| j.pointer(p)))
                            .and_then(id_text);
                        return Polled::Final { outcome, order_id, status };
                    }
                    None => last = format!("status {status}"),
                }
            }
            // Not there yet (a 404 before the worker wrote the record), or a failure: poll on.
            Ok(answer) => last = format!("{} {}", answer.status, body_start(&answer.body)),
            Err(e) => last = describe(&e),
        }
    }
}

fn body_start(body: &[u8]) -> String {
    start_of(&String::from_utf8_lossy(body))
}
