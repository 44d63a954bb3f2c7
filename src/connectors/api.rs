//! Reading a run's four tables from the configured connectors, with
//! incremental history for the API ones.
//!
//! Products and campaigns are snapshots, fetched every run. Daily rows are
//! kept in the database (`history_*`): a run fetches only the days of
//! `history.days` it does not have, plus the tail that can still change
//! (`history.store_refetch_days`, `history.ads_refetch_days`), stores them,
//! then reads the whole window back from the database. The result is the
//! same [`RawBatch`] the files connector produces, so validation, the
//! quarantine and everything after do not know where rows came from.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use polars::prelude::*;
use secrecy::SecretString;

use super::files;
use super::impact::{Impact, SID_ENV, TOKEN_ENV};
use super::sandbox_ads::SandboxAds;
use super::woocommerce::{WooCommerce, KEY_ENV, SECRET_ENV};
use super::{ga4, ConnectorError, RawBatch, RawTable, Source};
use crate::config::{LoadedConfig, Settings};
use crate::db::history::{CampaignDayRow, SalesRow};
use crate::db::Db;
use crate::http::{secret_env, Auth, HttpError, Peer, PeerOptions};
use crate::model::{col, date_of, day_of, Day, Table};
use crate::sandbox::serve as sb;

/// What fetching cost, for the report and the benchmark.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FetchStats {
    pub requests: u64,
    pub retries: u64,
    /// Days fetched per feed this run (the rest came from the database).
    pub days_fetched: std::collections::BTreeMap<String, usize>,
    /// Requests per peer (for the rate-limit bound: requests ÷ allowed rate).
    pub per_peer: std::collections::BTreeMap<String, u64>,
    /// Wall time of the whole read, and per side (store, ads) of the HTTP
    /// calls alone (without storing history).
    pub seconds: f64,
    pub net_seconds: std::collections::BTreeMap<String, f64>,
}

/// Times an API call into `net`.
async fn timed<T>(net: &mut f64, f: impl std::future::Future<Output = T>) -> T {
    let t = Instant::now();
    let out = f.await;
    *net += t.elapsed().as_secs_f64();
    out
}

fn history_err(e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::History(e.to_string())
}

fn credential(name: &str, fallback: Option<&str>) -> Result<SecretString, ConnectorError> {
    match (secret_env(name), fallback) {
        (Ok(s), _) => Ok(s),
        (Err(_), Some(f)) => Ok(SecretString::from(f.to_string())),
        (Err(e), None) => Err(ConnectorError::Setup(e)),
    }
}

fn plain_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The store's peer (WooCommerce or the sandbox's WooCommerce-shaped routes).
pub fn store_peer(s: &Settings) -> Result<Peer, ConnectorError> {
    let sandbox = s.store.kind == "sandbox";
    let key = credential(KEY_ENV, sandbox.then_some(sb::WOO_KEY))?;
    let secret = credential(SECRET_ENV, sandbox.then_some(sb::WOO_SECRET))?;
    let user = secrecy::ExposeSecret::expose_secret(&key).to_string();
    let auth = if s.store.auth_in_query {
        Auth::Query { user_param: "consumer_key", user, password_param: "consumer_secret", password: secret }
    } else {
        Auth::Basic { user, password: secret }
    };
    Peer::new(
        PeerOptions {
            name: "woocommerce",
            base_url: s.store.base_url.clone(),
            auth,
            credential_hint: "WOOCOMMERCE_KEY and WOOCOMMERCE_SECRET",
            rate_limit_per_hour: s.store.rate_limit_per_hour,
            concurrency: s.store.concurrency,
            extra_headers: Vec::new(),
        },
        &s.http,
    )
    .map_err(ConnectorError::Http)
}

/// The views source: GA4 (or, for the sandbox store, its GA4-shaped route).
fn views_client(s: &Settings) -> Result<Option<ga4::Ga4>, ConnectorError> {
    let (base, property, token) = match (s.views.kind.as_str(), s.store.kind.as_str()) {
        ("ga4", _) => (s.views.base_url.clone(), s.views.property_id.clone(), credential(ga4::TOKEN_ENV, None)?),
        ("none", "sandbox") => (s.store.base_url.clone(), sb::GA4_PROPERTY.to_string(), SecretString::from(sb::GA4_TOKEN.to_string())),
        _ => return Ok(None),
    };
    let peer = Peer::new(
        PeerOptions {
            name: "ga4",
            base_url: base,
            auth: Auth::Bearer(token),
            credential_hint: "GA4_ACCESS_TOKEN",
            rate_limit_per_hour: 0,
            concurrency: 2,
            extra_headers: Vec::new(),
        },
        &s.http,
    )?;
    Ok(Some(ga4::Ga4::new(peer, &property)))
}

