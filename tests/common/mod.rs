//! Helpers for the integration tests: run the built `flashbench` binary, read `summary.json`.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Load runs measure races, so one at a time per test process (`cargo test` runs a binary's
/// tests on several threads; nextest's `load` group does the same across processes).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `flashbench ARGS` from the repository root.
pub fn flashbench(args: &[&str]) -> Ran {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let out =
        Command::new(env!("CARGO_BIN_EXE_flashbench")).args(args).current_dir(repo()).output().expect("run flashbench");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs a scenario into a fresh folder and returns the run, its summary and the folder.
pub fn run_scenario(scenario: &str, extra: &[&str]) -> (Ran, Value, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let out_s = out.to_string_lossy().into_owned();
    let mut args = vec!["run", scenario, "--quiet", "--out", &out_s];
    args.extend_from_slice(extra);
    let ran = flashbench(&args);
    let summary = read_summary(&out).unwrap_or_else(|| {
        panic!("no summary.json for {scenario} {extra:?}: exit {}\n{}\n{}", ran.code, ran.stdout, ran.stderr)
    });
    (ran, summary, dir)
}

pub fn read_summary(dir: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join("summary.json")).ok()?;
    serde_json::from_str(&text).ok()
}

/// The status of invariant `name` in a summary.
pub fn invariant<'a>(summary: &'a Value, name: &str) -> &'a Value {
    summary["invariants"]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["name"] == name))
        .unwrap_or_else(|| panic!("no invariant {name} in {summary}"))
}

pub fn status(summary: &Value, name: &str) -> String {
    invariant(summary, name)["status"].as_str().unwrap_or_default().to_string()
}

/// Orders and final stock of the first product.
pub fn sold(summary: &Value) -> (u64, i64) {
    let p = &summary["products"][0];
    (p["orders"].as_u64().unwrap_or(u64::MAX), p["final_stock"].as_i64().unwrap_or(i64::MIN))
}

/// Has CI required the services (`FLASHBENCH_REQUIRE_SERVICES=1`)?
pub fn required() -> bool {
    std::env::var("FLASHBENCH_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// A service the tests need (PostgreSQL or Redis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Postgres,
    Redis,
    /// MySQL or MariaDB: the `mysql` backend, and the store of a test shop (an `http` target's truth).
    Mysql,
}

impl Service {
    pub fn for_backend(backend: &str) -> Option<Service> {
        match backend {
            "postgres" => Some(Service::Postgres),
            "redis" => Some(Service::Redis),
            "mysql" => Some(Service::Mysql),
            _ => None,
        }
    }

    fn env_and_default(self) -> (&'static str, &'static str) {
        match self {
            Service::Postgres => ("FLASHBENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/test"),
            Service::Redis => ("FLASHBENCH_REDIS_URL", "redis://127.0.0.1:6379"),
            Service::Mysql => ("FLASHBENCH_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
        }
    }

    /// The URL to use: `FLASHBENCH_DATABASE_URL` / `FLASHBENCH_REDIS_URL` /
    /// `FLASHBENCH_MYSQL_URL`, or the default.
    pub fn url(self) -> String {
        let (var, default) = self.env_and_default();
        std::env::var(var).unwrap_or_else(|_| default.to_string())
    }

    /// Does the service answer at [`Service::url`]?
    pub fn reachable(self) -> bool {
        let url = self.url();
        let host_port =
            url.split("://").nth(1).unwrap_or("").rsplit('@').next().unwrap_or("").split('/').next().unwrap_or("");
        host_port
            .parse::<std::net::SocketAddr>()
            .ok()
            .or_else(|| std::net::ToSocketAddrs::to_socket_addrs(host_port).ok().and_then(|mut a| a.next()))
            .is_some_and(|addr| std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2)).is_ok())
    }

    /// Should tests that need this service be skipped? Only when it does not answer and CI
    /// has not required it (`FLASHBENCH_REQUIRE_SERVICES=1`: then they run, and fail saying why).
    pub fn skip(self) -> bool {
        !self.reachable() && !required()
    }

    pub fn name(self) -> &'static str {
        match self {
            Service::Postgres => "PostgreSQL",
            Service::Redis => "Redis",
            Service::Mysql => "MySQL/MariaDB",
        }
    }

    /// The URL when the service answers. When it does not: with `FLASHBENCH_REQUIRE_SERVICES=1`
    /// (CI) the test fails; otherwise it is skipped, loudly.
    pub fn available(self) -> Option<String> {
        let url = self.url();
        if self.reachable() {
            return Some(url);
        }
        let (var, _) = self.env_and_default();
        if required() {
            panic!(
                "{self:?} is required (FLASHBENCH_REQUIRE_SERVICES=1) but {url} does not answer; set {var} or start it"
            );
        }
        eprintln!("\n!!! SKIPPED: {self:?} at {url} does not answer; start it or set {var} to run this test !!!\n");
        None
    }
}

