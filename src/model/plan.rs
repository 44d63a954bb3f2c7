//! The plan a run decides: per-campaign decisions, new campaigns and the
//! actions they imply, each with a deterministic key.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::campaign::{Baseline, CampaignRow, PausedBy};
use super::day::{date_of, parse_day, Day};
use super::decision::{RiskLevel, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Pause,
    Resume,
    SetBudget,
    Create,
}

named!(ActionKind, "action kind", Pause => "pause", Resume => "resume", SetBudget => "set_budget", Create => "create");

/// Where an action stands in a report (SPEC §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    Applied,
    Proposed,
    Skipped,
    Failed,
}

named!(ActionStatus, "action status", Applied => "applied", Proposed => "proposed", Skipped => "skipped", Failed => "failed");

/// A new campaign's words: what the platform shows. Written by the template
/// or the model; travels inside the create action, so whoever applies it
/// (a run, `approve`) sends the same copy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdCopy {
    pub name: String,
    pub headline: String,
    pub description: String,
}

impl AdCopy {
    pub const NAME_MAX: usize = 80;
    pub const HEADLINE_MAX: usize = 30;
    pub const DESCRIPTION_MAX: usize = 90;

    /// The copy as it may reach a platform, whoever wrote it: each field
    /// [`clean`](super::text::clean)ed and cut to its limit; a field left
    /// empty falls back to one built from the cleaned name, or `subject`
    /// (the product id) when nothing of the name is left.
    pub fn cleaned(&self, subject: &str) -> AdCopy {
        use super::text::clean;
        let name = clean(&self.name, Self::NAME_MAX).unwrap_or_else(|| format!("Product {subject}"));
        let headline = clean(&self.headline, Self::HEADLINE_MAX)
            .or_else(|| clean(&format!("Shop {name}"), Self::HEADLINE_MAX))
            .unwrap_or_default();
        let description = clean(&self.description, Self::DESCRIPTION_MAX).unwrap_or_else(|| name.clone());
        AdCopy { name, headline, description }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    pub key: String,
    pub campaign_id: String,
    pub product_id: String,
    pub kind: ActionKind,
    pub from: f64,
    pub to: f64,
    pub paused_by: Option<PausedBy>,
    pub effective_date: NaiveDate,
    pub status: ActionStatus,
    pub reason: String,
    /// A create's ad copy (journaled with it); none for the other kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub copy: Option<AdCopy>,
    /// Under `policy = "profit"`: what the change is expected to bring per day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast: Option<Forecast>,
}

/// An action key that does not say `as_of/subject/kind/target`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("action key {key:?}: {why}")]
pub struct BadKey {
    pub key: String,
    pub why: String,
}

/// What a key says: `as_of/subject/kind/target` (the subject is the campaign,
/// or the product for a create), or `rollback/<key>` for the inverse of one.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionKey {
    pub as_of: Day,
    pub subject: String,
    pub kind: ActionKind,
    pub target: String,
    /// How many `rollback/` prefixes: the inverse of the inverse of …
    pub rollbacks: usize,
}

const ROLLBACK: &str = "rollback/";

impl ActionKey {
    /// The deterministic key of an action, so a rerun recognises it.
    pub fn format(as_of: Day, subject: &str, kind: ActionKind, to: f64) -> String {
        format!("{}/{}/{}/{:.2}", date_of(as_of), subject, kind.as_str(), to)
    }

    /// The key of the action that undoes the one keyed `key`.
    pub fn rollback_of(key: &str) -> String {
        format!("{ROLLBACK}{key}")
    }

    /// The key a rollback key undoes, if it is one.
    pub fn undone(key: &str) -> Option<&str> {
        key.strip_prefix(ROLLBACK)
    }

    pub fn parse(key: &str) -> Result<ActionKey, BadKey> {
        let bad = |why: &str| BadKey { key: key.to_string(), why: why.to_string() };
        let mut rest = key;
        let mut rollbacks = 0;
        while let Some(r) = rest.strip_prefix(ROLLBACK) {
            rest = r;
            rollbacks += 1;
        }
        let (day, rest) = rest.split_once('/').ok_or_else(|| bad("no as_of"))?;
        let as_of = parse_day(day).map_err(|e| bad(&e.to_string()))?;
        let (rest, target) = rest.rsplit_once('/').ok_or_else(|| bad("no target"))?;
        let (subject, kind) = rest.rsplit_once('/').ok_or_else(|| bad("no kind"))?;
        let kind = kind.parse().map_err(|e: super::names::UnknownName| bad(&e.to_string()))?;
        if subject.is_empty() {
            return Err(bad("no subject"));
        }
        Ok(ActionKey { as_of, subject: subject.to_string(), kind, target: target.to_string(), rollbacks })
    }
}

/// A saved action waiting for `approve` or `reject`: the run that proposed
/// it and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Proposal {
    pub run_id: String,
    pub proposed_at: chrono::DateTime<chrono::Utc>,
    pub action: Action,
}

/// A campaign to create for a product, with its budget and copy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NewCampaign {
    pub product_id: String,
    pub daily_budget: f64,
    #[serde(flatten)]
    pub copy: AdCopy,
    #[serde(skip)]
    pub reasons: Vec<String>,
    /// Store text the copy is written from (untrusted).
    #[serde(skip)]
    pub product_name: String,
    #[serde(skip)]
    pub category: String,
    #[serde(skip)]
    pub price: f64,
}

