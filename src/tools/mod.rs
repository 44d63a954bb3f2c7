//! The tool registry (SPEC §12): the one way the MCP server (and the chat)
//! reach the pipeline's data. Each tool is a typed function over the
//! database and the stored runs; its arguments are a serde type whose JSON
//! Schema comes from the type (schemars), unknown arguments are an error
//! naming them, and its result is what the pipeline computed — no tool
//! invents a number. Writes are off unless `[tools] allow_writes`; a write
//! only saves proposals (`approve` applies them, as a tool only with
//! `[tools] allow_approve`). Every call is audited (`tool_calls`).

mod read;
mod write;

use std::sync::Arc;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

use crate::clock::Clock;
use crate::config::LoadedConfig;
use crate::db::{Db, DbError};
use crate::model::report::{Report, ReportFormat};

pub use read::{CampaignMetrics, Explain, GetBudget, History, LatestReport, ListCampaigns, ListProposals, Outcomes};
pub use write::{Approve, Reject, SaveProposal};

/// Why a call did not answer.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("unknown tool {0:?}")]
    UnknownTool(String),
    /// A write tool while writes are off: named with the key that turns it on.
    #[error("{tool} is off: set [tools] {key} = true to use it")]
    Off { tool: &'static str, key: &'static str },
    /// Arguments that do not fit the tool's schema (an unknown one named).
    #[error("{tool}: bad arguments: {message}")]
    BadArguments { tool: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    /// A write the rules refuse: every reason, with the rule and the numbers.
    #[error("{tool} refused, nothing saved or applied: {summary}")]
    Refused { tool: &'static str, summary: String, detail: Value },
    /// The tool ran and failed (a platform call, the run lock held).
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("a stored report does not decode: {0}")]
    Stored(#[from] serde_json::Error),
}

impl ToolError {
    /// What the caller reads: a refusal's reasons as JSON, else the message.
    pub fn body(&self) -> String {
        match self {
            ToolError::Refused { detail, .. } => detail.to_string(),
            other => other.to_string(),
        }
    }

    /// The request itself is wrong (JSON-RPC invalid params), not the tool.
    pub fn is_bad_request(&self) -> bool {
        matches!(self, ToolError::UnknownTool(_) | ToolError::BadArguments { .. } | ToolError::Off { .. })
    }
}

/// Who may call a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    /// Listed only with `[tools] allow_writes`.
    Write,
    /// Listed only with `[tools] allow_approve` (and `allow_writes`).
    Approve,
}

/// Every tool; its name is written here once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ToolName {
    ListCampaigns,
    GetBudget,
    CampaignMetrics,
    Explain,
    LatestReport,
    History,
    ListProposals,
    Outcomes,
    SaveProposal,
    Approve,
    Reject,
}

named!(
    ToolName, "tool",
    ListCampaigns => "list_campaigns", GetBudget => "get_budget", CampaignMetrics => "campaign_metrics", Explain => "explain",
    LatestReport => "latest_report", History => "history", ListProposals => "list_proposals", Outcomes => "outcomes",
    SaveProposal => "save_proposal", Approve => "approve", Reject => "reject",
);

fn schema<T: JsonSchema>() -> Value {
    let mut v = serde_json::to_value(schemars::schema_for!(T)).unwrap_or_else(|_| json!({"type": "object"}));
    if let Some(o) = v.as_object_mut() {
        o.remove("$schema");
        o.remove("title");
        o.entry("properties").or_insert_with(|| json!({}));
    }
    v
}

impl ToolName {
    pub fn access(self) -> Access {
        match self {
            ToolName::SaveProposal => Access::Write,
            ToolName::Approve | ToolName::Reject => Access::Approve,
            _ => Access::Read,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            ToolName::ListCampaigns => "The campaigns of a run (the newest by default) with their decision, status after the run, spend, revenue, ROI and budget.",
            ToolName::GetBudget => "Per campaign the current and proposed daily budget and the decision; the portfolio's totals (budget before, after, savings, expected profit).",
            ToolName::CampaignMetrics => "A campaign's daily rows (impressions, clicks, spend, conversions, revenue, new customers) between two dates, from the data the runs read, with their sums.",
            ToolName::Explain => "Why a campaign got its decision: the rule's reasons, the numbers behind them, its fitted response and the forecast of its action.",
            ToolName::LatestReport => "The newest run's report as markdown, JSON, CSV or HTML.",
            ToolName::History => "Every change campaign-pilot made or was asked to make, oldest first, with before and after values.",
            ToolName::ListProposals => "Saved proposals (waiting ones by default) with the run or call that made them: what approve would apply.",
            ToolName::Outcomes => "The follow-ups of applied actions: what each was expected to bring per day, what it did, hit or miss.",
            ToolName::SaveProposal => "Proposes budget changes, pauses or resumes. Each change is checked by the run's own rules (max increase and decrease, min_daily, locked campaigns, total budget, blast-radius limits); a refused plan saves nothing and names every rule with its numbers; an accepted one is saved as proposals that only approve applies.",
            ToolName::Approve => "Applies the waiting proposals of a proposal id or one action key, exactly once, through the same checks as `campaign-pilot approve` (stale proposals and guardrails refuse).",
            ToolName::Reject => "Discards the waiting proposals of a proposal id or one action key.",
        }
    }

