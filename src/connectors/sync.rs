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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Instant;

use super::clients::{ads_source, impact_client, sandbox_ads, store_peer, store_source, views_client};
use super::files;
use super::frames::{campaign_daily_table, campaigns_table, product_daily_table, products_table, CampaignRecord};
use super::impact_ads;
use super::woocommerce::WooCommerce;
use super::ConnectorError;
use crate::config::LoadedConfig;
use crate::db::{Db, DbError};
use crate::http::{HttpError, Peer};
use crate::model::batch::{RawBatch, RawTable, SideFeed, StoredCheck};
use crate::model::contract::{col as c, Table};
use crate::model::day::Day;
use crate::model::history::{CampaignDayRow, ViewsRow};
use crate::model::kinds::{AdsKind, StoreKind, ViewsItemId, ViewsKind};

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
    let reach = crate::decisions::reach::needed_from(as_of, &cfg.settings);
    read_range(cfg, db, as_of - cfg.settings.history.days as i32 + 1, as_of, Some(reach)).await
}

/// The daily rows of `from..=as_of` (API connectors: brought up to date in
/// the database first; files: whatever the files hold) and the current
/// products and campaigns. `backfill` reads its whole range once. With a
/// `reach`, files' daily rows dated before it are left for the validator's
/// quality check only (see [`files::read_table`]).
pub async fn read_range(cfg: &LoadedConfig, db: &Db, from: Day, as_of: Day, reach: Option<Day>) -> Result<(RawBatch, FetchStats), ConnectorError> {
    let started = Instant::now();
    // Fetched before the two sides start: a read side blocks its thread in
    // polars while the other may wait for the pool's one SQLite connection
    // (with both asking at once, a run was seen to wait for it forever).
    let kept_store = known_check(db, Table::ProductDaily, reach.filter(|_| cfg.settings.store.kind == StoreKind::Files)).await?;
    let kept_ads = known_check(db, Table::CampaignDaily, reach.filter(|_| cfg.settings.ads.kind == AdsKind::Files)).await?;
    let (store, ads) = tokio::try_join!(read_store(cfg, db, from, as_of, reach, kept_store.as_ref()), read_ads(cfg, db, from, as_of, reach, kept_ads.as_ref()))?;
    let (products, product_daily, views_available, views_feed, store_part) = store;
    let (campaigns, campaign_daily, observed_budgets, ads_part) = ads;
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
    Ok((RawBatch { products, product_daily, campaigns, campaign_daily, views_available, views_feed, observed_budgets }, stats))
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
    StoreFut: std::future::Future<Output = Result<(), DbError>>,
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

/// Where runs keep the daily rows they validated (`history.validated_dir`;
/// None: nowhere).
pub fn validated_dir(cfg: &LoadedConfig) -> Option<std::path::PathBuf> {
    let dir = &cfg.settings.history.validated_dir;
    (!dir.is_empty()).then(|| cfg.resolve(std::path::Path::new(dir)))
}

/// The check an earlier run kept of a daily file's older rows, when this
/// read has a reach (only then are older rows left for the validator).
async fn known_check(db: &Db, table: Table, reach: Option<Day>) -> Result<Option<StoredCheck>, ConnectorError> {
    if reach.is_none() {
        return Ok(None);
    }
    db.stored_check(table).await.map_err(history_err)
}

/// Products and daily product rows (with views when a source has them).
async fn read_store(cfg: &LoadedConfig, db: &Db, from: Day, as_of: Day, reach: Option<Day>, known: Option<&StoredCheck>) -> Result<(RawTable, RawTable, bool, SideFeed, Part), ConnectorError> {
    let s = &cfg.settings;
    let mut part = Part::default();
    let mut views_feed = SideFeed::default();
    let (products, product_daily, views_available) = if s.store.kind == StoreKind::Files {
        let dir = cfg.resolve(&s.store.path);
        (files::read_table(&dir, Table::Products, "store.path", None)?, files::read_table_knowing(&dir, Table::ProductDaily, "store.path", reach, known, validated_dir(cfg).as_deref())?, true)
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
                let by_sku: Option<HashMap<&str, &str>> = (s.views.item_id == ViewsItemId::Sku)
                    .then(|| list.iter().filter(|p| !p.sku.is_empty()).map(|p| (p.sku.as_str(), p.product_id.as_str())).collect());
                let (ga, by_sku) = (&ga, &by_sku);
                refresh(db, &source, "views", from, as_of, s.history.store_refetch_days, &mut part, |a, b| async move {
                    let rows = ga.views(a, b).await?;
                    Ok(match by_sku {
                        Some(map) => rows
                            .into_iter()
                            .filter_map(|r| map.get(r.product_id.as_str()).map(|id| ViewsRow { product_id: id.to_string(), ..r }))
                            .collect(),
                        None => rows,
                    })
                }, |days, rows| {
                    let source = &source;
                    async move { db.store_views_days(source, &days, &rows).await }
                })
                .await?;
                Some(db.views_days(&source, from, as_of).await.map_err(history_err)?)
            }
            None if s.views.kind == ViewsKind::Files => {
                let path = cfg.resolve(&s.views.path).join("views.csv");
                let known: HashSet<&str> = list.iter().map(|p| p.product_id.as_str()).collect();
                let (rows, feed) = files::read_views_csv(&path, &known, as_of)?;
                views_feed = feed;
                Some(rows)
            }
            None => None,
        };
        let sales = db.sales_days(&source, from, as_of).await.map_err(history_err)?;
        let available = views.is_some();
        (products_table(&source, &list)?, product_daily_table(&source, sales, views)?, available)
    };

    Ok((products, product_daily, views_available, views_feed, part))
}

