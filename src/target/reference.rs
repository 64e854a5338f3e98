//! The `reference` target: the bundled reference server, seeded with the scenario's products, as
//! one or more instances on 127.0.0.1 (in this process, or as `flashbench serve` child
//! processes when one process cannot hold both ends of every buyer's socket).
//!
//! Shared stores (SQLite, PostgreSQL, Redis) are prepared and seeded once by flashbench
//! itself, through a handle of its own that also reads ground truth after the load and
//! removes the run's data at the end. `memory` stores live inside each instance, so they are
//! seeded, and read, one by one (over the admin routes when the instance is a child process).

use super::own_redis::OwnRedis;
use super::{AfterRun, Target, TargetError, AFTER_RUN_TIMEOUT};
use crate::faults::FaultSurface;
use crate::harness::{BuyerConn, Endpoint, Plan};
use crate::limits::Placement;
use crate::model::Liveness;
use crate::model::TargetInfo;
use crate::model::{Truth, TruthReading};
use crate::scenario::{HumanDuration, Scenario, TruthSpec};
use crate::server::store::{SeedProduct, Snapshot, Store, StoreLocation, StoreOptions};
use crate::server::{self, RunningServer, ServerConfig};
use crate::task::BoxFuture;
use crate::truth::{self, Awaited};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a child server may take to start and say where it listens.
const CHILD_START_TIMEOUT: Duration = Duration::from_secs(15);
/// How often the in-flight count is read while waiting for the target to go quiet.
const QUIET_POLL: Duration = Duration::from_millis(10);
/// How long one instance may take to say how many requests it has in flight.
const IN_FLIGHT_TIMEOUT: Duration = Duration::from_secs(2);

/// What the instances said about their order requests in flight.
#[derive(Debug, Default)]
struct InFlight {
    total: usize,
    /// Refused the connection: the process is gone, and its requests with it.
    dead: Vec<String>,
    /// Accepted but did not answer in time: requests may still be running there.
    unanswered: Vec<String>,
}

/// Options that do not come from the scenario.
#[derive(Debug, Clone)]
pub struct TargetOptions {
    pub placement: Placement,
    /// The `flashbench` executable for child servers; defaults to this process's executable.
    pub server_exe: Option<PathBuf>,
    /// Where the store is, and how to connect.
    pub store: StoreOptions,
    /// Leave the run's data (PostgreSQL schema, Redis keys) in place at the end.
    pub keep_data: bool,
    /// `serve` processes per instance (child processes only), all on the instance's store,
    /// when one process cannot hold the instance's share of the buyers' sockets.
    pub workers: u32,
}

enum Running {
    InProcess(Vec<RunningServer>),
    Children { workers: Arc<Workers>, client: reqwest::Client },
}

/// The instances' `serve` processes, shared with the faults that pause, kill and restart them.
struct Workers {
    exe: PathBuf,
    /// Processes per instance: instance `i` is slots `i*W .. (i+1)*W`.
    per_instance: u32,
    slots: tokio::sync::Mutex<Vec<Worker>>,
}

/// One `serve` process: gone (`None`) after a kill until it is restarted.
struct Worker {
    child: Option<Child>,
    config: ServerConfig,
    addr: SocketAddr,
}

impl Workers {
    fn of(&self, instance: u32) -> std::ops::Range<usize> {
        let w = self.per_instance.max(1) as usize;
        instance as usize * w..(instance as usize + 1) * w
    }
}

pub struct ReferenceTarget {
    pub base_urls: Vec<String>,
    pub placement: Placement,
    /// What the summary says about it.
    info: TargetInfo,
    admin_token: String,
    running: Running,
    /// flashbench's own handle on a shared store: seeding, ground truth, clean-up.
    shared: Option<Store>,
    /// Where the store is (what store faults act on).
    store: StoreLocation,
    /// The Redis server started for this run alone (`server.own_redis`).
    own_redis: Option<Arc<OwnRedis>>,
    keep_data: bool,
    /// The product the after-run probe reads.
    alive_product: String,
    /// The run's data, registered for removal should the run be interrupted.
    _tracked: Option<crate::interrupt::Tracked>,
}

fn seed_products(s: &Scenario) -> Vec<SeedProduct> {
    s.products
        .iter()
        .map(|p| SeedProduct {
            id: p.id.clone(),
            name: p.name.clone(),
            stock: p.stock,
            limit_per_buyer: s.buyers.limit,
        })
        .collect()
}

