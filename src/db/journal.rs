//! SQL of the action journal (migration 0002): one row per deterministic
//! action key, planned → sent → applied | failed, with the audit lines of the
//! applied ones written in the same transaction.

use std::collections::HashMap;

use sqlx::any::AnyRow;

use super::{get, get_json, get_name, placeholders, rows_per_statement, values_sql, Db, DbError};
use crate::model::audit::AuditEntry;
use crate::model::plan::{Action, ActionKind, ActionStatus};
use crate::model::run::{DayAction, JournalState};

const TABLE: &str = "action_journal";

/// An action as a journal or proposals row holds it (the `status` is the
/// caller's: those tables keep their own states).
/// A `YYYY-MM-DD` column.
pub(super) fn get_date(r: &AnyRow, table: &'static str, column: &'static str) -> Result<chrono::NaiveDate, DbError> {
    let text: String = get(r, table, column)?;
    chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|e| DbError::Decode { table, column, message: format!("{text:?}: {e}") })
}

/// The `paused_by` column of an action row (empty or null: nobody).
pub(super) fn get_paused_by(r: &AnyRow, table: &'static str) -> Result<Option<crate::model::campaign::PausedBy>, DbError> {
    let paused_by: Option<String> = get(r, table, "paused_by")?;
    crate::model::campaign::PausedBy::parse_optional(paused_by.as_deref().unwrap_or(""))
        .map_err(|e| DbError::Decode { table, column: "paused_by", message: e.to_string() })
}

pub(super) fn action_from_row(r: &AnyRow, table: &'static str, status: ActionStatus) -> Result<Action, DbError> {
    let effective_date = get_date(r, table, "effective_date")?;
    let paused_by = get_paused_by(r, table)?;
    Ok(Action {
        key: get(r, table, "action_key")?,
        campaign_id: get(r, table, "campaign_id")?,
        product_id: get(r, table, "product_id")?,
        kind: get_name(r, table, "kind")?,
        from: get(r, table, "from_budget")?,
        to: get(r, table, "to_budget")?,
        paused_by,
        effective_date,
        status,
        reason: get(r, table, "reason")?,
        copy: get_json(r, table, "copy")?,
        forecast: get_json(r, table, "forecast")?,
    })
}

/// The columns an action's row has in both the journal and the proposals,
/// in the order [`bind_action`] binds them.
pub(super) const ACTION_COLUMNS: &str = "action_key, campaign_id, product_id, kind, from_budget, to_budget, paused_by, effective_date, copy, forecast";
pub(super) const ACTION_COLUMN_COUNT: usize = 10;

type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds an action's [`ACTION_COLUMNS`] (the copy and the forecast as JSON).
pub(super) fn bind_action<'q>(q: AnyQuery<'q>, a: &Action) -> Result<AnyQuery<'q>, DbError> {
    Ok(q.bind(a.key.clone())
        .bind(a.campaign_id.clone())
        .bind(a.product_id.clone())
        .bind(a.kind.as_str())
        .bind(a.from)
        .bind(a.to)
        .bind(a.paused_by.map(|p| p.as_str()))
        .bind(a.effective_date.to_string())
        .bind(a.copy.as_ref().map(serde_json::to_string).transpose()?)
        .bind(a.forecast.as_ref().map(serde_json::to_string).transpose()?))
}

