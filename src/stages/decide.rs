//! Stage 4, decide: the matrix per campaign, the budget reallocation, the new
//! campaigns, and the list of actions they imply.
//!
//! Responsible for: turning analysis rows into rule inputs, calling the pure
//! rules in `decisions/`, and assembling a [`Plan`]. Not responsible for:
//! applying anything (act) or any arithmetic the rules own.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use super::analyze::Analysis;
use crate::config::Settings;
use crate::decisions::budget::{self, Line, NewCandidate};
use crate::decisions::outcomes::Calibrated;
use crate::decisions::{marginal, reasons, response};
use crate::decisions::matrix::{decide_active, decide_paused, ActiveInputs, PausedInputs};
use crate::decisions::risk::level;
use crate::decisions::selection::{self, Candidate};
use crate::model::campaign::{CampaignRow, CampaignStatus, PausedBy};
use crate::model::day::{date_of, from_cents, to_cents_round};
use crate::model::decision::{Decision, Verdict};
use crate::model::reason::Code;
use crate::model::kinds::DecisionPolicy;
use crate::model::plan::{Action, ActionKey, ActionKind, ActionStatus, AdCopy, CampaignDecision, NewCampaign, Plan, Totals};
use crate::model::run::StageReport;

fn active_inputs(r: &CampaignRow) -> ActiveInputs {
    ActiveInputs {
        spend_days: r.spend_days,
        spend: r.spend,
        revenue: r.revenue,
        conversions: r.conversions,
        new_customers: r.new_customers,
        price: r.price,
        roi: r.roi,
        cpa: r.cpa,
        sales_impact: r.sales_impact,
        view_impact: r.view_impact,
        units_cur: r.units_cur,
        units_base: r.units_base,
        views_cur: r.views_cur,
        views_base: r.views_base,
        cur_days: r.cur_days,
        base_days: r.base_days,
        views_missing: r.views_missing,
    }
}

/// Template copy for a new campaign: what it keeps where the model writes none.
pub fn template_copy(c: &Candidate) -> AdCopy {
    // A name that is nothing but markup or links is no name: the product id stands in.
    let name = crate::model::text::clean(&c.name, AdCopy::NAME_MAX).unwrap_or_else(|| c.product_id.clone());
    let category = if c.category.trim().is_empty() { "Store".to_string() } else { c.category.trim().to_string() };
    // Store text is untrusted: the same cleaning (and cutting) as a model's copy.
    AdCopy {
        name: format!("{name} – {category}"),
        headline: format!("Shop {name}"),
        description: format!("{name}: a {} favourite, in stock and ready to ship.", category.to_lowercase()),
    }
    .cleaned(&c.product_id)
}

#[derive(Debug, thiserror::Error)]
#[error("the budget plan breaks its invariants (a bug; nothing was applied): {}", .violations.join("; "))]
pub struct DecideError {
    pub violations: Vec<String>,
}

