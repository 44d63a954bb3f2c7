//! Human in the loop: `approve`, `reject`, `rollback` and `history`.
//!
//! Approving applies saved proposals (from manual mode or a held run) through
//! the same journal and platform path as a run, so exactly-once holds here
//! too, and a create sends the copy its proposal carries. Rolling back
//! applies the inverse of each action a run applied, under keys of its own
//! (`rollback/<key>`), so a second rollback is a no-op; what a rollback
//! pauses is paused by a person (`user`), so the matrix never resumes it.
//! Everything lands in the audit history with before and after values.

use crate::db::outcomes::OutcomeFilter;
use crate::model::outcome::{Outcome as FollowUp, Rule};
use std::collections::BTreeMap;

use crate::clock::Clock;
use crate::config::LoadedConfig;
use crate::connectors::configured::Platform;
use crate::connectors::platform::AdPlatform;
use crate::db::{Db, DbError, RunLock};
use crate::error::{Error, Result};
use crate::model::audit::{Actor, AuditEntry, AuditStatus, HistoryRow};
use crate::model::campaign::PausedBy;
use crate::model::day::{date_of, day_of, Day};
use crate::decisions::guardrails;
use crate::model::decision::Decision;
use crate::model::plan::{Action, ActionKey, ActionKind, ActionStatus, Proposal};
use crate::model::report::ReportFormat;
use crate::model::run::{DataQuality, ProposalStatus, RunMode, RunStatus};
use crate::stages::act::{apply_batch, Batch, CrashHook};
use crate::stop::Stop;

/// What a review command needs besides its argument: the clock (an
/// invocation's day, a rollback's effective day) and the stop signal.
pub struct ReviewContext<'a> {
    pub cfg: &'a LoadedConfig,
    pub clock: &'a dyn Clock,
    pub stop: Stop,
}

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

    fn status(&self) -> RunStatus {
        if self.failed() { RunStatus::Partial } else { RunStatus::Succeeded }
    }
}

async fn open(cfg: &LoadedConfig) -> Result<(Db, RunLock)> {
    let db = Db::connect(&cfg.database_url()).await?;
    match db.try_lock("run").await? {
        Some(lock) => Ok((db, lock)),
        None => {
            db.close().await;
            Err(Error::Locked)
        }
    }
}

/// Applies a batch through the journal, grouped by as_of.
async fn apply_all<P: AdPlatform>(db: &Db, platform: &P, batch: &Batch<'_>, actions: &mut [Action], day_of_action: impl Fn(&Action) -> Day) -> Result<()> {
    let mut by_day: BTreeMap<Day, Vec<usize>> = BTreeMap::new();
    for (i, a) in actions.iter().enumerate() {
        by_day.entry(day_of_action(a)).or_default().push(i);
    }
    for (day, idx) in by_day {
        let mut part: Vec<Action> = idx.iter().map(|&i| actions[i].clone()).collect();
        let states = db.journal_plan(batch.applied_by, &date_of(day).to_string(), &part).await?;
        apply_batch(db, platform, day, &mut part, &states, batch).await?;
        for (i, a) in idx.into_iter().zip(part) {
            actions[i] = a;
        }
    }
    Ok(())
}

/// The database, the run lock, and the proposals waiting under `id`
/// (an action key or a run id); not found is bad usage.
async fn waiting(cfg: &LoadedConfig, id: &str) -> Result<(Db, RunLock, Vec<Proposal>)> {
    let (db, lock) = open(cfg).await?;
    let found = db.proposals(id).await?;
    if found.is_empty() {
        db.close().await;
        return Err(Error::NotFound(format!("no waiting proposal or run with id {id}")));
    }
    Ok((db, lock, found))
}

/// The portfolio as the newest run saw it: what approve's guardrails judge.
#[derive(serde::Deserialize)]
struct Today {
    campaigns: Vec<TodayCampaign>,
    data_quality: DataQuality,
    totals: TodayTotals,
}

