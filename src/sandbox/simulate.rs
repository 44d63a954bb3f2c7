//! `sandbox simulate`: the closed loop that measures whether decisions make
//! money (SPEC §13).
//!
//! Each policy gets its own copy of the same sandbox world (same seed, same
//! warm-up history). Every acting day the world's data is written in the
//! SPEC §3 contract, the real pipeline runs on it (`pipeline::run` on the
//! files connectors, auto mode, its own database), what it applied is
//! applied to the world, and the world advances a day. Because the world
//! knows its hidden truth ([`World::expected_day`]), each day is scored by
//! its realised and its expected profit, and each pause by whether the
//! campaign was truly profitable at its budget that day.
//!
//! Two baselines always run: `none` (nothing is changed) and `oracle`
//! (knows the true curves; each day re-splits the same total budget to
//! equal marginal profit inside the same caps; never creates). Capture is
//! (policy − none) / (oracle − none) of expected profit.

use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressStyle};
use polars::prelude::*;
use serde::Serialize;

use super::generate::{to_date, write_table, CampaignDailyCols, Format, GenerateError, ProductDailyCols};
use super::world::{World, WorldOptions};
use crate::clock::FixedClock;
use crate::config::{BudgetSettings, LoadedConfig};
use crate::decisions::marginal;
use crate::model::campaign::{CampaignStatus, PausedBy};
use crate::model::contract::{col, Table};
use crate::model::day::{date_of, day_of, Day};
use crate::model::kinds::{ActMode, AdsKind, DecisionPolicy, LlmProvider, StoreKind};
use crate::model::plan::{Action, ActionKind, ActionStatus};
use crate::model::run::RunStatus;
use crate::pipeline::{self, RunRequest};

/// Who decides in one closed loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Nothing is ever changed.
    None,
    /// The pipeline with `decisions.policy = "seed"` (SPEC §6–§7).
    Seed,
    /// The pipeline with `decisions.policy = "profit"` (SPEC §13).
    Profit,
    /// Knows the true curves; the same total budget and caps; never creates.
    Oracle,
}

named!(Policy, "policy", None => "none", Seed => "seed", Profit => "profit", Oracle => "oracle");

#[derive(Debug, Clone)]
pub struct SimulateOptions {
    pub seed: u64,
    /// Days acted on.
    pub days: u32,
    /// Days of history before the first acting day.
    pub warmup: u32,
    pub products: u32,
    pub campaigns: u32,
    /// Policies to score besides the two baselines.
    pub policies: Vec<Policy>,
    /// The last warm-up day (the first as_of).
    pub start: Day,
    pub progress: bool,
    /// Keep each policy's loop (data, database, reports) in `DIR/<policy>`.
    pub keep: Option<PathBuf>,
}

/// One policy's closed loop, scored.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct PolicyScore {
    pub policy: String,
    /// Σ over the acting days of margin × attributed revenue − spend, as it happened.
    pub realised_profit: f64,
    /// The same from the true curves (no conversion noise).
    pub expected_profit: f64,
    /// Expected profit of the campaigns that existed before the first acting day.
    pub expected_profit_existing: f64,
    /// (policy − none) / (oracle − none) of expected profit; null when the
    /// oracle does not beat doing nothing.
    pub capture: Option<f64>,
    pub capture_existing: Option<f64>,
    pub spend: f64,
    pub actions_applied: usize,
    pub pauses: usize,
    /// Pauses of campaigns whose true expected profit at their budget was positive that day.
    pub pauses_of_profitable: usize,
    pub budget_changes: usize,
    pub created: usize,
    pub held_runs: usize,
    /// Applied actions that carried a forecast, and how many of them had the
    /// true expected Δprofit per day (over the week from the action, at its
    /// budget against the old one) inside its 80 % interval.
    pub forecasts: usize,
    pub forecasts_covered: usize,
    pub forecast_coverage: Option<f64>,
    /// The learning loop, from the last day's report: follow-ups judged,
    /// the share inside their 80 % interval (all, and those of actions in
    /// the second half of the acting days, made with a calibrated scale),
    /// the interval scale it ended with, and per rule.
    pub followups: usize,
    pub followup_coverage: Option<f64>,
    pub followup_coverage_late: Option<f64>,
    pub interval_scale: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub per_rule: Vec<crate::model::outcome::RuleStats>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SimulateResult {
    pub seed: u64,
    pub days: u32,
    pub warmup: u32,
    pub products: u32,
    pub campaigns: u32,
    pub margin: f64,
    pub scores: Vec<PolicyScore>,
}

