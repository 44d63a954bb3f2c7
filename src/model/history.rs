//! The daily rows the API connectors keep in the database, Impact's actions
//! and the ledger of what Impact cannot hold (budgets, who paused).

use serde::{Deserialize, Serialize};

use super::campaign::PausedBy;
use super::day::Day;

/// One product's sales on one day, as stored (`None` = not a number in the feed).
#[derive(Debug, Clone, PartialEq)]
pub struct SalesRow {
    pub day: Day,
    pub product_id: String,
    pub units: Option<i64>,
    pub revenue: Option<f64>,
}

/// One product's page views on one day.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewsRow {
    pub day: Day,
    pub product_id: String,
    pub views: i64,
}

/// One campaign-day as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignDayRow {
    pub day: Day,
    pub campaign_id: String,
    pub impressions: Option<i64>,
    pub clicks: Option<i64>,
    pub spend: Option<f64>,
    pub conversions: Option<i64>,
    pub revenue: Option<f64>,
    pub new_customers: Option<i64>,
}

/// The state of an Impact action the advertiser took back (a return, a
/// fraud): it counts for nothing. Impact's own name, stored as received.
pub const IMPACT_REVERSED: &str = "REVERSED";

/// One Impact action (a conversion) as fetched and stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ImpactAction {
    pub id: String,
    pub ad_id: String,
    pub day: Day,
    pub state: String,
    pub amount: Option<f64>,
    pub cost: Option<f64>,
    pub new_customer: bool,
}

/// Who set a ledger budget: only a budget someone set is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetSource {
    /// Taken from the ad's own recent spend when it was first seen.
    Observed,
    /// Set by a run of the pipeline (an applied action).
    Pipeline,
    /// Set by a person.
    Person,
}

named!(BudgetSource, "budget source", Observed => "observed", Pipeline => "pipeline", Person => "person");

impl BudgetSource {
    /// Whether spend above this budget pauses the ad.
    pub fn enforced(self) -> bool {
        match self {
            BudgetSource::Observed => false,
            BudgetSource::Pipeline | BudgetSource::Person => true,
        }
    }
}

/// One ad's entry in the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEntry {
    pub daily_budget: f64,
    pub budget_source: BudgetSource,
    pub paused_by: Option<PausedBy>,
    pub paused_at: Option<Day>,
    pub created_key: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::names::assert_serde_names;

    #[test]
    fn only_a_budget_someone_set_is_enforced() {
        assert_serde_names(BudgetSource::ALL);
        assert!(!BudgetSource::Observed.enforced());
        assert!(BudgetSource::Pipeline.enforced() && BudgetSource::Person.enforced());
    }
}
