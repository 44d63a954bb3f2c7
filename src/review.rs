//! Human in the loop: `approve`, `reject`, `rollback` and `history`.
//!
//! Approving applies saved proposals (from manual mode or a held run) through
//! the same journal and platform path as a run, so exactly-once holds here
//! too. Rolling back applies the inverse of each action a run applied, under
//! keys of its own (`rollback/<key>`), so a second rollback is a no-op.
//! Everything lands in the audit history with before and after values.

use std::collections::BTreeMap;

use crate::config::LoadedConfig;
use crate::connectors::platform::Platform;
use crate::connectors::platform::AdPlatform;
use crate::db::{AuditEntry, Db, HistoryRow};
use crate::model::{date_of, day_of, Day};
use crate::pipeline::RunError;
use crate::stages::act::{apply_batch, Crash};
use crate::stages::decide::{Action, ActionKind, ActionStatus};

/// What an approve / reject / rollback did.
#[derive(Debug, Clone)]
pub struct ReviewSummary {
    pub invocation_id: String,
    pub actions: Vec<Action>,
}

impl ReviewSummary {
    pub fn failed(&self) -> bool {
        self.actions.iter().any(|a| a.status == ActionStatus::Failed)
    }
}

async fn open(cfg: &LoadedConfig) -> Result<(Db, crate::db::RunLock), RunError> {
    let db = Db::connect(&cfg.database_url()).await?;
    match db.try_lock("run").await? {
        Some(lock) => Ok((db, lock)),
        None => {
            db.close().await;
            Err(RunError::Locked)
        }
    }
}

fn as_of_of(key: &str) -> Option<Day> {
    let date = key.trim_start_matches("rollback/").split('/').next()?;
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok().map(day_of)
}

/// Applies a batch through the journal, grouped by as_of.
async fn apply_all<P: AdPlatform>(
    db: &Db,
    platform: &P,
    invocation_id: &str,
    actor: &str,
    actions: &mut [Action],
    day_of_action: impl Fn(&Action) -> Day,
) -> Result<(), RunError> {
    let mut by_day: BTreeMap<Day, Vec<usize>> = BTreeMap::new();
    for (i, a) in actions.iter().enumerate() {
        by_day.entry(day_of_action(a)).or_default().push(i);
    }
    let crash = Crash::never();
    for (day, idx) in by_day {
        let mut batch: Vec<Action> = idx.iter().map(|&i| actions[i].clone()).collect();
        let states = db.journal_plan(invocation_id, &date_of(day).to_string(), &batch).await?;
        apply_batch(db, platform, day, &mut batch, &states, invocation_id, actor, &crash).await?;
        for (i, a) in idx.into_iter().zip(batch) {
            actions[i] = a;
        }
    }
    if let Err(e) = platform.flush().await {
        tracing::error!(error = %e, "could not make applied actions durable");
    }
    Ok(())
}

/// The database, the run lock, and the proposals waiting under `id`
/// (an action key or a run id); not found is bad usage.
async fn waiting(cfg: &LoadedConfig, id: &str) -> Result<(Db, crate::db::RunLock, Vec<(String, Action)>), RunError> {
    let (db, lock) = open(cfg).await?;
    let found = db.proposals(id).await?;
    if found.is_empty() {
        db.close().await;
        return Err(RunError::NotFound(format!("no waiting proposal or run with id {id}")));
    }
    Ok((db, lock, found))
}

/// `approve PROPOSAL_ID|RUN_ID`: applies waiting proposals.
pub async fn approve(cfg: &LoadedConfig, id: &str) -> Result<ReviewSummary, RunError> {
    let (db, _lock, found) = waiting(cfg, id).await?;
    let invocation_id = uuid::Uuid::now_v7().to_string();
    let (runs, mut actions): (Vec<String>, Vec<Action>) = found.into_iter().unzip();
    for a in &mut actions {
        a.reason = format!("approved ({id})");
    }
    let platform = Platform::build(cfg, &db)?;
    // A proposal is applied as of the day it was decided for.
    apply_all(&db, &platform, &invocation_id, "approve", &mut actions, |a| as_of_of(&a.key).unwrap_or(0)).await?;
    for (run, a) in runs.iter().zip(&actions) {
        db.set_proposal_status(run, &a.key, a.status.as_str(), &a.reason).await?;
        if a.status == ActionStatus::Applied {
            db.close_proposals(&a.key, "applied").await?;
        }
    }
    let status = if actions.iter().any(|a| a.status == ActionStatus::Failed) { "partial" } else { "succeeded" };
    db.record_invocation(&invocation_id, &chrono::Utc::now().date_naive().to_string(), "approve", status).await?;
    db.close().await;
    Ok(ReviewSummary { invocation_id, actions })
}