pub fn decide(analysis: &Analysis, s: &Settings, learned: &Calibrated) -> Result<(Plan, StageReport), DecideError> {
    let started = Instant::now();
    let as_of = analysis.as_of;
    let locked: HashSet<&str> = s.act.locked_campaigns.iter().map(String::as_str).collect();

    let mut decisions: Vec<CampaignDecision> = analysis
        .campaigns
        .iter()
        .map(|r| {
            let mut verdict = match r.status {
                CampaignStatus::Active => decide_active(&active_inputs(r), &s.decisions, &s.significance),
                // Ended campaigns are not judged (transform leaves them out).
                CampaignStatus::Paused | CampaignStatus::Ended => decide_paused(
                    &PausedInputs {
                        paused_by: r.paused_by,
                        paused_at: r.paused_at,
                        as_of,
                        efficiency: r.efficiency,
                        stock: r.stock,
                    },
                    &s.resume,
                    s.selection.min_stock,
                ),
            };
            if let Some(spend) = r.ledger_overspend {
                if !matches!(verdict.decision, Decision::Pause | Decision::EmergencyPause) {
                    verdict = Verdict::new(
                        Decision::Pause,
                        vec![reasons::ledger_budget(spend, r.daily_budget)],
                    );
                }
            }
            if r.sales_impact.is_none() || r.view_impact.is_none() {
                if !verdict.reasons.iter().any(|x| Code::NoBaseline.marks(x)) {
                    verdict.reasons.push(reasons::no_baseline_impact());
                }
            }
            if r.cpa.is_some_and(f64::is_infinite) {
                verdict.reasons.push(reasons::cpa_infinite(r.spend));
            }
            if let Some(b) = r.budget_observed {
                verdict.reasons.push(reasons::budget_observed(b, s.ads.observed_budget_days));
            }
            let is_locked = locked.contains(r.campaign_id.as_str());
            if is_locked {
                verdict.reasons.push(reasons::locked());
            }
            CampaignDecision {
                row: r.clone(),
                verdict,
                risk_level: r.risk_score.map(|x| level(x, &s.risk)),
                locked: is_locked,
                budget_current: r.daily_budget,
                budget_proposed: r.daily_budget,
                seed_decision: None,
                response: None,
            }
        })
        .collect();
    let profit = s.decisions.policy == DecisionPolicy::Profit;
    let judged = if profit { Some(profit_judgement(&mut decisions, analysis, s, learned)) } else { None };

    let mut candidates = selection::rank(&analysis.products, &s.selection, &s.budget);
    let new_fits = match &judged {
        Some(j) => judge_new(&mut candidates, &decisions, &j.models, j.prior, s),
        None => Vec::new(),
    };
    let lines: Vec<Line> = decisions
        .iter()
        .map(|d| Line {
            campaign_id: d.row.campaign_id.clone(),
            decision: d.verdict.decision,
            current: to_cents_round(d.row.daily_budget),
            efficiency: d.row.efficiency,
            risk: d.row.risk_score,
            burn: d.row.burn,
            roi: d.row.roi,
            locked: d.locked,
        })
        .collect();
    let new_cands: Vec<NewCandidate> =
        candidates.iter().map(|c| NewCandidate { product_id: c.product_id.clone(), budget: c.budget }).collect();
    let max_new = s.selection.max_new_per_run as usize;
    let alloc = if let Some(j) = &judged {
        marginal::reallocate(&lines, &j.slopes, &new_cands, max_new, s.model.min_change_pct, &s.budget)
    } else {
        budget::reallocate(&lines, &new_cands, max_new, &s.budget)
    };
    let violations = budget::check_invariants(&lines, &alloc, &new_cands, &s.budget);
    if !violations.is_empty() {
        // A bug, not bad data: refuse to hand on a plan that breaks the SPEC.
        return Err(DecideError { violations });
    }

    let effective = date_of(as_of + 1);
    let unfunded: HashSet<usize> = alloc.unfunded.iter().copied().collect();
    let receivers: HashSet<usize> = alloc.receivers.iter().copied().collect();
    let mut actions = Vec::new();
    for (i, d) in decisions.iter_mut().enumerate() {
        d.budget_proposed = from_cents(alloc.proposed[i]);
        if unfunded.contains(&i) {
            d.verdict = Verdict::new(
                Decision::Paused,
                vec![reasons::resume_unfunded(s.budget.min_daily)],
            );
        }
        if receivers.contains(&i) && !profit {
            d.verdict.reasons.push(reasons::budget_increase(d.budget_current, d.budget_proposed));
        }
        if receivers.contains(&i) && profit {
            // Under the profit policy the budget change is the decision.
            let up = d.budget_proposed > d.budget_current;
            d.verdict.decision = if up { Decision::Continue } else { Decision::Optimize };
            d.verdict.reasons.insert(0, reasons::budget_toward_margin(d.budget_current, d.budget_proposed));
        }
        if d.locked {
            d.budget_proposed = d.budget_current;
            continue;
        }
        let r = &d.row;
        let mut push = |kind: ActionKind, from: f64, to: f64, paused_by: Option<PausedBy>| {
            actions.push(Action {
                key: ActionKey::format(as_of, &r.campaign_id, kind, to),
                campaign_id: r.campaign_id.clone(),
                product_id: r.product_id.clone(),
                kind,
                from,
                to,
                paused_by,
                effective_date: effective,
                status: ActionStatus::Proposed,
                reason: d.verdict.reasons.first().cloned().unwrap_or_default(),
                copy: None,
                forecast: None,
            })
        };
        match d.verdict.decision {
            Decision::Pause => push(ActionKind::Pause, d.budget_current, 0.0, Some(PausedBy::Pipeline)),
            Decision::EmergencyPause => push(ActionKind::Pause, d.budget_current, 0.0, Some(PausedBy::PipelineEmergency)),
            Decision::Resume => push(ActionKind::Resume, d.budget_current, d.budget_proposed, None),
            Decision::Continue | Decision::Optimize if receivers.contains(&i) => {
                push(ActionKind::SetBudget, d.budget_current, d.budget_proposed, None)
            }
            // Nothing changes on the platform for these (a funded receiver is above).
            Decision::Continue | Decision::Optimize | Decision::Monitor | Decision::Learning | Decision::Paused => {}
        }
    }

    let new_campaigns: Vec<NewCampaign> = alloc
        .created
        .iter()
        .map(|&ci| {
            let c = &candidates[ci];
            NewCampaign {
                product_id: c.product_id.clone(),
                daily_budget: from_cents(c.budget),
                copy: template_copy(c),
                reasons: c.reasons.clone(),
                product_name: c.name.clone(),
                category: c.category.clone(),
                price: c.price,
            }
        })
        .collect();
    for n in &new_campaigns {
        actions.push(Action {
            key: ActionKey::format(as_of, &n.product_id, ActionKind::Create, n.daily_budget),
            campaign_id: String::new(),
            product_id: n.product_id.clone(),
            kind: ActionKind::Create,
            from: 0.0,
            to: n.daily_budget,
            paused_by: None,
            effective_date: effective,
            status: ActionStatus::Proposed,
            reason: n.reasons.first().cloned().unwrap_or_default(),
            copy: Some(n.copy.clone()),
            forecast: None,
        });
    }

    let mut totals = Totals {
        budget_before: from_cents(alloc.total_before),
        budget_after: from_cents(alloc.total_after),
        savings: from_cents(alloc.savings),
        expected_profit_before: None,
        expected_profit_after: None,
    };
    if let Some(j) = &judged {
        let models = &j.models[..];
        let m = s.objective.margin;
        let index: HashMap<&str, usize> =
            decisions.iter().enumerate().map(|(i, d)| (d.row.campaign_id.as_str(), i)).collect();
        let scale = learned.scale;
        for a in actions.iter_mut() {
            match a.kind {
                ActionKind::Create => {
                    if let Some(Some((f, burn))) = candidates.iter().position(|c| c.product_id == a.product_id).map(|i| &new_fits[i]) {
                        a.forecast = Some(response::forecast(f, *burn, 0.0, a.to, m, scale));
                    }
                }
                kind => {
                    if let Some(Some((f, burn))) = index.get(a.campaign_id.as_str()).map(|&i| &models[i]) {
                        // A paused campaign earns nothing now: a resume is against zero.
                        let from = if kind == ActionKind::Resume { 0.0 } else { a.from };
                        a.forecast = Some(response::forecast(f, *burn, from, a.to, m, scale));
                    }
                }
            }
        }
        let (mut before, mut after) = (0.0, 0.0);
        for (d, model) in decisions.iter().zip(models) {
            if d.verdict.decision == Decision::Resume || d.row.status != CampaignStatus::Active {
                continue;
            }
            if let Some((f, burn)) = model {
                before += f.curve.profit_at(*burn, d.budget_current, m);
                after += f.curve.profit_at(*burn, d.budget_proposed, m);
            }
        }
        totals.expected_profit_before = Some(before);
        totals.expected_profit_after = Some(after);
    }
    let report = StageReport::new("decide", started, analysis.campaigns.len() as u64, actions.len() as u64);
    Ok((Plan { as_of, campaigns: decisions, new_campaigns, actions, totals }, report))
}