/// What the summary says about a reference target.
pub fn info(s: &Scenario, placement: Placement, workers: u32, store: &StoreOptions) -> TargetInfo {
    TargetInfo {
        kind: "reference".into(),
        backend: s.server.backend.to_string(),
        strategy: s.server.strategy().to_string(),
        instances: s.server.instances,
        placement: match workers {
            0 | 1 => placement.to_string(),
            w => format!("{placement}, {w} per instance"),
        },
        rate_limit: s.server.rate_limit.to_string(),
        store: store.location.describe(),
        urls: Vec::new(),
        after_run: None,
        store_version: None,
        source_addresses: Vec::new(),
    }
}

/// The limits of a server `run` starts: a burst's prepared requests wait for their last byte
/// until the release, and a stream's connections wait idle for their arrival, so a body or an
/// idle connection may last as long as the run itself.
fn run_limits(s: &Scenario) -> server::ConnLimits {
    let run = crate::harness::run_deadline(s);
    server::ConnLimits {
        header_timeout: run.max(server::ConnLimits::DEFAULT_HEADER_TIMEOUT),
        body_timeout: run.max(server::ConnLimits::DEFAULT_BODY_TIMEOUT),
        ..server::ConnLimits::defaults()
    }
}

fn random_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

impl ReferenceTarget {
    /// Prepares the store and starts and seeds `scenario.server.instances` instances.
    pub async fn start(s: &Scenario, opts: &TargetOptions) -> Result<ReferenceTarget, TargetError> {
        let own_redis = match s.server.own_redis {
            Some(spec) if s.server.backend == crate::model::Backend::Redis => {
                Some(Arc::new(OwnRedis::start(spec.persistence, opts.keep_data).await.map_err(TargetError::Start)?))
            }
            _ => None,
        };
        let mut opts = opts.clone();
        if let (Some(own), StoreLocation::Redis { url, .. }) = (&own_redis, &mut opts.store.location) {
            *url = own.url();
        }
        let started = Self::start_on(s, &opts, own_redis.clone()).await;
        if started.is_err() {
            if let Some(own) = own_redis {
                own.stop().await;
            }
        }
        started
    }

    async fn start_on(
        s: &Scenario,
        opts: &TargetOptions,
        own_redis: Option<Arc<OwnRedis>>,
    ) -> Result<ReferenceTarget, TargetError> {
        let admin_token = random_token();
        let strategy = s.server.strategy();
        let configs: Vec<ServerConfig> = (0..s.server.instances)
            .map(|instance| ServerConfig {
                store: opts.store.clone(),
                strategy,
                rate_limit: s.server.rate_limit,
                admin_token: admin_token.clone(),
                instance,
                limits: run_limits(s),
            })
            .collect();
        let products = seed_products(s);
        let tracked = (!opts.keep_data).then(|| crate::interrupt::track(&opts.store));
        let shared = if s.server.backend.shares_store() {
            Store::prepare(&opts.store).await.map_err(|e| TargetError::Start(e.to_string()))?;
            let store = Store::open(strategy, 0, &opts.store).await.map_err(|e| TargetError::Start(e.to_string()))?;
            store.seed(&products).await.map_err(|e| TargetError::Seed(e.to_string()))?;
            Some(store)
        } else {
            None
        };
        let (base_urls, running, workers) = match opts.placement {
            Placement::InProcess => start_in_process(&configs).await?,
            Placement::ChildProcesses => start_children(opts, &configs).await?,
        };
        let mut target = ReferenceTarget {
            base_urls,
            placement: opts.placement,
            info: info(s, opts.placement, workers, &opts.store),
            admin_token,
            running,
            shared,
            store: opts.store.location.clone(),
            own_redis: own_redis.clone(),
            keep_data: opts.keep_data,
            alive_product: s.products.first().map(|p| p.id.clone()).unwrap_or_default(),
            _tracked: tracked,
        };
        if let Some(store) = &target.shared {
            target.info.store_version = store.version().await;
        }
        if let Some(own) = &target.own_redis {
            target.info.store = format!("{} ({})", target.info.store, own.describe());
        }
        if target.shared.is_none() {
            if let Err(e) = target.seed_instances(&products).await {
                target.shut_down().await;
                return Err(e);
            }
        }
        Ok(target)
    }

