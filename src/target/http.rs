//! The `http` target: a server of the user's own, already running. Its requests come from the
//! scenario's templates and its answers are read by the scenario's outcome rules; its ground
//! truth comes from the source the scenario names (SQL, Redis, or the server itself); the
//! setup steps (reset the stock) run before the load, and before every repetition.

use super::compile::{self, BaseUrl};
use super::{AfterRun, Target, TargetError, AFTER_RUN_TIMEOUT};
use crate::harness::plan::new_run_tag;
use crate::harness::template::{RequestTemplate, Template, Vars};
use crate::harness::{BuyerConn, Plan, StockProbe};
use crate::model::TargetInfo;
use crate::model::{Truth, TruthReading};
use crate::scenario::target::{expand_env, SetupStep};
use crate::scenario::{Scenario, Seg};
use crate::server::store::redact;
use crate::task::BoxFuture;
use crate::truth::redis::RedisSource;
use crate::truth::sql::SqlSource;
use crate::truth::{self, Awaited, Reading};
use std::time::{Duration, Instant};

/// How long a setup request or command may take.
const SETUP_TIMEOUT: Duration = Duration::from_secs(30);

enum Source {
    Sql(SqlSource),
    Redis(RedisSource),
    Http(StockProbe),
}

pub struct HttpTarget {
    plan: Plan,
    source: Source,
    /// Where truth comes from, for people.
    truth_from: String,
    urls: Vec<String>,
    /// What the after-run probe sends, and the product it names.
    alive: RequestTemplate,
    alive_product: String,
}

fn at(e: compile::Problem) -> String {
    let path: Vec<String> = e
        .path
        .iter()
        .map(|s| match s {
            Seg::Key(k) => k.to_string(),
            Seg::Index(i) => format!("[{i}]"),
        })
        .collect();
    format!("{}: {}", path.join(".").replace(".[", "["), e.message)
}

impl HttpTarget {
    /// Resolves the URLs, connects to the truth source and runs the setup steps.
    pub async fn start(s: &Scenario) -> Result<HttpTarget, TargetError> {
        let target = HttpTarget::connect(s).await?;
        target.run_setup(s).await?;
        Ok(target)
    }

    /// What buyers need from the scenario alone (resolved URLs, requests, outcome rules), with
    /// a fresh run tag; no truth source, no setup. `flashbench shard` children start here.
    pub fn plan_of(s: &Scenario) -> Result<Plan, TargetError> {
        let t = &s.target;
        let spec = t.order.as_ref().ok_or_else(|| TargetError::Start("an http target needs `order`".into()))?;
        let mut endpoints = Vec::new();
        for u in &t.urls {
            let base = BaseUrl::parse(u).map_err(TargetError::Unreachable)?;
            endpoints.push(base.resolve(t.insecure).map_err(TargetError::Unreachable)?);
        }
        let order = compile::order(spec, &t.headers).map_err(|e| TargetError::Start(at(e)))?;
        let classifier = compile::classifier(spec).map_err(|e| TargetError::Start(at(e)))?;
        let status = compile::status(spec, &t.headers).map_err(|e| TargetError::Start(at(e)))?;
        let warmup = compile::warmup(t).map_err(|e| TargetError::Start(at(e)))?;
        let auth = compile::auth(t).map_err(|e| TargetError::Start(at(e)))?;
        let stock = t
            .stock
            .as_ref()
            .map(|st| compile::stock(st, &t.headers, &[Seg::Key("target"), Seg::Key("stock")]))
            .transpose()
            .map_err(|e| TargetError::Start(at(e)))?;
        Ok(Plan { endpoints, auth, order, status, warmup, classifier, stock, run: new_run_tag(), sources: Vec::new() })
    }

