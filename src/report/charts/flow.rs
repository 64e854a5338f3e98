//! How the sale flowed: answers per second stacked by outcome, and stock over time.

use super::{bucket_ms, color, e, empty, legend, legend_box, span, Area, Data, Draw, Drawn, FONT};
use crate::outcome::Outcome;
use plotters::prelude::*;

pub struct Throughput<'a>(pub &'a Data<'a>);

impl Draw for Throughput<'_> {
    const NAME: &'static str = "throughput";
    const TITLE: &'static str = "Throughput";

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Drawn {
        let d = self.0;
        let attempts = &d.ledger.attempts;
        if attempts.is_empty() {
            return empty(root, Self::TITLE, "no attempts");
        }
        let lo = attempts.iter().map(|a| d.ms(a.sent_us)).fold(f64::INFINITY, f64::min).min(0.0);
        let hi = attempts.iter().map(|a| d.ms(a.done_us)).fold(f64::NEG_INFINITY, f64::max);
        let width = bucket_ms(hi - lo, 60);
        let n = ((hi - lo) / width) as usize + 1;
        let mut counts = vec![[0u64; Outcome::ALL.len()]; n];
        for a in attempts {
            counts[((d.ms(a.done_us) - lo) / width) as usize][a.outcome.index()] += 1;
        }
        let per_s = 1000.0 / width;
        let top = counts.iter().map(|c| c.iter().sum::<u64>()).max().unwrap_or(1) as f64 * per_s;
        root.fill(&WHITE).map_err(e)?;
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("{} (answers per second, {width} ms buckets, stacked by outcome)", Self::TITLE),
                (FONT, 20),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(72)
            .build_cartesian_2d(span(lo, lo + n as f64 * width), 0.0..top * 1.1)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc(format!("answered at (ms since {})", d.origin()))
            .y_desc("answers/s")
            .y_label_formatter(&|v| format!("{v:.0}"))
            .label_style((FONT, 13))
            .draw()
            .map_err(e)?;
        for o in Outcome::ALL {
            let below = |c: &[u64; Outcome::ALL.len()]| c[..o.index()].iter().sum::<u64>() as f64 * per_s;
            let total: u64 = counts.iter().map(|c| c[o.index()]).sum();
            if total == 0 {
                continue;
            }
            let c = color(o);
            let bars = counts.iter().enumerate().filter(|(_, k)| k[o.index()] > 0).map(|(i, k)| {
                let x0 = lo + i as f64 * width;
                let y0 = below(k);
                Rectangle::new([(x0, y0), (x0 + width, y0 + k[o.index()] as f64 * per_s)], c.filled())
            });
            chart.draw_series(bars).map_err(e)?.label(format!("{o} ({total})")).legend(legend_box(c));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    }
}

pub struct Stock<'a>(pub &'a Data<'a>);

const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

