//! Stage 5, act: applies the plan on the ad platform exactly once, inside the
//! guardrails — or, when it must not, turns it into proposals.
//!
//! Order of precedence: a dry run, `act.enabled = false` or the kill switch
//! apply nothing; a tripped guardrail holds the whole plan (status `held`);
//! manual mode saves proposals; auto mode applies through the journal.
//! Exactly once: every action has a deterministic key and a journal row
//! (planned → sent → applied | failed). A rerun for the same as_of applies
//! what is left, and asks the platform about anything the journal saw "sent"
//! before sending it again.

use std::sync::atomic::{AtomicU64, Ordering};
use std::collections::HashMap;
use std::time::Instant;

use crate::config::Settings;
use crate::connectors::platform::AdPlatform;
use crate::db::{Db, DbError};
use crate::decisions::day;
use crate::decisions::guardrails::{self, PlanShape};
use crate::model::audit::{Actor, AuditEntry, AuditStatus};
use crate::model::campaign::CampaignStatus;
use crate::model::day::{date_of, Day};
use crate::model::kinds::ActMode;
use crate::model::plan::{Action, ActionStatus, Plan};
use crate::model::run::{DataQuality, HeldBy, JournalState, Outcome, RunStatus, StageReport};
use crate::stop::Stop;

/// Environment variable that stops every action (SPEC §8).
pub const KILL_SWITCH_ENV: &str = "CAMPAIGN_PILOT_KILL_SWITCH";

/// What the act stage needs besides the plan: the run, the settings, the
/// data quality the guardrails judge, the stop signal to honour between two
/// actions, and (in tests only) where to crash.
pub struct ActContext<'a> {
    pub run_id: &'a str,
    pub dry_run: bool,
    pub kill_switch: bool,
    pub settings: &'a Settings,
    pub quality: &'a DataQuality,
    pub stop: &'a Stop,
    pub crash: &'a CrashHook,
    /// `run --replan`: send a rerun's different targets as corrections.
    pub replan: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("acting: {0}")]
