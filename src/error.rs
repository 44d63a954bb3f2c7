//! Every error a command can end with, and the one function that maps each
//! to its exit code (SPEC §2): 0 success, 1 the run failed, 2 bad usage or
//! configuration, 3 partial, 4 held by a guardrail, 75 another run holds the
//! lock. A run that finished maps its status the same way ([`status_code`]).

use crate::config::ConfigError;
use crate::connectors::ConnectorError;
use crate::db::DbError;
use crate::model::run::RunStatus;
use crate::model::shard::ShardError;
use crate::sandbox::generate::GenerateError;
use crate::stages::act::ActError;
use crate::stages::analyze::AnalyzeError;
use crate::stages::decide::DecideError;
use crate::stages::transform::TransformError;
use crate::stages::validate::ValidateError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
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
    #[error(transparent)]
    Shard(#[from] ShardError),
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
    /// `sandbox generate` itself failed.
    #[error("{0}")]
    Generate(GenerateError),
    #[error("writing the report to {path}: {source}")]
    Report { path: String, source: std::io::Error },
    /// The report directory cannot be written: found before acting.
    #[error("report.dir / --report-dir: {path} is not a writable directory ({source}); nothing was applied")]
    ReportDir { path: String, source: std::io::Error },
    #[error("scheduler: {0}")]
    Scheduler(String),
    #[error("backfill: {0}")]
    Backfill(String),
    /// `approve` found proposals too old to apply without `--force`.
    #[error("approve refused, nothing applied (approve --force to apply anyway):\n  - {}", .0.join("\n  - "))]
    StaleProposals(Vec<String>),
    /// `approve`'s batch trips a guardrail against the newest run's portfolio.
    #[error("approve held by a guardrail, nothing applied (approve --force to apply anyway): {}", .0.iter().map(|h| format!("{} {} > {}", h.guardrail, h.value, h.limit)).collect::<Vec<_>>().join(", "))]
    ApprovalHeld(Vec<crate::model::run::HeldBy>),
    #[error("sandbox serve: {0}")]
    Serve(std::io::Error),
    /// `sandbox simulate` failed (its message names the policy and the day).
    #[error("{0}")]
    Simulate(String),
}

pub type Result<T> = std::result::Result<T, Error>;

/// The exit code of a command that ended with `e`.
pub fn exit_code(e: &Error) -> u8 {
    match e {
        Error::Config(_) | Error::Shard(_) | Error::NotFound(_) | Error::Usage(_) | Error::ReportDir { .. } | Error::StaleProposals(_) => 2,
        Error::ApprovalHeld(_) => 4,
        Error::Connector(c) if c.is_configuration() => 2,
        Error::Db(DbError::Connect { .. }) => 2,
        Error::Demo(GenerateError::FaultsNeedCsv) | Error::Generate(GenerateError::FaultsNeedCsv) => 2,
        Error::Locked => 75,
        Error::Connector(_)
        | Error::Validate(_)
        | Error::Transform(_)
        | Error::Analyze(_)
        | Error::Decide(_)
        | Error::Act(_)
        | Error::Db(_)
        | Error::Stopped
        | Error::Json(_)
        | Error::Demo(_)
        | Error::Generate(_)
        | Error::Report { .. }
        | Error::Scheduler(_)
        | Error::Backfill(_)
        | Error::Serve(_)
        | Error::Simulate(_) => 1,
    }
}

/// The exit code of a run that finished with `status`: 3 partial (failed
/// actions are retried next run), 4 held (a retry would hold again).
pub fn status_code(status: RunStatus) -> u8 {
    match status {
        RunStatus::Succeeded => 0,
        RunStatus::Failed => 1,
        RunStatus::Partial => 3,
        RunStatus::Held => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_errors_map_to_the_spec_exit_codes() {
        assert_eq!(status_code(RunStatus::Succeeded), 0);
        assert_eq!(status_code(RunStatus::Failed), 1);
        assert_eq!(status_code(RunStatus::Partial), 3);
        assert_eq!(status_code(RunStatus::Held), 4);
        assert_eq!(exit_code(&Error::Locked), 75);
        assert_eq!(exit_code(&Error::Usage("x".into())), 2);
        assert_eq!(exit_code(&Error::Config(ConfigError { problems: vec![] })), 2);
        assert_eq!(exit_code(&Error::Demo(GenerateError::FaultsNeedCsv)), 2);
        assert_eq!(exit_code(&Error::Stopped), 1);
    }
}
