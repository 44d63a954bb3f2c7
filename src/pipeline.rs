//! One run, start to finish: resolve the plan, read, validate, transform,
//! analyze, decide, act, report, record. The only place that knows the
//! order of the stages and what to do when one fails.

use std::path::PathBuf;

use chrono::NaiveDate;
use tracing::Instrument;

use crate::config::{ConfigError, LoadedConfig};
use crate::connectors::platform::Platform;
use crate::connectors::{api, ConnectorError};
use crate::db::{Db, DbError};
use crate::llm::Llm;
use crate::notify::{self, RunNews};
use crate::model::{date_of, day_of};
use crate::report::{self, Report, ReportInput};
use crate::sandbox::generate::{ensure_demo, GenerateError};
use crate::shard::Shard;
use crate::stages::act::{act, ActContext, ActError, CRASH_AT_ENV, KILL_SWITCH_ENV};
use crate::stages::analyze::{analyze, AnalyzeError};
use crate::stages::decide::{decide, DecideError};
use crate::stages::transform::{transform, TransformError};
use crate::stages::validate::{validate, ValidateError};

/// What the user asked for, resolved before any work.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub as_of: Option<NaiveDate>,
    pub dry_run: bool,
    pub report_dir: Option<PathBuf>,
    /// Only this shard's campaigns (SPEC §11); `None` is the whole portfolio.
    pub shard: Option<Shard>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    #[error(transparent)]
    Validate(#[from] ValidateError),
    #[error(transparent)]
    Transform(#[from] TransformError),
    #[error(transparent)]
    Analyze(#[from] AnalyzeError),
    #[error(transparent)]
    Decide(#[from] DecideError),
    #[error(transparent)]
    Act(#[from] ActError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("another run holds the lock (nothing was done)")]
    Locked,
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Usage(String),
    #[error("stopped by a signal before acting (nothing was applied; run again to finish)")]
    Stopped,
    #[error("encoding: {0}")]
    Json(#[from] serde_json::Error),
    #[error("demo data: {0}")]
    Demo(#[from] GenerateError),
    #[error("writing the report to {path}: {source}")]
    Report { path: String, source: std::io::Error },
}

impl RunError {
    /// SPEC §2 exit codes: 2 for configuration, 1 for a failed run.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Config(_) => 2,
            RunError::Connector(e) if e.is_configuration() => 2,
            RunError::Db(DbError::Connect { .. }) => 2,
            RunError::Locked => 75,
            RunError::NotFound(_) | RunError::Usage(_) => 2,
            _ => 1,
        }
    }
}

/// The finished run, for the terminal summary and tests.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub report: Report,
    pub report_dir: PathBuf,
    pub demo_generated: bool,
}

/// Yesterday in the configured time zone.
pub fn default_as_of(timezone: &str) -> NaiveDate {
    let tz: chrono_tz::Tz = timezone.parse().unwrap_or(chrono_tz::UTC);
    chrono::Utc::now().with_timezone(&tz).date_naive().pred_opt().expect("a day before today")
}

pub async fn run(cfg: &LoadedConfig, req: &RunRequest) -> Result<RunSummary, RunError> {
    let s = &cfg.settings;
    let as_of_date = req.as_of.unwrap_or_else(|| default_as_of(&s.schedule.timezone));
    let as_of = day_of(as_of_date);
    let store_dir = cfg.resolve(&s.store.path);
    let db = Db::connect(&cfg.database_url()).await?;
    let lock = req.shard.map_or_else(|| "run".to_string(), |k| k.lock_name());
    let Some(_lock) = db.try_lock(&lock).await? else {
        db.close().await;
        return Err(RunError::Locked);
    };
    let demo_generated = if s.demo.enabled && s.store.kind == "files" {
        let made = ensure_demo(&store_dir, as_of_date, s.demo.seed, s.demo.products, s.demo.campaigns, s.demo.days)?;
        if made {
            tracing::info!(dir = %store_dir.display(), "generated the demo dataset");
        }
        made
    } else {
        false
    };

    let run_id = uuid::Uuid::now_v7().to_string();
    // The span goes with the future (a guard held across awaits could end
    // up on another thread's spans).
    let shard = req.shard.map(|k| k.label());
    let span = tracing::info_span!("run", run_id = %run_id, as_of = %as_of_date, shard = shard.as_deref().unwrap_or("all"));
    db.start_run(&run_id, &as_of_date.to_string(), req.dry_run, &s.act.mode).await?;
    let started = std::time::Instant::now();
    match stages(cfg, req, &db, &run_id, as_of).instrument(span).await {
        Ok((report, report_dir)) => {
            db.finish_run(&run_id, report.status.as_str()).await?;
            db.close().await;
            crate::metrics::publish_run(&s.metrics, req.shard, started, report.status.as_str(), Some(&report)).await;
            let count = |st: crate::stages::decide::ActionStatus| report.actions.iter().filter(|a| a.status == st).count();
            let news = RunNews {
                run_id: run_id.clone(),
                as_of: as_of_date.to_string(),
                status: report.status.as_str().to_string(),
                applied: count(crate::stages::decide::ActionStatus::Applied),
                proposed: count(crate::stages::decide::ActionStatus::Proposed),
                failed: count(crate::stages::decide::ActionStatus::Failed),
                held_by: report.held_by.iter().map(|h| h.guardrail.clone()).collect(),
                report: report_dir.join("report.html").display().to_string(),
                error: None,
            };
            notify::send(&s.notify, &news).await;
            Ok(RunSummary { report, report_dir, demo_generated })
        }
        Err(e) => {
            tracing::error!(error = %e, "run failed");
            let _ = db.finish_run(&run_id, "failed").await;
            db.close().await;
            crate::metrics::publish_run(&s.metrics, req.shard, started, "failed", None).await;
            let news = RunNews {
                run_id: run_id.clone(),
                as_of: as_of_date.to_string(),
                status: "failed".into(),
                applied: 0,
                proposed: 0,
                failed: 0,
                held_by: Vec::new(),
                report: String::new(),
                error: Some(e.to_string()),
            };
            notify::send(&s.notify, &news).await;
            Err(e)
        }
    }
}

/// Validate, transform, analyze and decide for one as_of: everything a run
/// does between reading and acting, and all that `backfill` replays.
pub fn plan_day(
    s: &crate::config::Settings,
    raw: crate::connectors::RawBatch,
    as_of: crate::model::Day,
    shard: Option<&Shard>,
    run_id: &str,
) -> Result<(crate::stages::validate::ValidBatch, crate::stages::decide::Plan, Vec<crate::stages::StageReport>), RunError> {
    let views_available = raw.views_available;
    let (valid, r_validate) = stage_span("validate", run_id).in_scope(|| validate(raw, as_of))?;
    let (frames, r_transform) = stage_span("transform", run_id).in_scope(|| transform(&valid, &s.windows))?;
    let (analysis, r_analyze) = stage_span("analyze", run_id).in_scope(|| -> Result<_, RunError> {
        let (mut analysis, r) = analyze(&frames, &valid, s)?;
        if !views_available {
            analysis.without_views();
        }
        if s.ads.kind == "impact" && s.ads.ledger_budgets {
            analysis.check_ledger_budgets(&valid, s.ads.ledger_overspend_pct).map_err(AnalyzeError::from)?;
        }
        if let Some(shard) = shard {
            analysis.keep_shard(shard).map_err(AnalyzeError::from)?;
        }
        Ok((analysis, r))
    })?;
    let (plan, r_decide) = stage_span("decide", run_id).in_scope(|| decide(&analysis, s))?;
    Ok((valid, plan, vec![r_validate, r_transform, r_analyze, r_decide]))
}

/// One stage's span: its name and the run's id on every line it logs.
pub fn stage_span(stage: &'static str, run_id: &str) -> tracing::Span {
    tracing::info_span!("stage", stage, run_id = %run_id)
}

async fn stages(
    cfg: &LoadedConfig,
    req: &RunRequest,
    db: &Db,
    run_id: &str,
    as_of: crate::model::Day,
) -> Result<(Report, PathBuf), RunError> {
    let s = &cfg.settings;
    let started = std::time::Instant::now();
    let (raw, read) = async {
        let (raw, fetch) = api::read_batch(cfg, db, as_of).await?;
        if fetch.requests > 0 {
            tracing::info!(
                requests = fetch.requests,
                per_peer = ?fetch.per_peer,
                retries = fetch.retries,
                days = ?fetch.days_fetched,
                seconds = fetch.seconds,
                net_seconds = ?fetch.net_seconds,
                "fetched from the APIs"
            );
        }
        let rows = (raw.products.df.height() + raw.product_daily.df.height() + raw.campaigns.df.height() + raw.campaign_daily.df.height()) as u64;
        Ok::<_, RunError>((raw, crate::stages::StageReport::new("read", started, rows, rows)))
    }
    .instrument(stage_span("read", run_id))
    .await?;
    let (valid, mut plan, mut stage_reports) = plan_day(s, raw, as_of, req.shard.as_ref(), run_id)?;
    stage_reports.insert(0, read);
    // The model writes copy for the new campaigns (the template stays where it fails).
    let key = std::env::var(&s.llm.api_key_env).ok().filter(|k| !k.is_empty()).map(secrecy::SecretString::from);
    let mut llm = Llm::new(&s.llm, db, key);
    for n in &mut plan.new_campaigns {
        let copy = llm.ad_copy(&n.product_name, &n.category, n.price).await;
        n.name = copy.name.unwrap_or_else(|| n.name.clone());
        n.headline = copy.headline.unwrap_or_else(|| n.headline.clone());
        n.description = copy.description.unwrap_or_else(|| n.description.clone());
    }
    let ctx = ActContext {
        run_id,
        dry_run: req.dry_run,
        kill_switch: std::env::var(KILL_SWITCH_ENV).is_ok_and(|v| v == "1"),
        settings: s,
        quality: &valid.quality,
        crash_at: std::env::var(CRASH_AT_ENV).ok().and_then(|v| v.parse().ok()),
    };
    if crate::stop::requested() {
        return Err(RunError::Stopped);
    }
    let platform = Platform::build(cfg, db)?;
    platform.set_copy(&plan.new_campaigns);
    let (outcome, r_act) = act(plan, &ctx, db, &platform).instrument(stage_span("act", run_id)).await?;
    stage_reports.push(r_act);

    let mut report = report::build(ReportInput {
        run_id,
        dry_run: req.dry_run,
        mode: &s.act.mode,
        outcome: &outcome,
        quality: &valid.quality,
        quarantine: &valid.quarantine,
        stages: stage_reports,
        shard: req.shard,
    });
    let (facts, names) = report::narrative_facts(&report, &outcome.plan);
    if let Some(text) = llm.narrative(&facts, &names).await {
        report.narrative = text;
        report.narrative_source = "llm";
    }
    report.llm = llm.usage.clone();
    let report_dir = req
        .report_dir
        .clone()
        .unwrap_or_else(|| {
            let day = cfg.resolve(&s.report.dir).join(date_of(as_of).to_string());
            match req.shard {
                Some(k) => day.join(format!("shard-{}-of-{}", k.index, k.count)),
                None => day,
            }
        });
    let rendered = report::render(&report)
        .and_then(|r| report::write(&r, &report_dir).map(|_| r))
        .map_err(|source| RunError::Report { path: report_dir.display().to_string(), source })?;
    db.save_report(&report, &valid.quarantine, &rendered).await?;
    Ok((report, report_dir))
}