/// Under `policy = "profit"`: new campaigns are judged by expected profit
/// too. Each candidate gets its peers' curve (its category's fitted
/// campaigns, else the portfolio's, at the portfolio's median spend share);
/// one expected to lose money at its budget is dropped with the reason.
/// Returns the fit of each candidate kept, in the candidates' order.
fn judge_new(
    candidates: &mut Vec<Candidate>,
    decisions: &[CampaignDecision],
    models: &[Option<(response::Fit, f64)>],
    prior: response::Prior,
    s: &Settings,
) -> Vec<Option<(response::Fit, f64)>> {
    let m = s.objective.margin;
    let fitted: Vec<(&str, f64, f64)> = decisions
        .iter()
        .zip(models)
        .filter_map(|(d, model)| model.map(|(f, burn)| (d.row.category.as_str(), f.curve.roas0, burn)))
        .collect();
    let mut burns: Vec<f64> = fitted.iter().map(|f| f.2).collect();
    burns.sort_by(f64::total_cmp);
    let burn = burns.get(burns.len() / 2).copied().unwrap_or(0.8);
    // The peers of every category, once (a portfolio has far more candidates than categories).
    let portfolio = response::Peers::of(&fitted.iter().map(|f| f.1).collect::<Vec<_>>());
    let mut by_category: HashMap<String, Vec<f64>> = HashMap::new();
    for f in &fitted {
        by_category.entry(f.0.to_ascii_lowercase()).or_default().push(f.1);
    }
    let peers_of: HashMap<String, Option<response::Peers>> = by_category
        .into_iter()
        .map(|(category, roas0s)| {
            let peers = if roas0s.len() >= 3 { response::Peers::of(&roas0s) } else { portfolio };
            (category, peers)
        })
        .collect();
    let mut kept = Vec::new();
    let mut fits = Vec::new();
    for c in candidates.drain(..) {
        let peers = peers_of.get(&c.category.to_ascii_lowercase()).copied().unwrap_or(portfolio);
        let budget = from_cents(c.budget);
        let Some(f) = peers.map(|p| p.fit(prior, burn * budget)) else {
            // Nothing to learn from yet: the selection rules alone decide.
            kept.push(c);
            fits.push(None);
            continue;
        };
        // The point forecast is all the choice needs (the created ones get their bands later).
        let profit = f.curve.profit_at(burn, budget, m);
        if profit <= 0.0 {
            tracing::debug!(product = %c.product_id, profit, "new campaign not proposed: expected to lose money");
            continue;
        }
        let mut c = c;
        c.reasons.push(reasons::profit_expected(profit, budget, f.curve.roas0));
        kept.push(c);
        fits.push(Some((f, burn)));
    }
    *candidates = kept;
    fits
}