    /// Seeds every instance's own store (`memory`).
    async fn seed_instances(&mut self, products: &[SeedProduct]) -> Result<(), TargetError> {
        match &self.running {
            Running::InProcess(servers) => {
                for srv in servers {
                    srv.store.seed(products).await.map_err(|e| TargetError::Seed(e.to_string()))?;
                }
            }
            Running::Children { client, .. } => {
                for url in &self.base_urls {
                    client
                        .post(format!("{url}/admin/seed"))
                        .bearer_auth(&self.admin_token)
                        .json(&serde_json::json!({ "products": products }))
                        .send()
                        .await
                        .and_then(|r| r.error_for_status())
                        .map_err(|e| TargetError::Seed(format!("{url}: {e}")))?;
                }
            }
        }
        Ok(())
    }

    /// Order requests in flight at every instance, summed. An instance that refuses the
    /// connection has died and has none (it is named in `dead`); one that accepts but does
    /// not answer (paused, overloaded) may still have some (`unanswered`).
    async fn in_flight(&self) -> InFlight {
        let mut out = InFlight::default();
        match &self.running {
            Running::InProcess(servers) => out.total = servers.iter().map(RunningServer::in_flight).sum(),
            Running::Children { client, .. } => {
                for url in &self.base_urls {
                    let answer = client
                        .get(format!("{url}/admin/in-flight"))
                        .bearer_auth(&self.admin_token)
                        .timeout(IN_FLIGHT_TIMEOUT)
                        .send()
                        .await;
                    let n = match answer {
                        Ok(r) => r.json::<serde_json::Value>().await.ok().and_then(|v| v["in_flight"].as_u64()),
                        Err(e) if e.is_connect() => {
                            out.dead.push(url.clone());
                            continue;
                        }
                        Err(_) => None,
                    };
                    match n {
                        Some(n) => out.total += n as usize,
                        None => out.unanswered.push(url.clone()),
                    }
                }
            }
        }
        out
    }

    /// Ground truth once the load is over: waits until no order request is in flight at any
    /// instance, then reads every store; when `unsettled_possible` (some attempt ended without
    /// an answer, so the store may still change: a command queued in a paused Redis, a handler
    /// still running for a buyer who gave up) reads again `spec.settle` later until two reads
    /// agree. Everything within `spec.max_wait`; past it, the last read is returned and the
    /// reading says it had not settled.
    async fn settled_truth(&self, s: &Scenario, unsettled_possible: bool) -> Result<Truth, TargetError> {
        let spec: &TruthSpec = &s.truth;
        let started = Instant::now();
        let give_up = started + spec.max_wait.0;
        let mut reading = TruthReading::default();
        loop {
            let now = self.in_flight().await;
            if now.total == 0 && now.unanswered.is_empty() {
                reading.quiet = true;
                if !now.dead.is_empty() {
                    reading.notes.push(format!("not answering after the load: {}", now.dead.join(", ")));
                }
                break;
            }
            if Instant::now() >= give_up {
                reading.notes.push(format!(
                    "{} order request(s) still in flight after {:?}{}",
                    now.total,
                    spec.max_wait.0,
                    if now.unanswered.is_empty() {
                        String::new()
                    } else {
                        format!(", and no answer from {}", now.unanswered.join(", "))
                    }
                ));
                break;
            }
            tokio::time::sleep(QUIET_POLL).await;
        }
        let left =
            TruthSpec { max_wait: HumanDuration(give_up.saturating_duration_since(Instant::now())), ..spec.clone() };
        let (snaps, reads, agreed) =
            truth::settle(&left, spec.settle.0, unsettled_possible || !reading.quiet, |_| false, || self.snapshots())
                .await?;
        reading.reads = reads;
        if !agreed {
            reading.notes.push(format!(
                "the store was still changing after {:?} ({reads} reads {:?} apart)",
                spec.max_wait.0, spec.settle.0
            ));
        }
        // Requests still running may yet change it, however still it looked.
        reading.settled = agreed && reading.quiet;
        reading.waited_ms = started.elapsed().as_millis() as u64;
        Ok(Truth::from_snapshots(s, &snaps, reading))
    }

