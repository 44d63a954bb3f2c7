//! The kinds a configuration chooses between: which connector, which views
//! source, which model provider, how to act. Named in `pipeline.toml`
//! exactly as the serde names say; an unknown name is a configuration error
//! naming its key.

use serde::{Deserialize, Serialize};

use super::run::RunMode;

/// `store.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// The SPEC §3 tables in `store.path`.
    Files,
    /// The WooCommerce REST API.
    Woocommerce,
    /// `sandbox serve`'s WooCommerce-shaped routes (views from its GA4 route).
    Sandbox,
}

named!(StoreKind, "store kind", Files => "files", Woocommerce => "woocommerce", Sandbox => "sandbox");

/// `ads.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AdsKind {
    /// The SPEC §3 tables in `ads.path`; actions appended to `actions_applied.csv`.
    Files,
    /// The Impact.com brand API.
    Impact,
    /// The sandbox's budgeted platform under `/_sandbox/`.
    Sandbox,
}

named!(AdsKind, "ads kind", Files => "files", Impact => "impact", Sandbox => "sandbox");

/// `views.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ViewsKind {
    /// No views source: view impact is null, with the reason.
    None,
    /// A `views.csv` (date, product_id, views) in `views.path`.
    Files,
    /// The GA4 Data API.
    Ga4,
}

named!(ViewsKind, "views kind", None => "none", Files => "files", Ga4 => "ga4");

/// `views.item_id`: what GA4's itemId holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ViewsItemId {
    Id,
    Sku,
}

named!(ViewsItemId, "views item id", Id => "id", Sku => "sku");

/// `llm.provider`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LlmProvider {
    /// Template text only.
    None,
    /// Any OpenAI-compatible server.
    Openai,
}

named!(LlmProvider, "llm provider", None => "none", Openai => "openai");

/// `search.kind`: the chat's web search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchKind {
    /// No web search: the router says so.
    None,
    /// A SearxNG instance's JSON API (`/search?q=…&format=json`).
    Searxng,
}

named!(SearchKind, "search kind", None => "none", Searxng => "searxng");

/// `act.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ActMode {
    /// Apply the plan.
    Auto,
    /// Save the plan as proposals for `approve`.
    Manual,
}

named!(ActMode, "act mode", Auto => "auto", Manual => "manual");

impl From<ActMode> for RunMode {
    fn from(m: ActMode) -> RunMode {
        match m {
            ActMode::Auto => RunMode::Auto,
            ActMode::Manual => RunMode::Manual,
        }
    }
}

/// `budget.strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BudgetStrategy {
    /// Water-filling in proportion to efficiency (SPEC §7).
    Proportional,
}

named!(BudgetStrategy, "budget strategy", Proportional => "proportional");

/// How campaigns are judged (SPEC §13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DecisionPolicy {
    /// The original design's matrix (SPEC §6) and budget rules (§7).
    Seed,
    /// Each campaign's own response curve; budgets to equal marginal profit.
    Profit,
}

named!(DecisionPolicy, "decision policy", Seed => "seed", Profit => "profit");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::names::assert_serde_names;

    #[test]
    fn names_are_the_serialized_ones() {
        assert_serde_names(StoreKind::ALL);
        assert_serde_names(AdsKind::ALL);
        assert_serde_names(ViewsKind::ALL);
        assert_serde_names(SearchKind::ALL);
        assert_serde_names(ViewsItemId::ALL);
        assert_serde_names(LlmProvider::ALL);
        assert_serde_names(ActMode::ALL);
        assert_serde_names(BudgetStrategy::ALL);
        assert_serde_names(DecisionPolicy::ALL);
    }
}