    /// Resolves the URLs and connects to the truth source, touching nothing (no setup).
    pub async fn connect(s: &Scenario) -> Result<HttpTarget, TargetError> {
        let t = &s.target;
        let plan = HttpTarget::plan_of(s)?;
        let (source, truth_from) = if let Some(sql) = &s.truth.sql {
            let source = SqlSource::connect(sql).await.map_err(TargetError::Truth)?;
            let what = if sql.orders.is_some() { "stock and orders" } else { "stock only" };
            (Source::Sql(source), format!("sql {} ({what})", redact(&expand_env(&sql.url).unwrap_or_default())))
        } else if let Some(r) = &s.truth.redis {
            let source = RedisSource::connect(r, s).await.map_err(TargetError::Truth)?;
            (
                Source::Redis(source),
                format!("redis {} keys {} (stock only)", redact(&expand_env(&r.url).unwrap_or_default()), r.stock.key),
            )
        } else if let Some(h) = &s.truth.http {
            let probe = compile::stock(&h.stock, &t.headers, &[Seg::Key("truth"), Seg::Key("http")])
                .map_err(|e| TargetError::Start(at(e)))?;
            (Source::Http(probe), format!("the server's own answers, {} (stock only; least trusted)", h.stock.path))
        } else {
            return Err(TargetError::Start("an http target needs truth.sql, truth.redis or truth.http".into()));
        };
        // A request that reads the store through the server: the stock probe, else a GET of
        // the order path. Never the warm-up alone: a health route need not touch the store.
        let alive = plan.stock.as_ref().map(|probe| probe.request.clone()).unwrap_or_else(|| RequestTemplate {
            method: "GET".into(),
            path: plan.order.path.clone(),
            headers: plan.order.headers.clone(),
            body: None,
        });
        let target = HttpTarget {
            plan,
            source,
            truth_from,
            urls: t.urls.iter().map(|u| expand_env(u).unwrap_or_else(|_| u.clone())).collect(),
            alive,
            alive_product: s.products.first().map(|p| p.id.clone()).unwrap_or_default(),
        };
        Ok(target)
    }

    /// Where truth comes from, for people.
    pub fn truth_from(&self) -> &str {
        &self.truth_from
    }

    /// The setup steps, in order; a step naming `{product}` or `{stock}` once per product.
    async fn run_setup(&self, s: &Scenario) -> Result<(), TargetError> {
        let t = &s.target;
        for (i, spec) in t.setup.iter().enumerate() {
            let fail = |e: String| TargetError::Setup(format!("target.setup[{i}]: {e}"));
            let step = spec.step().map_err(fail)?;
            let per_product = match &step {
                SetupStep::Http(r) => {
                    let req = compile::setup_request(r, &t.headers, i).map_err(|e| fail(at(e)))?;
                    req.uses(crate::harness::template::Var::Product) || req.uses(crate::harness::template::Var::Stock)
                }
                SetupStep::Sql(text) => names_product(text),
                SetupStep::Redis(args) | SetupStep::Command(args) => args.iter().any(|a| names_product(a)),
            };
            let products: Vec<Option<&crate::scenario::Product>> =
                if per_product { s.products.iter().map(Some).collect() } else { vec![None] };
            for p in products {
                let vars = Vars {
                    product: p.map_or("", |p| p.id.as_str()),
                    stock: p.map_or(0, |p| p.stock),
                    quantity: s.buyers.quantity,
                    run: &self.plan.run,
                    ..Vars::default()
                };
                self.run_step(s, i, &step, &vars).await.map_err(fail)?;
            }
        }
        Ok(())
    }

    async fn run_step(&self, s: &Scenario, i: usize, step: &SetupStep, vars: &Vars<'_>) -> Result<(), String> {
        let render = |text: &str| -> Result<String, String> { Ok(Template::parse(&expand_env(text)?)?.render(vars)) };
        match step {
            SetupStep::Http(r) => {
                let req = compile::setup_request(r, &s.target.headers, i).map_err(at)?;
                let endpoint = &self.plan.endpoints[0];
                let mut conn = BuyerConn::to(endpoint);
                let answer =
                    conn.send(&req.bytes(&endpoint.host, vars), SETUP_TIMEOUT).await.map_err(|e| e.to_string())?;
                if !(200..300).contains(&answer.status) {
                    return Err(format!(
                        "{} {}{} answered {}: {}",
                        req.method,
                        endpoint.url,
                        req.path.render_path(vars),
                        answer.status,
                        crate::harness::classify::start_of(&String::from_utf8_lossy(&answer.body))
                    ));
                }
                Ok(())
            }
            SetupStep::Sql(text) => match &self.source {
                Source::Sql(sql) => sql.execute(&render(text)?).await,
                _ => Err("an sql step needs truth.sql".into()),
            },
            SetupStep::Redis(args) => match &self.source {
                Source::Redis(redis) => {
                    let args = args.iter().map(|a| render(a)).collect::<Result<Vec<_>, _>>()?;
                    redis.execute(&args).await
                }
                _ => Err("a redis step needs truth.redis".into()),
            },
            SetupStep::Command(args) => {
                let args = args.iter().map(|a| render(a)).collect::<Result<Vec<_>, _>>()?;
                let run = tokio::process::Command::new(&args[0]).args(&args[1..]).kill_on_drop(true).output();
                let out = tokio::time::timeout(SETUP_TIMEOUT, run)
                    .await
                    .map_err(|_| format!("{} did not finish within {SETUP_TIMEOUT:?}", args[0]))?
                    .map_err(|e| format!("cannot run {}: {e}", args[0]))?;
                if out.status.success() {
                    Ok(())
                } else {
                    let stderr = String::from_utf8_lossy(&out.stderr);
                    Err(format!("{} exited with {}: {}", args.join(" "), out.status, stderr.trim()))
                }
            }
        }
    }