    /// The real state of every independent store: one snapshot of a shared store, or one per
    /// `memory` instance.
    pub async fn snapshots(&self) -> Result<Vec<Snapshot>, TargetError> {
        if let Some(store) = &self.shared {
            return Ok(vec![store.snapshot().await.map_err(|e| TargetError::Truth(e.to_string()))?]);
        }
        let mut out = Vec::new();
        match &self.running {
            Running::InProcess(servers) => {
                for srv in servers {
                    out.push(srv.store.snapshot().await.map_err(|e| TargetError::Truth(e.to_string()))?);
                }
            }
            Running::Children { client, .. } => {
                for url in &self.base_urls {
                    let snap = client
                        .get(format!("{url}/admin/truth"))
                        .bearer_auth(&self.admin_token)
                        .send()
                        .await
                        .and_then(|r| r.error_for_status())
                        .map_err(|e| TargetError::Truth(format!("{url}: {e}")))?
                        .json::<Snapshot>()
                        .await
                        .map_err(|e| TargetError::Truth(format!("{url}: {e}")))?;
                    out.push(snap);
                }
            }
        }
        Ok(out)
    }

    /// Stops every instance and, unless kept, removes the run's data from a shared server.
    async fn shut_down(self) {
        match self.running {
            Running::InProcess(servers) => servers.iter().for_each(RunningServer::stop),
            Running::Children { workers, .. } => {
                for w in workers.slots.lock().await.iter_mut() {
                    if let Some(child) = w.child.as_mut() {
                        let _ = child.kill().await;
                    }
                }
            }
        }
        if let Some(store) = &self.shared {
            if !self.keep_data {
                if let Err(e) = store.cleanup().await {
                    log::warn!("could not remove the run's data: {e}");
                }
            }
            store.close().await;
        }
        if let Some(own) = &self.own_redis {
            own.stop().await;
        }
    }
}

impl Target for ReferenceTarget {
    /// The instances' addresses and the reference API.
    fn plan(&self) -> Plan {
        let endpoints = self
            .base_urls
            .iter()
            .filter_map(|u| u.trim_start_matches("http://").trim_end_matches('/').parse().ok())
            .map(Endpoint::at)
            .collect();
        Plan::reference(endpoints)
    }

    fn describe(&self) -> TargetInfo {
        self.info.clone()
    }

    fn read_truth<'a>(&'a self, s: &'a Scenario, awaited: &'a Awaited) -> BoxFuture<'a, Result<Truth, TargetError>> {
        Box::pin(self.settled_truth(s, awaited.unsettled_possible))
    }

    /// `GET /healthz` on every instance answers.
    fn after_run(&self) -> BoxFuture<'_, AfterRun> {
        Box::pin(async move {
            let mut last = AfterRun::of("no instance", Err("the target has no instance".into()));
            for (i, endpoint) in self.plan().endpoints.iter().enumerate() {
                // A product read goes through the store: a server whose store hangs does not answer it.
                let path = format!("/products/{}", self.alive_product);
                let mut conn = BuyerConn::to(endpoint);
                let read = crate::harness::request_bytes("GET", &path, &endpoint.host, b"");
                let answer = conn.send(&read, AFTER_RUN_TIMEOUT).await;
                last = AfterRun::of(
                    &format!("GET {path} on instance {i}"),
                    answer.map(|a| a.status).map_err(|e| e.to_string()),
                );
                if last.liveness == Liveness::Unresponsive {
                    return last;
                }
            }
            last
        })
    }

    fn stop(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(self.shut_down())
    }

    fn server_memory(&self) -> Option<(u64, u64)> {
        let Running::Children { workers, .. } = &self.running else { return None };
        // Busy only while a fault kills or restarts an instance: no figure then.
        let slots = workers.slots.try_lock().ok()?;
        let each: Option<Vec<(u64, u64)>> = slots
            .iter()
            .map(|w| w.child.as_ref().and_then(Child::id).and_then(|pid| crate::resources::memory_of(Some(pid))))
            .collect();
        each.map(|v| v.iter().fold((0, 0), |(r, h), (r2, h2)| (r + r2, h + h2)))
    }

    fn fault_surface(&self) -> Option<Arc<dyn FaultSurface>> {
        let workers = match &self.running {
            Running::Children { workers, .. } => Some(workers.clone()),
            Running::InProcess(_) => None,
        };
        let client = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(10)).build().ok()?;
        Some(Arc::new(ReferenceFaults {
            workers,
            base_urls: self.base_urls.clone(),
            admin_token: self.admin_token.clone(),
            client,
            store: self.store.clone(),
            own_redis: self.own_redis.clone(),
        }))
    }
}

