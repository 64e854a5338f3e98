//! Everything after the load, for a run in one process and a merge of shards' parts alike:
//! ground truth, resolution, the checks, the thresholds, the faults' effects, and the summary
//! the verdict is written into.

use super::judge::{self, Verdict};
use crate::baseline::Baseline;
use crate::harness::{self};
use crate::live::{Live, Phase};
use crate::model::baseline::Limit;
use crate::model::baseline::LimitStatus;
use crate::model::check::Check;
use crate::model::threshold::ThresholdResult;
use crate::model::Interruption;
use crate::model::Ledger;
use crate::model::Truth;
use crate::model::{InvariantSummary, ProductSummary, Summary, TargetInfo};
use crate::resolve;
use crate::scenario::Scenario;
use crate::stats;
use crate::target::{self};
use crate::threshold::Observed;
use crate::truth;
use crate::verify;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// Adds the baseline comparison to `summary`; returns the regressions beyond their limits, one
/// line each, for the verdict ([`judge::fold`]: exit 3 unless something worse happened).
pub(super) fn compare_with_baseline(
    summary: &mut Summary,
    s: &Scenario,
    baseline: &Baseline,
    extra: &[Limit],
) -> Vec<String> {
    let Some(before) = baseline.run(&s.name) else {
        summary.reasons.push(format!("baseline {} has no run of {}; nothing compared", baseline.file, s.name));
        return Vec::new();
    };
    let mut limits: Vec<Limit> = s.regression.iter().filter_map(|(m, l)| Limit::parse(m, l).ok()).collect();
    for l in extra {
        limits.retain(|x| x.name != l.name);
        limits.push(l.clone());
    }
    let report = crate::baseline::compare(&baseline.file, before, summary, &limits);
    let regressed: Vec<String> = report
        .rows
        .iter()
        .filter(|r| r.status == LimitStatus::Fail)
        .map(|r| {
            format!(
                "regression: {} {} → {} ({}, limit {}%)",
                r.metric,
                r.before_text,
                r.now_text,
                r.change_text(),
                r.limit_percent.unwrap_or(0.0)
            )
        })
        .collect();
    summary.baseline = Some(report);
    regressed
}

/// The faults with what the load saw while each lasted, and those not tested (one line each):
/// a fault that could not act, or whose trigger never came, leaves a pass unproven.
fn fault_effects(
    mut records: Vec<crate::model::FaultRecord>,
    ledger: &Ledger,
    s: &Scenario,
    checks: &[Check],
) -> (Vec<crate::model::FaultRecord>, Vec<String>) {
    if records.is_empty() {
        return (records, Vec::new());
    }
    let lost = checks
        .iter()
        .find(|c| c.name == crate::model::check::Invariant::AckedOrdersDurable)
        .and_then(|c| c.counts.get("missing"))
        .map(|n| *n as u64);
    crate::faults::effects(&mut records, ledger, s.request_timeout.0, lost);
    let untested = records
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match (&r.error, r.start_us) {
            (Some(e), _) => Some(format!("fault {i} ({}) could not act: {e}", r.kind)),
            (None, None) => Some(format!("fault {i} ({}) never came: the load ended before its trigger", r.kind)),
            _ => None,
        })
        .collect();
    (records, untested)
}

