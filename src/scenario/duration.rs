//! Durations written the way people write them: `2s`, `150ms`, `1m 30s`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// A [`Duration`] that reads and writes as human text (`250ms`, `2s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

impl HumanDuration {
    pub fn from_millis(ms: u64) -> Self {
        HumanDuration(Duration::from_millis(ms))
    }
}

/// The longest duration a scenario may give: long enough for any sale, short enough that no
/// sum of them (a run's deadline adds several, times the attempts) can overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Parses `250ms`, `2s`, `1m`, `1h 5m`, up to [`MAX_DURATION`]; a bare number is refused
/// because its unit would be a guess.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("invalid duration {text:?} ({e}); write a number with a unit, e.g. 250ms, 2s, 1m"))?;
    if d > MAX_DURATION {
        return Err(format!("duration {text:?} is longer than the most a scenario may give, 24h"));
    }
    Ok(d)
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        parse_duration(&text).map(HumanDuration).map_err(serde::de::Error::custom)
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl schemars::JsonSchema for HumanDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A duration with its unit: `250ms`, `2s`, `1m 30s`.",
            "pattern": "^\\s*[0-9]+(\\.[0-9]+)?\\s*[a-zµ]+(\\s*[0-9]+(\\.[0-9]+)?\\s*[a-zµ]+)*\\s*$",
            "examples": ["250ms", "2s", "10s"]
        })
    }
}
