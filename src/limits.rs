//! The machine's limits that shape a big burst, checked before anything starts: open files
//! per process (every buyer holds a socket, and an in-process server one more) and ephemeral
//! ports (one per buyer connection). Too big a run is refused with a plain explanation.

use std::fmt;

/// File descriptors kept free for everything that is not a buyer's socket.
pub const FD_RESERVE: u64 = 512;

/// Where the reference server runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Placement {
    /// On flashbench's own runtime: two sockets per buyer in one process.
    #[value(name = "in-process")]
    InProcess,
    /// As `flashbench serve` child processes: each process holds one side of the sockets.
    #[value(name = "child")]
    ChildProcesses,
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Placement::InProcess => "in-process",
            Placement::ChildProcesses => "child processes",
        })
    }
}

/// Raises the soft open-files limit to the hard limit; returns the limit now in force.
pub fn raise_fd_limit() -> u64 {
    rlimit::increase_nofile_limit(u64::MAX)
        .unwrap_or_else(|_| rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft))
}

/// How many ephemeral ports one source address has (`ip_local_port_range`).
pub fn ephemeral_ports() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = text.split_whitespace().map(|t| t.parse::<u64>());
    match (it.next(), it.next()) {
        (Some(Ok(lo)), Some(Ok(hi))) if hi >= lo => Some(hi - lo + 1),
        _ => None,
    }
}

/// Chooses where the server runs for `buyers` over `instances` (honouring `wanted` when it
/// fits), or explains why it cannot.
pub fn place(
    buyers: u64,
    instances: u64,
    fd_limit: u64,
    ports: Option<u64>,
    wanted: Option<Placement>,
) -> Result<Placement, String> {
    if let Some(ports) = ports {
        if buyers > ports {
            return Err(format!(
                "{buyers} buyers need {buyers} client ports, but this machine has {ports} ephemeral ports \
                 (net.ipv4.ip_local_port_range); use at most {ports} buyers"
            ));
        }
    }
    let in_process_fits = 2 * buyers + FD_RESERVE * instances.max(1) <= fd_limit;
    if in_process_fits && wanted != Some(Placement::ChildProcesses) {
        return Ok(Placement::InProcess);
    }
    let per_server = buyers.div_ceil(instances.max(1)) + FD_RESERVE;
    if buyers + FD_RESERVE <= fd_limit && per_server <= fd_limit {
        if wanted == Some(Placement::InProcess) {
            return Err(format!(
                "{buyers} buyers in one process with the server need {} open files, but a process may open {fd_limit} \
                 here (ulimit -n); leave --placement to choose child processes, or use fewer buyers",
                2 * buyers + FD_RESERVE
            ));
        }
        return Ok(Placement::ChildProcesses);
    }
    Err(format!(
        "{buyers} buyers need {buyers} open sockets in flashbench alone (plus {FD_RESERVE} spare), but a process \
         may open at most {fd_limit} files here (ulimit -n; the hard limit caps it); use at most {} buyers, \
         or raise the hard limit",
        fd_limit.saturating_sub(FD_RESERVE)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_by_the_socket_budget() {
        let ports = Some(28_232);
        assert_eq!(place(1500, 1, 20_000, ports, None), Ok(Placement::InProcess));
        assert_eq!(place(9_000, 1, 20_000, ports, None), Ok(Placement::InProcess));
        assert_eq!(place(10_000, 1, 20_000, ports, None), Ok(Placement::ChildProcesses));
        assert_eq!(place(1500, 1, 20_000, ports, Some(Placement::ChildProcesses)), Ok(Placement::ChildProcesses));
        assert!(place(10_000, 1, 20_000, ports, Some(Placement::InProcess)).is_err_and(|e| e.contains("--placement")));
        assert!(place(19_800, 1, 20_000, ports, None).is_err_and(|e| e.contains("at most 19488 buyers")));
        assert!(place(30_000, 1, 100_000, ports, None).is_err_and(|e| e.contains("ephemeral ports")));
    }
}