    /// One reading of the truth source.
    pub async fn read_once(&self, s: &Scenario) -> Result<Reading, String> {
        match &self.source {
            Source::Sql(sql) => sql.read().await,
            Source::Redis(redis) => redis.read().await,
            Source::Http(probe) => truth::http::read(s, &self.plan.endpoints[0], probe).await,
        }
    }
}

/// Does a setup text name a product-specific placeholder?
fn names_product(text: &str) -> bool {
    Template::parse(text)
        .is_ok_and(|t| t.uses(crate::harness::template::Var::Product) || t.uses(crate::harness::template::Var::Stock))
}

impl Target for HttpTarget {
    fn plan(&self) -> Plan {
        self.plan.clone()
    }

    fn describe(&self) -> TargetInfo {
        TargetInfo {
            kind: "http".into(),
            backend: String::new(),
            strategy: String::new(),
            instances: self.plan.endpoints.len() as u32,
            placement: "external".into(),
            rate_limit: String::new(),
            store: self.truth_from.clone(),
            urls: self.urls.clone(),
            after_run: None,
            store_version: None,
            source_addresses: Vec::new(),
        }
    }

    fn read_truth<'a>(&'a self, s: &'a Scenario, awaited: &'a Awaited) -> BoxFuture<'a, Result<Truth, TargetError>> {
        Box::pin(async move {
            let started = Instant::now();
            // An http target's requests in flight cannot be seen: always read until two
            // readings far enough apart agree (`truth.settle`, or twice the longest gap between
            // two commits seen during the run, when longer).
            let interval = awaited.interval(&s.truth);
            let (reading, reads, settled) =
                truth::settle(&s.truth, interval, true, |r| awaited.draining(r), || self.read_once(s))
                    .await
                    .map_err(TargetError::Truth)?;
            let mut notes = vec![format!(
                "requests still running at an http target cannot be seen, so truth was read until two reads {interval:?} apart agreed{}",
                if interval > s.truth.settle.0 {
                    format!(" (twice the longest gap between two commits during the run, above truth.settle {:?})", s.truth.settle.0)
                } else {
                    String::new()
                }
            )];
            if interval > s.truth.max_wait.0 {
                notes.push(format!(
                    "commits were up to {:?} apart during the run, so truth needs {interval:?} of quiet, more than \
                     truth.max_wait {:?}: still selling? raise truth.max_wait",
                    interval / 2,
                    s.truth.max_wait.0
                ));
            }
            if !awaited.queued.is_empty() {
                notes.push(match awaited.draining(&reading) {
                    true => format!(
                        "queued orders were still missing from the store after {:?}, with stock left for them",
                        s.truth.max_wait.0
                    ),
                    false => "truth was read once the queued (accepted) orders had drained".into(),
                });
            }
            if !settled {
                notes.push(format!(
                    "the store was still changing after {:?} ({reads} reads {interval:?} apart): still selling, so no verdict",
                    s.truth.max_wait.0
                ));
            }
            if matches!(self.source, Source::Http(_)) {
                notes.push("truth came from the server's own answers: the least trusted source".into());
            }
            let how =
                TruthReading { quiet: true, settled, reads, waited_ms: started.elapsed().as_millis() as u64, notes };
            Ok(Truth::from_reading(s, reading, how))
        })
    }

    fn after_run(&self) -> BoxFuture<'_, AfterRun> {
        Box::pin(async move {
            let endpoint = &self.plan.endpoints[0];
            let vars = Vars { product: &self.alive_product, run: &self.plan.run, ..Vars::default() };
            let request = format!("{} {}", self.alive.method, self.alive.path.render_path(&vars));
            let mut conn = BuyerConn::to(endpoint);
            let answer = conn.send(&self.alive.bytes(&endpoint.host, &vars), AFTER_RUN_TIMEOUT).await;
            AfterRun::of(&request, answer.map(|a| a.status).map_err(|e| e.to_string()))
        })
    }

    fn stop(self: Box<Self>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            if let Source::Sql(sql) = &self.source {
                sql.close().await;
            }
        })
    }
}