pub fn impact_client(s: &Settings) -> Result<Impact, ConnectorError> {
    let sid = if s.ads.account_sid.trim().is_empty() { plain_env(SID_ENV) } else { Some(s.ads.account_sid.clone()) };
    let Some(sid) = sid else {
        return Err(ConnectorError::Setup(format!(
            "ads.account_sid is empty and the environment variable {SID_ENV} is not set"
        )));
    };
    let token = credential(TOKEN_ENV, None)?;
    let peer = Peer::new(
        PeerOptions {
            name: "impact",
            base_url: s.ads.base_url.clone(),
            auth: Auth::Basic { user: sid.clone(), password: token },
            credential_hint: "IMPACT_ACCOUNT_SID and IMPACT_AUTH_TOKEN",
            rate_limit_per_hour: s.ads.rate_limit_per_hour,
            concurrency: s.ads.concurrency,
            extra_headers: vec![("IR-Version", "14".to_string())],
        },
        &s.http,
    )?;
    Ok(Impact::new(peer, &sid, &s.ads.program_id, s.ads.page_size))
}

pub fn sandbox_ads(s: &Settings) -> Result<SandboxAds, ConnectorError> {
    let peer = Peer::new(
        PeerOptions {
            name: "sandbox",
            base_url: s.ads.base_url.clone(),
            auth: Auth::None,
            credential_hint: "(the sandbox needs none)",
            // The sandbox's own platform has no rate limit (its Impact-shaped routes do).
            rate_limit_per_hour: 0,
            concurrency: s.ads.concurrency,
            extra_headers: Vec::new(),
        },
        &s.http,
    )?;
    Ok(SandboxAds::new(peer))
}

/// The name history is kept under for a peer.
pub fn store_source(s: &Settings) -> String {
    format!("{}:{}", s.store.kind, s.store.base_url.trim_end_matches('/'))
}

pub fn ads_source(s: &Settings) -> String {
    match s.ads.kind.as_str() {
        "impact" => {
            let sid = if s.ads.account_sid.is_empty() { plain_env(SID_ENV).unwrap_or_default() } else { s.ads.account_sid.clone() };
            format!("impact:{sid}:{}", s.ads.program_id)
        }
        k => format!("{k}:{}", s.ads.base_url.trim_end_matches('/')),
    }
}

/// Days of `from..=to` to fetch: those not kept yet, and the changeable tail.
pub fn days_to_fetch(have: &BTreeSet<Day>, from: Day, to: Day, refetch: u32) -> Vec<Day> {
    let tail_start = to - refetch as i32 + 1;
    (from..=to).filter(|d| *d >= tail_start || !have.contains(d)).collect()
}

/// Contiguous runs of days, as (first, last).
pub fn runs(days: &[Day]) -> Vec<(Day, Day)> {
    let mut out: Vec<(Day, Day)> = Vec::new();
    for &d in days {
        match out.last_mut() {
            Some((_, last)) if *last + 1 == d => *last = d,
            _ => out.push((d, d)),
        }
    }
    out
}

/// Reads the run's four tables from whatever is configured: the store and
/// the ad platform side by side (their limits are independent).
pub async fn read_batch(cfg: &LoadedConfig, db: &Db, as_of: Day) -> Result<(RawBatch, FetchStats), ConnectorError> {
    read_range(cfg, db, as_of - cfg.settings.history.days as i32 + 1, as_of).await
}

/// The daily rows of `from..=as_of` (API connectors: brought up to date in
/// the database first; files: whatever the files hold) and the current
/// products and campaigns. `backfill` reads its whole range once.
pub async fn read_range(cfg: &LoadedConfig, db: &Db, from: Day, as_of: Day) -> Result<(RawBatch, FetchStats), ConnectorError> {
    let started = Instant::now();
    let (store, ads) = tokio::try_join!(read_store(cfg, db, from, as_of), read_ads(cfg, db, from, as_of))?;
    let (products, product_daily, views_available, store_part) = store;
    let (campaigns, campaign_daily, ads_part) = ads;
    let mut stats = FetchStats::default();
    for (side, part) in [("store", store_part), ("ads", ads_part)] {
        stats.days_fetched.extend(part.days_fetched);
        stats.net_seconds.insert(side.to_string(), part.net_seconds);
        for p in &part.peers {
            let n = p.stats().requests.load(std::sync::atomic::Ordering::Relaxed);
            *stats.per_peer.entry(p.name().to_string()).or_default() += n;
            stats.requests += n;
            stats.retries += p.stats().retries.load(std::sync::atomic::Ordering::Relaxed);
        }
    }
    stats.seconds = started.elapsed().as_secs_f64();
    Ok((RawBatch { products, product_daily, campaigns, campaign_daily, views_available }, stats))
}

