//! `matrix:`: the designs a scenario is compared over (`flashbench compare`). A design is a
//! backend and one of its strategies, written `sqlite/conditional`.

use crate::model::{Backend, Strategy};
use clap::ValueEnum;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One design: where stock lives and how an order is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Design {
    pub backend: Backend,
    pub strategy: Strategy,
}

impl Design {
    /// The folder name of this design's run in a comparison: `sqlite-conditional`.
    pub fn slug(&self) -> String {
        format!("{}-{}", self.backend.name(), self.strategy.name())
    }
}

impl fmt::Display for Design {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.backend.name(), self.strategy.name())
    }
}

fn names<T: ValueEnum>() -> String {
    T::value_variants()
        .iter()
        .filter_map(|v| v.to_possible_value())
        .map(|p| p.get_name().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl FromStr for Design {
    type Err = String;

    fn from_str(text: &str) -> Result<Design, String> {
        let text = text.trim();
        let (b, s) =
            text.split_once('/').ok_or_else(|| format!("{text:?}: write BACKEND/STRATEGY, e.g. sqlite/conditional"))?;
        let backend = Backend::from_str(b.trim(), true)
            .map_err(|_| format!("{text:?}: no backend {:?}; the backends are {}", b.trim(), names::<Backend>()))?;
        let strategy = Strategy::from_str(s.trim(), true)
            .map_err(|_| format!("{text:?}: no strategy {:?}; the strategies are {}", s.trim(), names::<Strategy>()))?;
        if !backend.supports(strategy) {
            return Err(format!("{text:?}: {}", backend.unsupported_message(strategy)));
        }
        Ok(Design { backend, strategy })
    }
}

impl Serialize for Design {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Design {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Design, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Design {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Design".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A backend and one of its strategies: `sqlite/conditional`, `redis/lua`, `memory/naive`.",
            "pattern": "^\\s*(memory|sqlite|postgres|redis)\\s*/\\s*[a-z-]+\\s*$",
            "examples": ["memory/atomic", "sqlite/conditional", "postgres/for-update", "redis/seed-lock"]
        })
    }
}

/// The designs `flashbench compare` runs this scenario over, each on fresh state.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    /// `BACKEND/STRATEGY` pairs, e.g. `[sqlite/conditional, postgres/for-update, redis/lua]`.
    pub strategies: Vec<Design>,
}

/// The designs given to `--strategies`, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct DesignList(pub Vec<Design>);

/// `--strategies a/b,c/d`, for clap.
pub fn parse_design_list(list: &str) -> Result<DesignList, String> {
    parse_designs(list).map(DesignList)
}

/// Parses `--strategies a/b,c/d`: every design, or every error.
pub fn parse_designs(list: &str) -> Result<Vec<Design>, String> {
    let mut designs = Vec::new();
    let mut errors = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part.parse::<Design>() {
            Ok(d) if designs.contains(&d) => errors.push(format!("{d} is named twice")),
            Ok(d) => designs.push(d),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("; "));
    }
    if designs.is_empty() {
        return Err("no design given; write BACKEND/STRATEGY pairs, e.g. sqlite/conditional,redis/lua".into());
    }
    Ok(designs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn designs_parse_and_explain_their_mistakes() {
        let d: Design = "postgres/for-update".parse().expect("design");
        assert_eq!((d.backend, d.strategy), (Backend::Postgres, Strategy::ForUpdate));
        assert_eq!(d.to_string(), "postgres/for-update");
        assert_eq!(d.slug(), "postgres-for-update");
        let e = "redis/for-update".parse::<Design>().expect_err("redis has no for-update");
        assert!(e.contains("backend redis has no strategy for-update"), "{e}");
        assert!("mongo/lua".parse::<Design>().expect_err("no mongo").contains("the backends are memory"));
        assert!("sqlite".parse::<Design>().expect_err("no slash").contains("BACKEND/STRATEGY"));
        let list = parse_designs("memory/atomic, sqlite/naive,memory/atomic").expect_err("twice");
        assert!(list.contains("memory/atomic is named twice"), "{list}");
        assert_eq!(parse_designs("memory/atomic,redis/lua").map(|v| v.len()), Ok(2));
    }
}
