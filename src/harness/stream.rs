//! The open model: a dispatcher hands each arrival of the scenario's stream (`mode: rate`,
//! or a burst's `background`) straight to an idle slot's own inbox at its instant; an arrival
//! that finds every slot busy is recorded as dropped, never delayed. A slot is one goose user with its own
//! connection, reused by the buyers it serves one after another (k6's VUs).
//!
//! Each arrival is a new buyer (numbered after the burst's buyers) whose first attempt was
//! meant to start at its arrival instant: time spent waiting for a slot to pick it up, or in
//! a busy generator, counts in its latency.

use super::connection::BuyerConn;
use super::gate::StartGate;
use super::{buyer, plan, Shared};
use crate::model::Dropped;
use crate::scenario::Stream;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};

/// One arriving buyer, handed to a slot.
pub struct Arrival {
    pub buyer: u32,
    pub intended: Instant,
}

/// The inboxes of the idle slots, and whether the stream is over.
#[derive(Default)]
struct Idle {
    inboxes: Vec<oneshot::Sender<Arrival>>,
    over: bool,
}

/// What the dispatcher and the slots share.
pub struct OpenStream {
    /// The stream's arrival instants from its start.
    offsets: Vec<Duration>,
    /// Number of the first arriving buyer (the burst's buyers come first).
    first_buyer: u32,
    pub slots: u32,
    /// Slots that are ready (connection opened), to start the stream when all are.
    pub warm: StartGate,
    idle: Mutex<Idle>,
    origin: watch::Sender<Option<Instant>>,
    pub dropped: Mutex<Vec<Dropped>>,
}

impl OpenStream {
    pub fn new(stream: &Stream, first_buyer: u32) -> Self {
        let offsets = stream.offsets();
        let slots = stream.slots().min(offsets.len().max(1) as u32);
        OpenStream {
            offsets,
            first_buyer,
            slots,
            warm: StartGate::new(slots as usize),
            idle: Mutex::new(Idle::default()),
            origin: watch::Sender::new(None),
            dropped: Mutex::new(Vec::new()),
        }
    }

    /// Waits for the stream's start.
    pub async fn started(&self) -> Instant {
        let mut rx = self.origin.subscribe();
        let at = rx.wait_for(Option::is_some).await.ok().and_then(|v| *v);
        at.unwrap_or_else(Instant::now)
    }

    pub fn arrivals(&self) -> usize {
        self.offsets.len()
    }

    /// When the stream started, if it has.
    pub fn started_at(&self) -> Option<Instant> {
        *self.origin.borrow()
    }

    /// Puts a slot's inbox back among the idle ones; false once the stream is over.
    fn idle(&self, inbox: oneshot::Sender<Arrival>) -> bool {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if !idle.over {
            idle.inboxes.push(inbox);
        }
        !idle.over
    }

    /// Hands `arrival` to an idle slot (the most recently idle: its connection is warmest);
    /// gives it back when every slot is busy.
    fn hand_over(&self, arrival: Arrival) -> Result<(), Arrival> {
        let mut arrival = arrival;
        loop {
            let inbox = self.idle.lock().unwrap_or_else(|p| p.into_inner()).inboxes.pop();
            match inbox {
                None => return Err(arrival),
                Some(inbox) => match inbox.send(arrival) {
                    Ok(()) => return Ok(()),
                    // That slot has gone (its task ended): try the next.
                    Err(back) => arrival = back,
                },
            }
        }
    }

    /// The stream is over: idle slots are released, busy ones end when done.
    fn close(&self) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        idle.over = true;
        idle.inboxes.clear();
    }
}

