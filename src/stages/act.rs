//! Stage 5, act: gives every planned action its status.
//!
//! Applying actions on the ad platform (journal, guardrails, exactly-once)
//! is not built yet: every action is reported as `proposed`, with the reason,
//! and nothing is sent anywhere.

use std::time::Instant;

use crate::stages::decide::{ActionStatus, Plan};
use crate::stages::StageReport;

/// How the run ended, as `report.json` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Succeeded,
    Partial,
    Failed,
    Held,
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub plan: Plan,
    pub status: RunStatus,
}

pub fn act(mut plan: Plan, dry_run: bool) -> (Outcome, StageReport) {
    let started = Instant::now();
    let reason = if dry_run {
        "dry_run: nothing is applied"
    } else {
        "proposed: applying actions on the platform is not available yet"
    };
    for a in &mut plan.actions {
        a.status = ActionStatus::Proposed;
        a.reason = format!("{reason}; {}", a.reason);
    }
    let n = plan.actions.len() as u64;
    (Outcome { plan, status: RunStatus::Succeeded }, StageReport::new("act", started, n, n))
}
