//! Stage 2, transform: valid rows into one row per campaign (and one per
//! product) holding the window sums SPEC §4 needs.
//!
//! Responsible for: choosing each campaign's current and baseline windows
//! (pre-campaign lift or trend), counting their covered days, and summing the
//! product-day and campaign-day rows inside them. Only the days some window
//! can reach are touched. Not responsible for: ratios or rules (analyze).

use std::time::Instant;

use polars::prelude::*;

use super::left_ordered;
use super::validate::{ValidBatch, CIDX};
use crate::config::WindowSettings;
use crate::model::campaign::CampaignStatus;
use crate::model::contract::col;
use crate::model::day::Day;
use crate::model::run::StageReport;

/// Window column names, shared with analyze.
pub mod w {
    pub const CUR_START: &str = "cur_start";
    pub const CUR_DAYS: &str = "cur_days";
    pub const BASE_START: &str = "base_start";
    pub const BASE_END: &str = "base_end";
    pub const BASE_DAYS: &str = "base_days";
    pub const PRE_CAMPAIGN: &str = "pre_campaign";
    pub const UNITS_CUR: &str = "units_cur";
    pub const UNITS_BASE: &str = "units_base";
    pub const VIEWS_CUR: &str = "views_cur";
    pub const VIEWS_BASE: &str = "views_base";
    pub const SPEND_DAYS: &str = "spend_days";
    pub const AGE_DAYS: &str = "product_age_days";
}

/// One row per judged campaign (active or paused) and one per product.
#[derive(Debug, Clone)]
pub struct Frames {
    pub as_of: Day,
    pub campaigns: DataFrame,
    pub products: DataFrame,
}

