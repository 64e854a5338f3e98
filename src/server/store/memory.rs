//! The `memory` store: stock and orders in the server process. One store per instance, so two
//! instances sell the same stock twice (which flashbench must catch).
//!
//! Strategies: `atomic` (check and decrement under one lock), `naive` (read, wait, write back)
//! and `seed-lock` (the seed design's stock-keyed TTL lock). Each [`round_trip`] stands where a
//! real store would make a network round trip, which is where other requests get in. It is a
//! real wait ([`ROUND_TRIP`]), not a bare `yield`: a yield only lets in requests that are
//! already parsed, so on a fast machine a server that keeps pace with the arrivals would
//! serve a burst one request at a time and the broken strategies would look correct.

use super::{Checks, LockTracker, Order, OrderRequest, Placed, ProductStock, SeedProduct, Snapshot, SEED_LOCK_TTL};
use crate::model::Strategy;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The store round trip the broken strategies simulate between their steps: about what a
/// Redis or PostgreSQL call costs across a network (tokio timers round it up to 1–2 ms).
pub const ROUND_TRIP: Duration = Duration::from_millis(1);

/// One simulated store round trip.
async fn round_trip() {
    tokio::time::sleep(ROUND_TRIP).await;
}

#[derive(Debug, Default)]
struct Inner {
    products: HashMap<String, ProductState>,
    orders: Vec<Order>,
    held: HashMap<(String, String), u32>,
}

#[derive(Debug)]
struct ProductState {
    name: String,
    stock: i64,
    limit: u32,
}

#[derive(Debug)]
pub struct MemoryStore {
    strategy: Strategy,
    instance: u32,
    next_id: AtomicU64,
    inner: Mutex<Inner>,
    seed_locks: Mutex<HashMap<String, Instant>>,
    locks: LockTracker,
}

impl MemoryStore {
    pub fn new(strategy: Strategy, instance: u32) -> Self {
        MemoryStore {
            strategy,
            instance,
            next_id: AtomicU64::new(1),
            inner: Mutex::new(Inner::default()),
            seed_locks: Mutex::new(HashMap::new()),
            locks: LockTracker::default(),
        }
    }

