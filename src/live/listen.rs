//! `flashbench run --metrics-listen ADDR`: serves the current run's metrics at `GET /metrics`
//! for Prometheus to scrape, for as long as the process lives (after a run ends, its final
//! figures stay until the next run of a suite begins).

use super::Live;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The run whose figures are exported now.
static CURRENT: Mutex<Option<Arc<Live>>> = Mutex::new(None);
/// `/metrics` answers so far.
static SCRAPES: AtomicU64 = AtomicU64::new(0);

/// How long the process waits, after its last run, for one more scrape (so the verdict and
/// the final figures reach Prometheus).
pub const LINGER: Duration = Duration::from_secs(15);

/// Makes `live` the run that `/metrics` and the remote-write pusher export.
pub fn set_current(live: Arc<Live>) {
    *CURRENT.lock().unwrap_or_else(|p| p.into_inner()) = Some(live);
}

/// The run exported now, if any has begun.
pub fn current() -> Option<Arc<Live>> {
    CURRENT.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

#[derive(Debug, thiserror::Error)]
#[error("--metrics-listen {addr}: cannot listen there: {source}")]
pub struct ListenError {
    addr: SocketAddr,
    #[source]
    source: std::io::Error,
}

/// Binds `addr` and serves `/metrics` in the background; returns the bound address (a port 0
/// is replaced by the one the system chose).
pub async fn start(addr: SocketAddr) -> Result<SocketAddr, ListenError> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| ListenError { addr, source })?;
    let bound = listener.local_addr().map_err(|source| ListenError { addr, source })?;
    let app = axum::Router::new().route("/metrics", get(metrics));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            log::warn!("the metrics endpoint stopped: {e}");
        }
    });
    Ok(bound)
}

/// Waits until `/metrics` has been scraped once more (at most [`LINGER`], or until `stop`).
pub async fn await_last_scrape(stop: &crate::interrupt::Stop) -> bool {
    let before = SCRAPES.load(Ordering::Acquire);
    let scraped = async {
        while SCRAPES.load(Ordering::Acquire) == before {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::select! {
        _ = tokio::time::timeout(LINGER, scraped) => SCRAPES.load(Ordering::Acquire) > before,
        _ = stop.wait() => false,
    }
}

async fn metrics() -> impl IntoResponse {
    let body = match current() {
        Some(live) => live.metrics.encode(),
        // No run has begun yet: an empty but valid exposition.
        None => "# EOF\n".to_string(),
    };
    SCRAPES.fetch_add(1, Ordering::AcqRel);
    (StatusCode::OK, [(header::CONTENT_TYPE, super::metrics::CONTENT_TYPE)], body)
}
