//! The command line (clap derive): parsed once into typed requests.

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};

/// A rule's name (`outcomes --rule`).
pub fn rule_arg(text: &str) -> Result<crate::model::outcome::Rule, String> {
    text.parse().map_err(|e: crate::model::names::UnknownName| e.to_string())
}

/// A `YYYY-MM-DD` between 1900 and 2200: a date far outside that is a typo,
/// and the day arithmetic must never overflow on one.
pub fn date_arg(text: &str) -> Result<NaiveDate, String> {
    let d = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|e| format!("{text:?} is not a YYYY-MM-DD date ({e})"))?;
    let range = NaiveDate::from_ymd_opt(1900, 1, 1).expect("a date")..=NaiveDate::from_ymd_opt(2200, 12, 31).expect("a date");
    if range.contains(&d) {
        Ok(d)
    } else {
        Err(format!("{d} is outside 1900-01-01..2200-12-31"))
    }
}

/// Runs an online store's ad campaigns like a careful performance marketer.
///
/// Exit codes: 0 success, 1 run failed, 2 bad usage or configuration,
/// 3 partial, 4 held by a guardrail, 75 another run holds the lock.
#[derive(Debug, Parser)]
#[command(name = "campaign-pilot", version, about)]
pub struct Cli {
    /// Configuration file (default: ./pipeline.toml when it exists).
    #[arg(long, global = true, env = "CAMPAIGN_PILOT_CONFIG")]
    pub config: Option<PathBuf>,