#[derive(serde::Deserialize)]
struct TodayTotals {
    budget_before: f64,
}

#[derive(serde::Deserialize)]
struct TodayCampaign {
    decision: Decision,
}

/// Why a proposal is stale: made too long ago, or older than an action
/// applied since to the same campaign (or product).
async fn stale(db: &Db, p: &Proposal, as_of: Day, now: chrono::DateTime<chrono::Utc>, max_age_days: u32) -> Result<Option<String>> {
    let a = &p.action;
    let age = (now - p.proposed_at).num_days();
    if age > i64::from(max_age_days) {
        return Ok(Some(format!("{}: proposed {age} days ago (act.max_proposal_age_days = {max_age_days})", a.key)));
    }
    let create = a.kind == ActionKind::Create;
    let subject = if create { &a.product_id } else { &a.campaign_id };
    Ok(db
        .applied_since(subject, create, &date_of(as_of).to_string())
        .await?
        .map(|(key, later)| format!("{}: {key} was applied since (as of {later}); this proposal would undo it", a.key)))
}

/// `approve PROPOSAL_ID|RUN_ID [--force]`: applies waiting proposals, each
/// as of the day it was decided for. Without `--force` it refuses stale
/// proposals (exit 2) and a batch the guardrails hold against the newest
/// run's portfolio (exit 4), applying nothing.
pub async fn approve(ctx: &ReviewContext<'_>, id: &str, force: bool) -> Result<ReviewSummary> {
    let (db, _lock, found) = waiting(ctx.cfg, id).await?;
    let s = &ctx.cfg.settings;
    let invocation_id = uuid::Uuid::now_v7().to_string();
    let now = ctx.clock.now();
    let mut day_by_key: BTreeMap<String, Day> = BTreeMap::new();
    let mut refused = Vec::new();
    for p in &found {
        let key = ActionKey::parse(&p.action.key)
            .map_err(|e| DbError::Decode { table: "proposed_actions", column: "action_key", message: e.to_string() })?;
        if let Some(why) = stale(&db, p, key.as_of, now, s.act.max_proposal_age_days).await? {
            refused.push(why);
        }
        day_by_key.insert(p.action.key.clone(), key.as_of);
    }
    let mut actions: Vec<Action> = found.iter().map(|p| p.action.clone()).collect();
    let held = match db.newest_run_report().await? {
        Some(json) => {
            let today: Today = serde_json::from_str(&json)?;
            let active = today.campaigns.iter().filter(|c| !matches!(c.decision, Decision::Paused | Decision::Resume)).count();
            guardrails::check(&guardrails::shape(&actions, active, today.totals.budget_before, &today.data_quality), &s.act, &s.budget)
        }
        None => Vec::new(),
    };
    if !force && !refused.is_empty() {
        db.close().await;
        return Err(Error::StaleProposals(refused));
    }
    if !force && !held.is_empty() {
        db.close().await;
        return Err(Error::ApprovalHeld(held));
    }
    let why = if force && !(refused.is_empty() && held.is_empty()) { format!("approved with --force ({id})") } else { format!("approved ({id})") };
    for a in &mut actions {
        a.reason = why.clone();
    }
    let platform = Platform::build(ctx.cfg, &db)?;
    let (stop, crash) = (ctx.stop.clone(), CrashHook::never());
    let batch = Batch { applied_by: &invocation_id, actor: Actor::Approve, stop: &stop, crash: &crash };
    apply_all(&db, &platform, &batch, &mut actions, |a| day_by_key[&a.key]).await?;
    for (p, a) in found.iter().zip(&actions) {
        let status = match a.status {
            ActionStatus::Applied => ProposalStatus::Applied,
            ActionStatus::Proposed => ProposalStatus::Proposed,
            ActionStatus::Skipped => ProposalStatus::Skipped,
            ActionStatus::Failed => ProposalStatus::Failed,
        };
        db.set_proposal_status(&p.run_id, &a.key, status, &a.reason).await?;
        if a.status == ActionStatus::Applied {
            db.close_proposals(&a.key, ProposalStatus::Applied).await?;
        }
    }
    let summary = ReviewSummary { invocation_id, actions };
    db.record_invocation(&summary.invocation_id, &ctx.clock.today().to_string(), RunMode::Approve, summary.status()).await?;
    db.close().await;
    Ok(summary)
}

