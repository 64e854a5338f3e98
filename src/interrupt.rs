//! Ctrl-C during `flashbench run`: the run in progress has no verdict (exit 130, no
//! `summary.json`), but the data it made on shared servers (its PostgreSQL schema, its Redis
//! keys) is removed before the process exits, within [`CLEANUP_TIMEOUT`]. Runs register
//! their data with [`track`] while it exists.

use crate::server::store::{postgres, Store, StoreLocation, StoreOptions};
use crate::server::Backend;
use std::sync::Mutex;
use std::time::Duration;

/// The longest Ctrl-C waits for the clean-up before it exits anyway.
pub const CLEANUP_TIMEOUT: Duration = Duration::from_secs(5);

static LIVE: Mutex<Vec<(u64, StoreOptions)>> = Mutex::new(Vec::new());

/// Keeps a run's data registered for removal on Ctrl-C until dropped.
#[derive(Debug)]
pub struct Tracked(u64);

impl Drop for Tracked {
    fn drop(&mut self) {
        live().retain(|(id, _)| *id != self.0);
    }
}

fn live() -> std::sync::MutexGuard<'static, Vec<(u64, StoreOptions)>> {
    LIVE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Registers `store`'s data (a PostgreSQL schema or Redis keys) for removal on Ctrl-C.
pub fn track(store: &StoreOptions) -> Tracked {
    let id = rand::random::<u64>();
    live().push((id, store.clone()));
    Tracked(id)
}

/// Installs the Ctrl-C handler of `flashbench run`.
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        eprintln!("\ninterrupted: no verdict, no summary.json written for the scenario in progress");
        let stores: Vec<StoreOptions> = live().iter().map(|(_, s)| s.clone()).collect();
        if !stores.is_empty() {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                rt.block_on(async {
                    match tokio::time::timeout(CLEANUP_TIMEOUT, remove_all(&stores)).await {
                        Ok(()) => {}
                        Err(_) => eprintln!("interrupted: clean-up did not finish within {CLEANUP_TIMEOUT:?}"),
                    }
                });
            }
        }
        std::process::exit(130);
    });
}

async fn remove_all(stores: &[StoreOptions]) {
    for store in stores {
        let result = match &store.location {
            StoreLocation::Postgres { url, schema } => postgres::drop_schema_now(url, schema, store).await,
            StoreLocation::Redis { .. } => match Store::open(Backend::Redis.default_strategy(), 0, store).await {
                Ok(s) => s.cleanup().await,
                Err(e) => Err(e),
            },
            StoreLocation::Memory | StoreLocation::Sqlite { .. } => Ok(()),
        };
        match result {
            Ok(()) => eprintln!("interrupted: removed {}", store.location.describe()),
            Err(e) => eprintln!("interrupted: could not remove {}: {e}", store.location.describe()),
        }
    }
}