/// Brings one feed's history up to date: fetches the days of `from..=to`
/// the database lacks plus the changeable tail (`refetch` days), a run of
/// days per call, and stores each run with its days marked complete.
#[allow(clippy::too_many_arguments)]
async fn refresh<T, Fetch, FetchFut, Store, StoreFut>(
    db: &Db,
    source: &str,
    feed: &str,
    from: Day,
    to: Day,
    refetch: u32,
    part: &mut Part,
    mut fetch: Fetch,
    mut store: Store,
) -> Result<(), ConnectorError>
where
    Fetch: FnMut(Day, Day) -> FetchFut,
    FetchFut: std::future::Future<Output = Result<T, HttpError>>,
    Store: FnMut(Vec<Day>, T) -> StoreFut,
    StoreFut: std::future::Future<Output = Result<(), crate::db::DbError>>,
{
    let have = db.fetched_days(source, feed, from, to).await.map_err(history_err)?;
    let want = days_to_fetch(&have, from, to, refetch);
    part.days_fetched.insert(feed.to_string(), want.len());
    for (a, b) in runs(&want) {
        let rows = timed(&mut part.net_seconds, fetch(a, b)).await?;
        store((a..=b).collect(), rows).await.map_err(history_err)?;
    }
    Ok(())
}

/// What one side's fetch did.
#[derive(Default)]
struct Part {
    peers: Vec<Peer>,
    days_fetched: std::collections::BTreeMap<String, usize>,
    net_seconds: f64,
}

/// Products and daily product rows (with views when a source has them).
async fn read_store(cfg: &LoadedConfig, db: &Db, from: Day, as_of: Day) -> Result<(RawTable, RawTable, bool, Part), ConnectorError> {
    let s = &cfg.settings;
    let mut part = Part::default();
    let (products, product_daily, views_available) = if s.store.kind == "files" {
        let dir = cfg.resolve(&s.store.path);
        (files::read_table(&dir, Table::Products, "store.path")?, files::read_table(&dir, Table::ProductDaily, "store.path")?, true)
    } else {
        let peer = store_peer(s)?;
        part.peers.push(peer.clone());
        let woo = WooCommerce::new(peer, s.store.products_per_request, s.store.unmanaged_stock);
        let source = store_source(s);
        let list = timed(&mut part.net_seconds, woo.products()).await?;
        let ids: Vec<String> = list.iter().map(|p| p.product_id.clone()).collect();
        let (ids, woo_ref) = (&ids, &woo);
        refresh(db, &source, "sales", from, as_of, s.history.store_refetch_days, &mut part, |a, b| async move {
            match woo_ref.daily_sales(ids, a, b).await {
                // Analytics disabled (or too old a store): the orders' line items.
                Err(HttpError::Status { status: 404, message, .. }) if message.contains("rest_no_route") => {
                    tracing::warn!("WooCommerce Analytics is not available (rest_no_route); reading daily sales from orders");
                    woo_ref.daily_sales_from_orders(a, b).await
                }
                other => other,
            }
        }, |days, rows| {
            let source = &source;
            async move { db.store_sales_days(source, &days, &rows).await }
        })
        .await?;
        let views = match views_client(s)? {
            Some(ga) => {
                part.peers.push(ga.peer().clone());
                let by_sku: Option<HashMap<&str, &str>> = (s.views.item_id == "sku")
                    .then(|| list.iter().filter(|p| !p.sku.is_empty()).map(|p| (p.sku.as_str(), p.product_id.as_str())).collect());
                let (ga, by_sku) = (&ga, &by_sku);
                refresh(db, &source, "views", from, as_of, s.history.store_refetch_days, &mut part, |a, b| async move {
                    let rows = ga.views(a, b).await?;
                    Ok(match by_sku {
                        Some(map) => rows.into_iter().filter_map(|(d, sku, v)| map.get(sku.as_str()).map(|id| (d, id.to_string(), v))).collect(),
                        None => rows,
                    })
                }, |days, rows| {
                    let source = &source;
                    async move { db.store_views_days(source, &days, &rows).await }
                })
                .await?;
                Some(db.views_days(&source, from, as_of).await.map_err(history_err)?)
            }
            None if s.views.kind == "files" => {
                let path = cfg.resolve(&s.views.path).join("views.csv");
                Some(read_views_csv(&path)?)
            }
            None => None,
        };
        let sales = db.sales_days(&source, from, as_of).await.map_err(history_err)?;
        let available = views.is_some();
        (products_table(&source, &list)?, product_daily_table(&source, sales, views)?, available)
    };

    Ok((products, product_daily, views_available, part))
}