/// The instances as servers of this process: their URLs, how they run, 1 worker each.
async fn start_in_process(configs: &[ServerConfig]) -> Result<(Vec<String>, Running, u32), TargetError> {
    let mut servers = Vec::new();
    for c in configs {
        let srv = server::start(c, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .map_err(|e| TargetError::Start(e.to_string()))?;
        servers.push(srv);
    }
    Ok((servers.iter().map(RunningServer::url).collect(), Running::InProcess(servers), 1))
}

/// The instances as `flashbench serve` child processes, `opts.workers` per instance: their
/// URLs, how they run, the workers per instance.
async fn start_children(
    opts: &TargetOptions,
    configs: &[ServerConfig],
) -> Result<(Vec<String>, Running, u32), TargetError> {
    let exe = match &opts.server_exe {
        Some(p) => p.clone(),
        None => std::env::current_exe().map_err(|e| TargetError::Start(format!("cannot find own executable: {e}")))?,
    };
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| TargetError::Start(e.to_string()))?;
    let mut slots = Vec::new();
    let mut base_urls = Vec::new();
    // Each worker of an instance is a process of its own, numbered apart from every other
    // process on the store.
    let workers = opts.workers.max(1);
    for c in configs {
        for w in 0..workers {
            let config = ServerConfig { instance: c.instance * workers + w, ..c.clone() };
            let any_port = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
            let (child, addr) = spawn_child(&exe, &config, any_port).await?;
            slots.push(Worker { child: Some(child), config, addr });
            base_urls.push(format!("http://{addr}"));
        }
    }
    let per_instance = workers;
    let workers = Arc::new(Workers { exe, per_instance, slots: tokio::sync::Mutex::new(slots) });
    Ok((base_urls, Running::Children { workers, client }, opts.workers))
}

/// What faults act on in a reference target: its processes, its instances' admin routes and
/// its store.
struct ReferenceFaults {
    workers: Option<Arc<Workers>>,
    base_urls: Vec<String>,
    admin_token: String,
    client: reqwest::Client,
    store: StoreLocation,
    own_redis: Option<Arc<OwnRedis>>,
}

impl ReferenceFaults {
    fn own_redis(&self) -> Result<&OwnRedis, String> {
        self.own_redis.as_deref().ok_or_else(|| "the run has no Redis of its own (`server.own_redis`)".to_string())
    }

    fn workers(&self) -> Result<&Workers, String> {
        self.workers.as_deref().ok_or_else(|| "the instances run inside flashbench's own process".to_string())
    }
}

impl FaultSurface for ReferenceFaults {
    fn pids(&self, instance: u32) -> BoxFuture<'_, Result<Vec<u32>, String>> {
        Box::pin(async move {
            let workers = self.workers()?;
            let slots = workers.slots.lock().await;
            let pids: Vec<u32> = slots
                .get(workers.of(instance))
                .unwrap_or_default()
                .iter()
                .filter_map(|w| w.child.as_ref()?.id())
                .collect();
            match pids.is_empty() {
                true => Err(format!("instance {instance} has no running process")),
                false => Ok(pids),
            }
        })
    }

    fn kill(&self, instance: u32) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let workers = self.workers()?;
            let mut slots = workers.slots.lock().await;
            let range = workers.of(instance);
            let Some(slots) = slots.get_mut(range) else { return Err(format!("no instance {instance}")) };
            for w in slots {
                if let Some(mut child) = w.child.take() {
                    child.kill().await.map_err(|e| format!("cannot kill instance {instance}: {e}"))?;
                }
            }
            Ok(())
        })
    }

    fn restart(&self, instance: u32) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let workers = self.workers()?;
            let mut slots = workers.slots.lock().await;
            let range = workers.of(instance);
            let Some(slots) = slots.get_mut(range) else { return Err(format!("no instance {instance}")) };
            for w in slots.iter_mut().filter(|w| w.child.is_none()) {
                let (child, _) = spawn_child(&workers.exe, &w.config, w.addr)
                    .await
                    .map_err(|e| format!("cannot restart instance {instance}: {e}"))?;
                w.child = Some(child);
            }
            Ok(())
        })
    }

    fn set_store_latency(&self, latency: Duration) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            for url in &self.base_urls {
                let answer = self
                    .client
                    .put(format!("{url}/admin/store-latency"))
                    .bearer_auth(&self.admin_token)
                    .json(&serde_json::json!({ "latency_us": latency.as_micros() as u64 }))
                    .send()
                    .await
                    .map_err(|e| format!("{url}: {e}"))?;
                if !answer.status().is_success() {
                    return Err(format!("{url}/admin/store-latency answered {}", answer.status()));
                }
            }
            Ok(())
        })
    }

    fn store(&self) -> StoreLocation {
        self.store.clone()
    }

    fn store_server(&self) -> BoxFuture<'_, Option<(String, Option<u32>)>> {
        Box::pin(async move {
            let own = self.own_redis.as_deref()?;
            Some((own.describe(), own.pid().await))
        })
    }

    fn kill_store(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.own_redis()?.kill().await })
    }

    fn restart_store(&self) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move { self.own_redis()?.restart().await })
    }
}

