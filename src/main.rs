//! The `campaign-pilot` binary: parse, load settings, run, map to an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use campaign_pilot::cli::{Cli, Command, FormatArg, LogFormat, OrderArg, PolicyArg, SandboxCommand};
use campaign_pilot::clock::{Clock, SystemClock};
use campaign_pilot::config;
use campaign_pilot::error::{exit_code, status_code, Error};
use campaign_pilot::model::decision::Decision;
use campaign_pilot::model::plan::ActionStatus;
use campaign_pilot::model::shard::Shard;
use campaign_pilot::pipeline::{self, RunRequest};
use campaign_pilot::review::{self, ReviewContext};
use campaign_pilot::sandbox::generate::{generate, Format, GenerateOptions, RowOrder};
use campaign_pilot::sandbox::serve::{serve, ServeOptions};
use campaign_pilot::sandbox::simulate::{self, Policy, SimulateOptions};
use campaign_pilot::sandbox::world::WorldOptions;
use campaign_pilot::stages::act::KILL_SWITCH_ENV;
use campaign_pilot::stop::{self, Stop};

/// Writes a line to stdout, ending quietly if the reader has gone
/// (`run … | head`): the exit code is the run's, never a panic.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($t)*);
    }};
}

/// `say!` without the line end.
macro_rules! say_raw {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($t)*);
    }};
}

// polars allocates and frees large buffers all run long; mimalloc does that
// with far fewer page faults than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Polars' in-memory engine hands a group-by of few distinct keys to its
    // streaming engine (its own async executor, with rare lost-wakeup hangs
    // reported upstream, pola-rs/polars#27969); a batch job that must never
    // hang keeps every group-by in memory. Set before any thread starts; an
    // operator's own value wins.
    if std::env::var_os("POLARS_NO_PARTITION").is_none() {
        std::env::set_var("POLARS_NO_PARTITION", "1");
    }
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAMPAIGN_PILOT_LOG")
        .unwrap_or_else(|_| {
            // The closed loop runs the pipeline hundreds of times: its lines
            // would drown the progress bar and the table.
            let quiet = matches!(cli.command, Command::Sandbox { command: SandboxCommand::Simulate(_) } | Command::Tune(_));
            if quiet { "warn,campaign_pilot=warn" } else { "warn,campaign_pilot=info" }.into()
        });
    let json = match cli.log_format {
        Some(f) => f == LogFormat::Json,
        None => !std::io::IsTerminal::is_terminal(&std::io::stdout()),
    };
    // Every log line passes the redactor: no secret the process holds, and
    // no `Bearer`/`Basic` credential, reaches stderr whatever logged it.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| campaign_pilot::secrets::RedactingWriter(std::io::stderr()));
    if json {
        // One JSON object a line, with the run span's fields (run_id, as_of) on every line.
        builder.json().with_current_span(true).with_span_list(false).init();
    } else {
        builder.init();
    }
    let code = match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("campaign-pilot: {e}");
            exit_code(&e)
        }
    };
    ExitCode::from(code)
}

fn load_config(flag: Option<PathBuf>) -> Result<config::LoadedConfig, Error> {
    let file = flag.or_else(|| {
        let p = PathBuf::from("pipeline.toml");
        p.exists().then_some(p)
    });
    Ok(config::load(file.as_deref(), std::env::vars())?)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime")
}

fn print_review(verb: &str, r: &review::ReviewSummary) -> u8 {
    say!("campaign-pilot: {verb} {} ({} actions)", r.invocation_id, r.actions.len());
    for a in &r.actions {
        say!("  {:8} {:10} {} {:.2} -> {:.2}  {}", a.status.as_str(), a.kind.as_str(), a.key, a.from, a.to, a.reason);
    }
    if r.failed() { 3 } else { 0 }
}

#[derive(Clone, Copy)]
enum Review {
    Approve { force: bool },
    Reject,
    Rollback,
}

/// `approve`, `reject` or `rollback`: one invocation through the journal,
/// stoppable between two actions like a run.
fn review_command(flag: Option<PathBuf>, verb: Review, id: &str, clock: &dyn Clock) -> Result<u8, Error> {
    let cfg = load_config(flag)?;
    runtime().block_on(async {
        let stop = Stop::default();
        let _signal = stop::listen(stop.clone());
        let ctx = ReviewContext { cfg: &cfg, clock, stop };
        let (name, r) = match verb {
            Review::Approve { force } => ("approve", review::approve(&ctx, id, force).await?),
            Review::Reject => ("reject", review::reject(&ctx, id).await?),
            Review::Rollback => ("rollback", review::rollback(&ctx, id).await?),
        };
        Ok(print_review(name, &r))
    })
}