/// `reject PROPOSAL_ID|RUN_ID`: discards waiting proposals.
pub async fn reject(ctx: &ReviewContext<'_>, id: &str) -> Result<ReviewSummary> {
    let (db, _lock, found) = waiting(ctx.cfg, id).await?;
    let invocation_id = uuid::Uuid::now_v7().to_string();
    let mut actions = Vec::new();
    for p in found {
        let (run, mut a) = (p.run_id, p.action);
        db.set_proposal_status(&run, &a.key, ProposalStatus::Rejected, &format!("rejected ({id})")).await?;
        db.close_proposals(&a.key, ProposalStatus::Rejected).await?;
        db.audit(&AuditEntry {
            actor: Actor::Reject,
            run_id: &invocation_id,
            action_key: &a.key,
            campaign_id: &a.campaign_id,
            product_id: &a.product_id,
            kind: a.kind,
            before: a.from,
            after: a.from,
            status: AuditStatus::Rejected,
            note: &format!("proposed {} → {} by run {run}; not applied", a.from, a.to),
        })
        .await?;
        a.status = ActionStatus::Skipped;
        a.reason = "rejected".into();
        actions.push(a);
    }
    db.record_invocation(&invocation_id, &ctx.clock.today().to_string(), RunMode::Reject, RunStatus::Succeeded).await?;
    db.close().await;
    Ok(ReviewSummary { invocation_id, actions })
}

/// The action that undoes `a`, dated `as_of`. What it pauses, a person
/// paused: a rollback is a person's decision, so the matrix must never
/// resume it after the cooldown.
pub fn inverse(a: &Action, as_of: Day) -> Action {
    let (kind, from, to, paused_by) = match a.kind {
        ActionKind::Pause => (ActionKind::Resume, 0.0, a.from, None),
        ActionKind::Resume => (ActionKind::Pause, a.to, 0.0, Some(PausedBy::User)),
        ActionKind::SetBudget => (ActionKind::SetBudget, a.to, a.from, None),
        ActionKind::Create => (ActionKind::Pause, a.to, 0.0, Some(PausedBy::User)),
    };
    Action {
        key: ActionKey::rollback_of(&a.key),
        campaign_id: a.campaign_id.clone(),
        product_id: a.product_id.clone(),
        kind,
        from,
        to,
        paused_by,
        effective_date: date_of(as_of + 1),
        status: ActionStatus::Proposed,
        reason: format!("rollback of {}", a.key),
        copy: None,
        forecast: None,
    }
}

/// `rollback RUN_ID`: reverts what a run applied.
pub async fn rollback(ctx: &ReviewContext<'_>, run_id: &str) -> Result<ReviewSummary> {
    let (db, _lock) = open(ctx.cfg).await?;
    let applied = db.applied_by(run_id).await?;
    if applied.is_empty() {
        db.close().await;
        return Err(Error::NotFound(format!("run {run_id} applied no action (or is unknown)")));
    }
    let today = day_of(ctx.clock.today());
    let invocation_id = uuid::Uuid::now_v7().to_string();
    // Keys `rollback/<original key>`: rolling back twice finds them applied.
    let mut actions: Vec<Action> = applied.iter().map(|a| inverse(a, today)).collect();
    let platform = Platform::build(ctx.cfg, &db)?;
    let (stop, crash) = (ctx.stop.clone(), CrashHook::never());
    let batch = Batch { applied_by: &invocation_id, actor: Actor::Rollback, stop: &stop, crash: &crash };
    apply_all(&db, &platform, &batch, &mut actions, |_| today).await?;
    let summary = ReviewSummary { invocation_id, actions };
    db.record_invocation(&summary.invocation_id, &date_of(today).to_string(), RunMode::Rollback, summary.status()).await?;
    db.close().await;
    Ok(summary)
}

