//! Latency charts: the percentile distribution (HDR style) and latency over time.

use super::{color, e, empty, px, pxi, span, Area, Data, Draw, Drawn, FONT, LEGEND_ROOM, MAX_POINTS};
use crate::model::Outcome;
use plotters::prelude::*;

/// Latencies in ms, sorted, per outcome that happened.
fn sorted_by_outcome(data: &Data) -> Vec<(Outcome, Vec<f64>)> {
    Outcome::ALL
        .iter()
        .filter_map(|&o| {
            let mut v: Vec<f64> = data
                .ledger
                .attempts
                .iter()
                .filter(|a| a.outcome == o)
                .map(|a| a.latency_us().max(1) as f64 / 1000.0)
                .collect();
            v.sort_by(f64::total_cmp);
            (!v.is_empty()).then_some((o, v))
        })
        .collect()
}

/// The value at percentile `p` (0..1) of sorted `v`.
pub(super) fn at(v: &[f64], p: f64) -> f64 {
    let i = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
    v[i]
}

/// "Nines" axis: x = -log10(1 - p), so 1 is 90 %, 2 is 99 %, 3 is 99.9 %, 4 is 99.99 %.
pub(super) fn nines_label(x: &f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-x));
    let digits = (x.round() as i32 - 2).clamp(0, 4) as usize;
    format!("{p:.digits$}%")
}

pub(super) const NINES: f64 = 4.0;

pub struct Percentiles<'a>(pub &'a Data<'a>);

impl Draw for Percentiles<'_> {
    const NAME: &'static str = "latency-percentiles";
    const TITLE: &'static str = "Latency by percentile";

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Drawn {
        let series = sorted_by_outcome(self.0);
        if series.is_empty() {
            return empty(root, Self::TITLE, "no attempts");
        }
        let lo = series.iter().map(|(_, v)| v[0]).fold(f64::INFINITY, f64::min);
        let hi = series.iter().map(|(_, v)| v[v.len() - 1]).fold(0.0, f64::max);
        root.fill(&WHITE).map_err(e)?;
        let mut entries = super::Legend::default();
        let mut chart = ChartBuilder::on(root)
            .caption(format!("{} (ms, log scale; percentile axis in nines)", Self::TITLE), (FONT, px(18)))
            .margin(px(12))
            .margin_right(px(LEGEND_ROOM))
            .x_label_area_size(px(40))
            .y_label_area_size(px(64))
            // The y axis is log10(ms) on a linear scale, labelled in ms: plotters' own log axis
            // labels only whole powers of ten, which a narrow range may not contain.
            .build_cartesian_2d(
                0.0..NINES,
                super::ticked(
                    span((lo * 0.8).log10(), (hi * 1.25).log10()),
                    super::log_ticks((lo * 0.8).log10(), (hi * 1.25).log10()),
                ),
            )
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_labels(5)
            .x_label_formatter(&nines_label)
            .y_label_formatter(&super::log_ms_label)
            .x_desc("percentile")
            .y_desc("latency (ms)")
            .label_style((FONT, px(15)))
            .draw()
            .map_err(e)?;
        for (o, v) in &series {
            let c = color(*o);
            let points = (0..=400).map(|k| {
                let x = NINES * k as f64 / 400.0;
                (x, at(v, 1.0 - 10f64.powf(-x)).log10())
            });
            chart.draw_series(LineSeries::new(points, c.stroke_width(px(2)))).map_err(e)?;
            entries.line(
                format!(
                    "{o} {}: p50 {:.1}, p99 {:.1} ms",
                    crate::text::thousands(v.len() as u64),
                    at(v, 0.5),
                    at(v, 0.99)
                ),
                c,
            );
        }
        entries.draw(root, &chart)
    }
}

pub struct OverTime<'a>(pub &'a Data<'a>);

