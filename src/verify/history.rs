//! The history the checker reads, one per product (P-compositionality): every attempt that
//! reached the target, with its buyer, invocation (send) and completion instants, outcome and
//! the order id it was given, and what ground truth says it did; every stored order
//! attributed to the attempts that explain it. Built once ([`History::build`]): the
//! resolution of each open attempt (`resolve`) and every invariant are views of it,
//! so they cannot disagree.
//!
//! Attribution, per product, against a store that keeps order records:
//! 1. **by id**: a `won` (or `accepted`) answer naming a stored order of the product is that
//!    order's sale. A won answer naming no stored order was lost; naming an order of another
//!    product, or one stored under another buyer, is an anomaly; answers of several buyers
//!    naming one order were given one sale. Answers of one buyer naming one order (a retry,
//!    an idempotent repeat, another session of the same account) are one sale.
//! 2. **by buyer**: each buyer's orders no answer named explain its id-less wins first, then
//!    its open attempts (indeterminate, or accepted with a ticket that is no order id): none
//!    left, those had no effect; as many as attempts, all took effect; some, each is unknown
//!    (the count is exact). Orders beyond those are phantoms.
//! 3. **by count**: orders that name no buyer do the same over all the product's attempts
//!    left after 1 and 2; their buyers are known only where an answer's id named them.
//!
//! Without order records (stock only) units are counted: the stock that left beyond the
//! acknowledged sales was taken by the open attempts, all of them, none, or which is unknown.
//! Nothing is claimed to have had no effect on a store that had not settled.

use crate::model::Order;
use crate::model::Outcome;
use crate::model::Resolution;
use crate::model::Truth;
use crate::model::{Attempt, Ledger};
use crate::scenario::Scenario;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One attempt that reached the target.
#[derive(Debug, Clone)]
pub struct Op<'a> {
    /// Its index in the ledger.
    pub index: usize,
    pub attempt: &'a Attempt,
    /// The buyer id the target saw (`buyers.id_format`).
    pub buyer: String,
    /// What it did: `TookEffect` for a sale (a won answer is one, stored or not), `NoEffect`
    /// for a definite refusal, and for an open attempt what truth says.
    pub effect: Resolution,
    /// The stored order it is the sale of, when one is known.
    pub order: Option<usize>,
}

impl Op<'_> {
    pub fn outcome(&self) -> Outcome {
        self.attempt.outcome
    }

    pub fn is_open(&self) -> bool {
        self.attempt.outcome.is_open() && !(self.attempt.outcome == Outcome::Accepted && self.order.is_some())
    }

    /// "buyer-5 attempt 2".
    pub fn who(&self) -> String {
        format!("{} attempt {}", self.buyer, self.attempt.attempt)
    }
}

/// A stored order and what explains it.
#[derive(Debug, Clone)]
pub struct StoredOrder<'a> {
    pub order: &'a Order,
    /// Whose it is: the buyer it names, else the buyer of the answer that named its id.
    pub owner: Option<String>,
    /// Attempts whose answer named its id.
    pub named_by: Vec<usize>,
    /// An attempt accounts for it (by id, by buyer, or by count).
    pub explained: bool,
}

impl StoredOrder<'_> {
    pub fn describe(&self) -> String {
        let o = self.order;
        match o.buyer_id.as_str() {
            "" => format!("order {} (no buyer, product {})", o.id, o.product_id),
            b => format!("order {} (buyer {b}, product {})", o.id, o.product_id),
        }
    }
}

/// What cannot be explained by any legal sale. Each is evidence for one invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anomaly {
    /// A won answer whose order the store does not hold (`acked_orders_durable`).
    Lost { op: usize, why: String },
    /// A won answer naming an order stored under another buyer or product (`acked_orders_durable`).
    Misattributed { op: usize, why: String },
    /// One stored order given to several buyers' sales (`acked_orders_durable`).
    Shared { order: usize, buyers: Vec<String> },
    /// A stored order no won or open attempt explains (`no_phantom_orders`).
    Phantom { order: usize },
}

/// One product's history.
#[derive(Debug, Clone)]
pub struct ProductHistory<'a> {
    pub index: usize,
    pub id: &'a str,
    pub initial: i64,
    pub final_stock: Option<i64>,
    /// Stores that hold this product (2 or more: the stock exists more than once).
    pub stores: u32,
    /// Units one order takes.
    pub quantity: i64,
    /// Its attempts that reached the target, in ledger order.
    pub ops: Vec<Op<'a>>,
    /// Its stored orders; `None` when the store keeps no order records.
    pub orders: Option<Vec<StoredOrder<'a>>>,
    pub anomalies: Vec<Anomaly>,
    /// Truth had settled: nothing could still change it.
    pub settled: bool,
}

