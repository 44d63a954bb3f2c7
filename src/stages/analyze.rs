//! Stage 3, analyze: the SPEC §5 metrics and the risk score, as polars
//! expressions over the whole campaign frame, then one typed row per campaign
//! for the rules.
//!
//! Responsible for: averages over covered days, impacts with their zero
//! baseline cases, ROAS/ROI/CPA with their undefined and infinite cases,
//! efficiency, risk; and the list of products that could get a new campaign.
//! Not responsible for: any decision (decide).

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use polars::prelude::*;

use super::transform::{w, Frames};
use super::validate::{ValidBatch, CIDX};
use crate::config::Settings;
use crate::decisions::{budget, response, risk, selection};
use crate::model::campaign::{CampaignRow, CampaignStatus, PausedBy};
use crate::model::contract::col;
use crate::model::day::Day;
use crate::model::kinds::DecisionPolicy;
use crate::model::names::UnknownName;
use crate::model::run::StageReport;
use crate::model::shard::Shard;

pub mod m {
    pub const SALES_IMPACT: &str = "sales_impact_pct";
    pub const VIEW_IMPACT: &str = "view_impact_pct";
    pub const ROAS: &str = "roas";
    pub const ROI: &str = "roi";
    pub const CPA: &str = "cpa";
    pub const EFFICIENCY: &str = "efficiency";
    pub const BURN: &str = "burn";
    pub const DECLINE: &str = "decline";
    pub const COMPETITION: &str = "competition";
    pub const LIFECYCLE: &str = "lifecycle";
    pub const RISK: &str = "risk_score";
}

#[derive(Debug, Clone)]
pub struct Analysis {
    pub as_of: Day,
    /// The campaign frame with every metric column, for reports and tests.
    pub frame: DataFrame,
    pub campaigns: Vec<CampaignRow>,
    /// Products without an active or paused campaign (or one yet to start).
    pub products: Vec<selection::Product>,
    /// Under `policy = "profit"`: each campaign's days with spend over
    /// `model.lookback_days`, oldest first (empty under `seed`).
    pub daily: HashMap<String, Vec<response::Day>>,
}

impl Analysis {
    /// Marks the campaigns whose budget was observed from their own spend
    /// (not set by anyone, so not enforced).
    pub fn mark_observed_budgets(&mut self, observed: &BTreeMap<String, f64>) {
        for c in &mut self.campaigns {
            c.budget_observed = observed.get(&c.campaign_id).copied();
        }
    }

    /// Marks active campaigns whose spend on as_of passed a ledger budget
    /// someone set by more than `tolerance_pct` (the platform cannot enforce
    /// budgets itself); an observed budget is not enforced.
    pub fn check_ledger_budgets(&mut self, valid: &ValidBatch, tolerance_pct: f64) -> PolarsResult<()> {
        let ids = valid.campaigns.clone().lazy().select([col(CIDX), col(col::CAMPAIGN_ID)]);
        let day = valid
            .campaign_daily
            .clone()
            .lazy()
            .filter(col(col::DATE).eq(lit(self.as_of)))
            .join(ids, [col(CIDX)], [col(CIDX)], JoinArgs::new(JoinType::Inner))
            .select([col(col::CAMPAIGN_ID), col(col::SPEND)])
            .collect()?;
        let spend: HashMap<String, f64> = day
            .column(col::CAMPAIGN_ID)?
            .str()?
            .iter()
            .zip(day.column(col::SPEND)?.f64()?.iter())
            .filter_map(|(id, s)| Some((id?.to_string(), s?)))
            .collect();
        for c in &mut self.campaigns {
            let today = spend.get(&c.campaign_id).copied().unwrap_or(0.0);
            let enforced = c.budget_observed.is_none();
            if c.status == CampaignStatus::Active && enforced && budget::ledger_overspent(today, c.daily_budget, tolerance_pct) {
                c.ledger_overspend = Some(today);
            }
        }
        Ok(())
    }