/// `report [RUN_ID] [--format …]`: the stored rendering of a run's report.
pub async fn stored_report(cfg: &LoadedConfig, run_id: Option<&str>, format: ReportFormat) -> Result<String> {
    let db = Db::connect(&cfg.database_url()).await?;
    let found = db.stored_report(run_id, format).await?;
    db.close().await;
    match found {
        Some((_, Some(text))) => Ok(text),
        Some((id, None)) => Err(Error::NotFound(format!("run {id} was stored before its {format} report was kept; rerun it"))),
        None => Err(Error::NotFound(match run_id {
            Some(id) => format!("no report for run {id}"),
            None => "no run has a report yet".to_string(),
        })),
    }
}

/// `report --list`: every stored run, newest first.
pub async fn report_list(cfg: &LoadedConfig, format: ReportFormat) -> Result<String> {
    let db = Db::connect(&cfg.database_url()).await?;
    let runs = db.report_index().await?;
    db.close().await;
    match format {
        ReportFormat::Html => Ok(crate::report::index::html(&runs)),
        ReportFormat::Md => Ok(crate::report::index::markdown(&runs)),
        ReportFormat::Json => serde_json::to_string_pretty(&runs).map_err(|e| Error::Usage(format!("report --list: {e}"))),
        ReportFormat::Csv => Err(Error::Usage("report --list: --format csv is not a list format; use md, html or json".into())),
    }
}

/// `history [--campaign ID]`.
pub async fn history(cfg: &LoadedConfig, campaign: Option<&str>) -> Result<Vec<HistoryRow>> {
    let db = Db::connect(&cfg.database_url()).await?;
    let rows = db.history(campaign).await?;
    db.close().await;
    Ok(rows)
}

/// `outcomes [--rule R] [--campaign ID]`: the follow-ups, newest action first.
pub async fn outcomes(cfg: &LoadedConfig, rule: Option<Rule>, campaign: Option<&str>) -> Result<Vec<FollowUp>> {
    let db = Db::connect(&cfg.database_url()).await?;
    let rows = db.outcomes(&OutcomeFilter { rule, campaign: campaign.map(str::to_string), ..OutcomeFilter::default() }).await?;
    db.close().await;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(kind: ActionKind, from: f64, to: f64) -> Action {
        Action {
            key: ActionKey::format(20000, "C1", kind, to),
            campaign_id: "C1".into(),
            product_id: "P1".into(),
            kind,
            from,
            to,
            paused_by: None,
            effective_date: date_of(20001),
            status: ActionStatus::Applied,
            reason: String::new(),
            copy: None,
            forecast: None,
        }
    }

    #[test]
    fn what_a_rollback_pauses_a_person_paused() {
        for kind in [ActionKind::Resume, ActionKind::Create] {
            let inv = inverse(&action(kind, 0.0, 20.0), 20010);
            assert_eq!((inv.kind, inv.paused_by), (ActionKind::Pause, Some(PausedBy::User)), "{kind}");
            assert_eq!(inv.effective_date, date_of(20011));
            assert_eq!(ActionKey::undone(&inv.key), Some(action(kind, 0.0, 20.0).key.as_str()));
        }
        let inv = inverse(&action(ActionKind::Pause, 20.0, 0.0), 20010);
        assert_eq!((inv.kind, inv.to, inv.paused_by), (ActionKind::Resume, 20.0, None));
        let inv = inverse(&action(ActionKind::SetBudget, 20.0, 24.0), 20010);
        assert_eq!((inv.kind, inv.from, inv.to), (ActionKind::SetBudget, 24.0, 20.0));
    }
}
