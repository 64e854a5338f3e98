//! How the sale flowed: answers per second stacked by outcome, and stock over time.

use super::{bucket_ms, color, e, empty, px, span, Area, Data, Draw, Drawn, FONT, LEGEND_ROOM};
use crate::model::Outcome;
use plotters::coord::types::RangedCoordf64;
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
        let mut entries = super::Legend::default();
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("{} (answers per second, {width} ms buckets, stacked by outcome)", Self::TITLE),
                (FONT, px(18)),
            )
            .margin(px(12))
            .margin_right(px(LEGEND_ROOM))
            .x_label_area_size(px(40))
            .y_label_area_size(px(72))
            .build_cartesian_2d(span(lo, lo + n as f64 * width), 0.0..top * 1.1)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc(format!("answered at (ms since {})", d.origin()))
            .y_desc("answers/s")
            .x_label_formatter(&super::number_label)
            .y_label_formatter(&super::number_label)
            .label_style((FONT, px(15)))
            .draw()
            .map_err(e)?;
        super::shade_faults(&mut chart, self.0, (lo, lo + n as f64 * width), (0.0, top * 1.1), &mut entries)?;
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
            chart.draw_series(bars).map_err(e)?;
            entries.bar(format!("{o} ({total})"), c);
        }
        entries.draw(root, &chart)
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
        let Some(ax) = StockAxes::of(d) else {
            return empty(root, Self::TITLE, "no stock samples and no orders");
        };
        let (lo, hi, b_lo, b_hi) = (ax.lo, ax.hi, ax.b_lo, ax.b_hi);
        root.fill(&WHITE).map_err(e)?;
        let mut entries = super::Legend::default();
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("{}: stock left, orders taken, and the initial stock they must not pass", Self::TITLE),
                (FONT, px(18)),
            )
            .margin(px(12))
            .margin_right(px(LEGEND_ROOM))
            .x_label_area_size(px(44))
            .y_label_area_size(px(64))
            .build_cartesian_2d(span(lo, hi), super::ticked(b_lo..b_hi, ax.ticks.clone()))
            .map_err(e)?;
        let y_desc = match (ax.percent, ax.log) {
            (true, _) => "% of the product's initial stock",
            (false, true) => "units (log scale)",
            (false, false) => "units",
        };
        chart
            .configure_mesh()
            .x_desc(format!("ms since {}", d.origin()))
            .x_label_formatter(&super::number_label)
            .y_desc(y_desc)
            .y_label_formatter(&|t| {
                let v = ax.untf(*t);
                if ax.percent {
                    format!("{}%", super::number_label(&v))
                } else {
                    super::count_label(&v.round())
                }
            })
            .label_style((FONT, px(15)))
            .draw()
            .map_err(e)?;
        super::shade_faults(&mut chart, d, (lo, hi), (b_lo, b_hi), &mut entries)?;
        // Everything above the highest initial stock is oversold: shaded red under the data.
        if !ax.percent || ax.shown.len() == 1 {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(lo, ax.tf(ax.stock_top)), (hi, b_hi)],
                    OVERSOLD.mix(0.07).filled(),
                )))
                .map_err(e)?;
            entries.bar("oversold zone (above the initial stock)", OVERSOLD.mix(0.3));
        }
        for (k, &p) in ax.shown.iter().enumerate() {
            product_lines(&mut chart, d, &ax, k, p, &mut entries)?;
        }
        // Drawn after the data, on top: the line every order count is judged against.
        for &p in &ax.shown {
            initial_stock_line(&mut chart, &ax, p, &mut entries)?;
        }
        entries.draw(root, &chart)
    }
}

/// Red: what oversold, and the initial stock that must not be passed.
const OVERSOLD: RGBColor = RGBColor(214, 39, 40);

type StockChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, super::Ticked>>;

/// The stock chart's axes: the products shown, the time span, and the y axis (units or percent
/// of each product's initial stock, linear or logarithmic).
struct StockAxes<'d> {
    d: &'d Data<'d>,
    shown: Vec<usize>,
    lo: f64,
    hi: f64,
    percent: bool,
    log: bool,
    stock_top: f64,
    b_lo: f64,
    b_hi: f64,
    ticks: Vec<f64>,
}

