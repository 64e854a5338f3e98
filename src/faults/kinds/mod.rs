//! The fault kinds, one file each: what it acts on ([`describe`]), how it is set off
//! ([`start`]) and what undoes it (the [`Undo`] its start returns). Every one touches only the
//! run's own processes (the instances flashbench started), connections (found by the run's
//! `application_name`), schema or Redis, and every undo is safe to call once the load has
//! ended early. A new kind is its file here, its arm in [`describe`] and [`start`], and its
//! `FaultKind` (with the fields it takes) in `model/fault.rs`.

mod command;
mod kill_instance;
mod kill_store;
mod pause_instance;
mod postgres_kill_connections;
mod postgres_lock_table;
mod redis_stall;
mod slow_store;

use super::FaultSurface;
use crate::model::FaultKind;
use crate::scenario::Fault;
use crate::server::store::redact;
use crate::task::BoxFuture;
use std::time::Duration;

/// How long a fault's own command (`run`, `undo`) or connection may take.
const ACT_TIMEOUT: Duration = Duration::from_secs(30);

/// What a fault did when it was set off, and what undoes it.
pub struct Started {
    /// What it did, where that is not in its kind: `ended 16 connections`.
    pub detail: Option<String>,
    /// `None`: nothing to undo (a kill without restart, a command without `undo`).
    pub undo: Option<Box<dyn Undo>>,
}

impl Started {
    fn undone_by(undo: impl Undo + 'static) -> Started {
        Started { detail: None, undo: Some(Box::new(undo)) }
    }

    fn done() -> Started {
        Started { detail: None, undo: None }
    }

    /// Undoes what the start did, if anything.
    pub async fn undo(self, s: Option<&dyn FaultSurface>) -> Result<(), String> {
        match self.undo {
            Some(undo) => undo.undo(s).await,
            None => Ok(()),
        }
    }
}

/// What a started fault holds until it is undone.
pub trait Undo: Send {
    fn undo<'a>(self: Box<Self>, s: Option<&'a dyn FaultSurface>) -> BoxFuture<'a, Result<(), String>>;
}

/// A short description of what `fault` acts on.
pub async fn describe(fault: &Fault, s: Option<&dyn FaultSurface>) -> String {
    match fault.kind {
        FaultKind::PauseInstance | FaultKind::KillInstance => describe_instance(fault, s).await,
        FaultKind::KillStore => kill_store::describe(s).await,
        FaultKind::RedisStall => redis_stall::describe(s).await,
        FaultKind::PostgresKillConnections => postgres_kill_connections::describe(s),
        FaultKind::PostgresLockTable => postgres_lock_table::describe(fault, s),
        FaultKind::SlowStore => slow_store::describe(fault),
        FaultKind::Command => command::describe(fault),
    }
}

/// Sets `fault` off.
pub async fn start(fault: &Fault, s: Option<&dyn FaultSurface>) -> Result<Started, String> {
    match fault.kind {
        FaultKind::PauseInstance => pause_instance::start(fault, s).await,
        FaultKind::KillInstance => kill_instance::start(fault, s).await,
        FaultKind::KillStore => kill_store::start(fault, s).await,
        FaultKind::RedisStall => redis_stall::start(fault, s).await,
        FaultKind::PostgresKillConnections => postgres_kill_connections::start(s).await,
        FaultKind::PostgresLockTable => postgres_lock_table::start(fault, s).await,
        FaultKind::SlowStore => slow_store::start(fault, s).await,
        FaultKind::Command => command::start(fault).await,
    }
}

fn surface(s: Option<&dyn FaultSurface>) -> Result<&dyn FaultSurface, String> {
    s.ok_or_else(|| "this target has no reference server to act on".to_string())
}

/// `instance 0 (pid 123, 124)`: the instance a process fault acts on.
async fn describe_instance(fault: &Fault, s: Option<&dyn FaultSurface>) -> String {
    let instance = fault.instance.unwrap_or(0);
    match s {
        Some(s) => match s.pids(instance).await {
            Ok(pids) => {
                format!("instance {instance} (pid {})", pids.iter().map(u32::to_string).collect::<Vec<_>>().join(", "))
            }
            Err(_) => format!("instance {instance}"),
        },
        None => format!("instance {instance}"),
    }
}

/// What the run's own store server is, when it has one.
async fn own_server(s: Option<&dyn FaultSurface>) -> Option<String> {
    Some(s?.store_server().await?.0)
}

fn signal(pid: u32, sig: libc::c_int) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    // SAFETY: kill(2) with a pid of a child this run started and a valid signal number.
    unsafe { libc::kill(pid, sig) == 0 }
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