/// The whole run's history, by product.
#[derive(Debug, Clone)]
pub struct History<'a> {
    pub products: Vec<ProductHistory<'a>>,
}

impl<'a> History<'a> {
    pub fn build(s: &Scenario, ledger: &'a Ledger, truth: &'a Truth) -> History<'a> {
        let all_orders: HashMap<&str, &Order> = truth.orders.iter().flatten().map(|o| (o.id.as_str(), o)).collect();
        let products = truth
            .products
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let ops = ledger
                    .attempts
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| a.product as usize == i && a.outcome.was_sent())
                    .map(|(index, a)| Op {
                        index,
                        attempt: a,
                        buyer: s.buyer_id(a.buyer),
                        effect: definite_effect(a.outcome),
                        order: None,
                    })
                    .collect();
                let orders = truth.orders.as_ref().map(|all| {
                    all.iter()
                        .filter(|o| o.product_id == p.id)
                        .map(|o| StoredOrder {
                            order: o,
                            owner: (!o.buyer_id.is_empty()).then(|| o.buyer_id.clone()),
                            named_by: Vec::new(),
                            explained: false,
                        })
                        .collect()
                });
                let mut h = ProductHistory {
                    index: i,
                    id: p.id.as_str(),
                    initial: p.initial_stock as i64,
                    final_stock: p.final_stock,
                    stores: p.stores,
                    quantity: i64::from(s.buyers.quantity),
                    ops,
                    orders,
                    anomalies: Vec::new(),
                    settled: truth.reading.settled,
                };
                match h.orders.is_some() {
                    true => h.attribute(&all_orders),
                    false => h.count_units(),
                }
                if !h.settled {
                    for op in h.ops.iter_mut().filter(|op| op.attempt.outcome.is_open()) {
                        if op.effect == Resolution::NoEffect {
                            op.effect = Resolution::Unknown;
                        }
                    }
                }
                h
            })
            .collect();
        History { products }
    }

    /// Each attempt's resolution, by ledger index: for open attempts only.
    pub fn resolutions(&self, attempts: usize) -> Vec<Option<Resolution>> {
        let mut out = vec![None; attempts];
        for op in self.products.iter().flat_map(|p| &p.ops) {
            if op.attempt.outcome.is_open() {
                out[op.index] = Some(op.effect);
            }
        }
        out
    }

    /// Does every product's store keep order records?
    pub fn attributable(&self) -> bool {
        self.products.iter().all(|p| p.orders.is_some())
    }
}

fn definite_effect(outcome: Outcome) -> Resolution {
    match outcome {
        Outcome::Won => Resolution::TookEffect,
        o if o.is_open() => Resolution::Unknown,
        _ => Resolution::NoEffect,
    }
}

impl<'a> ProductHistory<'a> {
    /// Steps 1 to 3 of the module doc.
    fn attribute(&mut self, all_orders: &HashMap<&str, &Order>) {
        self.by_id(all_orders);
        self.shared_orders();
        // Per buyer, over indexes grouped once: a run of 100,000 buyers stays linear.
        let mut orders_by: HashMap<String, Vec<usize>> = HashMap::new();
        for k in self.unexplained(|o| !o.order.buyer_id.is_empty()) {
            let buyer = self.orders.as_ref().map(|o| o[k].order.buyer_id.clone()).unwrap_or_default();
            orders_by.entry(buyer).or_default().push(k);
        }
        let mut ops_by: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for (j, op) in self.ops.iter().enumerate() {
            ops_by.entry(op.buyer.clone()).or_default().push(j);
        }
        let holding = self.holding_by_id();
        for (buyer, among) in ops_by {
            let orders = orders_by.remove(&buyer).unwrap_or_default();
            let ops = self.unsettled(&among, &holding);
            self.explain(orders, ops);
        }
        let buyerless = self.unexplained(|o| o.order.buyer_id.is_empty());
        if !buyerless.is_empty() {
            let all: Vec<usize> = (0..self.ops.len()).collect();
            let holding = self.holding_by_id();
            let ops = self.unsettled(&all, &holding);
            self.explain(buyerless, ops);
        }
        // An id-less win is a sale of its buyer's: lost when the buyer holds no order at all
        // (a second id-less win of a buyer who holds one may be a repeat of it).
        let owners: BTreeSet<String> = self.orders.iter().flatten().filter_map(|o| o.owner.clone()).collect();
        for op in &self.ops {
            let idless_win = op.outcome() == Outcome::Won && op.attempt.order_id.is_none();
            if idless_win && op.order.is_none() && !owners.contains(&op.buyer) {
                let why = format!("{} was told its order succeeded; the store holds no order for it", op.who());
                self.anomalies.push(Anomaly::Lost { op: op.index, why });
            }
        }
        let phantoms = self.unexplained(|_| true);
        self.anomalies.extend(phantoms.into_iter().map(|order| Anomaly::Phantom { order }));
        for op in self.ops.iter_mut().filter(|op| op.attempt.outcome.is_open() && op.order.is_some()) {
            op.effect = Resolution::TookEffect;
        }
    }

