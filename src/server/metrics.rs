//! The Prometheus metrics of one server instance, served by `GET /metrics` in the OpenMetrics
//! text format. Each instance owns its registry: the order handler updates the counters and
//! histograms as answers go out (atomics and `Family` lookups, nothing slower), and what is a
//! state rather than an event (stock, requests in flight, the store's lock counts) is read at
//! scrape time. The names are a public contract: `deploy/METRICS.md`, "Reference server".

use super::store::{LockStats, ProductStock};
use super::ServerConfig;
use crate::model::Outcome;
use axum::http::StatusCode;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};
use std::time::Duration;

/// The content type of the exposition.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The class of an answer with `status` and, for an error answer, its `error` code (the seed
/// design says "busy" with a 400): the reference API's table, which the harness reads too.
pub fn outcome_of(status: StatusCode, error: Option<&str>) -> Outcome {
    crate::model::reference_api::reference_outcome(status.as_u16(), error)
}

fn label(outcome: Outcome) -> OutcomeLabel {
    OutcomeLabel { outcome: outcome.name() }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ProductLabel {
    product: String,
}

/// Request durations from 50 µs to about 6.5 s, doubling (and `+Inf`).
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 18))
}

/// What a scrape reads at the time: states, not events.
#[derive(Debug)]
pub struct Live<'a> {
    pub stock: &'a [ProductStock],
    pub in_flight: usize,
    pub locks: LockStats,
}

/// One server instance's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    orders: Family<OutcomeLabel, Counter>,
    request_duration: Family<OutcomeLabel, Histogram>,
    store_duration: Histogram,
    rate_limited: Counter,
}

impl Metrics {
    pub fn new(config: &ServerConfig) -> Metrics {
        let mut registry = Registry::default();
        let info = Info::new([
            ("backend", config.backend().to_string()),
            ("strategy", config.strategy.to_string()),
            ("server_instance", config.instance.to_string()),
        ]);
        registry.register("flashbench_server", "What this server runs", info);
        let orders = Family::<OutcomeLabel, Counter>::default();
        let request_duration = Family::<OutcomeLabel, Histogram>::new_with_constructor(duration_histogram as fn() -> _);
        // Every class is exposed from the start, at 0.
        for outcome in crate::model::reference_api::answer_classes() {
            drop(orders.get_or_create(&label(outcome)));
            drop(request_duration.get_or_create(&label(outcome)));
        }
        registry.register("flashbench_server_orders", "Order requests answered, by the answer's class", orders.clone());
        registry.register_with_unit(
            "flashbench_server_request_duration",
            "Time to answer an order request, by the answer's class",
            Unit::Seconds,
            request_duration.clone(),
        );
        let store_duration = duration_histogram();
        registry.register_with_unit(
            "flashbench_server_store_duration",
            "One order's store round trip (the strategy's store call, with any configured store latency)",
            Unit::Seconds,
            store_duration.clone(),
        );
        let rate_limited = Counter::default();
        registry.register(
            "flashbench_server_rate_limited",
            "Order requests refused with 429 by the per-buyer rate limiter",
            rate_limited.clone(),
        );
        Metrics { registry, orders, request_duration, store_duration, rate_limited }
    }

    /// An order request was answered, `elapsed` after it arrived.
    pub fn order_answered(&self, outcome: Outcome, elapsed: Duration) {
        let label = label(outcome);
        self.orders.get_or_create(&label).inc();
        self.request_duration.get_or_create(&label).observe(elapsed.as_secs_f64());
    }

    /// One order's store call took `elapsed`.
    pub fn store_round_trip(&self, elapsed: Duration) {
        self.store_duration.observe(elapsed.as_secs_f64());
    }

    /// The per-buyer rate limiter refused a request.
    pub fn rate_limited(&self) {
        self.rate_limited.inc();
    }