impl Db {
    /// Records the plan's actions as `planned` (keeping any row a previous
    /// run for the same as_of left), and returns every key's state.
    pub async fn journal_plan(&self, run_id: &str, as_of: &str, actions: &[Action]) -> Result<HashMap<String, (JournalState, i64)>, DbError> {
        let now = chrono::Utc::now().to_rfc3339();
        let mut tx = self.pool.begin().await?;
        for chunk in actions.chunks(rows_per_statement(ACTION_COLUMN_COUNT + 5)) {
            let sql = values_sql(
                &format!("INSERT INTO action_journal ({ACTION_COLUMNS}, as_of, run_id, state, attempts, updated_at) VALUES "),
                ACTION_COLUMN_COUNT + 5,
                chunk.len(),
            ) + " ON CONFLICT (action_key) DO NOTHING";
            let mut q = sqlx::query(&sql);
            for a in chunk {
                q = bind_action(q, a)?
                    .bind(as_of.to_string())
                    .bind(run_id.to_string())
                    .bind(JournalState::Planned.as_str())
                    .bind(0i64)
                    .bind(now.clone());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        let rows = sqlx::query("SELECT action_key, state, attempts FROM action_journal WHERE as_of = $1")
            .bind(as_of)
            .fetch_all(&self.pool)
            .await?;
        let mut out = HashMap::with_capacity(rows.len());
        for r in rows {
            out.insert(get(&r, TABLE, "action_key")?, (get_name(&r, TABLE, "state")?, get(&r, TABLE, "attempts")?));
        }
        Ok(out)
    }

    /// Every action the journal holds for `as_of`, in the order the runs
    /// that planned them started.
    pub async fn journal_day(&self, as_of: &str) -> Result<Vec<DayAction>, DbError> {
        let rows = sqlx::query(
            "SELECT j.action_key, j.campaign_id, j.product_id, j.kind, j.from_budget, j.to_budget, j.state \
             FROM action_journal j LEFT JOIN runs r ON r.run_id = j.run_id WHERE j.as_of = $1 ORDER BY r.started_at, j.action_key",
        )
        .bind(as_of)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let kind: ActionKind = get_name(r, TABLE, "kind")?;
                let subject = match kind {
                    ActionKind::Create => get(r, TABLE, "product_id")?,
                    ActionKind::Pause | ActionKind::Resume | ActionKind::SetBudget => get(r, TABLE, "campaign_id")?,
                };
                Ok(DayAction {
                    key: get(r, TABLE, "action_key")?,
                    subject,
                    kind,
                    from: get(r, TABLE, "from_budget")?,
                    to: get(r, TABLE, "to_budget")?,
                    state: get_name(r, TABLE, "state")?,
                })
            })
            .collect()
    }

    /// Moves one action to `state` (a send counts as an attempt).
    pub async fn journal_set(&self, key: &str, state: JournalState, error: Option<&str>, applied_by: Option<&str>) -> Result<(), DbError> {
        sqlx::query(
            "UPDATE action_journal SET state = $1, attempts = attempts + $2, last_error = $3, applied_by = COALESCE($4, applied_by), updated_at = $5 WHERE action_key = $6",
        )
        .bind(state.as_str())
        .bind(i64::from(state == JournalState::Sent))
        .bind(error.map(str::to_string))
        .bind(applied_by.map(str::to_string))
        .bind(chrono::Utc::now().to_rfc3339())
        .bind(key)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Moves many actions to `state` in one transaction; when `audit` is
    /// given, their audit lines go into the same transaction.
    pub async fn journal_set_many(&self, keys: &[&str], state: JournalState, applied_by: Option<&str>, audit: &[AuditEntry<'_>]) -> Result<(), DbError> {
        let now = chrono::Utc::now().to_rfc3339();
        let mut tx = self.pool.begin().await?;
        for chunk in keys.chunks(rows_per_statement(1)) {
            let sql = format!(
                "UPDATE action_journal SET state = $1, attempts = attempts + $2, applied_by = COALESCE($3, applied_by), last_error = $4, updated_at = $5 WHERE action_key IN ({})",
                placeholders(6, chunk.len())
            );
            let mut q = sqlx::query(&sql)
                .bind(state.as_str())
                .bind(i64::from(state == JournalState::Sent))
                .bind(applied_by.map(str::to_string))
                .bind(None::<String>)
                .bind(now.clone());
            for k in chunk {
                q = q.bind(k.to_string());
            }
            q.execute(&mut *tx).await?;
        }
        super::audit::insert_audit(&mut tx, audit, &now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest action applied to `subject` (a campaign, or for a create
    /// the product) for an as_of after `as_of`: what makes an older proposal
    /// for it stale.
    pub async fn applied_since(&self, subject: &str, create: bool, as_of: &str) -> Result<Option<(String, String)>, DbError> {
        let column = if create { "product_id" } else { "campaign_id" };
        let row = sqlx::query(&format!(
            "SELECT action_key, as_of FROM action_journal WHERE state = $1 AND as_of > $2 AND {column} = $3 ORDER BY as_of DESC, action_key LIMIT 1"
        ))
        .bind(JournalState::Applied.as_str())
        .bind(as_of)
        .bind(subject)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok((get(&r, TABLE, "action_key")?, get(&r, TABLE, "as_of")?))).transpose()
    }

    /// The actions a run (or an approve / rollback) applied, from the journal.
    pub async fn applied_by(&self, run_id: &str) -> Result<Vec<Action>, DbError> {
        let rows = sqlx::query(
            "SELECT action_key, campaign_id, product_id, kind, from_budget, to_budget, paused_by, effective_date, '' AS reason, copy, forecast \
             FROM action_journal WHERE applied_by = $1 AND state = $2 ORDER BY action_key",
        )
        .bind(run_id)
        .bind(JournalState::Applied.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| action_from_row(r, TABLE, ActionStatus::Applied)).collect()
    }
}
