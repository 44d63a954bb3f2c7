//! Impact.com brand API client (shared/reference/impact-api.md).
//!
//! A campaign is an **Ad** promoting one product (label `product:<id>`);
//! its daily spend, conversions, revenue and new customers are built from
//! `Actions` (`AdId`, `EventDate`, `ClientCost` else `Payout`, `Amount`,
//! `CustomerStatus`), read in windows of at most 45 days, split further when
//! the API says a window holds too many. Every value is decoded leniently
//! (string or number, `""` = none); lists follow the `@`-pagination envelope.

use chrono::NaiveDate;
use futures::stream::{self, StreamExt, TryStreamExt};
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use super::lenient;
use crate::http::{HttpError, Idempotent, Peer};
use crate::model::day::{date_of, day_of, Day};
use crate::model::history::ImpactAction;

pub const SID_ENV: &str = "IMPACT_ACCOUNT_SID";
pub const TOKEN_ENV: &str = "IMPACT_AUTH_TOKEN";

/// Most pages a list may have before we stop (a runaway guard).
const MAX_PAGES: u64 = 10_000;
/// The API's longest action window.
pub const MAX_WINDOW_DAYS: i32 = 45;

#[derive(Debug, Clone, PartialEq)]
pub struct Ad {
    pub id: String,
    pub name: String,
    pub labels: String,
    pub description: String,
    /// `LimitedTimeEndDate` (its day): not served from then on.
    pub end: Option<Day>,
    pub created: Option<Day>,
    pub raw: String,
}

impl Ad {
    /// The store product this ad promotes (label `product:<id>`).
    pub fn product_id(&self) -> Option<&str> {
        self.labels.split(',').find_map(|l| l.trim().strip_prefix("product:")).filter(|p| !p.is_empty())
    }

    /// The campaign-pilot action that created it (label `cp:<hash>`).
    pub fn created_by(&self) -> Option<&str> {
        self.labels.split(',').find_map(|l| l.trim().strip_prefix("cp:"))
    }
}


#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "@page", deserialize_with = "lenient::req_u64")]
    page: u64,
    #[serde(rename = "@numpages", deserialize_with = "lenient::req_u64")]
    numpages: u64,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
struct AdJson {
    #[serde(rename = "Id", deserialize_with = "lenient::opt_string", default)]
    id: Option<String>,
    #[serde(rename = "Name", default)]
    name: String,
    #[serde(rename = "Labels", deserialize_with = "lenient::opt_string", default)]
    labels: Option<String>,
    #[serde(rename = "Description", deserialize_with = "lenient::opt_string", default)]
    description: Option<String>,
    #[serde(rename = "LimitedTimeEndDate", deserialize_with = "lenient::opt_string", default)]
    end: Option<String>,
    #[serde(rename = "DateCreated", deserialize_with = "lenient::opt_string", default)]
    created: Option<String>,
}

#[derive(Deserialize)]
struct ActionJson {
    #[serde(rename = "Id", deserialize_with = "lenient::opt_string", default)]
    id: Option<String>,
    #[serde(rename = "AdId", deserialize_with = "lenient::opt_string", default)]
    ad_id: Option<String>,
    #[serde(rename = "EventDate", deserialize_with = "lenient::opt_string", default)]
    event: Option<String>,
    #[serde(rename = "State", deserialize_with = "lenient::opt_string", default)]
    state: Option<String>,
    #[serde(rename = "Amount", deserialize_with = "lenient::opt_f64", default)]
    amount: Option<f64>,
    #[serde(rename = "ClientCost", deserialize_with = "lenient::opt_f64", default)]
    client_cost: Option<f64>,
    #[serde(rename = "Payout", deserialize_with = "lenient::opt_f64", default)]
    payout: Option<f64>,
    #[serde(rename = "CustomerStatus", deserialize_with = "lenient::opt_string", default)]
    customer: Option<String>,
}

/// The day of an ISO-8601 datetime as written (the account's offset).
fn day_part(v: &Option<String>) -> Option<Day> {
    let v = v.as_deref()?.trim();
    NaiveDate::parse_from_str(v.get(..10)?, "%Y-%m-%d").ok().map(day_of)
}

/// One ad record of the API (a list item or `GET /Ads/{id}`); `id` is the
/// id asked for, when the record lacks one. Pure: the fuzz harness drives it.
pub fn decode_ad(raw: Value, id: Option<&str>) -> Result<Ad, String> {
    let text = raw.to_string();
    let a: AdJson = serde_json::from_value(raw).map_err(|e| format!("an ad: {e}"))?;
    Ok(Ad {
        id: a.id.or_else(|| id.map(str::to_string)).unwrap_or_default(),
        name: a.name,
        labels: a.labels.unwrap_or_default(),
        description: a.description.unwrap_or_default(),
        end: day_part(&a.end),
        created: day_part(&a.created),
        raw: text,
    })
}