    /// The exposition: everything counted so far, and `live`.
    pub fn render(&self, live: &Live) -> Result<String, std::fmt::Error> {
        let mut now = Registry::default();
        let stock = Family::<ProductLabel, Gauge>::default();
        for p in live.stock {
            stock.get_or_create(&ProductLabel { product: p.id.clone() }).set(p.stock);
        }
        now.register("flashbench_server_stock", "Stock per product, read from the store at scrape time", stock);
        now.register(
            "flashbench_server_in_flight_requests",
            "Order requests being handled now",
            ConstGauge::new(live.in_flight),
        );
        now.register(
            "flashbench_server_lock_acquisitions",
            "Seed-design locks this instance took (seed-lock strategy; 0 for strategies without locks)",
            ConstCounter::new(live.locks.acquisitions),
        );
        now.register(
            "flashbench_server_lock_expiries",
            "Locks this instance took that ended by their TTL: the seed design never releases a lock, so \
             every lock counts here once its TTL has passed since it was taken, except locks a reseed \
             through this instance deleted first",
            ConstCounter::new(live.locks.expiries),
        );
        let mut text = String::new();
        encode_registry(&mut text, &self.registry)?;
        encode_registry(&mut text, &now)?;
        encode_eof(&mut text)?;
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{RateLimit, Strategy};
    use crate::server::store::{StoreLocation, StoreOptions};

    fn config() -> ServerConfig {
        ServerConfig {
            store: StoreOptions {
                location: StoreLocation::Memory,
                pool_size: 1,
                timeout: Duration::from_secs(1),
                acquire_timeout: Duration::from_secs(1),
                latency: Duration::ZERO,
            },
            strategy: Strategy::SeedLock,
            rate_limit: RateLimit::Off,
            admin_token: "t".into(),
            instance: 3,
            limits: crate::server::ConnLimits::defaults(),
        }
    }

    #[test]
    fn answers_are_classified_as_flashbench_does() {
        let of = |s: u16, e| outcome_of(StatusCode::from_u16(s).expect("status"), e);
        assert_eq!(of(201, None), Outcome::Won);
        assert_eq!(of(409, Some("sold_out")), Outcome::SoldOut);
        assert_eq!(of(423, Some("busy")), Outcome::Busy);
        assert_eq!(of(400, Some("busy")), Outcome::Busy, "the seed design's busy");
        assert_eq!(of(400, Some("bad_request")), Outcome::Rejected);
        assert_eq!(of(403, Some("limit_reached")), Outcome::Rejected);
        assert_eq!(of(429, Some("rate_limited")), Outcome::RateLimited);
        assert_eq!(of(503, Some("store_unavailable")), Outcome::Error);
    }

    #[test]
    fn renders_the_contract_names() {
        let m = Metrics::new(&config());
        m.order_answered(Outcome::Won, Duration::from_micros(70));
        m.store_round_trip(Duration::from_micros(60));
        m.rate_limited();
        let stock = [ProductStock { id: "p\"1".into(), name: String::new(), stock: 4 }];
        let live = Live { stock: &stock, in_flight: 2, locks: LockStats { acquisitions: 5, expiries: 1 } };
        let text = m.render(&live).expect("render");
        for line in [
            r#"flashbench_server_info{backend="memory",strategy="seed-lock",server_instance="3"} 1"#,
            r#"flashbench_server_orders_total{outcome="won"} 1"#,
            r#"flashbench_server_orders_total{outcome="error"} 0"#,
            r#"flashbench_server_request_duration_seconds_count{outcome="won"} 1"#,
            r#"flashbench_server_request_duration_seconds_bucket{le="0.0001",outcome="won"} 1"#,
            "flashbench_server_store_duration_seconds_count 1",
            "flashbench_server_rate_limited_total 1",
            r#"flashbench_server_stock{product="p\"1"} 4"#,
            "flashbench_server_in_flight_requests 2",
            "flashbench_server_lock_acquisitions_total 5",
            "flashbench_server_lock_expiries_total 1",
            "# TYPE flashbench_server info",
            "# UNIT flashbench_server_request_duration_seconds seconds",
        ] {
            assert!(text.lines().any(|l| l == line), "no line {line} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
