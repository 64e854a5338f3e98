//! The faults themselves: each `start` acts and returns what undoes it. Every one touches only
//! the run's own processes (the instances flashbench started), connections (found by the
//! run's `application_name`), schema or Redis, and every undo is safe to call once the load
//! has ended early.

use super::FaultSurface;
use crate::model::FaultKind;
use crate::scenario::{Fault, StallMode};
use crate::server::store::{postgres_application_name, redact, StoreLocation};
use std::time::Duration;

/// How long a fault's own command (`run`, `undo`) or connection may take.
const ACT_TIMEOUT: Duration = Duration::from_secs(30);

/// What a started fault holds, to be undone.
pub enum Active {
    /// Nothing to undo (a kill without restart, a command without `undo`).
    Done,
    /// Nothing to undo, and what was done: `ended 16 connections`.
    Did(String),
    Paused(Paused),
    Killed {
        instance: u32,
        restart: bool,
    },
    /// The run's own store server, killed; started again on undo when `restart`.
    StoreKilled {
        restart: bool,
    },
    /// A Redis paused until `until` (when an `ALL` pause ends by itself).
    RedisPaused {
        url: String,
        until: tokio::time::Instant,
    },
    TableLocked(sqlx::PgConnection),
    Slowed,
    Command(String),
}

/// Stopped processes; dropping it continues them, whatever happened in between.
pub struct Paused(Vec<u32>);

impl Drop for Paused {
    fn drop(&mut self) {
        for pid in &self.0 {
            signal(*pid, libc::SIGCONT);
        }
    }
}

fn signal(pid: u32, sig: libc::c_int) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: kill(2) with a pid of a child this run started and a valid signal number.
    unsafe { libc::kill(pid, sig) == 0 }
}

fn surface(s: Option<&dyn FaultSurface>) -> Result<&dyn FaultSurface, String> {
    s.ok_or_else(|| "this target has no reference server to act on".to_string())
}

/// A short description of what `fault` acts on.
pub async fn describe(fault: &Fault, s: Option<&dyn FaultSurface>) -> String {
    let instance = fault.instance.unwrap_or(0);
    match fault.kind {
        FaultKind::PauseInstance | FaultKind::KillInstance => match s {
            Some(s) => match s.pids(instance).await {
                Ok(pids) => format!(
                    "instance {instance} (pid {})",
                    pids.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
                ),
                Err(_) => format!("instance {instance}"),
            },
            None => format!("instance {instance}"),
        },
        FaultKind::Command => fault.run.clone().unwrap_or_default(),
        FaultKind::KillStore => match s {
            Some(s) => match s.store_server().await {
                Some((what, Some(pid))) => format!("{what} (pid {pid})"),
                Some((what, None)) => what,
                None => "the run's own Redis".into(),
            },
            None => "the run's own Redis".into(),
        },
        FaultKind::SlowStore => {
            format!("every instance's store (+{:?})", fault.latency.map(|l| l.0).unwrap_or_default())
        }
        _ => match s.map(|s| s.store()) {
            Some(StoreLocation::Redis { url, prefix }) => match own_server(s).await {
                Some(what) => what,
                None => format!("{} (the whole server; this run's keys are {prefix}:*)", redact(&url)),
            },
            Some(StoreLocation::Postgres { url, schema }) => match fault.kind {
                FaultKind::PostgresLockTable => {
                    format!("{} table {schema}.{}", redact(&url), fault.table.as_deref().unwrap_or("products"))
                }
                _ => format!("{} connections named {}", redact(&url), postgres_application_name(&schema)),
            },
            _ => "the store".into(),
        },
    }
}

/// What the run's own store server is, when it has one.
async fn own_server(s: Option<&dyn FaultSurface>) -> Option<String> {
    Some(s?.store_server().await?.0)
}