/// `--redis-url`/`--database-url`/`--mysql-url` arguments for `backend`, or `None` when its service is
/// missing (and not required).
pub fn service_args(backend: &str) -> Option<Vec<String>> {
    match Service::for_backend(backend) {
        None => Some(vec![]),
        Some(Service::Postgres) => Service::Postgres.available().map(|u| vec!["--database-url".into(), u]),
        Some(Service::Redis) => Service::Redis.available().map(|u| vec!["--redis-url".into(), u]),
        Some(Service::Mysql) => Service::Mysql.available().map(|u| vec!["--mysql-url".into(), u]),
    }
}

/// The tests of a `harness = false` test binary: trials that need a service the machine lacks
/// are *ignored*, so `cargo test` and nextest count them as skipped in their summary, and a
/// line on stdout says why.
pub struct Trials(pub Vec<libtest_mimic::Trial>);

impl Trials {
    pub fn new() -> Self {
        Trials(Vec::new())
    }

    /// Adds a test that needs `needs` (none, or one or two services).
    pub fn add(&mut self, name: impl Into<String>, needs: &[Service], test: impl FnOnce() + Send + 'static) {
        let skip = needs.iter().any(|s| s.skip());
        let trial = libtest_mimic::Trial::test(name, move || {
            test();
            Ok(())
        });
        self.0.push(trial.with_ignored_flag(skip));
    }

    /// Runs the trials and exits with their verdict.
    pub fn run(self) -> std::process::ExitCode {
        let args = libtest_mimic::Arguments::from_args();
        let skipped = self.0.iter().filter(|t| t.has_ignored_flag()).count();
        if skipped > 0 && !args.list {
            let missing: Vec<String> = [Service::Postgres, Service::Redis]
                .iter()
                .filter(|s| s.skip())
                .map(|s| format!("{} at {}", s.name(), s.url()))
                .collect();
            println!(
                "\n!!! SKIPPED {skipped} test(s): {} does not answer; start it (see .ci/run) or set \
                 FLASHBENCH_DATABASE_URL / FLASHBENCH_REDIS_URL !!!\n",
                missing.join(" and ")
            );
        }
        libtest_mimic::run(&args, self.0).exit_code()
    }
}

/// `flashbench serve` on an SQLite file of its own, as a user would start it.
pub struct Served {
    pub child: std::process::Child,
    pub url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(db: &std::path::Path, strategy: &str) -> Served {
    serve_with(db, strategy, &[])
}

/// [`serve`] with more `serve` arguments.
pub fn serve_with(db: &std::path::Path, strategy: &str, extra: &[&str]) -> Served {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_flashbench"))
        .args(["serve", "--listen", "127.0.0.1:0", "--quiet", "--rate-limit", "off", "--backend", "sqlite"])
        .args(["--strategy", strategy, "--sqlite-file", &db.to_string_lossy()])
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("flashbench serve");
    let stdout = child.stdout.take().expect("stdout");
    let line = std::io::BufReader::new(stdout).lines().next().expect("a line").expect("utf8");
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).expect("url").to_string();
    Served { child, url }
}