impl Draw for Stock<'_> {
    const NAME: &'static str = "stock";
    const TITLE: &'static str = "Stock over time";

    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Drawn {
        let d = self.0;
        let l = d.ledger;
        // Products that were sampled or won; quiet products of a catalogue are left out.
        let shown: Vec<usize> = (0..l.products.len())
            .filter(|&p| {
                l.stock_samples.iter().any(|s| s.product as usize == p)
                    || l.attempts.iter().any(|a| a.product as usize == p && a.outcome == Outcome::Won)
            })
            .take(PALETTE.len())
            .collect();
        if shown.is_empty() {
            return empty(root, Self::TITLE, "no stock samples and no orders");
        }
        let times = l.stock_samples.iter().map(|s| d.ms(s.t_us)).chain(l.attempts.iter().map(|a| d.ms(a.done_us)));
        let (lo, hi) = times.fold((0.0f64, f64::NEG_INFINITY), |(lo, hi), t| (lo.min(t), hi.max(t)));
        let initial = |p: usize| d.summary.products.get(p).map_or(0, |x| x.initial_stock) as f64;
        let wins = |p: usize| {
            let mut t: Vec<f64> = l
                .attempts
                .iter()
                .filter(|a| a.product as usize == p && a.outcome == Outcome::Won)
                .map(|a| d.ms(a.done_us))
                .collect();
            t.sort_by(f64::total_cmp);
            t
        };
        // Products whose stocks differ tenfold or more share one axis as percent of their own
        // initial stock, so 5 sneakers selling out stay visible beside 2,000 hoodies.
        let stocks: Vec<f64> = shown.iter().map(|&p| initial(p).max(1.0)).collect();
        let percent =
            stocks.iter().fold(0.0, |a: f64, b| a.max(*b)) >= 10.0 * stocks.iter().fold(f64::MAX, |a, b| a.min(*b));
        let scale = |p: usize| if percent { 100.0 / initial(p).max(1.0) } else { 1.0 };
        let shown_sample = |s: &&crate::harness::StockSample| shown.contains(&(s.product as usize));
        let y_hi = shown
            .iter()
            .map(|&p| initial(p).max(wins(p).len() as f64) * scale(p))
            .chain(l.stock_samples.iter().filter(shown_sample).map(|s| s.stock as f64 * scale(s.product as usize)))
            .fold(1.0, f64::max);
        let y_lo = l
            .stock_samples
            .iter()
            .filter(shown_sample)
            .map(|s| s.stock as f64 * scale(s.product as usize))
            .fold(0.0, f64::min);
        root.fill(&WHITE).map_err(e)?;
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("{}: stock sampled by the harness, orders taken, sold-out instant", Self::TITLE),
                (FONT, 20),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(64)
            .build_cartesian_2d(span(lo, hi), (y_lo - 0.5)..(y_hi * 1.1 + 0.5))
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc(format!("ms since {}", d.origin()))
            .y_desc(if percent { "% of the product's initial stock" } else { "units" })
            .label_style((FONT, 13))
            .draw()
            .map_err(e)?;
        for (k, &p) in shown.iter().enumerate() {
            let c = PALETTE[k];
            let id = &l.products[p];
            let instances: std::collections::BTreeSet<u32> =
                l.stock_samples.iter().filter(|s| s.product as usize == p).map(|s| s.instance).collect();
            for inst in &instances {
                // A step line: the stock holds each sampled value until the next sample.
                let mut points: Vec<(f64, f64)> = Vec::new();
                for s in l.stock_samples.iter().filter(|s| s.product as usize == p && s.instance == *inst) {
                    let (t, v) = (d.ms(s.t_us), s.stock as f64 * scale(p));
                    if let Some(&(_, prev)) = points.last() {
                        points.push((t, prev));
                    }
                    points.push((t, v));
                }
                let label =
                    if instances.len() > 1 { format!("{id} stock (instance {inst})") } else { format!("{id} stock") };
                chart
                    .draw_series(LineSeries::new(points, c.stroke_width(2)))
                    .map_err(e)?
                    .label(label)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
            }
            let taken = wins(p);
            if !taken.is_empty() {
                let k = scale(p);
                let mut steps = vec![(lo, 0.0)];
                for (i, t) in taken.iter().enumerate() {
                    steps.push((*t, i as f64 * k));
                    steps.push((*t, (i as f64 + 1.0) * k));
                }
                steps.push((hi, taken.len() as f64 * k));
                let won = color(Outcome::Won);
                chart
                    .draw_series(DashedLineSeries::new(steps, 6, 4, won.stroke_width(2)))
                    .map_err(e)?
                    .label(format!("{id} orders taken ({})", taken.len()))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], won.stroke_width(2)));
            }
            let stock0 = initial(p);
            let line0 = stock0 * scale(p);
            let red = RGBColor(214, 39, 40);
            chart
                .draw_series(DashedLineSeries::new(vec![(lo, line0), (hi, line0)], 2, 4, red.mix(0.7).stroke_width(1)))
                .map_err(e)?
                .label(format!("{id} initial stock {stock0}: orders above it are oversold"))
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], red.stroke_width(1)));
            let sold_out = l
                .attempts
                .iter()
                .filter(|a| a.product as usize == p && a.outcome == Outcome::SoldOut)
                .map(|a| d.ms(a.done_us))
                .fold(f64::INFINITY, f64::min);
            if sold_out.is_finite() {
                let so = color(Outcome::SoldOut);
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(sold_out, y_lo - 0.5), (sold_out, y_hi * 1.1)],
                        3,
                        3,
                        so.stroke_width(1),
                    ))
                    .map_err(e)?
                    .label(format!("{id}: first sold_out answer at {sold_out:.1} ms"))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], so.stroke_width(1)));
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;
        Ok(())
    }
}