/// The `serve` arguments that point a child at the same store, and its environment: store
/// URLs go there, not on the command line, where `ps` would show their passwords.
fn store_args(store: &StoreOptions) -> (Vec<String>, Vec<(&'static str, String)>) {
    let mut args = vec![
        "--pool-size".to_string(),
        store.pool_size.to_string(),
        "--acquire-timeout".to_string(),
        format!("{}ms", store.acquire_timeout.as_millis()),
    ];
    let mut env = Vec::new();
    if !store.latency.is_zero() {
        args.extend(["--store-latency".into(), format!("{}us", store.latency.as_micros())]);
    }
    store.location.child_args(&mut args, &mut env);
    (args, env)
}

/// The `serve` arguments that carry `limits`.
fn limit_args(limits: &server::ConnLimits) -> Vec<String> {
    vec![
        "--header-timeout".into(),
        format!("{}ms", limits.header_timeout.as_millis()),
        "--body-timeout".into(),
        format!("{}ms", limits.body_timeout.as_millis()),
        "--max-connections".into(),
        limits.max_connections.to_string(),
    ]
}

/// Starts one `serve` child on `listen` (port 0: any) and returns it with its address.
async fn spawn_child(
    exe: &std::path::Path,
    c: &ServerConfig,
    listen: SocketAddr,
) -> Result<(Child, SocketAddr), TargetError> {
    let (store_args, store_env) = store_args(&c.store);
    let mut command = Command::new(exe);
    // A child frozen by `pause_instance` cannot see its stdin close: should flashbench die at
    // that moment (SIGKILL, a second Ctrl-C), the kernel kills it.
    super::dies_with_flashbench(&mut command);
    let mut child = command
        .args(["serve", "--listen", &listen.to_string(), "--quiet", "--exit-on-stdin-eof"])
        .args(["--backend", c.backend().name(), "--strategy", c.strategy.name()])
        .args(["--rate-limit", &c.rate_limit.to_string(), "--instance", &c.instance.to_string()])
        .args(store_args)
        .args(limit_args(&c.limits))
        .envs(store_env)
        .env("FLASHBENCH_ADMIN_TOKEN", &c.admin_token)
        // Our end of this pipe closes when we exit, however we exit; the child then stops.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| TargetError::Start(format!("cannot run {} serve: {e}", exe.display())))?;
    let stdout = child.stdout.take().ok_or_else(|| TargetError::Start("child has no stdout".into()))?;
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(CHILD_START_TIMEOUT, lines.next_line()).await;
    let line = match first {
        Ok(Ok(Some(line))) => line,
        Ok(Ok(None)) | Ok(Err(_)) => {
            return Err(TargetError::Start(format!("{} serve exited before listening", exe.display())))
        }
        Err(_) => {
            return Err(TargetError::Start(format!(
                "{} serve did not start within {CHILD_START_TIMEOUT:?}",
                exe.display()
            )))
        }
    };
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://")?.trim_end_matches('/').parse::<SocketAddr>().ok())
        .ok_or_else(|| TargetError::Start(format!("unexpected first line from serve: {line:?}")))?;
    // Keep draining stdout so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((child, addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn child_servers_get_store_urls_through_the_environment_not_argv() {
        for location in [
            StoreLocation::Postgres { url: "postgres://app:s3cr@t@db/shop".into(), schema: "fb_1".into() },
            StoreLocation::Redis { url: "redis://:s3cr@t@cache:6379".into(), prefix: "fb:1".into() },
        ] {
            let store = StoreOptions {
                location,
                pool_size: 4,
                timeout: Duration::from_secs(1),
                acquire_timeout: Duration::from_secs(1),
                latency: Duration::ZERO,
            };
            let (args, env) = store_args(&store);
            assert!(args.iter().all(|a| !a.contains("s3cr")), "{args:?}");
            assert!(env.iter().any(|(_, v)| v.contains("s3cr@t")), "{env:?}");
        }
    }
}
