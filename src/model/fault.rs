//! Faults as data: the kinds a scenario can ask for, and each fault as it happened with what
//! the load saw while it lasted. Carried out by `faults`.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// SIGSTOP a server instance, SIGCONT after `for` (a GC pause, a noisy neighbour).
    PauseInstance,
    /// SIGKILL a server instance; `restart: true` starts it again.
    KillInstance,
    /// SIGKILL the run's own Redis (`server.own_redis`); `restart: true` starts it again from
    /// what it had persisted.
    KillStore,
    /// `CLIENT PAUSE` the run's Redis for `for`.
    RedisStall,
    /// End the run's PostgreSQL connections (found by `application_name`).
    PostgresKillConnections,
    /// Hold an `ACCESS EXCLUSIVE` lock on a table of the run's schema for `for`.
    PostgresLockTable,
    /// Add `latency` to every order's store round trip for `for` (a race window made wide).
    SlowStore,
    /// Run a command of your own (`run`, then `undo` after `for`).
    Command,
}

impl FaultKind {
    pub const ALL: [FaultKind; 8] = [
        FaultKind::PauseInstance,
        FaultKind::KillInstance,
        FaultKind::KillStore,
        FaultKind::RedisStall,
        FaultKind::PostgresKillConnections,
        FaultKind::PostgresLockTable,
        FaultKind::SlowStore,
        FaultKind::Command,
    ];

    /// The fields of a `faults:` entry this kind takes, besides `kind`, `at`, `after` and `for`.
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            FaultKind::PauseInstance => &["instance"],
            FaultKind::KillInstance => &["instance", "restart"],
            FaultKind::KillStore => &["restart"],
            FaultKind::RedisStall => &["mode", "whole_server"],
            FaultKind::PostgresKillConnections => &[],
            FaultKind::PostgresLockTable => &["table"],
            FaultKind::SlowStore => &["latency"],
            FaultKind::Command => &["run", "undo"],
        }
    }

    /// Does it last for a while, and so need `for`?
    pub fn needs_for(self) -> bool {
        matches!(
            self,
            FaultKind::PauseInstance | FaultKind::RedisStall | FaultKind::PostgresLockTable | FaultKind::SlowStore
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::PauseInstance => "pause_instance",
            FaultKind::KillInstance => "kill_instance",
            FaultKind::KillStore => "kill_store",
            FaultKind::RedisStall => "redis_stall",
            FaultKind::PostgresKillConnections => "postgres_kill_connections",
            FaultKind::PostgresLockTable => "postgres_lock_table",
            FaultKind::SlowStore => "slow_store",
            FaultKind::Command => "command",
        }
    }

    /// Faults on a server process: the reference server then runs in child processes.
    pub fn is_process_fault(self) -> bool {
        matches!(self, FaultKind::PauseInstance | FaultKind::KillInstance)
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One fault as it happened, for `summary.json`. Times are µs on the ledger's clock (since the
/// run's epoch, as every attempt's `sent_us`); while the load runs they are read on
/// `CLOCK_MONOTONIC` and [`effects`] puts them on the ledger's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRecord {
    pub kind: FaultKind,
    /// What it acted on: `instance 0 (pids 123, 124)`, the Redis, the schema, the command.
    pub target: String,
    /// When it was set off; `None` when its trigger never came (the load ended first).
    pub start_us: Option<u64>,
    /// When it was undone (or, for one-shot faults, when it was done).
    pub end_us: Option<u64>,
    /// What it did, where that is not in its kind (`ended 16 connections`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Why it could not act, when it could not (the run then fails: the fault was not tested).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the load saw while it lasted (attempts sent in its window and how they ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<Effect>,
}

/// The attempts sent while a fault lasted, up to one request timeout after its end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effect {
    pub attempts: u64,
    /// Attempts that ended in an error (5xx, resets, answers no rule reads).
    pub failed: u64,
    pub timeouts: u64,
    /// Attempts whose request never left in full (a refused connection: a killed instance).
    #[serde(default)]
    pub not_sent: u64,
    /// Attempts that won or were accepted.
    pub won: u64,
    /// Acknowledged orders the store no longer holds (counted by `acked_orders_durable`),
    /// shown on the faults that could lose them (`kill_instance`, `kill_store`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orders_lost: Option<u64>,
}
