//! The reference order server (axum): one HTTP API, pluggable stores, and a catalogue of
//! strategies, correct and deliberately broken. `flashbench run` starts it in-process (or as
//! child processes when one process cannot hold every socket); `flashbench serve` runs it alone.

mod api;
mod conn_limits;
mod metrics;
mod rate_limit;
pub mod store;

pub use api::{router, AppState};

pub use conn_limits::{default_max_connections, ConnLimits, MAX_BODY};
pub use metrics::Metrics;
pub use rate_limit::BuyerLimiter;

use crate::model::{Backend, RateLimit, Strategy};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use store::{Store, StoreError, StoreOptions};
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinHandle;

/// The listen backlog asked for; Linux caps it at `net.core.somaxconn` (4,096 here).
pub const LISTEN_BACKLOG: u32 = 4096;

/// How to run one server instance.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The store's backend, location and connection settings.
    pub store: StoreOptions,
    pub strategy: Strategy,
    pub rate_limit: RateLimit,
    pub admin_token: String,
    /// Instance number, unique among instances sharing a store (it goes into order ids).
    pub instance: u32,
    /// Head and body timeouts and the connection cap.
    pub limits: ConnLimits,
}

impl ServerConfig {
    pub fn backend(&self) -> Backend {
        self.store.location.backend()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A server instance running on this process's tokio runtime.
#[derive(Debug)]
pub struct RunningServer {
    pub addr: SocketAddr,
    pub store: Arc<Store>,
    in_flight: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl RunningServer {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Order requests being handled now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Stops serving at once; open connections are dropped.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `addr` with a large backlog, so that a burst of connects is queued, not refused.
pub fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    let socket = if addr.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() };
    let listener = socket
        .and_then(|s| {
            s.set_reuseaddr(true)?;
            s.bind(addr)?;
            s.listen(LISTEN_BACKLOG)
        })
        .map_err(|source| ServerError::Bind { addr, source })?;
    Ok(listener)
}

/// Opens the store and starts serving on `addr` (port 0 picks a free port).
pub async fn start(config: &ServerConfig, addr: SocketAddr) -> Result<RunningServer, ServerError> {
    let store = Arc::new(Store::open(config.strategy, config.instance, &config.store).await?);
    start_with_store(config, store, addr)
}

/// Starts serving `store` on `addr`.
pub fn start_with_store(
    config: &ServerConfig,
    store: Arc<Store>,
    addr: SocketAddr,
) -> Result<RunningServer, ServerError> {
    let listener = bind(addr)?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind { addr, source })?;
    let in_flight = Arc::new(AtomicUsize::new(0));
    let limiter = Arc::new(BuyerLimiter::new(config.rate_limit));
    let pruned = Arc::downgrade(&limiter);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(rate_limit::PRUNE_EVERY);
        every.tick().await;
        loop {
            every.tick().await;
            // The server is gone with its state: stop.
            let Some(limiter) = pruned.upgrade() else { break };
            limiter.prune();
        }
    });
    let state = AppState {
        store: store.clone(),
        limiter,
        admin_token: Arc::from(config.admin_token.as_str()),
        in_flight: in_flight.clone(),
        metrics: Arc::new(Metrics::new(config)),
    };
    let app = router(state);
    let task = tokio::spawn(conn_limits::serve(listener, app, config.limits));
    Ok(RunningServer { addr, store, in_flight, task })
}
