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
//! | `send-skew` | how late each buyer's first request completed after its intended start |
//! | `fairness` | winners by arrival rank: were the winners the earliest senders? |

mod burst;
mod flow;
mod latency;
mod over_time;

use crate::harness::Ledger;
use crate::outcome::Outcome;
use crate::report::Summary;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

pub const WIDTH: u32 = 960;
pub const HEIGHT: u32 = 480;
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
    root.fill(&WHITE).map_err(e)?;
    root.draw(&Text::new(title.to_string(), (20, 16), (FONT, 20).into_font())).map_err(e)?;
    root.draw(&Text::new(
        why.to_string(),
        (WIDTH as i32 / 2 - 120, HEIGHT as i32 / 2),
        (FONT, 16).into_font().color(&BLACK.mix(0.6)),
    ))
    .map_err(e)?;
    Ok(())
}

/// Draws the legend of every labelled series, the same way on every chart.
fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Drawn {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 13))
        .draw()
        .map_err(e)
}

/// A legend entry for a series drawn as rectangles or points.
fn legend_box(c: RGBColor) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], c.filled())
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

fn render<C: Draw>(chart: &C, dir: &Path) -> Result<Chart, String> {
    let png = dir.join(format!("{}.png", C::NAME));
    {
        let root = BitMapBackend::new(&png, (WIDTH, HEIGHT)).into_drawing_area();
        chart.draw(&root)?;
        root.present().map_err(e)?;
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
        chart.draw(&root)?;
        root.present().map_err(e)?;
    }
    super::write_atomic(&dir.join(format!("{}.svg", C::NAME)), svg.as_bytes()).map_err(e)?;
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
}

#[cfg(test)]
mod edge_cases {
    use super::*;
    use crate::harness::Attempt;

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
