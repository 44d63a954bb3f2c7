//! `backfill --from --to`: the pipeline replayed as of each day, dry-run
//! only (the past is never acted on), each day's decisions stored, with a
//! progress bar and a weekly summary.
//!
//! The history is read once for the whole range (files, or the API
//! connectors' stored history brought up to date) and validated once as of
//! its last day; each day's valid rows are cut from that (the same as
//! validating as of that day: `RangeValidator`), then the day runs the same
//! transform → analyze → decide as `run --dry-run --as-of`.
//! A day is stored in one transaction, so an interrupted backfill (SIGINT,
//! SIGTERM, or a crash) resumes where it stopped: days already done are
//! skipped, the rest are replayed.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use chrono::{Datelike, NaiveDate};

use crate::config::LoadedConfig;
use crate::connectors::sync;
use crate::db::backfill::BackfillDay;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::model::day::day_of;
use crate::model::decision::Decision;
use crate::model::kinds::StoreKind;
use crate::model::run::RunMode;
use crate::pipeline::{plan_valid, stage_span, ReadFacts};
use crate::decisions::reach::needed_from;
use crate::stages::validate::RangeValidator;
use crate::report::{self, ReportInput};
use crate::sandbox::generate::ensure_demo;
use crate::stop::Stop;

#[derive(Debug, Clone)]
pub struct BackfillRequest {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Forget the days of the range already done and replay them.
    pub restart: bool,
    /// Draw a progress bar (on a terminal).
    pub progress: bool,
    /// Asked between two days whether to stop.
    pub stop: Stop,
}

#[derive(Debug, Clone)]
pub struct BackfillSummary {
    /// Days of the range.
    pub days: usize,
    /// Days found done when this invocation started (skipped).
    pub skipped: usize,
    /// Days replayed by this invocation.
    pub replayed: usize,
    /// Stopped by a signal before the range was done.
    pub interrupted: bool,
    pub seconds: f64,
    pub weeks: Vec<Week>,
}

/// One ISO week (Monday to Sunday) of replayed days.
#[derive(Debug, Clone, PartialEq)]
pub struct Week {
    pub monday: NaiveDate,
    pub days: usize,
    /// Campaign-days per decision class.
    pub decisions: BTreeMap<Decision, i64>,
    pub actions: i64,
    pub new_campaigns: i64,
    /// Daily budget before and after the rules' plan, averaged over the days.
    pub budget_before: f64,
    pub budget_after: f64,
    /// Σ savings of the week's plans (budget the rules would have taken
    /// from campaigns and not given back).
    pub savings: f64,
}

impl Week {
    fn empty(monday: NaiveDate) -> Week {
        Week {
            monday,
            days: 0,
            decisions: BTreeMap::new(),
            actions: 0,
            new_campaigns: 0,
            budget_before: 0.0,
            budget_after: 0.0,
            savings: 0.0,
        }
    }
}

/// Groups replayed days by ISO week; pure, for tests.
pub fn weekly(days: &[BackfillDay]) -> Vec<Week> {
    let mut weeks: BTreeMap<NaiveDate, Week> = BTreeMap::new();
    for d in days {
        let monday = d.as_of - chrono::Days::new(u64::from(d.as_of.weekday().num_days_from_monday()));
        let w = weeks.entry(monday).or_insert_with(|| Week::empty(monday));
        w.days += 1;
        for (k, n) in &d.decision_counts {
            *w.decisions.entry(*k).or_insert(0) += n;
        }
        w.actions += d.actions;
        w.new_campaigns += d.new_campaigns;
        w.budget_before += d.budget_before;
        w.budget_after += d.budget_after;
        w.savings += d.savings;
    }
    weeks
        .into_values()
        .map(|mut w| {
            w.budget_before /= w.days as f64;
            w.budget_after /= w.days as f64;
            w
        })
        .collect()
}

