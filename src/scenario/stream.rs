//! Open arrival streams (k6's `constant-arrival-rate` and `ramping-arrival-rate`): new buyers
//! arrive at a rate (`500/s`) for a duration, or at a rate ramped linearly through `stages`,
//! whatever the server does. [`Stream::offsets`] gives every arrival's instant from the
//! stream's start; the harness hands each to a free slot or records it as dropped.

use super::HumanDuration;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// Arrivals per second, written `500/s`, `30000/min` or `3600/h`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Rate(pub f64);

/// The highest rate a scenario may ask for, per second.
pub const MAX_RATE: f64 = 1_000_000.0;

impl Rate {
    pub fn per_second(self) -> f64 {
        self.0
    }
}

impl std::str::FromStr for Rate {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("invalid rate {text:?}; write arrivals per unit of time, e.g. 500/s, 3000/min, 100/h");
        let (count, per) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: f64 = count.trim().parse().ok().filter(|c: &f64| c.is_finite() && *c >= 0.0).ok_or_else(bad)?;
        let seconds = match per.trim() {
            "s" | "sec" | "second" => 1.0,
            "m" | "min" | "minute" => 60.0,
            "h" | "hour" => 3600.0,
            _ => return Err(bad()),
        };
        let rate = count / seconds;
        if rate > MAX_RATE {
            return Err(format!("rate {text:?} is above the most flashbench generates, {MAX_RATE}/s"));
        }
        Ok(Rate(rate))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", self.0)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl schemars::JsonSchema for Rate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Rate".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "Arrivals per unit of time: `500/s`, `3000/min`, `100/h`.",
            "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*/\\s*(s|sec|second|m|min|minute|h|hour)\\s*$",
            "examples": ["500/s", "3000/min"]
        })
    }
}

/// One stage of a ramping rate: the rate moves linearly from the previous stage's (or the
/// stream's starting `rate`) to `rate` over `over`.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub rate: Rate,
    pub over: HumanDuration,
}

/// An open stream of arriving buyers.
#[derive(Debug, Clone, PartialEq, Deserialize, schemars::JsonSchema, Serialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Stream {
    /// Arrivals per second: constant for `duration`, or where the first of `stages` starts
    /// from (default `0/s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    /// How long a constant `rate` lasts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<HumanDuration>,
    /// A rate ramped linearly from target to target, e.g. `[{rate: 100/s, over: 10s},
    /// {rate: 0/s, over: 5s}]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<Stage>,
    /// Buyers at work at most (each on its own connection, reused by later arrivals); an
    /// arrival that finds all busy is `dropped` (k6's dropped_iterations), never delayed.
    /// Default 1000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<u32>,
    /// `background` only: the product every arriving buyer wants; without it they are
    /// spread uniformly over the products.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// Slots of a stream that does not say `max_in_flight`.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 1000;

impl Stream {
    /// The stream's segments as (rate at start, rate at end, length), per second.
    fn segments(&self) -> Vec<(f64, f64, f64)> {
        let start = self.rate.map_or(0.0, Rate::per_second);
        if self.stages.is_empty() {
            let len = self.duration.map_or(0.0, |d| d.0.as_secs_f64());
            return vec![(start, start, len)];
        }
        let mut from = start;
        self.stages
            .iter()
            .map(|st| {
                let seg = (from, st.rate.per_second(), st.over.0.as_secs_f64());
                from = st.rate.per_second();
                seg
            })
            .collect()
    }

    /// How many buyers arrive: the rate's integral over the stream, rounded down.
    pub fn count(&self) -> u64 {
        let total: f64 = self.segments().iter().map(|(a, b, len)| (a + b) / 2.0 * len).sum();
        (total + 1e-6).floor().max(0.0) as u64
    }

    /// How long the stream lasts.
    pub fn length(&self) -> Duration {
        Duration::from_secs_f64(self.segments().iter().map(|s| s.2).sum())
    }

    /// The highest rate anywhere in the stream, per second.
    pub fn peak(&self) -> f64 {
        self.segments().iter().map(|(a, b, _)| a.max(*b)).fold(0.0, f64::max)
    }

    pub fn slots(&self) -> u32 {
        self.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT)
    }

    /// Every arrival's instant from the stream's start: arrival `k` comes when the rate's
    /// integral reaches `k` (so a constant `500/s` arrives at 0, 2 ms, 4 ms, …).
    pub fn offsets(&self) -> Vec<Duration> {
        let total = self.count();
        let mut out = Vec::with_capacity(total.min(10_000_000) as usize);
        let (mut begin, mut before) = (0.0f64, 0.0f64);
        for (a, b, len) in self.segments() {
            let here = (a + b) / 2.0 * len;
            while (out.len() as u64) < total && (out.len() as f64) < before + here + 1e-6 {
                let m = out.len() as f64 - before;
                // Solves a·τ + (b − a)·τ²/(2·len) = m in the form that is stable when a = b.
                let root = (a * a + 2.0 * (b - a) * m / len).max(0.0).sqrt();
                let tau = if a + root > 0.0 { 2.0 * m / (a + root) } else { 0.0 };
                out.push(Duration::from_secs_f64(begin + tau.min(len)));
            }
            begin += len;
            before += here;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(t: &str) -> Rate {
        t.parse().expect("rate")
    }

    #[test]
    fn rates_read_as_people_write_them() {
        assert_eq!(rate("500/s").per_second(), 500.0);
        assert_eq!(rate("3000/min").per_second(), 50.0);
        assert_eq!(rate(" 0/s ").per_second(), 0.0);
        for bad in ["500", "-1/s", "5/fortnight", "x/s", "2000000/s"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn a_constant_rate_arrives_evenly_from_zero() {
        let s =
            Stream { rate: Some(rate("500/s")), duration: Some(HumanDuration::from_millis(2000)), ..Stream::default() };
        let at = s.offsets();
        assert_eq!((s.count(), at.len()), (1000, 1000));
        assert_eq!(at[0], Duration::ZERO);
        assert_eq!(at[1], Duration::from_millis(2));
        assert_eq!(at[999], Duration::from_millis(1998));
    }

    #[test]
    fn stages_ramp_linearly_and_in_order() {
        let s = Stream {
            stages: vec![
                Stage { rate: rate("100/s"), over: HumanDuration::from_millis(10_000) },
                Stage { rate: rate("100/s"), over: HumanDuration::from_millis(5_000) },
                Stage { rate: rate("0/s"), over: HumanDuration::from_millis(10_000) },
            ],
            ..Stream::default()
        };
        // 500 while ramping up, 500 flat, 500 ramping down.
        assert_eq!(s.count(), 1500);
        let at = s.offsets();
        assert_eq!(at.len(), 1500);
        assert!(at.windows(2).all(|w| w[0] <= w[1]), "arrivals are in order");
        // Half the ramp's arrivals (125 of 500) come in its first half: the integral of a
        // linear rate is quadratic.
        let first_half = at.iter().filter(|t| **t < Duration::from_secs(5)).count();
        assert!((124..=126).contains(&first_half), "{first_half}");
        let flat = at.iter().filter(|t| (Duration::from_secs(10)..Duration::from_secs(15)).contains(*t)).count();
        assert!((499..=501).contains(&flat), "{flat}");
        assert!(*at.last().expect("last") <= Duration::from_secs(25));
        assert_eq!(s.length(), Duration::from_secs(25));
        assert_eq!(s.peak(), 100.0);
    }
}
