//! Ground truth as data: the stored orders, each product's stock at the start and the end, and
//! how the reading was made. Read by `truth`; what the checkers judge.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A stored order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub id: String,
    pub product_id: String,
    pub buyer_id: String,
    pub quantity: u32,
}

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

/// How truth was read: whether the target had gone quiet and two reads agreed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthReading {
    /// No order request was in flight at any instance when the store was read.
    pub quiet: bool,
    /// The store no longer changed: two reads `truth.settle` apart agreed (or every attempt
    /// had been answered, so nothing could change it).
    pub settled: bool,
    pub reads: u32,
    /// From the end of the load to the truth returned.
    pub waited_ms: u64,
    /// What was not as it should be (an instance not answering, a store still changing).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truth {
    /// In scenario order.
    pub products: Vec<ProductTruth>,
    /// Every stored order; `None` when the store keeps no order records.
    pub orders: Option<Vec<Order>>,
    pub reading: TruthReading,
}

impl Truth {
    /// The stored orders of product `index`, when the store keeps order records.
    pub fn orders_of_product(&self, index: usize) -> Option<impl Iterator<Item = &Order>> {
        let id = &self.products.get(index)?.id;
        Some(self.orders.as_ref()?.iter().filter(move |o| &o.product_id == id))
    }

    /// Units ordered of product `index`: summed over its stored orders, or, without order
    /// records, the stock that left (initial − final).
    pub fn units_ordered(&self, index: usize) -> Option<i64> {
        match self.orders_of_product(index) {
            Some(orders) => Some(orders.map(|o| i64::from(o.quantity)).sum()),
            None => {
                let p = self.products.get(index)?;
                p.final_stock.map(|f| p.initial_stock as i64 - f)
            }
        }
    }

    /// Orders stored of product `index` (`None` without order records).
    pub fn orders_of(&self, index: usize) -> Option<u64> {
        self.orders_of_product(index).map(|o| o.count() as u64)
    }

    /// Orders each (buyer id, product id) holds, when the store keeps order records.
    pub fn holdings(&self) -> Option<HashMap<(&str, &str), u32>> {
        let mut held: HashMap<(&str, &str), u32> = HashMap::new();
        for o in self.orders.as_ref()? {
            *held.entry((o.buyer_id.as_str(), o.product_id.as_str())).or_default() += 1;
        }
        Some(held)
    }
}
