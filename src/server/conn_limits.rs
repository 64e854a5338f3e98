//! What one client may hold of a server instance: how long its request head and body may take,
//! how many connections are served at once, and how large a body may be. Without these a
//! slowloris client (a head sent a byte at a time, a body promised and never sent, connections
//! left open and idle) holds sockets forever until the open-files limit stops every accept.
//!
//! The accept loop lives here too: axum's own `serve` sets no timer, so hyper's head timeout
//! never runs under it.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The largest request body read (seeds of many products included); a longer one is a 413.
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// Sockets kept free for the store's connections, files and logs, out of the open-files limit.
const RESERVED_FILES: u64 = 256;

/// Timeouts and the connection cap of one server instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// A request's head must arrive within this, counted from the connection's opening or the
    /// end of the previous answer: an idle keep-alive connection is closed after it.
    pub header_timeout: Duration,
    /// Once its head has arrived, a request's body must arrive within this (408 and close).
    pub body_timeout: Duration,
    /// Connections served at once; further ones wait in the listen backlog until one closes.
    pub max_connections: usize,
}

impl ConnLimits {
    pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);

    /// The defaults: 10 s for a head, 30 s for a body, and as many connections as the
    /// open-files limit leaves room for.
    pub fn defaults() -> ConnLimits {
        ConnLimits {
            header_timeout: Self::DEFAULT_HEADER_TIMEOUT,
            body_timeout: Self::DEFAULT_BODY_TIMEOUT,
            max_connections: default_max_connections(),
        }
    }
}

/// The open-files limit less what the process needs besides its clients' sockets (256, or
/// half of a limit under 512).
pub fn default_max_connections() -> usize {
    let soft = rlimit::Resource::NOFILE.get().map(|(soft, _)| soft).unwrap_or(1024);
    let free = soft.saturating_sub(RESERVED_FILES.min(soft / 2)).max(16);
    usize::try_from(free).unwrap_or(usize::MAX)
}

/// Serves `app` on `listener` under `limits`, until the task running it is aborted.
pub async fn serve(listener: TcpListener, app: Router, limits: ConnLimits) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).keep_alive(true);
    let app = app.layer(axum::middleware::from_fn_with_state(limits, bounded_body));
    loop {
        // At the cap, stop accepting: new connections wait in the backlog, not on a socket.
        let Ok(permit) = permits.clone().acquire_owned().await else { return };
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(e) if is_per_connection(&e) => continue,
            Err(e) => {
                // Out of open files or memory: wait for connections to close, as hyper's own
                // examples and axum's `serve` do, rather than spin.
                log::warn!("accept failed: {e}; retrying in 100 ms");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let connection = http.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(app.clone()));
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
}

/// An accept error that concerns only the connection being accepted.
fn is_per_connection(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset)
}

/// Reads the whole body within `body_timeout` (408 and close if not), refuses one declared or
/// found longer than [`MAX_BODY`] (413 and close), then hands the request on.
async fn bounded_body(State(limits): State<ConnLimits>, request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return closing(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", too_large());
    }
    match tokio::time::timeout(limits.body_timeout, axum::body::to_bytes(body, MAX_BODY)).await {
        Err(_) => closing(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!("the request body did not arrive within {:?}", limits.body_timeout),
        ),
        Ok(Err(e)) if is_length_limit(&e) => closing(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", too_large()),
        Ok(Err(e)) => {
            closing(StatusCode::BAD_REQUEST, "bad_request", format!("the request body could not be read: {e}"))
        }
        Ok(Ok(bytes)) => next.run(Request::from_parts(parts, Body::from(bytes))).await,
    }
}

fn is_length_limit(e: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

fn too_large() -> String {
    format!("the request body is longer than {MAX_BODY} bytes")
}

/// A JSON error that also closes the connection (what is left of the body is not read).
fn closing(status: StatusCode, code: &str, message: String) -> Response {
    let mut response = (status, axum::Json(json!({ "error": code, "message": message }))).into_response();
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}
