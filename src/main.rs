//! The `campaign-pilot` binary: parse, load settings, run, map to an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use campaign_pilot::cli::{Cli, Command, FormatArg, LogFormat, SandboxCommand};
use campaign_pilot::config;
use campaign_pilot::decisions::Decision;
use campaign_pilot::pipeline::{self, RunRequest};
use campaign_pilot::review;
use campaign_pilot::sandbox::generate::{generate, Format, GenerateOptions};
use campaign_pilot::sandbox::serve::{serve, ServeOptions};
use campaign_pilot::sandbox::world::WorldOptions;
use campaign_pilot::stages::act::RunStatus;

// polars allocates and frees large buffers all run long; mimalloc does that
// with far fewer page faults than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAMPAIGN_PILOT_LOG")
        .unwrap_or_else(|_| "warn,campaign_pilot=info".into());
    let json = match cli.log_format {
        Some(f) => f == LogFormat::Json,
        None => !std::io::IsTerminal::is_terminal(&std::io::stdout()),
    };
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        // One JSON object a line, with the run span's fields (run_id, as_of) on every line.
        builder.json().with_current_span(true).with_span_list(false).init();
    } else {
        builder.init();
    }
    ExitCode::from(dispatch(cli) as u8)
}

fn load_config(flag: Option<PathBuf>) -> Result<config::LoadedConfig, i32> {
    let file = flag.or_else(|| {
        let p = PathBuf::from("pipeline.toml");
        p.exists().then_some(p)
    });
    config::load(file.as_deref(), std::env::vars()).map_err(|e| {
        eprintln!("campaign-pilot: {e}");
        2
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime")
}

fn print_review(verb: &str, r: &review::ReviewSummary) -> i32 {
    println!("campaign-pilot: {verb} {} ({} actions)", r.invocation_id, r.actions.len());
    for a in &r.actions {
        let status = a.status.as_str();
        println!("  {status:8} {:10} {} {:.2} -> {:.2}  {}", a.kind.as_str(), a.key, a.from, a.to, a.reason);
    }
    if r.failed() { 3 } else { 0 }
}

async fn review_cmd<F, Fut>(verb: &str, flag: Option<PathBuf>, f: F) -> i32
where
    F: FnOnce(config::LoadedConfig) -> Fut,
    Fut: std::future::Future<Output = Result<review::ReviewSummary, pipeline::RunError>>,
{
    let cfg = match load_config(flag) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match f(cfg).await {
        Ok(r) => print_review(verb, &r),
        Err(e) => {
            eprintln!("campaign-pilot: {e}");
            e.exit_code()
        }
    }
}

fn history_cmd(flag: Option<PathBuf>, campaign: Option<String>) -> i32 {
    let cfg = match load_config(flag) {
        Ok(c) => c,
        Err(code) => return code,
    };
    match runtime().block_on(review::history(&cfg, campaign.as_deref())) {
        Ok(rows) => {
            println!("{:25} {:8} {:10} {:10} {:>10} {:>10} {:9} key", "at", "actor", "campaign", "kind", "before", "after", "status");
            for h in rows {
                println!(
                    "{:25} {:8} {:10} {:10} {:>10.2} {:>10.2} {:9} {}",
                    &h.at[..h.at.len().min(25)],
                    h.actor,
                    h.campaign_id,
                    h.kind,
                    h.before,
                    h.after,
                    h.status,
                    h.action_key
                );
            }
            0
        }
        Err(e) => {
            eprintln!("campaign-pilot: {e}");
            e.exit_code()
        }
    }
}

fn dispatch(cli: Cli) -> i32 {
    let Cli { config: flag, command, .. } = cli;
    match command {
        Command::Approve { id } => {
            runtime().block_on(review_cmd("approve", flag, |c| async move { review::approve(&c, &id).await }))
        }
        Command::Reject { id } => {
            runtime().block_on(review_cmd("reject", flag, |c| async move { review::reject(&c, &id).await }))
        }
        Command::Rollback { run_id } => {
            runtime().block_on(review_cmd("rollback", flag, |c| async move { review::rollback(&c, &run_id).await }))
        }
        Command::History { campaign } => history_cmd(flag, campaign),
        Command::Schedule => {
            let cfg = match load_config(flag) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match runtime().block_on(campaign_pilot::schedule::schedule(cfg)) {
                Ok(s) => {
                    println!("campaign-pilot: schedule stopped after {} runs ({} ticks skipped while a run was in flight)", s.runs, s.skipped);
                    0
                }
                Err(e) => {
                    eprintln!("campaign-pilot: {e}");
                    e.exit_code()
                }
            }
        }
        Command::Backfill { from, to, restart } => {
            let cfg = match load_config(flag) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let req = campaign_pilot::backfill::BackfillRequest { from, to, restart, progress };
            match runtime().block_on(campaign_pilot::backfill::backfill(&cfg, &req)) {
                Ok(s) => {
                    println!(
                        "campaign-pilot: backfill {from}..{to}: {} days, {} already done, {} replayed in {:.1}s (dry run: nothing applied)",
                        s.days, s.skipped, s.replayed, s.seconds
                    );
                    print!("{}", campaign_pilot::backfill::table(&s.weeks));
                    if s.interrupted {
                        println!("interrupted: {} days to go; run the same command again to resume", s.days - s.skipped - s.replayed);
                        3
                    } else {
                        0
                    }
                }
                Err(e) => {
                    eprintln!("campaign-pilot: {e}");
                    e.exit_code()
                }
            }
        }
        Command::Report { run_id, format } => {
            let cfg = match load_config(flag) {
                Ok(c) => c,
                Err(code) => return code,
            };
            match runtime().block_on(review::stored_report(&cfg, run_id.as_deref(), format.as_str())) {
                Ok(text) => {
                    print!("{text}");
                    0
                }
                Err(e) => {
                    eprintln!("campaign-pilot: {e}");
                    e.exit_code()
                }
            }
        }
        Command::Run(args) => {
            let cfg = match load_config(flag) {
                Ok(c) => c,
                Err(code) => return code,
            };
            let shard = match campaign_pilot::shard::Shard::resolve(args.shard.as_deref(), |k| std::env::var(k).ok()) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("campaign-pilot: {e}");
                    return 2;
                }
            };
            let req = RunRequest { as_of: args.as_of, dry_run: args.dry_run, report_dir: args.report_dir, shard };
            let run = async {
                let _signal = campaign_pilot::stop::listen();
                pipeline::run(&cfg, &req).await
            };
            match runtime().block_on(run) {
                Ok(summary) => {
                    print_summary(&summary);
                    exit_code(summary.report.status)
                }
                Err(e) => {
                    eprintln!("campaign-pilot: {e}");
                    e.exit_code()
                }
            }
        }
        Command::Sandbox { command: SandboxCommand::Serve(a) } => {
            if !(0.0..=1.0).contains(&a.fail_rate) {
                eprintln!("campaign-pilot: --fail-rate must be between 0 and 1, found {}", a.fail_rate);
                return 2;
            }
            let opts = ServeOptions {
                world: WorldOptions {
                    seed: a.seed,
                    products: a.products,
                    campaigns: a.campaigns,
                    history_days: a.history_days,
                    today: campaign_pilot::model::day_of(a.today.unwrap_or_else(|| pipeline::default_as_of("UTC"))),
                },
                latency: std::time::Duration::from_millis(a.latency_ms),
                fail_rate: a.fail_rate,
                impact_rate_limit: a.impact_rate_limit,
                impact_rate_window: std::time::Duration::from_secs(a.impact_rate_window_s.max(1)),
                analytics: !a.no_analytics,
            };
            match runtime().block_on(serve(opts, a.port)) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("campaign-pilot: sandbox serve: {e}");
                    1
                }
            }
        }
        Command::Sandbox { command: SandboxCommand::Generate(a) } => {
            let opts = GenerateOptions {
                seed: a.seed,
                products: a.products,
                campaigns: a.campaigns,
                days: a.days,
                as_of: a.as_of.unwrap_or_else(|| pipeline::default_as_of("UTC")),
                format: match a.format {
                    FormatArg::Csv => Format::Csv,
                    FormatArg::Parquet => Format::Parquet,
                },
                faults: a.faults,
                progress: true,
            };
            match generate(&a.out, &opts) {
                Ok(s) => {
                    let rows: Vec<String> = s.rows.iter().map(|(t, n)| format!("{t} {n}")).collect();
                    println!("wrote {} ({}; {} fault rows)", s.dir.display(), rows.join(", "), s.faults);
                    0
                }
                Err(e) => {
                    eprintln!("campaign-pilot: {e}");
                    if matches!(e, campaign_pilot::sandbox::generate::GenerateError::FaultsNeedCsv) { 2 } else { 1 }
                }
            }
        }
    }
}

