//! `flashbench serve`: the reference order server on its own, with its arguments.

use crate::model::exit::Exit;
use crate::model::{Backend, RateLimit, Strategy};
use crate::scenario;
use crate::server::store::{Store, StoreLocation, StoreOptions};
use crate::server::{self, ServerConfig};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free port (printed on the first line of stdout).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR")]
    pub listen: SocketAddr,
    /// Where stock and orders live.
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    pub backend: Backend,
    /// The SQLite file (`--backend sqlite`); created when missing.
    #[arg(long, default_value = "flashbench.db", value_name = "FILE")]
    pub sqlite_file: PathBuf,
    /// PostgreSQL (`--backend postgres`).
    #[arg(long, env = "FLASHBENCH_DATABASE_URL", hide_env_values = true, default_value = crate::run::DEFAULT_DATABASE_URL, value_name = "URL", value_parser = parse_postgres_url)]
    pub database_url: String,
    /// The PostgreSQL schema (created and migrated when missing): lower-case letters, digits, _.
    #[arg(long, default_value = "flashbench", value_name = "NAME", value_parser = parse_pg_schema)]
    pub pg_schema: String,
    /// MySQL or MariaDB (`--backend mysql`).
    #[arg(long, env = "FLASHBENCH_MYSQL_URL", hide_env_values = true, default_value = crate::server::store::mysql::DEFAULT_URL, value_name = "URL", value_parser = parse_mysql_url)]
    pub mysql_url: String,
    /// The MySQL database (created and migrated when missing): lower-case letters, digits, _.
    #[arg(long, default_value = "flashbench", value_name = "NAME", value_parser = parse_pg_schema)]
    pub mysql_database: String,
    /// Redis (`--backend redis`).
    #[arg(long, env = "FLASHBENCH_REDIS_URL", hide_env_values = true, default_value = crate::run::DEFAULT_REDIS_URL, value_name = "URL", value_parser = parse_redis_url)]
    pub redis_url: String,
    /// Prefix of every Redis key.
    #[arg(long, default_value = "flashbench", value_name = "PREFIX")]
    pub redis_prefix: String,
    /// Database connections (SQL backends).
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub pool_size: u32,
    /// How orders are taken; defaults to the backend's correct strategy.
    #[arg(long, value_enum)]
    pub strategy: Option<Strategy>,
    /// Per-buyer rate limit: 1000/min (the seed's), 50/s, or off.
    #[arg(long, default_value = "1000/min", value_parser = parse_rate_limit)]
    pub rate_limit: RateLimit,
    /// Bearer token for /admin routes and /metrics; a random one is made (and printed) when absent.
    #[arg(long, env = "FLASHBENCH_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,
    /// Seed these products at start (a scenario or catalogue YAML with `products:`).
    #[arg(long, value_name = "FILE")]
    pub products: Option<PathBuf>,
    /// Latency added to every order's store round trip (a slow disk or a far database), e.g.
    /// 2ms; SQL backends hold one pooled connection while it passes.
    #[arg(long, default_value = "0ms", value_name = "DURATION", value_parser = parse_duration_arg)]
    pub store_latency: crate::scenario::HumanDuration,
    /// How long an order may wait for a pooled connection (SQL backends) before it is
    /// answered 503; `flashbench run` passes the scenario's `request_timeout`.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_duration_arg)]
    pub acquire_timeout: crate::scenario::HumanDuration,
    /// Instance number, unique among instances that share a store (it goes into order ids).
    #[arg(long, default_value_t = 0)]
    pub instance: u32,
    /// How long a client may take to send a request's head, counted from its connection's
    /// opening or its previous answer: idle keep-alive connections close after it.
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = parse_timeout_arg)]
    pub header_timeout: crate::scenario::HumanDuration,
    /// How long a request's body may take once its head has arrived (then 408 and close).
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = parse_timeout_arg)]
    pub body_timeout: crate::scenario::HumanDuration,
    /// Connections served at once; more wait in the listen backlog until one closes [default:
    /// the open-files limit less 256].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
    /// Print only the listening line.
    #[arg(short, long)]
    pub quiet: bool,
    /// Stop when standard input closes (how `flashbench run` ties child servers to itself).
    #[arg(long, hide = true)]
    pub exit_on_stdin_eof: bool,
}

pub(super) fn parse_duration_arg(text: &str) -> Result<crate::scenario::HumanDuration, String> {
    crate::scenario::parse_duration(text).map(crate::scenario::HumanDuration)
}

/// A duration above zero (a zero timeout would close every connection at once).
pub(super) fn parse_timeout_arg(text: &str) -> Result<crate::scenario::HumanDuration, String> {
    match parse_duration_arg(text)? {
        d if d.0.is_zero() => Err("a timeout must be above zero".into()),
        d => Ok(d),
    }
}

/// A URL whose scheme is one of `schemes` (checked before anything connects: a typo is a
/// usage error, exit 2, not a store that failed).
pub(super) fn url_with_scheme(text: &str, schemes: &[&str]) -> Result<String, String> {
    match text.split_once("://") {
        Some((scheme, rest)) if schemes.contains(&scheme) && !rest.is_empty() => Ok(text.to_string()),
        _ => {
            Err(format!("not a URL of {}", schemes.iter().map(|s| format!("{s}://")).collect::<Vec<_>>().join(" or ")))
        }
    }
}

