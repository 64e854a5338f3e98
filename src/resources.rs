//! Memory of the processes a run is made of, read from `/proc/<pid>/status` (Linux): the
//! resident set before the load and its high-water mark after, for flashbench itself and for
//! the reference server's child processes, so a run reports what each buyer connection costs
//! on the client and the server side (absent where `/proc` cannot be read); and the machine
//! the run runs on.

use crate::model::Environment;

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

/// Where the run runs, detected once per process: the machine and checkout do not change between runs.
pub fn environment() -> Environment {
    static ONCE: std::sync::OnceLock<Environment> = std::sync::OnceLock::new();
    ONCE.get_or_init(probe).clone()
}

fn probe() -> Environment {
    let git_revision = std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|r| !r.is_empty());
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory_bytes = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<u64>().ok())
        .map(|kb| kb * 1024);
    Environment {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        cpu,
        memory_bytes,
        flashbench_version: env!("CARGO_PKG_VERSION").into(),
        git_revision,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Resources, Side};

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