/// Campaigns and daily campaign rows.
async fn read_ads(cfg: &LoadedConfig, db: &Db, from: Day, as_of: Day) -> Result<(RawTable, RawTable, Part), ConnectorError> {
    let s = &cfg.settings;
    let mut part = Part::default();
    let (campaigns, campaign_daily) = match s.ads.kind.as_str() {
        "files" => {
            let dir = cfg.resolve(&s.ads.path);
            (files::read_table(&dir, Table::Campaigns, "ads.path")?, files::read_table(&dir, Table::CampaignDaily, "ads.path")?)
        }
        "sandbox" => {
            let client = sandbox_ads(s)?;
            let source = ads_source(s);
            let list = timed(&mut part.net_seconds, client.campaigns()).await?;
            let c = &client;
            refresh(db, &source, "campaign_daily", from, as_of, s.history.ads_refetch_days, &mut part, |a, b| c.daily(a, b), |days, rows| {
                let source = &source;
                async move { db.store_campaign_days(source, &days, &rows).await }
            })
            .await?;
            let rows = db.campaign_days(&source, from, as_of).await.map_err(history_err)?;
            let camps: Vec<CampaignRecord> = list
                .into_iter()
                .map(|(c, raw)| CampaignRecord {
                    campaign_id: c.campaign_id,
                    name: c.name,
                    product_id: c.product_id,
                    status: c.status,
                    daily_budget: c.daily_budget,
                    start_date: c.start_date,
                    paused_by: c.paused_by,
                    paused_at: c.paused_at,
                    raw,
                })
                .collect();
            part.peers.push(client.peer().clone());
            (campaigns_table(&source, &camps)?, campaign_daily_table(&source, rows)?)
        }
        _ => {
            let client = impact_client(s)?;
            part.peers.push(client.peer().clone());
            let source = ads_source(s);
            let ads = timed(&mut part.net_seconds, client.ads()).await?;
            let ledger = db.ledger(&source).await.map_err(history_err)?;
            let c = &client;
            refresh(db, &source, "actions", from, as_of, s.history.ads_refetch_days, &mut part, |a, b| c.actions(a, b), |days, rows| {
                let source = &source;
                async move { db.store_impact_actions(source, &days, &rows).await }
            })
            .await?;
            let rows = db.impact_campaign_days(&source, from, as_of).await.map_err(history_err)?;
            let mut skipped = 0usize;
            let camps: Vec<CampaignRecord> = ads
                .into_iter()
                .filter_map(|ad| {
                    let Some(pid) = ad.product_id().map(str::to_string) else {
                        skipped += 1;
                        return None;
                    };
                    let entry = ledger.get(&ad.id);
                    let ended = ad.end.is_some_and(|e| e <= as_of + 1);
                    let (paused_by, paused_at) = match (ended, entry) {
                        (false, _) => (String::new(), String::new()),
                        (true, Some(e)) if e.paused_by.is_some() => (e.paused_by.clone().unwrap_or_default(), e.paused_at.clone().unwrap_or_default()),
                        // Ended by someone else (in the app): a person's pause.
                        (true, _) => ("user".to_string(), ad.end.map(|d| date_of(d).to_string()).unwrap_or_default()),
                    };
                    Some(CampaignRecord {
                        campaign_id: ad.id.clone(),
                        name: ad.name.clone(),
                        product_id: pid,
                        status: if ended { "paused".into() } else { "active".into() },
                        daily_budget: Some(entry.map(|e| e.daily_budget).unwrap_or(s.ads.default_daily_budget)),
                        start_date: ad.created.map(|d| date_of(d).to_string()).unwrap_or_default(),
                        paused_by,
                        paused_at,
                        raw: ad.raw,
                    })
                })
                .collect();
            if skipped > 0 {
                tracing::info!(ads = skipped, "ads without a product:<id> label are not campaigns (left alone)");
            }
            (campaigns_table(&source, &camps)?, campaign_daily_table(&source, rows)?)
        }
    };
    Ok((campaigns, campaign_daily, part))
}

