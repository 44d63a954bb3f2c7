//! The run report: `report.json` is the machine-readable contract (SPEC §9);
//! its markdown, CSV and HTML renderings are kept beside it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::campaign::Baseline;
use super::decision::{Decision, RiskLevel};
use super::plan::{Action, NewCampaign, Totals};
use super::run::{DataQuality, HeldBy, LlmUsage, QuarantinedRow, RunMode, RunStatus, StageReport};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Metrics {
    pub spend: f64,
    pub revenue: f64,
    pub roas: Option<f64>,
    pub roi: Option<f64>,
    pub cpa: Option<f64>,
    pub sales_impact_pct: Option<f64>,
    pub view_impact_pct: Option<f64>,
    pub efficiency: Option<f64>,
    pub risk_score: Option<f64>,
    pub risk_level: Option<RiskLevel>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Budget {
    pub current: f64,
    pub proposed: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CampaignEntry {
    pub campaign_id: String,
    pub product_id: String,
    /// The product's name and category (store text, escaped wherever shown).
    #[serde(default)]
    pub product_name: String,
    #[serde(default)]
    pub category: String,
    pub decision: Decision,
    pub reasons: Vec<String>,
    /// The decision and its reasons as a person says them (`report::words`).
    #[serde(default)]
    pub sentence: String,
    pub baseline: Baseline,
    pub metrics: Metrics,
    pub budget: Budget,
    /// Under `policy = "profit"`: what the original matrix would have said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed_decision: Option<Decision>,
    /// Under `policy = "profit"`: the fitted response curve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<crate::model::plan::ResponseSummary>,
    /// Spend and revenue per day over the report's trend days, oldest
    /// first (for the page's sparkline; not in report.json).
    #[serde(skip)]
    pub trend: Vec<(f64, f64)>,
}

/// The portfolio (the report's campaigns) day by day over the trend days.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PortfolioTrend {
    /// The first day, ISO.
    pub from: String,
    pub spend: Vec<f64>,
    pub revenue: Vec<f64>,
    /// revenue × `objective.margin` − spend.
    pub profit: Vec<f64>,
}

/// The run the "changed since" section compares with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PreviousRun {
    pub run_id: String,
    pub as_of: String,
}

/// A campaign whose decision differs from the previous run's.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Flip {
    pub campaign_id: String,
    pub before: Decision,
    pub after: Decision,
}

/// Who wrote the narrative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NarrativeSource {
    Llm,
    Template,
}

named!(NarrativeSource, "narrative source", Llm => "llm", Template => "template");

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub run_id: String,
    pub as_of: String,
    pub dry_run: bool,
    /// `act.mode` of a run (`backfill` for a replayed day).
    pub mode: RunMode,
    pub status: RunStatus,
    pub data_quality: DataQuality,
    pub held_by: Vec<HeldBy>,
    pub campaigns: Vec<CampaignEntry>,
    pub actions: Vec<Action>,
    pub new_campaigns: Vec<NewCampaign>,
    pub totals: Totals,
    pub narrative: String,
    pub narrative_source: NarrativeSource,
    pub llm: LlmUsage,
    pub decision_counts: BTreeMap<Decision, usize>,
    pub stages: Vec<StageReport>,
    /// The shard this run decided for (`"K/N"`), or null for the whole
    /// portfolio: budgets and guardrails are of this shard's campaigns only.
    pub shard: Option<String>,
    /// The first quarantined rows (all of them are in the database).
    pub quarantine_sample: Vec<QuarantinedRow>,
    /// The learning loop (SPEC §13): did the changes work?
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcomes: Option<super::outcome::OutcomesSection>,
    /// Daily spend, revenue and profit of the report's campaigns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trend: Option<PortfolioTrend>,
    /// The previous stored run, and the campaigns whose decision changed since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<PreviousRun>,
    #[serde(default)]
    pub changes: Vec<Flip>,
}

/// A stored run in the list of runs (`report --list`, `reports/index.html`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IndexedRun {
    pub run_id: String,
    pub as_of: String,
    pub started_at: String,
    pub status: String,
    pub dry_run: bool,
    pub mode: String,
    /// Campaigns per decision.
    pub decisions: BTreeMap<Decision, u64>,
    pub actions: u64,
    pub applied: u64,
}

/// The formats a report is rendered and kept in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    Md,
    Html,
    Json,
    Csv,
}

named!(ReportFormat, "report format", Md => "md", Html => "html", Json => "json", Csv => "csv");

/// The rendered report files, as written and stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub json: String,
    pub markdown: String,
    pub csv: String,
    pub html: String,
}

impl Rendered {
    pub fn get(&self, format: ReportFormat) -> &str {
        match format {
            ReportFormat::Md => &self.markdown,
            ReportFormat::Html => &self.html,
            ReportFormat::Json => &self.json,
            ReportFormat::Csv => &self.csv,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_the_serialized_ones() {
        crate::model::names::assert_serde_names(super::NarrativeSource::ALL);
        crate::model::names::assert_serde_names(super::ReportFormat::ALL);
    }
}
