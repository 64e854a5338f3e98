//! One buyer's attempts: send an order, classify the answer, retry with backoff when the
//! scenario says so, stop on a win (once it has what it wants), sold out or a refusal.

use super::connection::{BuyerConn, ConnError};
use super::plan::BuyerVars;
use super::queued::{self, Polled};
use super::template::Var;
use super::Shared;
use crate::model::Attempt;
use crate::model::Outcome;
use crate::text::describe;
use rand::Rng;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Runs harness user `user`'s attempts (a session of buyer `s.buyer_of(user)`), the first
/// with `first_request` (already written but its last byte when the connection is prepared),
/// meant to start at `first_intended`; later attempts render the plan's order request anew
/// (`{attempt}`, `{idempotency_key}`).
pub async fn buy(
    shared: &Shared,
    conn: &mut BuyerConn,
    user: u32,
    mut vars: BuyerVars,
    first_request: Vec<u8>,
    first_intended: Instant,
) -> Vec<Attempt> {
    let s = &shared.scenario;
    let plan = &shared.plan;
    let host = &plan.endpoint_of(user).host;
    let out = Record { shared, user };
    let who = Who::of(shared, user);
    let mut won = 0;
    let mut intended = first_intended;
    let mut request = first_request;
    for attempt in 1..=s.buyers.attempts {
        if attempt > 1 {
            vars.for_order(won + 1);
            request = plan.order.bytes(host, &vars.vars(attempt));
        }
        // A stop was asked for: no further attempt (a first one is made: in a burst its last
        // byte may already be on the wire).
        if attempt > 1 && shared.stop.requested().is_some() {
            break;
        }
        // Every attempt ends by the run's deadline: one in flight then is a `timeout`.
        let left = shared.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            shared.cut_by_deadline.fetch_add(1, Ordering::Relaxed);
            break;
        }
        let one = One { shared, user, who, attempt, intended, timeout: s.request_timeout.0.min(left) };
        let outcome = one.make(conn, &request, &vars, &out).await;
        match next_after(shared, outcome, attempt, &mut won) {
            Next::Stop => break,
            Next::Now => intended = Instant::now(),
            Next::After(delay) => {
                intended = Instant::now() + delay;
                tokio::select! {
                    _ = tokio::time::sleep_until(intended.min(shared.deadline).into()) => {}
                    _ = shared.stop.wait() => break,
                }
            }
        }
    }
    out.take()
}

/// What a buyer does after an attempt.
enum Next {
    Stop,
    /// Another attempt at once (a win, and more wanted).
    Now,
    /// Another attempt after a backoff.
    After(Duration),
}

/// After `outcome`: stop on a refusal or once the buyer has what it wants, else retry as the
/// scenario says (with its backoff), else stop.
fn next_after(shared: &Shared, outcome: Outcome, attempt: u32, won: &mut u32) -> Next {
    let s = &shared.scenario;
    match outcome {
        // An order left in the queue may yet be sold: the buyer waits for it, as for a win.
        Outcome::Won | Outcome::Accepted => {
            *won += 1;
            if *won >= s.buyers.wants {
                Next::Stop
            } else {
                Next::Now
            }
        }
        Outcome::SoldOut | Outcome::Rejected => Next::Stop,
        other if s.buyers.retry.on.contains(&other) => {
            let mut delay = s.buyers.retry.backoff.delay(attempt);
            if s.buyers.retry.backoff.jitter && !delay.is_zero() {
                delay = Duration::from_secs_f64(rand::rng().random_range(0.0..=delay.as_secs_f64()));
            }
            if attempt < s.buyers.attempts {
                Next::After(delay)
            } else {
                Next::Now
            }
        }
        _ => Next::Stop,
    }
}

/// Whose attempts a harness user makes, found once per user: its buyer and session, the
/// product it buys and the instance it talks to.
#[derive(Clone, Copy)]
struct Who {
    buyer: u32,
    session: u32,
    product: u32,
    instance: u32,
}

impl Who {
    fn of(shared: &Shared, user: u32) -> Who {
        let s = &shared.scenario;
        let buyer = s.buyer_of(user);
        Who {
            buyer,
            session: s.session_of(user),
            product: s.product_of(buyer) as u32,
            instance: (user as usize % shared.plan.endpoints.len().max(1)) as u32,
        }
    }
}