struct CampaignRecord {
    campaign_id: String,
    name: String,
    product_id: String,
    status: String,
    daily_budget: Option<f64>,
    start_date: String,
    paused_by: String,
    paused_at: String,
    raw: String,
}

fn polars_err(source: &str) -> impl Fn(PolarsError) -> ConnectorError + '_ {
    move |e| ConnectorError::Read { path: source.to_string(), message: e.to_string() }
}

fn lines(n: usize) -> Vec<u32> {
    (1..=n as u32).collect()
}

fn date_col(name: &str, days: Vec<Option<Day>>) -> PolarsResult<Column> {
    Column::new(name.into(), days).cast(&DataType::Date)
}

fn parse_date(s: &str) -> Option<Day> {
    chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok().map(day_of)
}

fn products_table(source: &str, list: &[super::woocommerce::StoreProduct]) -> Result<RawTable, ConnectorError> {
    let df = DataFrame::new_infer_height(vec![
        Column::new(col::PRODUCT_ID.into(), list.iter().map(|p| p.product_id.as_str()).collect::<Vec<_>>()),
        Column::new(col::SKU.into(), list.iter().map(|p| p.sku.as_str()).collect::<Vec<_>>()),
        Column::new(col::NAME.into(), list.iter().map(|p| p.name.as_str()).collect::<Vec<_>>()),
        Column::new(col::CATEGORY.into(), list.iter().map(|p| p.category.as_str()).collect::<Vec<_>>()),
        Column::new(col::PRICE.into(), list.iter().map(|p| p.price).collect::<Vec<_>>()),
        Column::new(col::STOCK.into(), list.iter().map(|p| p.stock).collect::<Vec<_>>()),
        date_col(col::CREATED_AT, list.iter().map(|p| p.created.map(day_of)).collect()).map_err(polars_err(source))?,
        Column::new(col::LINE.into(), lines(list.len())),
    ])
    .map_err(polars_err(source))?;
    let raw = Arc::new(list.iter().map(|p| p.raw.clone()).collect());
    Ok(RawTable { table: Table::Products, df, source: Source::Api { name: format!("{source} products"), raw } })
}

fn product_daily_table(source: &str, sales: Vec<SalesRow>, views: Option<Vec<(Day, String, i64)>>) -> Result<RawTable, ConnectorError> {
    // Sales and views are separate feeds: a product-day in either is a row.
    let mut rows: HashMap<(Day, String), (Option<i64>, Option<f64>, i64)> = HashMap::with_capacity(sales.len());
    for r in sales {
        rows.insert((r.day, r.product_id), (r.units, r.revenue, 0));
    }
    let with_views = views.is_some();
    for (d, pid, v) in views.unwrap_or_default() {
        rows.entry((d, pid)).or_insert((Some(0), Some(0.0), 0)).2 = v;
    }
    let mut keys: Vec<(Day, String)> = rows.keys().cloned().collect();
    keys.sort_by(|a, b| (a.1.len(), &a.1, a.0).cmp(&(b.1.len(), &b.1, b.0)));
    let n = keys.len();
    let get = |k: &(Day, String)| rows[k];
    let df = DataFrame::new_infer_height(vec![
        date_col(col::DATE, keys.iter().map(|k| Some(k.0)).collect()).map_err(polars_err(source))?,
        Column::new(col::PRODUCT_ID.into(), keys.iter().map(|k| k.1.as_str()).collect::<Vec<_>>()),
        // Without a views source the column is 0 and marked unavailable (view impact null).
        Column::new(col::VIEWS.into(), keys.iter().map(|k| if with_views { Some(get(k).2) } else { Some(0) }).collect::<Vec<_>>()),
        Column::new(col::UNITS.into(), keys.iter().map(|k| get(k).0).collect::<Vec<_>>()),
        Column::new(col::REVENUE.into(), keys.iter().map(|k| get(k).1).collect::<Vec<_>>()),
        Column::new(col::LINE.into(), lines(n)),
    ])
    .map_err(polars_err(source))?;
    Ok(RawTable { table: Table::ProductDaily, df, source: Source::Api { name: format!("{source} product_daily (history)"), raw: Arc::new(Vec::new()) } })
}

