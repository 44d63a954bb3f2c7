//! The read tools: what the runs computed and stored, as it was computed.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{Hub, ToolError};
use crate::connectors::sync::stored_campaign_days;
use crate::db::outcomes::OutcomeFilter;
use crate::decisions::proposals::Holding;
use crate::model::day::{date_of, parse_day, Day};
use crate::model::decision::Decision;
use crate::model::outcome::Rule;
use crate::model::plan::{ActionKind, ActionStatus};
use crate::model::report::{CampaignEntry, Report, ReportFormat};
use crate::model::run::ProposalStatus;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListCampaigns {
    /// Only campaigns in this state after the run: active or paused.
    pub status: Option<String>,
    /// Only campaigns with this decision (CONTINUE, OPTIMIZE, MONITOR, PAUSE,
    /// EMERGENCY_PAUSE, RESUME, PAUSED, LEARNING).
    pub decision: Option<String>,
    /// The newest run decided as of this day (YYYY-MM-DD).
    pub as_of: Option<String>,
    /// A run id (default: the newest run).
    pub run_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetBudget {
    /// The newest run decided as of this day (YYYY-MM-DD).
    pub as_of: Option<String>,
    /// A run id (default: the newest run).
    pub run_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignMetrics {
    pub campaign_id: String,
    /// First day (YYYY-MM-DD; default 27 days before `to`).
    pub from: Option<String>,
    /// Last day (YYYY-MM-DD; default the newest run's as_of).
    pub to: Option<String>,
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
pub struct ListProposals {
    /// proposed (default: the waiting ones), applied, rejected, skipped,
    /// failed, or all.
    pub status: Option<String>,
    /// At most this many, newest first (default 100).
    pub limit: Option<u32>,
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

/// The longest range `campaign_metrics` returns in one call.
const MAX_METRIC_DAYS: i32 = 366;

fn bad(tool: &'static str, message: impl std::fmt::Display) -> ToolError {
    ToolError::BadArguments { tool, message: message.to_string() }
}

fn day_arg(tool: &'static str, name: &str, v: &str) -> Result<Day, ToolError> {
    parse_day(v).map_err(|e| bad(tool, format!("{name}: {e}")))
}

/// The decision in a sentence: the report's own words.
fn in_words(c: &CampaignEntry) -> String {
    crate::report::said(c)
}

/// Each campaign as the run left it: its state before, with the actions
/// the run applied (a held or manual run applied none).
pub(super) fn holdings(r: &Report) -> BTreeMap<String, Holding> {
    let mut out: BTreeMap<String, Holding> = r
        .campaigns
        .iter()
        .map(|c| {
            let active = !matches!(c.decision, Decision::Paused | Decision::Resume);
            (c.campaign_id.clone(), Holding { product_id: c.product_id.clone(), active, budget: if active { c.budget.current } else { 0.0 } })
        })
        .collect();
    for a in r.actions.iter().filter(|a| a.status == ActionStatus::Applied) {
        if let Some(h) = out.get_mut(&a.campaign_id) {
            h.active = a.kind != ActionKind::Pause;
            h.budget = a.to;
        }
    }
    out
}

impl Hub {
    pub(super) async fn list_campaigns(&self, a: ListCampaigns) -> Result<Value, ToolError> {
        const T: &str = "list_campaigns";
        let decision = a.decision.map(|d| d.to_uppercase().parse::<Decision>().map_err(|e| bad(T, e))).transpose()?;
        let active = match a.status.as_deref() {
            None => None,
            Some("active") => Some(true),
            Some("paused") => Some(false),
            Some(other) => return Err(bad(T, format!("status: {other:?} is not active or paused"))),
        };
        let r = self.report(a.run_id.as_deref(), a.as_of.as_deref()).await?;
        let held = holdings(&r);
        let rows: Vec<Value> = r
            .campaigns
            .iter()
            .filter(|c| decision.is_none_or(|d| c.decision == d))
            .filter(|c| active.is_none_or(|want| held.get(&c.campaign_id).is_some_and(|h| h.active == want)))
            .map(|c| {
                let status = if held.get(&c.campaign_id).is_some_and(|h| h.active) { "active" } else { "paused" };
                json!({
                    "campaign_id": c.campaign_id, "product_id": c.product_id, "decision": c.decision, "status": status,
                    "spend": c.metrics.spend, "revenue": c.metrics.revenue, "roi": c.metrics.roi,
                    "budget_current": c.budget.current, "budget_proposed": c.budget.proposed,
                })
            })
            .collect();
        Ok(json!({ "run_id": r.run_id, "as_of": r.as_of, "campaigns": rows }))
    }

    pub(super) async fn get_budget(&self, a: GetBudget) -> Result<Value, ToolError> {
        let r = self.report(a.run_id.as_deref(), a.as_of.as_deref()).await?;
        let rows: Vec<Value> = r
            .campaigns
            .iter()
            .map(|c| json!({ "campaign_id": c.campaign_id, "decision": c.decision, "current": c.budget.current, "proposed": c.budget.proposed }))
            .collect();
        Ok(json!({ "run_id": r.run_id, "as_of": r.as_of, "campaigns": rows, "totals": r.totals }))
    }

    pub(super) async fn campaign_metrics(&self, a: CampaignMetrics) -> Result<Value, ToolError> {
        const T: &str = "campaign_metrics";
        let to = match a.to.as_deref() {
            Some(v) => day_arg(T, "to", v)?,
            None => day_arg(T, "the newest run's as_of", &self.report(None, None).await?.as_of)?,
        };
        let from = match a.from.as_deref() {
            Some(v) => day_arg(T, "from", v)?,
            None => to - 27,
        };
        if from > to {
            return Err(bad(T, format!("from {} is after to {}", date_of(from), date_of(to))));
        }
        if to - from >= MAX_METRIC_DAYS {
            return Err(bad(T, format!("at most {MAX_METRIC_DAYS} days per call (from {} to {})", date_of(from), date_of(to))));
        }
        let rows = stored_campaign_days(&self.cfg, &self.db, &a.campaign_id, from, to).await.map_err(|e| ToolError::Failed(e.to_string()))?;
        let sum_f = |f: fn(&crate::model::history::CampaignDayRow) -> Option<f64>| rows.iter().filter_map(f).sum::<f64>();
        let sum_i = |f: fn(&crate::model::history::CampaignDayRow) -> Option<i64>| rows.iter().filter_map(f).sum::<i64>();
        let days: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "date": date_of(r.day).to_string(), "impressions": r.impressions, "clicks": r.clicks, "spend": r.spend,
                    "conversions": r.conversions, "revenue": r.revenue, "new_customers": r.new_customers,
                })
            })
            .collect();
        Ok(json!({
            "campaign_id": a.campaign_id, "from": date_of(from).to_string(), "to": date_of(to).to_string(), "days": days,
            "sums": {
                "impressions": sum_i(|r| r.impressions), "clicks": sum_i(|r| r.clicks), "spend": sum_f(|r| r.spend),
                "conversions": sum_i(|r| r.conversions), "revenue": sum_f(|r| r.revenue), "new_customers": sum_i(|r| r.new_customers),
            },
        }))
    }

    pub(super) async fn explain(&self, a: Explain) -> Result<Value, ToolError> {
        let r = self.report(a.run_id.as_deref(), None).await?;
        let c = r
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

    pub(super) async fn latest_report(&self, a: LatestReport) -> Result<Value, ToolError> {
        let format: ReportFormat = a.format.as_deref().unwrap_or("md").parse().map_err(|e| bad("latest_report", e))?;
        match self.db.stored_report(None, format).await? {
            Some((run_id, Some(body))) => Ok(json!({ "run_id": run_id, "format": format, "body": body })),
            Some((run_id, None)) => Err(ToolError::NotFound(format!("run {run_id} has no {format} report"))),
            None => Err(ToolError::NotFound("no run has a report yet".into())),
        }
    }

    pub(super) async fn history(&self, a: History) -> Result<Value, ToolError> {
        Ok(json!({ "changes": self.db.history(a.campaign_id.as_deref()).await? }))
    }

    pub(super) async fn list_proposals(&self, a: ListProposals) -> Result<Value, ToolError> {
        let status = match a.status.as_deref().unwrap_or("proposed") {
            "all" => None,
            s => Some(s.parse::<ProposalStatus>().map_err(|e| bad("list_proposals", e))?),
        };
        let rows = self.db.list_proposals(status, a.limit.unwrap_or(100)).await?;
        let rows: Vec<Value> = rows
            .into_iter()
            .map(|(p, status)| {
                let x = p.action;
                json!({
                    "proposal_id": p.run_id, "proposed_at": p.proposed_at.to_rfc3339(), "status": status, "key": x.key,
                    "campaign_id": x.campaign_id, "kind": x.kind, "from": x.from, "to": x.to, "reason": x.reason,
                })
            })
            .collect();
        Ok(json!({ "proposals": rows }))
    }

    pub(super) async fn outcomes(&self, a: Outcomes) -> Result<Value, ToolError> {
        let rule = a.rule.map(|r| r.parse::<Rule>().map_err(|e| bad("outcomes", e))).transpose()?;
        let mut rows = self.db.outcomes(&OutcomeFilter { rule, campaign: a.campaign_id, ..OutcomeFilter::default() }).await?;
        let total = rows.len();
        rows.truncate(a.limit.unwrap_or(100) as usize);
        Ok(json!({ "total": total, "outcomes": rows }))
    }
}