/// The summary table: one row per week, a column per decision class seen.
pub fn table(weeks: &[Week]) -> String {
    use std::fmt::Write as _;
    let classes: Vec<Decision> =
        Decision::ALL.iter().copied().filter(|c| weeks.iter().any(|w| w.decisions.get(c).is_some_and(|n| *n > 0))).collect();
    let mut s = format!("{:10} {:>4}", "week", "days");
    for c in &classes {
        let _ = write!(s, " {:>w$}", c.as_str(), w = c.as_str().len().max(6));
    }
    let _ = writeln!(s, " {:>7} {:>4} {:>13} {:>13} {:>11} {:>11}", "actions", "new", "budget/day", "after/day", "change/day", "savings");
    let mut total = Week::empty(weeks.first().map_or(NaiveDate::MIN, |w| w.monday));
    let row = |s: &mut String, label: &str, w: &Week| {
        let _ = write!(s, "{label:10} {:>4}", w.days);
        for c in &classes {
            let _ = write!(s, " {:>w$}", w.decisions.get(c).copied().unwrap_or(0), w = c.as_str().len().max(6));
        }
        let _ = writeln!(
            s,
            " {:>7} {:>4} {:>13.2} {:>13.2} {:>+11.2} {:>11.2}",
            w.actions,
            w.new_campaigns,
            w.budget_before,
            w.budget_after,
            w.budget_after - w.budget_before,
            w.savings
        );
    };
    for w in weeks {
        row(&mut s, &w.monday.to_string(), w);
        total.days += w.days;
        for (k, n) in &w.decisions {
            *total.decisions.entry(*k).or_insert(0) += n;
        }
        total.actions += w.actions;
        total.new_campaigns += w.new_campaigns;
        total.budget_before += w.budget_before * w.days as f64;
        total.budget_after += w.budget_after * w.days as f64;
        total.savings += w.savings;
    }
    if total.days > 0 {
        total.budget_before /= total.days as f64;
        total.budget_after /= total.days as f64;
    }
    row(&mut s, "total", &total);
    s
}