/// The crash test's kill point, read only by a build with the test hooks.
fn crash_at() -> Option<u64> {
    #[cfg(feature = "test-hooks")]
    {
        std::env::var("CAMPAIGN_PILOT_TEST_CRASH_AT").ok().and_then(|v| v.parse().ok())
    }
    #[cfg(not(feature = "test-hooks"))]
    {
        None
    }
}

fn dispatch(cli: Cli) -> Result<u8, Error> {
    let Cli { config: flag, command, .. } = cli;
    let clock = SystemClock;
    match command {
        Command::Approve { id, force } => review_command(flag, Review::Approve { force }, &id, &clock),
        Command::Reject { id } => review_command(flag, Review::Reject, &id, &clock),
        Command::Rollback { run_id } => review_command(flag, Review::Rollback, &run_id, &clock),
        Command::History { campaign } => {
            let cfg = load_config(flag)?;
            let rows = runtime().block_on(review::history(&cfg, campaign.as_deref()))?;
            say!("{:25} {:8} {:10} {:10} {:>10} {:>10} {:9} key", "at", "actor", "campaign", "kind", "before", "after", "status");
            for h in rows {
                say!(
                    "{:25} {:8} {:10} {:10} {:>10.2} {:>10.2} {:9} {}",
                    &h.at[..h.at.len().min(25)],
                    h.actor.as_str(),
                    h.campaign_id,
                    h.kind.as_str(),
                    h.before,
                    h.after,
                    h.status.as_str(),
                    h.action_key
                );
            }
            Ok(0)
        }
        Command::Outcomes { rule, campaign, json } => {
            let cfg = load_config(flag)?;
            let rows = runtime().block_on(review::outcomes(&cfg, rule, campaign.as_deref()))?;
            if json {
                say!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(0);
            }
            say!(
                "{:10} {:10} {:15} {:>4} {:>10} {:>21} {:>10} {:4}  key",
                "action day", "campaign", "rule", "days", "expected", "80 %", "observed", "hit"
            );
            let o = |x: Option<f64>| x.map_or("–".to_string(), |v| format!("{v:.2}"));
            for f in &rows {
                say!(
                    "{:10} {:10} {:15} {:>4} {:>10} {:>21} {:>10.2} {:4}  {}",
                    f.action_as_of,
                    f.campaign_id,
                    f.rule.as_str(),
                    f.follow_up_days,
                    o(f.expected_delta),
                    format!("{} to {}", o(f.low), o(f.high)),
                    f.observed_delta,
                    match f.hit { Some(true) => "hit", Some(false) => "miss", None => "–" },
                    f.action_key
                );
            }
            if rows.is_empty() {
                say!("(no follow-ups yet: an applied action is followed up {:?} days after it took effect)", cfg.settings.learning.follow_up_days);
            }
            Ok(0)
        }
        Command::Mcp => {
            let cfg = load_config(flag)?;
            runtime().block_on(campaign_pilot::mcp::serve_stdio(&cfg))?;
            Ok(0)
        }
        Command::Chat { session } => {
            let cfg = load_config(flag)?;
            runtime().block_on(campaign_pilot::chat::terminal(&cfg, session))?;
            Ok(0)
        }
        Command::Serve { bind } => {
            let cfg = load_config(flag)?;
            runtime().block_on(campaign_pilot::serve::serve(&cfg, bind.as_deref()))?;
            Ok(0)
        }
        Command::Tune(a) => {
            let cfg = load_config(flag)?;
            a.world.check().map_err(Error::Usage)?;
            if a.seeds.is_empty() {
                return Err(Error::Usage("tune: at least one --seed".into()));
            }
            let opts = campaign_pilot::tune::TuneOptions {
                seeds: a.seeds.clone(),
                days: a.world.days,
                warmup: a.world.warmup,
                products: a.world.products.max(1),
                campaigns: a.world.campaigns,
                policy: match a.policy {
                    PolicyArg::Seed => Policy::Seed,
                    PolicyArg::Profit => Policy::Profit,
                    PolicyArg::None | PolicyArg::Oracle => return Err(Error::Usage("tune --policy: seed or profit (the baselines have no keys)".into())),
                },
                progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            };
            if let (Some(from), Some(to)) = (a.from, a.to) {
                let grid = campaign_pilot::tune::grid(&cfg);
                let rows = runtime().block_on(campaign_pilot::tune::replay(&cfg, &grid, from, to, opts.progress))?;
                say!("{}", campaign_pilot::tune::replay_table(&rows, from, to));
                if a.replay_only {
                    if let Some(path) = &a.json {
                        std::fs::write(path, serde_json::to_string_pretty(&rows)?)
                            .map_err(|e| Error::Usage(format!("--json {}: {e}", path.display())))?;
                    }
                    return Ok(0);
                }
            }
            let result = runtime().block_on(campaign_pilot::tune::tune(&cfg, &opts)).map_err(|e| Error::Simulate(e.to_string()))?;
            say!("{}", campaign_pilot::tune::table(&result));
            if let Some(path) = &a.write {
                std::fs::write(path, campaign_pilot::tune::suggested_toml(&result))
                    .map_err(|e| Error::Usage(format!("--write {}: {e}", path.display())))?;
            }
            if let Some(path) = &a.json {
                std::fs::write(path, serde_json::to_string_pretty(&result)?)
                    .map_err(|e| Error::Usage(format!("--json {}: {e}", path.display())))?;
            }
            Ok(0)
        }
        Command::Schedule => {
            let cfg = load_config(flag)?;
            let s = runtime().block_on(campaign_pilot::schedule::schedule(cfg, Stop::default()))?;
            say!("campaign-pilot: schedule stopped after {} runs ({} ticks skipped while a run was in flight)", s.runs, s.skipped);
            Ok(0)
        }
        Command::Backfill { from, to, restart } => {
            let cfg = load_config(flag)?;
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let stop = Stop::default();
            let req = campaign_pilot::backfill::BackfillRequest { from, to, restart, progress, stop: stop.clone() };
            let s = runtime().block_on(async {
                let _signal = stop::listen(stop);
                campaign_pilot::backfill::backfill(&cfg, &req).await
            })?;
            say!(
                "campaign-pilot: backfill {from}..{to}: {} days, {} already done, {} replayed in {:.1}s (dry run: nothing applied)",
                s.days, s.skipped, s.replayed, s.seconds
            );
            say_raw!("{}", campaign_pilot::backfill::table(&s.weeks));
            if s.interrupted {
                say!("interrupted: {} days to go; run the same command again to resume", s.days - s.skipped - s.replayed);
                Ok(3)
            } else {
                Ok(0)
            }
        }
        Command::Report { run_id, format, list } => {
            let cfg = load_config(flag)?;
            let text = if list {
                runtime().block_on(review::report_list(&cfg, format.format()))?
            } else {
                runtime().block_on(review::stored_report(&cfg, run_id.as_deref(), format.format()))?
            };
            say_raw!("{text}");
            Ok(0)
        }
        Command::Run(args) => {
            let cfg = load_config(flag)?;
            let shard = Shard::resolve(args.shard.as_deref(), |k| std::env::var(k).ok())?;
            let req = RunRequest {
                as_of: args.as_of,
                dry_run: args.dry_run,
                report_dir: args.report_dir,
                shard,
                kill_switch: std::env::var(KILL_SWITCH_ENV).is_ok_and(|v| v == "1"),
                stop: Stop::default(),
                crash_at: crash_at(),
                replan: args.replan,
            };
            let summary = runtime().block_on(async {
                let _signal = stop::listen(req.stop.clone());
                pipeline::run(&cfg, &req, &clock).await
            })?;
            print_summary(&summary);
            Ok(status_code(summary.report.status))
        }
        Command::Sandbox { command: SandboxCommand::Serve(a) } => {
            if !(0.0..=1.0).contains(&a.fail_rate) {
                return Err(Error::Usage(format!("--fail-rate must be between 0 and 1, found {}", a.fail_rate)));
            }
            let opts = ServeOptions {
                world: WorldOptions {
                    seed: a.seed,
                    products: a.products,
                    campaigns: a.campaigns,
                    history_days: a.history_days,
                    today: campaign_pilot::model::day::day_of(a.today.unwrap_or_else(|| pipeline::default_as_of("UTC", &clock))),
                },
                latency: std::time::Duration::from_millis(a.latency_ms),
                fail_rate: a.fail_rate,
                impact_rate_limit: a.impact_rate_limit,
                impact_rate_window: std::time::Duration::from_secs(a.impact_rate_window_s.max(1)),
                analytics: !a.no_analytics,
            };
            runtime().block_on(serve(opts, a.port)).map_err(Error::Serve)?;
            Ok(0)
        }
        Command::Sandbox { command: SandboxCommand::Simulate(a) } => {
            let cfg = load_config(flag)?;
            a.world.check().map_err(Error::Usage)?;
            let opts = SimulateOptions {
                seed: a.seed,
                days: a.world.days,
                warmup: a.world.warmup,
                products: a.world.products.max(1),
                campaigns: a.world.campaigns,
                policies: a
                    .policies
                    .iter()
                    .map(|p| match p {
                        PolicyArg::None => Policy::None,
                        PolicyArg::Seed => Policy::Seed,
                        PolicyArg::Profit => Policy::Profit,
                        PolicyArg::Oracle => Policy::Oracle,
                    })
                    .collect(),
                start: simulate::default_start(a.world.warmup),
                progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
                keep: a.keep.clone(),
            };
            let result = runtime().block_on(simulate::simulate(&cfg, &opts)).map_err(|e| Error::Simulate(e.to_string()))?;
            say!("{}", simulate::table(&result));
            if let Some(path) = &a.json {
                std::fs::write(path, serde_json::to_string_pretty(&result)?)
                    .map_err(|e| Error::Usage(format!("--json {}: {e}", path.display())))?;
            }
            Ok(0)
        }
        Command::Sandbox { command: SandboxCommand::Generate(a) } => {
            let opts = GenerateOptions {
                seed: a.seed,
                products: a.products,
                campaigns: a.campaigns,
                days: a.days,
                as_of: a.as_of.unwrap_or_else(|| pipeline::default_as_of("UTC", &clock)),
                format: match a.format {
                    FormatArg::Csv => Format::Csv,
                    FormatArg::Parquet => Format::Parquet,
                },
                faults: a.faults,
                progress: true,
                order: match a.order {
                    OrderArg::Id => RowOrder::Id,
                    OrderArg::Date => RowOrder::Date,
                },
                until: a.until,
            };
            let s = generate(&a.out, &opts).map_err(Error::Generate)?;
            let rows: Vec<String> = s.rows.iter().map(|(t, n)| format!("{t} {n}")).collect();
            say!("wrote {} ({}; {} fault rows)", s.dir.display(), rows.join(", "), s.faults);
            Ok(0)
        }
    }
}

