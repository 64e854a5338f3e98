//! Memory of the processes a run is made of, read from `/proc/<pid>/status` (Linux): the
//! resident set before the load and its high-water mark after, for flashbench itself and for
//! the reference server's child processes, so a run reports what each buyer connection costs
//! on the client and the server side (absent where `/proc` cannot be read).

use serde::{Deserialize, Serialize};

/// `VmRSS` and `VmHWM` of process `pid` (`None`: this process), in bytes.
pub fn memory_of(pid: Option<u32>) -> Option<(u64, u64)> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/status"),
        None => "/proc/self/status".to_string(),
    };
    let text = std::fs::read_to_string(path).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Memory before the load and at its peak, for one side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Side {
    /// Resident set when the load began (buyers not yet connected).
    pub before_load_bytes: u64,
    /// Highest resident set reached (the kernel's high-water mark).
    pub peak_bytes: u64,
}

impl Side {
    /// Sums sides (several server processes).
    pub fn plus(self, other: Side) -> Side {
        Side {
            before_load_bytes: self.before_load_bytes + other.before_load_bytes,
            peak_bytes: self.peak_bytes + other.peak_bytes,
        }
    }

    /// What the load added, per connection.
    pub fn per_connection(self, connections: u64) -> Option<f64> {
        (connections > 0).then(|| self.peak_bytes.saturating_sub(self.before_load_bytes) as f64 / connections as f64)
    }
}

/// `summary.json`'s `resources`: the memory a run took.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resources {
    /// Buyer connections the load opened (buyers, and an open stream's slots).
    pub connections: u64,
    /// flashbench's own process (the harness; the server too when it runs in-process).
    pub flashbench: Side,
    /// The reference server's child processes together (absent in-process or for `http`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub servers: Option<Side>,
    /// flashbench's peak minus its size before the load, per connection: the client side
    /// (and the server side too when the server runs in-process).
    pub flashbench_bytes_per_connection: Option<f64>,
    /// The same for the child servers: the server side of each connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_bytes_per_connection: Option<f64>,
}

impl Resources {
    pub fn new(connections: u64, flashbench: Side, servers: Option<Side>) -> Self {
        Resources {
            connections,
            flashbench,
            servers,
            flashbench_bytes_per_connection: flashbench.per_connection(connections),
            server_bytes_per_connection: servers.and_then(|s| s.per_connection(connections)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_and_divides_what_the_load_added() {
        let (rss, hwm) = memory_of(None).expect("/proc/self/status on Linux");
        assert!(rss > 0 && hwm >= rss, "rss {rss}, hwm {hwm}");
        let side = Side { before_load_bytes: 10_000_000, peak_bytes: 23_000_000 };
        assert_eq!(side.per_connection(1000), Some(13_000.0));
        assert_eq!(side.per_connection(0), None);
        let r = Resources::new(1000, side, Some(side.plus(side)));
        assert_eq!(r.server_bytes_per_connection, Some(26_000.0));
        assert!(memory_of(Some(u32::MAX)).is_none(), "no such process");
    }
}