    /// Step 1: answers that name a stored order's id.
    fn by_id(&mut self, all_orders: &HashMap<&str, &Order>) {
        let Some(orders) = self.orders.as_mut() else { return };
        let position: HashMap<&str, usize> = orders.iter().enumerate().map(|(k, o)| (o.order.id.as_str(), k)).collect();
        for op in self.ops.iter_mut() {
            let outcome = op.outcome();
            if outcome != Outcome::Won && outcome != Outcome::Accepted {
                continue;
            }
            let Some(id) = op.attempt.order_id.as_deref() else { continue };
            match position.get(id) {
                Some(&k) => {
                    let stored = &mut orders[k];
                    stored.named_by.push(op.index);
                    stored.explained = true;
                    op.order = Some(k);
                    match &stored.owner {
                        Some(owner) if *owner != op.buyer && outcome == Outcome::Won => {
                            self.anomalies.push(Anomaly::Misattributed {
                                op: op.index,
                                why: format!("{} was given order {id}, stored under {owner}", op.who()),
                            })
                        }
                        Some(_) => {}
                        None => stored.owner = Some(op.buyer.clone()),
                    }
                }
                // An accepted answer's ticket need not be an order id.
                None if outcome == Outcome::Accepted => {}
                None => match all_orders.get(id) {
                    Some(other) => self.anomalies.push(Anomaly::Misattributed {
                        op: op.index,
                        why: format!(
                            "{} won {} and was given order {id}, an order of {}",
                            op.who(),
                            self.id,
                            other.product_id
                        ),
                    }),
                    None => self.anomalies.push(Anomaly::Lost {
                        op: op.index,
                        why: format!("order {id} ({}), not in the store", op.who()),
                    }),
                },
            }
        }
    }

    /// Orders whose id the answers of more than one buyer named.
    fn shared_orders(&mut self) {
        let Some(orders) = &self.orders else { return };
        let by_index: HashMap<usize, &Op> = self.ops.iter().map(|op| (op.index, op)).collect();
        for (k, o) in orders.iter().enumerate() {
            let buyers: BTreeSet<&str> = o
                .named_by
                .iter()
                .filter_map(|i| by_index.get(i))
                .filter(|op| op.outcome() == Outcome::Won)
                .map(|op| op.buyer.as_str())
                .collect();
            if buyers.len() > 1 {
                let buyers = buyers.into_iter().map(str::to_string).collect();
                self.anomalies.push(Anomaly::Shared { order: k, buyers });
            }
        }
    }

    fn unexplained(&self, which: impl Fn(&StoredOrder) -> bool) -> Vec<usize> {
        self.orders.iter().flatten().enumerate().filter(|(_, o)| !o.explained && which(o)).map(|(k, _)| k).collect()
    }

    /// Buyers with an answer tied to an order.
    fn holding_by_id(&self) -> BTreeSet<String> {
        self.ops.iter().filter(|op| op.order.is_some()).map(|op| op.buyer.clone()).collect()
    }

    /// Of the ops `among` (positions in `self.ops`), those that could still explain an order:
    /// open attempts no id tied to an order, and for each buyer not `holding` an order yet
    /// its first id-less win (the others may repeat it); wins first.
    fn unsettled(&self, among: &[usize], holding: &BTreeSet<String>) -> Vec<usize> {
        let mut claimed: BTreeSet<&str> = BTreeSet::new();
        let mut out: Vec<usize> = among
            .iter()
            .copied()
            .filter(|&j| {
                let op = &self.ops[j];
                if op.order.is_some() {
                    return false;
                }
                if op.outcome() == Outcome::Won && op.attempt.order_id.is_none() {
                    return !holding.contains(&op.buyer) && claimed.insert(op.buyer.as_str());
                }
                op.attempt.outcome.is_open()
            })
            .collect();
        out.sort_by_key(|&j| self.ops[j].outcome() != Outcome::Won);
        out
    }

