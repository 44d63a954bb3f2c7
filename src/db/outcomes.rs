//! SQL of the learning loop (migration 0009): the applied actions whose
//! follow-ups are due, and the follow-ups themselves.

use std::collections::HashSet;

use super::journal::{get_date, get_paused_by};
use super::{get, get_name, rows_per_statement, values_sql, Db, DbError};
use crate::model::day::{date_of, day_of, Day};
use crate::model::outcome::{AppliedAction, Outcome, Rule};
use crate::model::run::JournalState;

const TABLE: &str = "action_outcomes";
const COLUMNS: usize = 11;

/// Which follow-ups `outcomes` lists.
#[derive(Debug, Clone, Default)]
pub struct OutcomeFilter {
    pub rule: Option<Rule>,
    pub campaign: Option<String>,
    /// Actions of this as_of or later.
    pub since: Option<Day>,
    /// Follow-ups checked by runs for this as_of or earlier.
    pub until: Option<Day>,
}

impl Db {
    /// The actions applied for an as_of in `[from, to]`, oldest first.
    pub async fn applied_actions(&self, from: Day, to: Day) -> Result<Vec<AppliedAction>, DbError> {
        let t = "action_journal";
        let rows = sqlx::query(
            "SELECT action_key, as_of, campaign_id, product_id, kind, from_budget, to_budget, paused_by, forecast \
             FROM action_journal WHERE state = $1 AND as_of >= $2 AND as_of <= $3 ORDER BY as_of, action_key",
        )
        .bind(JournalState::Applied.as_str())
        .bind(date_of(from).to_string())
        .bind(date_of(to).to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AppliedAction {
                    key: get(r, t, "action_key")?,
                    as_of: day_of(get_date(r, t, "as_of")?),
                    campaign_id: get(r, t, "campaign_id")?,
                    product_id: get(r, t, "product_id")?,
                    kind: get_name(r, t, "kind")?,
                    from: get(r, t, "from_budget")?,
                    to: get(r, t, "to_budget")?,
                    paused_by: get_paused_by(r, t)?,
                    forecast: super::get_json(r, t, "forecast")?,
                })
            })
            .collect()
    }

    /// The (action key, follow-up days) already followed up for actions of
    /// an as_of in `[from, to]`.
    pub async fn followed_up(&self, from: Day, to: Day) -> Result<HashSet<(String, u32)>, DbError> {
        let rows = sqlx::query("SELECT action_key, follow_up_days FROM action_outcomes WHERE action_as_of >= $1 AND action_as_of <= $2")
            .bind(date_of(from).to_string())
            .bind(date_of(to).to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let d: i64 = get(r, TABLE, "follow_up_days")?;
                Ok((get(r, TABLE, "action_key")?, d as u32))
            })
            .collect()
    }

    /// Keeps the follow-ups (one already kept for the same action and days stays).
    pub async fn store_outcomes(&self, run_id: &str, outcomes: &[Outcome]) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        for chunk in outcomes.chunks(rows_per_statement(COLUMNS)) {
            let sql = values_sql(
                "INSERT INTO action_outcomes (action_key, follow_up_days, action_as_of, checked_as_of, campaign_id, product_id, rule, observed_delta, hit, run_id, body) VALUES ",
                COLUMNS,
                chunk.len(),
            ) + " ON CONFLICT (action_key, follow_up_days) DO NOTHING";
            let mut q = sqlx::query(&sql);
            for o in chunk {
                q = q
                    .bind(o.action_key.clone())
                    .bind(o.follow_up_days as i64)
                    .bind(o.action_as_of.clone())
                    .bind(o.checked_as_of.clone())
                    .bind(o.campaign_id.clone())
                    .bind(o.product_id.clone())
                    .bind(o.rule.as_str())
                    .bind(o.observed_delta)
                    .bind(o.hit.map(i64::from))
                    .bind(run_id.to_string())
                    .bind(serde_json::to_string(o)?);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The follow-ups `f` asks for, newest action first.
    pub async fn outcomes(&self, f: &OutcomeFilter) -> Result<Vec<Outcome>, DbError> {
        let rows = sqlx::query(
            "SELECT body FROM action_outcomes WHERE ($1 = '' OR rule = $1) AND ($2 = '' OR campaign_id = $2) \
             AND action_as_of >= $3 AND checked_as_of <= $4 ORDER BY action_as_of DESC, action_key, follow_up_days",
        )
        .bind(f.rule.map_or("", |r| r.as_str()))
        .bind(f.campaign.clone().unwrap_or_default())
        .bind(f.since.map_or_else(|| "0000-00-00".to_string(), |d| date_of(d).to_string()))
        .bind(f.until.map_or_else(|| "9999-99-99".to_string(), |d| date_of(d).to_string()))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let body: String = get(r, TABLE, "body")?;
                serde_json::from_str(&body).map_err(|e| DbError::Decode { table: TABLE, column: "body", message: e.to_string() })
            })
            .collect()
    }
}

impl Db {
    /// Audits one tool call (migration 0010).
    pub async fn audit_tool_call(&self, tool: &str, arguments: &str, caller: &str, ok: bool, summary: &str) -> Result<(), DbError> {
        sqlx::query("INSERT INTO tool_calls (call_id, at, tool, arguments, caller, ok, summary) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(chrono::Utc::now().to_rfc3339())
            .bind(tool.to_string())
            .bind(arguments.to_string())
            .bind(caller.to_string())
            .bind(i64::from(ok))
            .bind(summary.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