/// Everything after the load: reads the truth once the target is quiet, stops the target,
/// resolves the indeterminate attempts, checks the invariants and thresholds, and decides.
/// A run in one process and a merge of shards' parts end alike here.
pub(crate) async fn conclude(
    ctx: &mut Context<'_>,
    target: Box<dyn target::Target>,
    mut ledger: Ledger,
    live: &Arc<Live>,
    t0: Instant,
    faults: Vec<crate::model::FaultRecord>,
) -> (Summary, Ledger) {
    let s = ctx.s;
    let skew = stats::send_skew(&ledger);
    if !ledger.attempts.is_empty() {
        live.send_skew(skew.p50, skew.p99, skew.max);
    }
    live.set_phase(Phase::Truth);
    let awaited = truth::Awaited::of(s, &ledger);
    let read = target.read_truth(s, &awaited).await;
    let after_run = target.after_run().await;
    ctx.target.after_run = Some(after_run.liveness);
    target.stop().await;
    let truth = match read {
        Ok(truth) => truth,
        Err(e) => return (environment_failure(ctx, e.to_string(), &ledger, t0, live), ledger),
    };
    live.set_phase(Phase::Verifying);
    resolve::resolve(s, &mut ledger, &truth);
    let mut checks = verify::check_all(&verify::Input::new(s, &ledger, &truth).with_after_run(Some(&after_run)));
    let signal = crate::interrupt::requested();
    let load_cut = signal.is_some() && !live.interrupted_during().is_some_and(Phase::after_load);
    if load_cut {
        unprovable_when_cut(&mut checks);
    }
    let counts = stats::outcome_counts(&ledger);
    let observed = Observed::new(&ledger);
    let thresholds: Vec<ThresholdResult> = s.thresholds.iter().map(|t| observed.evaluate(t)).collect();
    let nothing_sent = (!ledger.attempts.is_empty() && ledger.attempts.iter().all(|a| !a.outcome.was_sent()))
        .then(|| ledger.attempts.iter().find_map(|a| a.error.clone()).unwrap_or_default());
    let (faults, untested_faults) = fault_effects(faults, &ledger, s, &checks);
    let interruption = interruption(live, &ledger, s.total_buyers());
    let facts = judge::Facts {
        checks: &checks,
        counts: Some(&counts),
        thresholds: &thresholds,
        overrun: ledger.overrun.as_ref(),
        truth: Some(&truth.reading),
        nothing_sent: nothing_sent.as_deref(),
        environment: None,
        untested_faults: &untested_faults,
        interruption: interruption.as_ref(),
    };
    let verdict = judge::judge(s, &facts);
    let mut summary = build_summary(ctx, &ledger, Some(&truth), &checks, &verdict);
    summary.duration_ms = t0.elapsed().as_millis() as u64;
    summary.thresholds = thresholds;
    summary.faults = faults;
    summary.interrupted = interruption;
    (summary, ledger)
}

/// Checks a cut load cannot decide: stock left unsold proves nothing when buyers were stopped.
fn unprovable_when_cut(checks: &mut [Check]) {
    for c in checks.iter_mut().filter(|c| c.name == crate::model::Invariant::NoUndersell) {
        c.status = crate::model::Status::NotApplicable;
        c.detail = format!(
            "not checked: the run was interrupted before every buyer had made its attempts, so stock left \
             unsold proves nothing ({})",
            c.detail
        );
    }
}

/// The interruption, when a signal has come: in which phase, and what it cut.
fn interruption(live: &Live, ledger: &Ledger, buyers: u32) -> Option<Interruption> {
    let signal = crate::interrupt::requested()?;
    let during = live.interrupted_during().unwrap_or(Phase::Starting);
    let cut_attempts = ledger
        .attempts
        .iter()
        .filter(|a| a.error.as_deref().is_some_and(|e| e.starts_with(harness::buyer::CUT_BY_STOP)))
        .count() as u64;
    let sent: std::collections::HashSet<u32> =
        ledger.attempts.iter().filter(|a| a.outcome.was_sent()).map(|a| a.buyer).collect();
    let stopped_buyers = u64::from(buyers).saturating_sub(sent.len() as u64);
    let load_complete = during.after_load();
    let what = if load_complete {
        "the load had finished, so the checks below are complete".to_string()
    } else {
        format!(
            "a partial run: {} sent, {} cut in flight, {} sent nothing; it proves no pass",
            crate::text::count(ledger.attempts.iter().filter(|a| a.outcome.was_sent()).count() as u64, "attempt"),
            crate::text::count(cut_attempts, "attempt"),
            crate::text::count(stopped_buyers, "buyer"),
        )
    };
    Some(Interruption {
        signal: match signal {
            crate::interrupt::Signal::Interrupt => "SIGINT".into(),
            crate::interrupt::Signal::Terminate => "SIGTERM".into(),
        },
        during: during.name().into(),
        load_complete,
        cut_attempts,
        stopped_buyers,
        exit_code: signal.exit_code(),
        reason: format!("interrupted by {} in phase `{}`: {what}", signal.name(), during.name()),
    })
}

/// What every summary of one run is built from.
pub(crate) struct Context<'a> {
    pub s: &'a Scenario,
    pub file: &'a Path,
    pub target: TargetInfo,
    pub started_at: &'a str,
}

/// The summary of a run whose environment failed: nothing checked, exit 4 (or the signal's
/// code, when one came).
pub(crate) fn environment_failure(ctx: &Context, error: String, ledger: &Ledger, t0: Instant, live: &Live) -> Summary {
    let checks = verify::unchecked(&error);
    let interruption = interruption(live, ledger, ctx.s.total_buyers());
    let facts = judge::Facts {
        checks: &checks,
        environment: Some(&error),
        interruption: interruption.as_ref(),
        ..judge::Facts::default()
    };
    let verdict = judge::judge(ctx.s, &facts);
    let mut summary = build_summary(ctx, ledger, None, &checks, &verdict);
    summary.error = Some(error);
    summary.duration_ms = t0.elapsed().as_millis() as u64;
    summary.interrupted = interruption;
    summary
}

