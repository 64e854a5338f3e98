//! The per-buyer rate limiter of one server instance (governor, keyed by buyer id).

use super::RateLimit;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Admits or refuses a buyer's request; `None` inside means no limit.
#[derive(Debug)]
pub struct BuyerLimiter(Option<DefaultKeyedRateLimiter<String>>);

impl BuyerLimiter {
    pub fn new(limit: RateLimit) -> Self {
        BuyerLimiter(match limit {
            RateLimit::Off => None,
            RateLimit::Every { requests, period } => {
                let quota = Quota::with_period(period / requests.get())
                    .map(|q| q.allow_burst(requests))
                    .unwrap_or_else(|| Quota::per_second(requests));
                Some(RateLimiter::keyed(quota))
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_burst_per_buyer() {
        let limiter = BuyerLimiter::new("3/min".parse().expect("rate"));
        assert!((0..3).all(|_| limiter.admit("a")));
        assert!(!limiter.admit("a"));
        assert!(limiter.admit("b"), "another buyer has its own budget");
        assert!(BuyerLimiter::new(RateLimit::Off).admit("a"));
    }
}
