//! The write tools. `save_proposal` judges a plan with the run's own rules
//! and saves it as proposals; it never touches the platform. `approve` and
//! `reject` are `campaign-pilot approve` / `reject` as tools (the same
//! journal, the same checks, exactly once).

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Value};

use super::read::holdings;
use super::{Hub, ToolError};
use crate::decisions::proposals::{self, Change, Portfolio};
use crate::error::Error;
use crate::model::day::{date_of, parse_day};
use crate::model::plan::Action;
use crate::review::{self, ReviewContext, ReviewSummary};
use crate::stop::Stop;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SaveProposal {
    /// The changes, judged together as one plan against the newest run.
    pub changes: Vec<Change>,
    /// Why: kept with every proposal it saves.
    pub rationale: String,
    /// Judge the plan and answer what would be saved, saving nothing.
    #[serde(default)]
    pub preview: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Approve {
    /// A proposal id (what save_proposal returned, or a held run's id) or one action key.
    pub id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reject {
    /// A proposal id or one action key.
    pub id: String,
}

fn action_json(a: &Action) -> Value {
    json!({ "key": a.key, "campaign_id": a.campaign_id, "kind": a.kind, "from": a.from, "to": a.to, "status": a.status, "reason": a.reason })
}

fn summary_json(s: &ReviewSummary) -> Value {
    json!({ "invocation_id": s.invocation_id, "failed": s.failed(), "actions": s.actions.iter().map(action_json).collect::<Vec<_>>() })
}

/// A review command's error as a tool's: refusals keep their reasons.
fn review_error(tool: &'static str, e: Error) -> ToolError {
    match e {
        Error::NotFound(m) => ToolError::NotFound(m),
        Error::StaleProposals(why) => ToolError::Refused {
            tool,
            summary: why.join("; "),
            detail: json!({ "refused": true, "refusals": why.iter().map(|w| json!({"rule": "stale_proposal", "message": w})).collect::<Vec<_>>() }),
        },
        Error::ApprovalHeld(held) => ToolError::Refused {
            tool,
            summary: held.iter().map(|h| format!("act.{} {} > {}", h.guardrail, h.value, h.limit)).collect::<Vec<_>>().join(", "),
            detail: json!({ "refused": true, "refusals": held.iter().map(|h| json!({"rule": h.guardrail, "value": h.value, "limit": h.limit})).collect::<Vec<_>>() }),
        },
        Error::Locked => ToolError::Failed("another run holds the lock; nothing was done, try again when it ends".into()),
        other => ToolError::Failed(other.to_string()),
    }
}

impl Hub {
    pub(super) async fn save_proposal(&self, a: SaveProposal, caller: &str) -> Result<Value, ToolError> {
        const T: &str = "save_proposal";
        if a.changes.is_empty() {
            return Err(ToolError::BadArguments { tool: T, message: "changes: at least one change".into() });
        }
        if a.rationale.trim().is_empty() {
            return Err(ToolError::BadArguments { tool: T, message: "rationale: say why (it is kept with the proposals)".into() });
        }
        let r = self.report(None, None).await?;
        let as_of = parse_day(&r.as_of).map_err(|e| ToolError::Failed(format!("the newest run's as_of: {e}")))?;
        let p = Portfolio { as_of, campaigns: holdings(&r), quality: r.data_quality.clone() };
        let s = &self.cfg.settings;
        let mut refusals = match proposals::check(&a.changes, &p, &s.act, &s.budget) {
            Ok(actions) => {
                // The numbers are the newest run's: a change applied to the
                // campaign since then makes them stale.
                let mut since = Vec::new();
                for x in &actions {
                    if let Some((key, day)) = self.db.applied_since(&x.campaign_id, false, &r.as_of).await? {
                        since.push(proposals::Refusal {
                            campaign_id: Some(x.campaign_id.clone()),
                            rule: "changed_since_run".into(),
                            value: None,
                            limit: None,
                            message: format!("{}: {key} was applied as of {day}, after run {} (as of {}); propose after the next run", x.campaign_id, r.run_id, r.as_of),
                        });
                    }
                }
                if since.is_empty() && a.preview {
                    return Ok(json!({
                        "saved": false, "preview": true, "judged_against": { "run_id": r.run_id, "as_of": r.as_of },
                        "proposals": actions.iter().map(action_json).collect::<Vec<_>>(),
                    }));
                }
                if since.is_empty() {
                    return self.save(actions, &a.rationale, caller, &r.run_id, &r.as_of).await;
                }
                since
            }
            Err(refusals) => refusals,
        };
        refusals.sort_by(|x, y| x.campaign_id.cmp(&y.campaign_id));
        Err(ToolError::Refused {
            tool: T,
            summary: refusals.iter().map(|r| r.message.as_str()).collect::<Vec<_>>().join("; "),
            detail: json!({ "refused": true, "saved": false, "judged_against": { "run_id": r.run_id, "as_of": r.as_of }, "refusals": refusals }),
        })
    }

    async fn save(&self, mut actions: Vec<Action>, rationale: &str, caller: &str, run_id: &str, as_of: &str) -> Result<Value, ToolError> {
        let proposal_id = uuid::Uuid::now_v7().to_string();
        for x in &mut actions {
            x.reason = format!("proposed via {caller}: {}", rationale.trim());
        }
        self.db.save_tool_plan(&proposal_id, as_of, &actions).await?;
        let effective = actions.first().map(|x| x.effective_date).unwrap_or_else(|| date_of(0));
        Ok(json!({
            "saved": true,
            "proposal_id": proposal_id,
            "judged_against": { "run_id": run_id, "as_of": as_of },
            "effective_date": effective.to_string(),
            "proposals": actions.iter().map(action_json).collect::<Vec<_>>(),
            "next": format!("nothing is applied yet: `campaign-pilot approve {proposal_id}` applies it, `campaign-pilot reject {proposal_id}` discards it"),
        }))
    }

    fn review_context(&self) -> ReviewContext<'_> {
        ReviewContext { cfg: &self.cfg, clock: self.clock.as_ref(), stop: Stop::default() }
    }

    pub(super) async fn approve(&self, a: Approve) -> Result<Value, ToolError> {
        let done = review::approve(&self.review_context(), &a.id, false).await.map_err(|e| review_error("approve", e))?;
        Ok(summary_json(&done))
    }

    pub(super) async fn reject(&self, a: Reject) -> Result<Value, ToolError> {
        let done = review::reject(&self.review_context(), &a.id).await.map_err(|e| review_error("reject", e))?;
        Ok(summary_json(&done))
    }
}