fn print_summary(s: &pipeline::RunSummary) {
    let r = &s.report;
    say!(
        "campaign-pilot: run {} for {} {}{}{}",
        r.run_id,
        r.as_of,
        r.status.as_str(),
        if r.dry_run { " (dry run)" } else { "" },
        r.shard.as_ref().map(|k| format!(" (shard {k})")).unwrap_or_default()
    );
    if s.demo_generated {
        say!("  demo data generated (demo.enabled = true)");
    }
    let counts: Vec<String> = Decision::ALL.iter().filter_map(|d| r.decision_counts.get(d).map(|n| format!("{n} {d}"))).collect();
    say!("  {} campaigns: {}", r.campaigns.len(), counts.join(", "));
    let count = |s: ActionStatus| r.actions.iter().filter(|a| a.status == s).count();
    say!(
        "  {} actions: {} applied, {} proposed, {} skipped, {} failed; {} new campaigns",
        r.actions.len(),
        count(ActionStatus::Applied),
        count(ActionStatus::Proposed),
        count(ActionStatus::Skipped),
        count(ActionStatus::Failed),
        r.new_campaigns.len()
    );
    for h in &r.held_by {
        say!("  HELD by {}: {} (limit {})", h.guardrail, h.value, h.limit);
    }
    for l in campaign_pilot::report::highlights(r, 5) {
        say!("  · {l}");
    }
    say!(
        "  daily budget {:.2} -> {:.2}, savings {:.2}",
        r.totals.budget_before, r.totals.budget_after, r.totals.savings
    );
    let q = &r.data_quality;
    say!(
        "  rows read {}, quarantined {}, after as_of {}{}",
        q.rows_read.total(),
        q.rows_quarantined.total(),
        q.rows_after_as_of.total(),
        if q.stale { ", DATA IS STALE" } else { "" }
    );
    say!("  report: {}", s.report_dir.join("report.md").display());
}
