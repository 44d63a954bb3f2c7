//! Product page views from the GA4 Data API `runReport`
//! (shared/reference/woocommerce-api.md §11): `itemsViewed` by `date` and
//! `itemId`, paged with `limit`/`offset`. WooCommerce itself records no views.

use chrono::NaiveDate;
use serde_json::{json, Value};

use crate::http::{HttpError, Idempotent, Peer};
use crate::model::day::{date_of, day_of, Day};
use crate::model::history::ViewsRow;

/// Environment variable holding the OAuth access token (a service account's).
pub const TOKEN_ENV: &str = "GA4_ACCESS_TOKEN";

const PAGE: u64 = 100_000;

pub struct Ga4 {
    peer: Peer,
    property: String,
}

impl Ga4 {
    pub fn new(peer: Peer, property: &str) -> Self {
        Ga4 { peer, property: property.to_string() }
    }

    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// Views per (day, item id) over `from..=to`; days without views are absent.
    pub async fn views(&self, from: Day, to: Day) -> Result<Vec<ViewsRow>, HttpError> {
        let path = format!("/v1beta/properties/{}:runReport", self.property);
        let mut out = Vec::new();
        let mut offset = 0u64;
        loop {
            let body = json!({
                "dateRanges": [{"startDate": date_of(from).to_string(), "endDate": date_of(to).to_string()}],
                "dimensions": [{"name": "date"}, {"name": "itemId"}],
                "metrics": [{"name": "itemsViewed"}],
                "orderBys": [{"dimension": {"dimensionName": "date"}}],
                "limit": PAGE,
                "offset": offset,
                "keepEmptyRows": false,
            });
            let f = self.peer.send_json::<Value>(reqwest::Method::POST, &path, &body, Idempotent::Yes).await?;
            let malformed = |m: String| HttpError::Malformed { peer: self.peer.name(), endpoint: format!("/v1beta/properties/{}:runReport", self.property), message: m };
            let rows = f.body["rows"].as_array().cloned().unwrap_or_default();
            for r in &rows {
                let ymd = r["dimensionValues"][0]["value"].as_str().unwrap_or_default();
                let item = r["dimensionValues"][1]["value"].as_str().unwrap_or_default();
                let views = r["metricValues"][0]["value"].as_str().and_then(|v| v.parse::<i64>().ok());
                let day = NaiveDate::parse_from_str(ymd, "%Y%m%d").map_err(|_| malformed(format!("date {ymd:?} is not YYYYMMDD")))?;
                let views = views.ok_or_else(|| malformed(format!("itemsViewed of {item} on {ymd} is not a whole number")))?;
                out.push(ViewsRow { day: day_of(day), product_id: item.to_string(), views });
            }
            let count = match &f.body["rowCount"] {
                Value::Number(n) => n.as_u64().unwrap_or(0),
                Value::String(s) => s.parse().unwrap_or(0),
                _ => 0,
            };
            offset += rows.len() as u64;
            if rows.is_empty() || offset >= count {
                break;
            }
        }
        Ok(out)
    }
}