#[derive(Debug, Clone)]
pub struct CampaignDecision {
    pub row: CampaignRow,
    pub verdict: Verdict,
    pub risk_level: Option<RiskLevel>,
    pub locked: bool,
    pub budget_current: f64,
    pub budget_proposed: f64,
    /// Under `policy = "profit"`: what the original matrix said.
    pub seed_decision: Option<super::decision::Decision>,
    /// Under `policy = "profit"`: the fitted response it was judged by.
    pub response: Option<ResponseSummary>,
}

/// A campaign's fitted response (SPEC §13), enough to redraw its curve and
/// band: revenue `R(s) = roas0·s/(1 + s/half)` through average ROAS `roas`
/// at daily spend `spend` with cost-per-click elasticity `elasticity`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ResponseSummary {
    pub roas: f64,
    /// Standard error of ln(roas).
    pub log_roas_se: f64,
    pub elasticity: f64,
    pub elasticity_se: f64,
    /// Mean daily spend of the days the ROAS is of.
    pub spend: f64,
    /// Share of its budget it spends.
    pub burn: f64,
    pub margin: f64,
    /// `model.interval_scale` of the run (the band's width).
    pub interval_scale: f64,
}

impl CampaignDecision {
    pub fn baseline(&self) -> Baseline {
        self.row.baseline()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Totals {
    pub budget_before: f64,
    pub budget_after: f64,
    pub savings: f64,
    /// Under `policy = "profit"`: the portfolio's expected daily profit of
    /// the campaigns with a fitted curve, at today's budgets and at the plan's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_profit_before: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_profit_after: Option<f64>,
}

/// What an action is expected to bring per day (SPEC §13): at its new
/// budget, and the change against leaving it, each with an 80 % interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    pub spend: f64,
    pub revenue: f64,
    pub profit: f64,
    /// 80 % interval of `profit`.
    pub low: f64,
    pub high: f64,
    /// Expected change in daily profit against today's budget, and its 80 % interval.
    pub delta_profit: f64,
    pub delta_low: f64,
    pub delta_high: f64,
    /// The curve it came from, so a follow-up can hold it to the spend the
    /// campaign really had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fit: Option<ResponseSummary>,
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub as_of: Day,
    pub campaigns: Vec<CampaignDecision>,
    pub new_campaigns: Vec<NewCampaign>,
    pub actions: Vec<Action>,
    pub totals: Totals,
}

impl Plan {
    /// Gives the new campaign for `product_id` its copy, in the plan's list
    /// and in its create action alike.
    pub fn set_copy(&mut self, product_id: &str, copy: AdCopy) {
        let copy = copy.cleaned(product_id);
        for a in self.actions.iter_mut().filter(|a| a.kind == ActionKind::Create && a.product_id == product_id) {
            a.copy = Some(copy.clone());
        }
        for n in self.new_campaigns.iter_mut().filter(|n| n.product_id == product_id) {
            n.copy = copy.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::names::assert_serde_names;

    #[test]
    fn names_are_the_serialized_ones() {
        assert_serde_names(ActionKind::ALL);
        assert_serde_names(ActionStatus::ALL);
        assert!("creat".parse::<ActionKind>().is_err());
    }

    #[test]
    fn keys_are_deterministic_and_parse_back() {
        let k = ActionKey::format(20000, "C1", ActionKind::Pause, 0.0);
        assert_eq!(k, "2024-10-04/C1/pause/0.00");
        let p = ActionKey::parse(&k).unwrap();
        assert_eq!((p.as_of, p.subject.as_str(), p.kind, p.target.as_str(), p.rollbacks), (20000, "C1", ActionKind::Pause, "0.00", 0));
        // A subject may hold slashes, commas and quotes.
        let k = ActionKey::rollback_of(&ActionKey::format(20000, "C/1,\"x", ActionKind::SetBudget, 12.5));
        let p = ActionKey::parse(&k).unwrap();
        assert_eq!((p.subject.as_str(), p.kind, p.target.as_str(), p.rollbacks), ("C/1,\"x", ActionKind::SetBudget, "12.50", 1));
        assert_eq!(ActionKey::undone(&k), Some("2024-10-04/C/1,\"x/set_budget/12.50"));
    }

    #[test]
    fn a_key_that_does_not_parse_is_an_error_not_1970() {
        for bad in ["2026-13-01/C1/pause/0.00", "C1/pause/0.00", "2026-03-31/C1/stop/0.00", "2026-03-31//pause/0.00", "garbage"] {
            assert!(ActionKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_copy_goes_to_the_new_campaign_and_its_create_action() {
        let copy = AdCopy { name: "Trail Shoe".into(), headline: "Shop Trail Shoe".into(), description: "Light.".into() };
        let mut plan = Plan { as_of: 0, campaigns: vec![], new_campaigns: vec![], actions: vec![], totals: Totals::default() };
        plan.new_campaigns.push(NewCampaign {
            product_id: "P1".into(),
            daily_budget: 10.0,
            copy: AdCopy::default(),
            reasons: vec![],
            product_name: String::new(),
            category: String::new(),
            price: 1.0,
        });
        plan.actions.push(Action {
            key: "k".into(),
            campaign_id: String::new(),
            product_id: "P1".into(),
            kind: ActionKind::Create,
            from: 0.0,
            to: 10.0,
            paused_by: None,
            effective_date: date_of(1),
            status: ActionStatus::Proposed,
            reason: String::new(),
            copy: None,
            forecast: None,
        });
        plan.set_copy("P1", copy.clone());
        assert_eq!(plan.new_campaigns[0].copy, copy);
        assert_eq!(plan.actions[0].copy.as_ref(), Some(&copy));
        let json = serde_json::to_value(&plan.new_campaigns[0]).unwrap();
        assert_eq!(json["name"], "Trail Shoe", "the report keeps its flat shape: {json}");
    }
}
