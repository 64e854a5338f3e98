//! Ground truth from Redis: one key per product holding its stock (the key template may name
//! `{product}`), read with one `MGET` (atomic). No order records: stock-only truth. The same
//! connection runs the `redis:` setup steps.

use super::Reading;
use crate::harness::template::{Template, Vars};
use crate::scenario::target::{expand_env, RedisTruth};
use crate::scenario::Scenario;
use crate::server::store::redact;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(5);

pub struct RedisSource {
    conn: redis::aio::MultiplexedConnection,
    keys: Vec<(String, String)>,
}

impl std::fmt::Debug for RedisSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSource").field("keys", &self.keys).finish()
    }
}

impl RedisSource {
    pub async fn connect(spec: &RedisTruth, s: &Scenario) -> Result<RedisSource, String> {
        let url = expand_env(&spec.url)?;
        let shown = redact(&url);
        let client = redis::Client::open(url.as_str()).map_err(|e| format!("{shown}: {e}"))?;
        let conn = tokio::time::timeout(TIMEOUT, client.get_multiplexed_async_connection())
            .await
            .map_err(|_| format!("{shown}: no answer within {TIMEOUT:?}"))?
            .map_err(|e| format!("{shown}: {e}"))?;
        let template = Template::parse(&spec.stock.key)?;
        let keys = s
            .products
            .iter()
            .map(|p| {
                let vars = Vars { product: &p.id, stock: p.stock, ..Vars::default() };
                (p.id.clone(), template.render(&vars))
            })
            .collect();
        Ok(RedisSource { conn, keys })
    }

    /// Every product's stock, in one MGET.
    pub async fn read(&self) -> Result<Reading, String> {
        let mut conn = self.conn.clone();
        let names: Vec<&str> = self.keys.iter().map(|(_, k)| k.as_str()).collect();
        let values: Vec<Option<String>> =
            tokio::time::timeout(TIMEOUT, redis::cmd("MGET").arg(&names).query_async(&mut conn))
                .await
                .map_err(|_| format!("MGET: no answer within {TIMEOUT:?}"))?
                .map_err(|e| format!("MGET: {e}"))?;
        let mut stock = Vec::new();
        for ((product, key), value) in self.keys.iter().zip(values) {
            if let Some(v) = value {
                let n = v.trim().parse::<i64>().map_err(|_| format!("{key} holds {v:?}, not a number"))?;
                stock.push((product.clone(), n));
            }
        }
        Ok(Reading { stock, orders: None })
    }

    /// Runs one command (a setup step).
    pub async fn execute(&self, args: &[String]) -> Result<(), String> {
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd(&args[0]);
        for a in &args[1..] {
            cmd.arg(a);
        }
        tokio::time::timeout(TIMEOUT, cmd.query_async::<redis::Value>(&mut conn))
            .await
            .map_err(|_| format!("{}: no answer within {TIMEOUT:?}", args[0]))?
            .map(|_| ())
            .map_err(|e| format!("{}: {e}", args[0]))
    }
}
