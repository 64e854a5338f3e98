//! Environment failures: an unreachable target ends the run with a clear error, quickly.

use flashbench::harness::{self, HarnessConfig, HarnessError};
use flashbench::scenario::load_str;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[tokio::test]
async fn an_unreachable_target_is_reported_not_hung() {
    // Bind and drop a listener: its port is now closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let text = "name: t\nproducts:\n  - id: p\n    stock: 1\nbuyers:\n  count: 20\narrival:\n  connect_timeout: 5s\nrequest_timeout: 2s\n";
    let scenario = Arc::new(load_str(text, "t.yaml", Path::new(".")).expect("scenario"));
    let started = Instant::now();
    let config = HarnessConfig {
        base_urls: vec![format!("http://127.0.0.1:{port}")],
        show_progress: false,
        deadline: Duration::from_secs(60),
    };
    let err = harness::drive(scenario, &config).await.expect_err("nothing listens there");
    assert!(matches!(err, HarnessError::Unreachable(_)), "{err}");
    assert!(err.to_string().contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
}