fn campaigns_table(source: &str, list: &[CampaignRecord]) -> Result<RawTable, ConnectorError> {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let df = DataFrame::new_infer_height(vec![
        Column::new(col::CAMPAIGN_ID.into(), list.iter().map(|c| c.campaign_id.as_str()).collect::<Vec<_>>()),
        Column::new(col::NAME.into(), list.iter().map(|c| c.name.as_str()).collect::<Vec<_>>()),
        Column::new(col::PRODUCT_ID.into(), list.iter().map(|c| c.product_id.as_str()).collect::<Vec<_>>()),
        Column::new(col::STATUS.into(), list.iter().map(|c| c.status.as_str()).collect::<Vec<_>>()),
        Column::new(col::DAILY_BUDGET.into(), list.iter().map(|c| c.daily_budget).collect::<Vec<_>>()),
        date_col(col::START_DATE, list.iter().map(|c| parse_date(&c.start_date)).collect()).map_err(polars_err(source))?,
        Column::new(col::PAUSED_BY.into(), list.iter().map(|c| opt(&c.paused_by)).collect::<Vec<_>>()),
        Column::new(col::PAUSED_AT.into(), list.iter().map(|c| opt(&c.paused_at)).collect::<Vec<_>>()),
        Column::new(col::LINE.into(), lines(list.len())),
    ])
    .map_err(polars_err(source))?;
    let raw = Arc::new(list.iter().map(|c| c.raw.clone()).collect());
    Ok(RawTable { table: Table::Campaigns, df, source: Source::Api { name: format!("{source} campaigns"), raw } })
}

fn campaign_daily_table(source: &str, rows: Vec<CampaignDayRow>) -> Result<RawTable, ConnectorError> {
    let df = DataFrame::new_infer_height(vec![
        date_col(col::DATE, rows.iter().map(|r| Some(r.day)).collect()).map_err(polars_err(source))?,
        Column::new(col::CAMPAIGN_ID.into(), rows.iter().map(|r| r.campaign_id.as_str()).collect::<Vec<_>>()),
        Column::new(col::IMPRESSIONS.into(), rows.iter().map(|r| r.impressions).collect::<Vec<_>>()),
        Column::new(col::CLICKS.into(), rows.iter().map(|r| r.clicks).collect::<Vec<_>>()),
        Column::new(col::SPEND.into(), rows.iter().map(|r| r.spend).collect::<Vec<_>>()),
        Column::new(col::CONVERSIONS.into(), rows.iter().map(|r| r.conversions).collect::<Vec<_>>()),
        Column::new(col::REVENUE.into(), rows.iter().map(|r| r.revenue).collect::<Vec<_>>()),
        Column::new(col::NEW_CUSTOMERS.into(), rows.iter().map(|r| r.new_customers).collect::<Vec<_>>()),
        Column::new(col::LINE.into(), lines(rows.len())),
    ])
    .map_err(polars_err(source))?;
    Ok(RawTable { table: Table::CampaignDaily, df, source: Source::Api { name: format!("{source} campaign_daily (history)"), raw: Arc::new(Vec::new()) } })
}

/// `views.csv` (date, product_id, views) for `views.kind = "files"`.
fn read_views_csv(path: &std::path::Path) -> Result<Vec<(Day, String, i64)>, ConnectorError> {
    let mut r = csv::Reader::from_path(path).map_err(|e| ConnectorError::Read { path: path.display().to_string(), message: e.to_string() })?;
    let mut out = Vec::new();
    for (i, rec) in r.records().enumerate() {
        let rec = rec.map_err(|e| ConnectorError::Read { path: path.display().to_string(), message: e.to_string() })?;
        let (Some(d), Some(pid), Some(v)) = (rec.get(0).and_then(parse_date), rec.get(1), rec.get(2).and_then(|v| v.trim().parse::<i64>().ok())) else {
            tracing::warn!(path = %path.display(), line = i + 2, "views.csv: a row without date, product_id and whole views was skipped");
            continue;
        };
        out.push((d, pid.to_string(), v));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_missing_days_and_the_tail_are_fetched() {
        let have: BTreeSet<Day> = (100..=110).collect();
        assert_eq!(days_to_fetch(&have, 95, 112, 3), vec![95, 96, 97, 98, 99, 110, 111, 112]);
        assert_eq!(runs(&[95, 96, 97, 98, 99, 110, 111, 112]), vec![(95, 99), (110, 112)]);
        assert_eq!(days_to_fetch(&(90..=120).collect(), 95, 112, 0), Vec::<Day>::new());
    }
}
