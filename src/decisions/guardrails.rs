//! Blast-radius guardrails (SPEC §8): when one trips, nothing is applied and
//! the whole plan becomes proposals. Holding everything, never truncating: a
//! truncated plan could keep the increases and drop the pauses that pay for them.

use crate::config::{ActSettings, BudgetSettings};
use crate::model::plan::{Action, ActionKind};
use crate::model::run::{DataQuality, HeldBy};

/// What the guardrails look at.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PlanShape {
    /// Campaigns active before the run.
    pub active: usize,
    pub actions: usize,
    /// Actions that pause or resume an existing campaign (budget changes
    /// are measured by the money they move instead).
    pub campaign_actions: usize,
    /// Σ |budget change| + Σ budgets paused, over the daily budget before.
    pub budget_moved_fraction: f64,
    pub pauses: usize,
    pub stale: bool,
    pub quarantine_fraction: f64,
    /// Largest budget increase and decrease set by the plan, in percent.
    pub max_increase_pct: f64,
    pub max_decrease_pct: f64,
}

/// The shape of `actions` against a portfolio of `active` campaigns with
/// `budget_before` of daily budget, and the data quality they were decided on.
pub fn shape(actions: &[Action], active: usize, budget_before: f64, quality: &DataQuality) -> PlanShape {
    let moved: f64 = actions
        .iter()
        .map(|a| match a.kind {
            ActionKind::SetBudget => (a.to - a.from).abs(),
            ActionKind::Pause => a.from,
            ActionKind::Resume | ActionKind::Create => 0.0,
        })
        .sum();
    // No budget before (a first run that only creates): nothing to measure
    // against; the count limits still hold.
    let budget_moved_fraction = if budget_before > 0.0 { moved / budget_before } else { 0.0 };
    let (mut inc, mut dec) = (0.0f64, 0.0f64);
    for a in actions.iter().filter(|a| a.kind == ActionKind::SetBudget && a.from > 0.0) {
        let pct = (a.to - a.from) / a.from * 100.0;
        inc = inc.max(pct);
        dec = dec.max(-pct);
    }
    PlanShape {
        active,
        actions: actions.len(),
        campaign_actions: actions.iter().filter(|a| matches!(a.kind, ActionKind::Pause | ActionKind::Resume)).count(),
        budget_moved_fraction,
        pauses: actions.iter().filter(|a| a.kind == ActionKind::Pause).count(),
        stale: quality.stale,
        quarantine_fraction: quality.quarantine_fraction(),
        max_increase_pct: inc,
        max_decrease_pct: dec,
    }
}

fn frac(n: usize, d: usize) -> f64 {
    if d == 0 {
        if n == 0 { 0.0 } else { f64::INFINITY }
    } else {
        n as f64 / d as f64
    }
}

