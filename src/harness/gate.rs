//! The burst's start gate: buyers arrive once connected (handing over the last byte of their
//! prepared request), and all are released together when every one has arrived, or when the
//! connect deadline passes (no buyer can hold the rest). At the release the gate writes every
//! last byte in tight loops, split across as many writer threads as the machine has cores
//! (each writes its share from the same release instant); each buyer is woken the moment its
//! own last byte is written, to read its answer while the rest are still being written.

use super::connection::LastByte;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

#[derive(Debug)]
pub struct StartGate {
    expected: usize,
    arrived: AtomicUsize,
    all_arrived: Notify,
    release: watch::Sender<Option<Instant>>,
    /// The release instant, set before the first last byte is written.
    release_at: std::sync::OnceLock<Instant>,
    last_bytes: Mutex<Vec<LastByte>>,
    /// [`WAITING`], then [`RELEASED`] or [`CANCELLED`], decided once.
    state: AtomicU8,
}

const WAITING: u8 = 0;
const RELEASED: u8 = 1;
const CANCELLED: u8 = 2;

/// How long before a signalled release instant the gate stops sleeping and yields instead.
const SPIN_BEFORE: Duration = Duration::from_millis(2);

/// Writers of the release at most.
const MAX_WRITERS: usize = 8;
/// Last bytes per writer at least: below this a thread costs more than it saves.
const MIN_SHARE: usize = 256;

/// Writes every last byte, split across writer threads (the calling one included).
fn write_split(bytes: &[LastByte]) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let writers = cores.min(MAX_WRITERS).min(bytes.len() / MIN_SHARE).max(1);
    if writers == 1 {
        bytes.iter().for_each(|b| {
            b.write_now();
        });
        return;
    }
    let share = bytes.len().div_ceil(writers);
    std::thread::scope(|scope| {
        let mut chunks = bytes.chunks(share);
        let mine = chunks.next().unwrap_or_default();
        for chunk in chunks {
            let spawned = std::thread::Builder::new().name("gate-writer".into()).spawn_scoped(scope, move || {
                chunk.iter().for_each(|b| {
                    b.write_now();
                })
            });
            if spawned.is_err() {
                // No thread to be had: this one writes that share too (a buyer whose byte
                // is still unwritten writes it itself in any case).
                chunk.iter().for_each(|b| {
                    b.write_now();
                });
            }
        }
        mine.iter().for_each(|b| {
            b.write_now();
        });
    });
}

impl StartGate {
    pub fn new(expected: usize) -> Self {
        StartGate {
            expected,
            arrived: AtomicUsize::new(0),
            all_arrived: Notify::new(),
            release: watch::Sender::new(None),
            release_at: std::sync::OnceLock::new(),
            last_bytes: Mutex::new(Vec::with_capacity(expected)),
            state: AtomicU8::new(WAITING),
        }
    }

    pub fn arrived(&self) -> usize {
        self.arrived.load(Ordering::Acquire)
    }

    /// A buyer is connected and ready; `last_byte` is its prepared request's, if any. Returns
    /// the slot of that last byte, for [`StartGate::rearm`].
    pub fn arrive(&self, last_byte: Option<LastByte>) -> Option<usize> {
        let slot = last_byte.map(|b| {
            let mut all = self.last_bytes.lock().unwrap_or_else(|p| p.into_inner());
            all.push(b);
            all.len() - 1
        });
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 >= self.expected {
            self.all_arrived.notify_one();
        }
        slot
    }

    /// Replaces the last byte in `slot` (the buyer's connection was closed by the server while
    /// it waited, and it prepared its request again on a new one). After the release it is too
    /// late: the buyer then writes its last byte itself.
    pub fn rearm(&self, slot: usize, last_byte: LastByte) {
        if let Some(b) = self.last_bytes.lock().unwrap_or_else(|p| p.into_inner()).get_mut(slot) {
            *b = last_byte;
        }
    }

    /// The release instant, once the gate has opened.
    pub fn released_at(&self) -> Option<Instant> {
        self.release_at.get().copied()
    }

    /// Waits for the release and returns its instant.
    pub async fn released(&self) -> Instant {
        let mut rx = self.release.subscribe();
        // The sender lives as long as the gate, so this cannot close; go ahead regardless.
        let at = rx.wait_for(Option::is_some).await.ok().and_then(|v| *v);
        at.unwrap_or_else(Instant::now)
    }

    /// Releases everyone once all have arrived or `deadline` has passed; returns the release
    /// instant and how many had arrived.
    pub async fn open_when_ready(&self, deadline: Duration) -> (Instant, usize) {
        let opened = self.open_when_ready_from(deadline, None).await;
        opened.unwrap_or_else(|| (Instant::now(), self.arrived()))
    }

    /// Makes sure the gate never opens (a stop asked for before the release): true when it
    /// will not, false when it has opened already (its buyers must then read their answers).
    pub fn cancel(&self) -> bool {
        match self.state.compare_exchange(WAITING, CANCELLED, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => true,
            Err(now) => now == CANCELLED,
        }
    }