#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    #[error("simulate: {0}")]
    Io(String),
    #[error("simulate: writing the day's data: {0}")]
    Write(#[from] GenerateError),
    #[error("simulate: the {policy} run for {as_of} failed: {message}")]
    Run { policy: Policy, as_of: String, message: String },
}

/// Runs every policy's loop (the baselines first) and scores them.
pub async fn simulate(base: &LoadedConfig, o: &SimulateOptions) -> Result<SimulateResult, SimulateError> {
    let margin = base.settings.objective.margin;
    let mut order = vec![Policy::None, Policy::Oracle];
    for &p in &o.policies {
        if !order.contains(&p) {
            order.push(p);
        }
    }
    let bar = if o.progress {
        let b = ProgressBar::new(order.len() as u64 * o.days as u64);
        b.set_style(ProgressStyle::with_template("{msg:>12} [{bar:30}] {pos}/{len} days ({eta})").expect("template"));
        b
    } else {
        ProgressBar::hidden()
    };
    let mut scores = Vec::new();
    for policy in order {
        bar.set_message(policy.as_str());
        scores.push(run_policy(base, o, policy, &bar).await?);
    }
    bar.finish_and_clear();
    let by = |p: Policy| scores.iter().find(|s| s.policy == p.as_str()).cloned().unwrap_or_default();
    let (none, oracle) = (by(Policy::None), by(Policy::Oracle));
    let scores = scores.into_iter().map(|s| with_capture(s, &none, &oracle)).collect();
    Ok(SimulateResult { seed: o.seed, days: o.days, warmup: o.warmup, products: o.products, campaigns: o.campaigns, margin, scores })
}

/// One policy's loop alone, scored (capture left empty: it needs the
/// baselines, see [`with_capture`]).
pub async fn score(base: &LoadedConfig, o: &SimulateOptions, policy: Policy) -> Result<PolicyScore, SimulateError> {
    run_policy(base, o, policy, &ProgressBar::hidden()).await
}

/// `s` with its capture against the `none` and `oracle` loops of the same world.
pub fn with_capture(mut s: PolicyScore, none: &PolicyScore, oracle: &PolicyScore) -> PolicyScore {
    let ratio = |x: f64, lo: f64, hi: f64| (hi - lo > 1e-9).then(|| (x - lo) / (hi - lo));
    s.capture = ratio(s.expected_profit, none.expected_profit, oracle.expected_profit);
    s.capture_existing = ratio(s.expected_profit_existing, none.expected_profit_existing, oracle.expected_profit_existing);
    s
}

