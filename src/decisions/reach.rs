//! How far back a run looks: the earliest day each stage reads, so the
//! connectors can read (and the validator fully check) only those days and
//! treat the older history as checked-for-quality-only.
//!
//! Every window a stage uses is named here; a stage that starts reading
//! further back must widen [`needed_from`] (the decision tests compare a
//! windowed run with a whole-history run and fail otherwise).

use crate::config::{Settings, WindowSettings};
use crate::model::day::Day;

/// Trailing days the as_of day's totals are compared with when checking
/// for a collapsed export (validate).
pub const TRAILING_DAYS: Day = 28;

/// The earliest day a campaign's current or baseline window can reach
/// (transform).
pub fn lookback_start(as_of: Day, s: &WindowSettings) -> Day {
    let cd = s.current_days as Day;
    let bd = s.baseline_days as Day;
    (as_of - s.lift_max_age_days as Day - bd).min(as_of - cd + 1 - bd)
}

/// The earliest day any stage of a run as of `as_of` reads: the windows
/// (transform), the response curves' `model.lookback_days` (analyze), the
/// collapsed-export check (validate), and the learning loop's follow-ups
/// of actions up to `learning.report_days` old, each reading its
/// follow-up window's length before the action (learn).
pub fn needed_from(as_of: Day, s: &Settings) -> Day {
    let longest = s.learning.follow_up_days.iter().copied().max().unwrap_or(0) as Day;
    let learning = as_of - longest - s.learning.report_days as Day - longest + 1;
    let curves = as_of - s.model.lookback_days as Day + 1;
    lookback_start(as_of, &s.windows).min(curves).min(as_of - TRAILING_DAYS).min(learning)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_reach_back_to_the_learning_loops_oldest_follow_up() {
        let s = Settings::default();
        // 14-day follow-ups of actions up to 60 days old: 14 + 60 + 14 - 1.
        assert_eq!(needed_from(1000, &s), 1000 - 87);
        // The windows alone: 28 days of lift age and a 14-day baseline.
        assert_eq!(lookback_start(1000, &s.windows), 1000 - 42);
    }

    #[test]
    fn a_longer_window_than_the_learning_loop_widens_the_reach() {
        let mut s = Settings::default();
        s.learning.report_days = 1;
        s.learning.follow_up_days = vec![7];
        s.model.lookback_days = 120;
        assert_eq!(needed_from(1000, &s), 1000 - 119);
    }
}
