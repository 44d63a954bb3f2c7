//! The audit history: every change campaign-pilot made or was asked to make,
//! with before and after values.

use serde::{Deserialize, Serialize};

use super::plan::ActionKind;

/// Who made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Actor {
    /// A run of the pipeline.
    Run,
    /// A person approving proposals.
    Approve,
    /// A person rejecting proposals.
    Reject,
    /// A person undoing a run.
    Rollback,
}

named!(Actor, "actor", Run => "run", Approve => "approve", Reject => "reject", Rollback => "rollback");

/// What came of a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditStatus {
    Applied,
    Rejected,
}

named!(AuditStatus, "audit status", Applied => "applied", Rejected => "rejected");

/// One line of the audit history, as written.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub actor: Actor,
    pub run_id: &'a str,
    pub action_key: &'a str,
    pub campaign_id: &'a str,
    pub product_id: &'a str,
    pub kind: ActionKind,
    pub before: f64,
    pub after: f64,
    pub status: AuditStatus,
    pub note: &'a str,
}

/// One line of the audit history, as read back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub at: String,
    pub actor: Actor,
    pub run_id: String,
    pub action_key: String,
    pub campaign_id: String,
    pub product_id: String,
    pub kind: ActionKind,
    pub before: f64,
    pub after: f64,
    pub status: AuditStatus,
    pub note: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_serialized_ones() {
        crate::model::names::assert_serde_names(Actor::ALL);
        crate::model::names::assert_serde_names(AuditStatus::ALL);
    }
}
