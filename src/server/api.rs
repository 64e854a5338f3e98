//! The HTTP API of the reference server (JSON):
//!
//! | route | answers |
//! |---|---|
//! | `POST /orders` {product_id, buyer_id, quantity?, idempotency_key?} | 201 order, 409 sold out, 423 busy (400 under `seed-lock`), 429 rate limited, 403 per-buyer limit, 404 unknown product, 402 payment failed (`late-rollback`), 400/415/422 bad input, 503 store unavailable |
//! | `GET /products/{id}` | 200 {id, name, stock}, 404 |
//! | `GET /healthz` | 200 |
//! | `POST /admin/seed` {products: [...]} | 204; replaces all stock and orders (bearer token) |
//! | `GET /admin/truth` | 200 {products, orders}: the store's real state (bearer token) |
//! | `GET /admin/in-flight` | 200 {in_flight}: order requests being handled now (bearer token) |
//! | `GET /metrics` | 200 Prometheus metrics, OpenMetrics text ([`super::metrics`]), 503 store unavailable (bearer token) |
//!
//! Malformed requests get a 4xx with `{"error": code, "message": text}`, never a 5xx.

use super::metrics::{self, outcome_of, Live, Metrics};
use super::rate_limit::BuyerLimiter;
use super::store::{OrderRequest, Placed, SeedProduct, Store, StoreError};
use crate::model::{MAX_ID_LEN, MAX_LIMIT, MAX_QUANTITY};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// What every handler of one instance shares.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub limiter: Arc<BuyerLimiter>,
    pub admin_token: Arc<str>,
    /// Order requests being handled now: flashbench reads truth only once this is 0.
    pub in_flight: Arc<AtomicUsize>,
    pub metrics: Arc<Metrics>,
}

/// Counts one order request as in flight for as long as its handler lives (a handler dropped
/// because its client went away stops counting too).
struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn enter(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        InFlight(count.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/orders", post(create_order))
        .route("/products/{id}", get(get_product))
        .route("/healthz", get(healthz))
        .route("/admin/seed", post(seed))
        .route("/admin/truth", get(truth))
        .route("/admin/in-flight", get(in_flight))
        .route("/admin/store-latency", axum::routing::put(set_store_latency))
        .route("/metrics", get(scrape))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            error(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed on this route")
        })
        .with_state(state)
}

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> Response {
    api_error(status, code, message).into_response()
}

fn api_error(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError { status, code, message: message.into() }
}

/// A 4xx/5xx answer with `{"error": code, "message": text}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.code, "message": self.message }))).into_response()
    }
}

fn bad_json(rejection: JsonRejection) -> ApiError {
    let status = match rejection {
        JsonRejection::JsonDataError(_) => StatusCode::UNPROCESSABLE_ENTITY,
        JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        _ => StatusCode::BAD_REQUEST,
    };
    api_error(status, "bad_request", rejection.body_text())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OrderBody {
    product_id: String,
    buyer_id: String,
    #[serde(default)]
    quantity: Option<u32>,
    #[serde(default)]
    #[allow(dead_code)]
    idempotency_key: Option<String>,
}

/// Ids are checked at the edge, before a store sees them: a NUL byte is refused by
/// PostgreSQL with a raw error, so control characters are a 422 here, like a bad length.
fn check_id(field: &str, value: &str) -> Result<(), ApiError> {
    if value.is_empty() || value.len() > MAX_ID_LEN {
        return Err(ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "bad_request",
            message: format!("{field} must be 1 to {MAX_ID_LEN} bytes"),
        });
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "bad_request",
            message: format!("{field} must not hold control characters (NUL, newlines, …)"),
        });
    }
    Ok(())
}

/// `POST /orders`: takes the order, and counts its answer in the metrics.
async fn create_order(State(app): State<AppState>, body: Result<Json<OrderBody>, JsonRejection>) -> Response {
    let started = Instant::now();
    let answer = place_order(&app, body).await;
    let outcome = match &answer {
        Ok(created) => outcome_of(created.status(), None),
        Err(e) => outcome_of(e.status, Some(e.code)),
    };
    app.metrics.order_answered(outcome, started.elapsed());
    answer.unwrap_or_else(IntoResponse::into_response)
}

