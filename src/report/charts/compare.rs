//! Charts of a comparison, the designs overlaid: latency by percentile (one curve per design),
//! throughput, and how often each design violated an invariant.

use super::latency::{at, nines_label, NINES};
use super::{e, empty, log_ms_label, log_ticks, px, span, ticked, Area, Draw, Drawn, FONT, LEGEND_ROOM};
use crate::report::compare::{Compared, Comparison};
use plotters::prelude::*;

/// Categorical colours (Tableau 10, then black and olive), one per design in table order.
pub const PALETTE: [RGBColor; 12] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(0, 0, 0),
    RGBColor(110, 110, 0),
];

fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Every answered request's latency in ms, sorted.
fn sorted_latencies(c: &Compared) -> Vec<f64> {
    let mut v: Vec<f64> = c
        .ledger
        .attempts
        .iter()
        .filter(|a| a.outcome.was_sent())
        .map(|a| a.latency_us().max(1) as f64 / 1000.0)
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

pub struct Percentiles<'a>(pub &'a [Compared]);

impl Draw for Percentiles<'_> {
    const NAME: &'static str = "compare-latency";
    const TITLE: &'static str = "Latency of every order request by percentile, per design";

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Drawn {
        let series: Vec<(usize, &Compared, Vec<f64>)> = self
            .0
            .iter()
            .enumerate()
            .map(|(i, c)| (i, c, sorted_latencies(c)))
            .filter(|(_, _, v)| !v.is_empty())
            .collect();
        if series.is_empty() {
            return empty(root, Self::TITLE, "no request was answered in any design");
        }
        let lo = series.iter().map(|(_, _, v)| v[0]).fold(f64::INFINITY, f64::min);
        let hi = series.iter().map(|(_, _, v)| v[v.len() - 1]).fold(0.0, f64::max);
        let (y_lo, y_hi) = ((lo * 0.8).log10(), (hi * 1.6).log10());
        root.fill(&WHITE).map_err(e)?;
        let mut entries = super::Legend::default();
        let mut chart = ChartBuilder::on(root)
            .caption(Self::TITLE, (FONT, px(18)))
            .margin(px(12))
            .margin_right(px(LEGEND_ROOM))
            .x_label_area_size(px(44))
            .y_label_area_size(px(64))
            .build_cartesian_2d(0.0..NINES, ticked(span(y_lo, y_hi), log_ticks(y_lo, y_hi)))
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_labels(5)
            .x_label_formatter(&nines_label)
            .y_label_formatter(&log_ms_label)
            .x_desc("percentile (log scale of nines: 90%, 99%, 99.9%)")
            .y_desc("latency, intended start → answer (ms, log scale)")
            .label_style((FONT, px(15)))
            .axis_desc_style((FONT, px(15)))
            .draw()
            .map_err(e)?;
        for (i, c, v) in &series {
            let col = colour(*i);
            let points = (0..=400).map(|k| {
                let x = NINES * k as f64 / 400.0;
                (x, at(v, 1.0 - 10f64.powf(-x)).log10())
            });
            chart.draw_series(LineSeries::new(points, col.stroke_width(px(2)))).map_err(e)?;
            entries.line(format!("{}: p50 {:.1}, p99 {:.1} ms", c.label, at(v, 0.5), at(v, 0.99)), col);
        }
        // Latency rises to the right: the upper left is where no curve is.
        entries.draw(root, &chart)
    }
}

/// Horizontal bars, one per design, with the value written at the end of each bar.
fn bars<DB: DrawingBackend>(
    root: &Area<DB>,
    title: &str,
    x_desc: &str,
    rows: &[(String, f64, String, RGBColor)],
    x_max: f64,
    x_label: &dyn Fn(&f64) -> String,
) -> Drawn {
    let n = rows.len();
    root.fill(&WHITE).map_err(e)?;
    let longest = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(10) as u32;
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, px(18)))
        .margin(px(12))
        .x_label_area_size(px(44))
        .y_label_area_size(px((longest * 7 + 16).clamp(80, 280)))
        .build_cartesian_2d(0.0..x_max, ticked(0.0..n as f64, (0..n).map(|i| i as f64 + 0.5).collect()))
        .map_err(e)?;
    let label_of = |v: &f64| {
        let i = (v - 0.5).round();
        if i >= 0.0 && (i as usize) < n {
            rows[n - 1 - i as usize].0.clone()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_labels(8)
        .x_label_formatter(x_label)
        .y_label_formatter(&label_of)
        .x_desc(x_desc)
        .label_style((FONT, px(15)))
        .axis_desc_style((FONT, px(15)))
        .draw()
        .map_err(e)?;
    for (k, (_, value, text, col)) in rows.iter().enumerate() {
        // The first row on top.
        let y = (n - 1 - k) as f64;
        chart
            .draw_series(std::iter::once(Rectangle::new([(0.0, y + 0.2), (*value, y + 0.8)], col.filled())))
            .map_err(e)?;
        chart
            .draw_series(std::iter::once(Text::new(
                text.clone(),
                (*value + x_max * 0.01, y + 0.62),
                (FONT, px(15)).into_font(),
            )))
            .map_err(e)?;
    }
    Ok(())
}

pub struct Throughput<'a>(pub &'a Comparison);

impl Draw for Throughput<'_> {
    const NAME: &'static str = "compare-throughput";
    const TITLE: &'static str = "Throughput per design (order requests answered per second of load)";

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Drawn {
        let c = self.0;
        if c.designs.is_empty() {
            return empty(root, Self::TITLE, "no design");
        }
        let rows: Vec<(String, f64, String, RGBColor)> = c
            .designs
            .iter()
            .enumerate()
            .map(|(i, r)| (r.label.clone(), r.throughput_rps, format!("{:.0} req/s", r.throughput_rps), colour(i)))
            .collect();
        let top = rows.iter().map(|r| r.1).fold(0.0, f64::max).max(1.0) * 1.3;
        bars(root, Self::TITLE, "requests per second", &rows, top, &|v| crate::text::thousands(v.round() as u64))
    }
}

pub struct Violations<'a>(pub &'a Comparison);

impl Draw for Violations<'_> {
    const NAME: &'static str = "compare-violations";
    const TITLE: &'static str = "Share of repetitions that violated an invariant, per design";

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Drawn {
        let c = self.0;
        if c.designs.is_empty() {
            return empty(root, Self::TITLE, "no design");
        }
        let red = RGBColor(192, 57, 43);
        let rows: Vec<(String, f64, String, RGBColor)> = c
            .designs
            .iter()
            .map(|r| {
                let worst = r.violation_rate.values().copied().fold(0.0, f64::max);
                let text = if r.violated.is_empty() {
                    if r.exit_code == crate::model::exit::Exit::Environment {
                        "not judged: the environment failed".to_string()
                    } else {
                        "none: every invariant held".to_string()
                    }
                } else {
                    r.violations_text()
                };
                (r.label.clone(), worst * 100.0, text, red)
            })
            .collect();
        bars(root, Self::TITLE, "repetitions with a violation (%)", &rows, 160.0, &|v| {
            if *v <= 100.0 {
                format!("{v:.0}%")
            } else {
                String::new()
            }
        })
    }
}
