//! The learning loop's records (SPEC §13): what each applied action was
//! expected to do, what it did, and what that says about the forecasts.

use serde::{Deserialize, Serialize};

use super::campaign::PausedBy;
use super::plan::{ActionKind, Forecast};

/// The rule an action came from, as outcomes are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Pause,
    EmergencyPause,
    BudgetUp,
    BudgetDown,
    Resume,
    Create,
}

named!(Rule, "rule", Pause => "pause", EmergencyPause => "emergency_pause", BudgetUp => "budget_up",
    BudgetDown => "budget_down", Resume => "resume", Create => "create");

impl Rule {
    /// The rule of an action of `kind` from `from` to `to`.
    pub fn of(kind: ActionKind, from: f64, to: f64, paused_by: Option<PausedBy>) -> Rule {
        match kind {
            ActionKind::Pause if paused_by == Some(PausedBy::PipelineEmergency) => Rule::EmergencyPause,
            ActionKind::Pause => Rule::Pause,
            ActionKind::Resume => Rule::Resume,
            ActionKind::Create => Rule::Create,
            ActionKind::SetBudget if to >= from => Rule::BudgetUp,
            ActionKind::SetBudget => Rule::BudgetDown,
        }
    }
}

/// An applied action whose follow-up is due: what the journal keeps of it.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedAction {
    pub key: String,
    /// The day of data it was decided on; it took effect the day after.
    pub as_of: super::day::Day,
    /// Empty for a create until the platform's campaign is found.
    pub campaign_id: String,
    pub product_id: String,
    pub kind: ActionKind,
    pub from: f64,
    pub to: f64,
    pub paused_by: Option<PausedBy>,
    pub forecast: Option<Forecast>,
}

/// A window's per-day averages.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowPnl {
    pub days: u32,
    pub spend: f64,
    pub revenue: f64,
    /// margin × revenue − spend.
    pub profit: f64,
}

/// One follow-up of one applied action, `follow_up_days` after it took effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub action_key: String,
    pub follow_up_days: u32,
    /// The action's as_of (the day of data it was decided on).
    pub action_as_of: String,
    /// The as_of of the run that followed it up.
    pub checked_as_of: String,
    pub campaign_id: String,
    pub product_id: String,
    pub rule: Rule,
    pub from_budget: f64,
    pub to_budget: f64,
    /// The `follow_up_days` up to the action's as_of, and the days after it.
    pub before: WindowPnl,
    pub after: WindowPnl,
    /// after.profit − before.profit.
    pub observed_delta: f64,
    /// What the action said it would bring per day (its forecast's Δprofit
    /// and 80 % interval); null for an action without a forecast.
    pub forecast_delta: Option<f64>,
    pub forecast_low: Option<f64>,
    pub forecast_high: Option<f64>,
    /// The forecast's curve at the spend the campaign really had in the two
    /// windows: the change it predicts and its 80 % band (the action's
    /// interval scale), and the band at scale 1 (what calibration rescales).
    pub expected_delta: Option<f64>,
    pub band_low: Option<f64>,
    pub band_high: Option<f64>,
    pub band1_low: Option<f64>,
    pub band1_high: Option<f64>,
    /// The interval scale the forecast was made with.
    pub interval_scale: Option<f64>,
    /// Standard error of observed_delta from the days' own scatter around
    /// the curve (the noise of a window's average).
    pub noise_se: f64,
    /// The 80 % interval the observed change is held to: the band widened
    /// by the noise; `hit` when observed_delta is inside.
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub hit: Option<bool>,
    /// Other applied actions on the campaign inside the window (their
    /// effect is in the observation, and in the expected change).
    pub overlapping: u32,
}

/// Per rule: how the followed-up actions did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleStats {
    pub rule: String,
    pub follow_up_days: u32,
    pub count: usize,
    /// Follow-ups judged (with a forecast), and the share inside their interval.
    pub judged: usize,
    pub coverage: Option<f64>,
    pub mean_observed_delta: f64,
    pub mean_expected_delta: Option<f64>,
}

/// The forecasts' interval scale: configured, and what the follow-ups say.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub configured_scale: f64,
    /// The scale this run's forecasts use.
    pub scale: f64,
    /// The follow-ups it was computed from, and their coverage at the
    /// scales their forecasts had.
    pub outcomes: usize,
    pub coverage: Option<f64>,
    /// The scale that would have put 80 % of them inside (before shrinking
    /// toward the configured one).
    pub observed_scale: Option<f64>,
    /// Campaigns whose own misses widened their uncertainty, and by how much.
    pub widened: Vec<(String, f64)>,
    pub note: String,
}

/// A report's "did the changes work?" section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutcomesSection {
    /// The follow-ups this run made (came due with its data).
    pub due: Vec<Outcome>,
    /// The follow-ups of actions from the last `learning.report_days`,
    /// newest first, at most `learning.report_max_rows` of them
    /// (`recent_total` says how many there are).
    pub recent: Vec<Outcome>,
    pub recent_total: usize,
    pub per_rule: Vec<RuleStats>,
    /// What the changes made or lost to date: Σ observed Δprofit per day ×
    /// the days of each action's longest follow-up, with an 80 % interval
    /// from the noise.
    pub money: f64,
    pub money_low: f64,
    pub money_high: f64,
    pub calibration: Calibration,
}
