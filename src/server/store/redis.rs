//! The `redis` store (redis crate, async, one multiplexed connection per instance). Every key
//! of a run starts with its prefix, so runs and tests never collide; the keys are deleted at
//! the end unless kept. Strategies: `lua` (check, decrement and the order record in one
//! script), `lock` (one lock per product with an owner token, waited for, and a write fenced
//! by it), `seed-lock` (the seed's stock-keyed lock with a 2 s TTL, released only by expiry:
//! undersells, and oversells when a holder outlives its lock) and `naive` (GET, then SET:
//! oversells). The lock strategies wait the store's added latency inside the lock, between
//! their check and their write: the window a paused holder outlives its lock in.
//!
//! Keys: `{p}:products` (set of ids), `{p}:stock:{id}`, `{p}:name:{id}`, `{p}:limit:{id}`,
//! `{p}:held:{id}` (hash buyer → orders), `{p}:orders` (hash order id → JSON), `{p}:seq`,
//! the seed design's `{p}:lock:product:{id}:stock:{stock}` and the `lock` strategy's
//! `{p}:lock:{id}`.

use super::{
    redact, Checks, LockTracker, Order, OrderRequest, Placed, ProductStock, SeedProduct, Snapshot, StoreError,
    StoreOptions, SEED_LOCK_TTL,
};
use crate::model::Strategy;
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{AsyncCommands, Script};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Longest a command may wait for its answer before the request is failed.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The `lua` strategy's script; `bench/stores.sh` runs the same file with redis-benchmark.
pub const PLACE_LUA: &str = include_str!("place.lua");

/// Takes an order back atomically. KEYS: orders hash, stock, held   ARGV: id, quantity, buyer
const CANCEL_LUA: &str = r#"
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then
  redis.call('INCRBY', KEYS[2], ARGV[2])
  redis.call('HINCRBY', KEYS[3], ARGV[3], -1)
  return 1
end
return 0
"#;

/// The `lock` strategy's write, fenced by the lock: it happens only while the caller's token
/// still holds the lock, in one script, and releases it.
/// KEYS: lock, stock, limit, held, orders, seq   ARGV: token, quantity, buyer, order JSON
/// Returns {1, order id, remaining}, {0} sold out, {-2, limit}, {-1} unknown, {-3} lock lost.
const FENCED_WRITE_LUA: &str = r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {-3} end
local stock = redis.call('GET', KEYS[2])
if not stock then redis.call('DEL', KEYS[1]) return {-1} end
local q = tonumber(ARGV[2])
if tonumber(stock) < q then redis.call('DEL', KEYS[1]) return {0} end
local limit = tonumber(redis.call('GET', KEYS[3]) or '1')
local held = tonumber(redis.call('HGET', KEYS[4], ARGV[3]) or '0')
if held >= limit then redis.call('DEL', KEYS[1]) return {-2, limit} end
local remaining = redis.call('DECRBY', KEYS[2], q)
local id = redis.call('INCR', KEYS[6])
redis.call('HSET', KEYS[5], id, ARGV[4])
redis.call('HINCRBY', KEYS[4], ARGV[3], 1)
redis.call('DEL', KEYS[1])
return {1, id, remaining}
"#;

/// Releases a lock only if the token still holds it.   KEYS: lock   ARGV: token
const RELEASE_LUA: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

/// How long the `lock` strategy waits for a held lock before answering busy.
const LOCK_WAIT: Duration = Duration::from_secs(5);

/// `(id, name, stock)` as [`SNAPSHOT_LUA`] returns it; the stock is `""` when missing.
type StockRow = (String, String, String);

/// Ground truth in one atomic read: `{{id, name, stock}...}` and the orders hash.
/// KEYS: products set, orders hash   ARGV: prefix
const SNAPSHOT_LUA: &str = r#"
local rows = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local stock = redis.call('GET', ARGV[1] .. ':stock:' .. id)
  local name = redis.call('GET', ARGV[1] .. ':name:' .. id)
  rows[#rows + 1] = {id, name or '', stock or ''}
end
return {rows, redis.call('HGETALL', KEYS[2])}
"#;

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Query { backend: "redis", cause: e.to_string() }
}

