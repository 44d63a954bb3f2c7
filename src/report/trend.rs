//! Time on the page: each campaign's spend and revenue day by day over the
//! report's trend days, and the portfolio's (the report's campaigns')
//! spend, revenue and profit, summed from the validated campaign days.

use std::collections::HashMap;

use polars::prelude::*;

use crate::model::contract::col;
use crate::model::day::{date_of, Day};
use crate::model::report::{PortfolioTrend, Report};
use crate::stages::validate::{ValidBatch, CIDX};

/// Fills the report's per-campaign trends and its portfolio trend over the
/// `days` days up to as_of; profit is revenue × `margin` − spend.
pub fn attach(r: &mut Report, valid: &ValidBatch, as_of: Day, days: u32, margin: f64) -> PolarsResult<()> {
    let days = days.max(1) as Day;
    let from = as_of - days + 1;
    let date = col(col::DATE);
    let sums = valid
        .campaign_daily
        .clone()
        .lazy()
        .filter(date.clone().gt_eq(lit(from)).and(date.lt_eq(lit(as_of))))
        .join(
            valid.campaigns.clone().lazy().select([col(CIDX), col(col::CAMPAIGN_ID)]),
            [col(CIDX)],
            [col(CIDX)],
            JoinArgs::new(JoinType::Inner),
        )
        .group_by([col(col::CAMPAIGN_ID), col(col::DATE)])
        .agg([
            col(col::SPEND).fill_null(lit(0.0)).sum().alias(col::SPEND),
            col(col::REVENUE).fill_null(lit(0.0)).sum().alias(col::REVENUE),
        ])
        .collect()?;
    let ids = sums.column(col::CAMPAIGN_ID)?.str()?;
    let dates = sums.column(col::DATE)?.i32()?;
    let spend = sums.column(col::SPEND)?.f64()?;
    let revenue = sums.column(col::REVENUE)?.f64()?;
    let mut by_id: HashMap<&str, Vec<(f64, f64)>> = HashMap::new();
    for i in 0..sums.height() {
        let (Some(id), Some(d)) = (ids.get(i), dates.get(i)) else { continue };
        let slot = by_id.entry(id).or_insert_with(|| vec![(0.0, 0.0); days as usize]);
        slot[(d - from) as usize] = (spend.get(i).unwrap_or(0.0), revenue.get(i).unwrap_or(0.0));
    }
    let mut total = vec![(0.0, 0.0); days as usize];
    for c in &mut r.campaigns {
        c.trend = by_id.remove(c.campaign_id.as_str()).unwrap_or_else(|| vec![(0.0, 0.0); days as usize]);
        for (t, x) in total.iter_mut().zip(&c.trend) {
            t.0 += x.0;
            t.1 += x.1;
        }
    }
    r.trend = Some(PortfolioTrend {
        from: date_of(from).to_string(),
        spend: total.iter().map(|t| cents(t.0)).collect(),
        revenue: total.iter().map(|t| cents(t.1)).collect(),
        profit: total.iter().map(|t| cents(t.1 * margin - t.0)).collect(),
    });
    Ok(())
}

fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