    /// Keeps only what shard `shard` decides on: its campaigns (by campaign
    /// id) and its new-campaign candidates (by product id). Products with a
    /// campaign in any shard were already left out of the candidates, and
    /// every metric was computed from the whole batch, so a campaign's row is
    /// the same in its shard as in an unsharded run.
    pub fn keep_shard(&mut self, shard: &Shard) -> PolarsResult<()> {
        self.campaigns.retain(|c| shard.contains(&c.campaign_id));
        self.products.retain(|p| shard.contains(&p.product_id));
        let kept: Vec<&str> = self.campaigns.iter().map(|c| c.campaign_id.as_str()).collect();
        let kept = Series::new("kept".into(), kept);
        self.frame = self.frame.clone().lazy().filter(col(col::CAMPAIGN_ID).is_in(lit(kept).implode(false), false)).collect()?;
        Ok(())
    }

    /// The store has no views source: views are unknown, not zero, so view
    /// impact and efficiency are null and the rules that need them say why.
    pub fn without_views(&mut self) {
        for c in &mut self.campaigns {
            c.views_missing = true;
            c.view_impact = None;
            c.efficiency = None;
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AnalyzeError {
    #[error("analyzing: {0}")]
    Polars(#[from] PolarsError),
    /// A state the validator let through that is not one of its names (a bug).
    #[error("analyzing campaign {campaign}: {source}")]
    State { campaign: String, source: UnknownName },
}

fn f(c: &str) -> Expr {
    col(c).cast(DataType::Float64)
}

/// Average per covered day; 0 when no day is covered.
pub fn daily_avg(sum: &str, days: &str) -> Expr {
    when(col(days).gt(lit(0))).then(f(sum) / f(days)).otherwise(lit(0.0))
}

/// (current − baseline) / baseline × 100; 0 when both are 0; null when only
/// the baseline is (reason `no_baseline`).
pub fn impact(cur: Expr, base: Expr) -> Expr {
    when(base.clone().eq(lit(0.0)).and(cur.clone().eq(lit(0.0))))
        .then(lit(0.0))
        .when(base.clone().eq(lit(0.0)))
        .then(lit(NULL).cast(DataType::Float64))
        .otherwise((cur - base.clone()) / base * lit(100.0))
}

/// The metric columns of SPEC §5 over a frame of window sums.
pub fn metric_exprs(s: &Settings) -> Vec<Vec<Expr>> {
    let spend = col(col::SPEND);
    let revenue = f(col::REVENUE);
    let first = vec![
        impact(daily_avg(w::UNITS_CUR, w::CUR_DAYS), daily_avg(w::UNITS_BASE, w::BASE_DAYS)).alias(m::SALES_IMPACT),
        impact(daily_avg(w::VIEWS_CUR, w::CUR_DAYS), daily_avg(w::VIEWS_BASE, w::BASE_DAYS)).alias(m::VIEW_IMPACT),
        when(spend.clone().gt(lit(0.0))).then(revenue.clone() / spend.clone()).otherwise(lit(NULL).cast(DataType::Float64)).alias(m::ROAS),
        when(spend.clone().gt(lit(0.0)))
            .then((revenue - spend.clone()) / spend.clone())
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias(m::ROI),
        when(col(col::NEW_CUSTOMERS).gt(lit(0)))
            .then(spend.clone() / f(col::NEW_CUSTOMERS))
            .when(spend.clone().gt(lit(0.0)))
            .then(lit(f64::INFINITY))
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias(m::CPA),
        risk::burn(spend, col(col::DAILY_BUDGET), col(w::CUR_DAYS)).alias(m::BURN),
        risk::competition(col(col::CATEGORY), &s.risk).alias(m::COMPETITION),
    ];
    let second = vec![
        (lit(s.decisions.efficiency_sales_weight) * col(m::SALES_IMPACT)
            + lit(s.decisions.efficiency_view_weight) * col(m::VIEW_IMPACT))
        .alias(m::EFFICIENCY),
        risk::lifecycle(col(w::AGE_DAYS), col(m::SALES_IMPACT), &s.risk).alias(m::LIFECYCLE),
    ];
    let third = vec![risk::decline(col(m::EFFICIENCY)).alias(m::DECLINE)];
    let fourth = vec![risk::score(col(m::BURN), col(m::DECLINE), col(m::COMPETITION), col(m::LIFECYCLE), &s.risk)
        .alias(m::RISK)];
    vec![first, second, third, fourth]
}

pub fn analyze(frames: &Frames, valid: &ValidBatch, s: &Settings) -> Result<(Analysis, StageReport), AnalyzeError> {
    let started = Instant::now();
    let mut lf = frames.campaigns.clone().lazy();
    for group in metric_exprs(s) {
        lf = lf.with_columns(group);
    }
    let frame = lf.sort([col::CAMPAIGN_ID], Default::default()).collect()?;
    let campaigns = rows(&frame)?;

    // Products that could get a new campaign.
    let taken = valid
        .campaigns
        .clone()
        .lazy()
        .filter(col(col::STATUS).neq(lit(CampaignStatus::Ended.as_str())))
        .select([col(col::PRODUCT_ID)]);
    let future = df!(col::PRODUCT_ID => &valid.future_campaign_products)?.lazy();
    let free = frames
        .products
        .clone()
        .lazy()
        .join(taken, [col(col::PRODUCT_ID)], [col(col::PRODUCT_ID)], JoinArgs::new(JoinType::Anti))
        .join(future, [col(col::PRODUCT_ID)], [col(col::PRODUCT_ID)], JoinArgs::new(JoinType::Anti))
        .collect()?;
    let products = product_rows(&free)?;

    let daily = match s.decisions.policy {
        DecisionPolicy::Profit => daily_series(valid, frames.as_of, s.model.lookback_days)?,
        DecisionPolicy::Seed => HashMap::new(),
    };
    let report = StageReport::new("analyze", started, frames.campaigns.height() as u64, campaigns.len() as u64);
    Ok((Analysis { as_of: frames.as_of, frame, campaigns, products, daily }, report))
}

/// Each campaign's days with spend in the last `lookback` days up to
/// `as_of`, oldest first: one filtered, joined, sorted frame, then split.
fn daily_series(valid: &ValidBatch, as_of: Day, lookback: u32) -> PolarsResult<HashMap<String, Vec<response::Day>>> {
    let ids = valid.campaigns.clone().lazy().select([col(CIDX), col(col::CAMPAIGN_ID)]);
    let day = col(col::DATE).cast(DataType::Int32);
    let df = valid
        .campaign_daily
        .clone()
        .lazy()
        .filter(day.clone().gt(lit(as_of - lookback as i32)).and(day.lt_eq(lit(as_of))).and(col(col::SPEND).gt(lit(0.0))))
        .join(ids, [col(CIDX)], [col(CIDX)], JoinArgs::new(JoinType::Inner))
        .sort([col::CAMPAIGN_ID, col::DATE], Default::default())
        .collect()?;
    let id = strs(&df, col::CAMPAIGN_ID)?;
    let spend = f64s(&df, col::SPEND)?;
    let clicks = f64s(&df, col::CLICKS)?;
    let conversions = f64s(&df, col::CONVERSIONS)?;
    let revenue = f64s(&df, col::REVENUE)?;
    let mut out: HashMap<String, Vec<response::Day>> = HashMap::new();
    for i in 0..df.height() {
        out.entry(id[i].clone()).or_default().push(response::Day {
            spend: spend[i].unwrap_or(0.0),
            clicks: clicks[i].unwrap_or(0.0),
            conversions: conversions[i].unwrap_or(0.0),
            revenue: revenue[i].unwrap_or(0.0),
        });
    }
    Ok(out)
}

fn strs(df: &DataFrame, name: &str) -> PolarsResult<Vec<String>> {
    let c = df.column(name)?.cast(&DataType::String)?;
    Ok(c.str()?.iter().map(|v| v.unwrap_or_default().to_string()).collect())
}
fn f64s(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<f64>>> {
    let c = df.column(name)?.cast(&DataType::Float64)?;
    Ok(c.f64()?.iter().collect())
}
fn i64s(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<i64>>> {
    let c = df.column(name)?.cast(&DataType::Int64)?;
    Ok(c.i64()?.iter().collect())
}
fn u(x: Option<i64>) -> u64 {
    x.unwrap_or(0).max(0) as u64
}

fn rows(df: &DataFrame) -> Result<Vec<CampaignRow>, AnalyzeError> {
    let ids = strs(df, col::CAMPAIGN_ID)?;
    let pids = strs(df, col::PRODUCT_ID)?;
    let pnames = strs(df, "product_name")?;
    let cats = strs(df, col::CATEGORY)?;
    let status = strs(df, col::STATUS)?;
    let by = strs(df, col::PAUSED_BY)?;
    let at = i64s(df, col::PAUSED_AT)?;
    let start = i64s(df, col::START_DATE)?;
    let budget = f64s(df, col::DAILY_BUDGET)?;
    let price = f64s(df, col::PRICE)?;
    let stock = i64s(df, col::STOCK)?;
    let pre = df.column(w::PRE_CAMPAIGN)?.bool()?.clone();
    let ints: Vec<Vec<Option<i64>>> = [
        w::CUR_DAYS, w::BASE_DAYS, w::UNITS_CUR, w::UNITS_BASE, w::VIEWS_CUR, w::VIEWS_BASE,
        col::CONVERSIONS, col::NEW_CUSTOMERS, w::SPEND_DAYS,
    ]
    .iter()
    .map(|c| i64s(df, c))
    .collect::<PolarsResult<_>>()?;
    let floats: Vec<Vec<Option<f64>>> = [
        col::SPEND, col::REVENUE, m::ROAS, m::ROI, m::CPA, m::SALES_IMPACT, m::VIEW_IMPACT, m::EFFICIENCY,
        m::BURN, m::RISK,
    ]
    .iter()
    .map(|c| f64s(df, c))
    .collect::<PolarsResult<_>>()?;
    (0..df.height())
        .map(|i| {
            let state = |e: UnknownName| AnalyzeError::State { campaign: ids[i].clone(), source: e };
            Ok(CampaignRow {
                campaign_id: ids[i].clone(),
                product_id: pids[i].clone(),
                product_name: pnames[i].clone(),
                category: cats[i].clone(),
                status: status[i].parse().map_err(state)?,
                paused_by: PausedBy::parse_optional(&by[i]).map_err(state)?,
                paused_at: at[i].map(|d| d as Day),
                start_date: start[i].unwrap_or(0) as Day,
                daily_budget: budget[i].unwrap_or(0.0),
                price: price[i].unwrap_or(0.0),
                stock: stock[i].unwrap_or(0),
                pre_campaign: pre.get(i).unwrap_or(false),
                cur_days: u(ints[0][i]),
                base_days: u(ints[1][i]),
                units_cur: u(ints[2][i]),
                units_base: u(ints[3][i]),
                views_cur: u(ints[4][i]),
                views_base: u(ints[5][i]),
                conversions: u(ints[6][i]),
                new_customers: u(ints[7][i]),
                spend_days: u(ints[8][i]),
                spend: floats[0][i].unwrap_or(0.0),
                revenue: floats[1][i].unwrap_or(0.0),
                roas: floats[2][i],
                roi: floats[3][i],
                cpa: floats[4][i],
                sales_impact: floats[5][i],
                view_impact: floats[6][i],
                efficiency: floats[7][i],
                burn: floats[8][i].unwrap_or(0.0),
                risk_score: floats[9][i],
                views_missing: false,
                ledger_overspend: None,
                budget_observed: None,
            })
        })
        .collect()
}

fn product_rows(df: &DataFrame) -> PolarsResult<Vec<selection::Product>> {
    let ids = strs(df, col::PRODUCT_ID)?;
    let names = strs(df, col::NAME)?;
    let cats = strs(df, col::CATEGORY)?;
    let price = f64s(df, col::PRICE)?;
    let stock = i64s(df, col::STOCK)?;
    let views = i64s(df, w::VIEWS_CUR)?;
    let units = i64s(df, w::UNITS_CUR)?;
    let days = i64s(df, w::CUR_DAYS)?;
    Ok((0..df.height())
        .map(|i| selection::Product {
            product_id: ids[i].clone(),
            name: names[i].clone(),
            category: cats[i].clone(),
            price: price[i].unwrap_or(0.0),
            stock: stock[i].unwrap_or(0),
            views: u(views[i]),
            units: u(units[i]),
            covered_days: u(days[i]),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(df: DataFrame, e: Expr) -> Vec<Option<f64>> {
        df.lazy().select([e.alias("x")]).collect().unwrap().column("x").unwrap().f64().unwrap().iter().collect()
    }

    #[test]
    fn impact_handles_zero_baselines() {
        let df = df!("c" => [0.0, 3.0, 3.0, 2.0], "b" => [0.0, 0.0, 2.0, 4.0]).unwrap();
        // both zero → 0; baseline zero, current above zero → null (no_baseline)
        assert_eq!(eval(df, impact(col("c"), col("b"))), vec![Some(0.0), None, Some(50.0), Some(-50.0)]);
    }

    #[test]
    fn daily_average_divides_by_covered_days_and_is_zero_without_any() {
        let df = df!("s" => [21i64, 5], "d" => [7i64, 0]).unwrap();
        assert_eq!(eval(df, daily_avg("s", "d")), vec![Some(3.0), Some(0.0)]);
    }

    /// roas, roi and cpa with spend and new customers at their edges.
    #[test]
    fn money_ratios_are_null_when_undefined_and_cpa_infinite_without_customers() {
        let s = Settings::default();
        let df = df!(
            col::SPEND => [100.0, 0.0, 50.0, 0.0],
            col::REVENUE => [250.0, 10.0, 0.0, 0.0],
            col::NEW_CUSTOMERS => [4i64, 2, 0, 0],
            col::DAILY_BUDGET => [20.0, 20.0, 10.0, 0.0],
            col::CATEGORY => ["A", "B", "C", "D"],
            w::CUR_DAYS => [7i64, 7, 5, 7],
            w::UNITS_CUR => [0i64, 0, 0, 0],
            w::UNITS_BASE => [0i64, 0, 0, 0],
            w::VIEWS_CUR => [0i64, 0, 0, 0],
            w::VIEWS_BASE => [0i64, 0, 0, 0],
            w::BASE_DAYS => [14i64, 14, 14, 14],
            w::AGE_DAYS => [100i32, 100, 100, 100],
        )
        .unwrap();
        let mut lf = df.lazy();
        for g in metric_exprs(&s) {
            lf = lf.with_columns(g);
        }
        let out = lf.collect().unwrap();
        let get = |c: &str| out.column(c).unwrap().f64().unwrap().iter().collect::<Vec<_>>();
        assert_eq!(get(m::ROAS), vec![Some(2.5), None, Some(0.0), None]);
        assert_eq!(get(m::ROI), vec![Some(1.5), None, Some(-1.0), None]);
        assert_eq!(get(m::CPA), vec![Some(25.0), Some(0.0), Some(f64::INFINITY), None]);
        assert_eq!(get(m::BURN), vec![Some(100.0 / 140.0), Some(0.0), Some(1.0), Some(0.0)]);
        // Both windows zero: impacts 0, efficiency 0, a risk score exists.
        assert_eq!(get(m::EFFICIENCY), vec![Some(0.0); 4]);
        assert!(get(m::RISK).iter().all(Option::is_some));
    }
}