impl<'d> StockAxes<'d> {
    /// `None` when no product was sampled or won.
    fn of(d: &'d Data<'d>) -> Option<StockAxes<'d>> {
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
            return None;
        }
        let times = l.stock_samples.iter().map(|s| d.ms(s.t_us)).chain(l.attempts.iter().map(|a| d.ms(a.done_us)));
        let (lo, hi) = times.fold((0.0f64, f64::NEG_INFINITY), |(lo, hi), t| (lo.min(t), hi.max(t)));
        let mut ax = StockAxes {
            d,
            shown,
            lo,
            hi,
            percent: false,
            log: false,
            stock_top: 1.0,
            b_lo: 0.0,
            b_hi: 1.0,
            ticks: Vec::new(),
        };
        // Products whose stocks differ tenfold or more share one axis as percent of their own
        // initial stock, so 5 sneakers selling out stay visible beside 2,000 hoodies.
        let stocks: Vec<f64> = ax.shown.iter().map(|&p| ax.initial(p).max(1.0)).collect();
        ax.percent =
            stocks.iter().fold(0.0, |a: f64, b| a.max(*b)) >= 10.0 * stocks.iter().fold(f64::MAX, |a, b| a.min(*b));
        ax.fit_y();
        Some(ax)
    }

    /// The y axis: its bounds, whether it is logarithmic, and its ticks.
    fn fit_y(&mut self) {
        let l = self.d.ledger;
        let shown_sample = |s: &&crate::model::StockSample| self.shown.contains(&(s.product as usize));
        let y_hi = self
            .shown
            .iter()
            .map(|&p| self.initial(p).max(self.wins(p).len() as f64) * self.scale(p))
            .chain(l.stock_samples.iter().filter(shown_sample).map(|s| s.stock as f64 * self.scale(s.product as usize)))
            .fold(1.0, f64::max);
        let y_lo = l
            .stock_samples
            .iter()
            .filter(shown_sample)
            .map(|s| s.stock as f64 * self.scale(s.product as usize))
            .fold(0.0, f64::min);
        // When orders dwarf the stock (an oversell of hundreds), a linear axis flattens the
        // stock and its line: the axis turns logarithmic (symmetric, so negative stock shows).
        self.stock_top = self.shown.iter().map(|&p| self.initial(p) * self.scale(p)).fold(1.0, f64::max);
        self.log = y_hi > 20.0 * self.stock_top;
        (self.b_lo, self.b_hi) =
            if self.log { (self.tf(y_lo) - 0.05, self.tf(y_hi) + 0.15) } else { (y_lo - 0.5, y_hi * 1.1 + 0.5) };
        self.ticks = if self.log {
            let mut t = vec![0.0];
            for exp in 0..=(y_hi.log10().ceil() as i32) {
                for m in [1.0, 2.0, 5.0] {
                    let v = m * 10f64.powi(exp);
                    if v <= y_hi * 1.3 {
                        t.push(self.tf(v));
                    }
                }
            }
            let lowest = y_lo.floor();
            if lowest < 0.0 {
                t.insert(0, self.tf(lowest));
            }
            t
        } else {
            super::linear_ticks(self.b_lo, self.b_hi, 10)
        };
    }

    fn initial(&self, p: usize) -> f64 {
        self.d.summary.products.get(p).map_or(0, |x| x.initial_stock) as f64
    }

    /// When product `p`'s orders were won, ms, in order.
    fn wins(&self, p: usize) -> Vec<f64> {
        let d = self.d;
        let mut t: Vec<f64> = d
            .ledger
            .attempts
            .iter()
            .filter(|a| a.product as usize == p && a.outcome == Outcome::Won)
            .map(|a| d.ms(a.done_us))
            .collect();
        t.sort_by(f64::total_cmp);
        t
    }

    fn scale(&self, p: usize) -> f64 {
        if self.percent {
            100.0 / self.initial(p).max(1.0)
        } else {
            1.0
        }
    }

    /// A value onto the axis (the symmetric log when it is logarithmic).
    fn tf(&self, v: f64) -> f64 {
        if self.log {
            v.signum() * (1.0 + v.abs()).log10()
        } else {
            v
        }
    }

    /// A point of the axis back to its value.
    fn untf(&self, t: f64) -> f64 {
        if self.log {
            t.signum() * (10f64.powf(t.abs()) - 1.0)
        } else {
            t
        }
    }
}

