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

use crate::clock::SystemClock;
use crate::config::{ConfigError, LoadedConfig};
use crate::error::{exit_code, Error, Result};
use crate::pipeline::{self, RunRequest};
use crate::stop::Stop;

/// What a `schedule` process did before it stopped.
#[derive(Debug, Clone, Default)]
pub struct ScheduleSummary {
    pub runs: u64,
    pub skipped: u64,
}

fn scheduler_err(e: impl std::fmt::Display) -> Error {
    Error::Scheduler(e.to_string())
}

/// What every tick shares: the settings, whether a run is in flight, the
/// counts, and the stop signal (set on SIGTERM/SIGINT: ticks from then on
/// start nothing, and the run in flight stops at its next safe point).
#[derive(Clone)]
struct Ticks {
    cfg: Arc<LoadedConfig>,
    busy: Arc<AtomicBool>,
    runs: Arc<AtomicU64>,
    skipped: Arc<AtomicU64>,
    stop: Stop,
}

/// One tick: a run, unless one is in flight.
async fn tick(t: Ticks) {
    let Ticks { cfg, busy, runs, skipped, stop } = t;
    if stop.requested() {
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
        let kill_switch = std::env::var(crate::stages::act::KILL_SWITCH_ENV).is_ok_and(|v| v == "1");
        let req = RunRequest { kill_switch, stop, ..RunRequest::default() };
        rt.block_on(pipeline::run(&cfg, &req, &SystemClock)).map(|s| (s.report.run_id.clone(), s.report.status))
    })
    .await;
    runs.fetch_add(1, Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64();
    match outcome {
        Ok(Ok((run_id, status))) => tracing::info!(run_id = %run_id, status = %status, seconds, "tick: run finished"),
        Ok(Err(e)) => tracing::error!(error = %e, exit_code = exit_code(&e), seconds, "tick: run failed"),
        Err(e) => tracing::error!(error = %e, "tick: the run panicked"),
    }
    busy.store(false, Ordering::SeqCst);
}

pub async fn schedule(cfg: LoadedConfig, stop: Stop) -> Result<ScheduleSummary> {
    let tz: chrono_tz::Tz = cfg.settings.schedule.timezone.parse().map_err(|_| {
        Error::Config(ConfigError {
            problems: vec![format!("schedule.timezone: unknown time zone \"{}\"", cfg.settings.schedule.timezone)],
        })
    })?;
    let exprs = cfg.settings.schedule.cron.clone();
    if exprs.is_empty() {
        return Err(Error::Config(ConfigError { problems: vec!["schedule.cron: at least one cron expression is needed".into()] }));
    }
    let ticks = Ticks {
        cfg: Arc::new(cfg),
        busy: Arc::new(AtomicBool::new(false)),
        runs: Arc::new(AtomicU64::new(0)),
        skipped: Arc::new(AtomicU64::new(0)),
        stop: stop.clone(),
    };
    let mut sched = JobScheduler::new().await.map_err(scheduler_err)?;
    let mut bad = Vec::new();
    for expr in &exprs {
        let t = ticks.clone();
        let job = Job::new_async_tz(expr.as_str(), tz, move |_id, _lock| Box::pin(tick(t.clone())));
        match job {
            Ok(job) => {
                sched.add(job).await.map_err(scheduler_err)?;
            }
            Err(_) => bad.push(format!("schedule.cron: \"{expr}\" is not a cron expression (seconds first: \"0 0 6 * * *\")")),
        }
    }
    if !bad.is_empty() {
        return Err(Error::Config(ConfigError { problems: bad }));
    }
    sched.start().await.map_err(scheduler_err)?;
    tracing::info!(cron = ?exprs, timezone = %tz, "schedule started");

    let signal = crate::stop::listen(stop).await.unwrap_or("a signal");
    tracing::info!(signal, "no new runs; the run in flight stops at its next safe point");
    sched.shutdown().await.map_err(scheduler_err)?;
    while ticks.busy.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let summary = ScheduleSummary { runs: ticks.runs.load(Ordering::Relaxed), skipped: ticks.skipped.load(Ordering::Relaxed) };
    tracing::info!(runs = summary.runs, skipped = summary.skipped, "schedule stopped");
    Ok(summary)
}
