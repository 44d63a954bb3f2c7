//! A person's plan, judged by the run's own rules (SPEC §12): the changes a
//! `save_proposal` call asks for against the portfolio the newest run left,
//! checked with the §7 caps and invariants, `min_daily`, the locked
//! campaigns and the §8 blast-radius guardrails. All or nothing: one refused
//! change refuses the plan (a half plan could keep an increase and drop the
//! decrease that pays for it), and every refusal names its rule and numbers.

use std::collections::{BTreeMap, HashSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::guardrails;
use crate::config::{ActSettings, BudgetSettings};
use crate::model::campaign::PausedBy;
use crate::model::day::{date_of, to_cents_floor, Day};
use crate::model::plan::{Action, ActionKey, ActionKind, ActionStatus};
use crate::model::run::DataQuality;

/// What a person may ask for; a new campaign is the run's to propose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    SetBudget,
    Pause,
    Resume,
}

impl From<ChangeKind> for ActionKind {
    fn from(k: ChangeKind) -> Self {
        match k {
            ChangeKind::SetBudget => ActionKind::SetBudget,
            ChangeKind::Pause => ActionKind::Pause,
            ChangeKind::Resume => ActionKind::Resume,
        }
    }
}

/// One asked-for change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Change {
    pub campaign_id: String,
    /// set_budget, pause or resume.
    pub kind: ChangeKind,
    /// The new daily budget (set_budget; resume, default budget.min_daily);
    /// a pause sets 0 and takes no value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<f64>,
}

/// A campaign as the newest run left it (its actions applied).
#[derive(Debug, Clone, PartialEq)]
pub struct Holding {
    pub product_id: String,
    pub active: bool,
    /// Daily budget now (0 while paused).
    pub budget: f64,
}

/// What a plan is judged against.
#[derive(Debug, Clone, PartialEq)]
pub struct Portfolio {
    /// The newest run's as_of: the proposals are keyed and applied as of it.
    pub as_of: Day,
    pub campaigns: BTreeMap<String, Holding>,
    pub quality: DataQuality,
}

impl Portfolio {
    pub fn active(&self) -> usize {
        self.campaigns.values().filter(|h| h.active).count()
    }

    /// Total daily budget of the active campaigns (SPEC §7 "total before").
    pub fn budget_before(&self) -> f64 {
        self.campaigns.values().filter(|h| h.active).map(|h| h.budget).sum()
    }
}

/// Why (part of) a plan is refused: the rule, named as its setting where it
/// has one, and the numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refusal {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
    pub rule: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<f64>,
    pub message: String,
}

fn refuse(campaign: &str, rule: &str, value: Option<f64>, limit: Option<f64>, message: String) -> Refusal {
    Refusal { campaign_id: Some(campaign.to_string()), rule: rule.into(), value, limit, message }
}

fn cents(x: f64) -> f64 {
    to_cents_floor(x) as f64 / 100.0
}

/// One change against its campaign: the action it becomes, or why not.
fn judge(c: &Change, h: &Holding, locked: bool, as_of: Day, b: &BudgetSettings) -> Result<Action, Refusal> {
    let id = c.campaign_id.as_str();
    if locked {
        return Err(refuse(id, "locked_campaigns", None, None, format!("{id} is in act.locked_campaigns: no change is proposed for it")));
    }
    if let Some(to) = c.to.filter(|t| !t.is_finite() || *t < 0.0) {
        return Err(refuse(id, "to", Some(to), None, format!("{id}: a daily budget must be a number ≥ 0, found {to}")));
    }
    let min_daily = cents(b.min_daily);
    let (from, to) = match c.kind {
        ChangeKind::Pause => {
            if !h.active {
                return Err(refuse(id, "already_paused", None, None, format!("{id} is paused already")));
            }
            if c.to.is_some_and(|t| t != 0.0) {
                return Err(refuse(id, "to", c.to, None, format!("{id}: a pause sets the budget to 0; leave `to` out")));
            }
            (h.budget, 0.0)
        }
        ChangeKind::Resume => {
            if h.active {
                return Err(refuse(id, "already_active", None, None, format!("{id} is active already; use set_budget")));
            }
            (0.0, cents(c.to.unwrap_or(b.min_daily)))
        }
        ChangeKind::SetBudget => {
            if !h.active {
                return Err(refuse(id, "campaign_paused", None, None, format!("{id} is paused; resume it instead")));
            }
            let Some(to) = c.to else {
                return Err(refuse(id, "to", None, None, format!("{id}: set_budget needs `to`, the new daily budget")));
            };
            let to = cents(to);
            if to == h.budget {
                return Err(refuse(id, "no_change", Some(to), Some(h.budget), format!("{id} already has {to:.2} a day")));
            }
            (h.budget, to)
        }
    };
    if c.kind != ChangeKind::Pause && to < min_daily {
        return Err(refuse(id, "min_daily", Some(to), Some(min_daily), format!("{id}: {to:.2} a day is below budget.min_daily ({min_daily:.2})")));
    }
    if c.kind == ChangeKind::SetBudget && from > 0.0 {
        let pct = (to - from) / from * 100.0;
        if pct > b.max_increase_pct + 1e-9 {
            let cap = cents(from * (1.0 + b.max_increase_pct / 100.0));
            return Err(refuse(
                id,
                "max_increase_pct",
                Some(super::round6(pct)),
                Some(b.max_increase_pct),
                format!("{id}: {from:.2} → {to:.2} is +{pct:.1} %, above budget.max_increase_pct ({}); at most {cap:.2}", b.max_increase_pct),
            ));
        }
        if -pct > b.max_decrease_pct + 1e-9 {
            return Err(refuse(
                id,
                "max_decrease_pct",
                Some(super::round6(-pct)),
                Some(b.max_decrease_pct),
                format!("{id}: {from:.2} → {to:.2} is −{:.1} %, above budget.max_decrease_pct ({}); pause it instead", -pct, b.max_decrease_pct),
            ));
        }
    }
    let kind = ActionKind::from(c.kind);
    Ok(Action {
        key: ActionKey::format(as_of, id, kind, to),
        campaign_id: id.to_string(),
        product_id: h.product_id.clone(),
        kind,
        from,
        to,
        // A person's pause: only a person resumes it.
        paused_by: (kind == ActionKind::Pause).then_some(PausedBy::User),
        effective_date: date_of(as_of + 1),
        status: ActionStatus::Proposed,
        reason: String::new(),
        copy: None,
        forecast: None,
    })
}

