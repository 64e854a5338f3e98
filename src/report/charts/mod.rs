//! Charts of one run, each written as PNG and SVG (plotters), with the bundled DejaVu Sans so
//! text renders the same on any machine:
//!
//! | file | shows |
//! |---|---|
//! | `latency-percentiles` | latency by percentile, HDR style (log "nines" axis), one line per outcome |
//! | `latency-over-time` | every attempt's latency when it was sent, by outcome (percentile bands past 5,000) |
//! | `throughput` | answers per second over time, stacked by outcome |
//! | `rates` | requests sent per second, answers per second by outcome, arrivals dropped per second |
//! | `in-flight` | order requests sent and not yet answered, over time |
//! | `latency-trend` | latency p50 and p99 of each interval's answers, over time |
//! | `stock` | stock over time per product, orders taken so far, and the sold-out instant |
//! | `send-skew` | how late each buyer's first request was sent after its intended start |
//! | `fairness` | winners by arrival rank: were the winners the earliest senders? |

mod burst;
pub mod compare;
mod flow;
mod latency;
mod over_time;

use crate::model::Ledger;
use crate::model::Outcome;
use crate::model::Summary;
use crate::text::thousands;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// The PNG's size (16:9); the SVG has the same, and scales with the page.
pub const WIDTH: u32 = 1600;
pub const HEIGHT: u32 = 900;
/// The HiDPI PNG (`<name>@2x.png`) is twice as wide and high.
pub const HIDPI: u32 = 2;
/// Sizes in the chart code are in units of a 960-pixel-wide chart, scaled by [`px`].
const DESIGN_WIDTH: f64 = 960.0;
/// Room on the right of a plot for its legend, outside the data (design units).
pub const LEGEND_ROOM: u32 = 270;

thread_local! {
    /// Pixels per design unit of the chart being drawn.
    static SCALE: std::cell::Cell<f64> = const { std::cell::Cell::new(WIDTH as f64 / DESIGN_WIDTH) };
}

/// A size in design units, in pixels of the chart being drawn.
pub fn px(n: u32) -> u32 {
    (f64::from(n) * SCALE.with(|s| s.get())).round() as u32
}

/// [`px`] for signed sizes (marker radii, offsets).
pub fn pxi(n: i32) -> i32 {
    (f64::from(n) * SCALE.with(|s| s.get())).round() as i32
}
/// Attempts drawn one by one at most; past this, charts aggregate.
pub const MAX_POINTS: usize = 5_000;
const FONT: &str = "sans-serif";

/// What every chart draws from.
pub struct Data<'a> {
    pub summary: &'a Summary,
    pub ledger: &'a Ledger,
    /// The time origin of every time axis (µs since the run's epoch): the stream's start, the
    /// burst's release, or the first send.
    pub t0_us: u64,
    /// The run per interval ([`crate::timeseries`]), on the same origin.
    pub rows: &'a [crate::timeseries::Row],
}

impl<'a> Data<'a> {
    pub fn new(summary: &'a Summary, ledger: &'a Ledger, rows: &'a [crate::timeseries::Row]) -> Self {
        Data { summary, ledger, t0_us: crate::timeseries::origin_us(ledger), rows }
    }

    /// What the time axes count from, for their labels.
    pub fn origin(&self) -> &'static str {
        if self.ledger.stream_start_us.is_some() {
            "the stream's start"
        } else if self.ledger.release_us.is_some() {
            "the release"
        } else {
            "the first send"
        }
    }

    /// Milliseconds since the origin (negative before it).
    pub fn ms(&self, us: u64) -> f64 {
        (us as f64 - self.t0_us as f64) / 1000.0
    }
}

/// The colour of fault bands: a light orange under the data's colours.
const FAULT: RGBColor = RGBColor(240, 120, 40);