pub struct ActError(#[from] DbError);

/// The numbers the guardrails judge.
pub fn plan_shape(plan: &Plan, quality: &DataQuality) -> PlanShape {
    let active = plan.campaigns.iter().filter(|c| c.row.status == CampaignStatus::Active).count();
    guardrails::shape(&plan.actions, active, plan.totals.budget_before, quality)
}

/// Where the crash test kills the process: after this many journal
/// transitions (SIGKILL), so it can crash the act stage at every point. Only
/// a build with the `test-hooks` feature ever sets one.
pub struct CrashHook {
    at: Option<u64>,
    seen: AtomicU64,
}

impl CrashHook {
    /// No crash points: every production run.
    pub fn never() -> Self {
        CrashHook { at: None, seen: AtomicU64::new(0) }
    }

    /// Dies after the `at`-th journal transition (`None`: never).
    pub fn at(at: Option<u64>) -> Self {
        CrashHook { at, seen: AtomicU64::new(0) }
    }

    /// One journal transition happened; die here if the test asked for it.
    fn point(&self) {
        let n = self.seen.fetch_add(1, Ordering::SeqCst) + 1;
        if self.at == Some(n) {
            tracing::warn!(point = n, "test hook: killing the process");
            // SAFETY: raising a signal on ourselves has no memory-safety effect.
            unsafe {
                libc::raise(libc::SIGKILL);
            }
        }
    }
}

fn propose_all(plan: &mut Plan, why: &str) {
    for a in &mut plan.actions {
        a.status = ActionStatus::Proposed;
        a.reason = format!("{why}; {}", a.reason);
    }
}

/// The reason of an action a stop left unsent.
pub const STOPPED: &str = "stopped: a stop signal came before this action was sent; the next run for this as_of sends it";

/// What a dry run hands on: every action proposed, nothing applied or held.
pub fn dry_run(mut plan: Plan) -> Outcome {
    propose_all(&mut plan, "dry_run: nothing is applied");
    Outcome { plan, status: RunStatus::Succeeded, held_by: Vec::new() }
}

pub async fn act<P: AdPlatform>(
    mut plan: Plan,
    ctx: &ActContext<'_>,
    db: &Db,
    platform: &P,
) -> Result<(Outcome, StageReport), ActError> {
    let started = Instant::now();
    let s = &ctx.settings.act;
    let n = plan.actions.len() as u64;
    let held_by = guardrails::check(&plan_shape(&plan, ctx.quality), s, &ctx.settings.budget);
    let done = |plan: Plan, status: RunStatus, held_by: Vec<HeldBy>| {
        let applied = plan.actions.iter().filter(|a| a.status == ActionStatus::Applied).count() as u64;
        (Outcome { plan, status, held_by }, StageReport::new("act", started, n, applied))
    };

    if ctx.dry_run {
        let o = dry_run(plan);
        return Ok(done(o.plan, o.status, o.held_by));
    }
    if ctx.kill_switch {
        propose_all(&mut plan, &format!("kill_switch: {KILL_SWITCH_ENV}=1, nothing is applied"));
        return Ok(done(plan, RunStatus::Succeeded, Vec::new()));
    }
    if !s.enabled {
        propose_all(&mut plan, "act.enabled=false: nothing is applied");
        return Ok(done(plan, RunStatus::Succeeded, Vec::new()));
    }
    if !held_by.is_empty() {
        let names: Vec<String> = held_by
            .iter()
            .map(|h| format!("{}={}>{}", h.guardrail, crate::decisions::num(h.value), crate::decisions::num(h.limit)))
            .collect();
        tracing::warn!(guardrails = %names.join(", "), "plan held by a guardrail; nothing applied");
        propose_all(&mut plan, &format!("held: {}", names.join(", ")));
        return Ok(done(plan, RunStatus::Held, held_by));
    }
    match s.mode {
        ActMode::Manual => {
            propose_all(&mut plan, "manual mode: awaiting approve");
            return Ok(done(plan, RunStatus::Succeeded, Vec::new()));
        }
        ActMode::Auto => {}
    }

    // Auto: one applied plan per as_of, then through the journal, exactly once.
    let as_of = date_of(plan.as_of).to_string();
    let day_journal = db.journal_day(&as_of).await?;
    let verdicts = day::reconcile(&day_journal, &plan.actions, ctx.replan);
    let mut send = Vec::new();
    for (i, v) in verdicts.iter().enumerate() {
        let a = &mut plan.actions[i];
        match v {
            day::Verdict::Send => send.push(i),
            day::Verdict::Correction { replaces } => {
                a.reason = format!("correction (--replan): replaces {replaces}; {}", a.reason);
                send.push(i);
            }
            day::Verdict::Refused { in_effect } => {
                a.status = ActionStatus::Skipped;
                a.reason = format!(
                    "one plan per day: {in_effect} is already in effect for this as_of (run --replan to correct it); {}",
                    a.reason
                );
            }
        }
    }
    let refused = plan.actions.len() - send.len();
    if refused > 0 {
        tracing::warn!(refused, replan = ctx.replan, "a rerun for this as_of differs from what is in effect; those actions were not sent");
    }
    let net = day::net_change(&day_journal, &send.iter().map(|&i| &plan.actions[i]).collect::<Vec<_>>());
    let pool = ctx.settings.budget.new_campaign_pool;
    if net > pool + 0.005 {
        let held = vec![HeldBy { guardrail: "day_budget".into(), value: crate::model::day::from_cents(crate::model::day::to_cents_round(net)), limit: pool }];
        tracing::warn!(net, pool, "the day's plans together would raise the daily budget past the pool; nothing applied");
        let why = format!("held: day_budget={}>{} (the runs of this as_of together)", crate::decisions::num(net), crate::decisions::num(pool));
        for &i in &send {
            let a = &mut plan.actions[i];
            a.status = ActionStatus::Proposed;
            a.reason = format!("{why}; {}", a.reason);
        }
        return Ok(done(plan, RunStatus::Held, held));
    }
    let mut batch_actions: Vec<Action> = send.iter().map(|&i| plan.actions[i].clone()).collect();
    let states = db.journal_plan(ctx.run_id, &as_of, &batch_actions).await?;
    ctx.crash.point();
    let batch = Batch { applied_by: ctx.run_id, actor: Actor::Run, stop: ctx.stop, crash: ctx.crash };
    apply_batch(db, platform, plan.as_of, &mut batch_actions, &states, &batch).await?;
    for (&i, a) in send.iter().zip(batch_actions) {
        plan.actions[i] = a;
    }
    let any_failed = plan.actions.iter().any(|a| a.status == ActionStatus::Failed || a.reason.starts_with(STOPPED));
    let status = if any_failed { RunStatus::Partial } else { RunStatus::Succeeded };
    Ok(done(plan, status, Vec::new()))
}

/// Who applies a batch, and what may interrupt it.
pub struct Batch<'a> {
    /// The run, approve or rollback invocation the journal credits.
    pub applied_by: &'a str,
    pub actor: Actor,
    pub stop: &'a Stop,
    pub crash: &'a CrashHook,
}

