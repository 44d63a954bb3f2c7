//! WooCommerce store client (shared/reference/woocommerce-api.md): products
//! from `wc/v3/products` and daily units and revenue per product from
//! `wc-analytics/reports/products/stats` (interval=day, segmentby=product).
//!
//! Money arrives as strings (`"149.00"`; `""` for an unpriced product, kept
//! as "no value" so the validator quarantines it with the reason instead of
//! inventing a price). `stock_quantity` is `null` when stock is not managed:
//! then `stock_status` decides (`instock` counts as `store.unmanaged_stock`,
//! `outofstock`/`onbackorder` as 0); never an invented 0 for "unknown".

use chrono::NaiveDate;
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::Value;

use super::lenient;
use crate::http::{HttpError, Peer};
use crate::model::day::{date_of, day_of, Day};
use crate::model::history::SalesRow;

/// Environment variables holding the store's REST API keys.
pub const KEY_ENV: &str = "WOOCOMMERCE_KEY";
pub const SECRET_ENV: &str = "WOOCOMMERCE_SECRET";

/// One product as the pipeline needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreProduct {
    pub product_id: String,
    pub sku: String,
    pub name: String,
    pub category: String,
    pub price: Option<f64>,
    pub stock: Option<i64>,
    pub created: Option<NaiveDate>,
    /// The record as received (for the quarantine).
    pub raw: String,
}

#[derive(Deserialize)]
struct Category {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct ProductJson {
    #[serde(deserialize_with = "lenient::opt_string", default)]
    id: Option<String>,
    #[serde(default)]
    name: String,
    #[serde(deserialize_with = "lenient::opt_string", default)]
    sku: Option<String>,
    #[serde(deserialize_with = "lenient::opt_f64", default)]
    price: Option<f64>,
    #[serde(deserialize_with = "lenient::opt_f64", default)]
    regular_price: Option<f64>,
    #[serde(deserialize_with = "lenient::opt_i64", default)]
    stock_quantity: Option<i64>,
    #[serde(deserialize_with = "lenient::opt_bool", default)]
    manage_stock: Option<bool>,
    #[serde(deserialize_with = "lenient::opt_string", default)]
    stock_status: Option<String>,
    #[serde(default)]
    date_created_gmt: Option<String>,
    #[serde(default)]
    date_created: Option<String>,
    #[serde(default)]
    categories: Vec<Category>,
}

fn date_part(v: &Option<String>) -> Option<NaiveDate> {
    let v = v.as_deref()?.trim();
    NaiveDate::parse_from_str(v.get(..10)?, "%Y-%m-%d").ok()
}

/// One product record of `wc/v3/products`; `None` for a record without an
/// id. Pure: the fuzz harness drives it.
pub fn decode_product(raw: Value, unmanaged_stock: i64) -> Result<Option<StoreProduct>, String> {
    let text = raw.to_string();
    let p: ProductJson = serde_json::from_value(raw).map_err(|e| format!("a product record: {e}"))?;
    let Some(id) = p.id else { return Ok(None) };
    Ok(Some(StoreProduct {
        product_id: id,
        sku: p.sku.unwrap_or_default(),
        name: p.name,
        category: p.categories.first().map(|c| c.name.clone()).unwrap_or_default(),
        price: p.price.or(p.regular_price),
        stock: match (p.stock_quantity, p.manage_stock, p.stock_status.as_deref()) {
            (Some(q), _, _) => Some(q),
            // Stock not managed: WooCommerce says only in or out of stock.
            (None, Some(false), Some("instock")) => Some(unmanaged_stock),
            (None, Some(false), Some("outofstock" | "onbackorder")) => Some(0),
            // Anything else is unknown: the validator quarantines it.
            _ => None,
        },
        created: date_part(&p.date_created_gmt).or_else(|| date_part(&p.date_created)),
        raw: text,
    }))
}

/// One page of Analytics' products/stats by day and product: the non-zero
/// sales rows, and how many intervals the page held. Pure, for the fuzz harness.
pub fn decode_stats_page(body: &Value) -> Result<(Vec<SalesRow>, usize), String> {
    let intervals = body["intervals"].as_array().ok_or("no `intervals` array")?;
    let mut out = Vec::new();
    for iv in intervals {
        let label = iv["interval"].as_str().ok_or("an interval without its `interval` label")?;
        let day = NaiveDate::parse_from_str(label, "%Y-%m-%d").map_err(|_| format!("interval label {label:?} is not a day (interval=day was asked)"))?;
        let Some(segments) = iv["subtotals"]["segments"].as_array() else { continue };
        for s in segments {
            let num = |v: &Value| -> Option<f64> {
                match v {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                }
            };
            let id = match &s["segment_id"] {
                Value::Number(n) => n.to_string(),
                Value::String(s) => s.clone(),
                _ => continue,
            };
            let units = num(&s["subtotals"]["items_sold"]).filter(|u| u.fract() == 0.0).map(|u| u as i64);
            let revenue = num(&s["subtotals"]["net_revenue"]);
            if units == Some(0) && revenue.is_some_and(|r| r == 0.0) {
                continue;
            }
            out.push(SalesRow { day: day_of(day), product_id: id, units, revenue });
        }
    }
    Ok((out, intervals.len()))
}

pub struct WooCommerce {
    peer: Peer,
    products_per_request: usize,
    unmanaged_stock: i64,
}

impl WooCommerce {
    /// `unmanaged_stock`: the quantity an in-stock product that does not
    /// manage its stock counts as (its `stock_quantity` is null).
    pub fn new(peer: Peer, products_per_request: u32, unmanaged_stock: i64) -> Self {
        WooCommerce { peer, products_per_request: products_per_request.clamp(1, 100) as usize, unmanaged_stock }
    }