async fn run_policy(base: &LoadedConfig, o: &SimulateOptions, policy: Policy, bar: &ProgressBar) -> Result<PolicyScore, SimulateError> {
    let margin = base.settings.objective.margin;
    let mut world = World::new(&WorldOptions {
        seed: o.seed,
        products: o.products,
        campaigns: o.campaigns,
        history_days: o.warmup,
        today: o.start,
    });
    let existing = world.campaigns.len();
    let oracle_total: f64 = world.campaigns.iter().filter(|c| c.serving_on(world.today + 1)).map(|c| c.daily_budget).sum();
    let tmp = tempfile::tempdir().map_err(|e| SimulateError::Io(format!("a temporary directory: {e}")))?;
    let dir = match &o.keep {
        Some(keep) => {
            let d = keep.join(policy.as_str());
            if d.exists() {
                std::fs::remove_dir_all(&d).map_err(|e| SimulateError::Io(format!("--keep {}: {e}", d.display())))?;
            }
            std::fs::create_dir_all(&d).map_err(|e| SimulateError::Io(format!("--keep {}: {e}", d.display())))?;
            d
        }
        None => tmp.path().to_path_buf(),
    };
    let mut cfg = loop_config(base, &dir);
    let mut last_outcomes = None;
    cfg.settings.decisions.policy = match policy {
        Policy::Profit => DecisionPolicy::Profit,
        _ => DecisionPolicy::Seed,
    };
    let mut score = PolicyScore { policy: policy.as_str().to_string(), ..PolicyScore::default() };
    for _ in 0..o.days {
        let as_of = world.today;
        match policy {
            Policy::None => {}
            Policy::Oracle => {
                for (ci, to) in oracle_budgets(&world, margin, &base.settings.budget, oracle_total) {
                    let c = &mut world.campaigns[ci];
                    if to == 0.0 {
                        score.pauses += 1;
                        c.status = CampaignStatus::Paused;
                        c.paused_by = Some(PausedBy::Pipeline);
                        c.paused_at = Some(as_of + 1);
                    } else {
                        score.budget_changes += 1;
                        c.daily_budget = to;
                    }
                    score.actions_applied += 1;
                }
            }
            Policy::Seed | Policy::Profit => {
                export(&world, &cfg.settings.store.path)?;
                let req = RunRequest {
                    as_of: Some(date_of(as_of)),
                    report_dir: Some(dir.join("reports").join(date_of(as_of).to_string())),
                    ..RunRequest::default()
                };
                let clock = FixedClock(date_of(as_of + 1).and_hms_opt(6, 0, 0).expect("a time").and_utc());
                let summary = pipeline::run(&cfg, &req, &clock)
                    .await
                    .map_err(|e| SimulateError::Run { policy, as_of: date_of(as_of).to_string(), message: e.to_string() })?;
                if summary.report.status == RunStatus::Held {
                    score.held_runs += 1;
                }
                for a in summary.report.actions.iter().filter(|a| a.status == ActionStatus::Applied) {
                    apply(&mut world, a, margin, &mut score);
                }
                last_outcomes = summary.report.outcomes;
            }
        }
        world.advance();
        let d = world.today;
        let k = world.day_index(d).expect("the day just simulated");
        for (ci, cd) in &world.campaign_days[k] {
            let e = world.expected_day(*ci, world.campaigns[*ci].daily_budget, d);
            let expected = margin * e.revenue - e.spend;
            score.realised_profit += margin * cd.revenue - cd.spend;
            score.spend += cd.spend;
            score.expected_profit += expected;
            if *ci < existing {
                score.expected_profit_existing += expected;
            }
        }
        bar.inc(1);
    }
    score.forecast_coverage = (score.forecasts > 0).then(|| score.forecasts_covered as f64 / score.forecasts as f64);
    if let Some(section) = last_outcomes {
        let late = date_of(o.start + (o.days / 2) as i32).to_string();
        let share = |v: Vec<&crate::model::outcome::Outcome>| {
            (!v.is_empty()).then(|| v.iter().filter(|x| x.hit == Some(true)).count() as f64 / v.len() as f64)
        };
        let judged: Vec<_> = section.recent.iter().filter(|x| x.hit.is_some()).collect();
        score.followups = judged.len();
        score.followup_coverage_late = share(judged.iter().copied().filter(|x| x.action_as_of >= late).collect());
        score.followup_coverage = share(judged);
        score.interval_scale = Some(section.calibration.scale);
        score.per_rule = section.per_rule;
    }
    Ok(score)
}