    pub fn input_schema(self) -> Value {
        match self {
            ToolName::ListCampaigns => schema::<ListCampaigns>(),
            ToolName::GetBudget => schema::<GetBudget>(),
            ToolName::CampaignMetrics => schema::<CampaignMetrics>(),
            ToolName::Explain => schema::<Explain>(),
            ToolName::LatestReport => schema::<LatestReport>(),
            ToolName::History => schema::<History>(),
            ToolName::ListProposals => schema::<ListProposals>(),
            ToolName::Outcomes => schema::<Outcomes>(),
            ToolName::SaveProposal => schema::<SaveProposal>(),
            ToolName::Approve => schema::<Approve>(),
            ToolName::Reject => schema::<Reject>(),
        }
    }
}

/// What a client sees of a tool: its name, what it does and its arguments' schema.
#[derive(Debug, Clone, Serialize)]
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub input_schema: Value,
}

/// The conformance suite's error scenario calls a tool of its own that
/// always fails; a build with the test hooks lists it when
/// CAMPAIGN_PILOT_TEST_ERROR_TOOL is set, so that scenario runs through the
/// same path as any tool that fails.
#[cfg(feature = "test-hooks")]
const TEST_ERROR_TOOL: &str = "test_error_handling";

#[cfg(feature = "test-hooks")]
fn test_error_tool_on() -> bool {
    std::env::var_os("CAMPAIGN_PILOT_TEST_ERROR_TOOL").is_some()
}

/// The registry over one database and configuration.
pub struct Hub {
    db: Db,
    cfg: Arc<LoadedConfig>,
    clock: Arc<dyn Clock>,
    /// The last report decoded, by run id: every read tool starts from one.
    cached: tokio::sync::Mutex<Option<(String, Arc<Report>)>>,
}

fn args<T: DeserializeOwned>(tool: &'static str, v: Value) -> Result<T, ToolError> {
    let v = if v.is_null() { json!({}) } else { v };
    serde_json::from_value(v).map_err(|e| ToolError::BadArguments { tool, message: e.to_string() })
}

impl Hub {
    pub fn new(db: Db, cfg: Arc<LoadedConfig>, clock: Arc<dyn Clock>) -> Self {
        Hub { db, cfg, clock, cached: tokio::sync::Mutex::new(None) }
    }

    fn allowed(&self, access: Access) -> bool {
        let t = &self.cfg.settings.tools;
        match access {
            Access::Read => true,
            Access::Write => t.allow_writes,
            Access::Approve => t.allow_writes && t.allow_approve,
        }
    }

    /// The tools this configuration offers, in the order clients list them:
    /// a write that is off is not listed at all.
    pub fn specs(&self) -> Vec<ToolSpec> {
        #[allow(unused_mut)]
        let mut specs: Vec<ToolSpec> = ToolName::ALL
            .iter()
            .filter(|t| self.allowed(t.access()))
            .map(|&t| ToolSpec { name: t.as_str(), description: t.description(), input_schema: t.input_schema() })
            .collect();
        #[cfg(feature = "test-hooks")]
        if test_error_tool_on() {
            specs.push(ToolSpec { name: TEST_ERROR_TOOL, description: "Always fails (the conformance suite's error scenario).", input_schema: json!({"type": "object", "properties": {}}) });
        }
        specs
    }

    /// Calls `name` with `arguments` for `caller`, and audits the call.
    pub async fn call(&self, name: &str, arguments: Value, caller: &str) -> Result<Value, ToolError> {
        let result = self.dispatch(name, arguments.clone(), caller).await;
        let (ok, summary) = match &result {
            Ok(v) => (true, format!("{} bytes", v.to_string().len())),
            Err(e) => (false, e.to_string()),
        };
        self.db.audit_tool_call(name, &arguments.to_string(), caller, ok, &summary).await?;
        result
    }

