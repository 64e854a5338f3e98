//! Everything that can be refused before a run starts: the files of a suite, the scenario
//! with its target compiled, the overrides, the socket budget and the shard's slice.

use super::{apply_overrides, RunOptions};
use crate::limits::{self, Placement};
use crate::scenario::target::TargetKind;
use crate::scenario::{self, ArrivalMode, Scenario};
use crate::target::{self};
use std::path::{Path, PathBuf};

/// The scenario files named by `paths`: files as given, folders' `*.yaml`/`*.yml` in name order
/// (one level; sub-folders such as `self-test/` are run when named themselves).
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: cannot list: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(format!("{}: no .yaml scenario in this folder", p.display()));
            }
            files.extend(found);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            return Err(format!("{}: no such file or folder", p.display()));
        }
    }
    Ok(files)
}

/// Reads and checks the scenario at `file`, its target compiled as the run would compile it:
/// every problem a run would meet before it starts, with its line in the file.
pub fn load(file: &Path) -> Result<Scenario, scenario::ScenarioError> {
    scenario::load_checked(file, target::problems)
}

/// Loads a scenario, applies the overrides and places its server within the machine's socket
/// budget: everything that can be refused before a run starts.
pub fn prepare(file: &Path, opts: &RunOptions) -> Result<(Scenario, Placement), String> {
    prepare_with_sources(file, opts).map(|(s, layout, _)| (s, layout.placement))
}

/// [`prepare`], and the source addresses buyers bind (see [`limits::source_addresses`]).
pub fn prepare_with_sources(
    file: &Path,
    opts: &RunOptions,
) -> Result<(Scenario, limits::Layout, Vec<std::net::IpAddr>), String> {
    let mut s = load(file).map_err(|e| e.to_string())?;
    apply_overrides(&mut s, &opts.overrides).map_err(|e| format!("{}: {e}", file.display()))?;
    let fd_limit = limits::raise_fd_limit();
    let reference = s.target.kind == TargetKind::Reference;
    // A shard holds its own slice of the buyers' sockets only.
    let connections = match opts.shard {
        Some(spec) => {
            check_shardable(&s, opts).map_err(|e| format!("{}: {e}", file.display()))?;
            crate::model::Slice::of(spec, s.closed_users()).len()
        }
        None => s.concurrent_connections(),
    };
    // An http target's server is not ours: only the buyers' sockets count.
    let wanted = match (reference, opts.overrides.placement) {
        (false, _) => Some(Placement::ChildProcesses),
        // Pausing or killing an instance needs a process of its own.
        (true, Some(Placement::InProcess)) if s.has_process_faults() => {
            return Err(format!(
                "{}: pause_instance and kill_instance act on server processes; leave out --placement in-process",
                file.display()
            ))
        }
        (true, _) if s.has_process_faults() => Some(Placement::ChildProcesses),
        (true, wanted) => wanted,
    };
    let layout = limits::layout(u64::from(connections), u64::from(s.server.instances), fd_limit, wanted)
        .map_err(|e| format!("{}: {e}", file.display()))?;
    check_layout(&s, &layout, opts).map_err(|e| format!("{}: {e}", file.display()))?;
    let loopback = reference || s.target.urls.iter().all(|u| is_loopback_url(u));
    limits::check_sources_are_local(&opts.source_addresses)?;
    let sources =
        limits::source_addresses(u64::from(connections), limits::ephemeral_ports(), loopback, &opts.source_addresses)
            .map_err(|e| format!("{}: {e}", file.display()))?;
    Ok((s, layout, sources))
}

/// What a run spread over processes cannot do, said before it starts.
fn check_layout(s: &Scenario, layout: &limits::Layout, opts: &RunOptions) -> Result<(), String> {
    let buyers = s.concurrent_connections();
    if layout.shards > 1 && opts.spread.is_none() {
        return Err(format!(
            "{buyers} buyers need {} processes here (open files per process: ulimit -n), and this command \
             cannot start shard processes; raise ulimit -n or run it with `flashbench run`",
            layout.shards
        ));
    }
    if layout.shards > 1 && opts.shard.is_some() {
        return Err(format!(
            "this shard's buyers need {} processes of their own here (ulimit -n); use more shards",
            layout.shards
        ));
    }
    if layout.shards > 1 && (s.arrival.mode != scenario::ArrivalMode::Burst || s.arrival.stream().is_some()) {
        return Err(format!(
            "{buyers} buyers need {} processes here (open files per process: ulimit -n), and a run over several \
             processes drives a burst (`arrival.mode: burst`, no `background`) only; use fewer buyers",
            layout.shards
        ));
    }
    if layout.workers > 1 && s.target.kind == TargetKind::Reference && !s.server.backend.shares_store() {
        return Err(format!(
            "{buyers} buyers need {} server processes per instance here (ulimit -n), but the `{}` backend keeps \
             its stock inside one process; use sqlite, postgres or redis, or more `instances`",
            layout.workers,
            s.server.backend.name()
        ));
    }
    Ok(())
}

/// Whether `url`'s host is this machine's loopback (`localhost`, 127.0.0.0/8, `::1`).
fn is_loopback_url(url: &str) -> bool {
    let host = url.split("://").nth(1).unwrap_or(url).split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Checks every file of a suite before the first runs: all the errors, or nothing.
pub fn preflight(files: &[PathBuf], opts: &RunOptions) -> Vec<String> {
    files.iter().filter_map(|f| prepare_with_sources(f, opts).err()).collect()
}

/// What `--shard` needs of a scenario: a user's server (each shard would otherwise start a
/// reference server, and a store, of its own), one burst without a background stream, one
/// repetition.
pub fn check_shardable(s: &Scenario, opts: &RunOptions) -> Result<(), String> {
    if s.target.kind != TargetKind::Http {
        return Err("--shard needs `target.kind: http` (a server every shard reaches); the reference server \
                    would be started by each shard with a store of its own"
            .into());
    }
    if s.arrival.mode != ArrivalMode::Burst || s.arrival.stream().is_some() {
        return Err("--shard drives a burst (`arrival.mode: burst`, no `background`) only".into());
    }
    if opts.repeat.unwrap_or(s.repeat) > 1 {
        return Err("--shard runs one repetition; leave out `repeat`".into());
    }
    if !s.faults.is_empty() {
        // Each shard would set every fault off on its own: run them from one place instead.
        return Err("--shard sets off no `faults:` (each shard would run them all); leave them out and run \
                    your faults beside the shards, or run without --shard"
            .into());
    }
    Ok(())
}
