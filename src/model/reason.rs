//! The codes of the reasons a decision gives (`code:detail` strings, kept
//! as they are in `report.json` and the database).
//!
//! Every reason the decision rules write starts with one of these codes and
//! is built through [`Code::with`] or [`Code::bare`], so the list below is
//! the whole vocabulary: the report's sentences match on it exhaustively
//! (`report::words`), and a code added here without a sentence does not
//! compile. A test in `report::words` also reads the decision modules'
//! sources for a reason-shaped literal that bypasses this list.

/// What a reason is about: the part of `code:detail` before the colon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    /// Row 0: too few days with spend, or too little spend, to judge.
    Learning,
    /// Row 1: ROI or CPA past the emergency limit.
    Emergency,
    /// A significance test that passed (`rule n k p alpha`).
    Significant,
    /// A significance test that did not pass; bare, it marks a verdict that
    /// a gate turned into MONITOR.
    NotSignificant,
    /// Row 2: the product's sales or views fell past the pause threshold.
    Pause,
    /// An impact is null: nothing to compare the current window with.
    NoBaseline,
    /// The store has no views source.
    NoViewsSource,
    /// Row 3: sales and views both up.
    Continue,
    /// Row 4: sales or views in the optimize band.
    Optimize,
    /// Row 5: nothing else held.
    MixedResults,
    PausedByEmergency,
    PausedByUser,
    MissingPausedAt,
    Cooldown,
    NotRecovered,
    Resume,
    /// Impact's ledger: spend past the daily budget campaign-pilot keeps.
    LedgerBudget,
    /// Spend and no new customer: CPA is +∞.
    CpaInfinite,
    /// The daily budget was read off the ad's own spend.
    BudgetObserved,
    /// A person locked the campaign.
    Locked,
    /// A resume the budget pool could not fund.
    ResumeUnfunded,
    /// A budget change the allocator made.
    Budget,
    /// Profit policy: the matrix said RESUME, the model does not.
    ProfitNotResumed,
    /// Profit policy: a loss even at the smallest budget is likely.
    ProfitPause,
    /// Profit policy: the matrix paused, the model keeps it.
    ProfitKeep,
    /// Profit policy: the fitted response.
    Model,
    /// A product proposed for a new campaign.
    NewCampaign,
    /// Profit policy: a new campaign's expected profit.
    ProfitExpected,
}

named!(Code, "reason code",
    Learning => "learning",
    Emergency => "emergency",
    Significant => "significant",
    NotSignificant => "not_significant",
    Pause => "pause",
    NoBaseline => "no_baseline",
    NoViewsSource => "no_views_source",
    Continue => "continue",
    Optimize => "optimize",
    MixedResults => "mixed_results",
    PausedByEmergency => "paused_by_emergency",
    PausedByUser => "paused_by_user",
    MissingPausedAt => "missing_paused_at",
    Cooldown => "cooldown",
    NotRecovered => "not_recovered",
    Resume => "resume",
    LedgerBudget => "ledger_budget",
    CpaInfinite => "cpa_infinite",
    BudgetObserved => "budget_observed",
    Locked => "locked",
    ResumeUnfunded => "resume_unfunded",
    Budget => "budget",
    ProfitNotResumed => "profit_not_resumed",
    ProfitPause => "profit_pause",
    ProfitKeep => "profit_keep",
    Model => "model",
    NewCampaign => "new_campaign",
    ProfitExpected => "profit_expected",
);

impl Code {
    /// `code:detail`.
    pub fn with(self, detail: impl std::fmt::Display) -> String {
        format!("{}:{detail}", self.as_str())
    }

    /// The code alone, without detail.
    pub fn bare(self) -> String {
        self.as_str().to_string()
    }

    /// Does `reason` carry this code?
    pub fn marks(self, reason: &str) -> bool {
        split(reason).0 == self.as_str()
    }
}

/// `code:detail` into its two parts (the detail empty for a bare code).
pub fn split(reason: &str) -> (&str, &str) {
    reason.split_once(':').unwrap_or((reason, ""))
}

/// A reason's code, or `None` for a string that is not a decision reason.
pub fn code_of(reason: &str) -> Option<Code> {
    split(reason).0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_splits_into_its_code_and_detail_and_the_code_parses_back() {
        for &c in Code::ALL {
            assert_eq!(code_of(&c.with("x=1<2")), Some(c));
            assert_eq!(code_of(&c.bare()), Some(c));
            assert!(c.marks(&c.with("")));
        }
        assert_eq!(split("pause:sales_impact=-24<-10"), ("pause", "sales_impact=-24<-10"));
        assert_eq!(code_of("already applied (journal)"), None);
    }
}
