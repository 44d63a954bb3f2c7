//! One run, start to finish: resolve the plan, read, validate, transform,
//! analyze, decide, act, report, record. The only place that knows the
//! order of the stages and what to do when one fails.

use std::path::PathBuf;

use chrono::NaiveDate;
use tracing::Instrument;

use crate::clock::Clock;
use crate::config::{LoadedConfig, Settings};
use crate::connectors::configured::Platform;
use crate::connectors::sync;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::llm::Llm;
use crate::model::batch::RawBatch;
use crate::model::day::{date_of, day_of, Day};
use crate::model::kinds::{AdsKind, StoreKind};
use crate::model::plan::{ActionStatus, Plan};
use crate::model::report::{NarrativeSource, PreviousRun, Report};
use crate::model::run::{timed_ms, RunStatus, StageReport};
use crate::model::shard::Shard;
use crate::notify::{self, RunNews};
use crate::report::{self, ReportInput};
use crate::sandbox::generate::ensure_demo;
use crate::stages::act::{act, ActContext, CrashHook};
use crate::decisions::outcomes::{self, Calibrated};
use crate::db::outcomes::OutcomeFilter;
use crate::stages::analyze::{analyze, Analysis, AnalyzeError};
use crate::stages::learn::{self, Learned};
use crate::stages::decide::decide;
use crate::stages::transform::transform;
use crate::stages::validate::{validate, ValidBatch};
use crate::stop::Stop;

/// What the user asked for, resolved before any work.
#[derive(Debug, Clone, Default)]
pub struct RunRequest {
    pub as_of: Option<NaiveDate>,
    pub dry_run: bool,
    pub report_dir: Option<PathBuf>,
    /// Only this shard's campaigns (SPEC §11); `None` is the whole portfolio.
    pub shard: Option<Shard>,
    /// `CAMPAIGN_PILOT_KILL_SWITCH=1`: decide and report, apply nothing.
    pub kill_switch: bool,
    /// Asked between two actions (and before acting) whether to stop.
    pub stop: Stop,
    /// The crash test's kill point; only a `test-hooks` build sets one.
    pub crash_at: Option<u64>,
    /// `--replan`: a rerun for an as_of already acted on sends its different
    /// targets as corrections instead of leaving them unsent.
    pub replan: bool,
}

/// The finished run, for the terminal summary and tests.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub report: Report,
    pub report_dir: PathBuf,
    pub demo_generated: bool,
}

/// Yesterday in the configured time zone.
pub fn default_as_of(timezone: &str, clock: &dyn Clock) -> NaiveDate {
    let tz: chrono_tz::Tz = timezone.parse().unwrap_or(chrono_tz::UTC);
    clock.now().with_timezone(&tz).date_naive().pred_opt().expect("a day before today")
}