    /// Explains `orders` by `ops` (positions in `self.ops`, wins first); see step 2.
    fn explain(&mut self, orders: Vec<usize>, ops: Vec<usize>) {
        let Some(stored) = self.orders.as_mut() else { return };
        let wins = ops.iter().filter(|&&j| self.ops[j].outcome() == Outcome::Won).count();
        let (by_wins, rest) = orders.split_at(wins.min(orders.len()));
        for (&k, &j) in by_wins.iter().zip(&ops) {
            link(stored, k, &mut self.ops[j]);
        }
        let open = &ops[wins..];
        if rest.len() >= open.len() {
            for (&k, &j) in rest.iter().zip(open) {
                link(stored, k, &mut self.ops[j]);
            }
        } else {
            for &j in open {
                self.ops[j].effect = if rest.is_empty() { Resolution::NoEffect } else { Resolution::Unknown };
            }
            for &k in rest {
                stored[k].explained = true;
                if stored[k].owner.is_none() {
                    let buyers: BTreeSet<&str> = open.iter().map(|&j| self.ops[j].buyer.as_str()).collect();
                    if buyers.len() == 1 {
                        stored[k].owner = buyers.first().map(|b| b.to_string());
                    }
                }
            }
        }
    }

    /// Without order records: the units that left beyond the acknowledged sales.
    fn count_units(&mut self) {
        let sold = self.units_sold();
        let acked = self.promised_sales() as i64 * self.quantity;
        let open: Vec<usize> = (0..self.ops.len()).filter(|&j| self.ops[j].is_open()).collect();
        let effect = match sold.map(|sold| sold - acked) {
            Some(0) => Resolution::NoEffect,
            Some(extra) if extra == open.len() as i64 * self.quantity => Resolution::TookEffect,
            _ => Resolution::Unknown,
        };
        for j in open {
            self.ops[j].effect = effect;
        }
    }

    /// Units sold: summed over the stored orders, or the stock that left.
    pub fn units_sold(&self) -> Option<i64> {
        match &self.orders {
            Some(orders) => Some(orders.iter().map(|o| i64::from(o.order.quantity)).sum()),
            None => self.final_stock.map(|f| self.initial - f),
        }
    }

    /// Sales acknowledged with won answers, at least: per buyer, one per order id named (repeats
    /// of one buyer naming one order are one sale), or one if its wins named none (id-less
    /// wins of one buyer may repeat one sale).
    pub fn promised_sales(&self) -> usize {
        self.promised_by_buyer().values().sum::<u32>() as usize
    }

    /// [`Self::promised_sales`] per buyer.
    pub fn promised_by_buyer(&self) -> BTreeMap<&str, u32> {
        let mut named: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for op in self.ops.iter().filter(|op| op.outcome() == Outcome::Won) {
            let ids = named.entry(op.buyer.as_str()).or_default();
            if let Some(id) = op.attempt.order_id.as_deref() {
                ids.insert(id);
            }
        }
        named.into_iter().map(|(b, ids)| (b, (ids.len() as u32).max(1))).collect()
    }

    /// Sales known to have taken effect, per buyer, and those whose buyer cannot be told: with
    /// order records, the orders each buyer holds; without them, each buyer's promised sales
    /// and its open attempts proven to have taken effect, the rest of the units that left
    /// the stock under no buyer.
    pub fn sales_by_buyer(&self) -> (BTreeMap<&str, u32>, u32) {
        match &self.orders {
            Some(orders) => {
                let mut by: BTreeMap<&str, u32> = BTreeMap::new();
                let mut unowned = 0;
                for o in orders {
                    match &o.owner {
                        Some(b) => *by.entry(b.as_str()).or_default() += 1,
                        None => unowned += 1,
                    }
                }
                (by, unowned)
            }
            None => {
                let mut by = self.promised_by_buyer();
                for op in self.ops.iter().filter(|op| op.is_open() && op.effect == Resolution::TookEffect) {
                    *by.entry(op.buyer.as_str()).or_default() += 1;
                }
                let known: i64 = by.values().map(|&n| i64::from(n)).sum::<i64>() * self.quantity;
                let left = (self.units_sold().unwrap_or(0) - known).max(0);
                (by, ((left + self.quantity - 1) / self.quantity.max(1)) as u32)
            }
        }
    }