/// The loop's configuration: the user's (decision keys, caps, guardrails)
/// with the plumbing pointed at the loop's own files, database and reports,
/// acting automatically, no model, no notifications.
fn loop_config(base: &LoadedConfig, dir: &Path) -> LoadedConfig {
    let mut cfg = base.clone();
    let s = &mut cfg.settings;
    let data = dir.join("data");
    s.store.kind = StoreKind::Files;
    s.store.path = data.clone();
    s.ads.kind = AdsKind::Files;
    s.ads.path = data;
    s.database.url = format!("sqlite://{}?mode=rwc", dir.join("simulate.db").display());
    s.demo.enabled = false;
    s.act.enabled = true;
    s.act.mode = ActMode::Auto;
    s.report.dir = dir.join("reports");
    s.llm.provider = LlmProvider::None;
    s.notify.webhook_url = String::new();
    s.metrics.pushgateway_url = String::new();
    s.metrics.textfile_path = String::new();
    cfg.base_dir = PathBuf::from("/");
    cfg
}

/// Applies one action the pipeline applied to the world, as the platform would.
fn apply(world: &mut World, a: &Action, margin: f64, score: &mut PolicyScore) {
    score.actions_applied += 1;
    let today = world.today;
    if a.kind == ActionKind::Create {
        if let Some(p) = a.product_id.parse::<u64>().ok().and_then(|id| world.product_index(id)) {
            let name = a.copy.as_ref().map(|c| c.name.clone()).unwrap_or_else(|| a.product_id.clone());
            world.create_campaign(p, &name, a.to, format!("product:{}", a.product_id), &a.key);
            score.created += 1;
        }
        return;
    }
    let Some(ci) = a.campaign_id.parse::<u64>().ok().and_then(|id| world.campaign_index(id)) else {
        return;
    };
    if let Some(f) = &a.forecast {
        // A forecast is of an average day at the new budget: the truth is the
        // mean over the week it starts (every weekday once).
        let truth = |budget: f64| {
            (1..=7)
                .map(|k| {
                    let e = world.expected_day(ci, budget, today + k);
                    margin * e.revenue - e.spend
                })
                .sum::<f64>()
                / 7.0
        };
        // A paused campaign earns nothing: a resume is against zero.
        let before = if a.kind == ActionKind::Resume { 0.0 } else { truth(a.from) };
        let delta = truth(a.to) - before;
        score.forecasts += 1;
        if f.delta_low <= delta && delta <= f.delta_high {
            score.forecasts_covered += 1;
        }
    }
    match a.kind {
        ActionKind::Pause => {
            score.pauses += 1;
            let e = world.expected_day(ci, world.campaigns[ci].daily_budget, today + 1);
            if margin * e.revenue - e.spend > 0.0 {
                score.pauses_of_profitable += 1;
            }
            let c = &mut world.campaigns[ci];
            c.status = CampaignStatus::Paused;
            c.paused_by = Some(a.paused_by.unwrap_or(PausedBy::Pipeline));
            c.paused_at = Some(today + 1);
        }
        ActionKind::Resume => {
            let c = &mut world.campaigns[ci];
            c.status = CampaignStatus::Active;
            c.paused_by = None;
            c.paused_at = None;
            c.daily_budget = a.to;
        }
        ActionKind::SetBudget => {
            score.budget_changes += 1;
            world.campaigns[ci].daily_budget = a.to;
        }
        ActionKind::Create => unreachable!("handled above"),
    }
}

