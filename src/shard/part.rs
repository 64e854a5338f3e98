//! A shard's partial run folder: `part.json` (who it was, its slice of buyers, its clocks, how
//! its release went), its `ledger.csv` (and `stock.csv` for shard 0) and the resolved
//! `scenario.yaml`. It holds no verdict and no `summary.json`, so `report` and `compare`
//! refuse it; `flashbench merge` turns the parts into one run.

use crate::model::exit::Exit;
use crate::model::ClockSync;
use crate::model::Summary;
use crate::model::{Epoch, Ledger, Overrun};
use crate::report::ledger_files;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const PART_JSON: &str = "part.json";
/// The part format's version: `merge` refuses others.
pub const PART_VERSION: u32 = 1;

/// `part.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Part {
    pub version: u32,
    pub flashbench_version: String,
    pub scenario: String,
    pub shard: u32,
    pub of: u32,
    /// The buyers this shard drove: `[first, end)` of the scenario's.
    pub buyers: [u32; 2],
    /// The scenario's buyers, all shards together.
    pub total_buyers: u32,
    /// `{run}`, the same in every shard.
    pub run_tag: String,
    /// `--release-at`, as given (absent for shards a local parent released).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_at: Option<String>,
    pub started_at: String,
    /// The ledger's 0 on this machine's clocks.
    pub epoch: Epoch,
    /// This machine's boot: parts with the same one are merged on `CLOCK_MONOTONIC`.
    #[serde(default)]
    pub boot_id: Option<String>,
    /// The release instant on this part's clock, µs (absent when it never opened).
    #[serde(default)]
    pub release_us: Option<u64>,
    /// How late this shard's gate began writing after the release instant, µs.
    #[serde(default)]
    pub late_us: Option<u64>,
    /// The kernel's estimate of this machine's wall-clock error.
    pub clock: ClockSync,
    pub connect_failures: u32,
    pub late_buyers: u32,
    #[serde(default)]
    pub reconnected: u32,
    #[serde(default)]
    pub early_answers: u32,
    #[serde(default)]
    pub overrun: Option<Overrun>,
    pub host: String,
    pub pid: u32,
    /// This process's peak resident memory (VmHWM), bytes.
    #[serde(default)]
    pub peak_rss_bytes: Option<u64>,
    pub duration_ms: u64,
    /// 0 when the shard ran its load; 4 when its environment failed; 130/143 when stopped.
    pub exit_code: Exit,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl Part {
    /// The part of shard `spec` of `scenario`, as it starts: who and where it is, its clocks.
    pub fn start(
        scenario: &str,
        spec: crate::model::ShardSpec,
        slice: crate::model::Slice,
        total_buyers: u32,
        run_tag: &str,
        release_at: Option<String>,
    ) -> Part {
        Part {
            version: PART_VERSION,
            flashbench_version: env!("CARGO_PKG_VERSION").into(),
            scenario: scenario.to_string(),
            shard: spec.index,
            of: spec.of,
            buyers: [slice.first, slice.end],
            total_buyers,
            run_tag: run_tag.to_string(),
            release_at,
            started_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            epoch: crate::clock::epoch_at(std::time::Instant::now()),
            boot_id: crate::clock::boot_id(),
            release_us: None,
            late_us: None,
            clock: crate::clock::sync(),
            connect_failures: 0,
            late_buyers: 0,
            reconnected: 0,
            early_answers: 0,
            overrun: None,
            host: host_name(),
            pid: std::process::id(),
            peak_rss_bytes: None,
            duration_ms: 0,
            exit_code: Exit::Pass,
            error: None,
        }
    }

    /// What the shard's load gave: its clock, its release, its counts; its exit code is the
    /// stop's when one was asked for.
    pub fn finish(&mut self, ledger: &Ledger, started: std::time::Instant) {
        if let Some(epoch) = ledger.epoch {
            self.epoch = epoch;
        }
        self.release_us = ledger.release_us;
        self.late_us = ledger.release_late_us;
        self.connect_failures = ledger.connect_failures;
        self.late_buyers = ledger.late_buyers;
        self.reconnected = ledger.reconnected;
        self.early_answers = ledger.early_answers;
        self.overrun = ledger.overrun;
        self.duration_ms = started.elapsed().as_millis() as u64;
        self.peak_rss_bytes = crate::resources::memory_of(None).map(|(_, peak)| peak);
        if let Some(signal) = crate::interrupt::requested() {
            self.exit_code = signal.exit_code();
            self.error = Some(format!("interrupted by {}", signal.name()));
        }
    }

    /// The shard could not run its load (exit 4).
    pub fn failed(&mut self, error: &str, started: std::time::Instant) {
        self.exit_code = Exit::Environment;
        self.error = Some(error.to_string());
        self.duration_ms = started.elapsed().as_millis() as u64;
        self.peak_rss_bytes = crate::resources::memory_of(None).map(|(_, peak)| peak);
    }
}

/// The machine's name, for people reading a part.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

/// Writes a part folder; `part.json` last, so it exists only once the rest is on disk.
pub fn write(dir: &Path, part: &Part, ledger: &Ledger, scenario_yaml: &str) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    ledger_files::write(dir, ledger)?;
    let scenario_yaml = crate::redact::redact_urls_in(scenario_yaml);
    crate::folder::write_atomic(&dir.join(crate::folder::SCENARIO_YAML), scenario_yaml.as_bytes())?;
    let json = serde_json::to_vec_pretty(part).map_err(std::io::Error::other)?;
    crate::folder::write_atomic(&dir.join(PART_JSON), &json)
}

/// A part folder read back.
#[derive(Debug, Clone)]
pub struct ReadPart {
    pub dir: PathBuf,
    pub part: Part,
    pub ledger: Ledger,
    pub scenario_yaml: String,
}

/// Reads a part folder; the error says what is wrong with it.
pub fn read(dir: &Path) -> Result<ReadPart, String> {
    let at = dir.display();
    let path = dir.join(PART_JSON);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        if dir.join(crate::folder::SUMMARY_JSON).exists() {
            format!("{at}: a finished run's folder (summary.json), not a shard's part")
        } else {
            format!("{at}: no {PART_JSON} ({e}); did this shard finish?")
        }
    })?;
    let part: Part = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    if part.version != PART_VERSION {
        return Err(format!("{}: part format {} (this flashbench reads {PART_VERSION})", path.display(), part.version));
    }
    let scenario_yaml = std::fs::read_to_string(dir.join(crate::folder::SCENARIO_YAML))
        .map_err(|e| format!("{at}: cannot read {}: {e}", crate::folder::SCENARIO_YAML))?;
    // The ledger reader takes what it needs beyond the rows from a summary.
    let mut frame = Summary::empty();
    frame.buyers = part.total_buyers;
    frame.release_us = part.release_us;
    frame.connect_failures = part.connect_failures;
    frame.late_buyers = part.late_buyers;
    frame.overrun = part.overrun;
    frame.reconnected = part.reconnected;
    frame.early_answers = part.early_answers;
    let mut ledger = ledger_files::read(dir, &frame).map_err(|e| format!("{at}: {e}"))?;
    ledger.epoch = Some(part.epoch);
    ledger.release_late_us = part.late_us;
    Ok(ReadPart { dir: dir.to_path_buf(), part, ledger, scenario_yaml })
}
