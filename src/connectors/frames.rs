//! Frame building for the API connectors: the records they fetched (and the
//! history kept from them) as the same [`RawTable`]s the files connector
//! reads, so validation does not know where rows came from.

use std::collections::HashMap;
use std::sync::Arc;

use polars::prelude::*;

use super::woocommerce::StoreProduct;
use super::ConnectorError;
use crate::model::batch::{RawTable, Source};
use crate::model::contract::{col, Table};
use crate::model::day::{day_of, parse_day, Day};
use crate::model::history::{CampaignDayRow, SalesRow, ViewsRow};

/// A campaign as an API connector received it, before validation: its
/// states are text here, checked by the validator like a file's.
pub struct CampaignRecord {
    pub campaign_id: String,
    pub name: String,
    pub product_id: String,
    pub status: String,
    pub daily_budget: Option<f64>,
    pub start_date: String,
    pub paused_by: String,
    pub paused_at: String,
    pub raw: String,
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


pub(crate) fn products_table(source: &str, list: &[StoreProduct]) -> Result<RawTable, ConnectorError> {
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
    Ok(RawTable::whole(Table::Products, df, Source::Api { name: format!("{source} products"), raw }))
}

pub(crate) fn product_daily_table(source: &str, sales: Vec<SalesRow>, views: Option<Vec<ViewsRow>>) -> Result<RawTable, ConnectorError> {
    // Sales and views are separate feeds: a product-day in either is a row.
    let mut rows: HashMap<(Day, String), (Option<i64>, Option<f64>, i64)> = HashMap::with_capacity(sales.len());
    for r in sales {
        rows.insert((r.day, r.product_id), (r.units, r.revenue, 0));
    }
    let with_views = views.is_some();
    for v in views.unwrap_or_default() {
        rows.entry((v.day, v.product_id)).or_insert((Some(0), Some(0.0), 0)).2 = v.views;
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
    Ok(RawTable::whole(Table::ProductDaily, df, Source::Api { name: format!("{source} product_daily (history)"), raw: Arc::new(Vec::new()) }))
}

pub(crate) fn campaigns_table(source: &str, list: &[CampaignRecord]) -> Result<RawTable, ConnectorError> {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_string());
    let df = DataFrame::new_infer_height(vec![
        Column::new(col::CAMPAIGN_ID.into(), list.iter().map(|c| c.campaign_id.as_str()).collect::<Vec<_>>()),
        Column::new(col::NAME.into(), list.iter().map(|c| c.name.as_str()).collect::<Vec<_>>()),
        Column::new(col::PRODUCT_ID.into(), list.iter().map(|c| c.product_id.as_str()).collect::<Vec<_>>()),
        Column::new(col::STATUS.into(), list.iter().map(|c| c.status.as_str()).collect::<Vec<_>>()),
        Column::new(col::DAILY_BUDGET.into(), list.iter().map(|c| c.daily_budget).collect::<Vec<_>>()),
        date_col(col::START_DATE, list.iter().map(|c| parse_day(&c.start_date).ok()).collect()).map_err(polars_err(source))?,
        Column::new(col::PAUSED_BY.into(), list.iter().map(|c| opt(&c.paused_by)).collect::<Vec<_>>()),
        Column::new(col::PAUSED_AT.into(), list.iter().map(|c| opt(&c.paused_at)).collect::<Vec<_>>()),
        Column::new(col::LINE.into(), lines(list.len())),
    ])
    .map_err(polars_err(source))?;
    let raw = Arc::new(list.iter().map(|c| c.raw.clone()).collect());
    Ok(RawTable::whole(Table::Campaigns, df, Source::Api { name: format!("{source} campaigns"), raw }))
}

pub(crate) fn campaign_daily_table(source: &str, rows: Vec<CampaignDayRow>) -> Result<RawTable, ConnectorError> {
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
    Ok(RawTable::whole(Table::CampaignDaily, df, Source::Api { name: format!("{source} campaign_daily (history)"), raw: Arc::new(Vec::new()) }))
}