/// The oracle's day: for every campaign serving tomorrow, the budget that
/// maximises the portfolio's true expected profit within `total` (the daily
/// budget the portfolio had when the loop began: the same money every day),
/// each budget within `max_decrease_pct`/`max_increase_pct` of today's and
/// at least `min_daily`; a campaign that loses money at every budget it
/// could have is paused (0). Returns only the changes.
pub fn oracle_budgets(world: &World, margin: f64, b: &BudgetSettings, total: f64) -> Vec<(usize, f64)> {
    let d = world.today + 1;
    let serving: Vec<usize> = (0..world.campaigns.len()).filter(|&ci| world.campaigns[ci].serving_on(d)).collect();
    let profit = |ci: usize, budget: f64| {
        let e = world.expected_day(ci, budget, d);
        margin * e.revenue - e.spend
    };
    let slope = |ci: usize, budget: f64| {
        let h = 0.01;
        let lo = (budget - h).max(0.0);
        (profit(ci, budget + h) - profit(ci, lo)) / (budget + h - lo)
    };
    let mut changes = Vec::new();
    let mut kept = Vec::new();
    for &ci in &serving {
        let (lo, hi) = marginal::bounds(world.campaigns[ci].daily_budget, b);
        // Profit is concave in the budget: its best on [lo, hi] tells.
        let best = marginal::equalize(&[&|x| slope(ci, x)], &[(lo, hi)], f64::INFINITY)[0];
        if profit(ci, best) < 0.0 {
            changes.push((ci, 0.0));
        } else {
            kept.push((ci, (lo, hi)));
        }
    }
    let fns: Vec<Box<dyn Fn(f64) -> f64 + '_>> = kept.iter().map(|&(ci, _)| Box::new(move |x| slope(ci, x)) as Box<dyn Fn(f64) -> f64>).collect();
    let refs: Vec<&dyn Fn(f64) -> f64> = fns.iter().map(|f| f.as_ref()).collect();
    let bounds: Vec<(f64, f64)> = kept.iter().map(|k| k.1).collect();
    // The bounds may force more than the total (after pauses, cuts are capped).
    let floor: f64 = bounds.iter().map(|b| b.0).sum();
    let budgets = marginal::equalize(&refs, &bounds, total.max(floor));
    for (&(ci, _), x) in kept.iter().zip(budgets) {
        let to = (x * 100.0 + 1e-4).floor() / 100.0;
        if (to - world.campaigns[ci].daily_budget).abs() >= 0.01 {
            changes.push((ci, to));
        }
    }
    changes.sort_by_key(|c| c.0);
    changes
}

/// Writes the world as it stands in the SPEC §3 contract (CSV) into `dir`.
pub fn export(world: &World, dir: &Path) -> Result<(), SimulateError> {
    std::fs::create_dir_all(dir).map_err(|e| SimulateError::Io(format!("{}: {e}", dir.display())))?;
    let werr = |e: PolarsError| SimulateError::Io(format!("{}: {e}", dir.display()));
    let p = &world.products;
    let mut products = df!(
        col::PRODUCT_ID => p.iter().map(|p| p.id.to_string()).collect::<Vec<_>>(),
        col::SKU => p.iter().map(|p| p.sku.clone()).collect::<Vec<_>>(),
        col::NAME => p.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
        col::CATEGORY => p.iter().map(|p| p.category.clone()).collect::<Vec<_>>(),
        col::PRICE => p.iter().map(|p| p.price).collect::<Vec<_>>(),
        col::STOCK => p.iter().map(|p| p.stock).collect::<Vec<_>>(),
        col::CREATED_AT => p.iter().map(|p| p.created).collect::<Vec<_>>(),
    )
    .map_err(werr)?;
    to_date(&mut products, col::CREATED_AT).map_err(werr)?;
    let c = &world.campaigns;
    let mut campaigns = df!(
        col::CAMPAIGN_ID => c.iter().map(|c| c.id.to_string()).collect::<Vec<_>>(),
        col::NAME => c.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
        col::PRODUCT_ID => c.iter().map(|c| p[c.product].id.to_string()).collect::<Vec<_>>(),
        col::STATUS => c.iter().map(|c| c.status.as_str()).collect::<Vec<_>>(),
        col::DAILY_BUDGET => c.iter().map(|c| c.daily_budget).collect::<Vec<_>>(),
        col::START_DATE => c.iter().map(|c| c.created).collect::<Vec<_>>(),
        col::PAUSED_BY => c.iter().map(|c| c.paused_by.map(PausedBy::as_str)).collect::<Vec<_>>(),
        col::PAUSED_AT => c.iter().map(|c| c.paused_at).collect::<Vec<_>>(),
    )
    .map_err(werr)?;
    to_date(&mut campaigns, col::START_DATE).map_err(werr)?;
    to_date(&mut campaigns, col::PAUSED_AT).map_err(werr)?;
    let mut pd = ProductDailyCols::with_capacity(world.product_days.len() * p.len());
    let mut cd = CampaignDailyCols::default();
    for (k, days) in world.product_days.iter().enumerate() {
        let d = world.first_day + k as i32;
        for (pi, pday) in days.iter().enumerate() {
            if p[pi].created <= d {
                pd.push(d, &p[pi].id.to_string(), pday.views, pday.units, pday.revenue);
            }
        }
        for (ci, x) in &world.campaign_days[k] {
            cd.push(d, c[*ci].id.to_string(), x.impressions, x.clicks, x.spend, x.conversions, x.revenue, x.new_customers);
        }
    }
    let mut pd = pd.into_frame().map_err(werr)?;
    let mut cd = cd.into_frame().map_err(werr)?;
    for (table, df) in [
        (Table::Products, &mut products),
        (Table::ProductDaily, &mut pd),
        (Table::Campaigns, &mut campaigns),
        (Table::CampaignDaily, &mut cd),
    ] {
        write_table(dir, table, df, Format::Csv)?;
    }
    Ok(())
}