/// One action record; `None` for one that cannot be counted anywhere
/// (without an id, an ad or an event day).
pub fn decode_action(raw: Value) -> Result<Option<ImpactAction>, String> {
    let a: ActionJson = serde_json::from_value(raw).map_err(|e| format!("an action: {e}"))?;
    let (Some(id), Some(ad_id), Some(day)) = (a.id, a.ad_id, day_part(&a.event)) else {
        tracing::warn!("an action without Id, AdId or EventDate was skipped");
        return Ok(None);
    };
    Ok(Some(ImpactAction {
        id,
        ad_id,
        day,
        state: a.state.unwrap_or_default().to_ascii_uppercase(),
        amount: a.amount,
        cost: a.client_cost.or(a.payout),
        new_customer: a.customer.is_some_and(|c| c.eq_ignore_ascii_case("new")),
    }))
}

pub struct Impact {
    peer: Peer,
    sid: String,
    program: String,
    page_size: u32,
}

impl Impact {
    pub fn new(peer: Peer, sid: &str, program: &str, page_size: u32) -> Self {
        Impact { peer, sid: sid.to_string(), program: program.to_string(), page_size }
    }

    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    fn base(&self) -> String {
        format!("/Advertisers/{}", self.sid)
    }

    fn malformed(&self, endpoint: &str, message: String) -> HttpError {
        HttpError::Malformed { peer: self.peer.name(), endpoint: endpoint.to_string(), message }
    }

    /// Every record of a list: page 1, then the other pages side by side.
    async fn list(&self, path: &str, key: &str, query: Vec<(&'static str, String)>) -> Result<Vec<Value>, HttpError> {
        let fetch = |page: u64| {
            let mut q = query.clone();
            q.push(("Page", page.to_string()));
            async move {
                let f = self.peer.get::<Envelope>(path, &q).await?;
                let items = match f.body.rest.get(key) {
                    Some(Value::Array(a)) => a.clone(),
                    Some(Value::Null) | None => Vec::new(),
                    Some(other) => return Err(self.malformed(path, format!("`{key}` is not an array: {}", lenient::excerpt(other)))),
                };
                Ok::<_, HttpError>((f.body.page, f.body.numpages, items))
            }
        };
        let (page, numpages, mut items) = fetch(1).await?;
        if page != 1 {
            return Err(self.malformed(path, format!("asked for page 1, got @page {page}")));
        }
        if numpages > MAX_PAGES {
            return Err(self.malformed(path, format!("@numpages {numpages} is beyond the {MAX_PAGES}-page guard")));
        }
        // `@numpages` says how many; pages 2.. are fetched side by side by number.
        if numpages > 1 {
            let rest: Vec<Vec<Value>> = stream::iter(2..=numpages)
                .map(|p| {
                    let fetch = &fetch;
                    async move { fetch(p).await.map(|r| r.2) }
                })
                .buffered(self.peer.concurrency())
                .try_collect()
                .await?;
            items.extend(rest.into_iter().flatten());
        }
        Ok(items)
    }

    /// The program's ads.
    pub async fn ads(&self) -> Result<Vec<Ad>, HttpError> {
        let path = format!("{}/Ads", self.base());
        let items = self.list(&path, "Ads", vec![("CampaignId", self.program.clone()), ("PageSize", "1000".into())]).await?;
        let mut out = Vec::with_capacity(items.len());
        let mut seen = std::collections::HashSet::new();
        for raw in items {
            let ad = self.decode_ad(&path, raw, None)?;
            if !ad.id.is_empty() && seen.insert(ad.id.clone()) {
                out.push(ad);
            }
        }
        Ok(out)
    }

    pub async fn ad(&self, id: &str) -> Result<Ad, HttpError> {
        let path = format!("{}/Ads/{id}", self.base());
        let f = self.peer.get::<Value>(&path, &[]).await?;
        self.decode_ad(&path, f.body, Some(id))
    }

    fn decode_ad(&self, path: &str, raw: Value, id: Option<&str>) -> Result<Ad, HttpError> {
        decode_ad(raw, id).map_err(|m| self.malformed(path, m))
    }

    /// Actions with an event day in `from..=to`, de-duplicated by id.
    pub async fn actions(&self, from: Day, to: Day) -> Result<Vec<ImpactAction>, HttpError> {
        let mut windows = Vec::new();
        let mut start = from;
        while start <= to {
            let end = (start + MAX_WINDOW_DAYS - 1).min(to);
            windows.push((start, end));
            start = end + 1;
        }
        let parts: Vec<Vec<ImpactAction>> =
            stream::iter(windows).map(|(a, b)| self.actions_window(a, b)).buffered(self.peer.concurrency()).try_collect().await?;
        let mut all: Vec<ImpactAction> = parts.into_iter().flatten().collect();
        let mut seen = std::collections::HashSet::new();
        all.retain(|a: &ImpactAction| seen.insert(a.id.clone()));
        Ok(all)
    }

    /// One window; halves it while the API answers "too many results".
    fn actions_window(&self, from: Day, to: Day) -> futures::future::BoxFuture<'_, Result<Vec<ImpactAction>, HttpError>> {
        Box::pin(async move {
            let path = format!("{}/Actions", self.base());
            let query = vec![
                ("CampaignId", self.program.clone()),
                ("ActionDateStart", format!("{}T00:00:00Z", date_of(from))),
                ("ActionDateEnd", format!("{}T00:00:00Z", date_of(to + 1))),
                ("PageSize", self.page_size.to_string()),
            ];
            match self.list(&path, "Actions", query).await {
                Ok(items) => items.into_iter().filter_map(|raw| self.action(&path, raw).transpose()).collect(),
                Err(HttpError::Status { status: 400, message, .. }) if to > from && message.to_ascii_lowercase().contains("too many") => {
                    let mid = from + (to - from) / 2;
                    tracing::info!(from = %date_of(from), to = %date_of(to), "too many actions in one window; halving it");
                    // Both halves at once: their first pages need not wait for each other.
                    let (mut left, right) = futures::try_join!(self.actions_window(from, mid), self.actions_window(mid + 1, to))?;
                    left.extend(right);
                    Ok(left)
                }
                Err(e) => Err(e),
            }
        })
    }

