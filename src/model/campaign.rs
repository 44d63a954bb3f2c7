//! A campaign's states and everything the rules know about one judged
//! campaign.

use serde::{Deserialize, Serialize};

use super::day::Day;

/// `campaigns.status` (SPEC §3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    #[default]
    Active,
    Paused,
    Ended,
}

named!(CampaignStatus, "campaign status", Active => "active", Paused => "paused", Ended => "ended");

/// Who paused a campaign (`campaigns.paused_by`; empty is nobody).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PausedBy {
    /// The matrix paused it: it may be resumed after the cooldown.
    Pipeline,
    /// An emergency pause: only a person resumes it.
    PipelineEmergency,
    /// A person (or a rollback, a person's decision): only a person resumes it.
    User,
}

named!(PausedBy, "paused_by", Pipeline => "pipeline", PipelineEmergency => "pipeline_emergency", User => "user");

impl PausedBy {
    /// `paused_by` as a table holds it: empty is nobody.
    pub fn parse_optional(text: &str) -> Result<Option<PausedBy>, super::names::UnknownName> {
        if text.is_empty() { Ok(None) } else { text.parse().map(Some) }
    }
}

/// Which baseline the campaign's impacts are measured against (SPEC §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Baseline {
    PreCampaign,
    Trend,
}

named!(Baseline, "baseline", PreCampaign => "pre_campaign", Trend => "trend");

/// Everything the rules need to know about one judged campaign.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CampaignRow {
    pub campaign_id: String,
    pub product_id: String,
    pub product_name: String,
    pub category: String,
    pub status: CampaignStatus,
    pub paused_by: Option<PausedBy>,
    pub paused_at: Option<Day>,
    pub start_date: Day,
    pub daily_budget: f64,
    pub price: f64,
    pub stock: i64,
    pub pre_campaign: bool,
    pub cur_days: u64,
    pub base_days: u64,
    pub units_cur: u64,
    pub units_base: u64,
    pub views_cur: u64,
    pub views_base: u64,
    pub spend: f64,
    pub revenue: f64,
    pub conversions: u64,
    pub new_customers: u64,
    pub spend_days: u64,
    pub roas: Option<f64>,
    pub roi: Option<f64>,
    pub cpa: Option<f64>,
    pub sales_impact: Option<f64>,
    pub view_impact: Option<f64>,
    pub efficiency: Option<f64>,
    pub burn: f64,
    pub risk_score: Option<f64>,
    /// The store has no views source (view impact and efficiency are null).
    pub views_missing: bool,
    /// Spend on as_of when it passed the daily budget kept in campaign-pilot's
    /// ledger (a platform without budgets: Impact).
    pub ledger_overspend: Option<f64>,
    /// The daily budget was observed from the ad's own spend (a platform
    /// without budgets, an ad seen for the first time), with that mean.
    pub budget_observed: Option<f64>,
}

impl CampaignRow {
    pub fn baseline(&self) -> Baseline {
        if self.pre_campaign { Baseline::PreCampaign } else { Baseline::Trend }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::names::assert_serde_names;

    #[test]
    fn names_are_the_serialized_ones_and_nothing_else_parses() {
        assert_serde_names(CampaignStatus::ALL);
        assert_serde_names(PausedBy::ALL);
        assert_serde_names(Baseline::ALL);
        assert!("Active".parse::<CampaignStatus>().is_err());
        let e = "robot".parse::<PausedBy>().unwrap_err();
        assert_eq!(e.to_string(), "unknown paused_by \"robot\" (known: pipeline, pipeline_emergency, user)");
        assert_eq!(PausedBy::parse_optional(""), Ok(None));
    }
}