/// The first as_of of a loop: fixed, so a seed gives the same loop on any day.
pub fn default_start(warmup: u32) -> Day {
    day_of(chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date")) + warmup.max(1) as i32 - 1
}

/// The table `sandbox simulate` prints.
pub fn table(r: &SimulateResult) -> String {
    let mut out = format!(
        "seed {} · {} products · {} campaigns · {} warm-up days · {} acting days · margin {}\n",
        r.seed, r.products, r.campaigns, r.warmup, r.days, r.margin
    );
    out.push_str(&format!(
        "{:<8} {:>12} {:>12} {:>9} {:>9} {:>8} {:>7} {:>11} {:>8} {:>8} {:>5} {:>9}\n",
        "policy", "realised", "expected", "capture", "existing", "actions", "pauses", "profitable", "budgets", "creates", "held", "forecast"
    ));
    let pct = |x: Option<f64>| x.map_or("–".to_string(), |v| format!("{v:.2}"));
    for s in &r.scores {
        out.push_str(&format!(
            "{:<8} {:>12.2} {:>12.2} {:>9} {:>9} {:>8} {:>7} {:>11} {:>8} {:>8} {:>5} {:>9}\n",
            s.policy,
            s.realised_profit,
            s.expected_profit,
            pct(s.capture),
            pct(s.capture_existing),
            s.actions_applied,
            s.pauses,
            s.pauses_of_profitable,
            s.budget_changes,
            s.created,
            s.held_runs,
            pct(s.forecast_coverage)
        ));
    }
    for s in r.scores.iter().filter(|s| s.followups > 0) {
        out.push_str(&format!(
            "\n{} follow-ups: {} judged, {} inside their 80 % interval ({} for actions of the second half); interval scale at the end {}\n",
            s.policy,
            s.followups,
            pct(s.followup_coverage),
            pct(s.followup_coverage_late),
            pct(s.interval_scale)
        ));
        out.push_str(&format!("{:<16} {:>5} {:>6} {:>7} {:>8} {:>10} {:>10}\n", "rule", "days", "count", "judged", "inside", "observed", "expected"));
        for x in &s.per_rule {
            out.push_str(&format!(
                "{:<16} {:>5} {:>6} {:>7} {:>8} {:>10.2} {:>10}\n",
                x.rule,
                x.follow_up_days,
                x.count,
                x.judged,
                pct(x.coverage),
                x.mean_observed_delta,
                x.mean_expected_delta.map_or("–".to_string(), |v| format!("{v:.2}"))
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> World {
        World::new(&WorldOptions { seed: 9, products: 80, campaigns: 30, history_days: 40, today: 20_000 })
    }

    fn profit(w: &World, budgets: &[f64]) -> f64 {
        let d = w.today + 1;
        budgets
            .iter()
            .enumerate()
            .filter(|(ci, b)| **b > 0.0 && w.campaigns[*ci].serving_on(d))
            .map(|(ci, b)| {
                let e = w.expected_day(ci, *b, d);
                e.revenue - e.spend
            })
            .sum()
    }

    #[test]
    fn the_oracle_keeps_the_caps_and_the_total_and_earns_more() {
        let w = world();
        let b = BudgetSettings::default();
        let now: Vec<f64> = w.campaigns.iter().map(|c| c.daily_budget).collect();
        let total: f64 = w.campaigns.iter().filter(|c| c.serving_on(w.today + 1)).map(|c| c.daily_budget).sum();
        let changes = oracle_budgets(&w, 1.0, &b, total);
        assert!(!changes.is_empty());
        let mut after = now.clone();
        for &(ci, to) in &changes {
            after[ci] = to;
            if to > 0.0 {
                assert!(to <= now[ci] * 1.2 + 1e-9, "increase cap: {} → {to}", now[ci]);
                assert!(to >= (now[ci] * 0.5).max(b.min_daily).min(now[ci]) - 0.01, "decrease cap: {} → {to}", now[ci]);
            }
        }
        let serving = |v: &[f64]| v.iter().enumerate().filter(|(ci, _)| w.campaigns[*ci].serving_on(w.today + 1)).map(|(_, b)| b).sum::<f64>();
        assert!(serving(&after) <= serving(&now) + 1e-6, "the same total budget at most");
        assert!(profit(&w, &after) > profit(&w, &now), "{} vs {}", profit(&w, &after), profit(&w, &now));
        // Every pause is of a campaign that loses money at each budget it could have.
        for &(ci, to) in &changes {
            if to == 0.0 {
                for f in [0.5, 0.75, 1.0, 1.2] {
                    let e = w.expected_day(ci, (now[ci] * f).max(b.min_daily), w.today + 1);
                    assert!(e.revenue < e.spend, "paused campaign {ci} earns at {f}×");
                }
            }
        }
    }

    #[test]
    fn the_oracle_leaves_campaigns_between_their_caps_at_one_marginal_profit() {
        // Loose caps: where neither cap binds, a dollar earns the same everywhere.
        let w = world();
        let b = BudgetSettings { max_increase_pct: 1000.0, max_decrease_pct: 90.0, ..BudgetSettings::default() };
        let total: f64 = w.campaigns.iter().filter(|c| c.serving_on(w.today + 1)).map(|c| c.daily_budget).sum();
        let changes = oracle_budgets(&w, 1.0, &b, total);
        let d = w.today + 1;
        let slope = |ci: usize, x: f64| {
            let (lo, hi) = (w.expected_day(ci, x - 0.05, d), w.expected_day(ci, x + 0.05, d));
            ((hi.revenue - hi.spend) - (lo.revenue - lo.spend)) / 0.1
        };
        let interior: Vec<f64> = changes
            .iter()
            .filter(|(ci, to)| {
                let now = w.campaigns[*ci].daily_budget;
                *to > (now * 0.1).max(b.min_daily) + 0.5 && *to < now * 11.0 - 0.5
            })
            .map(|&(ci, to)| slope(ci, to))
            .collect();
        assert!(interior.len() >= 3, "{changes:?}");
        let (lo, hi) = interior.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        assert!(hi - lo < 0.02, "marginal profits {interior:?}");
    }

    #[test]
    fn policy_names_are_their_serde_names() {
        crate::model::names::assert_serde_names(Policy::ALL);
    }

    #[test]
    fn the_export_is_the_data_contract() {
        let w = world();
        let dir = tempfile::tempdir().unwrap();
        export(&w, dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join("campaigns.csv")).unwrap();
        assert_eq!(text.lines().next().unwrap(), "campaign_id,name,product_id,status,daily_budget,start_date,paused_by,paused_at");
        assert_eq!(text.lines().count(), 31);
        let daily = std::fs::read_to_string(dir.path().join("campaign_daily.csv")).unwrap();
        let spend: f64 = daily.lines().skip(1).map(|l| l.split(',').nth(4).unwrap().parse::<f64>().unwrap()).sum();
        let truth: f64 = w.campaign_days.iter().flatten().map(|(_, d)| d.spend).sum();
        assert!((spend - truth).abs() < 0.01, "{spend} vs {truth}");
    }
}