#[derive(Debug, thiserror::Error)]
#[error("transforming: {0}")]
pub struct TransformError(#[from] PolarsError);

pub use crate::decisions::reach::lookback_start;

/// Covered days of the window [start, end]: its days from `data_start` on.
fn covered(start: Expr, end: Expr, data_start: Day) -> Expr {
    (end - polars::lazy::dsl::max_horizontal([start, lit(data_start)]).expect("two inputs") + lit(1)).clip_min(lit(0))
}

pub fn transform(v: &ValidBatch, s: &WindowSettings) -> Result<(Frames, StageReport), TransformError> {
    let started = Instant::now();
    let as_of = v.as_of;
    // No valid product day at all: nothing is covered.
    let data_start = v.quality.data_start.unwrap_or(as_of + 1);
    let cd = s.current_days as Day;
    let bd = s.baseline_days as Day;
    let lift = s.lift_max_age_days as Day;
    let from = lookback_start(as_of, s);
    let rows_in = (v.product_daily.height() + v.campaign_daily.height()) as u64;

    let start = col(col::START_DATE);
    let cur_start = polars::lazy::dsl::max_horizontal([lit(as_of - cd + 1), start.clone()])?;
    let pre = col(col::STATUS)
        .eq(lit(CampaignStatus::Active.as_str()))
        .and((lit(as_of) - start.clone()).lt_eq(lit(lift)))
        .and((start.clone() - lit(bd)).gt_eq(lit(data_start)));
    let products = v.products.clone().lazy().select([
        col(col::PIDX),
        col(col::PRICE),
        col(col::STOCK),
        col(col::CATEGORY),
        col(col::NAME).alias("product_name"),
        (lit(as_of) - col(col::CREATED_AT)).alias(w::AGE_DAYS),
    ]);
    let camp = v
        .campaigns
        .clone()
        .lazy()
        .filter(col(col::STATUS).neq(lit(CampaignStatus::Ended.as_str())))
        .with_column(cur_start.alias(w::CUR_START))
        .with_columns([
            pre.clone().alias(w::PRE_CAMPAIGN),
            when(pre.clone()).then(start.clone() - lit(bd)).otherwise(col(w::CUR_START) - lit(bd)).alias(w::BASE_START),
            when(pre).then(start - lit(1)).otherwise(col(w::CUR_START) - lit(1)).alias(w::BASE_END),
        ])
        .with_columns([
            covered(col(w::CUR_START), lit(as_of), data_start).alias(w::CUR_DAYS),
            covered(col(w::BASE_START), col(w::BASE_END), data_start).alias(w::BASE_DAYS),
        ])
        .collect()?;

    let day = col(col::DATE);
    let in_cur = day.clone().gt_eq(col(w::CUR_START));
    let in_base = day.clone().gt_eq(col(w::BASE_START)).and(day.clone().lt_eq(col(w::BASE_END)));
    let product_sums = v
        .product_daily
        .clone()
        .lazy()
        .filter(day.clone().gt_eq(lit(from)))
        .join(
            camp.clone().lazy().select([col(CIDX), col(col::PIDX), col(w::CUR_START), col(w::BASE_START), col(w::BASE_END)]),
            [col(col::PIDX)],
            [col(col::PIDX)],
            JoinArgs::new(JoinType::Inner),
        )
        .group_by([col(CIDX)])
        .agg([
            col(col::UNITS).filter(in_cur.clone()).sum().alias(w::UNITS_CUR),
            col(col::VIEWS).filter(in_cur.clone()).sum().alias(w::VIEWS_CUR),
            col(col::UNITS).filter(in_base.clone()).sum().alias(w::UNITS_BASE),
            col(col::VIEWS).filter(in_base).sum().alias(w::VIEWS_BASE),
        ]);
    let campaign_sums = v
        .campaign_daily
        .clone()
        .lazy()
        .filter(day.clone().gt_eq(lit(as_of - cd + 1)))
        .join(
            camp.clone().lazy().select([col(CIDX), col(w::CUR_START)]),
            [col(CIDX)],
            [col(CIDX)],
            JoinArgs::new(JoinType::Inner),
        )
        .filter(in_cur)
        .group_by([col(CIDX)])
        .agg([
            col(col::SPEND).sum(),
            col(col::REVENUE).sum(),
            col(col::CONVERSIONS).sum(),
            col(col::NEW_CUSTOMERS).sum(),
            col(col::IMPRESSIONS).sum(),
            col(col::CLICKS).sum(),
            col(col::SPEND).gt(lit(0.0)).sum().cast(DataType::Int64).alias(w::SPEND_DAYS),
        ]);
    let sums = [
        w::UNITS_CUR, w::VIEWS_CUR, w::UNITS_BASE, w::VIEWS_BASE, col::SPEND, col::REVENUE,
        col::CONVERSIONS, col::NEW_CUSTOMERS, col::IMPRESSIONS, col::CLICKS, w::SPEND_DAYS,
    ];
    let left = left_ordered;
    let campaigns = camp
        .lazy()
        .join(product_sums, [col(CIDX)], [col(CIDX)], left())
        .join(campaign_sums, [col(CIDX)], [col(CIDX)], left())
        .join(products.clone(), [col(col::PIDX)], [col(col::PIDX)], left())
        .with_columns(sums.iter().map(|c| col(*c).fill_null(lit(0))).collect::<Vec<_>>())
        .collect()?;

    // Products: the plain current window and the trend baseline before it.
    let p_cur_start = as_of - cd + 1;
    let p_base_start = p_cur_start - bd;
    let p_in_cur = day.clone().gt_eq(lit(p_cur_start));
    let p_sums = v
        .product_daily
        .clone()
        .lazy()
        .filter(day.gt_eq(lit(p_base_start)))
        .group_by([col(col::PIDX)])
        .agg([
            col(col::UNITS).filter(p_in_cur.clone()).sum().alias(w::UNITS_CUR),
            col(col::VIEWS).filter(p_in_cur.clone()).sum().alias(w::VIEWS_CUR),
            col(col::UNITS).filter(p_in_cur.clone().not()).sum().alias(w::UNITS_BASE),
            col(col::VIEWS).filter(p_in_cur.not()).sum().alias(w::VIEWS_BASE),
        ]);
    let products = v
        .products
        .clone()
        .lazy()
        .join(p_sums, [col(col::PIDX)], [col(col::PIDX)], left())
        .with_columns([
            col(w::UNITS_CUR).fill_null(lit(0)),
            col(w::VIEWS_CUR).fill_null(lit(0)),
            col(w::UNITS_BASE).fill_null(lit(0)),
            col(w::VIEWS_BASE).fill_null(lit(0)),
            covered(lit(p_cur_start), lit(as_of), data_start).alias(w::CUR_DAYS),
            covered(lit(p_base_start), lit(p_cur_start - 1), data_start).alias(w::BASE_DAYS),
            (lit(as_of) - col(col::CREATED_AT)).alias(w::AGE_DAYS),
        ])
        .collect()?;

    let report = StageReport::new("transform", started, rows_in, (campaigns.height() + products.height()) as u64);
    Ok((Frames { as_of, campaigns, products }, report))
}