pub async fn backfill(cfg: &LoadedConfig, req: &BackfillRequest) -> Result<BackfillSummary> {
    let started = Instant::now();
    if req.from > req.to {
        return Err(Error::Usage(format!("--from {} is after --to {}", req.from, req.to)));
    }
    let s = &cfg.settings;
    let db = Db::connect(&cfg.database_url()).await?;
    // The run lock itself: a backfill stores history and runs rows as a run
    // does, so the two never interleave (a run meanwhile exits 75).
    let Some(_lock) = db.try_lock("run").await? else {
        db.close().await;
        return Err(Error::Locked);
    };
    tracing::info!("backfill holds the run lock until it is done");
    let (from, to) = (req.from.to_string(), req.to.to_string());
    if req.restart {
        let n = db.forget_backfill(&from, &to).await?;
        tracing::info!(days = n, "restart: forgot the days already replayed");
    }
    let done: std::collections::HashSet<NaiveDate> = db.backfill_days(&from, &to).await?.into_iter().map(|d| d.as_of).collect();
    let todo: Vec<NaiveDate> = req.from.iter_days().take_while(|d| *d <= req.to).filter(|d| !done.contains(d)).collect();
    let days = (req.to - req.from).num_days() as usize + 1;
    let mut summary = BackfillSummary { days, skipped: done.len(), replayed: 0, interrupted: false, seconds: 0.0, weeks: Vec::new() };
    tracing::info!(days, skipped = done.len(), to_replay = todo.len(), "backfill");

    if let (Some(first), Some(last)) = (todo.first(), todo.last()) {
        if s.demo.enabled && s.store.kind == StoreKind::Files {
            ensure_demo(&cfg.resolve(&s.store.path), req.to, s.demo.seed, s.demo.products, s.demo.campaigns, s.demo.days)?;
        }
        let (raw, fetch) = sync::read_range(cfg, &db, day_of(*first) - s.history.days as i32 + 1, day_of(*last), None).await?;
        if fetch.requests > 0 {
            tracing::info!(requests = fetch.requests, days = ?fetch.days_fetched, seconds = fetch.seconds, "fetched the missing history once for the whole range");
        }
        // Validated once for the whole range, each day cut from it.
        let read = ReadFacts::of(&raw);
        let t = Instant::now();
        let range = stage_span("validate", "backfill").in_scope(|| RangeValidator::new(raw, day_of(*last), &s.validate, s.act.min_day_fraction))?;
        tracing::info!(ms = t.elapsed().as_millis() as u64, cut = range.cuts(), "validated the range once: each day is cut from it");
        let bar = progress_bar(todo.len() as u64, req.progress);
        // Days are independent (dry, nothing learned): planned side by side,
        // one per core, and stored in order as they come.
        let work = Arc::new(Work { settings: s.clone(), range, read, days: todo.clone(), next: AtomicUsize::new(0), abort: AtomicBool::new(false) });
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(todo.len());
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let (work, tx, stop) = (work.clone(), tx.clone(), req.stop.clone());
                std::thread::spawn(move || work.run(&stop, &tx))
            })
            .collect();
        drop(tx);
        let mut ready: BTreeMap<usize, Result<Replayed>> = BTreeMap::new();
        while let Some((k, r)) = rx.recv().await {
            ready.insert(k, r);
            while let Some(r) = ready.remove(&summary.replayed) {
                let day = match r {
                    Ok(day) => day,
                    Err(e) => {
                        work.abort.store(true, Ordering::SeqCst);
                        return Err(e);
                    }
                };
                bar.set_message(day.as_of.to_string());
                db.save_backfill_day(&day.report, &day.started_at).await?;
                summary.replayed += 1;
                bar.inc(1);
                tracing::info!(
                    as_of = %day.as_of,
                    run_id = %day.report.run_id,
                    campaigns = day.report.campaigns.len(),
                    actions = day.report.actions.len(),
                    ms = day.ms,
                    "backfill day done"
                );
            }
        }
        for h in handles {
            let _ = h.join();
        }
        summary.interrupted = summary.replayed < todo.len();
        if summary.interrupted && !req.stop.requested() {
            return Err(Error::Backfill(format!("{} of {} days were planned and stored; the rest were not (nothing asked to stop)", summary.replayed, todo.len())));
        }
        bar.finish_and_clear();
    }
    summary.weeks = weekly(&db.backfill_days(&from, &to).await?);
    summary.seconds = started.elapsed().as_secs_f64();
    db.close().await;
    Ok(summary)
}

/// What the backfill's worker threads share: the range validated once, and
/// the days to replay, taken one at a time in order.
struct Work {
    settings: crate::config::Settings,
    range: RangeValidator,
    read: ReadFacts,
    days: Vec<NaiveDate>,
    next: AtomicUsize,
    /// Set when a day failed: the others stop taking days.
    abort: AtomicBool,
}

/// One day replayed, ready to store.
struct Replayed {
    as_of: NaiveDate,
    started_at: String,
    report: crate::model::report::Report,
    ms: u64,
}