/// Shades the time of each of the run's faults over the chart's `x` (ms) and its whole height
/// `y`, with the fault's name in the legend; a one-shot fault (a kill without restart, ended
/// connections) gets a band 1% of the axis wide, so that it shows.
pub fn shade_faults<'a, DB: DrawingBackend + 'a, Y: Ranged<ValueType = f64>>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<plotters::coord::types::RangedCoordf64, Y>>,
    d: &Data,
    (x_lo, x_hi): (f64, f64),
    (y_lo, y_hi): (f64, f64),
    legend: &mut Legend,
) -> Drawn {
    let min_width = (x_hi - x_lo) / 100.0;
    let mut labelled = std::collections::HashSet::new();
    for f in &d.summary.faults {
        let Some(start_us) = f.start_us else { continue };
        let start = d.ms(start_us);
        let end = d.ms(f.end_us.unwrap_or(start_us)).max(start + min_width);
        if end <= x_lo || start >= x_hi {
            continue;
        }
        let band = Rectangle::new([(start.max(x_lo), y_lo), (end.min(x_hi), y_hi)], FAULT.mix(0.18).filled());
        chart.draw_series(std::iter::once(band)).map_err(e)?;
        if labelled.insert(f.kind) {
            legend.bar(format!("fault: {}", f.kind), FAULT.mix(0.4));
        }
    }
    Ok(())
}

/// One rendered chart: its file stem, title, and SVG text (for inlining into the HTML).
#[derive(Debug, Clone)]
pub struct Chart {
    pub name: &'static str,
    pub title: &'static str,
    pub svg: String,
}

type Area<'b, DB> = DrawingArea<DB, Shift>;
type Drawn = Result<(), String>;

/// Any plotters error as text.
fn e<E: std::fmt::Display>(err: E) -> String {
    err.to_string()
}

pub fn color(o: Outcome) -> RGBColor {
    match o {
        Outcome::Won => RGBColor(46, 160, 67),
        Outcome::Accepted => RGBColor(188, 189, 34),
        Outcome::SoldOut => RGBColor(31, 119, 180),
        Outcome::Busy => RGBColor(255, 127, 14),
        Outcome::RateLimited => RGBColor(148, 103, 189),
        Outcome::Rejected => RGBColor(127, 127, 127),
        Outcome::Error => RGBColor(214, 39, 40),
        Outcome::Timeout => RGBColor(40, 40, 40),
        Outcome::NotSent => RGBColor(199, 199, 199),
    }
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let font: &'static [u8] = include_bytes!("../../../fixtures/fonts/DejaVuSans.ttf");
        if plotters::style::register_font(FONT, FontStyle::Normal, font).is_err() {
            log::warn!("the bundled font could not be loaded; chart text may be missing");
        }
    });
}

/// Draws "nothing to show" in the middle of an empty chart.
fn empty<DB: DrawingBackend>(root: &Area<DB>, title: &str, why: &str) -> Drawn {
    let (w, h) = root.dim_in_pixel();
    root.fill(&WHITE).map_err(e)?;
    root.draw(&Text::new(title.to_string(), (pxi(20), pxi(16)), (FONT, px(20)).into_font())).map_err(e)?;
    root.draw(&Text::new(
        why.to_string(),
        (w as i32 / 2 - pxi(120), h as i32 / 2),
        (FONT, px(16)).into_font().color(&BLACK.mix(0.6)),
    ))
    .map_err(e)?;
    Ok(())
}

/// A chart's legend: each series' mark and label, drawn to the right of the plot in the room
/// [`LEGEND_ROOM`] keeps free, never over the data (plotters' own legend stays inside the plot).
#[derive(Default)]
pub struct Legend {
    entries: Vec<(String, &'static str, RGBAColor)>,
}

impl Legend {
    fn add(&mut self, label: impl Into<String>, mark: &'static str, c: impl Color) {
        let b = c.to_backend_color();
        self.entries.push((label.into(), mark, RGBAColor(b.rgb.0, b.rgb.1, b.rgb.2, b.alpha)));
    }

    /// A series drawn as a line.
    pub fn line(&mut self, label: impl Into<String>, c: impl Color) {
        self.add(label, "━━", c);
    }

    /// A series drawn as a dashed line.
    pub fn dashed(&mut self, label: impl Into<String>, c: impl Color) {
        self.add(label, "╍╍", c);
    }

    /// A series drawn as bars or a shaded band.
    pub fn bar(&mut self, label: impl Into<String>, c: impl Color) {
        self.add(label, "■", c);
    }

    /// A series drawn as points.
    pub fn dot(&mut self, label: impl Into<String>, c: impl Color) {
        self.add(label, "●", c);
    }

