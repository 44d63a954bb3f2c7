//! `schedule`: stays up and runs the pipeline on `[schedule] cron` in
//! `schedule.timezone` (tokio-cron-scheduler). Never two runs at once: a tick
//! that finds a run in flight is skipped and logged. SIGTERM or SIGINT stop
//! it: no new run starts, the run in flight stops at its next safe point
//! (between two actions, or before acting; see `stop`), records where it
//! stopped, and the process exits 0. A second signal exits at once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_cron_scheduler::{Job, JobScheduler};

use crate::config::{ConfigError, LoadedConfig};
use crate::pipeline::{self, RunError, RunRequest};

/// Set on SIGTERM/SIGINT: ticks from then on start nothing.
static STOPPING: AtomicBool = AtomicBool::new(false);

/// What a `schedule` process did before it stopped.
#[derive(Debug, Clone, Default)]
pub struct ScheduleSummary {
    pub runs: u64,
    pub skipped: u64,
}

fn scheduler_err(e: impl std::fmt::Display) -> RunError {
    RunError::NotFound(format!("scheduler: {e}"))
}

/// One tick: a run, unless one is in flight.
async fn tick(cfg: Arc<LoadedConfig>, busy: Arc<AtomicBool>, runs: Arc<AtomicU64>, skipped: Arc<AtomicU64>) {
    if STOPPING.load(Ordering::SeqCst) {
        return;
    }
    if busy.swap(true, Ordering::SeqCst) {
        skipped.fetch_add(1, Ordering::Relaxed);
        tracing::warn!("tick skipped: the previous run is still in flight");
        return;
    }
    let started = Instant::now();
    // The run on a thread of its own with its own runtime: the stages hold
    // non-Send state across awaits, and a run must not share the scheduler's threads.
    let outcome = tokio::task::spawn_blocking(move || {
        // Multi-threaded: polars blocks in place inside async code.
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime for the run");
        let req = RunRequest { as_of: None, dry_run: false, report_dir: None, shard: None };
        rt.block_on(pipeline::run(&cfg, &req)).map(|s| (s.report.run_id.clone(), format!("{:?}", s.report.status)))
    })
    .await;
    runs.fetch_add(1, Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    match outcome {
        Ok(Ok((run_id, status))) => tracing::info!(run_id = %run_id, status = %status, seconds, "tick: run finished"),
        Ok(Err(e)) => tracing::error!(error = %e, exit_code = e.exit_code(), seconds, "tick: run failed"),
        Err(e) => tracing::error!(error = %e, "tick: the run panicked"),
    }
    busy.store(false, Ordering::SeqCst);
}

pub async fn schedule(cfg: LoadedConfig) -> Result<ScheduleSummary, RunError> {
    let tz: chrono_tz::Tz = cfg.settings.schedule.timezone.parse().map_err(|_| {
        RunError::Config(ConfigError {
            problems: vec![format!("schedule.timezone: unknown time zone \"{}\"", cfg.settings.schedule.timezone)],
        })
    })?;
    let exprs = cfg.settings.schedule.cron.clone();
    if exprs.is_empty() {
        return Err(RunError::Config(ConfigError { problems: vec!["schedule.cron: at least one cron expression is needed".into()] }));
    }
    let cfg = Arc::new(cfg);
    let busy = Arc::new(AtomicBool::new(false));
    let runs = Arc::new(AtomicU64::new(0));
    let skipped = Arc::new(AtomicU64::new(0));
    let mut sched = JobScheduler::new().await.map_err(scheduler_err)?;
    let mut bad = Vec::new();
    for expr in &exprs {
        let (cfg, busy, runs, skipped) = (cfg.clone(), busy.clone(), runs.clone(), skipped.clone());
        let job = Job::new_async_tz(expr.as_str(), tz, move |_id, _lock| {
            Box::pin(tick(cfg.clone(), busy.clone(), runs.clone(), skipped.clone()))
        });
        match job {
            Ok(job) => {
                sched.add(job).await.map_err(scheduler_err)?;
            }
            Err(_) => bad.push(format!("schedule.cron: \"{expr}\" is not a cron expression (seconds first: \"0 0 6 * * *\")")),
        }
    }
    if !bad.is_empty() {
        return Err(RunError::Config(ConfigError { problems: bad }));
    }
    sched.start().await.map_err(scheduler_err)?;
    tracing::info!(cron = ?exprs, timezone = %tz, "schedule started");

    let signal = crate::stop::listen().await.unwrap_or("a signal");
    tracing::info!(signal, "no new runs; the run in flight stops at its next safe point");
    STOPPING.store(true, Ordering::SeqCst);
    sched.shutdown().await.map_err(scheduler_err)?;
    while busy.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let summary = ScheduleSummary { runs: runs.load(Ordering::Relaxed), skipped: skipped.load(Ordering::Relaxed) };
    tracing::info!(runs = summary.runs, skipped = summary.skipped, "schedule stopped");
    Ok(summary)
}
