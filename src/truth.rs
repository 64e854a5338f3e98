//! Ground truth: the real final state (stock and orders) read from the stores after the run
//! drained, never from the server's answers. Independent stores (one `memory` store per
//! instance) are added up: each sold from its own copy of the stock.

use crate::scenario::Scenario;
use crate::server::store::{Order, Snapshot};
use serde::{Deserialize, Serialize};

/// A product's stock at the start (from the scenario) and at the end (from the stores).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductTruth {
    pub id: String,
    pub initial_stock: u64,
    /// Summed over independent stores; `None` when no store knows the product.
    pub final_stock: Option<i64>,
    /// Stores that hold this product (2 or more means the stock exists more than once).
    pub stores: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truth {
    /// In scenario order.
    pub products: Vec<ProductTruth>,
    pub orders: Vec<Order>,
}

impl Truth {
    /// Combines the snapshots of independent stores for `scenario`.
    pub fn from_snapshots(scenario: &Scenario, snapshots: &[Snapshot]) -> Truth {
        let products = scenario
            .products
            .iter()
            .map(|p| {
                let held: Vec<i64> = snapshots
                    .iter()
                    .filter_map(|s| s.products.iter().find(|x| x.id == p.id).map(|x| x.stock))
                    .collect();
                ProductTruth {
                    id: p.id.clone(),
                    initial_stock: u64::from(p.stock),
                    final_stock: (!held.is_empty()).then(|| held.iter().sum()),
                    stores: held.len() as u32,
                }
            })
            .collect();
        let orders = snapshots.iter().flat_map(|s| s.orders.iter().cloned()).collect();
        Truth { products, orders }
    }

    /// Units ordered of product `index` (orders of other products are not counted).
    pub fn units_ordered(&self, index: usize) -> u64 {
        let id = &self.products[index].id;
        self.orders.iter().filter(|o| &o.product_id == id).map(|o| u64::from(o.quantity)).sum()
    }

    pub fn orders_of(&self, index: usize) -> u64 {
        let id = &self.products[index].id;
        self.orders.iter().filter(|o| &o.product_id == id).count() as u64
    }
}