    /// At most how many units could have been sold before each instant of `ts` (ascending):
    /// a buyer's sales can only have been made by its attempts sent before it, and sales of no
    /// known buyer by the attempts whose effect is unknown sent before it; a phantom order of
    /// no buyer at any time. One sweep over the attempts in send order.
    pub fn could_have_sold_before(&self, ts: &[u64]) -> Vec<i64> {
        let (by, unowned) = self.sales_by_buyer();
        let orders = self.orders.as_deref().unwrap_or_default();
        let anytime = self
            .anomalies
            .iter()
            .filter(|a| matches!(a, Anomaly::Phantom { order } if orders[*order].owner.is_none()))
            .count() as u32;
        let unowned = unowned.saturating_sub(anytime);
        let mut by_send: Vec<&Op> = self.ops.iter().collect();
        by_send.sort_by_key(|op| op.attempt.sent_us);
        let mut sent: HashMap<&str, u32> = HashMap::new();
        let (mut bounded, mut unknown, mut next) = (0u32, 0u32, 0usize);
        ts.iter()
            .map(|&t| {
                while let Some(op) = by_send.get(next).filter(|op| op.attempt.sent_us < t) {
                    let n = sent.entry(op.buyer.as_str()).or_default();
                    *n += 1;
                    if *n <= by.get(op.buyer.as_str()).copied().unwrap_or(0) {
                        bounded += 1;
                    }
                    if op.effect == Resolution::Unknown {
                        unknown += 1;
                    }
                    next += 1;
                }
                i64::from(bounded + unowned.min(unknown) + anytime) * self.quantity
            })
            .collect()
    }

    /// Sales that must have been made after instant `t`, per buyer: those beyond the buyer's
    /// won or open attempts sent by `t` (a definite refusal makes no sale), with the buyer's
    /// first such attempt after `t`.
    pub fn sales_after(&self, t: u64) -> Vec<(&Op<'a>, u32)> {
        let (by, _) = self.sales_by_buyer();
        let mut could: HashMap<&str, (u32, Option<&Op<'a>>)> = HashMap::new();
        for op in self.ops.iter().filter(|op| op.outcome() == Outcome::Won || op.is_open()) {
            let (before, first) = could.entry(op.buyer.as_str()).or_default();
            if op.attempt.sent_us <= t {
                *before += 1;
            } else if first.is_none_or(|f| op.attempt.sent_us < f.attempt.sent_us) {
                *first = Some(op);
            }
        }
        let mut out: Vec<(&Op<'a>, u32)> = by
            .into_iter()
            .filter_map(|(buyer, n)| {
                let (before, first) = could.get(buyer).copied()?;
                (n > before).then_some((first?, n - before))
            })
            .collect();
        out.sort_by_key(|(op, _)| op.index);
        out
    }

    /// Attempts whose effect truth cannot settle.
    pub fn unknown(&self) -> impl Iterator<Item = &Op<'a>> {
        self.ops.iter().filter(|op| op.effect == Resolution::Unknown)
    }

    /// Orders each buyer who sent a request holds at the end: `None` where it is open (an
    /// attempt of the buyer's whose effect is unknown, where the store cannot say whose its
    /// orders are, or had not settled).
    pub fn holdings(&self) -> BTreeMap<&str, Option<u32>> {
        let mut out: BTreeMap<&str, Option<u32>> = self.ops.iter().map(|op| (op.buyer.as_str(), Some(0))).collect();
        match &self.orders {
            Some(orders) => {
                let mut held: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
                for (k, o) in orders.iter().enumerate() {
                    if let Some(owner) = &o.owner {
                        held.entry(owner.as_str()).or_default().insert(k);
                    }
                }
                let ownerless = orders.iter().any(|o| o.owner.is_none());
                let unknown: BTreeSet<&str> = self.unknown().map(|op| op.buyer.as_str()).collect();
                for (buyer, count) in out.iter_mut() {
                    let open = unknown.contains(buyer);
                    let n = held.get(buyer).map_or(0, |set| set.len() as u32);
                    *count = (!(open && (ownerless || !self.settled))).then_some(n);
                }
            }
            None => {
                let mut named: BTreeSet<(&str, &str)> = BTreeSet::new();
                for op in &self.ops {
                    let Some(count) = out.get_mut(op.buyer.as_str()) else { continue };
                    let add = match (op.effect, op.attempt.order_id.as_deref()) {
                        (Resolution::TookEffect, Some(id)) => Some(u32::from(named.insert((op.buyer.as_str(), id)))),
                        (Resolution::TookEffect, None) => Some(1),
                        (Resolution::NoEffect, _) => Some(0),
                        (Resolution::Unknown, _) => None,
                    };
                    *count = count.zip(add).map(|(h, n)| h + n);
                }
            }
        }
        out
    }
}

/// Makes `op` the sale of stored order `k` (matched by buyer or by count, not by id).
fn link(orders: &mut [StoredOrder], k: usize, op: &mut Op) {
    let order = &mut orders[k];
    order.explained = true;
    if order.owner.is_none() {
        order.owner = Some(op.buyer.clone());
    }
    op.order = Some(k);
}
