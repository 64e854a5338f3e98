//! The ledger on disk, compact and readable anywhere: `ledger.csv` (one row per attempt),
//! `stock.csv` (one row per stock sample) and, for an open stream that dropped arrivals,
//! `dropped.csv` (one row per dropped arrival). With `summary.json` they are all `flashbench
//! report` needs to render every artifact again.

use crate::model::Summary;
use crate::model::{Attempt, Dropped, Ledger, StockSample};
use std::path::Path;

pub const LEDGER_CSV: &str = "ledger.csv";
pub const STOCK_CSV: &str = "stock.csv";
pub const DROPPED_CSV: &str = "dropped.csv";

fn to_io(e: csv::Error) -> std::io::Error {
    std::io::Error::other(e)
}

fn write_rows<T: serde::Serialize>(path: &Path, rows: &[T]) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(rows.len() * 64));
    for r in rows {
        w.serialize(r).map_err(to_io)?;
    }
    let bytes = w.into_inner().map_err(|e| std::io::Error::other(e.to_string()))?;
    crate::folder::write_atomic(path, &bytes)
}

fn read_rows<T: serde::de::DeserializeOwned>(path: &Path) -> std::io::Result<Vec<T>> {
    let mut r = csv::Reader::from_path(path).map_err(to_io)?;
    r.deserialize()
        .collect::<Result<Vec<T>, _>>()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))
}

/// Writes `ledger.csv` and `stock.csv` into `dir`.
pub fn write(dir: &Path, ledger: &Ledger) -> std::io::Result<()> {
    write_rows::<Attempt>(&dir.join(LEDGER_CSV), &ledger.attempts)?;
    write_rows::<StockSample>(&dir.join(STOCK_CSV), &ledger.stock_samples)?;
    if !ledger.dropped.is_empty() {
        write_rows::<Dropped>(&dir.join(DROPPED_CSV), &ledger.dropped)?;
    }
    Ok(())
}

/// Reads the ledger of a run folder back, with what `summary.json` holds of it.
pub fn read(dir: &Path, summary: &Summary) -> std::io::Result<Ledger> {
    let attempts = read_rows::<Attempt>(&dir.join(LEDGER_CSV))?;
    let stock_path = dir.join(STOCK_CSV);
    let stock_samples = if stock_path.exists() { read_rows::<StockSample>(&stock_path)? } else { Vec::new() };
    let dropped_path = dir.join(DROPPED_CSV);
    let dropped = if dropped_path.exists() { read_rows::<Dropped>(&dropped_path)? } else { Vec::new() };
    Ok(Ledger {
        products: summary.products.iter().map(|p| p.id.clone()).collect(),
        buyers: summary.buyers,
        attempts,
        stock_samples,
        release_us: summary.release_us,
        connect_failures: summary.connect_failures,
        late_buyers: summary.late_buyers,
        overrun: summary.overrun,
        reconnected: summary.reconnected,
        early_answers: summary.early_answers,
        dropped,
        stream_start_us: summary.stream.as_ref().and_then(|s| s.start_us),
        arrivals: summary.stream.as_ref().map_or(0, |s| s.arrivals),
        epoch: None,
        release_late_us: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Outcome;

    #[test]
    fn attempts_survive_the_round_trip_with_commas_and_quotes_in_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let attempts = vec![
            Attempt {
                repetition: 1,
                buyer: 7,
                product: 0,
                instance: 1,
                attempt: 2,
                intended_us: 10,
                sent_us: 11,
                done_us: 99,
                status: 201,
                outcome: Outcome::Won,
                resolved: None,
                order_id: Some("42".into()),
                error: None,
                accepted_us: None,
                shard: 0,
                session: 0,
            },
            Attempt {
                repetition: 1,
                buyer: 8,
                product: 0,
                instance: 0,
                attempt: 1,
                intended_us: 10,
                sent_us: 12,
                done_us: 5000,
                status: 0,
                outcome: Outcome::Timeout,
                resolved: None,
                order_id: None,
                error: Some("timed out, \"really\"".into()),
                accepted_us: None,
                shard: 0,
                session: 0,
            },
        ];
        let samples = vec![StockSample { repetition: 1, t_us: 5, product: 0, instance: 0, stock: -1 }];
        let ledger = Ledger { attempts: attempts.clone(), stock_samples: samples.clone(), ..Ledger::default() };
        write(dir.path(), &ledger).expect("write");
        assert_eq!(read_rows::<Attempt>(&dir.path().join(LEDGER_CSV)).expect("read"), attempts);
        assert_eq!(read_rows::<StockSample>(&dir.path().join(STOCK_CSV)).expect("read"), samples);
    }
}