#[derive(Serialize, Deserialize)]
struct StoredOrder {
    product_id: String,
    buyer_id: String,
    quantity: u32,
}

/// Where the data is, for people: the server and the key pattern.
pub fn describe(url: &str, prefix: &str) -> String {
    format!("{} keys {prefix}:*", redact(url))
}

/// How to remove a run's keys by hand.
pub fn removal(prefix: &str) -> String {
    format!("redis-cli --scan --pattern '{prefix}:*' | xargs -r redis-cli del")
}

/// The `serve` arguments that point a child server at the keys; the URL goes in its
/// environment, where `ps` does not show the password.
pub fn child_args(url: &str, prefix: &str, args: &mut Vec<String>, env: &mut Vec<(&'static str, String)>) {
    env.push(("FLASHBENCH_REDIS_URL", url.to_string()));
    args.extend(["--redis-prefix".into(), prefix.to_string()]);
}

impl RedisStore {
    /// `Redis 7.0.15`, for the report's environment.
    pub async fn version(&self) -> Option<String> {
        let mut conn = self.conn.clone();
        let info: String = ::redis::cmd("INFO").arg("server").query_async(&mut conn).await.ok()?;
        let v = info.lines().find_map(|l| l.strip_prefix("redis_version:"))?;
        Some(format!("Redis {}", v.trim()))
    }
}

pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    strategy: Strategy,
    script: Script,
    locks: LockTracker,
    /// The store's added latency (µs), waited inside the lock by the lock strategies: the
    /// window in which a paused holder outlives its lock.
    hold_us: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").field("prefix", &self.prefix).field("strategy", &self.strategy).finish()
    }
}

impl RedisStore {
    pub async fn open(url: &str, prefix: &str, strategy: Strategy, opts: &StoreOptions) -> Result<Self, StoreError> {
        let connect_err = |cause: String| StoreError::Connect { target: redact(url), cause };
        let client = ::redis::Client::open(url).map_err(|e| connect_err(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(opts.timeout))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1);
        let conn = tokio::time::timeout(opts.timeout * 2, ConnectionManager::new_with_config(client, config))
            .await
            .map_err(|_| connect_err(format!("no answer within {:?}", opts.timeout * 2)))?
            .map_err(|e| connect_err(e.to_string()))?;
        Ok(RedisStore {
            conn,
            prefix: prefix.to_string(),
            strategy,
            script: Script::new(PLACE_LUA),
            locks: LockTracker::default(),
            hold_us: Default::default(),
        })
    }

    /// Shares the store's added latency, to be waited inside the lock (lock strategies).
    pub fn hold_with(&mut self, latency_us: std::sync::Arc<std::sync::atomic::AtomicU64>) {
        self.hold_us = latency_us;
    }

    /// Waits the added latency, if any: called by the lock strategies while they hold the lock.
    async fn hold(&self) {
        let us = self.hold_us.load(std::sync::atomic::Ordering::Relaxed);
        if us > 0 {
            tokio::time::sleep(Duration::from_micros(us)).await;
        }
    }

    /// The `seed-lock` locks this handle took (the keys it `SET NX PX`), counted as expired
    /// once their TTL has passed on this process's clock (only a reseed deletes them sooner).
    pub fn locks(&self) -> &LockTracker {
        &self.locks
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut k = self.prefix.clone();
        for p in parts {
            k.push(':');
            k.push_str(p);
        }
        k
    }