    async fn dispatch(&self, name: &str, a: Value, caller: &str) -> Result<Value, ToolError> {
        #[cfg(feature = "test-hooks")]
        if name == TEST_ERROR_TOOL && test_error_tool_on() {
            return Err(ToolError::Failed("This tool intentionally returns an error for testing".into()));
        }
        let tool: ToolName = name.parse().map_err(|_| ToolError::UnknownTool(name.to_string()))?;
        match tool.access() {
            Access::Write if !self.allowed(Access::Write) => return Err(ToolError::Off { tool: tool.as_str(), key: "allow_writes" }),
            Access::Approve if !self.allowed(Access::Approve) => return Err(ToolError::Off { tool: tool.as_str(), key: "allow_approve" }),
            _ => {}
        }
        let n = tool.as_str();
        match tool {
            ToolName::ListCampaigns => self.list_campaigns(args(n, a)?).await,
            ToolName::GetBudget => self.get_budget(args(n, a)?).await,
            ToolName::CampaignMetrics => self.campaign_metrics(args(n, a)?).await,
            ToolName::Explain => self.explain(args(n, a)?).await,
            ToolName::LatestReport => self.latest_report(args(n, a)?).await,
            ToolName::History => self.history(args(n, a)?).await,
            ToolName::ListProposals => self.list_proposals(args(n, a)?).await,
            ToolName::Outcomes => self.outcomes(args(n, a)?).await,
            ToolName::SaveProposal => self.save_proposal(args(n, a)?, caller).await,
            ToolName::Approve => self.approve(args(n, a)?).await,
            ToolName::Reject => self.reject(args(n, a)?).await,
        }
    }

    /// The registry's clock (the chat's sessions expire by it).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// The campaign ids of the newest run (not a tool: the chat's router
    /// recognises them in a message).
    pub async fn campaign_ids(&self) -> Result<std::collections::HashSet<String>, ToolError> {
        Ok(self.report(None, None).await?.campaigns.iter().map(|c| c.campaign_id.clone()).collect())
    }

    /// The report of `run_id`, else of the newest run as of `as_of`, else
    /// of the newest run.
    async fn report(&self, run_id: Option<&str>, as_of: Option<&str>) -> Result<Arc<Report>, ToolError> {
        let id = match run_id {
            Some(id) => Some(id.to_string()),
            None => self.db.newest_run_id(as_of).await?,
        };
        let missing = || {
            ToolError::NotFound(match (run_id, as_of) {
                (Some(id), _) => format!("no report for run {id}"),
                (None, Some(day)) => format!("no run decided as of {day}"),
                (None, None) => "no run has a report yet: run `campaign-pilot run` first".into(),
            })
        };
        let id = id.ok_or_else(missing)?;
        let mut cached = self.cached.lock().await;
        if let Some((cached_id, r)) = cached.as_ref() {
            if *cached_id == id {
                return Ok(r.clone());
            }
        }
        let body = self.db.stored_report(Some(&id), ReportFormat::Json).await?.and_then(|(_, b)| b).ok_or_else(missing)?;
        let r: Arc<Report> = Arc::new(serde_json::from_str(&body)?);
        *cached = Some((id, r.clone()));
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_an_object_schema_and_unknown_arguments_are_named() {
        for t in ToolName::ALL {
            assert_eq!(t.input_schema()["type"], "object", "{t}");
            assert!(!t.description().is_empty());
        }
        let err = args::<Explain>("explain", json!({"campaign_id": "C1", "campaign": "C1"})).unwrap_err();
        assert!(err.to_string().contains("unknown field `campaign`"), "{err}");
        let err = args::<Explain>("explain", json!({"campaign_id": 7})).unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
        let err = args::<SaveProposal>("save_proposal", json!({"rationale": "r", "changes": [{"campaign_id": "C1", "kind": "set_budget", "to": 20, "force": true}]})).unwrap_err();
        assert!(err.to_string().contains("unknown field `force`"), "{err}");
        let err = args::<SaveProposal>("save_proposal", json!({"rationale": "r", "changes": [{"campaign_id": "C1", "kind": "create"}]})).unwrap_err();
        assert!(err.to_string().contains("unknown variant `create`"), "{err}");
    }
}
