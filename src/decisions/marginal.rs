//! Budget reallocation, strategy "marginal_roas" (SPEC §7, §13), in whole
//! cents: move budget from the lowest to the highest marginal profit until
//! they meet, inside `max_increase_pct`, `max_decrease_pct`, `min_daily` and
//! the total.
//!
//! Order: (1) the pool is the budget of campaigns paused this run; (2) the
//! movable campaigns (judged, not locked, not learning) and the pool are
//! re-split to equal marginal profit per dollar, λ ≥ 0 — what no campaign
//! can use above break-even stays unspent; (3) resumes at `min_daily` and
//! (4) new campaigns, in rank order, from what is left, then from the
//! new-campaign pool; (5) what is still left is savings.

use super::budget::{self, Allocation, Line, NewCandidate};
use crate::config::BudgetSettings;
use crate::model::day::to_cents_floor;
use crate::model::decision::Decision;

/// Budgets that maximise Σ πᵢ(bᵢ) with Σ bᵢ ≤ `total` and `lo ≤ bᵢ ≤ hi`,
/// for concave πᵢ given by their slopes: every budget between its bounds
/// has the same marginal profit λ ≥ 0 (λ = 0 when money is left over).
pub fn equalize(slopes: &[&dyn Fn(f64) -> f64], bounds: &[(f64, f64)], total: f64) -> Vec<f64> {
    let at = |lambda: f64| -> Vec<f64> { slopes.iter().zip(bounds).map(|(f, &(lo, hi))| argmax(f, lambda, lo, hi)).collect() };
    let fits = |v: &[f64]| v.iter().sum::<f64>() <= total + 1e-9;
    let first = at(0.0);
    if fits(&first) {
        return first;
    }
    let (mut lo, mut hi) = (0.0, 1.0);
    while !fits(&at(hi)) && hi < 1e6 {
        hi *= 2.0;
    }
    for _ in 0..50 {
        let mid = 0.5 * (lo + hi);
        if fits(&at(mid)) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    at(hi)
}

/// Where a concave function's slope falls to `lambda` on [lo, hi].
fn argmax(slope: &dyn Fn(f64) -> f64, lambda: f64, lo: f64, hi: f64) -> f64 {
    if hi <= lo || slope(lo) <= lambda {
        return lo;
    }
    if slope(hi) >= lambda {
        return hi;
    }
    let (mut a, mut b) = (lo, hi);
    for _ in 0..40 {
        let m = 0.5 * (a + b);
        if slope(m) > lambda {
            a = m;
        } else {
            b = m;
        }
    }
    0.5 * (a + b)
}

/// The bounds a budget may move in this run: at most `max_increase_pct` up,
/// `max_decrease_pct` down, never below `min_daily` (a budget already below
/// it may stay).
pub fn bounds(current: f64, s: &BudgetSettings) -> (f64, f64) {
    let hi = current * (1.0 + s.max_increase_pct / 100.0);
    let lo = (current * (1.0 - s.max_decrease_pct / 100.0)).max(s.min_daily).min(current);
    (lo, hi)
}

/// A movable campaign's marginal profit per budget dollar at a budget.
pub type Slope = Box<dyn Fn(f64) -> f64>;

/// `slopes[i]` is `Some` for each line the policy may move (its marginal
/// profit per budget dollar); `None` keeps the line's budget. A change under
/// `min_change_pct` of the budget is not made (noise, not news).
pub fn reallocate(lines: &[Line], slopes: &[Option<Slope>], candidates: &[NewCandidate], max_new: usize, min_change_pct: f64, s: &BudgetSettings) -> Allocation {
    let min_daily = to_cents_floor(s.min_daily);
    let mut new_pool = to_cents_floor(s.new_campaign_pool);
    let mut proposed: Vec<i64> = lines.iter().map(|l| l.current).collect();
    let pool = budget::paused_pool(lines, &mut proposed);
    let initial_pool = pool;

    // 2. Equal marginal profit among the movable lines.
    let movable: Vec<usize> = (0..lines.len())
        .filter(|&i| {
            slopes[i].is_some()
                && !lines[i].locked
                && !lines[i].decision.is_pause()
                && !matches!(lines[i].decision, Decision::Resume | Decision::Paused | Decision::Learning)
        })
        .collect();
    let total = movable.iter().map(|&i| lines[i].current).sum::<i64>() + pool;
    // A change under min_change_pct is not made: that line keeps its budget
    // and the others are re-split without it, until none is left that small.
    let mut open = movable.clone();
    let mut kept = 0i64;
    let mut targets: Vec<(usize, i64)> = Vec::new();
    for _ in 0..8 {
        let fns: Vec<&dyn Fn(f64) -> f64> = open.iter().map(|&i| slopes[i].as_deref().expect("movable")).collect();
        let b: Vec<(f64, f64)> = open.iter().map(|&i| bounds(lines[i].current as f64 / 100.0, s)).collect();
        let budgets = equalize(&fns, &b, (total - kept) as f64 / 100.0);
        targets = open
            .iter()
            .zip(budgets)
            .zip(&b)
            .map(|((&i, x), &(lo, hi))| {
                // Whole cents inside the bounds, rounded down.
                let to = ((x * 100.0) + 1e-4).floor() as i64;
                (i, to.clamp((lo * 100.0 - 1e-4).ceil() as i64, (hi * 100.0 + 1e-4).floor() as i64))
            })
            .collect();
        let small: Vec<usize> = targets
            .iter()
            .filter(|&&(i, to)| to != lines[i].current && ((to - lines[i].current).abs() as f64) < lines[i].current as f64 * min_change_pct / 100.0)
            .map(|&(i, _)| i)
            .collect();
        if small.is_empty() {
            break;
        }
        for i in small {
            kept += lines[i].current;
            open.retain(|&k| k != i);
        }
    }
    // Never more than the total: a cent of rounding comes off the largest increase.
    let mut over = targets.iter().map(|t| t.1).sum::<i64>() + kept - total;
    while over > 0 {
        let Some(k) = (0..targets.len()).filter(|&k| targets[k].1 > lines[targets[k].0].current).max_by_key(|&k| targets[k].1 - lines[targets[k].0].current) else {
            break;
        };
        let cut = over.min(targets[k].1 - lines[targets[k].0].current);
        targets[k].1 -= cut;
        over -= cut;
    }
    let mut receivers = Vec::new();
    let mut used = kept;
    for (i, to) in targets {
        if to != lines[i].current {
            receivers.push(i);
        }
        proposed[i] = to;
        used += to;
    }
    receivers.sort_unstable();
    // What the re-split leaves (cuts, pauses, money no one can use well).
    let mut left = (total - used).max(0);

    // 3. Resumes at min_daily, best product first; 4. new campaigns.
    let unfunded = budget::fund_resumes(lines, &mut proposed, &mut left, &mut new_pool, min_daily);
    let money = budget::Money { pool_at_start: initial_pool, left, new_pool };
    budget::close(lines, candidates, max_new, s, budget::Closing { proposed, unfunded, receivers }, money)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decisions::budget::check_invariants;
    use proptest::prelude::*;

    fn line(id: &str, decision: Decision, cents: i64) -> Line {
        Line { campaign_id: id.into(), decision, current: cents, efficiency: Some(1.0), risk: Some(0.1), burn: 1.0, roi: Some(1.0), locked: false }
    }

    /// π(b) = a·ln(1 + b) − b: slope a/(1 + b) − 1, best at b = a − 1.
    fn log_slope(a: f64) -> Option<Slope> {
        Some(Box::new(move |b: f64| a / (1.0 + b) - 1.0))
    }

    #[test]
    fn a_small_portfolio_meets_at_the_marginal_profit_solved_by_hand() {
        // Slopes 60/(1+b) − 1 and 30/(1+b) − 1, budgets 20 and 20, total 40,
        // loose caps. Equal slopes: 60/(1+x) = 30/(1+y), x + y = 40
        // → 1 + x = 2(1 + y) → x = 27, y = 13 (λ = 60/28 − 1 = 1.142857).
        let s = BudgetSettings { max_increase_pct: 100.0, max_decrease_pct: 50.0, min_daily: 1.0, ..BudgetSettings::default() };
        let lines = vec![line("A", Decision::Monitor, 2000), line("B", Decision::Monitor, 2000)];
        let a = reallocate(&lines, &[log_slope(60.0), log_slope(30.0)], &[], 0, 0.0, &s);
        assert_eq!(a.proposed, vec![2700, 1300]);
        assert_eq!(a.total_after, 4000);
        assert!(check_invariants(&lines, &a, &[], &s).is_empty());
    }

    #[test]
    fn money_no_one_can_use_above_break_even_is_saved_and_funds_a_new_campaign() {
        // Both best below their budgets (a − 1 = 9 and 14), caps allow it:
        // 9 + 14 = 23 of 40 used; 17 left: a 15.00 new campaign, 2 saved.
        let s = BudgetSettings { max_decrease_pct: 60.0, min_daily: 5.0, ..BudgetSettings::default() };
        let lines = vec![line("A", Decision::Monitor, 2000), line("B", Decision::Monitor, 2000)];
        let cands = vec![NewCandidate { product_id: "P".into(), budget: 1500 }];
        let a = reallocate(&lines, &[log_slope(10.0), log_slope(15.0)], &cands, 5, 0.0, &s);
        assert_eq!(a.proposed, vec![900, 1400]);
        assert_eq!(a.created, vec![0]);
        assert_eq!(a.savings, 200);
        assert!(check_invariants(&lines, &a, &cands, &s).is_empty());
    }

    #[test]
    fn the_caps_bind_and_small_changes_are_not_made() {
        let s = BudgetSettings::default(); // +20 % / −50 %, min_daily 15
        let lines = vec![line("A", Decision::Monitor, 5000), line("B", Decision::Monitor, 5000), line("C", Decision::Monitor, 5000)];
        // A wants far more, B far less, C is at its best (50 = 51 − 1).
        let a = reallocate(&lines, &[log_slope(500.0), log_slope(2.0), log_slope(51.0)], &[], 0, 2.0, &s);
        assert_eq!(a.proposed[0], 6000, "capped at +20 %");
        assert_eq!(a.proposed[1], 2500, "capped at −50 %");
        assert_eq!(a.proposed[2], 5000, "no change below 2 %");
        assert_eq!(a.receivers, vec![0, 1]);
    }

    proptest! {
        #[test]
        fn every_section_7_invariant_holds_on_random_portfolios(
            cases in prop::collection::vec((1500i64..20_000, 0.5f64..400.0, 0u8..8), 1..30),
            pool in 0.0f64..200.0,
            cand in prop::collection::vec(1000i64..6000, 0..6),
        ) {
            let s = BudgetSettings { new_campaign_pool: pool, ..BudgetSettings::default() };
            let decisions = [Decision::Monitor, Decision::Continue, Decision::Optimize, Decision::Pause, Decision::EmergencyPause, Decision::Learning, Decision::Resume, Decision::Paused];
            let lines: Vec<Line> = cases.iter().enumerate().map(|(i, &(c, _, d))| {
                let mut l = line(&format!("C{i}"), decisions[d as usize], c);
                l.locked = i % 7 == 3;
                l
            }).collect();
            let slopes: Vec<Option<Slope>> = cases.iter().map(|&(_, a, _)| log_slope(a)).collect();
            let cands: Vec<NewCandidate> = cand.iter().enumerate().map(|(i, &b)| NewCandidate { product_id: format!("P{i}"), budget: b }).collect();
            let a = reallocate(&lines, &slopes, &cands, 5, 2.0, &s);
            let v = check_invariants(&lines, &a, &cands, &s);
            prop_assert!(v.is_empty(), "{v:?}");
            for (i, l) in lines.iter().enumerate() {
                if l.locked || matches!(l.decision, Decision::Learning | Decision::Paused) {
                    prop_assert_eq!(a.proposed[i], l.current);
                }
            }
        }
    }
}