pub async fn run(cfg: &LoadedConfig, req: &RunRequest, clock: &dyn Clock) -> Result<RunSummary> {
    let s = &cfg.settings;
    let as_of_date = req.as_of.unwrap_or_else(|| default_as_of(&s.schedule.timezone, clock));
    let as_of = day_of(as_of_date);
    let store_dir = cfg.resolve(&s.store.path);
    let db = Db::connect(&cfg.database_url()).await?;
    let lock = req.shard.map_or_else(|| "run".to_string(), |k| k.lock_name());
    let Some(_lock) = db.try_lock(&lock).await? else {
        db.close().await;
        return Err(Error::Locked);
    };
    let demo_generated = if s.demo.enabled && s.store.kind == StoreKind::Files {
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
    db.start_run(&run_id, &as_of_date.to_string(), req.dry_run, s.act.mode.into()).await?;
    let started = std::time::Instant::now();
    match stages(cfg, req, &db, &run_id, as_of).instrument(span).await {
        Ok((report, report_dir)) => {
            db.finish_run(&run_id, report.status).await?;
            db.close().await;
            crate::metrics::publish_run(&s.metrics, req.shard, started, report.status, Some(&report)).await;
            let count = |st: ActionStatus| report.actions.iter().filter(|a| a.status == st).count();
            let news = RunNews {
                run_id: run_id.clone(),
                as_of: as_of_date.to_string(),
                status: report.status,
                applied: count(ActionStatus::Applied),
                proposed: count(ActionStatus::Proposed),
                failed: count(ActionStatus::Failed),
                held_by: report.held_by.iter().map(|h| h.guardrail.clone()).collect(),
                report: report_dir.join("report.html").display().to_string(),
                error: None,
                highlights: report::highlights(&report, 5),
            };
            notify::send(&s.notify, &news).await;
            Ok(RunSummary { report, report_dir, demo_generated })
        }
        Err(e) => {
            tracing::error!(error = %e, "run failed");
            let _ = db.finish_run(&run_id, RunStatus::Failed).await;
            db.close().await;
            crate::metrics::publish_run(&s.metrics, req.shard, started, RunStatus::Failed, None).await;
            let news = RunNews {
                run_id: run_id.clone(),
                as_of: as_of_date.to_string(),
                status: RunStatus::Failed,
                applied: 0,
                proposed: 0,
                failed: 0,
                held_by: Vec::new(),
                report: String::new(),
                error: Some(e.to_string()),
                highlights: Vec::new(),
            };
            notify::send(&s.notify, &news).await;
            Err(e)
        }
    }
}

/// Validate, transform, analyze and decide for one as_of: everything a run
/// does between reading and acting (with the configured interval scale: a
/// replayed day learns nothing).
pub fn plan_day(s: &Settings, raw: RawBatch, as_of: Day, shard: Option<&Shard>, run_id: &str) -> Result<(ValidBatch, Plan, Vec<StageReport>)> {
    let (valid, analysis, reports) = prepare_day(s, raw, as_of, shard, run_id)?;
    decide_configured(s, valid, analysis, reports, run_id)
}

/// Transform, analyze and decide a batch already validated (`backfill`
/// cuts each day's from one validation of its range).
pub fn plan_valid(s: &Settings, valid: ValidBatch, r_validate: StageReport, read: &ReadFacts, run_id: &str) -> Result<(ValidBatch, Plan, Vec<StageReport>)> {
    let (valid, analysis, reports) = analyze_valid(s, valid, r_validate, read, None, run_id)?;
    decide_configured(s, valid, analysis, reports, run_id)
}

fn decide_configured(s: &Settings, valid: ValidBatch, analysis: Analysis, mut reports: Vec<StageReport>, run_id: &str) -> Result<(ValidBatch, Plan, Vec<StageReport>)> {
    let configured = Calibrated::configured(s.model.interval_scale);
    let (plan, r_decide) = stage_span("decide", run_id).in_scope(|| decide(&analysis, s, &configured))?;
    reports.push(r_decide);
    Ok((valid, plan, reports))
}

/// What the analysis needs to know of how the batch was read, besides its rows.
#[derive(Debug, Clone, Default)]
pub struct ReadFacts {
    pub views_available: bool,
    pub observed_budgets: std::collections::BTreeMap<String, f64>,
}

impl ReadFacts {
    pub fn of(raw: &RawBatch) -> ReadFacts {
        ReadFacts { views_available: raw.views_available, observed_budgets: raw.observed_budgets.clone() }
    }
}

/// Validate, transform and analyze for one as_of.
pub fn prepare_day(s: &Settings, raw: RawBatch, as_of: Day, shard: Option<&Shard>, run_id: &str) -> Result<(ValidBatch, Analysis, Vec<StageReport>)> {
    let read = ReadFacts::of(&raw);
    let (valid, r_validate) = stage_span("validate", run_id).in_scope(|| validate(raw, as_of, &s.validate, s.act.min_day_fraction))?;
    analyze_valid(s, valid, r_validate, &read, shard, run_id)
}

/// Transform and analyze a validated batch.
fn analyze_valid(s: &Settings, valid: ValidBatch, r_validate: StageReport, read: &ReadFacts, shard: Option<&Shard>, run_id: &str) -> Result<(ValidBatch, Analysis, Vec<StageReport>)> {
    let (frames, r_transform) = stage_span("transform", run_id).in_scope(|| transform(&valid, &s.windows))?;
    let (analysis, r_analyze) = stage_span("analyze", run_id).in_scope(|| -> Result<_> {
        let (mut analysis, r) = analyze(&frames, &valid, s)?;
        if !read.views_available {
            analysis.without_views();
        }
        analysis.mark_observed_budgets(&read.observed_budgets);
        if s.ads.kind == AdsKind::Impact && s.ads.ledger_budgets {
            analysis.check_ledger_budgets(&valid, s.ads.ledger_overspend_pct).map_err(AnalyzeError::from)?;
        }
        if let Some(shard) = shard {
            analysis.keep_shard(shard).map_err(AnalyzeError::from)?;
        }
        Ok((analysis, r))
    })?;
    Ok((valid, analysis, vec![r_validate, r_transform, r_analyze]))
}

/// The learning loop's part of a run (SPEC §13): the applied actions whose
/// follow-ups came due are followed up from the days just read and kept;
/// every follow-up so far calibrates the forecasts this run makes.
pub async fn learn(db: &Db, valid: &ValidBatch, s: &Settings, run_id: &str) -> Result<Learned> {
    let as_of = valid.as_of;
    let oldest = learn::oldest_followed(as_of, s);
    let applied = db.applied_actions(oldest, as_of).await?;
    let done = db.followed_up(oldest, as_of).await?;
    let due = learn::follow_ups(valid, &applied, &done, s).map_err(AnalyzeError::from)?;
    if !due.is_empty() {
        db.store_outcomes(run_id, &due).await?;
        tracing::info!(followed_up = due.len(), hits = due.iter().filter(|o| o.hit == Some(true)).count(), "followed up applied actions");
    }
    // The follow-ups of the last report_days (not all of history: it grows
    // with every run), as a run for this as_of would have seen them.
    let since = as_of - s.learning.report_days as i32;
    let recent = db.outcomes(&OutcomeFilter { since: Some(since), until: Some(as_of), ..OutcomeFilter::default() }).await?;
    let (calibration, calibrated) = outcomes::calibrate(&recent, s.model.interval_scale, &s.learning);
    Ok(Learned { due, recent, calibration, calibrated })
}

/// The daily tables' valid rows a run keeps for the next one, being written.
struct KeptWindows {
    /// The directory, and the thread writing: each table's window, and the milliseconds it took.
    writing: Option<(PathBuf, std::thread::JoinHandle<(Vec<(crate::model::contract::Table, std::result::Result<crate::model::batch::Window, String>)>, u64)>)>,
}

impl KeptWindows {
    fn start(dir: Option<PathBuf>, kept: Vec<crate::connectors::window::Keep>, run_id: &str) -> KeptWindows {
        let Some(dir) = dir else { return KeptWindows { writing: None } };
        let (to, run_id) = (dir.clone(), run_id.to_string());
        let writing = std::thread::spawn(move || timed_ms(|| kept.iter().map(|k| (k.table, crate::connectors::window::write(&to, &run_id, k))).collect()));
        KeptWindows { writing: Some((dir, writing)) }
    }

    /// Stores the checks, each with its table's window where one was
    /// written, then removes the windows no check names any more.
    async fn finish(self, db: &Db, mut checks: Vec<crate::model::batch::StoredCheck>) {
        let waited = std::time::Instant::now();
        let written = match self.writing {
            Some((dir, writing)) => Some((dir, writing.join().unwrap_or_default())),
            None => None,
        };
        let written = written.map(|(dir, (windows, write_ms))| {
            let rows: u64 = windows.iter().filter_map(|(_, w)| w.as_ref().ok()).map(|w| w.rows).sum();
            tracing::debug!(dir = %dir.display(), rows, write_ms, waited_ms = waited.elapsed().as_millis() as u64, "the valid rows kept for the next run");
            (dir, windows)
        });
        if let Some((_, windows)) = &written {
            for (table, w) in windows {
                match (w, checks.iter_mut().find(|c| c.table == *table)) {
                    (Ok(w), Some(c)) => c.window = Some(w.clone()),
                    (Err(e), _) => tracing::warn!(table = table.name(), error = %e, "the valid rows were not kept: the next run reads them again"),
                    _ => {}
                }
            }
        }
        if let Err(e) = db.put_checks(&checks).await {
            tracing::warn!(error = %e, "the older rows' check was not kept: the next run judges them again");
            return;
        }
        if let Some((dir, _)) = written {
            for table in [crate::model::contract::Table::ProductDaily, crate::model::contract::Table::CampaignDaily] {
                crate::connectors::window::prune(&dir, table, checks.iter().find(|c| c.table == table).and_then(|c| c.window.as_ref()));
            }
        }
    }
}

/// One stage's span: its name and the run's id on every line it logs.
pub fn stage_span(stage: &'static str, run_id: &str) -> tracing::Span {
    tracing::info_span!("stage", stage, run_id = %run_id)
}

/// Where the run's report goes: `--report-dir`, else `report.dir/<as_of>/`
/// (and `shard-K-of-N/` for a shard).
fn report_dir(cfg: &LoadedConfig, req: &RunRequest, as_of: Day) -> PathBuf {
    req.report_dir.clone().unwrap_or_else(|| {
        let day = cfg.resolve(&cfg.settings.report.dir).join(date_of(as_of).to_string());
        match req.shard {
            Some(k) => day.join(format!("shard-{}-of-{}", k.index, k.count)),
            None => day,
        }
    })
}

async fn stages(cfg: &LoadedConfig, req: &RunRequest, db: &Db, run_id: &str, as_of: Day) -> Result<(Report, PathBuf)> {
    let s = &cfg.settings;
    let started = std::time::Instant::now();
    // Everything that can fail for a configuration reason is checked before
    // the first action: the database is open, the report directory must be
    // writable, the platform's client is built below before acting.
    let report_dir = report_dir(cfg, req, as_of);
    report::prepare_dir(&report_dir).map_err(|source| Error::ReportDir { path: report_dir.display().to_string(), source })?;
    let (raw, read) = async {
        let (raw, fetch) = sync::read_batch(cfg, db, as_of).await?;
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
        // The daily rows an earlier run kept, read back, count as read.
        let kept = |t: &crate::model::batch::RawTable| t.cached.as_ref().map_or(0, |c| c.rows.height());
        let rows = (raw.products.df.height() + raw.product_daily.df.height() + raw.campaigns.df.height() + raw.campaign_daily.df.height() + kept(&raw.product_daily) + kept(&raw.campaign_daily)) as u64;
        Ok::<_, Error>((raw, StageReport::new("read", started, rows, rows)))
    }
    .instrument(stage_span("read", run_id))
    .await?;
    let (mut valid, analysis, mut stage_reports) = prepare_day(s, raw, as_of, req.shard.as_ref(), run_id)?;
    stage_reports.insert(0, read);
    // The valid rows kept for the next run are written while this one goes
    // on (not by a shard: shards share the files and the checks).
    let keeping = KeptWindows::start(sync::validated_dir(cfg).filter(|_| req.shard.is_none()), std::mem::take(&mut valid.kept), run_id);
    let checks = valid.checks.clone();
    let learned = learn(db, &valid, s, run_id).instrument(stage_span("learn", run_id)).await?;
    let (mut plan, r_decide) = stage_span("decide", run_id).in_scope(|| decide(&analysis, s, &learned.calibrated))?;
    stage_reports.push(r_decide);
    // The model writes copy for the new campaigns (the template stays where
    // it fails); the copy goes into the create actions with the plan.
    let key = std::env::var(&s.llm.api_key_env).ok().filter(|k| !k.is_empty()).map(secrecy::SecretString::from);
    let mut llm = Llm::new(&s.llm, db, key);
    let drafts: Vec<(String, String, String, f64, crate::model::plan::AdCopy)> = plan
        .new_campaigns
        .iter()
        .map(|n| (n.product_id.clone(), n.product_name.clone(), n.category.clone(), n.price, n.copy.clone()))
        .collect();
    for (product_id, name, category, price, template) in drafts {
        let written = llm.ad_copy(&name, &category, price).await;
        plan.set_copy(&product_id, written.over(&template));
    }
    let crash = CrashHook::at(req.crash_at);
    let ctx = ActContext {
        run_id,
        dry_run: req.dry_run,
        kill_switch: req.kill_switch,
        settings: s,
        quality: &valid.quality,
        stop: &req.stop,
        crash: &crash,
        replan: req.replan,
    };
    if req.stop.requested() {
        return Err(Error::Stopped);
    }
    let platform = Platform::build(cfg, db)?;
    let (outcome, r_act) = act(plan, &ctx, db, &platform).instrument(stage_span("act", run_id)).await?;
    stage_reports.push(r_act);

    // The report's own timings, part by part (each lap from the end of the last).
    let mut lap_start = std::time::Instant::now();
    let mut lap = move || {
        let ms = lap_start.elapsed().as_millis() as u64;
        lap_start = std::time::Instant::now();
        ms
    };
    let mut report = report::build(ReportInput {
        run_id,
        dry_run: req.dry_run,
        mode: s.act.mode.into(),
        outcome: &outcome,
        quality: &valid.quality,
        quarantine: &valid.quarantine,
        stages: stage_reports,
        shard: req.shard,
        outcomes: Some(learned.section(s.learning.report_max_rows as usize)),
    });
    report::trend::attach(&mut report, &valid, as_of, s.report.trend_days, s.objective.margin).map_err(AnalyzeError::from)?;
    if let Some((id, prev_as_of)) = db.previous_run(run_id).await? {
        let before = db.decision_rows(&id).await?;
        report.changes = report::changes(&report, &before);
        report.previous = Some(PreviousRun { run_id: id, as_of: prev_as_of });
    }
    let (facts, names) = report::narrative_facts(&report, &outcome.plan);
    if let Some(text) = llm.narrative(&facts, &names).await {
        report.narrative = text;
        report.narrative_source = NarrativeSource::Llm;
    }
    report.llm = llm.usage.clone();
    let built_ms = lap();
    // The report is rendered and written on a thread of its own while its
    // decisions', actions' and quarantine's rows go into the database; the
    // formats then join them in the same transaction.
    let report = std::sync::Arc::new(report);
    let rendering = {
        let (report, dir, timeout) = (report.clone(), report_dir.clone(), std::time::Duration::from_secs_f64(s.report.chart_timeout_s));
        tokio::task::spawn_blocking(move || {
            let (rendered, rendered_ms) = timed_ms(|| report::render(&report, timeout));
            let rendered = rendered?;
            let (written, written_ms) = timed_ms(|| report::write(&rendered, &dir));
            written.map(|()| (rendered, rendered_ms, written_ms))
        })
    };
    let (rows, rendering) = tokio::join!(
        async {
            let t = std::time::Instant::now();
            db.store_report_rows(&report, &valid.quarantine).await.map(|r| (r, t.elapsed().as_millis() as u64))
        },
        rendering
    );
    let report_error = |source| Error::Report { path: report_dir.display().to_string(), source };
    let (rendered, rendered_ms, written_ms) = rendering.unwrap_or_else(|panic| std::panic::resume_unwind(panic.into_panic())).map_err(report_error)?;
    let (storing, rows_ms) = rows?;
    let beside_ms = lap();
    storing.finish(&rendered).await?;
    let stored_ms = lap();
    let report = std::sync::Arc::try_unwrap(report).unwrap_or_else(|shared| (*shared).clone());
    tracing::info!(
        built_ms,
        rendered_ms,
        written_ms,
        rows_ms,
        beside_ms,
        stored_ms,
        bytes = rendered.json.len() + rendered.markdown.len() + rendered.csv.len() + rendered.html.len(),
        "report done"
    );
    // The next run starts from this one's check of the files' older rows
    // (and its valid rows from the reach on, where kept).
    keeping.finish(db, checks).await;
    if req.report_dir.is_none() && req.shard.is_none() {
        // The list of runs beside the days' directories: derived, so a
        // failure to write it is told, not fatal.
        let index = cfg.resolve(&s.report.dir).join("index.html");
        match db.report_index().await {
            Ok(runs) => {
                if let Err(e) = std::fs::write(&index, report::index::html(&runs)) {
                    tracing::warn!(path = %index.display(), error = %e, "the list of runs was not written");
                }
            }
            Err(e) => tracing::warn!(error = %e, "the list of runs was not read"),
        }
    }
    Ok((report, report_dir))
}