    /// Log lines on stderr: `pretty` for people, `json` (one object a line,
    /// with the run's span fields) for collectors. Default: json when stdout
    /// is not a terminal (cron, Kubernetes), pretty when it is.
    #[arg(long, global = true, value_enum, env = "CAMPAIGN_PILOT_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One full run: fetch, validate, analyze, decide, act, report.
    Run(RunArgs),
    /// Applies saved proposals (manual mode or a held run): one action key, or every waiting one of a run.
    Approve {
        /// An action key (as in report.json) or a run id.
        id: String,
        /// Apply even proposals older than `act.max_proposal_age_days` or than
        /// an action applied since to the same campaign, and past the
        /// guardrails re-checked against the newest run.
        #[arg(long)]
        force: bool,
    },
    /// Discards saved proposals: one action key, or every waiting one of a run.
    Reject {
        /// An action key (as in report.json) or a run id.
        id: String,
    },
    /// Reverts what a run applied: resumes what it paused, restores budgets, pauses what it created.
    Rollback {
        run_id: String,
    },
    /// Stays up and runs on `[schedule] cron`; SIGTERM/SIGINT stop it cleanly.
    Schedule,
    /// Replays the pipeline as of each day of a range (dry run: never acts),
    /// stores each day's decisions, and prints a weekly summary. Resumable:
    /// days already done are skipped.
    Backfill {
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = date_arg)]
        from: NaiveDate,
        #[arg(long, value_name = "YYYY-MM-DD", value_parser = date_arg)]
        to: NaiveDate,
        /// Replay the days of the range already done, too.
        #[arg(long)]
        restart: bool,
    },
    /// Prints a stored run's report (the newest run by default).
    Report {
        /// A run id (default: the newest run with a report).
        run_id: Option<String>,
        #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
        format: ReportFormat,
        /// Every stored run instead, newest first, with its status and
        /// counts (md, html or json; html is what reports/index.html holds).
        #[arg(long, conflicts_with = "run_id")]
        list: bool,
    },
    /// The audit history of every change, oldest first.
    History {
        /// Only this campaign's changes.
        #[arg(long)]
        campaign: Option<String>,
    },
    /// The follow-ups of applied actions (SPEC §13): forecast against what
    /// happened, newest first.
    Outcomes {
        /// Only this rule's: pause, emergency_pause, budget_up, budget_down, resume, create.
        #[arg(long, value_parser = rule_arg)]
        rule: Option<crate::model::outcome::Rule>,
        /// Only this campaign's.
        #[arg(long)]
        campaign: Option<String>,
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serves the tools over MCP on stdin/stdout (SPEC §12), for an AI
    /// assistant: `{"command": "campaign-pilot", "args": ["mcp"]}`.
    Mcp,
    /// A conversation in the terminal over the same tools (SPEC §12): the
    /// arrow keys recall earlier questions, Ctrl-D quits; from a pipe, one
    /// question per line.
    Chat {
        /// Continue this session (default: a new one).
        #[arg(long, value_name = "ID")]
        session: Option<String>,
    },
    /// Serves the tools over MCP streamable HTTP at /mcp, the chat at POST
    /// /chat, and GET /healthz (SPEC §12). SIGTERM/SIGINT stop it cleanly.
    Serve {
        /// Address to listen on (default: serve.bind, 127.0.0.1:8787).
        #[arg(long, value_name = "ADDR:PORT")]
        bind: Option<String>,
    },
    /// Suggests decision settings (SPEC §13): runs `sandbox simulate` over a
    /// grid of the decision keys on several seeds and prints profit, capture
    /// and held runs per setting, the best and its margin over the current
    /// configuration. Never edits pipeline.toml.
    Tune(TuneArgs),
    /// Synthetic data files, and a simulated store and ad platform over HTTP.
    Sandbox {
        #[command(subcommand)]
        command: SandboxCommand,
    },
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Last day of data (default: yesterday in schedule.timezone).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = date_arg)]
    pub as_of: Option<NaiveDate>,
    /// Decide and report, but apply nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Where the report files go (default: report.dir/<as_of>/, or
    /// report.dir/<as_of>/shard-K-of-N/ for a shard).
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,
    /// Decide only for shard K of N (from 0): the campaigns, and the products
    /// for new campaigns, whose stable hash falls in it. Each shard is its own
    /// budget pool with its own lock. Default: `JOB_COMPLETION_INDEX` of
    /// `CAMPAIGN_PILOT_SHARDS` when both are set (a Kubernetes Indexed Job).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// A rerun for an as_of already acted on: send the actions whose target
    /// differs from what is in effect as corrections (without it they are
    /// reported `skipped`: one applied plan per day).
    #[arg(long)]
    pub replan: bool,
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Writes a synthetic dataset in the data contract, deterministic from the seed.
    Generate(GenerateArgs),
    /// Serves a simulated WooCommerce store, GA4 property, Impact.com account and
    /// budgeted ad platform over HTTP (one process; Ctrl-C stops it).
    Serve(ServeArgs),
    /// The closed loop (SPEC §13): runs the real pipeline on the sandbox world
    /// day after day, applies what it applied, and scores each policy against
    /// doing nothing and an oracle that knows the true response curves.
    Simulate(SimulateArgs),
}

#[derive(Debug, clap::Args)]
pub struct TuneArgs {
    /// Seeds of the sandbox worlds (repeat the flag).
    #[arg(long = "seed", default_values_t = [101u64, 102, 103])]
    pub seeds: Vec<u64>,
    #[command(flatten)]
    pub world: WorldArgs,
    /// The policy tuned (its keys are the grid's).
    #[arg(long, value_enum, default_value_t = PolicyArg::Profit)]
    pub policy: PolicyArg,
    /// Also replay the stored history of these days with each setting:
    /// what it would have done on your own data (dry runs, nothing applied).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = date_arg, requires = "to")]
    pub from: Option<NaiveDate>,
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = date_arg, requires = "from")]
    pub to: Option<NaiveDate>,
    /// Only the replay: no sandbox simulation (and so no "best").
    #[arg(long, requires = "from")]
    pub replay_only: bool,
    /// Write the best setting's keys (TOML) here; pipeline.toml is never touched.
    #[arg(long, value_name = "FILE")]
    pub write: Option<PathBuf>,
    /// Also write the whole grid as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// The sandbox world a closed loop runs in (`sandbox simulate`, `tune`).
