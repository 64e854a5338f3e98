//! What a run is given besides its scenario: the command line's overrides and options, and
//! where the reference server's store lives for the run.

use crate::baseline::Baseline;
use crate::limits::Placement;
use crate::model::baseline::Limit;
use crate::model::{Backend, Strategy};
use crate::scenario::target::TargetKind;
use crate::scenario::{self, Scenario};
use crate::server::store::{mysql, StoreLocation, StoreOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Values from the command line that replace the scenario's.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub backend: Option<Backend>,
    pub strategy: Option<Strategy>,
    pub buyers: Option<u32>,
    pub instances: Option<u32>,
    /// Where the reference server runs; chosen from the socket budget when absent.
    pub placement: Option<Placement>,
}

#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `--out`: one scenario writes here directly, several write `<out>/<name>/`.
    pub out: Option<PathBuf>,
    /// Root of `reports/<scenario>/<timestamp>/` when `out` is not given.
    pub reports_root: PathBuf,
    pub quiet: bool,
    pub overrides: Overrides,
    /// The `flashbench` executable for child servers (tests point it at the built binary).
    pub server_exe: Option<PathBuf>,
    /// `--redis-url` or `FLASHBENCH_REDIS_URL`: wins over the scenario's `server.redis_url`.
    pub redis_url: Option<String>,
    /// `--database-url` or `FLASHBENCH_DATABASE_URL`: wins over `server.database_url`.
    pub database_url: Option<String>,
    /// `--mysql-url` or `FLASHBENCH_MYSQL_URL`: wins over `server.mysql_url`.
    pub mysql_url: Option<String>,
    /// `--pool-size`: wins over `server.pool_size`.
    pub pool_size: Option<u32>,
    /// Leave the run's PostgreSQL schema or Redis keys in place.
    pub keep_data: bool,
    /// `--repeat`: wins over the scenario's `repeat`.
    pub repeat: Option<u32>,
    /// Stop at the first failing repetition or scenario.
    pub fail_fast: bool,
    /// `--baseline`: the previous results to compare with.
    pub baseline: Option<std::sync::Arc<Baseline>>,
    /// `--regression`: limits that win over the scenario's `regression`.
    pub regressions: Vec<Limit>,
    /// `--prometheus-remote-write`: where each run's final figures are pushed when it ends
    /// (the periodic pushes are the caller's).
    pub remote_write: Option<crate::live::remote_write::RemoteWrite>,
    /// `--source-addresses`: the local addresses buyers bind (empty: chosen by the budget).
    pub source_addresses: Vec<std::net::IpAddr>,
    /// `--shard i/N`: this process drives one slice of the buyers and writes a part.
    pub shard: Option<crate::model::ShardSpec>,
    /// How a load past one process's open files is spread over shard processes
    /// (`shard::local`, given by the command line); `None`: such a run is refused.
    pub spread: Option<Arc<dyn super::Spread>>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            out: None,
            reports_root: PathBuf::from("reports"),
            quiet: true,
            overrides: Overrides::default(),
            server_exe: None,
            redis_url: None,
            database_url: None,
            mysql_url: None,
            pool_size: None,
            keep_data: false,
            repeat: None,
            fail_fast: false,
            baseline: None,
            regressions: Vec::new(),
            remote_write: None,
            source_addresses: Vec::new(),
            shard: None,
            spread: None,
        }
    }
}

/// Redis when neither flag, environment nor scenario names one.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// PostgreSQL when neither flag, environment nor scenario names one.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// How long connecting to a store may take before the run ends with exit 4.
pub const STORE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Where this run's data lives: a new SQLite file in the run folder (`orders.db`, or
/// `orders-<tag>.db` when that name is taken: a run never touches a file it did not create),
/// a fresh PostgreSQL schema, or a fresh Redis key prefix.
pub fn store_options(s: &Scenario, dir: &Path, opts: &RunOptions) -> std::io::Result<StoreOptions> {
    let tag = format!("{:08x}", rand::random::<u32>());
    let slug: String =
        s.name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).take(40).collect();
    let location = match s.server.backend {
        Backend::Memory => StoreLocation::Memory,
        Backend::Sqlite => StoreLocation::Sqlite {
            file: crate::folder::claim_file(dir, &["orders.db".to_string(), format!("orders-{tag}.db")])?,
        },
        Backend::Postgres => StoreLocation::Postgres {
            url: opts
                .database_url
                .clone()
                .or_else(|| s.server.database_url.clone())
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            schema: format!("fb_{slug}_{tag}"),
        },
        Backend::Redis => StoreLocation::Redis {
            url: opts
                .redis_url
                .clone()
                .or_else(|| s.server.redis_url.clone())
                .unwrap_or_else(|| DEFAULT_REDIS_URL.into()),
            prefix: format!("flashbench:{slug}:{tag}"),
        },
        Backend::Mysql => StoreLocation::Mysql {
            url: opts
                .mysql_url
                .clone()
                .or_else(|| s.server.mysql_url.clone())
                .unwrap_or_else(|| mysql::DEFAULT_URL.into()),
            database: format!("fb_{slug}_{tag}"),
        },
    };
    let default_pool = if s.server.backend == Backend::Sqlite { 4 } else { 8 };
    Ok(StoreOptions {
        location,
        pool_size: opts.pool_size.or(s.server.pool_size).unwrap_or(default_pool),
        timeout: STORE_TIMEOUT,
        acquire_timeout: s.request_timeout.0.max(STORE_TIMEOUT),
        latency: s.server.store_latency.map_or(std::time::Duration::ZERO, |d| d.0),
    })
}

/// Removes a SQLite store file this run created, with its companions.
pub(super) fn remove_own_store(store: &StoreOptions) {
    if let StoreLocation::Sqlite { file } = &store.location {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    }
}

/// Applies command-line overrides and checks the result.
pub fn apply_overrides(s: &mut Scenario, o: &Overrides) -> Result<(), String> {
    if s.target.kind != TargetKind::Reference {
        let given = [
            ("--backend", o.backend.is_some()),
            ("--strategy", o.strategy.is_some()),
            ("--instances", o.instances.is_some()),
            ("--placement", o.placement.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
            return Err(format!("{flag} applies to the reference server; this scenario's target is `kind: http`"));
        }
    }
    if let Some(b) = o.backend {
        if b != s.server.backend && o.strategy.is_none() {
            s.server.strategy = None;
        }
        s.server.backend = b;
    }
    if let Some(st) = o.strategy {
        if !s.server.backend.supports(st) {
            return Err(format!("--strategy {st}: {}", s.server.backend.unsupported_message(st)));
        }
        s.server.strategy = Some(st);
    }
    if let Some(n) = o.buyers {
        if s.arrival.mode == scenario::ArrivalMode::Rate {
            return Err(format!(
                "--buyers {n}: this scenario's buyers come from its arrival rate (`arrival.mode: rate`); change `rate` or `duration` instead"
            ));
        }
        if n == 0 || n > scenario::MAX_BUYERS {
            return Err(format!("--buyers {n}: expected 1 to {}", scenario::MAX_BUYERS));
        }
        s.buyers.count = n;
    }
    if let Some(n) = o.instances {
        if n == 0 || n > scenario::MAX_INSTANCES {
            return Err(format!("--instances {n}: expected 1 to {}", scenario::MAX_INSTANCES));
        }
        s.server.instances = n;
    }
    Ok(())
}
