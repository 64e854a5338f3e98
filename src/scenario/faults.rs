//! `faults:`: what goes wrong during the sale (the nemesis, after Jepsen's), each fault with
//! its trigger and, where it applies, how long it lasts. `faults` carries them out.

use super::load::Problem;
use super::locate::Seg;
use super::target::TargetKind;
use super::{HumanDuration, Scenario};
use crate::model::{Backend, FaultKind};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One fault of the scenario.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub kind: FaultKind,
    /// When, after the release (a burst) or the first arrival (a ramp or a rate), e.g. `1.5s`.
    /// Either this or `after`; neither means at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<HumanDuration>,
    /// When something has happened: `first_sold_out` or `100 attempts` (answered ones).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Trigger>,
    /// How long it lasts (pauses, stalls, locks, slow stores, a command's `undo`); a killed
    /// instance with `restart: true` comes back after it (at once without it).
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    pub duration: Option<HumanDuration>,
    /// The reference server instance paused or killed (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<u32>,
    /// `kill_instance`, `kill_store`: start it again, on the same port and store (for a
    /// store: from what it had persisted).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restart: bool,
    /// `redis_stall`: `write` (default) pauses writes, `all` every command (`CLIENT PAUSE`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<StallMode>,
    /// `redis_stall` on a Redis flashbench did not start (`redis_url`): `CLIENT PAUSE` pauses
    /// every client of that server, not only this run's, so it must be asked for by name.
    /// Without it, a stall needs `server.own_redis`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub whole_server: bool,
    /// `slow_store`: latency added to every order's store round trip while it lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency: Option<HumanDuration>,
    /// `postgres_lock_table`: the table of the run's schema to lock (default `products`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// `command`: a shell command run at the trigger (`sh -c`), e.g. `docker pause shop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// `command`: a shell command run when `for` has passed, or when the load ends first,
    /// e.g. `docker unpause shop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undo: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StallMode {
    #[default]
    Write,
    All,
}

/// A fault's trigger besides a time: the first sold-out answer, or a number of answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    FirstSoldOut,
    Attempts(u64),
}

impl FromStr for Trigger {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "first_sold_out" {
            return Ok(Trigger::FirstSoldOut);
        }
        let n = text.strip_suffix("attempts").or_else(|| text.strip_suffix("attempt")).map(str::trim);
        match n.and_then(|n| n.replace('_', "").parse::<u64>().ok()) {
            Some(n) if n > 0 => Ok(Trigger::Attempts(n)),
            _ => Err(format!("expected `first_sold_out` or `N attempts` (N above 0), found {text:?}")),
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Trigger::FirstSoldOut => f.write_str("first_sold_out"),
            Trigger::Attempts(n) => write!(f, "{n} attempts"),
        }
    }
}

impl Serialize for Trigger {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Trigger {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Trigger {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Trigger".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^(first_sold_out|[0-9_]+ attempts?)$",
            "description": "`first_sold_out`, or `N attempts` (answered ones)"
        })
    }
}

/// The problems of `s.faults`, each at its field.
pub fn problems(s: &Scenario) -> Vec<Problem> {
    let mut out = Vec::new();
    let reference = s.target.kind == TargetKind::Reference;
    for (i, f) in s.faults.iter().enumerate() {
        let mut say = |field: &'static str, message: String| {
            let mut path = vec![Seg::Key("faults"), Seg::Index(i)];
            if !field.is_empty() {
                path.push(Seg::Key(field));
            }
            out.push(Problem { path, message });
        };
        field_problems(f, &mut say);
        let kind = f.kind;
        if kind != FaultKind::Command && !reference {
            say(
                "kind",
                format!(
                    "`{kind}` acts on the reference server flashbench starts; for a server of your own, \
                     use `kind: command` with `run:` (e.g. `docker pause shop`)"
                ),
            );
            continue;
        }
        kind_problems(s, f, &mut say);
    }
    out
}

/// Where a fault's problem is said: the field (empty: the fault) and the message.
type Say<'a> = dyn FnMut(&'static str, String) + 'a;

/// Fields a fault's kind needs, forbids or takes: `at` or `after`, `for`, and the fields of
/// other kinds.
fn field_problems(f: &Fault, say: &mut Say) {
    let kind = f.kind;
    if f.at.is_some() && f.after.is_some() {
        say("after", "give either `at` or `after`, not both".into());
    }
    match f.duration {
        None if kind.needs_for() => say("for", format!("`{kind}` needs `for`, how long it lasts, e.g. `3s`")),
        Some(d) if d.0.is_zero() => say("for", "must be above zero".into()),
        Some(_) if kind == FaultKind::PostgresKillConnections => {
            say("for", format!("does not apply to `{kind}`: connections are ended at once"))
        }
        Some(_) if matches!(kind, FaultKind::KillInstance | FaultKind::KillStore) && !f.restart => {
            say("for", "applies only with `restart: true` (how long it stays down)".into())
        }
        _ => {}
    }
    for field in given_fields(f).into_iter().filter(|field| !kind.fields().contains(field)) {
        let names: Vec<&str> =
            FaultKind::ALL.iter().filter(|k| k.fields().contains(&field)).map(|k| k.name()).collect();
        say(field, format!("applies to {} faults only, not `{kind}`", names.join(", ")));
    }
}

