//! SQL of `backfill` (migration 0006): each replayed day is a dry run
//! recorded with its decisions and a `backfill_days` row, all in one
//! transaction.

use std::collections::BTreeMap;

use super::runs::insert_decisions;
use super::{get, get_json, Db, DbError};
use crate::model::decision::Decision;
use crate::model::report::Report;
use crate::model::run::{RunMode, RunStatus};

/// One replayed day, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct BackfillDay {
    pub as_of: chrono::NaiveDate,
    pub run_id: String,
    pub campaigns: i64,
    pub actions: i64,
    pub new_campaigns: i64,
    pub budget_before: f64,
    pub budget_after: f64,
    pub savings: f64,
    /// Campaigns per decision class.
    pub decision_counts: BTreeMap<Decision, i64>,
}

/// One campaign's row of the `decisions` table.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDecision {
    pub campaign_id: String,
    pub decision: Decision,
    pub reasons: Vec<String>,
    pub budget_current: f64,
    pub budget_proposed: f64,
}

impl Db {
    /// Records one day: its run (a dry run in mode `backfill`), its
    /// decisions and its summary row, or nothing if any part fails.
    pub async fn save_backfill_day(&self, r: &Report, started_at: &str) -> Result<(), DbError> {
        let now = chrono::Utc::now().to_rfc3339();
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO runs (run_id, as_of, started_at, finished_at, status, dry_run, mode) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&r.run_id)
            .bind(&r.as_of)
            .bind(started_at)
            .bind(&now)
            .bind(RunStatus::Succeeded.as_str())
            .bind(1i64)
            .bind(RunMode::Backfill.as_str())
            .execute(&mut *tx)
            .await?;
        insert_decisions(&mut tx, self.is_postgres(), r).await?;
        sqlx::query(
            "INSERT INTO backfill_days (as_of, run_id, finished_at, campaigns, actions, new_campaigns, budget_before, budget_after, savings, decision_counts) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&r.as_of)
        .bind(&r.run_id)
        .bind(&now)
        .bind(r.campaigns.len() as i64)
        .bind(r.actions.len() as i64)
        .bind(r.new_campaigns.len() as i64)
        .bind(r.totals.budget_before)
        .bind(r.totals.budget_after)
        .bind(r.totals.savings)
        .bind(serde_json::to_string(&r.decision_counts)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The replayed days of `from..=to`, oldest first.
    pub async fn backfill_days(&self, from: &str, to: &str) -> Result<Vec<BackfillDay>, DbError> {
        let rows = sqlx::query(
            "SELECT as_of, run_id, campaigns, actions, new_campaigns, budget_before, budget_after, savings, decision_counts \
             FROM backfill_days WHERE as_of >= $1 AND as_of <= $2 ORDER BY as_of",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        const T: &str = "backfill_days";
        rows.iter()
            .map(|r| {
                Ok(BackfillDay {
                    as_of: crate::model::day::date_of(super::get_day(r, T, "as_of")?),
                    run_id: get(r, T, "run_id")?,
                    campaigns: get(r, T, "campaigns")?,
                    actions: get(r, T, "actions")?,
                    new_campaigns: get(r, T, "new_campaigns")?,
                    budget_before: get(r, T, "budget_before")?,
                    budget_after: get(r, T, "budget_after")?,
                    savings: get(r, T, "savings")?,
                    decision_counts: get_json(r, T, "decision_counts")?.unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Forgets the replayed days of `from..=to` (`backfill --restart`); their
    /// runs and decisions stay in the history.
    pub async fn forget_backfill(&self, from: &str, to: &str) -> Result<u64, DbError> {
        let done = sqlx::query("DELETE FROM backfill_days WHERE as_of >= $1 AND as_of <= $2").bind(from).bind(to).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    /// A run's decisions as (campaign_id, decision), by campaign.
    pub async fn decisions_of(&self, run_id: &str) -> Result<Vec<(String, Decision)>, DbError> {
        Ok(self.decision_rows(run_id).await?.into_iter().map(|d| (d.campaign_id, d.decision)).collect())
    }

    /// A run's stored decisions, by campaign.
    pub async fn decision_rows(&self, run_id: &str) -> Result<Vec<StoredDecision>, DbError> {
        let rows = sqlx::query("SELECT campaign_id, decision, reasons, budget_current, budget_proposed FROM decisions WHERE run_id = $1 ORDER BY campaign_id")
            .bind(run_id)
            .fetch_all(&self.pool)
            .await?;
        const T: &str = "decisions";
        rows.iter()
            .map(|r| {
                Ok(StoredDecision {
                    campaign_id: get(r, T, "campaign_id")?,
                    decision: super::get_name(r, T, "decision")?,
                    reasons: get_json(r, T, "reasons")?.unwrap_or_default(),
                    budget_current: get(r, T, "budget_current")?,
                    budget_proposed: get(r, T, "budget_proposed")?,
                })
            })
            .collect()
    }

    /// How many runs were recorded in `mode`.
    pub async fn runs_in_mode(&self, mode: RunMode) -> Result<i64, DbError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM runs WHERE mode = $1").bind(mode.as_str()).fetch_one(&self.pool).await?;
        get(&row, "runs", "n")
    }
}
