//! SQL of saved proposals (migration 0001's `proposed_actions`): every
//! action a run reported, with the status it got; the `proposed` ones wait
//! for `approve` or `reject`.

use super::journal::action_from_row;
use super::{get, Db, DbError};
use crate::model::plan::{ActionStatus, Proposal};
use crate::model::run::ProposalStatus;

const TABLE: &str = "proposed_actions";

/// When the run that made a proposal started: when it was proposed.
fn started_at(r: &sqlx::any::AnyRow) -> Result<chrono::DateTime<chrono::Utc>, DbError> {
    let started: String = get(r, "runs", "started_at")?;
    Ok(chrono::DateTime::parse_from_rfc3339(&started)
        .map_err(|e| DbError::Decode { table: "runs", column: "started_at", message: format!("{started:?}: {e}") })?
        .with_timezone(&chrono::Utc))
}

impl Db {
    /// Proposals still waiting, by action key or by run id, oldest run first,
    /// each with the run that proposed it and when.
    pub async fn proposals(&self, id: &str) -> Result<Vec<Proposal>, DbError> {
        let rows = sqlx::query(
            "SELECT p.run_id, p.action_key, p.campaign_id, p.product_id, p.kind, p.from_budget, p.to_budget, p.paused_by, p.effective_date, p.reason, p.copy, p.forecast, r.as_of, r.started_at \
             FROM proposed_actions p JOIN runs r ON r.run_id = p.run_id \
             WHERE (p.run_id = $1 OR p.action_key = $2) AND p.status = $3 ORDER BY r.started_at, p.action_key",
        )
        .bind(id)
        .bind(id)
        .bind(ProposalStatus::Proposed.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for r in rows.iter().rev() {
            // The same key proposed by several runs: the newest proposal stands.
            let key: String = get(r, TABLE, "action_key")?;
            if seen.insert(key) {
                out.push(Proposal { run_id: get(r, TABLE, "run_id")?, proposed_at: started_at(r)?, action: action_from_row(r, TABLE, ActionStatus::Proposed)? });
            }
        }
        out.reverse();
        Ok(out)
    }

    /// Every saved proposal with `status` (any status when none), newest
    /// run first, at most `limit`: what `list_proposals` shows.
    pub async fn list_proposals(&self, status: Option<ProposalStatus>, limit: u32) -> Result<Vec<(Proposal, ProposalStatus)>, DbError> {
        let rows = sqlx::query(
            "SELECT p.run_id, p.action_key, p.campaign_id, p.product_id, p.kind, p.from_budget, p.to_budget, p.paused_by, p.effective_date, p.reason, p.copy, p.forecast, p.status, r.started_at \
             FROM proposed_actions p JOIN runs r ON r.run_id = p.run_id \
             WHERE ($1 = '' OR p.status = $2) ORDER BY r.started_at DESC, p.action_key LIMIT $3",
        )
        .bind(status.map_or("", |s| s.as_str()))
        .bind(status.map_or("", |s| s.as_str()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let status: String = get(r, TABLE, "status")?;
                let status = status.parse().map_err(|e: crate::model::names::UnknownName| DbError::Decode { table: TABLE, column: "status", message: e.to_string() })?;
                Ok((Proposal { run_id: get(r, TABLE, "run_id")?, proposed_at: started_at(r)?, action: action_from_row(r, TABLE, ActionStatus::Proposed)? }, status))
            })
            .collect()
    }

    pub async fn set_proposal_status(&self, run_id: &str, key: &str, status: ProposalStatus, reason: &str) -> Result<(), DbError> {
        sqlx::query("UPDATE proposed_actions SET status = $1, reason = $2 WHERE run_id = $3 AND action_key = $4")
            .bind(status.as_str())
            .bind(reason)
            .bind(run_id)
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every proposal of every run with this key that is still waiting.
    pub async fn close_proposals(&self, key: &str, status: ProposalStatus) -> Result<(), DbError> {
        sqlx::query("UPDATE proposed_actions SET status = $1 WHERE action_key = $2 AND status = $3")
            .bind(status.as_str())
            .bind(key)
            .bind(ProposalStatus::Proposed.as_str())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
