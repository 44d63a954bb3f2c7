//! What the matrix decides for a campaign (SPEC §6), with its reasons, and
//! the risk level the report shows beside it.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Decision {
    Learning,
    EmergencyPause,
    Pause,
    Continue,
    Optimize,
    Monitor,
    Resume,
    Paused,
}

named!(Decision, "decision",
    EmergencyPause => "EMERGENCY_PAUSE",
    Pause => "PAUSE",
    Continue => "CONTINUE",
    Optimize => "OPTIMIZE",
    Monitor => "MONITOR",
    Learning => "LEARNING",
    Resume => "RESUME",
    Paused => "PAUSED",
);

impl Decision {
    /// Whether the campaign stops spending with this decision.
    pub fn is_pause(self) -> bool {
        matches!(self, Decision::Pause | Decision::EmergencyPause)
    }
}

/// A decision and the machine-readable reasons for it (`rule:detail`).
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub decision: Decision,
    pub reasons: Vec<String>,
}

impl Verdict {
    pub fn new(decision: Decision, reasons: Vec<String>) -> Self {
        Verdict { decision, reasons }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RiskLevel {
    Low,
    Medium,
    High,
}

named!(RiskLevel, "risk level", Low => "low", Medium => "medium", High => "high");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::names::assert_serde_names;

    #[test]
    fn names_are_the_serialized_ones() {
        assert_serde_names(Decision::ALL);
        assert_serde_names(RiskLevel::ALL);
        // The report's order: pauses first, the paused last.
        assert_eq!(Decision::ALL[0], Decision::EmergencyPause);
        assert_eq!(Decision::ALL.len(), 8);
    }
}