/// SPEC §2: 0 success, 3 partial (failed actions are retried next run),
/// 4 held by a guardrail (a retry would hold again).
fn exit_code(status: RunStatus) -> i32 {
    match status {
        RunStatus::Succeeded => 0,
        RunStatus::Failed => 1,
        RunStatus::Partial => 3,
        RunStatus::Held => 4,
    }
}

fn print_summary(s: &pipeline::RunSummary) {
    let r = &s.report;
    println!(
        "campaign-pilot: run {} for {} {}{}{}",
        r.run_id,
        r.as_of,
        r.status.as_str(),
        if r.dry_run { " (dry run)" } else { "" },
        r.shard.as_ref().map(|k| format!(" (shard {k})")).unwrap_or_default()
    );
    if s.demo_generated {
        println!("  demo data generated (demo.enabled = true)");
    }
    let counts: Vec<String> = Decision::ALL
        .iter()
        .filter_map(|d| r.decision_counts.get(d).map(|n| format!("{n} {d}")))
        .collect();
    println!("  {} campaigns: {}", r.campaigns.len(), counts.join(", "));
    let count = |s: &str| r.actions.iter().filter(|a| a.status.as_str() == s).count();
    println!(
        "  {} actions: {} applied, {} proposed, {} skipped, {} failed; {} new campaigns",
        r.actions.len(),
        count("applied"),
        count("proposed"),
        count("skipped"),
        count("failed"),
        r.new_campaigns.len()
    );
    for h in &r.held_by {
        println!("  HELD by {}: {} (limit {})", h.guardrail, h.value, h.limit);
    }
    println!(
        "  daily budget {:.2} -> {:.2}, savings {:.2}",
        r.totals.budget_before, r.totals.budget_after, r.totals.savings
    );
    let q = &r.data_quality;
    println!(
        "  rows read {}, quarantined {}, after as_of {}{}",
        q.rows_read.total(),
        q.rows_quarantined.total(),
        q.rows_after_as_of.total(),
        if q.stale { ", DATA IS STALE" } else { "" }
    );
    println!("  report: {}", s.report_dir.join("report.md").display());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_statuses_map_to_the_spec_exit_codes() {
        assert_eq!(exit_code(RunStatus::Succeeded), 0);
        assert_eq!(exit_code(RunStatus::Failed), 1);
        assert_eq!(exit_code(RunStatus::Partial), 3);
        assert_eq!(exit_code(RunStatus::Held), 4);
    }
}