/// Product `p`'s lines, in colour `k`: its stock per instance (a step line), the orders taken,
/// and its first `sold_out`.
fn product_lines<'a, DB: DrawingBackend + 'a>(
    chart: &mut StockChart<'a, DB>,
    d: &Data,
    ax: &StockAxes,
    k: usize,
    p: usize,
    entries: &mut super::Legend,
) -> Drawn {
    let l = d.ledger;
    let (lo, hi, b_lo, b_hi) = (ax.lo, ax.hi, ax.b_lo, ax.b_hi);
    let c = PALETTE[k];
    let id = &l.products[p];
    let instances: std::collections::BTreeSet<u32> =
        l.stock_samples.iter().filter(|s| s.product as usize == p).map(|s| s.instance).collect();
    for inst in &instances {
        // A step line: the stock holds each sampled value until the next sample.
        let mut points: Vec<(f64, f64)> = Vec::new();
        for s in l.stock_samples.iter().filter(|s| s.product as usize == p && s.instance == *inst) {
            let (t, v) = (d.ms(s.t_us), ax.tf(s.stock as f64 * ax.scale(p)));
            if let Some(&(_, prev)) = points.last() {
                points.push((t, prev));
            }
            points.push((t, v));
        }
        let label = if instances.len() > 1 { format!("{id} stock (instance {inst})") } else { format!("{id} stock") };
        chart.draw_series(LineSeries::new(points, c.stroke_width(px(2)))).map_err(e)?;
        entries.line(label, c);
    }
    let taken = ax.wins(p);
    if !taken.is_empty() {
        let k = ax.scale(p);
        let mut steps = vec![(lo, 0.0)];
        for (i, t) in taken.iter().enumerate() {
            steps.push((*t, ax.tf(i as f64 * k)));
            steps.push((*t, ax.tf((i as f64 + 1.0) * k)));
        }
        steps.push((hi, ax.tf(taken.len() as f64 * k)));
        let won = color(Outcome::Won);
        chart.draw_series(DashedLineSeries::new(steps, 6, 4, won.stroke_width(px(2)))).map_err(e)?;
        entries.line(format!("{id}: {} taken", crate::text::count(taken.len() as u64, "order")), won);
    }
    let sold_out = l
        .attempts
        .iter()
        .filter(|a| a.product as usize == p && a.outcome == Outcome::SoldOut)
        .map(|a| d.ms(a.done_us))
        .fold(f64::INFINITY, f64::min);
    if sold_out.is_finite() {
        let so = color(Outcome::SoldOut);
        chart
            .draw_series(DashedLineSeries::new(vec![(sold_out, b_lo), (sold_out, b_hi)], 3, 3, so.stroke_width(px(1))))
            .map_err(e)?;
        entries.line(format!("{id}: first sold_out at {sold_out:.1} ms"), so);
    }
    Ok(())
}

/// The initial stock of product `p`, a red line labelled with it.
fn initial_stock_line<'a, DB: DrawingBackend + 'a>(
    chart: &mut StockChart<'a, DB>,
    ax: &StockAxes,
    p: usize,
    entries: &mut super::Legend,
) -> Drawn {
    let (lo, hi) = (ax.lo, ax.hi);
    let (id, stock0) = (&ax.d.ledger.products[p], ax.initial(p));
    let y = ax.tf(stock0 * ax.scale(p));
    chart.draw_series(LineSeries::new(vec![(lo, y), (hi, y)], OVERSOLD.stroke_width(px(3)))).map_err(e)?;
    entries.line(format!("{id}: initial stock {}", super::count_label(&stock0)), OVERSOLD);
    let mut style = TextStyle::from((FONT, px(15)).into_font()).pos(plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Left,
        plotters::style::text_anchor::VPos::Bottom,
    ));
    style.color = OVERSOLD.to_backend_color();
    chart
        .draw_series(std::iter::once(Text::new(
            format!("initial stock {}", super::count_label(&stock0)),
            (lo + (hi - lo) * 0.01, y),
            style,
        )))
        .map_err(e)?;
    Ok(())
}