    /// Deletes every key of this prefix.
    pub async fn delete_keys(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let pattern = format!("{}:*", self.prefix);
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = ::redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .map_err(err)?;
            if !keys.is_empty() {
                let _: () = conn.del(keys).await.map_err(err)?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    pub async fn seed(&self, products: &[SeedProduct]) -> Result<(), StoreError> {
        self.delete_keys().await?;
        let mut pipe = ::redis::pipe();
        pipe.atomic();
        for p in products {
            pipe.sadd(self.key(&["products"]), &p.id)
                .set(self.key(&["stock", &p.id]), i64::from(p.stock))
                .set(self.key(&["name", &p.id]), &p.name)
                .set(self.key(&["limit", &p.id]), p.limit_per_buyer);
        }
        let mut conn = self.conn.clone();
        let _: () = pipe.query_async(&mut conn).await.map_err(err)?;
        Ok(())
    }

    pub async fn product(&self, id: &str) -> Result<Option<ProductStock>, StoreError> {
        let mut conn = self.conn.clone();
        let (stock, name): (Option<i64>, Option<String>) = ::redis::pipe()
            .get(self.key(&["stock", id]))
            .get(self.key(&["name", id]))
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        Ok(stock.map(|stock| ProductStock { id: id.to_string(), name: name.unwrap_or_default(), stock }))
    }

    /// Every product's stock and every order from one script: Redis runs a script alone, so
    /// the reads are one consistent snapshot.
    ///
    /// A connection found dropped (the server restarted while it was idle: a `kill_store`) is
    /// made again and the read tried once more; the read changes nothing, so that is safe.
    pub async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let read = || async {
            let mut conn = self.conn.clone();
            Script::new(SNAPSHOT_LUA)
                .key(self.key(&["products"]))
                .key(self.key(&["orders"]))
                .arg(&self.prefix)
                .invoke_async::<(Vec<StockRow>, Vec<(String, String)>)>(&mut conn)
                .await
        };
        let (stocks, raw) = match read().await {
            Err(e) if e.is_connection_dropped() || e.is_io_error() => read().await,
            first => first,
        }
        .map_err(err)?;
        let mut products = Vec::with_capacity(stocks.len());
        for (id, name, stock) in stocks {
            if stock.is_empty() {
                continue;
            }
            let stock = stock.parse().map_err(|_| err(format!("stock of {id} is not a number: {stock:?}")))?;
            products.push(ProductStock { id, name, stock });
        }
        products.sort_by(|a, b| a.id.cmp(&b.id));
        let mut orders = Vec::with_capacity(raw.len());
        for (id, json) in raw {
            let o: StoredOrder =
                serde_json::from_str(&json).map_err(|e| err(format!("order {id} is not valid JSON: {e}")))?;
            orders.push(Order { id, product_id: o.product_id, buyer_id: o.buyer_id, quantity: o.quantity });
        }
        orders.sort_by_key(|o| o.id.parse::<u64>().unwrap_or(u64::MAX));
        Ok(Snapshot { products, orders })
    }

    pub async fn place(&self, req: &OrderRequest) -> Result<Placed, StoreError> {
        match self.strategy {
            Strategy::SeedLock => self.place_seed_lock(req).await,
            Strategy::Lock => self.place_fenced(req).await,
            Strategy::Naive => self.place_naive(req).await,
            other => self.place_lua(req, Checks::of(other)).await,
        }
    }

    /// Takes a created order back in one script: the order goes, its units return.
    pub async fn cancel(&self, order: &Order) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _: i64 = Script::new(CANCEL_LUA)
            .key(self.key(&["orders"]))
            .key(self.key(&["stock", &order.product_id]))
            .key(self.key(&["held", &order.product_id]))
            .arg(&order.id)
            .arg(order.quantity)
            .arg(&order.buyer_id)
            .invoke_async(&mut conn)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn place_lua(&self, req: &OrderRequest, checks: Checks) -> Result<Placed, StoreError> {
        let mut conn = self.conn.clone();
        let id = req.product_id.as_str();
        let answer: Vec<i64> = self
            .script
            .key(self.key(&["stock", id]))
            .key(self.key(&["limit", id]))
            .key(self.key(&["held", id]))
            .key(self.key(&["orders"]))
            .key(self.key(&["seq"]))
            .arg(&req.buyer_id)
            .arg(req.quantity)
            .arg(id)
            .arg(if checks.stock { "0" } else { "1" })
            .arg(if checks.limit { "0" } else { "1" })
            .invoke_async(&mut conn)
            .await
            .map_err(err)?;
        Self::placed(&answer, req)
    }

    /// What an order script's answer means: {1, order id, remaining}, {0} sold out,
    /// {-2, limit} limit reached, {-1} unknown product, {-3} the lock was lost (`lock`).
    fn placed(answer: &[i64], req: &OrderRequest) -> Result<Placed, StoreError> {
        Ok(match answer {
            [1, order, remaining] => Placed::Created { order: req.order(*order), remaining: *remaining },
            [0] => Placed::SoldOut,
            [-2, limit] => Placed::LimitReached { limit: *limit as u32 },
            [-1] => Placed::UnknownProduct,
            // The lock expired while its holder was away: another may have sold since.
            [-3] => Placed::Busy { seed_style: false },
            other => return Err(err(format!("unexpected script answer {other:?}"))),
        })
    }

    /// Reads (stock, limit, held), or `None` for an unknown product.
    async fn read(&self, req: &OrderRequest) -> Result<Option<(i64, i64, i64)>, StoreError> {
        let mut conn = self.conn.clone();
        let id = req.product_id.as_str();
        let (stock, limit, held): (Option<i64>, Option<i64>, Option<i64>) = ::redis::pipe()
            .get(self.key(&["stock", id]))
            .get(self.key(&["limit", id]))
            .hget(self.key(&["held", id]), &req.buyer_id)
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        Ok(stock.map(|s| (s, limit.unwrap_or(1), held.unwrap_or(0))))
    }

    /// Records the order (id, order hash, buyer's count); returns its id.
    async fn record(&self, req: &OrderRequest) -> Result<i64, StoreError> {
        let mut conn = self.conn.clone();
        let id: i64 = conn.incr(self.key(&["seq"]), 1).await.map_err(err)?;
        let json = serde_json::to_string(&StoredOrder {
            product_id: req.product_id.clone(),
            buyer_id: req.buyer_id.clone(),
            quantity: req.quantity,
        })
        .map_err(err)?;
        let _: () = ::redis::pipe()
            .hset(self.key(&["orders"]), id, json)
            .hincr(self.key(&["held", &req.product_id]), &req.buyer_id, 1)
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        Ok(id)
    }

    async fn place_naive(&self, req: &OrderRequest) -> Result<Placed, StoreError> {
        let q = i64::from(req.quantity);
        let Some((stock, limit, held)) = self.read(req).await? else { return Ok(Placed::UnknownProduct) };
        if stock < q {
            return Ok(Placed::SoldOut);
        }
        if held >= limit {
            return Ok(Placed::LimitReached { limit: limit as u32 });
        }
        // Writes back what it read, minus the order: concurrent writers overwrite each other.
        let mut conn = self.conn.clone();
        let _: () = conn.set(self.key(&["stock", &req.product_id]), stock - q).await.map_err(err)?;
        let id = self.record(req).await?;
        Ok(Placed::Created { order: req.order(id), remaining: stock - q })
    }

    /// The seed's flow: read the stock for the key, `SET NX PX 2000` the lock, verify the
    /// stock, create the order, decrement the inventory. The lock is never deleted.
    async fn place_seed_lock(&self, req: &OrderRequest) -> Result<Placed, StoreError> {
        let q = i64::from(req.quantity);
        let mut conn = self.conn.clone();
        let stock: Option<i64> = conn.get(self.key(&["stock", &req.product_id])).await.map_err(err)?;
        let Some(stock) = stock else { return Ok(Placed::UnknownProduct) };
        let lock = self.key(&["lock", "product", &req.product_id, "stock", &stock.to_string()]);
        if !self.try_lock(&lock, "1").await? {
            return Ok(Placed::Busy { seed_style: true });
        }
        self.locks.acquired();
        let Some((current, limit, held)) = self.read(req).await? else { return Ok(Placed::UnknownProduct) };
        if current < q {
            return Ok(Placed::SoldOut);
        }
        if held >= limit {
            return Ok(Placed::LimitReached { limit: limit as u32 });
        }
        // Verified; the write is slow (the store's added latency): a holder that outlives its
        // lock here writes on a stock someone else has sold since.
        self.hold().await;
        let id = self.record(req).await?;
        let remaining: i64 = conn.decr(self.key(&["stock", &req.product_id]), q).await.map_err(err)?;
        Ok(Placed::Created { order: req.order(id), remaining })
    }

    /// `SET lock value NX PX 2000`: did this caller get the lock?
    async fn try_lock(&self, lock: &str, value: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let acquired: Option<String> = ::redis::cmd("SET")
            .arg(lock)
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(SEED_LOCK_TTL.as_millis() as u64)
            .query_async(&mut conn)
            .await
            .map_err(err)?;
        Ok(acquired.is_some())
    }

    /// The seed's lock done right (`lock`): one key per product (`{p}:lock:{id}`) holding a
    /// random owner token for 2 s, waited for rather than refused; the stock is read and
    /// checked under it, and the write is fenced: one script writes only if the token still
    /// holds the lock, so a holder paused past the TTL finds it lost and writes nothing.
    async fn place_fenced(&self, req: &OrderRequest) -> Result<Placed, StoreError> {
        let mut conn = self.conn.clone();
        let lock = self.key(&["lock", &req.product_id]);
        let token = format!("{:032x}", rand::random::<u128>());
        let deadline = tokio::time::Instant::now() + LOCK_WAIT;
        while !self.try_lock(&lock, &token).await? {
            if tokio::time::Instant::now() >= deadline {
                return Ok(Placed::Busy { seed_style: false });
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        self.locks.acquired();
        // Checked under the lock, then the slow part (the store's added latency), then the
        // write, fenced: the script checks the token and the stock again, atomically.
        match self.read(req).await? {
            None => return self.released(&lock, &token, Placed::UnknownProduct).await,
            Some((stock, _, _)) if stock < i64::from(req.quantity) => {
                return self.released(&lock, &token, Placed::SoldOut).await
            }
            Some((_, limit, held)) if held >= limit => {
                return self.released(&lock, &token, Placed::LimitReached { limit: limit as u32 }).await
            }
            Some(_) => {}
        }
        self.hold().await;
        let json = serde_json::to_string(&StoredOrder {
            product_id: req.product_id.clone(),
            buyer_id: req.buyer_id.clone(),
            quantity: req.quantity,
        })
        .map_err(err)?;
        let id = req.product_id.as_str();
        let answer: Vec<i64> = Script::new(FENCED_WRITE_LUA)
            .key(&lock)
            .key(self.key(&["stock", id]))
            .key(self.key(&["limit", id]))
            .key(self.key(&["held", id]))
            .key(self.key(&["orders"]))
            .key(self.key(&["seq"]))
            .arg(&token)
            .arg(req.quantity)
            .arg(&req.buyer_id)
            .arg(json)
            .invoke_async(&mut conn)
            .await
            .map_err(err)?;
        Self::placed(&answer, req)
    }

    /// Releases `lock` if `token` still holds it, then answers `placed`.
    async fn released(&self, lock: &str, token: &str, placed: Placed) -> Result<Placed, StoreError> {
        let mut conn = self.conn.clone();
        let _: i64 = Script::new(RELEASE_LUA).key(lock).arg(token).invoke_async(&mut conn).await.map_err(err)?;
        Ok(placed)
    }
}
