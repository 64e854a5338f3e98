//! Lines for people shared by the terminal, HTML and Markdown reports: the open stream,
//! fairness, the shards and the faults of a run.

use crate::model::{FaultRecord, ShardSummary, Summary};

/// The open stream and fairness, one line each, for the terminal, HTML and Markdown.
pub fn load(s: &Summary) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(st) = &s.stream {
        out.push(format!(
            "stream: {} arrivals, {} dropped ({:.2}%) for want of a free slot of {}; at most {} requests in flight",
            st.arrivals,
            st.dropped,
            st.dropped_rate * 100.0,
            st.max_in_flight,
            st.peak_in_flight
        ));
    }
    let f = &s.fairness;
    if f.worst_rank_of_a_winner > 0 || f.inversions > 0 {
        out.push(format!(
            "fairness: {} FCFS inversion{} (a refusal before a later buyer's winning request); worst arrival rank of a winner {}",
            f.inversions,
            if f.inversions == 1 { "" } else { "s" },
            f.worst_rank_of_a_winner
        ));
    }
    out.extend(shards(&s.shards));
    // The charts' origin: the stream's start, else the release (else the run's epoch).
    let origin_us = s.stream.as_ref().and_then(|st| st.start_us).or(s.release_us).unwrap_or(0);
    out.extend(faults(&s.faults, origin_us as f64 / 1000.0));
    out
}

/// Shards shown one per line at most; the rest are summed up in one.
const SHARD_LINES: usize = 16;

/// The shards of a run for people: one line for all, then one per shard.
pub fn shards(shards: &[ShardSummary]) -> Vec<String> {
    let Some(latest) = shards.iter().max_by_key(|s| s.late_us.unwrap_or(0)) else { return Vec::new() };
    let ms = |us: u64| format!("{:.1} ms", us as f64 / 1000.0);
    let clock = match shards[0].clock_used.as_str() {
        "monotonic" => "on one machine's monotonic clock".to_string(),
        _ => format!(
            "on their wall clocks: their skew includes the machines' clock offsets ({})",
            shards.iter().map(|s| format!("shard {}: {}", s.shard, s.clock.describe())).collect::<Vec<_>>().join("; ")
        ),
    };
    let mut out = vec![format!(
        "shards: {} processes merged {clock}; the latest began its release {} after the instant (shard {})",
        shards.len(),
        ms(latest.late_us.unwrap_or(0)),
        latest.shard
    )];
    for s in shards.iter().take(SHARD_LINES) {
        out.push(format!(
            "  shard {}: buyers {}..{} on {} (pid {}), {} attempts, {}, send skew p50 {} p99 {} max {}",
            s.shard,
            s.buyers[0],
            s.buyers[1],
            s.host,
            s.pid,
            s.attempts,
            s.late_us.map_or("never released".to_string(), |l| format!("released {} late", ms(l))),
            ms(s.send_skew_us.p50),
            ms(s.send_skew_us.p99),
            ms(s.send_skew_us.max)
        ));
    }
    if shards.len() > SHARD_LINES {
        out.push(format!("  … and {} more shards (summary.json `shards`)", shards.len() - SHARD_LINES));
    }
    out
}

/// One line per fault for the terminal, HTML and Markdown: what it acted on, when (ms since the
/// charts' origin, `origin_ms` on the ledger's clock) and what the load saw.
pub fn faults(records: &[FaultRecord], origin_ms: f64) -> Vec<String> {
    let at = |us: u64| format!("{:.0} ms", us as f64 / 1000.0 - origin_ms);
    records
        .iter()
        .map(|r| {
            let when = match (r.start_us, r.end_us) {
                (None, _) => "never came".to_string(),
                (Some(s), Some(e)) if e > s + 1000 => format!("{} to {}", at(s), at(e)),
                (Some(s), _) => format!("at {}", at(s)),
            };
            let mut line = format!("fault {} on {}: {when}", r.kind, r.target);
            if let Some(d) = &r.detail {
                line.push_str(&format!("; {d}"));
            }
            if let Some(e) = &r.effect {
                line.push_str(&format!(
                    "; {} attempts from its start to one request timeout after its end: {} won, {} failed, {} timed out",
                    e.attempts, e.won, e.failed, e.timeouts
                ));
                if e.not_sent > 0 {
                    line.push_str(&format!(", {} not sent (no connection)", e.not_sent));
                }
                if let Some(lost) = e.orders_lost {
                    line.push_str(&format!(", {lost} acknowledged orders lost"));
                }
            }
            if let Some(e) = &r.error {
                line.push_str(&format!("; could not act: {e}"));
            }
            line
        })
        .collect()
}
