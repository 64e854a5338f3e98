//! The run over time, from [`crate::timeseries`]: rates (requests sent, answers by outcome,
//! arrivals dropped, per second), requests in flight, and latency p50/p99 per interval. Every
//! chart shares the time axis of the others.

use super::{color, e, empty, px, span, Area, Data, Draw, Drawn, FONT, LEGEND_ROOM};
use crate::model::Outcome;
use crate::timeseries::Row;
use plotters::prelude::*;

/// One line of a chart: its label, colour, dashes, and points (ms, value).
struct Line {
    label: String,
    color: RGBColor,
    dashed: bool,
    points: Vec<(f64, f64)>,
}

/// Draws `lines` over the rows' time axis, with a y axis from 0 (or log when `log`).
fn draw_lines<DB: DrawingBackend>(
    root: &Area<DB>,
    d: &Data,
    title: String,
    y_desc: &str,
    lines: Vec<Line>,
    log: bool,
) -> Drawn {
    let mut lines: Vec<Line> = lines;
    if log {
        // A log axis has no zero: intervals without any are left out of the line.
        lines.iter_mut().for_each(|l| l.points.retain(|p| p.1 > 0.0));
    }
    let lines: Vec<Line> = lines.into_iter().filter(|l| !l.points.is_empty()).collect();
    let width = interval_ms(d.rows);
    let lo = d.rows.first().map_or(0.0, |r| r.t_ms);
    let hi = d.rows.last().map_or(1.0, |r| r.t_ms + width);
    let top = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).fold(0.0, f64::max).max(1.0);
    root.fill(&WHITE).map_err(e)?;
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(title, (FONT, px(18)))
        .margin(px(12))
        .margin_right(px(LEGEND_ROOM))
        .x_label_area_size(px(40))
        .y_label_area_size(px(72));
    if log {
        // log10 of the values on a linear axis, ticked at 1, 2, 5 × 10ⁿ.
        let bottom = lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)).fold(top, f64::min).max(0.001);
        let (y_lo, y_hi) = ((bottom * 0.8).log10(), (top * 1.5).log10());
        let chart = builder
            .build_cartesian_2d(span(lo, hi), super::ticked(span(y_lo, y_hi), super::log_ticks(y_lo, y_hi)))
            .map_err(e)?;
        let lines = lines
            .into_iter()
            .map(|mut l| {
                l.points.iter_mut().for_each(|p| p.1 = p.1.log10());
                l
            })
            .collect();
        return plot(root, chart, d, y_desc, &super::log_ms_label, lines, (lo, hi, y_lo, y_hi));
    }
    let chart = builder
        .build_cartesian_2d(span(lo, hi), super::ticked(0.0..top * 1.15, super::linear_ticks(0.0, top * 1.15, 8)))
        .map_err(e)?;
    plot(root, chart, d, y_desc, &super::number_label, lines, (lo, hi, 0.0, top * 1.15))
}

/// Draws the mesh, the lines and their legend on a chart with a linear or a log y axis.
fn plot<'a, DB: DrawingBackend + 'a, Y>(
    root: &Area<DB>,
    mut chart: ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    d: &Data,
    y_desc: &str,
    y_format: &dyn Fn(&f64) -> String,
    lines: Vec<Line>,
    (x_lo, x_hi, y_lo, y_hi): (f64, f64, f64, f64),
) -> Drawn
where
    Y: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(format!("ms since {} ({} ms intervals)", d.origin(), interval_ms(d.rows)))
        .x_label_formatter(&super::number_label)
        .y_desc(y_desc)
        .y_label_formatter(y_format)
        .label_style((FONT, px(15)))
        .draw()
        .map_err(e)?;
    let mut entries = super::Legend::default();
    super::shade_faults(&mut chart, d, (x_lo, x_hi), (y_lo, y_hi), &mut entries)?;
    for l in lines {
        let style = l.color.stroke_width(px(2));
        if l.dashed {
            chart.draw_series(DashedLineSeries::new(l.points, 6, 4, style)).map_err(e)?;
            entries.dashed(l.label, l.color);
        } else {
            chart.draw_series(LineSeries::new(l.points, style)).map_err(e)?;
            entries.line(l.label, l.color);
        }
    }
    entries.draw(root, &chart)
}