/// The order itself: `Ok` is the 201, every other answer an [`ApiError`].
async fn place_order(app: &AppState, body: Result<Json<OrderBody>, JsonRejection>) -> Result<Response, ApiError> {
    let Json(body) = body.map_err(bad_json)?;
    check_id("product_id", &body.product_id)?;
    check_id("buyer_id", &body.buyer_id)?;
    let quantity = body.quantity.unwrap_or(1);
    if quantity == 0 || quantity > MAX_QUANTITY {
        return Err(api_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_request",
            format!("quantity must be 1 to {MAX_QUANTITY}"),
        ));
    }
    if !app.limiter.admit(&body.buyer_id) {
        app.metrics.rate_limited();
        return Err(api_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Too many requests, slow down."));
    }
    let req = OrderRequest { product_id: body.product_id, buyer_id: body.buyer_id, quantity };
    // The order runs to its end on a task of its own, as in most servers: a buyer who hangs up
    // does not cancel it halfway (hyper drops the handler of a closed connection), and it
    // counts as in flight until it is done.
    let counted = InFlight::enter(&app.in_flight);
    let store = app.store.clone();
    let metrics = app.metrics.clone();
    let placed = tokio::spawn(async move {
        let _counted = counted;
        let started = Instant::now();
        let placed = store.place(&req).await;
        metrics.store_round_trip(started.elapsed());
        placed
    })
    .await
    .unwrap_or_else(|e| Err(StoreError::Query { backend: "server", cause: format!("the order task failed: {e}") }));
    match placed {
        Ok(Placed::Created { order, remaining }) => {
            Ok((StatusCode::CREATED, Json(json!({ "order": order, "remaining_stock": remaining }))).into_response())
        }
        Ok(Placed::SoldOut) => Err(api_error(StatusCode::CONFLICT, "sold_out", "Sold out.")),
        Ok(Placed::Busy { seed_style: true }) => {
            Err(api_error(StatusCode::BAD_REQUEST, "busy", "High demand! Please try again."))
        }
        Ok(Placed::Busy { seed_style: false }) => Err(api_error(StatusCode::LOCKED, "busy", "Busy, please try again.")),
        Ok(Placed::LimitReached { limit }) => {
            Err(api_error(StatusCode::FORBIDDEN, "limit_reached", format!("at most {limit} order(s) per buyer")))
        }
        Ok(Placed::UnknownProduct) => Err(api_error(StatusCode::NOT_FOUND, "unknown_product", "no such product")),
        Ok(Placed::PaymentFailed) => {
            Err(api_error(StatusCode::PAYMENT_REQUIRED, "payment_failed", "Payment failed; the order was cancelled."))
        }
        Err(e) => Err(api_error(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", e.to_string())),
    }
}

async fn get_product(State(app): State<AppState>, Path(id): Path<String>) -> Response {
    if let Err(e) = check_id("id", &id) {
        return e.into_response();
    }
    match app.store.product(&id).await {
        Ok(Some(p)) => Json(json!({ "id": p.id, "name": p.name, "stock": p.stock })).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "unknown_product", "no such product"),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", e.to_string()),
    }
}

async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

fn authorized(app: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    // The scheme is case-insensitive (RFC 9110); the token is compared in constant time.
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let matches = |t: &str| bool::from(subtle::ConstantTimeEq::ct_eq(t.as_bytes(), app.admin_token.as_bytes()));
    if given.is_some_and(matches) {
        Ok(())
    } else {
        Err(ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: "admin routes need `Authorization: Bearer <token>`".into(),
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedBody {
    products: Vec<SeedProduct>,
}

/// An admin request's JSON body, once its token is right (else the 401 or 4xx to answer).
fn admitted<T>(app: &AppState, headers: &HeaderMap, body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    authorized(app, headers)?;
    body.map(|Json(body)| body).map_err(bad_json)
}

async fn seed(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<SeedBody>, JsonRejection>,
) -> Response {
    let body = match admitted(&app, &headers, body) {
        Ok(body) => body,
        Err(refused) => return refused.into_response(),
    };
    let mut seen = std::collections::HashSet::new();
    for p in &body.products {
        if let Err(e) = check_id("id", &p.id) {
            return e.into_response();
        }
        if !seen.insert(p.id.as_str()) {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_request",
                format!("product id {:?} is given twice", p.id),
            );
        }
        if p.limit_per_buyer == 0 || p.limit_per_buyer > MAX_LIMIT {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "bad_request",
                format!("limit_per_buyer must be 1 to {MAX_LIMIT}"),
            );
        }
    }
    match app.store.seed(&body.products).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", e.to_string()),
    }
}

async fn truth(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = authorized(&app, &headers) {
        return e.into_response();
    }
    match app.store.snapshot().await {
        Ok(snapshot) => Json(snapshot).into_response(),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", e.to_string()),
    }
}

/// The body of `PUT /admin/store-latency`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LatencyBody {
    latency_us: u64,
}

/// The longest added store latency accepted (a minute: a fault, not a hang).
const MAX_STORE_LATENCY_US: u64 = 60_000_000;

/// `PUT /admin/store-latency {"latency_us": N}`: the latency added to every order's store
/// round trip from now on (the `slow_store` fault; 0 removes it).
async fn set_store_latency(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<LatencyBody>, JsonRejection>,
) -> Response {
    let body = match admitted(&app, &headers, body) {
        Ok(body) => body,
        Err(refused) => return refused.into_response(),
    };
    if body.latency_us > MAX_STORE_LATENCY_US {
        let message = format!("latency_us must be at most {MAX_STORE_LATENCY_US} (a minute)");
        return error(StatusCode::UNPROCESSABLE_ENTITY, "bad_request", message);
    }
    app.store.set_latency(std::time::Duration::from_micros(body.latency_us));
    StatusCode::NO_CONTENT.into_response()
}

async fn in_flight(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = authorized(&app, &headers) {
        return e.into_response();
    }
    Json(json!({ "in_flight": app.in_flight.load(Ordering::Acquire) })).into_response()
}

/// `GET /metrics`: the instance's metrics, with the stock read from the store now (503 if it
/// cannot be read: no numbers rather than wrong ones).
async fn scrape(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = authorized(&app, &headers) {
        return e.into_response();
    }
    let snapshot = match app.store.snapshot().await {
        Ok(snapshot) => snapshot,
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", e.to_string()),
    };
    let live = Live {
        stock: &snapshot.products,
        in_flight: app.in_flight.load(Ordering::Acquire),
        locks: app.store.lock_stats(),
    };
    match app.metrics.render(&live) {
        Ok(text) => ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], text).into_response(),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", format!("cannot encode the metrics: {e}")),
    }
}
