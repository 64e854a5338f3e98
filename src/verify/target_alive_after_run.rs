//! `target_alive_after_run` (liveness): once the load is over, the target still answers a
//! request that reads its store (a product read on every reference instance; for an `http`
//! target its stock probe, else a GET of the order path; never the warm-up alone), below 500
//! and within 2 s. A server that crashed or hangs fails it.

use super::Input;
use crate::model::check::{Check, Invariant, Status};
use crate::model::Liveness;

pub fn check(input: &Input) -> Check {
    match input.after_run {
        None => Check::new(
            Invariant::TargetAliveAfterRun,
            Status::NotApplicable,
            "the target was not probed after the load",
        ),
        Some(a) if a.liveness == Liveness::Responsive => {
            Check::new(Invariant::TargetAliveAfterRun, Status::Pass, format!("after the load, {}", a.detail))
        }
        Some(a) => Check::new(Invariant::TargetAliveAfterRun, Status::Fail, format!("after the load, {}", a.detail)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::*;
    use crate::target::AfterRun;

    #[test]
    fn fails_on_no_answer_or_a_5xx_and_passes_on_an_answer() {
        let (s, l, t) = (scenario(5, 1), ledger(vec![]), truth(5, 5, &[]));
        let input = Input::new(&s, &l, &t);
        assert_eq!(check(&input).status, Status::NotApplicable);
        let ok = AfterRun::of("GET /products/p", Ok(200));
        assert_eq!(check(&Input::new(&s, &l, &t).with_after_run(Some(&ok))).status, Status::Pass);
        let hung = AfterRun::of("GET /products/p", Err("timed out".into()));
        let c = check(&Input::new(&s, &l, &t).with_after_run(Some(&hung)));
        assert!(c.status == Status::Fail && c.detail.contains("no answer within 2 s"), "{c:?}");
        let broken = AfterRun::of("GET /products/p", Ok(503));
        assert_eq!(check(&Input::new(&s, &l, &t).with_after_run(Some(&broken))).status, Status::Fail);
    }
}