    /// Every record of a collection: page 1, whose `X-WP-TotalPages` says
    /// how many there are, then the others side by side.
    async fn all_pages(&self, path: &str, query: impl Fn(usize) -> Vec<(&'static str, String)>) -> Result<Vec<Value>, HttpError> {
        let first = self.peer.get::<Vec<Value>>(path, &query(1)).await?;
        let pages: usize = first.header("x-wp-totalpages").and_then(|v| v.trim().parse().ok()).unwrap_or(1);
        let mut records = first.body;
        let query = &query;
        let rest: Vec<Vec<Value>> = stream::iter(2..=pages)
            .map(|page| async move {
                match self.peer.get::<Vec<Value>>(path, &query(page)).await {
                    Ok(f) => Ok(f.body),
                    // Past the last page some collections answer 400 *invalid_page_number: the end.
                    Err(HttpError::Status { status: 400, message, .. }) if message.contains("invalid_page_number") => Ok(Vec::new()),
                    Err(e) => Err(e),
                }
            })
            .buffered(self.peer.concurrency())
            .try_collect()
            .await?;
        records.extend(rest.into_iter().flatten());
        Ok(records)
    }

    /// Every product, sorted by id, de-duplicated (data can shift while paging).
    pub async fn products(&self) -> Result<Vec<StoreProduct>, HttpError> {
        let path = "/wp-json/wc/v3/products";
        let query = |page: usize| {
            vec![
                ("per_page", "100".to_string()),
                ("page", page.to_string()),
                ("orderby", "id".to_string()),
                ("order", "asc".to_string()),
            ]
        };
        let records = self.all_pages(path, query).await?;
        let mut out = Vec::with_capacity(records.len());
        let mut seen = std::collections::HashSet::new();
        for raw in records {
            let p = decode_product(raw, self.unmanaged_stock)
                .map_err(|message| HttpError::Malformed { peer: self.peer.name(), endpoint: path.into(), message })?;
            let Some(p) = p else { continue };
            if !seen.insert(p.product_id.clone()) {
                continue;
            }
            out.push(p);
        }
        out.sort_by(|a, b| natural(&a.product_id).cmp(&natural(&b.product_id)));
        Ok(out)
    }

    /// Daily units and net revenue for these products over `from..=to`;
    /// zero days are left out (a missing day counts as zero).
    pub async fn daily_sales(&self, product_ids: &[String], from: Day, to: Day) -> Result<Vec<SalesRow>, HttpError> {
        if product_ids.is_empty() || to < from {
            return Ok(Vec::new());
        }
        // (chunk of ids, window of ≤ 100 days): one request each, pages over intervals inside.
        let mut jobs = Vec::new();
        for chunk in product_ids.chunks(self.products_per_request) {
            let mut start = from;
            while start <= to {
                let end = (start + 99).min(to);
                jobs.push((chunk.join(","), start, end));
                start = end + 1;
            }
        }
        let parts: Vec<Vec<SalesRow>> = stream::iter(jobs)
            .map(|(ids, start, end)| async move { self.stats_window(&ids, start, end).await })
            .buffer_unordered(self.peer.concurrency())
            .try_collect()
            .await?;
        let mut rows: Vec<SalesRow> = parts.into_iter().flatten().collect();
        rows.sort_by(|a, b| (a.day, natural(&a.product_id)).cmp(&(b.day, natural(&b.product_id))));
        Ok(rows)
    }

    async fn stats_window(&self, ids: &str, start: Day, end: Day) -> Result<Vec<SalesRow>, HttpError> {
        let path = "/wp-json/wc-analytics/reports/products/stats";
        let mut out = Vec::new();
        let mut page = 1usize;
        loop {
            let q = vec![
                ("after", format!("{}T00:00:00", date_of(start))),
                ("before", format!("{}T23:59:59", date_of(end))),
                ("interval", "day".to_string()),
                ("segmentby", "product".to_string()),
                ("products", ids.to_string()),
                ("per_page", "100".to_string()),
                ("page", page.to_string()),
                ("force_cache_refresh", "true".to_string()),
            ];
            let f = self.peer.get::<Value>(path, &q).await?;
            let (rows, intervals) = decode_stats_page(&f.body)
                .map_err(|message| HttpError::Malformed { peer: self.peer.name(), endpoint: path.into(), message })?;
            out.extend(rows);
            let pages: usize = f.header("x-wp-totalpages").and_then(|v| v.trim().parse().ok()).unwrap_or(1);
            if page >= pages || intervals == 0 {
                break;
            }
            page += 1;
        }
        Ok(out)
    }
}

impl WooCommerce {
    /// The fallback when WooCommerce Analytics is off (`rest_no_route`):
    /// daily units and revenue from the orders' line items, bucketed by the
    /// order's creation day in UTC (`date_created_gmt`), counting only
    /// `processing`, `completed` and `on-hold` orders (the Analytics
    /// defaults); revenue is the line total after discounts, without tax or
    /// shipping. Refunds are not subtracted (the analytics numbers are net).
    pub async fn daily_sales_from_orders(&self, from: Day, to: Day) -> Result<Vec<SalesRow>, HttpError> {
        let path = "/wp-json/wc/v3/orders";
        let query = |page: usize| {
            vec![
                ("after", format!("{}T00:00:00", date_of(from))),
                ("before", format!("{}T00:00:00", date_of(to + 1))),
                ("dates_are_gmt", "true".to_string()),
                ("status", COUNTED.join(",")),
                ("per_page", "100".to_string()),
                ("page", page.to_string()),
                ("orderby", "id".to_string()),
                ("order", "asc".to_string()),
            ]
        };
        let orders = self.all_pages(path, query).await?;
        let mut seen = std::collections::HashSet::new();
        let mut sums: std::collections::BTreeMap<(Day, String), (i64, f64)> = Default::default();
        for o in &orders {
            let id = o["id"].to_string();
            let status = o["status"].as_str().unwrap_or_default();
            // Data shifts while paging: an order seen twice counts once.
            if !COUNTED.contains(&status) || !seen.insert(id) {
                continue;
            }
            let created = o["date_created_gmt"].as_str().or(o["date_created"].as_str()).unwrap_or_default();
            let Some(day) = created.get(..10).and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()).map(day_of) else {
                continue;
            };
            if day < from || day > to {
                continue;
            }
            for item in o["line_items"].as_array().into_iter().flatten() {
                let pid = match &item["product_id"] {
                    Value::Number(n) => n.to_string(),
                    Value::String(s) if !s.is_empty() => s.clone(),
                    _ => continue,
                };
                let qty = item["quantity"].as_i64().or_else(|| item["quantity"].as_str().and_then(|q| q.parse().ok())).unwrap_or(0);
                let total = match &item["total"] {
                    Value::String(s) => s.trim().parse::<f64>().unwrap_or(0.0),
                    Value::Number(n) => n.as_f64().unwrap_or(0.0),
                    _ => 0.0,
                };
                let e = sums.entry((day, pid)).or_default();
                e.0 += qty;
                e.1 += total;
            }
        }
        Ok(sums
            .into_iter()
            .map(|((day, product_id), (units, revenue))| SalesRow { day, product_id, units: Some(units), revenue: Some((revenue * 100.0).round() / 100.0) })
            .collect())
    }
}

/// Order statuses that count as sales (WooCommerce Analytics' defaults).
pub const COUNTED: [&str; 3] = ["processing", "completed", "on-hold"];

/// Numeric ids sort as numbers ("1001" after "999").
fn natural(id: &str) -> (usize, &str) {
    (id.len(), id)
}