    /// Draws the entries on `root`, right of `chart`'s plot, from its top.
    pub fn draw<DB: DrawingBackend, CT: plotters::coord::CoordTranslate>(
        &self,
        root: &Area<DB>,
        chart: &ChartContext<'_, DB, CT>,
    ) -> Drawn {
        let area = chart.plotting_area();
        let (w, _) = area.dim_in_pixel();
        let (base_x, base_y) = area.get_base_pixel();
        let (root_x, root_y) = root.get_base_pixel();
        let x = base_x - root_x + w as i32 + pxi(14);
        let left_centre = plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Left,
            plotters::style::text_anchor::VPos::Center,
        );
        for (i, (label, mark, colour)) in self.entries.iter().enumerate() {
            let y = base_y - root_y + pxi(10) + i as i32 * pxi(22);
            let mut style = TextStyle::from((FONT, px(14)).into_font()).pos(left_centre);
            style.color = colour.to_backend_color();
            root.draw(&Text::new(*mark, (x, y), style)).map_err(e)?;
            let text = TextStyle::from((FONT, px(14)).into_font()).pos(left_centre);
            root.draw(&Text::new(label.as_str(), (x + pxi(24), y), text)).map_err(e)?;
        }
        Ok(())
    }
}

/// A range that is never empty: `lo..hi`, widened when they are equal.
fn span(lo: f64, hi: f64) -> std::ops::Range<f64> {
    if hi > lo {
        lo..hi
    } else {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - pad)..(hi + pad)
    }
}

/// A linear f64 axis whose ticks are exactly `ticks` (plotters' own `WithKeyPoints` gives an f64
/// axis no label formatter).
pub struct Ticked {
    inner: plotters::coord::types::RangedCoordf64,
    ticks: Vec<f64>,
}

/// `range` with its ticks at `ticks`.
pub fn ticked(range: std::ops::Range<f64>, ticks: Vec<f64>) -> Ticked {
    Ticked { inner: range.into(), ticks }
}

impl Ranged for Ticked {
    type ValueType = f64;
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<H: plotters::coord::ranged1d::KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn axis_pixel_range(&self, limit: (i32, i32)) -> std::ops::Range<i32> {
        self.inner.axis_pixel_range(limit)
    }
}

/// Round ticks for a log axis drawn on a linear log10 scale: log10 of 1, 2 and 5 × 10ⁿ between
/// `lo` and `hi` (both log10), thinned to 1 × 10ⁿ when they would be too many.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    // Less than a decade shows too few of 1, 2, 5: finer round steps then.
    let steps: [&[f64]; 3] = if hi - lo < 1.0 {
        [&[1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0], &[1.0, 2.0, 5.0], &[1.0]]
    } else {
        [&[1.0, 2.0, 5.0], &[1.0], &[1.0]]
    };
    for step in steps {
        ticks.clear();
        for exp in (lo.floor() as i32)..=(hi.ceil() as i32) {
            for m in step {
                let t = (m * 10f64.powi(exp)).log10();
                if t >= lo && t <= hi {
                    ticks.push(t);
                }
            }
        }
        if ticks.len() <= 10 {
            break;
        }
    }
    ticks
}

/// A log10 tick as a number of ms: `0.2`, `5`, `100`, `2,000`.
pub fn log_ms_label(v: &f64) -> String {
    let ms = 10f64.powf(*v);
    if ms >= 1.0 {
        thousands(ms.round() as u64)
    } else {
        let digits = (-ms.log10().floor()) as usize;
        format!("{ms:.digits$}")
    }
}

/// A number on an axis, with no more digits than it needs: `1,500`, `2.5`, `-40`, `0.25`.
pub fn number_label(v: &f64) -> String {
    let v = *v;
    if (v - v.round()).abs() < 1e-9 {
        let n = v.round();
        let s = thousands(n.abs() as u64);
        return if n < 0.0 { format!("-{s}") } else { s };
    }
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Round linear ticks (1, 2 or 5 × 10ⁿ apart), at most about `most` of them, between lo and hi.
pub fn linear_ticks(lo: f64, hi: f64, most: usize) -> Vec<f64> {
    let step = bucket_ms(hi - lo, most.max(1));
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + step * 1e-9 && out.len() < 4 * most {
        out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
        t += step;
    }
    out
}

/// A count on an axis: integers without a decimal point (`5`, not `5.0`), nothing between them.
pub fn count_label(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-6 {
        thousands(v.round().max(0.0) as u64)
    } else {
        String::new()
    }
}

/// A round bucket width (1, 2 or 5 × 10^k ms) giving at most `most` buckets over `window_ms`.
fn bucket_ms(window_ms: f64, most: usize) -> f64 {
    let raw = (window_ms / most as f64).max(0.001);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|w| *w >= raw).unwrap_or(10.0 * mag)
}