impl Work {
    /// Takes days until none is left, a stop is asked for, or a day failed.
    fn run(&self, stop: &Stop, tx: &tokio::sync::mpsc::UnboundedSender<(usize, Result<Replayed>)>) {
        while !stop.requested() && !self.abort.load(Ordering::SeqCst) {
            let k = self.next.fetch_add(1, Ordering::SeqCst);
            let Some(day) = self.days.get(k) else { break };
            // A panic in one day's planning fails the backfill with its
            // message, in the day's turn, instead of ending the thread silently.
            let replayed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.replay(*day))).unwrap_or_else(|panic| {
                let why = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_default();
                Err(Error::Backfill(format!("planning {day} panicked: {why}")))
            });
            if tx.send((k, replayed)).is_err() {
                break;
            }
        }
    }

    /// The day as `run --dry-run --as-of` would plan it (the run's reach).
    fn replay(&self, as_of: NaiveDate) -> Result<Replayed> {
        let s = &self.settings;
        let started_at = chrono::Utc::now().to_rfc3339();
        let t = Instant::now();
        let run_id = uuid::Uuid::now_v7().to_string();
        let day = day_of(as_of);
        let (valid, r_validate) = stage_span("validate", &run_id).in_scope(|| self.range.day(day, Some(needed_from(day, s))))?;
        let (valid, plan, stages) = plan_valid(s, valid, r_validate, &self.read, &run_id)?;
        let outcome = crate::stages::act::dry_run(plan);
        let report = report::build(ReportInput {
            run_id: &run_id,
            dry_run: true,
            mode: RunMode::Backfill,
            outcome: &outcome,
            quality: &valid.quality,
            quarantine: &[],
            stages,
            shard: None,
            outcomes: None,
        });
        Ok(Replayed { as_of, started_at, report, ms: t.elapsed().as_millis() as u64 })
    }
}

fn progress_bar(len: u64, show: bool) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template("backfill [{bar:30}] {pos}/{len} days · {per_sec} · ETA {eta} · {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: &str, counts: &[(&str, i64)], before: f64, after: f64, savings: f64) -> BackfillDay {
        BackfillDay {
            as_of: d.parse().unwrap(),
            run_id: d.into(),
            campaigns: counts.iter().map(|(_, n)| n).sum(),
            actions: 2,
            new_campaigns: 1,
            budget_before: before,
            budget_after: after,
            savings,
            decision_counts: counts.iter().map(|(k, n)| (k.parse().unwrap(), *n)).collect(),
        }
    }

    #[test]
    fn days_group_into_iso_weeks_with_averaged_budgets_and_summed_savings() {
        // 2026-03-29 is a Sunday, 03-30 a Monday.
        let days = [
            day("2026-03-28", &[("PAUSE", 1), ("CONTINUE", 3)], 100.0, 90.0, 10.0),
            day("2026-03-29", &[("PAUSE", 2), ("CONTINUE", 2)], 100.0, 80.0, 20.0),
            day("2026-03-30", &[("MONITOR", 4)], 120.0, 120.0, 0.0),
        ];
        let weeks = weekly(&days);
        assert_eq!(weeks.len(), 2);
        assert_eq!(weeks[0].monday.to_string(), "2026-03-23");
        assert_eq!(weeks[0].days, 2);
        assert_eq!(weeks[0].decisions, BTreeMap::from([(Decision::Continue, 5), (Decision::Pause, 3)]));
        assert_eq!((weeks[0].budget_before, weeks[0].budget_after, weeks[0].savings), (100.0, 85.0, 30.0));
        assert_eq!((weeks[0].actions, weeks[0].new_campaigns), (4, 2));
        assert_eq!(weeks[1].monday.to_string(), "2026-03-30");
        assert_eq!(weeks[1].decisions, BTreeMap::from([(Decision::Monitor, 4)]));
        let t = table(&weeks);
        let total = t.lines().last().unwrap();
        assert!(total.starts_with("total"), "{t}");
        // 3 days; 5 CONTINUE, 4 MONITOR, 3 PAUSE; 6 actions; 3 new; budget (100+100+120)/3; change (90+80+120)/3 − that.
        let cells: Vec<&str> = total.split_whitespace().collect();
        assert_eq!(cells[1], "3", "{t}");
        assert!(t.lines().next().unwrap().contains("PAUSE") && !t.contains("RESUME"), "only the classes seen: {t}");
        assert!(total.contains("106.67") && total.contains("96.67") && total.contains("-10.00") && total.contains("30.00"), "{t}");
    }
}