/// One attempt of one harness user.
struct One<'a> {
    shared: &'a Shared,
    user: u32,
    who: Who,
    attempt: u32,
    intended: Instant,
    /// The request timeout, shortened to what is left before the run's deadline.
    timeout: Duration,
}

/// An attempt's answer as the ledger records it.
struct Answered {
    sent: Instant,
    status: u16,
    outcome: Outcome,
    order_id: Option<String>,
    error: Option<String>,
    accepted_us: Option<u64>,
}

impl One<'_> {
    /// Sends `request` (or completes the prepared one), reads the answer, follows a queued
    /// order's status, and records the attempt; its outcome.
    async fn make(&self, conn: &mut BuyerConn, request: &[u8], vars: &BuyerVars, out: &Record<'_>) -> Outcome {
        let shared = self.shared;
        let Who { buyer, session, product, instance } = self.who;
        let before = Instant::now();
        // Should the harness stop waiting for this buyer (goose stalled past the deadline),
        // the attempt is still in the ledger: a `timeout`, for truth to settle.
        let in_flight = Attempt {
            repetition: 1,
            buyer,
            product,
            instance,
            attempt: self.attempt,
            intended_us: shared.micros(self.intended),
            sent_us: shared.micros(before.max(self.intended)),
            done_us: 0,
            status: 0,
            outcome: Outcome::Timeout,
            resolved: None,
            order_id: None,
            error: Some(CUT_BY_HARNESS.to_string()),
            accepted_us: None,
            shard: 0,
            session,
        };
        out.sending(in_flight.clone());
        shared.live.sending();
        let mut a = self.exchange(conn, request, before).await;
        if a.outcome == Outcome::Accepted {
            self.follow_queued(conn, vars, &mut a).await;
        }
        let done = Instant::now();
        shared.live.answered(a.outcome, done.saturating_duration_since(self.intended));
        out.push(Attempt {
            sent_us: shared.micros(a.sent),
            done_us: shared.micros(done),
            status: a.status,
            outcome: a.outcome,
            order_id: a.order_id,
            error: a.error,
            accepted_us: a.accepted_us,
            ..in_flight
        });
        a.outcome
    }

    /// The request and its answer, classified; a transport failure, the deadline's cut or a
    /// stop's as what the ledger says of them.
    async fn exchange(&self, conn: &mut BuyerConn, request: &[u8], before: Instant) -> Answered {
        let shared = self.shared;
        let s = &shared.scenario;
        let timeout = self.timeout;
        let exchange = async {
            if conn.is_prepared() {
                conn.complete(timeout).await
            } else {
                (Instant::now(), conn.send(request, timeout).await)
            }
        };
        // After a stop, an attempt still unanswered once the drain is over is cut: `timeout`,
        // indeterminate, resolved from truth like any other.
        let (sent, result, stopped) = tokio::select! {
            biased;
            (sent, result) = exchange => (sent, result, false),
            _ = shared.stop.drained() => (before, Err(ConnError::Timeout(before.elapsed())), true),
        };
        let cut = !stopped && timeout < s.request_timeout.0 && result.as_ref().is_err_and(ConnError::is_timeout);
        if cut {
            shared.cut_by_deadline.fetch_add(1, Ordering::Relaxed);
        }
        let (status, outcome, order_id, error) = match result {
            Ok(answer) => {
                let c = shared.plan.classifier.classify(answer.status, &answer.body);
                (answer.status, c.outcome, c.order_id, c.note)
            }
            Err(_) if stopped => (
                0,
                Outcome::Timeout,
                None,
                Some(format!("{CUT_BY_STOP}: no answer within {}s of the stop", crate::interrupt::DRAIN.as_secs())),
            ),
            Err(e) if cut => {
                (0, transport_outcome(&e), None, Some(format!("cut by the run's deadline: {}", describe(&e))))
            }
            Err(e) => (0, transport_outcome(&e), None, Some(describe(&e))),
        };
        Answered { sent, status, outcome, order_id, error, accepted_us: None }
    }

    /// A queued order: when the scenario polls its status, that status says what became of it.
    async fn follow_queued(&self, conn: &mut BuyerConn, vars: &BuyerVars, a: &mut Answered) {
        let shared = self.shared;
        a.accepted_us = Some(shared.micros(Instant::now()));
        let Some(poll) = &shared.plan.status else { return };
        let ticket = a.order_id.clone().unwrap_or_default();
        if ticket.is_empty() && poll.request.uses(Var::OrderId) {
            a.error = Some(format!("{} accepted without an order id: its status cannot be polled", a.status));
            return;
        }
        match queued::poll(shared, poll, conn, self.user, vars, self.attempt, &ticket).await {
            Polled::Final { outcome: last, order_id: stored, status } => {
                a.outcome = last;
                a.order_id = stored.or(a.order_id.take());
                a.error = (last == Outcome::Error).then(|| format!("status {status}"));
            }
            Polled::Pending(why) => a.error = Some(why),
        }
    }
}