    fn action(&self, path: &str, raw: Value) -> Result<Option<ImpactAction>, HttpError> {
        decode_action(raw).map_err(|m| self.malformed(path, m))
    }

    /// `POST /Ads`: a text link in the program; returns the new ad's id.
    pub async fn create_ad(&self, name: &str, description: &str, landing_page: &str, link_text: &str, labels: &str) -> Result<String, HttpError> {
        let path = format!("{}/Ads", self.base());
        let form = [
            ("Name", name.to_string()),
            ("CampaignId", self.program.clone()),
            ("AdType", "TEXT_LINK".to_string()),
            ("Language", "ENGLISH".to_string()),
            ("LinkText", link_text.to_string()),
            ("LandingPage", landing_page.to_string()),
            ("Description", description.to_string()),
            ("Labels", labels.to_string()),
        ];
        let f = self.peer.send_form::<Value>(Method::POST, &path, &form, Idempotent::No).await?;
        self.write_result(&path, &f.body)
    }

    /// `PUT /Ads/{id}` with `LimitedTimeEndDate` (`None` clears it: served again).
    pub async fn set_end_date(&self, ad_id: &str, end: Option<Day>) -> Result<(), HttpError> {
        let path = format!("{}/Ads/{ad_id}", self.base());
        let value = end.map(|d| format!("{}T00:00:00+00:00", date_of(d))).unwrap_or_default();
        let f = self.peer.send_form::<Value>(Method::PUT, &path, &[("LimitedTimeEndDate", value)], Idempotent::Yes).await?;
        self.write_result(&path, &f.body).map(|_| ())
    }

    /// `{"Status":"OK","Uri":…/Ads/604512}` → `604512`; an ERROR status (the
    /// API can answer 200 with one) is an error with its message.
    fn write_result(&self, path: &str, body: &Value) -> Result<String, HttpError> {
        let status = body["Status"].as_str().unwrap_or_default();
        if !status.eq_ignore_ascii_case("OK") && !status.eq_ignore_ascii_case("QUEUED") {
            return Err(HttpError::Status {
                peer: self.peer.name(),
                endpoint: path.to_string(),
                status: 400,
                message: body["Message"].as_str().unwrap_or("the write was refused").to_string(),
                retry_after: None,
            });
        }
        let uri = body["Uri"].as_str().or(body["QueuedUri"].as_str()).unwrap_or_default();
        Ok(uri.rsplit('/').next().unwrap_or_default().to_string())
    }
}