#[derive(Debug, clap::Args)]
pub struct WorldArgs {
    /// Days acted on.
    #[arg(long, default_value_t = 30)]
    pub days: u32,
    /// Days of history before the first acting day.
    #[arg(long, default_value_t = 60)]
    pub warmup: u32,
    #[arg(long, default_value_t = 200)]
    pub products: u32,
    #[arg(long, default_value_t = 60)]
    pub campaigns: u32,
}

impl WorldArgs {
    /// The lengths a loop can have.
    pub fn check(&self) -> Result<(), String> {
        if self.days == 0 || self.days > 366 || self.warmup < 28 || self.warmup > 730 {
            return Err(format!("--days must be 1..=366 and --warmup 28..=730 (found {} and {})", self.days, self.warmup));
        }
        Ok(())
    }
}

#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[command(flatten)]
    pub world: WorldArgs,
    /// Policies to score (repeat the flag: `--policy seed --policy profit`);
    /// `none` and `oracle` always run as the baselines.
    #[arg(long = "policy", value_enum, default_values_t = [PolicyArg::Seed])]
    pub policies: Vec<PolicyArg>,
    /// Also write the scores as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Keep each policy's loop (its data, database and daily reports) in
    /// DIR/<policy> (replaced if it exists).
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyArg {
    None,
    Seed,
    Profit,
    Oracle,
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Port on 127.0.0.1 (0 picks a free one; the address is printed).
    #[arg(long, default_value_t = 8089)]
    pub port: u16,
    /// Delay added to every answer.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of platform calls that fail (500, 503 or 429); half of the failing writes take effect first.
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    #[arg(long, default_value_t = 300)]
    pub products: u32,
    #[arg(long, default_value_t = 60)]
    pub campaigns: u32,
    /// Days of history simulated up to the start day.
    #[arg(long, default_value_t = 60)]
    pub history_days: u32,
    /// The simulated "today" at start: the last complete day (default: yesterday, UTC).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = date_arg)]
    pub today: Option<NaiveDate>,
    /// Requests per window the Impact-shaped routes allow before answering 429.
    #[arg(long, default_value_t = 1000)]
    pub impact_rate_limit: u32,
    /// Length of that window in seconds (Impact: an hour).
    #[arg(long, default_value_t = 3600)]
    pub impact_rate_window_s: u64,
    /// Play a store with WooCommerce Analytics disabled (its routes answer 404
    /// rest_no_route; daily sales must come from orders).
    #[arg(long)]
    pub no_analytics: bool,
}

#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    #[arg(long, default_value_t = 1000)]
    pub products: u32,
    #[arg(long, default_value_t = 100)]
    pub campaigns: u32,
    #[arg(long, default_value_t = 120)]
    pub days: u32,
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Last day of the data (default: yesterday, UTC).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = date_arg)]
    pub as_of: Option<NaiveDate>,
    #[arg(long, value_enum, default_value_t = FormatArg::Csv)]
    pub format: FormatArg,
    /// Also write bad rows of every kind the validator must catch (listed in faults.json).
    #[arg(long)]
    pub faults: bool,
    /// Row order of the daily tables: `id` (each product's or campaign's
    /// days together) or `date` (each day's rows together, as an export that
    /// appends a day at a time writes them).
    #[arg(long, value_enum, default_value_t = OrderArg::Id)]
    pub order: OrderArg,
    /// Write the daily rows up to this day only, of the world that runs to
    /// `--as-of`: the same data as it stood a day (or more) earlier, for
    /// benchmarking the next day's run.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = date_arg)]
    pub until: Option<NaiveDate>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OrderArg {
    Id,
    Date,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Md,
    Html,
    Json,
    Csv,
}

impl ReportFormat {
    pub fn format(self) -> crate::model::report::ReportFormat {
        use crate::model::report::ReportFormat as F;
        match self {
            ReportFormat::Md => F::Md,
            ReportFormat::Html => F::Html,
            ReportFormat::Json => F::Json,
            ReportFormat::Csv => F::Csv,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum FormatArg {
    Csv,
    Parquet,
}