fn build_summary(
    ctx: &Context,
    ledger: &Ledger,
    truth: Option<&Truth>,
    checks: &[Check],
    verdict: &Verdict,
) -> Summary {
    let (s, file, started_at) = (ctx.s, ctx.file, ctx.started_at);
    Summary {
        flashbench_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: s.name.clone(),
        description: s.description.clone(),
        scenario_file: file.display().to_string(),
        verdict: verdict.kind,
        exit_code: verdict.exit_code,
        reasons: verdict.reasons.clone(),
        error: None,
        started_at: started_at.to_string(),
        target: ctx.target.clone(),
        buyers: s.total_buyers(),
        attempts: ledger.attempts.len() as u64,
        products: products_of(s, ledger, truth),
        outcomes: stats::outcome_counts(ledger).into_iter().map(|(o, n)| (o.name().to_string(), n)).collect(),
        indeterminate: crate::model::Indeterminate::of(ledger),
        queued: stats::queued(ledger),
        truth: truth.map(|t| t.reading.clone()),
        expected_outcomes: verdict.outcome_checks.clone(),
        invariants: checks
            .iter()
            .map(|c| InvariantSummary::from_check(c, s.expect.violations.contains(&c.name)))
            .collect(),
        latency_us: stats::latency(ledger),
        service_time_us: stats::service_time(ledger),
        throughput_rps: stats::throughput_rps(ledger),
        duration_ms: 0,
        load_ms: stats::load_window_us(ledger) / 1000,
        send_skew_us: stats::send_skew(ledger),
        connect_failures: ledger.connect_failures,
        late_buyers: ledger.late_buyers,
        overrun: ledger.overrun,
        reconnected: ledger.reconnected,
        early_answers: ledger.early_answers,
        top_errors: stats::top_errors(ledger, 5),
        release_us: ledger.release_us,
        fairness: crate::fairness::measure(ledger),
        timeseries_interval_ms: s.timeseries_interval.0.as_millis().max(1) as u64,
        stream: stream_of(s, ledger),
        environment: crate::resources::environment(),
        thresholds: Vec::new(),
        repetitions: Vec::new(),
        shown_repetition: None,
        violation_rate: std::collections::BTreeMap::new(),
        baseline: None,
        resources: None,
        interrupted: None,
        shards: Vec::new(),
        faults: Vec::new(),
    }
}

/// Each product as the summary shows it: its stock at the start and the end, its orders, and
/// the demand its buyers could lawfully make.
fn products_of(s: &Scenario, ledger: &Ledger, truth: Option<&Truth>) -> Vec<ProductSummary> {
    let demand = s.eligible_demand_without(&ledger.dropped_buyers());
    s.products
        .iter()
        .enumerate()
        .map(|(i, p)| ProductSummary {
            id: p.id.clone(),
            initial_stock: u64::from(p.stock),
            final_stock: truth.and_then(|t| t.products[i].final_stock),
            orders: truth.and_then(|t| t.orders_of(i)),
            units_ordered: truth.and_then(|t| t.units_ordered(i)).map_or(0, |u| u.max(0) as u64),
            eligible_demand: demand.get(i).copied().unwrap_or(0),
        })
        .collect()
}

/// What became of the open stream's arrivals, when the run has one.
fn stream_of(s: &Scenario, ledger: &Ledger) -> Option<crate::model::StreamSummary> {
    s.arrival.stream().map(|st| {
        let arrivals = ledger.arrivals.max(st.count());
        let dropped = ledger.dropped.len() as u64;
        crate::model::StreamSummary {
            arrivals,
            dropped,
            dropped_rate: if arrivals == 0 { 0.0 } else { dropped as f64 / arrivals as f64 },
            max_in_flight: st.slots(),
            peak_in_flight: stats::peak_in_flight(ledger),
            start_us: ledger.stream_start_us,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_nemesis_leaves_every_fault_untested() {
        let text = "name: t\nproducts:\n  - id: p\n    stock: 5\nbuyers:\n  count: 10\nserver:\n  backend: sqlite\n\
                    faults:\n  - kind: slow_store\n    latency: 5ms\n    for: 1s\n  - kind: command\n    run: \"true\"\n";
        let s = crate::scenario::load_str(text, "t.yaml", Path::new(".")).expect("scenario");
        let records = crate::faults::not_run(&s.faults, "the nemesis failed: it panicked");
        let (records, untested) = fault_effects(records, &Ledger::default(), &s, &[]);
        assert_eq!(records.len(), 2);
        assert_eq!(untested.len(), 2, "{untested:?}");
        assert!(untested.iter().all(|u| u.contains("could not act: the nemesis failed")), "{untested:?}");
    }
}
