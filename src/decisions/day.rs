//! One applied plan per as_of (SPEC §8): what a rerun for a day may still
//! send, given what the journal holds for that day.
//!
//! A rerun's action with a key the journal knows is the same action (the
//! journal reconciles it). One with a new key for a subject and kind that
//! already has an action in effect that day — a budget set to another
//! target, a create with another budget — is a second plan on top of the
//! first: refused, unless the run is a deliberate `--replan`, which sends it
//! as a correction (a create is never sent twice for one product and day).
//! Whatever is sent, the day as a whole keeps the budget invariant: its net
//! change of daily budget (each subject's first `from` to its last `to`)
//! stays within `budget.new_campaign_pool`.

use std::collections::HashMap;

use crate::model::plan::{Action, ActionKey, ActionKind};
use crate::model::run::DayAction;

/// What an action is about: its campaign, or the product for a create.
pub fn subject(a: &Action) -> &str {
    match a.kind {
        ActionKind::Create => &a.product_id,
        ActionKind::Pause | ActionKind::Resume | ActionKind::SetBudget => &a.campaign_id,
    }
}

/// What becomes of one action of a rerun's plan.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Send it (or let the journal reconcile a key it knows).
    Send,
    /// A different action for the same subject and kind is in effect today.
    Refused { in_effect: String },
    /// `--replan`: sent deliberately in place of the one in effect.
    Correction { replaces: String },
}

/// The verdict for each of `plan`'s actions, in order. Rollbacks are a
/// person's and neither bind nor are bound.
pub fn reconcile(day: &[DayAction], plan: &[Action], replan: bool) -> Vec<Verdict> {
    let known: std::collections::HashSet<&str> = day.iter().map(|d| d.key.as_str()).collect();
    let mut in_effect: HashMap<(&str, ActionKind), &str> = HashMap::new();
    for d in day.iter().filter(|d| d.may_be_in_effect() && ActionKey::undone(&d.key).is_none()) {
        in_effect.insert((d.subject.as_str(), d.kind), d.key.as_str());
    }
    plan.iter()
        .map(|a| {
            if known.contains(a.key.as_str()) || ActionKey::undone(&a.key).is_some() {
                return Verdict::Send;
            }
            match in_effect.get(&(subject(a), a.kind)) {
                None => Verdict::Send,
                Some(old) if replan && a.kind != ActionKind::Create => Verdict::Correction { replaces: old.to_string() },
                Some(old) => Verdict::Refused { in_effect: old.to_string() },
            }
        })
        .collect()
}

/// The budget one action leaves its subject with, per its kind.
fn after(kind: ActionKind, to: f64) -> f64 {
    match kind {
        ActionKind::Pause => 0.0,
        ActionKind::Resume | ActionKind::SetBudget | ActionKind::Create => to,
    }
}

fn before(kind: ActionKind, from: f64) -> f64 {
    match kind {
        ActionKind::Create => 0.0,
        // A paused campaign spends nothing: a resume starts from zero.
        ActionKind::Resume => 0.0,
        ActionKind::Pause | ActionKind::SetBudget => from,
    }
}

/// The day's net change of total daily budget if `sending` is sent after
/// what the journal holds in effect: per subject, its first action's budget
/// before to its last action's budget after.
pub fn net_change(day: &[DayAction], sending: &[&Action]) -> f64 {
    let mut first: HashMap<String, f64> = HashMap::new();
    let mut last: HashMap<String, f64> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut see = |subject: &str, kind: ActionKind, from: f64, to: f64| {
        if !first.contains_key(subject) {
            first.insert(subject.to_string(), before(kind, from));
            order.push(subject.to_string());
        }
        last.insert(subject.to_string(), after(kind, to));
    };
    for d in day.iter().filter(|d| d.may_be_in_effect()) {
        see(&d.subject, d.kind, d.from, d.to);
    }
    for a in sending {
        see(subject(a), a.kind, a.from, a.to);
    }
    order.iter().map(|s| last[s] - first[s]).sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::day::date_of;
    use crate::model::plan::ActionStatus;

    fn action(subject: &str, kind: ActionKind, from: f64, to: f64) -> Action {
        let (campaign_id, product_id) = if kind == ActionKind::Create { (String::new(), subject.to_string()) } else { (subject.to_string(), "P".into()) };
        Action {
            key: ActionKey::format(20000, subject, kind, to),
            campaign_id,
            product_id,
            kind,
            from,
            to,
            paused_by: None,
            effective_date: date_of(20001),
            status: ActionStatus::Proposed,
            reason: String::new(),
            copy: None,
            forecast: None,
        }
    }

    use crate::model::run::JournalState;

    fn journaled(a: &Action, state: JournalState) -> DayAction {
        DayAction { key: a.key.clone(), subject: subject(a).to_string(), kind: a.kind, from: a.from, to: a.to, state }
    }

    #[test]
    fn a_new_target_for_a_budget_already_set_today_is_refused_unless_replanned() {
        let first = action("C1", ActionKind::SetBudget, 82.67, 99.20);
        let day = [journaled(&first, JournalState::Applied)];
        let second = action("C1", ActionKind::SetBudget, 82.67, 90.93);
        assert_eq!(reconcile(&day, &[second.clone()], false), vec![Verdict::Refused { in_effect: first.key.clone() }]);
        assert_eq!(reconcile(&day, &[second.clone()], true), vec![Verdict::Correction { replaces: first.key.clone() }]);
        // The same key is the same action: the journal reconciles it.
        assert_eq!(reconcile(&day, &[first.clone()], false), vec![Verdict::Send]);
        // Another campaign, or the same one paused instead, is not bound by it.
        assert_eq!(reconcile(&day, &[action("C2", ActionKind::SetBudget, 10.0, 12.0)], false), vec![Verdict::Send]);
        assert_eq!(reconcile(&day, &[action("C1", ActionKind::Pause, 99.20, 0.0)], false), vec![Verdict::Send]);
    }

    #[test]
    fn a_create_is_never_sent_twice_for_a_product_and_an_unsent_row_binds_nothing() {
        let made = action("P1", ActionKind::Create, 0.0, 24.0);
        let again = action("P1", ActionKind::Create, 0.0, 30.0);
        let day = [journaled(&made, JournalState::Sent)];
        assert!(matches!(reconcile(&day, &[again.clone()], true)[0], Verdict::Refused { .. }));
        let planned = [journaled(&made, JournalState::Planned)];
        assert_eq!(reconcile(&planned, &[again], false), vec![Verdict::Send]);
    }

    #[test]
    fn the_days_net_change_runs_from_each_subjects_first_budget_to_its_last() {
        let raise = action("C1", ActionKind::SetBudget, 80.0, 96.0);
        let pause = action("C2", ActionKind::Pause, 50.0, 0.0);
        let day = [journaled(&raise, JournalState::Applied), journaled(&pause, JournalState::Applied)];
        assert_eq!(net_change(&day, &[]), -34.0);
        // A correction replaces the raise: 80 → 88, not 96 → 88.
        let correction = action("C1", ActionKind::SetBudget, 80.0, 88.0);
        assert_eq!(net_change(&day, &[&correction]), -42.0);
        // A create spends from nothing; a resume from a paused zero.
        let create = action("P9", ActionKind::Create, 0.0, 20.0);
        let resume = action("C3", ActionKind::Resume, 30.0, 15.0);
        assert_eq!(net_change(&day, &[&create, &resume]), -34.0 + 20.0 + 15.0);
    }
}
