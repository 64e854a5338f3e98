//! The run's figures as Prometheus metrics (`prometheus-client`, OpenMetrics text). The names
//! are a public contract, listed in `deploy/METRICS.md` and the README; every series carries
//! the labels `scenario` and `run`.

use super::{Phase, RunLabels};
use crate::model::Outcome;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;
use std::borrow::Cow;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// The content type of [`RunMetrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Labels = Vec<(String, String)>;

fn label(name: &str, value: &str) -> Labels {
    vec![(name.to_string(), value.to_string())]
}

/// 100 µs to about 13 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 18))
}

/// The run's metrics and the registry that exposes them.
pub struct RunMetrics {
    registry: Registry,
    attempts: Family<Labels, Counter>,
    latency: Family<Labels, Histogram, fn() -> Histogram>,
    pub(super) in_flight: Gauge,
    pub(super) buyers: Gauge,
    pub(super) connected: Gauge,
    pub(super) stock: Family<Labels, Gauge>,
    phase: Family<Labels, Gauge>,
    send_skew: Family<Labels, Gauge<f64, AtomicU64>>,
    finished: Family<Labels, Gauge<f64, AtomicU64>>,
    exit_code: Gauge,
}

impl RunMetrics {
    pub fn new(run: &RunLabels) -> Self {
        let constant = [("scenario", run.scenario.clone()), ("run", run.run.clone())]
            .map(|(k, v)| (Cow::Borrowed(k), Cow::Owned(v)));
        let mut registry = Registry::with_labels(constant.into_iter());
        let m = RunMetrics {
            registry: Registry::default(),
            attempts: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            in_flight: Gauge::default(),
            buyers: Gauge::default(),
            connected: Gauge::default(),
            stock: Family::default(),
            phase: Family::default(),
            send_skew: Family::default(),
            finished: Family::default(),
            exit_code: Gauge::default(),
        };
        // An info metric's name gains `_info`: `flashbench_run_info`.
        registry.register(
            "flashbench_run",
            "What this run drives",
            Info::new(vec![
                ("target".to_string(), run.target.clone()),
                ("backend".to_string(), run.backend.clone()),
                ("strategy".to_string(), run.strategy.clone()),
            ]),
        );
        registry.register(
            "flashbench_run_attempts",
            "Order attempts finished, by outcome as classified from the answer (before truth resolves the indeterminate ones)",
            m.attempts.clone(),
        );
        registry.register(
            "flashbench_run_latency_seconds",
            "Attempt latency, from its intended send to its answer, by outcome",
            m.latency.clone(),
        );
        registry.register("flashbench_run_in_flight", "Attempts sent and not yet answered", m.in_flight.clone());
        registry.register("flashbench_run_buyers", "Buyers in the scenario", m.buyers.clone());
        registry.register("flashbench_run_buyers_connected", "Buyers connected and ready", m.connected.clone());
        registry.register(
            "flashbench_run_stock",
            "Latest stock sample of the harness's stock monitor, by product",
            m.stock.clone(),
        );
        registry.register(
            "flashbench_run_phase",
            "Where the run is: 1 for the current phase, 0 for the others",
            m.phase.clone(),
        );
        registry.register(
            "flashbench_run_send_skew_seconds",
            "Spread of the burst's send instants after the release (quantile 0.5, 0.99, 1 = max)",
            m.send_skew.clone(),
        );
        registry.register(
            "flashbench_run_finished_timestamp_seconds",
            "Unix time at which the run ended, labelled with its verdict (pass, fail, interrupted)",
            m.finished.clone(),
        );
        registry.register(
            "flashbench_run_exit_code",
            "The run's exit code once it ended; -1 while it goes on",
            m.exit_code.clone(),
        );
        for p in Phase::ALL {
            m.phase.get_or_create(&label("phase", p.name())).set(0);
        }
        // Not a pass while the run goes on.
        m.exit_code.set(-1);
        RunMetrics { registry, ..m }
    }

    pub(super) fn set_phase(&self, current: Phase) {
        for p in Phase::ALL {
            self.phase.get_or_create(&label("phase", p.name())).set(i64::from(p == current));
        }
    }

    pub(super) fn attempt(&self, outcome: Outcome, latency: Option<Duration>) {
        let labels = label("outcome", outcome.name());
        self.attempts.get_or_create(&labels).inc();
        if let Some(l) = latency.filter(|_| outcome.was_sent()) {
            self.latency.get_or_create(&labels).observe(l.as_secs_f64());
        }
    }

    pub(super) fn send_skew(&self, p50_us: u64, p99_us: u64, max_us: u64) {
        for (q, us) in [("0.5", p50_us), ("0.99", p99_us), ("1", max_us)] {
            self.send_skew.get_or_create(&label("quantile", q)).set(us as f64 / 1e6);
        }
    }

    pub(super) fn finished(&self, verdict: crate::model::exit::Verdict, exit_code: crate::model::exit::Exit) {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        self.finished.get_or_create(&label("verdict", verdict.name())).set(now.as_secs_f64());
        self.exit_code.set(i64::from(exit_code.code()));
    }

    /// The OpenMetrics text of every series.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// The harness's exposition with every family registered (what the Grafana dashboard may
/// query), for documentation and the dashboard's test.
pub fn exposition_example() -> String {
    let live = super::Live::new(
        RunLabels { scenario: "example".into(), run: "run".into(), ..RunLabels::default() },
        vec![("p1".into(), 5)],
        10,
    );
    live.record(Outcome::Won, Some(Duration::from_millis(3)));
    live.stock_sample(0, 4);
    live.send_skew(10, 20, 30);
    live.finished(crate::model::exit::Verdict::Pass, crate::model::exit::Exit::Pass);
    live.metrics.encode()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_the_contracts_names_with_run_labels() {
        let text = exposition_example();
        for name in [
            "flashbench_run_info{",
            "flashbench_run_attempts_total{",
            "flashbench_run_latency_seconds_bucket{",
            "flashbench_run_in_flight{",
            "flashbench_run_buyers{",
            "flashbench_run_buyers_connected{",
            "flashbench_run_stock{",
            "flashbench_run_phase{",
            "flashbench_run_send_skew_seconds{",
            "flashbench_run_finished_timestamp_seconds{",
            "flashbench_run_exit_code{",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
        let won = text.lines().find(|l| l.starts_with("flashbench_run_attempts_total{")).unwrap_or_default();
        assert!(
            won.contains(r#"outcome="won""#) && won.contains(r#"scenario="example""#) && won.ends_with(" 1"),
            "{won}"
        );
        let done = text.lines().find(|l| l.starts_with("flashbench_run_phase{") && l.contains(r#"phase="done""#));
        assert!(done.is_some_and(|l| l.ends_with(" 1")), "{done:?}");
    }
}