/// The fields of `f` that are set, besides `kind`, `at`, `after` and `for` (each kind says
/// which it takes: `FaultKind::fields`).
fn given_fields(f: &Fault) -> Vec<&'static str> {
    let set = [
        ("instance", f.instance.is_some()),
        ("restart", f.restart),
        ("mode", f.mode.is_some()),
        ("whole_server", f.whole_server),
        ("latency", f.latency.is_some()),
        ("table", f.table.is_some()),
        ("run", f.run.is_some()),
        ("undo", f.undo.is_some()),
    ];
    set.into_iter().filter(|(_, given)| *given).map(|(field, _)| field).collect()
}

/// What a fault's kind needs of the server: its instances, its backend, a Redis of the run's own.
fn kind_problems(s: &Scenario, f: &Fault, say: &mut Say) {
    let kind = f.kind;
    let backend = s.server.backend;
    match kind {
        FaultKind::PauseInstance | FaultKind::KillInstance => {
            let instance = f.instance.unwrap_or(0);
            if instance >= s.server.instances {
                say("instance", format!("no instance {instance}: the server has {} (from 0)", s.server.instances));
            }
            if kind == FaultKind::KillInstance && backend == Backend::Memory {
                say(
                    "kind",
                    "the `memory` backend keeps its sale in the killed process; use sqlite, postgres or redis".into(),
                );
            }
        }
        FaultKind::RedisStall | FaultKind::KillStore if backend != Backend::Redis => {
            say("kind", format!("needs `server.backend: redis`, not {backend}"))
        }
        FaultKind::KillStore if s.server.own_redis.is_none() => say(
            "kind",
            "kills the Redis flashbench starts for the run: add `server.own_redis: {persistence: aof_everysec}` \
             (or `none`, `aof_always`); a Redis of yours is never killed"
                .into(),
        ),
        FaultKind::RedisStall if s.server.own_redis.is_none() && !f.whole_server => say(
            "kind",
            "`CLIENT PAUSE` pauses every client of the Redis server, not only this run's: give the run a \
             Redis of its own (`server.own_redis: {persistence: none}`), or set `whole_server: true` to \
             pause a Redis that serves nothing but tests"
                .into(),
        ),
        FaultKind::PostgresKillConnections | FaultKind::PostgresLockTable if backend != Backend::Postgres => {
            say("kind", format!("needs `server.backend: postgres`, not {backend}"))
        }
        FaultKind::PostgresLockTable => {
            let table = f.table.as_deref().unwrap_or("products");
            if !["products", "orders"].contains(&table) {
                say("table", format!("expected `products` or `orders`, found {table:?}"));
            }
        }
        FaultKind::SlowStore if f.latency.is_none_or(|l| l.0.is_zero()) => {
            say("latency", "`slow_store` needs `latency` above zero, e.g. `50ms`".into())
        }
        FaultKind::Command if f.run.as_deref().is_none_or(|r| r.trim().is_empty()) => {
            say("run", "`command` needs `run`, the shell command to run at the trigger".into())
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_a_kind_takes_is_known_and_every_known_field_has_a_kind() {
        let every = Fault {
            kind: FaultKind::Command,
            at: None,
            after: None,
            duration: None,
            instance: Some(0),
            restart: true,
            mode: Some(StallMode::All),
            whole_server: true,
            latency: Some(HumanDuration(std::time::Duration::from_millis(1))),
            table: Some("orders".into()),
            run: Some("true".into()),
            undo: Some("true".into()),
        };
        let known = given_fields(&every);
        for kind in FaultKind::ALL {
            for field in kind.fields() {
                assert!(known.contains(field), "{kind} takes `{field}`, which given_fields does not read");
            }
        }
        for field in known {
            assert!(FaultKind::ALL.iter().any(|k| k.fields().contains(&field)), "no kind takes `{field}`");
        }
    }

    #[test]
    fn triggers_parse_and_print_alike() {
        assert_eq!("first_sold_out".parse(), Ok(Trigger::FirstSoldOut));
        assert_eq!("100 attempts".parse(), Ok(Trigger::Attempts(100)));
        assert_eq!("1_000 attempts".parse(), Ok(Trigger::Attempts(1000)));
        assert_eq!(Trigger::Attempts(7).to_string().parse(), Ok(Trigger::Attempts(7)));
        assert!("0 attempts".parse::<Trigger>().is_err());
        assert!("soon".parse::<Trigger>().is_err());
    }
}