/// A buyer's attempts so far, and the one in flight, kept where the harness can reach them
/// ([`Shared::open`]): if it stops waiting for the buyer's task (goose stalled past the
/// deadline), they go into the ledger anyway, the one in flight as a `timeout`.
struct Record<'a> {
    shared: &'a Shared,
    user: u32,
}

impl Record<'_> {
    fn with(&self, f: impl FnOnce(&mut super::OpenBuyer)) {
        f(self.shared.open.lock().unwrap_or_else(|p| p.into_inner()).entry(self.user).or_default());
    }

    fn sending(&self, a: Attempt) {
        self.with(|o| o.in_flight = Some(a));
    }

    fn push(&self, a: Attempt) {
        self.with(|o| {
            o.in_flight = None;
            o.done.push(a);
        });
    }

    /// The buyer is done: its attempts, out of the harness's reach.
    fn take(&self) -> Vec<Attempt> {
        self.shared
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.user)
            .map(|o| o.done)
            .unwrap_or_default()
    }
}

/// The error of an attempt still in flight when the harness stopped waiting for its buyer.
pub const CUT_BY_HARNESS: &str = "cut: the harness stopped waiting for this buyer at the run's deadline";

/// How an attempt cut at the end of a stop's drain begins its error.
pub const CUT_BY_STOP: &str = "cut by the interruption";

/// The one attempt of a buyer that could not buy at all (its register or login failed).
pub fn not_sent(shared: &Shared, user: u32, intended: Instant, why: String) -> Attempt {
    let s = &shared.scenario;
    let buyer = s.buyer_of(user);
    let at = shared.micros(Instant::now());
    shared.live.record(Outcome::NotSent, None);
    Attempt {
        repetition: 1,
        buyer,
        product: s.product_of(buyer) as u32,
        instance: user % shared.plan.endpoints.len().max(1) as u32,
        attempt: 1,
        intended_us: shared.micros(intended),
        sent_us: at,
        done_us: at,
        status: 0,
        outcome: Outcome::NotSent,
        resolved: None,
        order_id: None,
        error: Some(why),
        accepted_us: None,
        shard: 0,
        session: s.session_of(user),
    }
}

/// Runs one register or login step on the buyer's connection: success is an expected status;
/// the answer's token (at the step's pointer) and cookies go into `vars` for later requests.
pub async fn authenticate(
    conn: &mut BuyerConn,
    endpoint: &super::Endpoint,
    step: &super::plan::AuthStep,
    vars: &mut BuyerVars,
    timeout: Duration,
) -> Result<(), String> {
    let request = step.request.bytes(&endpoint.host, &vars.vars(1));
    let answer = conn.send(&request, timeout).await.map_err(|e| describe(&e))?;
    let body = String::from_utf8_lossy(&answer.body);
    if !step.expect.matches(answer.status) {
        return Err(format!("{} {}", answer.status, super::classify::start_of(&body)));
    }
    vars.keep_cookies(&answer.cookies);
    if let Some(pointer) = &step.token {
        let json: serde_json::Value =
            serde_json::from_str(&body).map_err(|_| format!("{} answer is not JSON", answer.status))?;
        let token = json.pointer(pointer).ok_or_else(|| format!("no {pointer} in the answer"))?;
        vars.token = token.as_str().map_or_else(|| token.to_string(), str::to_string);
    }
    Ok(())
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
