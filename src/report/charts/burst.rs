//! The burst itself: how simultaneous the "simultaneous" release was, and whether the
//! winners were the earliest to arrive.

use super::{color, e, empty, px, pxi, span, Area, Data, Draw, Drawn, FONT, LEGEND_ROOM};
use crate::model::Outcome;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// Bins of the send-skew histogram.
const BINS: usize = 50;

pub struct SendSkew<'a>(pub &'a Data<'a>);

impl Draw for SendSkew<'_> {
    const NAME: &'static str = "send-skew";
    const TITLE: &'static str = "Send skew";

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Drawn {
        let d = self.0;
        let firsts = || d.ledger.attempts.iter().filter(|a| a.attempt == 1);
        let skew_ms = |a: &crate::model::Attempt| a.sent_us.saturating_sub(a.intended_us) as f64 / 1000.0;
        let mut skew: Vec<f64> = firsts().map(skew_ms).collect();
        if skew.is_empty() {
            return empty(root, Self::TITLE, "no attempts");
        }
        skew.sort_by(f64::total_cmp);
        let max = skew[skew.len() - 1].max(0.001);
        let bins = BINS;
        let width = max / bins as f64;
        let mut counts = vec![0u64; bins + 1];
        for s in &skew {
            counts[(s / width) as usize] += 1;
        }
        // Several shards: each one's buyers stacked in its own colour.
        let mut shards: Vec<u32> = firsts().map(|a| a.shard).collect();
        shards.sort_unstable();
        shards.dedup();
        let top = counts.iter().copied().max().unwrap_or(1) as f64;
        let pct = |p: f64| skew[((p * skew.len() as f64).ceil() as usize).clamp(1, skew.len()) - 1];
        root.fill(&WHITE).map_err(e)?;
        let mut entries = super::Legend::default();
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!(
                    "{}: when each first request was sent, after its intended start ({})",
                    Self::TITLE,
                    crate::text::count(skew.len() as u64, "buyer")
                ),
                (FONT, px(18)),
            )
            .margin(px(12))
            .margin_right(px(LEGEND_ROOM))
            .x_label_area_size(px(40))
            .y_label_area_size(px(64))
            .build_cartesian_2d(span(0.0, max + width), 0.0..top * 1.15)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("sent after the intended start (ms)")
            .x_label_formatter(&super::number_label)
            .y_desc("buyers")
            .y_label_formatter(&super::count_label)
            .label_style((FONT, px(15)))
            .draw()
            .map_err(e)?;
        let c = color(Outcome::SoldOut);
        if shards.len() > 1 {
            stacked_by_shard(&mut chart, d, &shards, width, &mut entries, c)?;
        } else {
            chart
                .draw_series(counts.iter().enumerate().filter(|(_, n)| **n > 0).map(|(i, n)| {
                    let x0 = i as f64 * width;
                    Rectangle::new([(x0, 0.0), (x0 + width, *n as f64)], c.mix(0.8).filled())
                }))
                .map_err(e)?;
            entries.bar(format!("buyers per {} ms bin", super::number_label(&width)), c);
        }
        for (label, p, shade) in [("p50", 0.5, BLACK.mix(0.6)), ("p99", 0.99, RGBColor(214, 39, 40).mix(0.9))] {
            let x = pct(p);
            chart
                .draw_series(DashedLineSeries::new(vec![(x, 0.0), (x, top * 1.1)], 4, 3, shade.stroke_width(px(2))))
                .map_err(e)?;
            entries.line(format!("{label} {x:.2} ms"), shade);
        }
        entries.draw(root, &chart)
    }
}