    /// Releases everyone at the instant `signal` gives (a shard of a bigger burst): tells it
    /// when every buyer here has arrived or `deadline` has passed, then waits for the instant
    /// (which may come first: buyers not yet arrived then miss the release, as at a
    /// deadline). Returns the release instant as scheduled (every buyer's intended start, so
    /// a late gate shows in the send skew), how many had arrived, and how late the writing
    /// began. `None` when the gate was cancelled or no instant came.
    pub async fn open_on_signal(
        &self,
        deadline: Duration,
        signal: &dyn super::release::ReleaseSignal,
    ) -> Option<(Instant, usize, Duration)> {
        let ready = tokio::time::timeout(deadline, self.all_here());
        let release = signal.release_at();
        tokio::pin!(ready, release);
        // Readiness first when both are there: the signal hears of it before the instant.
        let at = tokio::select! {
            biased;
            _ = &mut ready => {
                signal.ready(self.arrived(), self.expected);
                release.await?
            }
            at = &mut release => at?,
        };
        // Timers are coarse (1 ms): sleep to just before the instant, then yield until it.
        if let Some(early) = at.checked_sub(SPIN_BEFORE) {
            tokio::time::sleep_until(early.into()).await;
        }
        while Instant::now() < at {
            std::thread::yield_now();
        }
        if self.state.compare_exchange(WAITING, RELEASED, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return None;
        }
        let late = Instant::now().saturating_duration_since(at);
        let _ = self.release_at.set(at);
        let last_bytes = std::mem::take(&mut *self.last_bytes.lock().unwrap_or_else(|p| p.into_inner()));
        write_split(&last_bytes);
        self.release.send_replace(Some(at));
        Some((at, self.arrived(), late))
    }

    /// Waits until every expected buyer has arrived.
    async fn all_here(&self) {
        loop {
            let notified = self.all_arrived.notified();
            if self.arrived() >= self.expected {
                return;
            }
            notified.await;
        }
    }

    /// As [`StartGate::open_when_ready`], but never before `not_before` (a burst placed in a
    /// background stream).
    /// `None` when the gate was cancelled first: it then writes nothing.
    pub async fn open_when_ready_from(
        &self,
        deadline: Duration,
        not_before: Option<Instant>,
    ) -> Option<(Instant, usize)> {
        let _ = tokio::time::timeout(deadline, self.all_here()).await;
        if let Some(t) = not_before {
            tokio::time::sleep_until(t.into()).await;
        }
        if self.state.compare_exchange(WAITING, RELEASED, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return None;
        }
        let at = Instant::now();
        let _ = self.release_at.set(at);
        let last_bytes = std::mem::take(&mut *self.last_bytes.lock().unwrap_or_else(|p| p.into_inner()));
        write_split(&last_bytes);
        self.release.send_replace(Some(at));
        Some((at, self.arrived()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn releases_when_all_have_arrived() {
        let gate = Arc::new(StartGate::new(3));
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let g = gate.clone();
                tokio::spawn(async move {
                    g.arrive(None);
                    g.released().await
                })
            })
            .collect();
        let (at, arrived) = gate.open_when_ready(Duration::from_secs(30)).await;
        assert_eq!(arrived, 3);
        for w in waiters {
            assert_eq!(w.await.expect("waiter"), at, "every buyer sees the same release instant");
        }
    }

    #[tokio::test]
    async fn releases_at_the_deadline_when_someone_never_arrives() {
        let gate = StartGate::new(2);
        gate.arrive(None);
        // A real (short) deadline: the second buyer never comes, so only the deadline opens it.
        let (_, arrived) = gate.open_when_ready(Duration::from_millis(50)).await;
        assert_eq!(arrived, 1);
        let _ = gate.released().await;
    }

    /// A release at a fixed instant, noting when the gate said it was ready.
    #[derive(Debug)]
    struct At(Instant, std::sync::Mutex<Option<(usize, usize)>>);

    impl super::super::release::ReleaseSignal for At {
        fn ready(&self, arrived: usize, expected: usize) {
            *self.1.lock().expect("lock") = Some((arrived, expected));
        }
        fn release_at(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = Option<Instant>> + Send + '_>> {
            Box::pin(async move { Some(self.0) })
        }
    }

    #[tokio::test]
    async fn a_signalled_gate_opens_at_the_given_instant_not_before() {
        let gate = StartGate::new(2);
        gate.arrive(None);
        gate.arrive(None);
        let at = Instant::now() + Duration::from_millis(30);
        let signal = At(at, Default::default());
        let (released, arrived, late) = gate.open_on_signal(Duration::from_secs(5), &signal).await.expect("opened");
        assert!(Instant::now() >= at, "never before the instant");
        assert_eq!((released, arrived), (at, 2), "the scheduled instant is the release");
        assert!(late < Duration::from_millis(20), "late by {late:?}");
        assert_eq!(gate.released().await, at);
        assert_eq!(*signal.1.lock().expect("lock"), Some((2, 2)), "ready was reported with every buyer");
    }

    #[tokio::test]
    async fn a_signalled_gate_past_its_instant_opens_at_once_and_says_how_late() {
        let gate = StartGate::new(1);
        gate.arrive(None);
        let at = Instant::now().checked_sub(Duration::from_millis(20)).expect("a clock past 20 ms");
        let (released, _, late) =
            gate.open_on_signal(Duration::from_secs(5), &At(at, Default::default())).await.expect("opened");
        assert_eq!(released, at);
        assert!(late >= Duration::from_millis(20), "late by {late:?}");
        let cancelled = StartGate::new(1);
        assert!(cancelled.cancel());
        assert_eq!(cancelled.open_on_signal(Duration::from_secs(5), &At(at, Default::default())).await, None);
    }

    #[tokio::test]
    async fn a_cancelled_gate_never_opens_and_an_opened_one_cannot_be_cancelled() {
        let gate = StartGate::new(1);
        assert!(gate.cancel());
        gate.arrive(None);
        assert_eq!(gate.open_when_ready_from(Duration::from_secs(5), None).await, None);
        assert!(gate.released_at().is_none(), "nothing was released");
        let opened = StartGate::new(1);
        opened.arrive(None);
        assert!(opened.open_when_ready_from(Duration::from_secs(5), None).await.is_some());
        assert!(!opened.cancel(), "too late: its buyers must read their answers");
    }
}