/// Campaigns and daily campaign rows, and the campaigns whose budget was
/// observed from their own spend (a platform without budgets).
async fn read_ads(cfg: &LoadedConfig, db: &Db, from: Day, as_of: Day, reach: Option<Day>, known: Option<&StoredCheck>) -> Result<(RawTable, RawTable, BTreeMap<String, f64>, Part), ConnectorError> {
    let s = &cfg.settings;
    let mut part = Part::default();
    let mut observed = BTreeMap::new();
    let (campaigns, campaign_daily) = match s.ads.kind {
        AdsKind::Files => {
            let dir = cfg.resolve(&s.ads.path);
            (files::read_table(&dir, Table::Campaigns, "ads.path", None)?, files::read_table_knowing(&dir, Table::CampaignDaily, "ads.path", reach, known, validated_dir(cfg).as_deref())?)
        }
        AdsKind::Sandbox => {
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
            let camps: Vec<CampaignRecord> = list.into_iter().map(|(c, raw)| c.into_record(raw)).collect();
            part.peers.push(client.peer().clone());
            (campaigns_table(&source, &camps)?, campaign_daily_table(&source, rows)?)
        }
        AdsKind::Impact => {
            let client = impact_client(s)?;
            part.peers.push(client.peer().clone());
            let source = ads_source(s);
            let ads = timed(&mut part.net_seconds, client.ads()).await?;
            let ledger = db.ledger(&source).await.map_err(history_err)?;
            let c = &client;
            refresh(db, &source, "actions", from, as_of, s.history.ads_refetch_days, &mut part, |a, b| c.actions(a, b), |days, rows| {
                let source = &source;
                async move { db.store_impact_actions(source, &days, &rows).await.map(drop) }
            })
            .await?;
            let rows = db.impact_campaign_days(&source, from, as_of).await.map_err(history_err)?;
            let seen = impact_ads::campaign_records(ads, &ledger, &rows, as_of, &s.ads);
            if !seen.new_entries.is_empty() {
                tracing::info!(ads = seen.new_entries.len(), "ads seen for the first time: ledger budgets observed from their own spend");
                db.ledger_set_many(&source, &seen.new_entries).await.map_err(history_err)?;
            }
            observed = seen.observed;
            (campaigns_table(&source, &seen.records)?, campaign_daily_table(&source, rows)?)
        }
    };
    Ok((campaigns, campaign_daily, observed, part))
}

/// One campaign's daily rows of `from..=to` as the run would read them,
/// without fetching: the files' `campaign_daily` (rows that do not parse are
/// left out; the run quarantines them), or the history the API runs kept.
pub async fn stored_campaign_days(cfg: &LoadedConfig, db: &Db, campaign_id: &str, from: Day, to: Day) -> Result<Vec<CampaignDayRow>, ConnectorError> {
    let s = &cfg.settings;
    let mut rows = match s.ads.kind {
        AdsKind::Files => {
            let t = files::read_table(&cfg.resolve(&s.ads.path), Table::CampaignDaily, "ads.path", None)?;
            campaign_rows(t.df, campaign_id, from, to).map_err(|e| ConnectorError::Read { path: t.source.describe(), message: e.to_string() })?
        }
        AdsKind::Sandbox => db.campaign_days(&ads_source(s), from, to).await.map_err(history_err)?,
        AdsKind::Impact => db.impact_campaign_days(&ads_source(s), from, to).await.map_err(history_err)?,
    };
    rows.retain(|r| r.campaign_id == campaign_id);
    rows.sort_by_key(|r| r.day);
    Ok(rows)
}

/// The rows of one campaign and date range, from a whole `campaign_daily` frame.
fn campaign_rows(df: polars::prelude::DataFrame, campaign_id: &str, from: Day, to: Day) -> polars::prelude::PolarsResult<Vec<CampaignDayRow>> {
    use polars::prelude::*;
    let day = col(c::DATE).cast(DataType::Int32);
    let df = df
        .lazy()
        .filter(col(c::CAMPAIGN_ID).eq(lit(campaign_id)).and(day.clone().gt_eq(lit(from))).and(day.clone().lt_eq(lit(to))))
        .with_column(day.alias(c::DATE))
        .collect()?;
    let days = df.column(c::DATE)?.i32()?;
    let int = |name: &str| -> PolarsResult<Vec<Option<i64>>> { Ok(df.column(name)?.i64()?.iter().collect()) };
    let money = |name: &str| -> PolarsResult<Vec<Option<f64>>> { Ok(df.column(name)?.f64()?.iter().collect()) };
    let (impressions, clicks, conversions, new_customers) = (int(c::IMPRESSIONS)?, int(c::CLICKS)?, int(c::CONVERSIONS)?, int(c::NEW_CUSTOMERS)?);
    let (spend, revenue) = (money(c::SPEND)?, money(c::REVENUE)?);
    Ok(days
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            Some(CampaignDayRow {
                day: d?,
                campaign_id: campaign_id.to_string(),
                impressions: impressions[i],
                clicks: clicks[i],
                spend: spend[i],
                conversions: conversions[i],
                revenue: revenue[i],
                new_customers: new_customers[i],
            })
        })
        .collect())
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