/// The rows' interval, ms.
fn interval_ms(rows: &[Row]) -> f64 {
    match rows {
        [a, b, ..] => b.t_ms - a.t_ms,
        _ => 100.0,
    }
}

/// Each row's value at the middle of its interval.
fn points(rows: &[Row], value: impl Fn(&Row) -> Option<f64>) -> Vec<(f64, f64)> {
    let half = interval_ms(rows) / 2.0;
    rows.iter().filter_map(|r| value(r).map(|v| (r.t_ms + half, v))).collect()
}

pub struct Rates<'a>(pub &'a Data<'a>);

impl Draw for Rates<'_> {
    const NAME: &'static str = "rates";
    const TITLE: &'static str = "Requests and answers per second";

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Drawn {
        let d = self.0;
        if d.rows.is_empty() {
            return empty(root, Self::TITLE, "no attempts");
        }
        let per_s = 1000.0 / interval_ms(d.rows);
        let mut lines = vec![Line {
            label: format!("sent ({})", d.rows.iter().map(|r| r.sent).sum::<u64>()),
            color: BLACK,
            dashed: true,
            points: points(d.rows, |r| Some(r.sent as f64 * per_s)),
        }];
        for o in Outcome::ALL {
            let total: u64 = d.rows.iter().map(|r| r.answers[o.index()]).sum();
            if total > 0 {
                lines.push(Line {
                    label: format!("{o} ({total})"),
                    color: color(o),
                    dashed: false,
                    points: points(d.rows, |r| Some(r.answers[o.index()] as f64 * per_s)),
                });
            }
        }
        let dropped: u64 = d.rows.iter().map(|r| r.dropped).sum();
        if dropped > 0 {
            lines.push(Line {
                label: format!("dropped ({dropped})"),
                color: RGBColor(230, 0, 126),
                dashed: true,
                points: points(d.rows, |r| Some(r.dropped as f64 * per_s)),
            });
        }
        // A burst in a stream is hundreds of times the stream's rate: a log axis shows both.
        let mut sends: Vec<u64> = d.rows.iter().map(|r| r.sent).filter(|n| *n > 0).collect();
        sends.sort_unstable();
        let median = sends.get(sends.len() / 2).copied().unwrap_or(0);
        let peak = sends.last().copied().unwrap_or(0);
        let log = median > 0 && peak > 20 * median;
        let title = if log { format!("{} (log scale)", Self::TITLE) } else { Self::TITLE.to_string() };
        draw_lines(root, d, title, "per second", lines, log)
    }
}

pub struct InFlight<'a>(pub &'a Data<'a>);

impl Draw for InFlight<'_> {
    const NAME: &'static str = "in-flight";
    const TITLE: &'static str = "Requests in flight";

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Drawn {
        let d = self.0;
        if d.rows.is_empty() {
            return empty(root, Self::TITLE, "no attempts");
        }
        let peak = d.rows.iter().map(|r| r.in_flight).max().unwrap_or(0);
        let lines = vec![Line {
            label: format!("in flight (peak {peak})"),
            color: RGBColor(31, 119, 180),
            dashed: false,
            points: points(d.rows, |r| Some(r.in_flight as f64)),
        }];
        let title = format!("{}: order requests sent, not yet answered (end of each interval)", Self::TITLE);
        draw_lines(root, d, title, "requests in flight", lines, false)
    }
}

pub struct LatencyTrend<'a>(pub &'a Data<'a>);

impl Draw for LatencyTrend<'_> {
    const NAME: &'static str = "latency-trend";
    const TITLE: &'static str = "Latency per interval";

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Drawn {
        let d = self.0;
        if d.rows.iter().all(|r| r.latency_p50_us.is_none()) {
            return empty(root, Self::TITLE, "no answers");
        }
        let ms = |v: Option<u64>| v.map(|us| us.max(1) as f64 / 1000.0);
        let lines = vec![
            Line {
                label: "p50".into(),
                color: RGBColor(31, 119, 180),
                dashed: false,
                points: points(d.rows, |r| ms(r.latency_p50_us)),
            },
            Line {
                label: "p99".into(),
                color: RGBColor(214, 39, 40),
                dashed: false,
                points: points(d.rows, |r| ms(r.latency_p99_us)),
            },
        ];
        let title = format!("{} (intended start → answer, by when answered; log scale)", Self::TITLE);
        draw_lines(root, d, title, "latency (ms)", lines, true)
    }
}