/// Starts the stream once every slot is warm (or `connect_timeout` has passed), then hands
/// out its arrivals until the last one or the run's deadline.
pub async fn dispatch(shared: Arc<Shared>, connect_timeout: Duration) {
    let Some(stream) = shared.stream.as_ref() else { return };
    let (origin, _) = stream.warm.open_when_ready(connect_timeout).await;
    stream.origin.send_replace(Some(origin));
    // Slots still waiting to be handed a buyer end once the stream is over, however it ends.
    struct CloseOnDrop<'a>(&'a OpenStream);
    impl Drop for CloseOnDrop<'_> {
        fn drop(&mut self) {
            self.0.close();
        }
    }
    let _close = CloseOnDrop(stream);
    shared.live.set_arrivals_total(stream.offsets.len() as u64);
    for (k, offset) in stream.offsets.iter().enumerate() {
        let at = origin + *offset;
        if at >= shared.deadline {
            shared.cut_by_deadline.fetch_add((stream.offsets.len() - k) as u32, Ordering::Relaxed);
            break;
        }
        if at > Instant::now() {
            tokio::select! {
                _ = tokio::time::sleep_until(at.into()) => {}
                _ = shared.stop.wait() => {}
            }
        }
        // A stop was asked for: the arrivals still to come are not made.
        if shared.stop.requested().is_some() {
            break;
        }
        let buyer = stream.first_buyer + k as u32;
        match stream.hand_over(Arrival { buyer, intended: at }) {
            Ok(()) => shared.live.arrived(false),
            Err(_) => {
                shared.live.arrived(true);
                let account = shared.scenario.buyer_of(buyer);
                stream.dropped.lock().unwrap_or_else(|p| p.into_inner()).push(Dropped {
                    repetition: 1,
                    buyer: account,
                    product: shared.scenario.product_of(account) as u32,
                    intended_us: shared.micros(at),
                });
            }
        }
    }
}

/// Slot `slot`: opens its connection, reports ready, then serves arriving buyers one after
/// another until the stream is over.
pub async fn serve_slot(shared: &Shared, slot: u32) {
    let Some(stream) = shared.stream.as_ref() else { return };
    let plan = &shared.plan;
    let mut conns: Vec<Option<BuyerConn>> = plan.endpoints.iter().map(|_| None).collect();
    let home = slot as usize % plan.endpoints.len().max(1);
    {
        let endpoint = &plan.endpoints[home];
        let mut conn = BuyerConn::to(endpoint).bound_to(plan.source_of(slot));
        let vars = plan::BuyerVars::new(&shared.scenario, plan, stream.first_buyer);
        let timeout = shared.scenario.arrival.connect_timeout.0;
        let problem = {
            let _permit = shared.connect_permits.acquire().await;
            super::warm_up(shared, &mut conn, endpoint, &vars, timeout).await
        };
        match problem {
            None => shared.live.connected(),
            Some(why) => super::connect_failed(shared, why),
        }
        if conn.ever_connected() {
            shared.reached.fetch_add(1, Ordering::AcqRel);
        }
        conns[home] = Some(conn);
    }
    stream.warm.arrive(None);
    loop {
        // A fresh inbox each time the slot is idle: the dispatcher drops it when the stream is
        // over, and the slot ends.
        let (inbox, next) = oneshot::channel();
        if !stream.idle(inbox) {
            break;
        }
        let Ok(arrival) = next.await else { break };
        let _live = super::LiveBuyer::new(&shared.live_buyers);
        let index = arrival.buyer as usize % plan.endpoints.len().max(1);
        let endpoint = plan.endpoint_of(arrival.buyer);
        let conn = conns[index].get_or_insert_with(|| BuyerConn::to(endpoint).bound_to(plan.source_of(slot)));
        let mut vars = plan::BuyerVars::new(&shared.scenario, plan, arrival.buyer);
        let timeout = shared.scenario.request_timeout.0;
        let mut refused = None;
        for step in &plan.auth {
            if let Err(why) = buyer::authenticate(conn, endpoint, step, &mut vars, timeout).await {
                refused = Some(format!("{} failed: {why}", step.name));
                break;
            }
        }
        let attempts = match refused {
            None => {
                let request = plan.order.bytes(&endpoint.host, &vars.vars(1));
                buyer::buy(shared, conn, arrival.buyer, vars, request, arrival.intended).await
            }
            Some(why) => vec![buyer::not_sent(shared, arrival.buyer, arrival.intended, why)],
        };
        shared.attempts.lock().unwrap_or_else(|p| p.into_inner()).extend(attempts);
    }
}