/// What the profit policy made of the portfolio: per line its marginal
/// profit per budget dollar (movable lines) and its fit with its spend
/// share, and the pooled elasticity prior.
struct Judged {
    slopes: Vec<Option<marginal::Slope>>,
    models: Vec<Option<(response::Fit, f64)>>,
    prior: response::Prior,
}

/// Under `policy = "profit"`: each judged active campaign's response fit
/// from its own days (elasticity pooled across the portfolio), the pause
/// rule — a loss even at `min_daily` with probability above
/// `model.pause_confidence` — and, for the others, the marginal profit per
/// budget dollar the allocator equalises. The matrix's verdict is kept as
/// `seed_decision`; a matrix pause the model does not share becomes MONITOR.
fn profit_judgement(decisions: &mut [CampaignDecision], analysis: &Analysis, s: &Settings, learned: &Calibrated) -> Judged {
    let m = s.objective.margin;
    let model = &s.model;
    let raws: Vec<Option<response::Raw>> = decisions
        .iter()
        .map(|d| {
            let judged = (d.row.status == CampaignStatus::Active && d.verdict.decision != Decision::Learning)
                || d.verdict.decision == Decision::Resume;
            analysis
                .daily
                .get(&d.row.campaign_id)
                .filter(|_| judged)
                .and_then(|days| response::raw(days, model.roas_days as usize, d.row.price))
        })
        .collect();
    let own: Vec<response::Estimate> = raws.iter().flatten().filter_map(|r| r.elasticity).collect();
    let prior = response::pool(&own, response::Prior { mean: model.prior_elasticity, sd: model.prior_elasticity_sd });
    let mut slopes = Vec::with_capacity(decisions.len());
    let mut models = Vec::with_capacity(decisions.len());
    for (d, raw) in decisions.iter_mut().zip(&raws) {
        let seed = d.verdict.decision;
        d.seed_decision = Some(seed);
        let overspent = d.verdict.reasons.iter().any(|r| Code::LedgerBudget.marks(r));
        let (Some(raw), false, false) = (raw, d.locked, overspent) else {
            slopes.push(None);
            models.push(None);
            continue;
        };
        let days = &analysis.daily[&d.row.campaign_id];
        let recent = &days[days.len().saturating_sub(3)..];
        let budget = d.row.daily_budget;
        if budget <= 0.0 || recent.is_empty() {
            slopes.push(None);
            models.push(None);
            continue;
        }
        // The share of its budget it spends, from its last days.
        let burn = (recent.iter().map(|x| x.spend).sum::<f64>() / recent.len() as f64 / budget).clamp(0.05, 1.0);
        // A campaign whose forecasts missed is trusted less (SPEC §13).
        let widen = learned.widen_of(&d.row.campaign_id);
        let f = response::fit(raw, prior).widened(widen);
        if seed == Decision::Resume {
            // A resume is judged by what it earned before its pause.
            let p_loss = response::p_unprofitable_at(&f, burn * s.budget.min_daily, m);
            if p_loss >= 0.5 {
                d.verdict = Verdict::new(
                    Decision::Paused,
                    vec![reasons::profit_not_resumed(p_loss)],
                );
                models.push(None);
            } else {
                models.push(Some((f, burn)));
            }
            slopes.push(None);
            continue;
        }
        models.push(Some((f, burn)));
        d.response = Some(f.summary(burn, m, learned.scale));
        if widen > 1.0 {
            d.verdict.reasons.push(reasons::forecasts_missed(widen));
        }
        let p_loss = response::p_unprofitable_at(&f, burn * s.budget.min_daily, m);
        let model_reason = reasons::model(f.roas, f.curve.marginal(f.spend), f.elasticity.mean, f.elasticity.se, raw.conversions);
        if p_loss > model.pause_confidence {
            d.verdict.decision = if seed == Decision::EmergencyPause { Decision::EmergencyPause } else { Decision::Pause };
            d.verdict.reasons.insert(0, model_reason);
            d.verdict.reasons.insert(
                0,
                reasons::profit_pause(p_loss, model.pause_confidence),
            );
            slopes.push(None);
            continue;
        }
        if seed.is_pause() {
            d.verdict.decision = Decision::Monitor;
            d.verdict.reasons.insert(0, reasons::profit_keep(p_loss, model.pause_confidence, seed));
        }
        d.verdict.reasons.push(model_reason);
        let curve = f.curve;
        slopes.push(Some(Box::new(move |b: f64| burn * (m * curve.marginal(burn * b) - 1.0)) as marginal::Slope));
    }
    Judged { slopes, models, prior }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fitted(category: &str, roas0: f64) -> (CampaignDecision, Option<(response::Fit, f64)>) {
        let row = CampaignRow { campaign_id: format!("C-{category}-{roas0}"), category: category.into(), ..CampaignRow::default() };
        let d = CampaignDecision {
            row,
            verdict: Verdict::new(Decision::Continue, vec![]),
            risk_level: None,
            locked: false,
            budget_current: 50.0,
            budget_proposed: 50.0,
            seed_decision: None,
            response: None,
        };
        // A flat curve (elasticity 0) whose first-dollar return is roas0.
        let f = response::Fit {
            curve: response::curve(roas0, 40.0, 0.0),
            elasticity: response::Estimate { mean: 0.0, se: 0.1 },
            roas: roas0,
            log_roas_se: 0.2,
            spend: 40.0,
        };
        (d, Some((f, 0.8)))
    }

    fn candidate(id: &str, category: &str) -> Candidate {
        Candidate { product_id: id.into(), name: id.into(), category: category.into(), price: 30.0, potential: 1.0, budget: 2000, reasons: vec![] }
    }

    #[test]
    fn a_new_campaign_learns_from_its_categorys_campaigns_whatever_their_case_else_from_the_portfolio() {
        // Fitness: three fitted campaigns (one spelled otherwise); Garden: one; Toys: one losing.
        let (decisions, models): (Vec<_>, Vec<_>) =
            [("Fitness", 3.0), ("fitness", 4.0), ("FITNESS", 5.0), ("Garden", 0.4), ("Toys", 0.5)].iter().map(|&(c, r)| fitted(c, r)).unzip();
        let s = Settings::default();
        let prior = response::Prior { mean: 0.3, sd: 0.2 };
        // "fitness " (with its space) is no campaign's category.
        let mut candidates = vec![candidate("P-space", "fitness "), candidate("P-fit", "Fitness"), candidate("P-garden", "garden"), candidate("P-none", "Books")];
        let fits = judge_new(&mut candidates, &decisions, &models, prior, &s);
        // The reference: the peers filtered for each candidate on its own, as the rule says.
        let roas0s: Vec<(&str, f64)> = decisions.iter().zip(&models).map(|(d, m)| (d.row.category.as_str(), m.unwrap().0.curve.roas0)).collect();
        let expected = |category: &str| {
            let same: Vec<f64> = roas0s.iter().filter(|f| f.0.eq_ignore_ascii_case(category)).map(|f| f.1).collect();
            let peers = if same.len() >= 3 { same } else { roas0s.iter().map(|f| f.1).collect() };
            response::new_campaign_fit(&peers, prior, 0.8 * 20.0).unwrap()
        };
        let kept: Vec<&str> = candidates.iter().map(|c| c.product_id.as_str()).collect();
        assert_eq!(kept.len(), 4, "the portfolio's log-average first-dollar return (12^(1/5) = 1.64) earns at margin 1: {kept:?}");
        assert_eq!(kept.len(), fits.len());
        for (c, f) in candidates.iter().zip(&fits) {
            let (f, burn) = f.expect("every kept candidate has peers");
            assert_eq!(burn, 0.8, "the portfolio's median spend share");
            assert_eq!(f, expected(&c.category), "{}", c.product_id);
        }
        let fit = fits[kept.iter().position(|k| *k == "P-fit").unwrap()].unwrap().0;
        assert!((fit.curve.roas0 - 60f64.powf(1.0 / 3.0)).abs() < 1e-9, "the log-average of 3, 4 and 5: {}", fit.curve.roas0);
        // Its category has one campaign: the portfolio speaks for it, as for a category with none.
        for p in ["P-garden", "P-none", "P-space"] {
            let i = kept.iter().position(|k| *k == p).unwrap_or_else(|| panic!("{p} kept: {kept:?}"));
            assert_eq!(fits[i].unwrap().0, expected("no such category"), "{p}");
        }
        // A candidate whose peers lose money at its budget is not proposed.
        let (losers, loser_models): (Vec<_>, Vec<_>) = [("Toys", 0.5), ("Toys", 0.6), ("toys", 0.4), ("Fitness", 3.0), ("Fitness", 4.0), ("Fitness", 5.0)].iter().map(|&(c, r)| fitted(c, r)).unzip();
        let mut toys = vec![candidate("P-toy", "Toys"), candidate("P-fit", "Fitness")];
        let fits = judge_new(&mut toys, &losers, &loser_models, prior, &s);
        assert_eq!(toys.iter().map(|c| c.product_id.as_str()).collect::<Vec<_>>(), ["P-fit"]);
        assert_eq!(fits.len(), 1);
        assert!(toys[0].reasons.iter().any(|r| Code::ProfitExpected.marks(r)), "{:?}", toys[0].reasons);
    }

    #[test]
    fn copy_templates_respect_their_limits() {
        let c = Candidate {
            product_id: "P1".into(),
            name: "An extraordinarily long product name that goes on and on and on forever".into(),
            category: "Fitness".into(),
            price: 50.0,
            potential: 1.0,
            budget: 1500,
            reasons: vec![],
        };
        let copy = template_copy(&c);
        assert!(!copy.name.is_empty());
        assert!(copy.headline.chars().count() <= 30, "{}", copy.headline);
        assert!(copy.description.chars().count() <= 90, "{}", copy.description);
    }
}