/// Every guardrail the plan trips, with its value and limit.
pub fn check(p: &PlanShape, a: &ActSettings, b: &BudgetSettings) -> Vec<HeldBy> {
    let mut held = Vec::new();
    let mut trip = |name: &str, value: f64, limit: f64| {
        held.push(HeldBy { guardrail: name.to_string(), value, limit });
    };
    if p.actions as u64 > a.max_actions {
        trip("max_actions", p.actions as f64, a.max_actions as f64);
    }
    let action_fraction = frac(p.campaign_actions, p.active);
    if p.campaign_actions > 0 && action_fraction > a.max_action_fraction {
        trip("max_action_fraction", action_fraction, a.max_action_fraction);
    }
    if p.budget_moved_fraction > a.max_budget_moved_fraction + 1e-9 {
        trip("max_budget_moved_fraction", p.budget_moved_fraction, a.max_budget_moved_fraction);
    }
    let pause_fraction = frac(p.pauses, p.active);
    if p.pauses > 0 && pause_fraction > a.max_pause_fraction {
        trip("max_pause_fraction", pause_fraction, a.max_pause_fraction);
    }
    if p.stale {
        trip("stale_data", 1.0, 0.0);
    }
    if p.quarantine_fraction > a.max_quarantine_fraction {
        trip("max_quarantine_fraction", p.quarantine_fraction, a.max_quarantine_fraction);
    }
    // The budget step never breaks these; checking again here means a bug
    // there cannot reach the platform.
    if p.max_increase_pct > b.max_increase_pct + 1e-9 {
        trip("max_increase_pct", p.max_increase_pct, b.max_increase_pct);
    }
    if p.max_decrease_pct > b.max_decrease_pct + 1e-9 {
        trip("max_decrease_pct", p.max_decrease_pct, b.max_decrease_pct);
    }
    held
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> PlanShape {
        PlanShape { active: 100, actions: 10, campaign_actions: 10, pauses: 5, ..Default::default() }
    }

    fn names(p: &PlanShape, a: &ActSettings) -> Vec<String> {
        check(p, a, &BudgetSettings::default()).into_iter().map(|h| h.guardrail).collect()
    }

    #[test]
    fn a_quiet_plan_passes() {
        assert!(names(&shape(), &ActSettings::default()).is_empty());
    }

    #[test]
    fn each_limit_trips_just_above_it() {
        let a = ActSettings { max_actions: 10, ..Default::default() };
        assert!(names(&shape(), &a).is_empty());
        assert_eq!(names(&PlanShape { actions: 11, ..shape() }, &a), vec!["max_actions"]);

        assert!(names(&PlanShape { campaign_actions: 50, ..shape() }, &ActSettings::default()).is_empty());
        assert_eq!(
            names(&PlanShape { campaign_actions: 51, ..shape() }, &ActSettings::default()),
            vec!["max_action_fraction"]
        );
        assert!(names(&PlanShape { pauses: 30, ..shape() }, &ActSettings::default()).is_empty());
        assert_eq!(names(&PlanShape { pauses: 31, ..shape() }, &ActSettings::default()), vec!["max_pause_fraction"]);
        assert_eq!(names(&PlanShape { stale: true, ..shape() }, &ActSettings::default()), vec!["stale_data"]);
        assert!(names(&PlanShape { quarantine_fraction: 0.05, ..shape() }, &ActSettings::default()).is_empty());
        assert_eq!(
            names(&PlanShape { quarantine_fraction: 0.0501, ..shape() }, &ActSettings::default()),
            vec!["max_quarantine_fraction"]
        );
        assert_eq!(names(&PlanShape { max_increase_pct: 20.5, ..shape() }, &ActSettings::default()), vec!["max_increase_pct"]);
        assert!(names(&PlanShape { budget_moved_fraction: 0.5, ..shape() }, &ActSettings::default()).is_empty());
        assert_eq!(
            names(&PlanShape { budget_moved_fraction: 0.51, ..shape() }, &ActSettings::default()),
            vec!["max_budget_moved_fraction"]
        );
    }

    #[test]
    fn budget_moves_count_by_money_and_pauses_by_number() {
        let a = |kind: ActionKind, from: f64, to: f64| Action {
            key: String::new(),
            campaign_id: "C".into(),
            product_id: "P".into(),
            kind,
            from,
            to,
            paused_by: None,
            effective_date: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            status: crate::model::plan::ActionStatus::Proposed,
            reason: String::new(),
            copy: None,
            forecast: None,
        };
        // 20 budget changes of 2.00 and one 30.00 pause on 400.00 of budget.
        let mut acts: Vec<Action> = (0..20).map(|_| a(ActionKind::SetBudget, 20.0, 22.0)).collect();
        acts.push(a(ActionKind::Pause, 30.0, 0.0));
        acts.push(a(ActionKind::Create, 0.0, 25.0));
        let p = super::shape(&acts, 20, 400.0, &DataQuality::default());
        assert_eq!((p.campaign_actions, p.pauses), (1, 1));
        assert!((p.budget_moved_fraction - 70.0 / 400.0).abs() < 1e-12);
        assert!(check(&p, &ActSettings::default(), &BudgetSettings::default()).is_empty(), "many small moves are not a blast");
    }

    #[test]
    fn held_by_carries_value_and_limit() {
        let h = check(&PlanShape { pauses: 40, ..shape() }, &ActSettings::default(), &BudgetSettings::default());
        assert_eq!(h, vec![HeldBy { guardrail: "max_pause_fraction".into(), value: 0.4, limit: 0.3 }]);
    }
}