/// The plan's actions when every rule holds, else every refusal found.
pub fn check(changes: &[Change], p: &Portfolio, a: &ActSettings, b: &BudgetSettings) -> Result<Vec<Action>, Vec<Refusal>> {
    let mut refused = Vec::new();
    let mut actions = Vec::new();
    let mut seen = HashSet::new();
    let locked: HashSet<&str> = a.locked_campaigns.iter().map(String::as_str).collect();
    for c in changes {
        let id = c.campaign_id.as_str();
        if !seen.insert(id) {
            refused.push(refuse(id, "duplicate_change", None, None, format!("{id} is changed twice in one plan")));
            continue;
        }
        let Some(h) = p.campaigns.get(id) else {
            refused.push(refuse(id, "unknown_campaign", None, None, format!("{id} is not a campaign of the newest run")));
            continue;
        };
        match judge(c, h, locked.contains(id), p.as_of, b) {
            Ok(action) => actions.push(action),
            Err(r) => refused.push(r),
        }
    }
    // §7: the plan never adds to the total beyond the new-campaign pool.
    let before = p.budget_before();
    let delta: f64 = actions
        .iter()
        .map(|x| match x.kind {
            ActionKind::Pause => -x.from,
            _ => x.to - x.from,
        })
        .sum();
    let limit = before + b.new_campaign_pool;
    if before + delta > limit + 0.005 {
        refused.push(Refusal {
            campaign_id: None,
            rule: "total_budget".into(),
            value: Some(super::round6(before + delta)),
            limit: Some(super::round6(limit)),
            message: format!(
                "the plan raises the total daily budget from {before:.2} to {:.2}, above total before + budget.new_campaign_pool ({limit:.2}): pay for increases with decreases or pauses",
                before + delta
            ),
        });
    }
    // §8: the blast radius, against the portfolio the run saw.
    let shape = guardrails::shape(&actions, p.active(), before, &p.quality);
    for h in guardrails::check(&shape, a, b) {
        refused.push(Refusal {
            campaign_id: None,
            message: format!("the plan trips act.{} ({} > {})", h.guardrail, super::num(h.value), super::num(h.limit)),
            rule: h.guardrail,
            value: Some(super::round6(h.value)),
            limit: Some(h.limit),
        });
    }
    if refused.is_empty() { Ok(actions) } else { Err(refused) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn portfolio(n: usize) -> Portfolio {
        let mut campaigns: BTreeMap<String, Holding> =
            (0..n).map(|i| (format!("C{i}"), Holding { product_id: format!("P{i}"), active: true, budget: 100.0 })).collect();
        campaigns.insert("CP".into(), Holding { product_id: "PP".into(), active: false, budget: 0.0 });
        Portfolio { as_of: 20000, campaigns, quality: DataQuality::default() }
    }

    fn change(id: &str, kind: ChangeKind, to: Option<f64>) -> Change {
        Change { campaign_id: id.into(), kind, to }
    }

    fn rules(r: Result<Vec<Action>, Vec<Refusal>>) -> Vec<String> {
        r.err().unwrap_or_default().into_iter().map(|r| r.rule).collect()
    }

    #[test]
    fn a_budget_neutral_move_inside_the_caps_is_accepted() {
        let p = portfolio(10);
        let plan = [change("C1", ChangeKind::SetBudget, Some(120.0)), change("C2", ChangeKind::SetBudget, Some(80.0))];
        let actions = check(&plan, &p, &ActSettings::default(), &BudgetSettings::default()).unwrap();
        assert_eq!(actions.len(), 2);
        assert_eq!((actions[0].from, actions[0].to, actions[0].key.as_str()), (100.0, 120.0, "2024-10-04/C1/set_budget/120.00"));
        assert_eq!(actions[0].effective_date, date_of(20001));
    }

    #[test]
    fn each_cap_refuses_just_above_it_with_its_numbers() {
        let (p, a, b) = (portfolio(10), ActSettings::default(), BudgetSettings::default());
        let up = check(&[change("C1", ChangeKind::SetBudget, Some(120.01)), change("C2", ChangeKind::Pause, None)], &p, &a, &b).unwrap_err();
        assert_eq!(up[0].rule, "max_increase_pct");
        assert_eq!((up[0].value.map(|v| (v * 100.0).round() / 100.0), up[0].limit), (Some(20.01), Some(20.0)));
        assert!(up[0].message.contains("at most 120.00"), "{}", up[0].message);
        assert_eq!(rules(check(&[change("C1", ChangeKind::SetBudget, Some(49.99))], &p, &a, &b)), ["max_decrease_pct"]);
        assert_eq!(rules(check(&[change("C1", ChangeKind::SetBudget, Some(50.0))], &p, &a, &b)), Vec::<String>::new());
        let low = BTreeMap::from([("C1".to_string(), Holding { product_id: "P1".into(), active: true, budget: 20.0 })]);
        let p_low = Portfolio { campaigns: low, ..portfolio(0) };
        let r = check(&[change("C1", ChangeKind::SetBudget, Some(14.99))], &p_low, &a, &b).unwrap_err();
        assert_eq!((r[0].rule.as_str(), r[0].value, r[0].limit), ("min_daily", Some(14.99), Some(15.0)));
    }

    #[test]
    fn a_plan_that_adds_money_or_moves_too_much_is_refused_whole() {
        let (p, a, b) = (portfolio(10), ActSettings::default(), BudgetSettings::default());
        let r = check(&[change("C1", ChangeKind::SetBudget, Some(110.0))], &p, &a, &b).unwrap_err();
        assert_eq!((r[0].rule.as_str(), r[0].value, r[0].limit), ("total_budget", Some(1010.0), Some(1000.0)));
        // 6 pauses of 10 campaigns: 0.6 of them, above max_action_fraction 0.5 and max_pause_fraction 0.3.
        let pauses: Vec<Change> = (0..6).map(|i| change(&format!("C{i}"), ChangeKind::Pause, None)).collect();
        let r = rules(check(&pauses, &p, &a, &b));
        assert!(r.contains(&"max_action_fraction".to_string()) && r.contains(&"max_pause_fraction".to_string()), "{r:?}");
    }

    #[test]
    fn locks_state_and_shape_are_checked_per_change() {
        let p = portfolio(10);
        let a = ActSettings { locked_campaigns: vec!["C3".into()], ..ActSettings::default() };
        let b = BudgetSettings::default();
        let plan = [
            change("C3", ChangeKind::Pause, None),
            change("CP", ChangeKind::SetBudget, Some(20.0)),
            change("C4", ChangeKind::Resume, None),
            change("C5", ChangeKind::Pause, Some(5.0)),
            change("C6", ChangeKind::SetBudget, None),
            change("C7", ChangeKind::SetBudget, Some(f64::NAN)),
            change("C8", ChangeKind::SetBudget, Some(100.0)),
            change("C9", ChangeKind::Pause, None),
            change("C9", ChangeKind::Pause, None),
            change("C42", ChangeKind::Pause, None),
        ];
        assert_eq!(
            rules(check(&plan, &p, &a, &b)),
            ["locked_campaigns", "campaign_paused", "already_active", "to", "to", "to", "no_change", "duplicate_change", "unknown_campaign"]
        );
        // A resume restarts at min_daily unless asked otherwise; a pause is a person's.
        let resumed = check(&[change("CP", ChangeKind::Resume, None), change("C1", ChangeKind::Pause, None)], &p, &a, &b).unwrap();
        assert_eq!((resumed[0].from, resumed[0].to), (0.0, 15.0));
        assert_eq!((resumed[1].to, resumed[1].paused_by), (0.0, Some(PausedBy::User)));
    }
}
