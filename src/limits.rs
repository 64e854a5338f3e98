//! The machine's limits that shape a big burst, checked before anything starts: open files
//! per process (every buyer holds a socket, and an in-process server one more) and ephemeral
//! ports (one per buyer connection and source address: past one address's ports, buyers bind
//! other source addresses, 127.0.0.2, 127.0.0.3, … on loopback or `--source-addresses`).
//! Too big a run is refused with a plain explanation.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

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

/// Most source addresses one run may use.
pub const MAX_SOURCES: usize = 1024;

/// The source addresses buyers bind so that every connection gets a port: none (the kernel's
/// choice, as for any client) while one address's `ports` suffice; on a loopback target as
/// many of 127.0.0.2, 127.0.0.3, … as needed (Linux routes all of 127.0.0.0/8 to `lo`);
/// `given` (`--source-addresses`) always, when enough.
pub fn source_addresses(
    connections: u64,
    ports: Option<u64>,
    loopback: bool,
    given: &[IpAddr],
) -> Result<Vec<IpAddr>, String> {
    let Some(ports) = ports.filter(|p| *p > 0) else { return Ok(given.to_vec()) };
    let needed = connections.div_ceil(ports);
    if !given.is_empty() {
        if needed > given.len() as u64 {
            return Err(format!(
                "{connections} connections need {needed} source addresses of {ports} ephemeral ports each \
                 (net.ipv4.ip_local_port_range), but --source-addresses gives {}; add addresses of this machine",
                given.len()
            ));
        }
        return Ok(given.to_vec());
    }
    if needed <= 1 {
        return Ok(Vec::new());
    }
    if !loopback {
        return Err(format!(
            "{connections} connections need {connections} client ports, but one source address has {ports} \
             ephemeral ports (net.ipv4.ip_local_port_range); give {needed} or more of this machine's addresses \
             with --source-addresses (a list or a CIDR), or use at most {ports} buyers"
        ));
    }
    if needed > 250 {
        return Err(format!("{connections} connections need {needed} loopback source addresses; at most 250 are used"));
    }
    Ok((0..needed as u8).map(|i| IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i))).collect())
}

/// The addresses of `--source-addresses`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceList(pub Vec<IpAddr>);

/// `--source-addresses`, for clap.
pub fn parse_source_list(text: &str) -> Result<SourceList, String> {
    parse_sources(text).map(SourceList)
}

/// `--source-addresses`: addresses separated by commas, or one IPv4 CIDR block (its host
/// addresses; a /31 or /32 as given).
pub fn parse_sources(text: &str) -> Result<Vec<IpAddr>, String> {
    let text = text.trim();
    let list: Vec<IpAddr> = if let Some((net, bits)) = text.split_once('/') {
        let net: Ipv4Addr =
            net.trim().parse().map_err(|_| format!("{text:?}: {net:?} is not an IPv4 address (a CIDR is IPv4)"))?;
        let bits: u32 =
            bits.trim().parse().ok().filter(|b| *b <= 32).ok_or(format!("{text:?}: the prefix must be 0 to 32"))?;
        let size = 1u64 << (32 - bits);
        let base = u32::from(net) & if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
        let hosts: Box<dyn Iterator<Item = u64>> = if size <= 2 { Box::new(0..size) } else { Box::new(1..size - 1) };
        hosts.take(MAX_SOURCES + 1).map(|i| IpAddr::V4(Ipv4Addr::from(base + i as u32))).collect()
    } else {
        text.split(',')
            .map(|a| a.trim().parse::<IpAddr>().map_err(|_| format!("{:?} is not an IP address", a.trim())))
            .collect::<Result<_, _>>()?
    };
    if list.is_empty() {
        return Err("no address given".into());
    }
    if list.len() > MAX_SOURCES {
        return Err(format!("{text:?}: more than {MAX_SOURCES} addresses"));
    }
    Ok(list)
}

/// Checks that each address is this machine's (a socket can be bound to it).
pub fn check_sources_are_local(sources: &[IpAddr]) -> Result<(), String> {
    for ip in sources {
        if let Err(e) = std::net::TcpListener::bind((*ip, 0)) {
            return Err(format!(
                "--source-addresses: {ip} cannot be bound here ({e}): not an address of this machine?"
            ));
        }
    }
    Ok(())
}

/// How a run is spread over processes so that none needs more open files than it may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub placement: Placement,
    /// Harness processes: 1 (this one), or `flashbench shard` children each driving a slice.
    pub shards: u32,
    /// `flashbench serve` processes per server instance, all on the instance's store.
    pub workers: u32,
}

