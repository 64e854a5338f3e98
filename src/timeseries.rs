//! The run over time: per interval (100 ms unless the scenario says `timeseries_interval`),
//! requests sent, answers by outcome, arrivals dropped, requests in flight, latency p50/p99 of
//! the answers, and each product's stock as the monitor last saw it. Computed from the ledger
//! after the run (so it costs the load nothing), written as `timeseries.csv` and drawn by the
//! over-time charts. Time is in ms from the same origin as every chart: the stream's start,
//! else the burst's release, else the first send.

use crate::model::Ledger;
use crate::model::Outcome;
use std::time::Duration;

pub const TIMESERIES_CSV: &str = "timeseries.csv";
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(crate::model::summary::DEFAULT_INTERVAL_MS);
/// Rows at most: a longer run gets wider intervals, so the file stays small.
pub const MAX_ROWS: usize = 100_000;

/// One interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Start of the interval, ms from the origin.
    pub t_ms: f64,
    pub sent: u64,
    /// Answers in the interval, indexed by [`Outcome::index`].
    pub answers: [u64; Outcome::ALL.len()],
    pub dropped: u64,
    /// Requests sent and not yet answered at the end of the interval.
    pub in_flight: u64,
    /// Latency (intended start → answer) of the interval's answers, µs; `None` without answers.
    pub latency_p50_us: Option<u64>,
    pub latency_p99_us: Option<u64>,
    /// Each product's stock, the last sample in or before the interval (lowest across instances).
    pub stock: Vec<Option<i64>>,
}

impl Row {
    pub fn answered(&self) -> u64 {
        self.answers.iter().sum()
    }
}

/// The time origin of a ledger, µs since its epoch: stream start, release, or first send.
pub fn origin_us(ledger: &Ledger) -> u64 {
    let first = ledger.attempts.iter().map(|a| a.sent_us).min().unwrap_or(0);
    ledger.stream_start_us.or(ledger.release_us).unwrap_or(first)
}

/// The series of `ledger` (one repetition's) in intervals of `interval`.
pub fn compute(ledger: &Ledger, interval: Duration) -> Vec<Row> {
    let t0 = origin_us(ledger) as i64;
    let mut lo = i64::MAX;
    let mut hi = i64::MIN;
    for a in &ledger.attempts {
        lo = lo.min(a.sent_us as i64 - t0).min(a.intended_us as i64 - t0);
        hi = hi.max(a.done_us as i64 - t0);
    }
    for d in &ledger.dropped {
        lo = lo.min(d.intended_us as i64 - t0);
        hi = hi.max(d.intended_us as i64 - t0);
    }
    if lo > hi {
        return Vec::new();
    }
    let span = (hi - lo).max(1) as u64;
    let mut width = (interval.as_micros() as u64).max(1);
    while span / width >= MAX_ROWS as u64 {
        width *= 2;
    }
    // Intervals start on multiples of the width from the origin.
    let first = lo.div_euclid(width as i64);
    let n = (hi.div_euclid(width as i64) - first + 1) as usize;
    let slot = |us: u64| ((us as i64 - t0).div_euclid(width as i64) - first).clamp(0, n as i64 - 1) as usize;
    let products = ledger.products.len();
    let mut rows: Vec<Row> = (0..n)
        .map(|i| Row {
            t_ms: ((first + i as i64) * width as i64) as f64 / 1000.0,
            sent: 0,
            answers: [0; Outcome::ALL.len()],
            dropped: 0,
            in_flight: 0,
            latency_p50_us: None,
            latency_p99_us: None,
            stock: vec![None; products],
        })
        .collect();
    let mut latencies: Vec<Vec<u64>> = vec![Vec::new(); n];
    let mut delta = vec![0i64; n + 1];
    for a in &ledger.attempts {
        if a.outcome.was_sent() {
            rows[slot(a.sent_us)].sent += 1;
            // In flight at the end of every interval from its send's to before its answer's.
            let (s, d) = (slot(a.sent_us), slot(a.done_us));
            delta[s] += 1;
            delta[d] -= 1;
        }
        rows[slot(a.done_us)].answers[a.outcome.index()] += 1;
        latencies[slot(a.done_us)].push(a.latency_us());
    }
    for d in &ledger.dropped {
        rows[slot(d.intended_us)].dropped += 1;
    }
    let mut flying = 0i64;
    for (i, row) in rows.iter_mut().enumerate() {
        flying += delta[i];
        row.in_flight = flying.max(0) as u64;
        let l = &mut latencies[i];
        if !l.is_empty() {
            l.sort_unstable();
            let pick = |p: f64| l[((p * l.len() as f64).ceil() as usize).clamp(1, l.len()) - 1];
            row.latency_p50_us = Some(pick(0.50));
            row.latency_p99_us = Some(pick(0.99));
        }
    }
    fill_stock(ledger, &mut rows, slot);
    rows
}