/// Sets `fault` off.
pub async fn start(fault: &Fault, s: Option<&dyn FaultSurface>) -> Result<Active, String> {
    let instance = fault.instance.unwrap_or(0);
    match fault.kind {
        FaultKind::PauseInstance => {
            let pids = surface(s)?.pids(instance).await?;
            let paused = Paused(pids.into_iter().filter(|p| signal(*p, libc::SIGSTOP)).collect());
            match paused.0.is_empty() {
                true => Err(format!("instance {instance} has no process left to pause")),
                false => Ok(Active::Paused(paused)),
            }
        }
        FaultKind::KillInstance => {
            surface(s)?.kill(instance).await?;
            Ok(Active::Killed { instance, restart: fault.restart })
        }
        FaultKind::KillStore => {
            surface(s)?.kill_store().await?;
            Ok(Active::StoreKilled { restart: fault.restart })
        }
        FaultKind::RedisStall => {
            let StoreLocation::Redis { url, .. } = surface(s)?.store() else {
                return Err("redis_stall needs the redis backend".into());
            };
            let mode = match fault.mode.unwrap_or_default() {
                StallMode::Write => "WRITE",
                StallMode::All => "ALL",
            };
            // Exactly `for`: under `ALL`, Redis blocks even `CLIENT UNPAUSE` until the pause
            // runs out, so the pause must end by itself (the undo then waits for it).
            let lasts = fault.duration.map_or(Duration::ZERO, |d| d.0);
            let ms = lasts.as_millis().max(1).to_string();
            redis_command(&url, &["CLIENT", "PAUSE", &ms, mode], ACT_TIMEOUT).await?;
            Ok(Active::RedisPaused { url, until: tokio::time::Instant::now() + lasts })
        }
        FaultKind::PostgresKillConnections => {
            let StoreLocation::Postgres { url, schema } = surface(s)?.store() else {
                return Err("postgres_kill_connections needs the postgres backend".into());
            };
            let mut conn = pg_connect(&url).await?;
            let ended: i64 = sqlx::query_scalar(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE application_name = $1 AND pid <> pg_backend_pid()",
            )
            .bind(postgres_application_name(&schema))
            .fetch_one(&mut conn)
            .await
            .map_err(|e| format!("pg_terminate_backend: {e}"))?;
            let _ = sqlx::Connection::close(conn).await;
            Ok(Active::Did(format!("ended {ended} connections")))
        }
        FaultKind::PostgresLockTable => {
            let StoreLocation::Postgres { url, schema } = surface(s)?.store() else {
                return Err("postgres_lock_table needs the postgres backend".into());
            };
            let table = fault.table.as_deref().unwrap_or("products");
            let mut conn = pg_connect(&url).await?;
            for sql in ["BEGIN".to_string(), format!("LOCK TABLE \"{schema}\".\"{table}\" IN ACCESS EXCLUSIVE MODE")] {
                sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| format!("LOCK TABLE {schema}.{table}: {e}"))?;
            }
            Ok(Active::TableLocked(conn))
        }
        FaultKind::SlowStore => {
            let latency = fault.latency.map(|l| l.0).unwrap_or_default();
            surface(s)?.set_store_latency(latency).await?;
            Ok(Active::Slowed)
        }
        FaultKind::Command => {
            shell(fault.run.as_deref().unwrap_or_default()).await?;
            Ok(match &fault.undo {
                Some(undo) => Active::Command(undo.clone()),
                None => Active::Done,
            })
        }
    }
}

impl Active {
    /// Undoes what `start` did.
    pub async fn undo(self, s: Option<&dyn FaultSurface>) -> Result<(), String> {
        match self {
            Active::Done | Active::Did(_) => Ok(()),
            Active::Paused(paused) => {
                drop(paused);
                Ok(())
            }
            Active::Killed { instance, restart } => match restart {
                true => surface(s)?.restart(instance).await,
                false => Ok(()),
            },
            Active::StoreKilled { restart } => match restart {
                true => surface(s)?.restart_store().await,
                false => Ok(()),
            },
            Active::RedisPaused { url, until } => {
                let left = until.saturating_duration_since(tokio::time::Instant::now());
                redis_command(&url, &["CLIENT", "UNPAUSE"], left + ACT_TIMEOUT).await
            }
            Active::TableLocked(mut conn) => {
                let rolled = sqlx::raw_sql("ROLLBACK").execute(&mut conn).await.map_err(|e| format!("ROLLBACK: {e}"));
                let _ = sqlx::Connection::close(conn).await;
                rolled.map(|_| ())
            }
            Active::Slowed => surface(s)?.set_store_latency(Duration::ZERO).await,
            Active::Command(undo) => shell(&undo).await,
        }
    }
}

async fn redis_command(url: &str, args: &[&str], timeout: Duration) -> Result<(), String> {
    let shown = redact(url);
    let work = async {
        let client = redis::Client::open(url).map_err(|e| e.to_string())?;
        let mut conn = client.get_multiplexed_async_connection().await.map_err(|e| e.to_string())?;
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query_async::<()>(&mut conn).await.map_err(|e| e.to_string())
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(r) => r.map_err(|e| format!("{} on {shown}: {e}", args.join(" "))),
        Err(_) => Err(format!("{} on {shown}: no answer within {timeout:?}", args.join(" "))),
    }
}

/// A connection of the nemesis's own, named apart from the run's (so ending the run's
/// connections never ends this one).
async fn pg_connect(url: &str) -> Result<sqlx::PgConnection, String> {
    use std::str::FromStr;
    let shown = redact(url);
    let options = sqlx::postgres::PgConnectOptions::from_str(url)
        .map_err(|e| format!("{shown}: {e}"))?
        .application_name("flashbench-nemesis");
    match tokio::time::timeout(ACT_TIMEOUT, sqlx::ConnectOptions::connect(&options)).await {
        Ok(r) => r.map_err(|e| format!("{shown}: {e}")),
        Err(_) => Err(format!("{shown}: no answer within {ACT_TIMEOUT:?}")),
    }
}

/// Runs `command` with `sh -c`; an exit other than 0, or no end within 30 s, is an error.
async fn shell(command: &str) -> Result<(), String> {
    let run = tokio::process::Command::new("sh").arg("-c").arg(command).kill_on_drop(true).output();
    match tokio::time::timeout(ACT_TIMEOUT, run).await {
        Err(_) => Err(format!("`{command}` did not end within {ACT_TIMEOUT:?}")),
        Ok(Err(e)) => Err(format!("cannot run `{command}`: {e}")),
        Ok(Ok(out)) if out.status.success() => Ok(()),
        Ok(Ok(out)) => {
            Err(format!("`{command}` failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()))
        }
    }
}