type Plot<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Several shards: each one's buyers stacked in its own colour, bins `width` ms wide.
fn stacked_by_shard<'a, DB: DrawingBackend + 'a>(
    chart: &mut Plot<'a, DB>,
    d: &Data,
    shards: &[u32],
    width: f64,
    entries: &mut super::Legend,
    c: RGBColor,
) -> Drawn {
    let firsts = || d.ledger.attempts.iter().filter(|a| a.attempt == 1);
    let skew_ms = |a: &crate::model::Attempt| a.sent_us.saturating_sub(a.intended_us) as f64 / 1000.0;
    let bins = BINS;
    let mut base = vec![0u64; bins + 1];
    for (k, shard) in shards.iter().enumerate() {
        let mut mine = vec![0u64; bins + 1];
        let of_shard = firsts().filter(|a| a.shard == *shard);
        of_shard.clone().for_each(|a| mine[(skew_ms(a) / width) as usize] += 1);
        let sc = super::compare::PALETTE[k % super::compare::PALETTE.len()];
        let bars = mine.iter().enumerate().filter(|(_, n)| **n > 0).map(|(i, n)| {
            let x0 = i as f64 * width;
            let y0 = base[i] as f64;
            Rectangle::new([(x0, y0), (x0 + width, y0 + *n as f64)], sc.mix(0.85).filled())
        });
        chart.draw_series(bars.collect::<Vec<_>>()).map_err(e)?;
        mine.iter().enumerate().for_each(|(i, n)| base[i] += n);
        if k < super::compare::PALETTE.len() {
            entries.bar(format!("shard {shard} ({})", crate::text::count(of_shard.count() as u64, "buyer")), sc);
        }
    }
    if shards.len() > super::compare::PALETTE.len() {
        entries.bar(format!("… {} more shards (colours repeat)", shards.len() - super::compare::PALETTE.len()), c);
    }
    Ok(())
}

/// Each buyer's arrival rank (1 = first), by its first attempt's intended instant (its arrival
/// in a ramp or a stream), then by when it was sent (in a burst all are meant for the release,
/// so the write order decides), as [`crate::fairness`] ranks them.
pub fn arrival_ranks(d: &Data) -> std::collections::HashMap<u32, usize> {
    let mut firsts: Vec<((u64, u64), u32)> =
        d.ledger.attempts.iter().filter(|a| a.attempt == 1).map(|a| (crate::fairness::rank_key(a), a.buyer)).collect();
    firsts.sort_unstable();
    firsts.iter().enumerate().map(|(i, (_, b))| (*b, i + 1)).collect()
}

pub struct Fairness<'a>(pub &'a Data<'a>);

impl Draw for Fairness<'_> {
    const NAME: &'static str = "fairness";
    const TITLE: &'static str = "Winners by arrival rank";

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Drawn {
        let d = self.0;
        let ranks = arrival_ranks(d);
        let mut winners: Vec<(usize, f64)> = d
            .ledger
            .attempts
            .iter()
            .filter(|a| a.outcome == Outcome::Won)
            .filter_map(|a| ranks.get(&a.buyer).map(|r| (*r, d.ms(a.done_us))))
            .collect();
        if winners.is_empty() {
            let why = if ranks.is_empty() { "no attempts" } else { "no winners: nothing was sold" };
            return empty(root, Self::TITLE, why);
        }
        winners.sort_by_key(|w| w.0);
        let n = ranks.len() as f64;
        let w = winners.len();
        let median = winners[w / 2].0;
        let (t_lo, t_hi) =
            winners.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), (_, t)| (l.min(*t), h.max(*t)));
        root.fill(&WHITE).map_err(e)?;
        let mut entries = super::Legend::default();
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!(
                    "{}: {w} winners of {} buyers, median rank {median} (FCFS: ranks 1 to {w})",
                    Self::TITLE,
                    ranks.len()
                ),
                (FONT, px(17)),
            )
            .margin(px(12))
            .margin_right(px(LEGEND_ROOM))
            .x_label_area_size(px(40))
            .y_label_area_size(px(64))
            .build_cartesian_2d((0.8..(n * 1.25).max(10.0)).log_scale(), span(t_lo.min(0.0), t_hi * 1.1))
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|v| format!("{v:.0}"))
            .x_desc("arrival rank, log scale (1 = first to arrive; in a burst, first request sent)")
            .y_desc("order confirmed at (ms since the origin)")
            .y_label_formatter(&super::number_label)
            .label_style((FONT, px(15)))
            .draw()
            .map_err(e)?;
        let ideal = color(Outcome::Won).mix(0.15);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.8, t_lo.min(0.0)), (w as f64 + 0.5, t_hi * 1.1)],
                ideal.filled(),
            )))
            .map_err(e)?;
        entries.bar(format!("first-come-first-served: ranks 1 to {w}"), RGBColor(200, 230, 200));
        let c = color(Outcome::Won);
        chart.draw_series(winners.iter().map(|(r, t)| Circle::new((*r as f64, *t), pxi(5), c.filled()))).map_err(e)?;
        entries.dot("winner", c);
        entries.draw(root, &chart)
    }
}
