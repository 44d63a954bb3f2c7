//! A run: how it ended, what the data looked like, what each stage did, and
//! the states an action passes through in the journal.

use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::contract::{Table, TableCounts};
use super::day::Day;
use super::plan::Plan;

/// How a run ended, as `report.json`, the runs table and the metrics say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Succeeded,
    Partial,
    Failed,
    Held,
}

named!(RunStatus, "run status", Succeeded => "succeeded", Partial => "partial", Failed => "failed", Held => "held");

/// What a row of the runs table records: a run's `act.mode`, or the command
/// that is not a run (backfill, approve, reject, rollback).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunMode {
    Auto,
    Manual,
    Backfill,
    Approve,
    Reject,
    Rollback,
    /// A plan saved through the tools (`save_proposal`): proposals only.
    Propose,
}

named!(RunMode, "run mode", Auto => "auto", Manual => "manual", Backfill => "backfill", Approve => "approve", Reject => "reject", Rollback => "rollback", Propose => "propose");

/// Where an action stands in the journal: planned → sent → applied | failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JournalState {
    Planned,
    Sent,
    Applied,
    Failed,
}

named!(JournalState, "journal state", Planned => "planned", Sent => "sent", Applied => "applied", Failed => "failed");

/// An action of the day as the journal holds it, in the order it was planned.
#[derive(Debug, Clone, PartialEq)]
pub struct DayAction {
    pub key: String,
    pub subject: String,
    pub kind: super::plan::ActionKind,
    pub from: f64,
    pub to: f64,
    pub state: JournalState,
}

impl DayAction {
    /// Whether it may be in effect on the platform (an unsent `planned` row
    /// never took effect and binds nothing).
    pub fn may_be_in_effect(&self) -> bool {
        match self.state {
            JournalState::Applied | JournalState::Sent | JournalState::Failed => true,
            JournalState::Planned => false,
        }
    }
}

/// Where a waiting proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProposalStatus {
    Proposed,
    Applied,
    Rejected,
    Skipped,
    Failed,
}

named!(ProposalStatus, "proposal status", Proposed => "proposed", Applied => "applied", Rejected => "rejected", Skipped => "skipped", Failed => "failed");

/// A row that broke a rule, kept with its reason; nothing is silently dropped.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct QuarantinedRow {
    pub table: Table,
    /// Line in a CSV file (header = 1), or row number in a parquet file.
    pub line: u64,
    pub column: String,
    pub reason: String,
    /// The record's text as it stands in a CSV file (empty for parquet).
    pub raw: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DataQuality {
    pub rows_read: TableCounts,
    pub rows_quarantined: TableCounts,
    pub rows_after_as_of: TableCounts,
    pub stale: bool,
    /// Why the data is stale, when it is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stale_reasons: Vec<String>,
    /// First day of any valid `product_daily` row: where windows start being covered.
    #[serde(skip)]
    pub data_start: Option<Day>,
    #[serde(skip)]
    pub newest_product_day: Option<Day>,
    #[serde(skip)]
    pub newest_campaign_day: Option<Day>,
    /// The daily tables' rows whose check an earlier run made and this run
    /// carried over (their file holds them unchanged): counted and
    /// quarantined above as if judged again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub carried: Vec<CarriedCheck>,
}

/// A daily table's rows dated before `before` (YYYY-MM-DD), and the valid
/// ones from it on an earlier run kept (`kept`, of `rows`): checked by an
/// earlier run, unchanged since, not judged again by this one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CarriedCheck {
    pub table: Table,
    pub before: String,
    pub rows: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub kept: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl DataQuality {
    /// Quarantined rows as a fraction of the rows judged (rows after as_of
    /// are not judged, so they are not in the denominator).
    pub fn quarantine_fraction(&self) -> f64 {
        let judged = self.rows_read.total() - self.rows_after_as_of.total();
        if judged == 0 {
            0.0
        } else {
            self.rows_quarantined.total() as f64 / judged as f64
        }
    }
}

/// What a stage did, for the run report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StageReport {
    pub name: String,
    pub ms: u64,
    pub rows_in: u64,
    pub rows_out: u64,
}

/// The process's resident memory now and its peak so far, in MiB (Linux's
/// `/proc/self/status`; 0 elsewhere): the stage logs carry them so a
/// benchmark can tell which stage grew the process.
fn memory_mb() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = |key: &str| {
        status.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok()).unwrap_or(0)
    };
    (kib("VmRSS:") / 1024, kib("VmHWM:") / 1024)
}

/// `f`'s answer, and the milliseconds it took.
pub fn timed_ms<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let started = Instant::now();
    let answer = f();
    (answer, started.elapsed().as_millis() as u64)
}

impl StageReport {
    /// The stage `name` started at `started` is done; logs its line.
    pub fn new(name: &'static str, started: Instant, rows_in: u64, rows_out: u64) -> Self {
        let ms = started.elapsed().as_millis() as u64;
        let (rss_mb, peak_rss_mb) = memory_mb();
        tracing::info!(stage = name, ms, rows_in, rows_out, rss_mb, peak_rss_mb, "stage done");
        StageReport { name: name.to_string(), ms, rows_in, rows_out }
    }
}

/// A guardrail that held the plan, with its value and limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldBy {
    pub guardrail: String,
    pub value: f64,
    pub limit: f64,
}

/// What the act stage hands on: the plan with each action's status.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub plan: Plan,
    pub status: RunStatus,
    pub held_by: Vec<HeldBy>,
}

/// What the model was asked this run, for report.json.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmUsage {
    pub calls: u64,
    pub cached: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::names::assert_serde_names;

    #[test]
    fn names_are_the_serialized_ones() {
        assert_serde_names(RunStatus::ALL);
        assert_serde_names(RunMode::ALL);
        assert_serde_names(JournalState::ALL);
        assert_serde_names(ProposalStatus::ALL);
    }

    #[test]
    fn an_unknown_journal_state_is_an_error_not_planned() {
        // "planned" would mean "send it again": a stored state nobody knows
        // must stop the run, not resend.
        let e = "sending".parse::<JournalState>().unwrap_err();
        assert!(e.to_string().contains("unknown journal state \"sending\""), "{e}");
    }
}