trait Draw {
    const NAME: &'static str;
    const TITLE: &'static str;
    fn draw<DB: DrawingBackend>(&self, root: &Area<DB>) -> Drawn;
}

/// Draws at `width` pixels wide: sizes scale with it.
fn at_width<T>(width: u32, f: impl FnOnce() -> T) -> T {
    let before = SCALE.with(|s| s.replace(f64::from(width) / DESIGN_WIDTH));
    let out = f();
    SCALE.with(|s| s.set(before));
    out
}

fn render<C: Draw>(chart: &C, dir: &Path) -> Result<Chart, String> {
    for (file, scale) in [(format!("{}.png", C::NAME), 1), (format!("{}@2x.png", C::NAME), HIDPI)] {
        let (w, h) = (WIDTH * scale, HEIGHT * scale);
        let png = dir.join(file);
        at_width(w, || {
            let root = BitMapBackend::new(&png, (w, h)).into_drawing_area();
            chart.draw(&root)?;
            root.present().map_err(e)
        })?;
    }
    let mut svg = String::new();
    at_width(WIDTH, || {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        chart.draw(&root)?;
        root.present().map_err(e)
    })?;
    crate::folder::write_atomic(&dir.join(format!("{}.svg", C::NAME)), svg.as_bytes()).map_err(e)?;
    Ok(Chart { name: C::NAME, title: C::TITLE, svg })
}

/// Renders every chart into `dir` (PNG and SVG) and returns them for the HTML report.
pub fn render_all(
    summary: &Summary,
    ledger: &Ledger,
    rows: &[crate::timeseries::Row],
    dir: &Path,
) -> Result<Vec<Chart>, String> {
    register_font();
    let data = Data::new(summary, ledger, rows);
    Ok(vec![
        render(&latency::Percentiles(&data), dir)?,
        render(&latency::OverTime(&data), dir)?,
        render(&flow::Throughput(&data), dir)?,
        render(&over_time::Rates(&data), dir)?,
        render(&over_time::InFlight(&data), dir)?,
        render(&over_time::LatencyTrend(&data), dir)?,
        render(&flow::Stock(&data), dir)?,
        render(&burst::SendSkew(&data), dir)?,
        render(&burst::Fairness(&data), dir)?,
    ])
}