    /// The `seed-lock` locks this store took.
    pub fn locks(&self) -> &LockTracker {
        &self.locks
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than losing the server, so a poisoned lock is simply taken over.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn seed(&self, products: &[SeedProduct]) {
        let mut inner = self.inner();
        *inner = Inner::default();
        for p in products {
            inner.products.insert(
                p.id.clone(),
                ProductState { name: p.name.clone(), stock: i64::from(p.stock), limit: p.limit_per_buyer },
            );
        }
        self.seed_locks.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub fn product(&self, id: &str) -> Option<ProductStock> {
        self.inner().products.get(id).map(|p| ProductStock { id: id.to_string(), name: p.name.clone(), stock: p.stock })
    }

    pub fn snapshot(&self) -> Snapshot {
        let inner = self.inner();
        let mut products: Vec<ProductStock> = inner
            .products
            .iter()
            .map(|(id, p)| ProductStock { id: id.clone(), name: p.name.clone(), stock: p.stock })
            .collect();
        products.sort_by(|a, b| a.id.cmp(&b.id));
        Snapshot { products, orders: inner.orders.clone() }
    }

    pub async fn place(&self, req: &OrderRequest) -> Placed {
        match self.strategy {
            Strategy::Naive => self.place_naive(req).await,
            Strategy::SeedLock => self.place_seed_lock(req).await,
            // Everything else (the mutants included) runs atomic, with the checks it keeps.
            other => self.place_atomic(req, Checks::of(other)),
        }
    }

    /// Takes a created order back: the order goes, its units return.
    pub fn cancel(&self, order: &Order) {
        let mut inner = self.inner();
        let Some(at) = inner.orders.iter().position(|o| o.id == order.id) else { return };
        let o = inner.orders.remove(at);
        if let Some(p) = inner.products.get_mut(&o.product_id) {
            p.stock += i64::from(o.quantity);
        }
        if let Some(n) = inner.held.get_mut(&(o.product_id.clone(), o.buyer_id.clone())) {
            *n = n.saturating_sub(1);
        }
    }

    fn new_order(&self, req: &OrderRequest) -> Order {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        req.order(format!("m{}-{n}", self.instance))
    }

    /// Records `order` and sets the product's stock to `stock`.
    fn commit(&self, inner: &mut Inner, req: &OrderRequest, stock: i64) -> Placed {
        let order = self.new_order(req);
        if let Some(p) = inner.products.get_mut(&req.product_id) {
            p.stock = stock;
        }
        *inner.held.entry((req.product_id.clone(), req.buyer_id.clone())).or_default() += 1;
        inner.orders.push(order.clone());
        Placed::Created { order, remaining: stock }
    }

    /// Reads (stock, orders the buyer holds, limit), or `None` for an unknown product.
    fn read(&self, req: &OrderRequest) -> Option<(i64, u32, u32)> {
        let inner = self.inner();
        let p = inner.products.get(&req.product_id)?;
        let held = inner.held.get(&(req.product_id.clone(), req.buyer_id.clone())).copied().unwrap_or(0);
        Some((p.stock, held, p.limit))
    }

    fn place_atomic(&self, req: &OrderRequest, checks: Checks) -> Placed {
        let mut inner = self.inner();
        let Some(p) = inner.products.get(&req.product_id) else { return Placed::UnknownProduct };
        let (stock, limit) = (p.stock, p.limit);
        let held = inner.held.get(&(req.product_id.clone(), req.buyer_id.clone())).copied().unwrap_or(0);
        if checks.stock && stock < i64::from(req.quantity) {
            return Placed::SoldOut;
        }
        if checks.limit && held >= limit {
            return Placed::LimitReached { limit };
        }
        self.commit(&mut inner, req, stock - i64::from(req.quantity))
    }

    async fn place_naive(&self, req: &OrderRequest) -> Placed {
        let Some((stock, held, limit)) = self.read(req) else { return Placed::UnknownProduct };
        round_trip().await;
        if stock < i64::from(req.quantity) {
            return Placed::SoldOut;
        }
        if held >= limit {
            return Placed::LimitReached { limit };
        }
        // Writes back what it read, minus the order: concurrent writers overwrite each other.
        let mut inner = self.inner();
        self.commit(&mut inner, req, stock - i64::from(req.quantity))
    }

    /// The seed's flow, one store round trip per step: read the stock (for the key), acquire
    /// the lock, verify the stock, create the order, update the inventory. The lock is never
    /// released; it expires after [`SEED_LOCK_TTL`].
    async fn place_seed_lock(&self, req: &OrderRequest) -> Placed {
        let Some((stock, _, _)) = self.read(req) else { return Placed::UnknownProduct };
        round_trip().await;
        let key = format!("lock:product:{}:stock:{stock}", req.product_id);
        {
            let mut locks = self.seed_locks.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            match locks.get(&key) {
                Some(expires) if *expires > now => return Placed::Busy { seed_style: true },
                _ => {
                    locks.insert(key, now + SEED_LOCK_TTL);
                    self.locks.acquired();
                }
            }
        }
        round_trip().await;
        let Some((current, held, limit)) = self.read(req) else { return Placed::UnknownProduct };
        if current < i64::from(req.quantity) {
            return Placed::SoldOut;
        }
        if held >= limit {
            return Placed::LimitReached { limit };
        }
        round_trip().await;
        let order = self.new_order(req);
        {
            let mut inner = self.inner();
            *inner.held.entry((req.product_id.clone(), req.buyer_id.clone())).or_default() += 1;
            inner.orders.push(order.clone());
        }
        round_trip().await;
        let mut inner = self.inner();
        let Some(p) = inner.products.get_mut(&req.product_id) else { return Placed::UnknownProduct };
        p.stock -= i64::from(req.quantity);
        Placed::Created { order, remaining: p.stock }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(strategy: Strategy, stock: u32) -> MemoryStore {
        let s = MemoryStore::new(strategy, 0);
        s.seed(&[SeedProduct { id: "p".into(), name: "P".into(), stock, limit_per_buyer: 1 }]);
        s
    }

    fn req(buyer: &str) -> OrderRequest {
        OrderRequest { product_id: "p".into(), buyer_id: buyer.into(), quantity: 1 }
    }

    #[tokio::test]
    async fn atomic_sells_exactly_the_stock_and_enforces_the_limit() {
        let s = store(Strategy::Atomic, 2);
        assert!(matches!(s.place(&req("a")).await, Placed::Created { remaining: 1, .. }));
        assert_eq!(s.place(&req("a")).await, Placed::LimitReached { limit: 1 });
        assert!(matches!(s.place(&req("b")).await, Placed::Created { remaining: 0, .. }));
        assert_eq!(s.place(&req("c")).await, Placed::SoldOut);
        let snap = s.snapshot();
        assert_eq!((snap.products[0].stock, snap.orders.len()), (0, 2));
        assert_eq!(s.place(&OrderRequest { product_id: "x".into(), ..req("d") }).await, Placed::UnknownProduct);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn naive_oversells_when_requests_interleave() {
        let s = std::sync::Arc::new(store(Strategy::Naive, 1));
        let tasks: Vec<_> = (0..4)
            .map(|i| {
                let s = s.clone();
                tokio::spawn(async move { s.place(&req(&format!("b{i}"))).await })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        assert!(s.snapshot().orders.len() > 1, "naive must oversell when every read precedes the writes");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn seed_lock_refuses_same_level_contenders_with_busy() {
        let s = std::sync::Arc::new(store(Strategy::SeedLock, 5));
        let tasks: Vec<_> = (0..4)
            .map(|i| {
                let s = s.clone();
                tokio::spawn(async move { s.place(&req(&format!("b{i}"))).await })
            })
            .collect();
        let mut busy = 0;
        for t in tasks {
            if t.await.expect("task") == (Placed::Busy { seed_style: true }) {
                busy += 1;
            }
        }
        assert_eq!(busy, 3, "all but one contender for lock(stock 5) are refused");
        assert_eq!(s.locks().stats().acquisitions, 1);
        assert_eq!(s.snapshot().products[0].stock, 4, "one unit sold, four left unsold");
    }
}
