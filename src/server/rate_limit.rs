//! The per-buyer rate limiter of one server instance (governor, keyed by buyer id). Buyers
//! whose budget is whole again are forgotten every [`PRUNE_EVERY`], so a long soak of unique
//! buyers does not grow the server's memory (governor keeps a key per buyer until asked).

use crate::model::RateLimit;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::time::Duration;

/// How often a server forgets the buyers it would treat as new anyway.
pub const PRUNE_EVERY: Duration = Duration::from_secs(10);

type Keyed<C> = RateLimiter<String, DefaultKeyedStateStore<String>, C, NoOpMiddleware<<C as Clock>::Instant>>;

/// Admits or refuses a buyer's request; `None` inside means no limit.
#[derive(Debug)]
pub struct BuyerLimiter<C: Clock = DefaultClock>(Option<Keyed<C>>);

impl BuyerLimiter {
    pub fn new(limit: RateLimit) -> Self {
        BuyerLimiter::with_clock(limit, DefaultClock::default())
    }
}

impl<C: Clock> BuyerLimiter<C> {
    /// A limiter on `clock` (tests move a fake one).
    pub fn with_clock(limit: RateLimit, clock: C) -> Self {
        BuyerLimiter(match limit {
            RateLimit::Off => None,
            RateLimit::Every { requests, period } => {
                let quota = Quota::with_period(period / requests.get())
                    .map(|q| q.allow_burst(requests))
                    .unwrap_or_else(|| Quota::per_second(requests));
                Some(RateLimiter::dashmap_with_clock(quota, clock))
            }
        })
    }

    /// True when `buyer` may make one more request now.
    pub fn admit(&self, buyer: &str) -> bool {
        match &self.0 {
            None => true,
            Some(limiter) => limiter.check_key(&buyer.to_string()).is_ok(),
        }
    }

    /// Forgets every buyer whose budget has refilled (it would be admitted as a stranger).
    pub fn prune(&self) {
        if let Some(limiter) = &self.0 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Buyers the limiter holds state for.
    pub fn tracked(&self) -> usize {
        self.0.as_ref().map_or(0, |l| l.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    #[test]
    fn refuses_past_the_burst_per_buyer() {
        let limiter = BuyerLimiter::new("3/min".parse().expect("rate"));
        assert!((0..3).all(|_| limiter.admit("a")));
        assert!(!limiter.admit("a"));
        assert!(limiter.admit("b"), "another buyer has its own budget");
        assert!(BuyerLimiter::new(RateLimit::Off).admit("a"));
    }

    #[test]
    fn unique_buyers_are_forgotten_once_their_budget_is_whole() {
        let clock = FakeRelativeClock::default();
        let limiter = BuyerLimiter::with_clock("1000/min".parse().expect("rate"), clock.clone());
        for b in 0..100_000 {
            assert!(limiter.admit(&format!("buyer-{b}")));
        }
        assert_eq!(limiter.tracked(), 100_000, "one key per buyer until pruned");
        limiter.prune();
        assert_eq!(limiter.tracked(), 100_000, "their budgets are not whole yet: kept");
        // One request costs 60 ms of a 1000/min budget; governor keeps a key one interval more.
        clock.advance(Duration::from_millis(120));
        limiter.prune();
        assert_eq!(limiter.tracked(), 0, "memory flat: nobody left");
        // A buyer refused before stays limited after a prune.
        assert!((0..1000).all(|_| limiter.admit("hot")));
        limiter.prune();
        assert!(!limiter.admit("hot"), "a spent budget is not forgotten");
    }
}
