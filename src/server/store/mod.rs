//! Stores: where one server instance keeps stock and orders, and how it takes an order (the
//! strategy). Every store can export its ground truth: the real stock and the full order list.

mod memory;

pub use memory::MemoryStore;

use super::{Backend, Strategy};
use serde::{Deserialize, Serialize};

/// A product as seeded into a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedProduct {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub stock: u32,
    /// Orders one buyer may hold of this product.
    #[serde(default = "default_limit")]
    pub limit_per_buyer: u32,
}

fn default_limit() -> u32 {
    1
}

/// A validated order request.
#[derive(Debug, Clone)]
pub struct OrderRequest {
    pub product_id: String,
    pub buyer_id: String,
    pub quantity: u32,
}

/// A stored order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub product_id: String,
    pub buyer_id: String,
    pub quantity: u32,
}

/// What a store did with an order request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placed {
    Created {
        order: Order,
        remaining: i64,
    },
    SoldOut,
    /// Refused because of contention; `seed_style` answers as the seed did (400).
    Busy {
        seed_style: bool,
    },
    LimitReached {
        limit: u32,
    },
    UnknownProduct,
}

/// A product's stock as the store holds it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductStock {
    pub id: String,
    pub name: String,
    pub stock: i64,
}

/// The store's real state: what ground truth is read from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub products: Vec<ProductStock>,
    pub orders: Vec<Order>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store unavailable: {0}")]
    Unavailable(String),
}

/// One store of one backend, running one strategy.
#[derive(Debug)]
pub enum Store {
    Memory(MemoryStore),
}

impl Store {
    /// Opens a store; `instance` makes order ids unique across instances.
    pub fn open(backend: Backend, strategy: Strategy, instance: u32) -> Result<Store, StoreError> {
        match backend {
            Backend::Memory => Ok(Store::Memory(MemoryStore::new(strategy, instance))),
        }
    }

    /// Replaces every product and order with `products`.
    pub async fn seed(&self, products: &[SeedProduct]) -> Result<(), StoreError> {
        match self {
            Store::Memory(s) => {
                s.seed(products);
                Ok(())
            }
        }
    }

    pub async fn place(&self, req: &OrderRequest) -> Result<Placed, StoreError> {
        match self {
            Store::Memory(s) => Ok(s.place(req).await),
        }
    }

    pub async fn product(&self, id: &str) -> Result<Option<ProductStock>, StoreError> {
        match self {
            Store::Memory(s) => Ok(s.product(id)),
        }
    }

    pub async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        match self {
            Store::Memory(s) => Ok(s.snapshot()),
        }
    }
}