impl Draw for OverTime<'_> {
    const NAME: &'static str = "latency-over-time";
    const TITLE: &'static str = "Latency over time";

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Drawn {
        let d = self.0;
        let attempts = &d.ledger.attempts;
        if attempts.is_empty() {
            return empty(root, Self::TITLE, "no attempts");
        }
        let xs = attempts.iter().map(|a| d.ms(a.sent_us));
        let (x_lo, x_hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), x| (l.min(x), h.max(x)));
        let lat = |a: &crate::model::Attempt| a.latency_us().max(1) as f64 / 1000.0;
        let y_hi = attempts.iter().map(lat).fold(0.0, f64::max);
        let many = attempts.len() > MAX_POINTS;
        root.fill(&WHITE).map_err(e)?;
        let mut entries = super::Legend::default();
        let caption = if many {
            format!("{} (ms; {} attempts as percentile bands, wins as points)", Self::TITLE, attempts.len())
        } else {
            format!("{} (ms; each attempt at its send time)", Self::TITLE)
        };
        let mut chart = ChartBuilder::on(root)
            .caption(caption, (FONT, px(18)))
            .margin(px(12))
            .margin_right(px(LEGEND_ROOM))
            .x_label_area_size(px(40))
            .y_label_area_size(px(64))
            .build_cartesian_2d(span(x_lo, x_hi), 0.0..(y_hi * 1.08).max(0.01))
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_label_formatter(&super::number_label)
            .y_label_formatter(&super::number_label)
            .x_desc(format!("sent at (ms since {})", d.origin()))
            .y_desc("latency (ms)")
            .label_style((FONT, px(15)))
            .draw()
            .map_err(e)?;
        super::shade_faults(&mut chart, d, (x_lo, x_hi), (0.0, (y_hi * 1.08).max(0.01)), &mut entries)?;
        if many {
            let width = super::bucket_ms(x_hi - x_lo, 100);
            let mut buckets: Vec<Vec<f64>> = vec![Vec::new(); ((x_hi - x_lo) / width) as usize + 1];
            for a in attempts {
                buckets[((d.ms(a.sent_us) - x_lo) / width) as usize].push(lat(a));
            }
            for b in &mut buckets {
                b.sort_by(f64::total_cmp);
            }
            for (label, p, shade) in [("p50", 0.5, 0.9), ("p90", 0.9, 0.7), ("p99", 0.99, 0.5), ("max", 1.0, 0.3)] {
                let c = RGBColor(31, 119, 180).mix(shade);
                let points = buckets
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| !b.is_empty())
                    .map(|(i, b)| (x_lo + (i as f64 + 0.5) * width, super::latency::at(b, p)));
                chart.draw_series(LineSeries::new(points, c.stroke_width(px(2)))).map_err(e)?;
                entries.line(format!("{label} of all attempts per {width} ms"), c);
            }
        }
        for o in Outcome::ALL {
            if many && o != Outcome::Won {
                continue;
            }
            let c = color(o);
            let points: Vec<(f64, f64)> =
                attempts.iter().filter(|a| a.outcome == o).map(|a| (d.ms(a.sent_us), lat(a))).collect();
            if points.is_empty() {
                continue;
            }
            let n = points.len();
            let size = if o == Outcome::Won { 4 } else { 2 };
            chart.draw_series(points.into_iter().map(|p| Circle::new(p, pxi(size), c.filled()))).map_err(e)?;
            entries.dot(format!("{o} ({n})"), c);
        }
        entries.draw(root, &chart)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nines_axis_labels_and_percentiles() {
        assert_eq!(nines_label(&0.0), "0%");
        assert_eq!(nines_label(&1.0), "90%");
        assert_eq!(nines_label(&2.0), "99%");
        assert_eq!(nines_label(&3.0), "99.9%");
        assert_eq!(nines_label(&4.0), "99.99%");
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!((at(&v, 0.5), at(&v, 0.99), at(&v, 1.0), at(&v, 0.0)), (50.0, 99.0, 100.0, 1.0));
    }
}