/// Applies a batch of actions through the journal and sets each one's status
/// and reason: the one path every applied action takes (the run, `approve`
/// and `rollback`).
///
/// Exactly once, with a handful of commits whatever the batch size: every
/// action about to be sent is marked `sent` in one transaction before the
/// first send, and the applied ones are marked `applied` (with their audit
/// lines) in one transaction after the last. A crash in between leaves them
/// `sent`, and the next attempt asks the platform about each before sending.
pub async fn apply_batch<P: AdPlatform>(
    db: &Db,
    platform: &P,
    as_of: Day,
    actions: &mut [Action],
    states: &HashMap<String, (JournalState, i64)>,
    b: &Batch<'_>,
) -> Result<(), DbError> {
    let (applied_by, crash) = (b.applied_by, b.crash);
    let caps = platform.capabilities();
    let mut to_send = Vec::new();
    let mut reconciled = Vec::new();
    for (i, a) in actions.iter_mut().enumerate() {
        if !caps.supports(a.kind) {
            a.status = ActionStatus::Skipped;
            a.reason = format!("the {} platform cannot {}; {}", platform.name(), a.kind.as_str(), a.reason);
            continue;
        }
        match states.get(&a.key).map(|s| s.0).unwrap_or(JournalState::Planned) {
            JournalState::Applied => {
                a.status = ActionStatus::Applied;
                a.reason = format!("already applied (journal); {}", a.reason);
            }
            // A previous attempt crashed after marking it sent, or failed in a
            // way that may have taken effect (an API write whose answer was
            // lost): ask the platform first.
            JournalState::Sent | JournalState::Failed => match platform.is_applied(a).await {
                Ok(true) => {
                    a.status = ActionStatus::Applied;
                    a.reason = format!("reconciled: already on the platform; {}", a.reason);
                    reconciled.push(i);
                }
                Ok(false) => to_send.push(i),
                Err(e) => {
                    db.journal_set(&a.key, JournalState::Failed, Some(&e.to_string()), None).await?;
                    a.status = ActionStatus::Failed;
                    a.reason = format!("reconcile failed: {e}; {}", a.reason);
                }
            },
            JournalState::Planned => to_send.push(i),
        }
    }
    if !reconciled.is_empty() {
        let keys: Vec<&str> = reconciled.iter().map(|&i| actions[i].key.as_str()).collect();
        db.journal_set_many(&keys, JournalState::Applied, Some(applied_by), &[]).await?;
        crash.point();
    }
    if to_send.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = to_send.iter().map(|&i| actions[i].key.as_str()).collect();
    db.journal_set_many(&keys, JournalState::Sent, None, &[]).await?;
    crash.point();
    let mut applied = Vec::new();
    let mut stopped_at = None;
    for (n, &i) in to_send.iter().enumerate() {
        if b.stop.requested() {
            stopped_at = Some(n);
            break;
        }
        let a = &mut actions[i];
        match platform.apply(as_of, a).await {
            Ok(()) => {
                crash.point();
                a.status = ActionStatus::Applied;
                applied.push(i);
            }
            Err(e) => {
                tracing::warn!(key = %a.key, error = %e, "action failed; it will be retried");
                db.journal_set(&a.key, JournalState::Failed, Some(&e.to_string()), None).await?;
                crash.point();
                a.status = ActionStatus::Failed;
                a.reason = format!("failed: {e}; {}", a.reason);
            }
        }
    }
    // The platform's record of what was applied is made durable before the
    // journal says `applied` (files: one fsync for the batch); if it cannot
    // be, they stay `sent` and the next run asks the platform about each.
    if !applied.is_empty() {
        if let Err(e) = platform.flush().await {
            tracing::error!(error = %e, "could not make applied actions durable; they stay sent for the next run to reconcile");
            for &i in &applied {
                let a = &mut actions[i];
                a.status = ActionStatus::Failed;
                a.reason = format!("not made durable: {e}; {}", a.reason);
            }
            applied.clear();
        }
    }
    if let Some(n) = stopped_at {
        // Never sent: back to planned, for the next run for this as_of.
        let rest = &to_send[n..];
        for &i in rest {
            let a = &mut actions[i];
            a.status = ActionStatus::Skipped;
            a.reason = format!("{STOPPED}; {}", a.reason);
        }
        let keys: Vec<&str> = rest.iter().map(|&i| actions[i].key.as_str()).collect();
        db.journal_set_many(&keys, JournalState::Planned, None, &[]).await?;
        tracing::warn!(applied = applied.len(), left = rest.len(), "stopped between actions; the rest stay planned");
    }
    if !applied.is_empty() {
        let keys: Vec<&str> = applied.iter().map(|&i| actions[i].key.as_str()).collect();
        let audit: Vec<AuditEntry> = applied
            .iter()
            .map(|&i| {
                let a = &actions[i];
                AuditEntry {
                    actor: b.actor,
                    run_id: applied_by,
                    action_key: &a.key,
                    campaign_id: &a.campaign_id,
                    product_id: &a.product_id,
                    kind: a.kind,
                    before: a.from,
                    after: a.to,
                    status: AuditStatus::Applied,
                    note: &a.reason,
                }
            })
            .collect();
        db.journal_set_many(&keys, JournalState::Applied, Some(applied_by), &audit).await?;
        crash.point();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Mutex;

    use super::*;
    use crate::connectors::platform::{Capabilities, PlatformError};
    use crate::model::campaign::CampaignRow;
    use crate::model::decision::{Decision, Verdict};
    use crate::model::plan::{ActionKind, CampaignDecision, Totals};

    /// A platform that cannot create, fails the keys it is told to, and
    /// (when asked) cannot make what it applied durable.
    struct Fake {
        fail: HashSet<String>,
        applied: Mutex<Vec<String>>,
        flush_fails: bool,
    }

    impl AdPlatform for Fake {
        fn name(&self) -> &'static str {
            "fake"
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities { create: false, ..Capabilities::all() }
        }
        async fn is_applied(&self, a: &Action) -> Result<bool, PlatformError> {
            Ok(self.applied.lock().unwrap().contains(&a.key))
        }
        async fn apply(&self, _: Day, a: &Action) -> Result<(), PlatformError> {
            if self.fail.contains(&a.key) {
                return Err(PlatformError::Failed { platform: "fake", message: "503 from the platform".into() });
            }
            self.applied.lock().unwrap().push(a.key.clone());
            Ok(())
        }
        async fn flush(&self) -> Result<(), PlatformError> {
            if self.flush_fails {
                return Err(PlatformError::Failed { platform: "fake", message: "fsync: disk gone".into() });
            }
            Ok(())
        }
    }

    fn action(key: &str, kind: ActionKind) -> Action {
        Action {
            key: key.into(),
            campaign_id: key.into(),
            product_id: "P1".into(),
            kind,
            from: 20.0,
            // A plan within the budget invariant: the pause pays for the rest.
            to: match kind {
                ActionKind::Pause => 0.0,
                ActionKind::Create => 10.0,
                ActionKind::Resume | ActionKind::SetBudget => 22.0,
            },
            paused_by: None,
            effective_date: date_of(20001),
            status: ActionStatus::Proposed,
            reason: "test".into(),
            copy: None,
            forecast: None,
        }
    }

    fn plan() -> Plan {
        let campaign = |id: &str| CampaignDecision {
            row: CampaignRow { campaign_id: id.into(), status: CampaignStatus::Active, ..Default::default() },
            verdict: Verdict::new(Decision::Monitor, vec![]),
            risk_level: None,
            locked: false,
            budget_current: 20.0,
            budget_proposed: 20.0,
            seed_decision: None,
            response: None,
        };
        Plan {
            as_of: 20000,
            campaigns: (0..10).map(|i| campaign(&format!("C{i}"))).collect(),
            new_campaigns: vec![],
            actions: vec![
                action("k1", ActionKind::Pause),
                action("k2", ActionKind::SetBudget),
                action("k3", ActionKind::Create),
            ],
            totals: Totals::default(),
        }
    }

    async fn run_once(db: &Db, fake: &Fake) -> Outcome {
        let settings = Settings::default();
        let quality = DataQuality::default();
        let (stop, crash) = (Stop::default(), CrashHook::never());
        let ctx = ActContext { run_id: "r1", dry_run: false, kill_switch: false, settings: &settings, quality: &quality, stop: &stop, crash: &crash, replan: false };
        act(plan(), &ctx, db, fake).await.unwrap().0
    }

    #[tokio::test]
    async fn unsupported_actions_are_skipped_and_failed_ones_retried_on_the_next_attempt() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display())).await.unwrap();
        let mut fake = Fake { fail: HashSet::from(["k2".to_string()]), applied: Mutex::new(vec![]), flush_fails: false };

        let out = run_once(&db, &fake).await;
        assert_eq!(out.status, RunStatus::Partial);
        let status: Vec<_> = out.plan.actions.iter().map(|a| a.status).collect();
        assert_eq!(status, vec![ActionStatus::Applied, ActionStatus::Failed, ActionStatus::Skipped]);
        assert!(out.plan.actions[1].reason.contains("503"), "{}", out.plan.actions[1].reason);
        assert!(out.plan.actions[2].reason.starts_with("the fake platform cannot create"));

        // The platform recovers: the rerun sends only the failed action.
        fake.fail.clear();
        let out = run_once(&db, &fake).await;
        assert_eq!(out.status, RunStatus::Succeeded);
        assert_eq!(*fake.applied.lock().unwrap(), vec!["k1".to_string(), "k2".to_string()]);
        assert!(out.plan.actions[0].reason.starts_with("already applied"));
    }

    #[tokio::test]
    async fn the_journal_says_applied_only_once_the_platform_made_it_durable() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::connect(&format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display())).await.unwrap();
        let fake = Fake { fail: HashSet::new(), applied: Mutex::new(vec![]), flush_fails: true };
        let out = run_once(&db, &fake).await;
        assert_eq!(out.status, RunStatus::Partial);
        assert!(out.plan.actions[0].reason.starts_with("not made durable"), "{}", out.plan.actions[0].reason);
        // Still `sent`: the next run asks the platform before sending again.
        let states = db.journal_plan("r2", "2024-10-04", &[]).await.unwrap();
        assert_eq!(states["k1"].0, JournalState::Sent);
    }
}