/// Each row's stock: per product, the lowest sampled in its interval, else the last before.
fn fill_stock(ledger: &Ledger, rows: &mut [Row], slot: impl Fn(u64) -> usize) {
    let products = ledger.products.len();
    let mut samples: Vec<_> = ledger.stock_samples.iter().collect();
    samples.sort_by_key(|s| s.t_us);
    let mut last: Vec<Option<i64>> = vec![None; products];
    let mut next = samples.iter().peekable();
    for (i, row) in rows.iter_mut().enumerate() {
        let mut seen: Vec<Option<i64>> = vec![None; products];
        while let Some(s) = next.next_if(|s| slot(s.t_us) <= i) {
            if let Some(v) = seen.get_mut(s.product as usize) {
                *v = Some(v.map_or(s.stock, |old: i64| old.min(s.stock)));
            }
        }
        for (p, v) in seen.into_iter().enumerate() {
            if v.is_some() {
                last[p] = v;
            }
        }
        row.stock.clone_from(&last);
    }
}

/// `timeseries.csv`: one line per interval.
pub fn to_csv(ledger: &Ledger, rows: &[Row]) -> Vec<u8> {
    let mut out = String::from("t_ms,sent,answered");
    for o in Outcome::ALL {
        out.push(',');
        out.push_str(o.name());
    }
    out.push_str(",dropped,in_flight,latency_p50_ms,latency_p99_ms");
    for p in &ledger.products {
        out.push_str(",stock_");
        out.push_str(&p.replace([',', '"', '\n', '\r'], "_"));
    }
    out.push('\n');
    let ms = |v: Option<u64>| v.map_or(String::new(), |us| format!("{:.3}", us as f64 / 1000.0));
    for r in rows {
        out.push_str(&format!("{},{},{}", r.t_ms, r.sent, r.answered()));
        for n in r.answers {
            out.push_str(&format!(",{n}"));
        }
        out.push_str(&format!(",{},{},{},{}", r.dropped, r.in_flight, ms(r.latency_p50_us), ms(r.latency_p99_us)));
        for s in &r.stock {
            out.push(',');
            if let Some(v) = s {
                out.push_str(&v.to_string());
            }
        }
        out.push('\n');
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Attempt, Dropped, StockSample};

    fn at(buyer: u32, sent: u64, done: u64, outcome: Outcome) -> Attempt {
        Attempt { done_us: done, ..crate::fixtures::attempt(buyer, outcome, sent) }
    }

    #[test]
    fn intervals_count_sends_answers_in_flight_drops_and_stock() {
        let ledger = Ledger {
            products: vec!["p".into()],
            stream_start_us: Some(1_000_000),
            attempts: vec![
                at(0, 1_000_000, 1_050_000, Outcome::Won),
                at(1, 1_020_000, 1_250_000, Outcome::SoldOut),
                at(2, 1_150_000, 1_160_000, Outcome::SoldOut),
            ],
            dropped: vec![Dropped { repetition: 1, buyer: 3, product: 0, intended_us: 1_160_000 }],
            stock_samples: vec![
                StockSample { repetition: 1, t_us: 1_010_000, product: 0, instance: 0, stock: 1 },
                StockSample { repetition: 1, t_us: 1_060_000, product: 0, instance: 0, stock: 0 },
            ],
            ..Ledger::default()
        };
        let rows = compute(&ledger, Duration::from_millis(100));
        assert_eq!(rows.len(), 3, "{rows:?}");
        assert_eq!(rows.iter().map(|r| r.t_ms).collect::<Vec<_>>(), [0.0, 100.0, 200.0]);
        assert_eq!(rows.iter().map(|r| r.sent).collect::<Vec<_>>(), [2, 1, 0]);
        assert_eq!(rows.iter().map(Row::answered).collect::<Vec<_>>(), [1, 1, 1]);
        assert_eq!(rows.iter().map(|r| r.in_flight).collect::<Vec<_>>(), [1, 1, 0]);
        assert_eq!(rows.iter().map(|r| r.dropped).collect::<Vec<_>>(), [0, 1, 0]);
        assert_eq!(rows.iter().map(|r| r.stock[0]).collect::<Vec<_>>(), [Some(0), Some(0), Some(0)]);
        assert_eq!(rows[0].latency_p99_us, Some(50_000));
        let csv = String::from_utf8(to_csv(&ledger, &rows)).expect("utf-8");
        assert!(csv.starts_with("t_ms,sent,answered,won,"), "{csv}");
        assert!(csv.lines().nth(1).is_some_and(|l| l.starts_with("0,2,1,1,")), "{csv}");
    }

    #[test]
    fn a_long_run_gets_wider_intervals() {
        let ledger = Ledger {
            products: vec!["p".into()],
            attempts: vec![at(0, 0, 1_000, Outcome::Won), at(1, 0, 20_000_000_000, Outcome::Timeout)],
            ..Ledger::default()
        };
        assert!(compute(&ledger, Duration::from_millis(100)).len() <= MAX_ROWS);
    }
}