/// Renders a comparison's charts into `dir` (PNG and SVG).
pub fn render_comparison(
    c: &crate::report::compare::Comparison,
    compared: &[crate::report::compare::Compared],
    dir: &Path,
) -> Result<Vec<Chart>, String> {
    register_font();
    Ok(vec![
        render(&compare::Percentiles(compared), dir)?,
        render(&compare::Throughput(c), dir)?,
        render(&compare::Violations(c), dir)?,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_widths_are_round() {
        assert_eq!(bucket_ms(100.0, 50), 2.0);
        assert_eq!(bucket_ms(1000.0, 60), 20.0);
        assert_eq!(bucket_ms(45.0, 60), 1.0);
        assert!(bucket_ms(0.0, 60) > 0.0);
        assert_eq!(span(3.0, 3.0), 2.7..3.3);
        assert_eq!(span(0.0, 0.0), -1.0..1.0);
    }

    #[test]
    fn log_axes_tick_at_one_two_five() {
        let narrow: Vec<String> = log_ticks(80f64.log10(), 400f64.log10()).iter().map(log_ms_label).collect();
        assert_eq!(narrow, ["80", "100", "150", "200", "300", "400"], "finer steps within a decade");
        let labels: Vec<String> = log_ticks(0.9f64.log10(), 450f64.log10()).iter().map(log_ms_label).collect();
        assert_eq!(labels, ["1", "2", "5", "10", "20", "50", "100", "200"]);
        let wide: Vec<String> = log_ticks(-1.5, 4.2).iter().map(log_ms_label).collect();
        assert_eq!(wide, ["0.1", "1", "10", "100", "1,000", "10,000"], "thinned to powers of ten");
        assert_eq!(count_label(&5.0), "5");
        assert_eq!(count_label(&2.5), "");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}

#[cfg(test)]
mod edge_cases {
    use super::*;
    use crate::model::Attempt;

    fn summary() -> Summary {
        let text = r#"{"flashbench_version":"t","scenario":"t","description":"","scenario_file":"t.yaml","verdict":"pass",
            "exit_code":0,"reasons":[],"started_at":"2026-01-01T00:00:00Z","target":{"kind":"reference","backend":"memory",
            "strategy":"atomic","instances":1,"placement":"in-process","rate_limit":"off","store":"memory"},"buyers":1,
            "attempts":0,"products":[{"id":"p","initial_stock":5,"final_stock":0,"orders":0,"units_ordered":0}],
            "outcomes":{},"expected_outcomes":[],"invariants":[],"latency_us":{},"throughput_rps":0.0,"duration_ms":0,
            "load_ms":0,"send_skew_us":{"p50":0,"p99":0,"max":0},"connect_failures":0,"late_buyers":0}"#;
        serde_json::from_str(text).expect("summary fixture")
    }

    fn attempts(n: u32, outcome: impl Fn(u32) -> Outcome) -> Vec<Attempt> {
        (0..n)
            .map(|i| {
                let sent = 1_000 + u64::from(i) * 7 % 50_000;
                Attempt {
                    repetition: 1,
                    buyer: i,
                    product: 0,
                    instance: 0,
                    attempt: 1,
                    intended_us: 1_000,
                    sent_us: sent,
                    done_us: sent + 200 + u64::from(i % 977) * 13,
                    status: 201,
                    outcome: outcome(i),
                    resolved: None,
                    order_id: None,
                    error: None,
                    accepted_us: None,
                    shard: 0,
                    session: 0,
                }
            })
            .collect()
    }

    fn render_into(ledger: &Ledger) -> (tempfile::TempDir, Vec<Chart>) {
        let dir = tempfile::tempdir().expect("tempdir");
        let rows = crate::timeseries::compute(ledger, crate::timeseries::DEFAULT_INTERVAL);
        let charts = render_all(&summary(), ledger, &rows, dir.path()).expect("charts render");
        (dir, charts)
    }

    fn assert_files(dir: &Path, charts: &[Chart], max_bytes: u64) {
        assert_eq!(charts.len(), 9);
        for c in charts {
            assert!(c.svg.starts_with("<svg") && c.svg.contains("</svg>"), "{}", c.name);
            for ext in ["png", "svg"] {
                let meta = std::fs::metadata(dir.join(format!("{}.{ext}", c.name))).expect("chart file");
                assert!(meta.len() > 300 && meta.len() < max_bytes, "{}.{ext}: {} bytes", c.name, meta.len());
            }
        }
    }

    #[test]
    fn empty_ledger_renders_every_chart_with_a_message() {
        let (dir, charts) = render_into(&Ledger { products: vec!["p".into()], ..Ledger::default() });
        assert_files(dir.path(), &charts, 200_000);
        assert!(charts.iter().all(|c| c.svg.contains("no ")), "each says why it is empty");
    }

    #[test]
    fn one_attempt_and_a_single_outcome_render() {
        for ledger in [
            Ledger { products: vec!["p".into()], attempts: attempts(1, |_| Outcome::Won), ..Ledger::default() },
            Ledger { products: vec!["p".into()], attempts: attempts(1500, |_| Outcome::SoldOut), ..Ledger::default() },
        ] {
            let (dir, charts) = render_into(&ledger);
            assert_files(dir.path(), &charts, 1_500_000);
        }
    }

    #[test]
    fn a_hundred_thousand_attempts_stay_small() {
        let ledger = Ledger {
            products: vec!["p".into()],
            attempts: attempts(100_000, |i| if i % 20_000 == 0 { Outcome::Won } else { Outcome::SoldOut }),
            release_us: Some(1_000),
            ..Ledger::default()
        };
        let (dir, charts) = render_into(&ledger);
        assert_files(dir.path(), &charts, 1_000_000);
        let over_time = charts.iter().find(|c| c.name == "latency-over-time").expect("chart");
        assert!(over_time.svg.contains("percentile bands"), "aggregated, not 100,000 points");
    }
}