/// Lays out `connections` buyer connections over `instances` server instances: in this process
/// while one process holds both ends; the server in child processes while this one holds the
/// buyers' ends; past that, the buyers split over shard processes and each instance over
/// several worker processes, each within `fd_limit`.
pub fn layout(connections: u64, instances: u64, fd_limit: u64, wanted: Option<Placement>) -> Result<Layout, String> {
    let per_process = fd_limit.saturating_sub(FD_RESERVE).max(1);
    if connections + FD_RESERVE <= fd_limit {
        let placement = place(connections, instances, fd_limit, wanted)?;
        return Ok(Layout { placement, shards: 1, workers: 1 });
    }
    if wanted == Some(Placement::InProcess) {
        return Err(format!(
            "{connections} buyers need {connections} open sockets on each side, but a process may open {fd_limit}              files here (ulimit -n); leave --placement to spread them over processes"
        ));
    }
    let shards = connections.div_ceil(per_process);
    let workers = connections.div_ceil(instances.max(1)).div_ceil(per_process);
    if shards > u64::from(crate::model::MAX_SHARDS) {
        return Err(format!(
            "{connections} buyers would need {shards} processes; at most {}",
            crate::model::MAX_SHARDS
        ));
    }
    Ok(Layout { placement: Placement::ChildProcesses, shards: shards as u32, workers: workers as u32 })
}

/// Chooses where the server runs for `buyers` over `instances` (honouring `wanted` when it
/// fits), or explains why it cannot.
pub fn place(buyers: u64, instances: u64, fd_limit: u64, wanted: Option<Placement>) -> Result<Placement, String> {
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
        assert_eq!(place(1500, 1, 20_000, None), Ok(Placement::InProcess));
        assert_eq!(place(9_000, 1, 20_000, None), Ok(Placement::InProcess));
        assert_eq!(place(10_000, 1, 20_000, None), Ok(Placement::ChildProcesses));
        assert_eq!(place(1500, 1, 20_000, Some(Placement::ChildProcesses)), Ok(Placement::ChildProcesses));
        assert!(place(10_000, 1, 20_000, Some(Placement::InProcess)).is_err_and(|e| e.contains("--placement")));
        assert!(place(19_800, 1, 20_000, None).is_err_and(|e| e.contains("at most 19488 buyers")));
        // Ports no longer cap the placement: source addresses do (below).
        assert_eq!(place(30_000, 1, 100_000, None), Ok(Placement::InProcess));
    }

    #[test]
    fn bursts_past_one_process_spread_over_shards_and_workers() {
        let one = |placement| Ok(Layout { placement, shards: 1, workers: 1 });
        assert_eq!(layout(1500, 1, 20_000, None), one(Placement::InProcess));
        assert_eq!(layout(10_000, 1, 20_000, None), one(Placement::ChildProcesses));
        assert_eq!(layout(19_488, 1, 20_000, None), one(Placement::ChildProcesses));
        let big = layout(100_000, 1, 20_000, None);
        assert_eq!(big, Ok(Layout { placement: Placement::ChildProcesses, shards: 6, workers: 6 }));
        // Instances share the server's sockets: 4 instances of 25,000 need 2 workers each.
        assert_eq!(layout(100_000, 4, 20_000, None).map(|l| (l.shards, l.workers)), Ok((6, 2)));
        assert!(layout(30_000, 1, 20_000, Some(Placement::InProcess)).is_err_and(|e| e.contains("--placement")));
        assert_eq!(layout(2_000, 1, 1_200, None).map(|l| (l.shards, l.workers)), Ok((3, 3)), "a low ulimit");
    }

    #[test]
    fn buyers_past_one_addresss_ports_bind_more_source_addresses() {
        let ports = Some(28_232);
        assert_eq!(source_addresses(28_232, ports, true, &[]), Ok(vec![]), "one address suffices: unbound");
        let two = source_addresses(30_000, ports, true, &[]).expect("loopback");
        assert_eq!(two, parse_sources("127.0.0.2,127.0.0.3").expect("list"));
        assert_eq!(source_addresses(100_000, ports, true, &[]).map(|v| v.len()), Ok(4));
        assert!(source_addresses(30_000, ports, false, &[]).is_err_and(|e| e.contains("--source-addresses")));
        let given = parse_sources("10.0.0.5, 10.0.0.6").expect("list");
        assert_eq!(source_addresses(30_000, ports, false, &given), Ok(given.clone()));
        assert!(source_addresses(60_000, ports, false, &given).is_err_and(|e| e.contains("need 3 source addresses")));
        assert_eq!(source_addresses(10, None, true, &[]), Ok(vec![]), "unknown port range: the kernel's choice");
    }

    #[test]
    fn source_address_lists_and_cidr_blocks_parse() {
        assert_eq!(parse_sources("10.0.1.16/30").map(|v| v.len()), Ok(2), "hosts of a /30");
        assert_eq!(
            parse_sources("10.0.1.17/32").map(|v| v.iter().map(|a| a.to_string()).collect::<Vec<_>>()),
            Ok(vec!["10.0.1.17".to_string()])
        );
        assert_eq!(
            parse_sources("10.0.0.0/24").map(|v| (v.len(), v[0].to_string())),
            Ok((254, "10.0.0.1".to_string()))
        );
        assert!(parse_sources("10.0.0.0/16").is_err_and(|e| e.contains("more than 1024")));
        assert!(parse_sources("10.0.0.1,nope").is_err_and(|e| e.contains("\"nope\" is not an IP address")));
        assert!(parse_sources("::1/64").is_err_and(|e| e.contains("IPv4")));
        assert!(check_sources_are_local(&parse_sources("127.0.0.2,127.0.0.3").unwrap_or_default()).is_ok());
        assert!(
            check_sources_are_local(&parse_sources("192.0.2.77").unwrap_or_default()).is_err(),
            "TEST-NET is nobody's"
        );
    }
}