/// `reject PROPOSAL_ID|RUN_ID`: discards waiting proposals.
pub async fn reject(cfg: &LoadedConfig, id: &str) -> Result<ReviewSummary, RunError> {
    let (db, _lock, found) = waiting(cfg, id).await?;
    let invocation_id = uuid::Uuid::now_v7().to_string();
    let mut actions = Vec::new();
    for (run, mut a) in found {
        db.set_proposal_status(&run, &a.key, "rejected", &format!("rejected ({id})")).await?;
        db.close_proposals(&a.key, "rejected").await?;
        db.audit(&AuditEntry {
            actor: "reject",
            run_id: &invocation_id,
            action_key: &a.key,
            campaign_id: &a.campaign_id,
            product_id: &a.product_id,
            kind: a.kind.as_str(),
            before: a.from,
            after: a.from,
            status: "rejected",
            note: &format!("proposed {} → {} by run {run}; not applied", a.from, a.to),
        })
        .await?;
        a.status = ActionStatus::Skipped;
        a.reason = "rejected".into();
        actions.push(a);
    }
    db.record_invocation(&invocation_id, &chrono::Utc::now().date_naive().to_string(), "reject", "succeeded").await?;
    db.close().await;
    Ok(ReviewSummary { invocation_id, actions })
}

/// The action that undoes `a`, dated `as_of`.
pub fn inverse(a: &Action, as_of: Day) -> Action {
    let (kind, from, to, paused_by) = match a.kind {
        ActionKind::Pause => (ActionKind::Resume, 0.0, a.from, None),
        ActionKind::Resume => (ActionKind::Pause, a.to, 0.0, Some("pipeline".to_string())),
        ActionKind::SetBudget => (ActionKind::SetBudget, a.to, a.from, None),
        ActionKind::Create => (ActionKind::Pause, a.to, 0.0, Some("pipeline".to_string())),
    };
    Action {
        key: format!("rollback/{}", a.key),
        campaign_id: a.campaign_id.clone(),
        product_id: a.product_id.clone(),
        kind,
        from,
        to,
        paused_by,
        effective_date: date_of(as_of + 1).to_string(),
        status: ActionStatus::Proposed,
        reason: format!("rollback of {}", a.key),
    }
}

/// `rollback RUN_ID`: reverts what a run applied.
pub async fn rollback(cfg: &LoadedConfig, run_id: &str) -> Result<ReviewSummary, RunError> {
    let (db, _lock) = open(cfg).await?;
    let applied = db.applied_by(run_id).await?;
    if applied.is_empty() {
        db.close().await;
        return Err(RunError::NotFound(format!("run {run_id} applied no action (or is unknown)")));
    }
    let today = day_of(chrono::Utc::now().date_naive());
    let invocation_id = uuid::Uuid::now_v7().to_string();
    // Keys `rollback/<original key>`: rolling back twice finds them applied.
    let mut actions: Vec<Action> = applied.iter().map(|a| inverse(a, today)).collect();
    let platform = Platform::build(cfg, &db)?;
    apply_all(&db, &platform, &invocation_id, "rollback", &mut actions, |_| today).await?;
    let status = if actions.iter().any(|a| a.status == ActionStatus::Failed) { "partial" } else { "succeeded" };
    db.record_invocation(&invocation_id, &date_of(today).to_string(), "rollback", status).await?;
    db.close().await;
    Ok(ReviewSummary { invocation_id, actions })
}

/// `report [RUN_ID] [--format …]`: the stored rendering of a run's report.
pub async fn stored_report(cfg: &LoadedConfig, run_id: Option<&str>, format: &str) -> Result<String, RunError> {
    let db = Db::connect(&cfg.database_url()).await?;
    let found = db.stored_report(run_id, format).await?;
    db.close().await;
    match found {
        Some((_, Some(text))) => Ok(text),
        Some((id, None)) => Err(RunError::NotFound(format!("run {id} was stored before its {format} report was kept; rerun it"))),
        None => Err(RunError::NotFound(match run_id {
            Some(id) => format!("no report for run {id}"),
            None => "no run has a report yet".to_string(),
        })),
    }
}

/// `history [--campaign ID]`.
pub async fn history(cfg: &LoadedConfig, campaign: Option<&str>) -> Result<Vec<HistoryRow>, RunError> {
    let db = Db::connect(&cfg.database_url()).await?;
    let rows = db.history(campaign).await?;
    db.close().await;
    Ok(rows)
}