pub(super) fn parse_postgres_url(text: &str) -> Result<String, String> {
    url_with_scheme(text, &["postgres", "postgresql"])
}

pub(super) fn parse_mysql_url(text: &str) -> Result<String, String> {
    url_with_scheme(text, &["mysql", "mariadb"])
}

pub(super) fn parse_redis_url(text: &str) -> Result<String, String> {
    url_with_scheme(text, &["redis", "rediss", "redis+unix", "unix"])
}

pub(super) fn parse_pg_schema(text: &str) -> Result<String, String> {
    match crate::server::store::postgres::valid_schema(text) {
        true => Ok(text.to_string()),
        false => Err("use lower-case letters, digits and _ (at most 63, not starting with a digit)".into()),
    }
}

pub(super) fn parse_rate_limit(text: &str) -> Result<RateLimit, String> {
    text.parse()
}

pub(super) async fn serve_command(args: ServeArgs) -> Exit {
    let strategy = args.strategy.unwrap_or_else(|| args.backend.default_strategy());
    if !args.backend.supports(strategy) {
        crate::note!("error: --strategy {strategy}: {}", args.backend.unsupported_message(strategy));
        return Exit::Usage;
    }
    crate::limits::raise_fd_limit();
    let store = store_of(&args);
    let (admin_token, made_up) = match args.admin_token {
        Some(t) if !t.is_empty() => (t, false),
        _ => (format!("{:032x}", rand::random::<u128>()), true),
    };
    if let Err(e) = Store::prepare(&store).await {
        crate::note!("error: {e}");
        return Exit::Environment;
    }
    let config = ServerConfig {
        store,
        strategy,
        rate_limit: args.rate_limit,
        admin_token: admin_token.clone(),
        instance: args.instance,
        limits: server::ConnLimits {
            header_timeout: args.header_timeout.0,
            body_timeout: args.body_timeout.0,
            max_connections: args.max_connections.map_or_else(server::default_max_connections, |n| n as usize),
        },
    };
    let srv = match server::start(&config, args.listen).await {
        Ok(s) => s,
        Err(e) => {
            crate::note!("error: {e}");
            return Exit::Environment;
        }
    };
    if let Some(file) = &args.products {
        if let Err(code) = seed(file, &srv).await {
            return code;
        }
    }
    crate::outln!("flashbench serve listening on {} (backend {}, strategy {strategy})", srv.url(), args.backend);
    if !args.quiet {
        if made_up {
            crate::note!("admin token: {admin_token}");
        }
        crate::note!("routes: POST /orders, GET /products/{{id}}, GET /healthz, POST /admin/seed, GET /admin/truth, GET /admin/in-flight, GET /metrics (admin routes and metrics need the token); Ctrl-C stops");
    }
    wait_for_the_stop(args.exit_on_stdin_eof).await;
    srv.stop();
    Exit::Pass
}

/// Where the server keeps its data, from the flags.
fn store_of(args: &ServeArgs) -> StoreOptions {
    let location = match args.backend {
        Backend::Memory => StoreLocation::Memory,
        Backend::Sqlite => StoreLocation::Sqlite { file: args.sqlite_file.clone() },
        Backend::Postgres => StoreLocation::Postgres { url: args.database_url.clone(), schema: args.pg_schema.clone() },
        Backend::Redis => StoreLocation::Redis { url: args.redis_url.clone(), prefix: args.redis_prefix.clone() },
        Backend::Mysql => StoreLocation::Mysql { url: args.mysql_url.clone(), database: args.mysql_database.clone() },
    };
    StoreOptions {
        location,
        pool_size: args.pool_size,
        timeout: crate::run::STORE_TIMEOUT,
        acquire_timeout: args.acquire_timeout.0,
        latency: args.store_latency.0,
    }
}

/// Seeds the products of a scenario or catalogue `file`; `Err`: the exit code, the error said.
async fn seed(file: &std::path::Path, srv: &server::RunningServer) -> Result<(), Exit> {
    let products = match scenario::load_products(file) {
        Ok(p) => p,
        Err(e) => {
            crate::note!("error: {e}");
            return Err(Exit::Usage);
        }
    };
    let seed: Vec<_> = products
        .into_iter()
        .map(|p| server::store::SeedProduct { id: p.id, name: p.name, stock: p.stock, limit_per_buyer: 1 })
        .collect();
    if let Err(e) = srv.store.seed(&seed).await {
        crate::note!("error: {e}");
        return Err(Exit::Environment);
    }
    Ok(())
}

/// Until Ctrl-C, or with `--exit-on-stdin-eof` until stdin closes too (the parent is gone).
async fn wait_for_the_stop(exit_on_stdin_eof: bool) {
    if exit_on_stdin_eof {
        let mut stdin = tokio::io::stdin();
        let mut sink = [0u8; 64];
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { while tokio::io::AsyncReadExt::read(&mut stdin, &mut sink).await.is_ok_and(|n| n > 0) {} } => {}
        }
    } else {
        let _ = tokio::signal::ctrl_c().await;
    }
}
