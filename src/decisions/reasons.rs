//! The reasons the decide stage adds to the matrix's verdicts, one pure
//! function each (the matrix builds its own inline, from its inputs): the
//! stage calls these, and the report's property test feeds them random
//! numbers to check every sentence reads.

use super::num;
use crate::model::decision::Decision;
use crate::model::reason::Code;

/// Impact's ledger: spend on as_of past the budget campaign-pilot keeps.
pub fn ledger_budget(spend: f64, daily_budget: f64) -> String {
    Code::LedgerBudget.with(format_args!("spend={}>daily_budget={}", num(spend), num(daily_budget)))
}

/// An impact is null because its baseline is zero.
pub fn no_baseline_impact() -> String {
    Code::NoBaseline.with("impact is null (baseline zero, current above zero)")
}

pub fn cpa_infinite(spend: f64) -> String {
    Code::CpaInfinite.with(format_args!("spend={} new_customers=0", num(spend)))
}

pub fn budget_observed(daily_budget: f64, days: u32) -> String {
    Code::BudgetObserved.with(format_args!(
        "daily_budget={} (mean of the last {days} days with spend; not enforced until set)",
        num(daily_budget)
    ))
}

pub fn locked() -> String {
    Code::Locked.bare()
}

pub fn resume_unfunded(needs: f64) -> String {
    Code::ResumeUnfunded.with(format_args!("needs={} pool_left=0", num(needs)))
}

/// The seed policy's budget step gave it more.
pub fn budget_increase(current: f64, proposed: f64) -> String {
    Code::Budget.with(format_args!("increase {}→{}", num(current), num(proposed)))
}

/// The profit policy moved its budget toward equal marginal profit.
pub fn budget_toward_margin(current: f64, proposed: f64) -> String {
    let way = if proposed > current { "increase" } else { "decrease" };
    Code::Budget.with(format_args!("{way} {}→{} (toward equal marginal profit)", num(current), num(proposed)))
}

pub fn profit_not_resumed(p_loss: f64) -> String {
    Code::ProfitNotResumed.with(format_args!("p_loss_at_min_daily={}>=0.5 (the matrix said RESUME)", num(p_loss)))
}

pub fn forecasts_missed(widen: f64) -> String {
    Code::Learning.with(format_args!("forecasts_missed (uncertainty widened x{})", num(widen)))
}

/// The fitted response a profit verdict was judged by.
pub fn model(roas: f64, marginal_roas: f64, elasticity: f64, elasticity_se: f64, conversions: f64) -> String {
    Code::Model.with(format_args!(
        "roas={} marginal_roas={} elasticity={}±{} conversions={}",
        num(roas),
        num(marginal_roas),
        num(elasticity),
        num(elasticity_se),
        num(conversions)
    ))
}

pub fn profit_pause(p_loss: f64, confidence: f64) -> String {
    Code::ProfitPause.with(format_args!("p_loss_at_min_daily={}>{}", num(p_loss), num(confidence)))
}

pub fn profit_keep(p_loss: f64, confidence: f64, seed: Decision) -> String {
    Code::ProfitKeep.with(format_args!(
        "p_loss_at_min_daily={}<={} (the matrix said {})",
        num(p_loss),
        num(confidence),
        seed.as_str()
    ))
}

pub fn profit_expected(profit: f64, budget: f64, roas0: f64) -> String {
    Code::ProfitExpected.with(format_args!("{} per day at {} (peers' first-dollar ROAS {})", num(profit), num(budget), num(roas0)))
}

/// A product proposed for a new campaign (the ratio empty when it has no sales).
pub fn new_campaign(potential: f64, stock: i64, view_sales_ratio: Option<f64>) -> String {
    Code::NewCampaign.with(format_args!(
        "potential={} stock={stock} view_sales_ratio={}",
        num(potential),
        view_sales_ratio.map(num).unwrap_or_default()
    ))
}
