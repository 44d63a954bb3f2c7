//! The tool registry (SPEC §12): the one way the MCP server (and the chat)
//! reach the pipeline's data. Each tool is a typed function over the
//! database and the stored runs; its arguments are a serde type whose JSON
//! Schema comes from the type (schemars), unknown arguments are an error
//! naming them, and its result is what the pipeline computed — no tool
//! invents a number. Every call is audited (`tool_calls`).

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::db::outcomes::OutcomeFilter;
use crate::db::{Db, DbError};
use crate::model::decision::Decision;
use crate::model::outcome::Rule;
use crate::model::plan::ActionStatus;
use crate::model::report::{CampaignEntry, Report, ReportFormat};

/// Why a call did not answer.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("unknown tool {0:?}")]
    UnknownTool(String),
    /// Arguments that do not fit the tool's schema (an unknown one named).
    #[error("{tool}: bad arguments: {message}")]
    BadArguments { tool: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("a stored report does not decode: {0}")]
    Stored(#[from] serde_json::Error),
}

/// What a client sees of a tool: its name, what it does and its arguments' schema.
#[derive(Debug, Clone, Serialize)]
pub struct ToolSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub input_schema: Value,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListCampaigns {
    /// Only campaigns with this decision (CONTINUE, OPTIMIZE, MONITOR, PAUSE,
    /// EMERGENCY_PAUSE, RESUME, PAUSED, LEARNING).
    pub decision: Option<String>,
    /// A run id (default: the newest run).
    pub run_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetBudget {
    /// A run id (default: the newest run).
    pub run_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Explain {
    pub campaign_id: String,
    /// A run id (default: the newest run).
    pub run_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LatestReport {
    /// md (default), json, csv or html.
    pub format: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct History {
    /// Only this campaign's changes.
    pub campaign_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Outcomes {
    /// pause, emergency_pause, budget_up, budget_down, resume or create.
    pub rule: Option<String>,
    pub campaign_id: Option<String>,
    /// At most this many, newest first (default 100).
    pub limit: Option<u32>,
}

fn schema<T: JsonSchema>() -> Value {
    let mut v = serde_json::to_value(schemars::schema_for!(T)).unwrap_or_else(|_| json!({"type": "object"}));
    if let Some(o) = v.as_object_mut() {
        o.remove("$schema");
        o.remove("title");
        o.entry("properties").or_insert_with(|| json!({}));
    }
    v
}

/// Every tool, in the order clients list them.
pub fn specs() -> Vec<ToolSpec> {
    vec![
        ToolSpec {
            name: "list_campaigns",
            description: "The campaigns of a run (the newest by default) with their decision, spend, revenue, ROI and budget.",
            input_schema: schema::<ListCampaigns>(),
        },
        ToolSpec {
            name: "get_budget",
            description: "Per campaign the current and proposed daily budget and the decision; the portfolio's totals (budget before, after, savings, expected profit).",
            input_schema: schema::<GetBudget>(),
        },
        ToolSpec {
            name: "explain",
            description: "Why a campaign got its decision: the rule's reasons, the numbers behind them, its fitted response and the forecast of its action.",
            input_schema: schema::<Explain>(),
        },
        ToolSpec {
            name: "latest_report",
            description: "The newest run's report as markdown, JSON, CSV or HTML.",
            input_schema: schema::<LatestReport>(),
        },
        ToolSpec {
            name: "history",
            description: "Every change campaign-pilot made or was asked to make, oldest first, with before and after values.",
            input_schema: schema::<History>(),
        },
        ToolSpec {
            name: "outcomes",
            description: "The follow-ups of applied actions: what each was expected to bring per day, what it did, hit or miss.",
            input_schema: schema::<Outcomes>(),
        },
    ]
}

/// The registry over one database.
pub struct Hub {
    db: Db,
}

/// The decision in a sentence: the report's words for a change, else the
/// decision and its first reason.
fn in_words(c: &CampaignEntry) -> String {
    let changed = c.decision.is_pause() || c.budget.proposed != c.budget.current;
    let words = if changed { crate::report::html::why_in_words(c) } else { String::new() };
    if !words.is_empty() {
        return words;
    }
    let why = c.reasons.first().map(|r| format!(" ({r})")).unwrap_or_default();
    if changed {
        format!("{}: budget {:.2} → {:.2}{why}.", c.decision, c.budget.current, c.budget.proposed)
    } else {
        format!("{}: kept at {:.2} a day{why}.", c.decision, c.budget.current)
    }
}

fn args<T: DeserializeOwned>(tool: &'static str, v: Value) -> Result<T, ToolError> {
    let v = if v.is_null() { json!({}) } else { v };
    serde_json::from_value(v).map_err(|e| ToolError::BadArguments { tool, message: e.to_string() })
}

impl Hub {
    pub fn new(db: Db) -> Self {
        Hub { db }
    }

    /// Calls `name` with `arguments` for `caller`, and audits the call.
    pub async fn call(&self, name: &str, arguments: Value, caller: &str) -> Result<Value, ToolError> {
        let result = self.dispatch(name, arguments.clone()).await;
        let (ok, summary) = match &result {
            Ok(v) => (true, format!("{} bytes", v.to_string().len())),
            Err(e) => (false, e.to_string()),
        };
        self.db.audit_tool_call(name, &arguments.to_string(), caller, ok, &summary).await?;
        result
    }

    async fn dispatch(&self, name: &str, a: Value) -> Result<Value, ToolError> {
        match name {
            "list_campaigns" => {
                let a: ListCampaigns = args("list_campaigns", a)?;
                let decision = a
                    .decision
                    .map(|d| d.to_uppercase().parse::<Decision>().map_err(|e| ToolError::BadArguments { tool: "list_campaigns", message: e.to_string() }))
                    .transpose()?;
                let r = self.report(a.run_id.as_deref()).await?;
                let rows: Vec<Value> = r
                    .campaigns
                    .iter()
                    .filter(|c| decision.is_none_or(|d| c.decision == d))
                    .map(|c| {
                        json!({
                            "campaign_id": c.campaign_id, "product_id": c.product_id, "decision": c.decision,
                            "spend": c.metrics.spend, "revenue": c.metrics.revenue, "roi": c.metrics.roi,
                            "budget_current": c.budget.current, "budget_proposed": c.budget.proposed,
                        })
                    })
                    .collect();
                Ok(json!({ "run_id": r.run_id, "as_of": r.as_of, "campaigns": rows }))
            }
            "get_budget" => {
                let a: GetBudget = args("get_budget", a)?;
                let r = self.report(a.run_id.as_deref()).await?;
                let rows: Vec<Value> = r
                    .campaigns
                    .iter()
                    .map(|c| json!({ "campaign_id": c.campaign_id, "decision": c.decision, "current": c.budget.current, "proposed": c.budget.proposed }))
                    .collect();
                Ok(json!({ "run_id": r.run_id, "as_of": r.as_of, "campaigns": rows, "totals": r.totals }))
            }
            "explain" => {
                let a: Explain = args("explain", a)?;
                let r = self.report(a.run_id.as_deref()).await?;
                let c: &CampaignEntry = r
                    .campaigns
                    .iter()
                    .find(|c| c.campaign_id == a.campaign_id)
                    .ok_or_else(|| ToolError::NotFound(format!("campaign {} is not in run {}", a.campaign_id, r.run_id)))?;
                let action = r.actions.iter().find(|x| x.campaign_id == c.campaign_id);
                Ok(json!({
                    "run_id": r.run_id, "as_of": r.as_of, "campaign_id": c.campaign_id, "product_id": c.product_id,
                    "decision": c.decision, "seed_decision": c.seed_decision, "reasons": c.reasons,
                    "in_words": in_words(c),
                    "metrics": c.metrics, "budget": c.budget, "response": c.response,
                    "action": action.map(|x| json!({ "key": x.key, "kind": x.kind, "from": x.from, "to": x.to, "status": x.status, "applied": x.status == ActionStatus::Applied, "forecast": x.forecast })),
                }))
            }
            "latest_report" => {
                let a: LatestReport = args("latest_report", a)?;
                let format: ReportFormat = a
                    .format
                    .as_deref()
                    .unwrap_or("md")
                    .parse()
                    .map_err(|e: crate::model::names::UnknownName| ToolError::BadArguments { tool: "latest_report", message: e.to_string() })?;
                match self.db.stored_report(None, format).await? {
                    Some((run_id, Some(body))) => Ok(json!({ "run_id": run_id, "format": format, "body": body })),
                    Some((run_id, None)) => Err(ToolError::NotFound(format!("run {run_id} has no {format} report"))),
                    None => Err(ToolError::NotFound("no run has a report yet".into())),
                }
            }
            "history" => {
                let a: History = args("history", a)?;
                Ok(json!({ "changes": self.db.history(a.campaign_id.as_deref()).await? }))
            }
            "outcomes" => {
                let a: Outcomes = args("outcomes", a)?;
                let rule = a
                    .rule
                    .map(|r| r.parse::<Rule>().map_err(|e| ToolError::BadArguments { tool: "outcomes", message: e.to_string() }))
                    .transpose()?;
                let mut rows = self.db.outcomes(&OutcomeFilter { rule, campaign: a.campaign_id, ..OutcomeFilter::default() }).await?;
                let total = rows.len();
                rows.truncate(a.limit.unwrap_or(100) as usize);
                Ok(json!({ "total": total, "outcomes": rows }))
            }
            other => Err(ToolError::UnknownTool(other.to_string())),
        }
    }

    async fn report(&self, run_id: Option<&str>) -> Result<Report, ToolError> {
        let body = match run_id {
            Some(id) => self.db.stored_report(Some(id), ReportFormat::Json).await?.and_then(|(_, b)| b),
            None => self.db.newest_run_report().await?,
        };
        let body = body.ok_or_else(|| ToolError::NotFound(match run_id {
            Some(id) => format!("no report for run {id}"),
            None => "no run has a report yet: run `campaign-pilot run` first".into(),
        }))?;
        Ok(serde_json::from_str(&body)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_has_an_object_schema_and_unknown_arguments_are_named() {
        for t in specs() {
            assert_eq!(t.input_schema["type"], "object", "{}", t.name);
        }
        let err = args::<Explain>("explain", json!({"campaign_id": "C1", "campaign": "C1"})).unwrap_err();
        assert!(err.to_string().contains("unknown field `campaign`"), "{err}");
        let err = args::<Explain>("explain", json!({"campaign_id": 7})).unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
    }
}
