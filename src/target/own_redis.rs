//! A Redis server of the run's own (`server.own_redis`): `redis-server` on a free port of
//! 127.0.0.1, its data in a fresh folder, so the store faults (`kill_store`, `redis_stall`)
//! touch nothing but the run. It can be killed (SIGKILL) and started again on the same port and
//! folder, from what it had persisted; it is stopped and its folder removed when the run ends,
//! and the kernel kills it should flashbench die first.

use crate::scenario::RedisPersistence;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};

/// How long `redis-server` may take to answer and to load what it persisted.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How often a starting server is asked whether it is ready.
const READY_POLL: Duration = Duration::from_millis(20);
/// The environment variable that names the `redis-server` to run (default: from `PATH`).
pub const REDIS_SERVER_ENV: &str = "FLASHBENCH_REDIS_SERVER";

pub struct OwnRedis {
    exe: String,
    persistence: RedisPersistence,
    port: u16,
    dir: PathBuf,
    /// Leave the data folder in place at the end (`--keep-data`).
    keep: bool,
    /// `None` after a kill, until it is started again.
    child: tokio::sync::Mutex<Option<Child>>,
}

impl OwnRedis {
    /// Starts `redis-server` with `persistence` and waits until it answers.
    pub async fn start(persistence: RedisPersistence, keep: bool) -> Result<OwnRedis, String> {
        let exe = std::env::var(REDIS_SERVER_ENV).unwrap_or_else(|_| "redis-server".into());
        Self::start_with(exe, persistence, keep).await
    }

    async fn start_with(exe: String, persistence: RedisPersistence, keep: bool) -> Result<OwnRedis, String> {
        let dir =
            std::env::temp_dir().join(format!("flashbench-redis-{}-{:08x}", std::process::id(), rand::random::<u32>()));
        let mut last = String::new();
        // The kernel picks a free port, released just before redis-server binds it: should
        // another process take it in between, another port is tried.
        for _ in 0..3 {
            // (A failed try, dropped, removes the folder.)
            std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let port = free_port().map_err(|e| format!("no free port on 127.0.0.1: {e}"))?;
            let own =
                OwnRedis { exe: exe.clone(), persistence, port, dir: dir.clone(), keep, child: Default::default() };
            match own.spawn().await {
                Ok(child) => {
                    *own.child.lock().await = Some(child);
                    return Ok(own);
                }
                Err(e) => last = e,
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        Err(last)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// `own redis-server at 127.0.0.1:41234, AOF, fsync every second`.
    pub fn describe(&self) -> String {
        format!("own redis-server at 127.0.0.1:{}, {}", self.port, self.persistence)
    }

    /// Its process id while it runs.
    pub async fn pid(&self) -> Option<u32> {
        self.child.lock().await.as_ref().and_then(Child::id)
    }

    /// SIGKILLs it and waits until it is gone.
    pub async fn kill(&self) -> Result<(), String> {
        match self.child.lock().await.take() {
            Some(mut child) => child.kill().await.map_err(|e| format!("cannot kill redis-server: {e}")),
            None => Err("the run's redis-server is not running".into()),
        }
    }

    /// Starts it again on the same port and folder, and waits until it has loaded what it had
    /// persisted.
    pub async fn restart(&self) -> Result<(), String> {
        let mut slot = self.child.lock().await;
        if slot.is_none() {
            *slot = Some(self.spawn().await?);
        }
        Ok(())
    }

    /// Stops it and, unless kept, removes its data folder.
    pub async fn stop(&self) {
        if let Some(mut child) = self.child.lock().await.take() {
            let _ = child.kill().await;
        }
        match self.keep {
            true => log::info!("the run's redis-server data is kept in {}", self.dir.display()),
            false => {
                let _ = std::fs::remove_dir_all(&self.dir);
            }
        }
    }

    async fn spawn(&self) -> Result<Child, String> {
        let log_file = self.dir.join("redis.log");
        let mut command = Command::new(&self.exe);
        super::dies_with_flashbench(&mut command);
        let mut child = command
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--daemonize", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(&log_file)
            .args(self.persistence.args())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => format!(
                    "cannot run {}: not found. `server.own_redis` needs redis-server (Debian: apt install \
                     redis-server), or {REDIS_SERVER_ENV} naming it",
                    self.exe
                ),
                _ => format!("cannot run {}: {e}", self.exe),
            })?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "redis-server exited ({status}) before answering on port {}: {}",
                    self.port,
                    log_tail(&log_file)
                ));
            }
            if self.loaded().await {
                return Ok(child);
            }
            if Instant::now() >= deadline {
                let _ = child.kill().await;
                return Err(format!(
                    "redis-server did not answer on port {} within {START_TIMEOUT:?}: {}",
                    self.port,
                    log_tail(&log_file)
                ));
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// It answers and has loaded its data (`INFO persistence` says `loading:0`).
    async fn loaded(&self) -> bool {
        let ask = async {
            let client = redis::Client::open(self.url()).ok()?;
            let mut conn = client.get_multiplexed_async_connection().await.ok()?;
            let info: String = redis::cmd("INFO").arg("persistence").query_async(&mut conn).await.ok()?;
            Some(info.lines().any(|l| l.trim() == "loading:0"))
        };
        matches!(tokio::time::timeout(Duration::from_secs(1), ask).await, Ok(Some(true)))
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        // The process goes with its `Child` (kill on drop); the folder goes here.
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The last lines of redis-server's log, for an error message.
fn log_tail(file: &std::path::Path) -> String {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    match lines.len() {
        0 => "(its log is empty)".into(),
        n => lines[n.saturating_sub(3)..].join(" | "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Is `redis-server` here? When it is not and CI requires the services, the test fails.
    fn installed() -> bool {
        let found = std::process::Command::new("redis-server").arg("--version").output().is_ok();
        if !found && std::env::var("FLASHBENCH_REQUIRE_SERVICES").is_ok_and(|v| v == "1") {
            panic!("redis-server is required (FLASHBENCH_REQUIRE_SERVICES=1) but not installed");
        }
        if !found {
            eprintln!("\n!!! SKIPPED: redis-server is not installed !!!\n");
        }
        found
    }

    #[tokio::test]
    async fn a_failed_start_is_tried_again_and_the_data_folder_goes_at_the_end() {
        if !installed() {
            return;
        }
        // A redis-server that fails its first start (as when another process took the port).
        let dir = std::env::temp_dir().join(format!("fb-own-redis-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let script = dir.join("redis-server");
        let tries = dir.join("tries");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho x >> '{}'\n[ $(wc -l < '{}') -ge 2 ] || exit 1\nexec redis-server \"$@\"\n",
                tries.display(),
                tries.display()
            ),
        )
        .expect("script");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
        let own = OwnRedis::start_with(script.display().to_string(), RedisPersistence::AofEverysec, false)
            .await
            .expect("started on the second try");
        assert_eq!(std::fs::read_to_string(&tries).expect("tries").lines().count(), 2);
        assert!(own.loaded().await, "it answers");
        assert!(own.dir.join("appendonlydir").exists() || own.dir.join("appendonly.aof").exists(), "AOF on");
        let data = own.dir.clone();
        own.stop().await;
        assert!(!data.exists(), "its data folder is removed at the end");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
