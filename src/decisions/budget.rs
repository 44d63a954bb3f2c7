//! Budget reallocation, strategy "proportional" (SPEC §7), in whole cents.
//!
//! Order: (1) the pool is the budget of campaigns paused this run; (2) funded
//! resumes; (3) water-filling of the rest of the pool to CONTINUE receivers in
//! proportion to efficiency, each capped; (4) everyone else keeps their
//! budget; (5) new campaigns from what is left, then from the new-campaign
//! pool; (6) what is still left of the pool is savings.

use crate::config::BudgetSettings;
use crate::model::day::to_cents_floor;
use crate::model::decision::Decision;

/// One judged campaign as the budget step sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub campaign_id: String,
    /// After the matrix; `Resume` here is a candidate still to be funded.
    pub decision: Decision,
    /// Current daily budget in cents.
    pub current: i64,
    /// Campaign efficiency for receivers; product efficiency for resumes.
    pub efficiency: Option<f64>,
    pub risk: Option<f64>,
    pub burn: f64,
    pub roi: Option<f64>,
    pub locked: bool,
}

/// A ranked new-campaign candidate with its daily budget in cents.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCandidate {
    pub product_id: String,
    pub budget: i64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Allocation {
    /// Proposed daily budget per line, in cents (0 for a pause).
    pub proposed: Vec<i64>,
    /// Lines whose resume could not be paid (they stay PAUSED).
    pub unfunded: Vec<usize>,
    /// Lines that received money.
    pub receivers: Vec<usize>,
    /// Indexes into the candidate list of the campaigns created, in order.
    pub created: Vec<usize>,
    pub pool: i64,
    pub new_pool_used: i64,
    pub savings: i64,
    pub total_before: i64,
    pub total_after: i64,
}

fn is_active_before(d: Decision) -> bool {
    !matches!(d, Decision::Resume | Decision::Paused)
}

/// Whether a CONTINUE campaign should get more money.
pub fn is_receiver(l: &Line, s: &BudgetSettings) -> bool {
    l.decision == Decision::Continue
        && !l.locked
        && l.risk.is_some_and(|r| super::round6(r) < s.max_receiver_risk)
        && super::round6(l.burn) >= s.min_receiver_burn
        && l.roi.is_some_and(|r| super::round6(r) >= s.min_receiver_roi)
        && l.efficiency.is_some_and(|e| e > 0.0)
}

pub fn reallocate(lines: &[Line], candidates: &[NewCandidate], max_new: usize, s: &BudgetSettings) -> Allocation {
    let min_daily = to_cents_floor(s.min_daily);
    let mut new_pool = to_cents_floor(s.new_campaign_pool);
    let mut proposed: Vec<i64> = lines.iter().map(|l| l.current).collect();

    // 1. The pool: budgets of campaigns paused this run (locked ones are not).
    let mut pool = paused_pool(lines, &mut proposed);
    let initial_pool = pool;

    // 2. Resumes, best product first, from the pool then the new-campaign pool.
    let unfunded = fund_resumes(lines, &mut proposed, &mut pool, &mut new_pool, min_daily);

    // 3. Water-filling to receivers.
    let mut eligible: Vec<usize> = (0..lines.len()).filter(|&i| is_receiver(&lines[i], s)).collect();
    let receivers = loop {
        let given = water_fill(lines, &eligible, pool, s.max_increase_pct);
        // A receiver that would still sit below min_daily is skipped; refill without it.
        let short: Vec<usize> = eligible
            .iter()
            .zip(&given)
            .filter(|(&i, &g)| lines[i].current + g < min_daily)
            .map(|(&i, _)| i)
            .collect();
        if short.is_empty() {
            let mut got = Vec::new();
            for (&i, &g) in eligible.iter().zip(&given) {
                if g > 0 {
                    proposed[i] = lines[i].current + g;
                    pool -= g;
                    got.push(i);
                }
            }
            break got;
        }
        eligible.retain(|i| !short.contains(i));
    };

    // 5. New campaigns, in rank order, skipping any that does not fit; 6. savings.
    let money = Money { pool_at_start: initial_pool, left: pool, new_pool };
    close(lines, candidates, max_new, s, Closing { proposed, unfunded, receivers }, money)
}

/// The pool's state when the budgets are set: what it held, what is left
/// of it, and what is left of the new-campaign pool.
pub(super) struct Money {
    pub pool_at_start: i64,
    pub left: i64,
    pub new_pool: i64,
}

/// The lines' side of an allocation before new campaigns.
pub(super) struct Closing {
    pub proposed: Vec<i64>,
    pub unfunded: Vec<usize>,
    pub receivers: Vec<usize>,
}

/// New campaigns from what is left, then the totals: the end both
/// strategies share.
pub(super) fn close(lines: &[Line], candidates: &[NewCandidate], max_new: usize, s: &BudgetSettings, c: Closing, mut m: Money) -> Allocation {
    let new_pool_start = to_cents_floor(s.new_campaign_pool);
    let created = fund_creates(candidates, max_new, &mut m.left, &mut m.new_pool, to_cents_floor(s.min_daily));
    let (total_before, total_after) = totals(lines, &c.proposed, &c.unfunded, &created, candidates);
    Allocation {
        proposed: c.proposed,
        unfunded: c.unfunded,
        receivers: c.receivers,
        created,
        pool: m.pool_at_start,
        new_pool_used: new_pool_start - m.new_pool,
        savings: m.left,
        total_before,
        total_after,
    }
}

/// Sets the budgets of the lines paused this run to 0 (locked ones are
/// not paused) and returns what they held: the pool.
pub(super) fn paused_pool(lines: &[Line], proposed: &mut [i64]) -> i64 {
    let mut pool = 0i64;
    for (i, l) in lines.iter().enumerate() {
        if l.decision.is_pause() && !l.locked {
            pool += l.current;
            proposed[i] = 0;
        }
    }
    pool
}

/// Resumes at `min_daily`, best product first (ties by campaign id), paid
/// from `pool` then `new_pool`; returns the lines that could not be paid.
pub(super) fn fund_resumes(lines: &[Line], proposed: &mut [i64], pool: &mut i64, new_pool: &mut i64, min_daily: i64) -> Vec<usize> {
    let mut resumes: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].decision == Decision::Resume && !lines[i].locked).collect();
    resumes.sort_by(|&a, &b| {
        let (ea, eb) = (lines[a].efficiency.unwrap_or(f64::MIN), lines[b].efficiency.unwrap_or(f64::MIN));
        eb.total_cmp(&ea).then_with(|| lines[a].campaign_id.cmp(&lines[b].campaign_id))
    });
    let mut unfunded = Vec::new();
    for i in resumes {
        if *pool + *new_pool >= min_daily {
            let from_pool = (*pool).min(min_daily);
            *pool -= from_pool;
            *new_pool -= min_daily - from_pool;
            proposed[i] = min_daily;
        } else {
            unfunded.push(i);
        }
    }
    unfunded
}

/// New campaigns in rank order, at most `max_new`, skipping any that does
/// not fit, paid from `pool` then `new_pool`; returns the candidates taken.
pub(super) fn fund_creates(candidates: &[NewCandidate], max_new: usize, pool: &mut i64, new_pool: &mut i64, min_daily: i64) -> Vec<usize> {
    let mut created = Vec::new();
    for (ci, c) in candidates.iter().enumerate() {
        if created.len() >= max_new {
            break;
        }
        if c.budget < min_daily || c.budget > *pool + *new_pool {
            continue;
        }
        let from_pool = (*pool).min(c.budget);
        *pool -= from_pool;
        *new_pool -= c.budget - from_pool;
        created.push(ci);
    }
    created
}

/// The daily budget of the campaigns active before the run, and of those
/// active after it (kept, resumed, created).
pub(super) fn totals(lines: &[Line], proposed: &[i64], unfunded: &[usize], created: &[usize], candidates: &[NewCandidate]) -> (i64, i64) {
    let before = lines.iter().filter(|l| is_active_before(l.decision)).map(|l| l.current).sum();
    let after: i64 = lines
        .iter()
        .enumerate()
        .filter(|(i, l)| match l.decision {
            Decision::Resume => !unfunded.contains(i) && !l.locked,
            Decision::Paused => false,
            d => !(d.is_pause() && !l.locked),
        })
        .map(|(i, _)| proposed[i])
        .sum::<i64>()
        + created.iter().map(|&ci| candidates[ci].budget).sum::<i64>();
    (before, after)
}

/// Shares `pool` cents among `eligible` in proportion to efficiency, each at
/// most `max_increase_pct` above its budget; what a cap cuts off goes to the
/// others. Returns whole cents given per eligible line (rounded down).
fn water_fill(lines: &[Line], eligible: &[usize], pool: i64, max_increase_pct: f64) -> Vec<i64> {
    let caps: Vec<f64> = eligible
        .iter()
        .map(|&i| {
            let cur = lines[i].current;
            (((cur as f64) * (1.0 + max_increase_pct / 100.0) + 1e-6).floor() as i64 - cur).max(0) as f64
        })
        .collect();
    let weights: Vec<f64> = eligible.iter().map(|&i| lines[i].efficiency.unwrap_or(0.0)).collect();
    let mut given = vec![0.0f64; eligible.len()];
    let mut open: Vec<usize> = (0..eligible.len()).filter(|&k| caps[k] > 0.0).collect();
    let mut remaining = pool as f64;
    while remaining > 0.0 && !open.is_empty() {
        let total: f64 = open.iter().map(|&k| weights[k]).sum();
        if total <= 0.0 {
            break;
        }
        let capped: Vec<usize> =
            open.iter().copied().filter(|&k| remaining * weights[k] / total >= caps[k] - given[k]).collect();
        if capped.is_empty() {
            for &k in &open {
                given[k] += remaining * weights[k] / total;
            }
            break;
        }
        for &k in &capped {
            remaining -= caps[k] - given[k];
            given[k] = caps[k];
        }
        open.retain(|k| !capped.contains(k));
    }
    given.iter().map(|g| (g + 1e-6).floor() as i64).collect()
}

/// Every SPEC §7 invariant the allocation must keep; empty when all hold.
pub fn check_invariants(lines: &[Line], a: &Allocation, candidates: &[NewCandidate], s: &BudgetSettings) -> Vec<String> {
    let mut v = Vec::new();
    let min_daily = to_cents_floor(s.min_daily);
    if a.total_after > a.total_before + to_cents_floor(s.new_campaign_pool) {
        v.push(format!("total after {} > total before {} + new_campaign_pool", a.total_after, a.total_before));
    }
    for (i, l) in lines.iter().enumerate() {
        let p = a.proposed[i];
        if p == l.current || p == 0 && l.decision.is_pause() {
            continue;
        }
        if p < min_daily {
            v.push(format!("{}: budget {} set below min_daily", l.campaign_id, p));
        }
        if l.decision != Decision::Resume {
            let cap = ((l.current as f64) * (1.0 + s.max_increase_pct / 100.0) + 1e-6).floor() as i64;
            if p > cap {
                v.push(format!("{}: increase {} → {} above max_increase_pct", l.campaign_id, l.current, p));
            }
            let floor = ((l.current as f64) * (1.0 - s.max_decrease_pct / 100.0)).ceil() as i64;
            if p < floor {
                v.push(format!("{}: decrease {} → {} above max_decrease_pct", l.campaign_id, l.current, p));
            }
        }
        if l.locked {
            v.push(format!("{}: locked campaign's budget changed", l.campaign_id));
        }
    }
    for &ci in &a.created {
        if candidates[ci].budget < min_daily {
            v.push(format!("new campaign for {} below min_daily", candidates[ci].product_id));
        }
    }
    if a.savings < 0 {
        v.push(format!("savings {} negative", a.savings));
    }
    v
}

/// A platform without budgets (Impact) cannot stop an ad at its budget: a day
/// whose spend passed the ledger budget by more than `tolerance_pct` %
/// pauses the ad.
pub fn ledger_overspent(spend_today: f64, daily_budget: f64, tolerance_pct: f64) -> bool {
    daily_budget > 0.0 && super::round6(spend_today) > super::round6(daily_budget * (1.0 + tolerance_pct / 100.0))
}

/// A budget observed from an ad's own spend, for a platform without
/// budgets that shows an ad for the first time: the mean of its last `days`
/// days with spend (in day order), in whole cents, rounded down; `None` when
/// it never spent.
pub fn observed_budget(spend_by_day: &[f64], days: usize) -> Option<i64> {
    let last: Vec<f64> = spend_by_day.iter().rev().filter(|x| **x > 0.0).take(days.max(1)).copied().collect();
    if last.is_empty() {
        return None;
    }
    Some(to_cents_floor(last.iter().sum::<f64>() / last.len() as f64))
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_observed_budget_is_the_mean_of_the_last_days_with_spend_in_cents() {
        // Zero days are skipped; only the last three days with spend count.
        assert_eq!(super::observed_budget(&[100.0, 10.0, 0.0, 20.0, 0.0, 31.0], 3), Some(2033));
        assert_eq!(super::observed_budget(&[12.34], 7), Some(1234));
        assert_eq!(super::observed_budget(&[0.0, 0.0], 7), None);
        assert_eq!(super::observed_budget(&[], 7), None);
    }

    #[test]
    fn ledger_overspend_is_past_the_tolerance() {
        assert!(!super::ledger_overspent(55.0, 50.0, 10.0));
        assert!(super::ledger_overspent(55.01, 50.0, 10.0));
        assert!(super::ledger_overspent(50.01, 50.0, 0.0));
        assert!(!super::ledger_overspent(99.0, 0.0, 10.0));
    }

    use super::*;
    use rand::{Rng, SeedableRng};

    fn line(id: &str, d: Decision, current: i64, eff: f64) -> Line {
        Line {
            campaign_id: id.into(),
            decision: d,
            current,
            efficiency: Some(eff),
            risk: Some(0.2),
            burn: 1.0,
            roi: Some(1.0),
            locked: false,
        }
    }

    fn s() -> BudgetSettings {
        BudgetSettings::default()
    }

    #[test]
    fn paused_budget_funds_receivers_in_proportion_to_efficiency() {
        let lines = vec![
            line("a", Decision::Pause, 10000, -50.0),
            line("b", Decision::Continue, 10000, 30.0),
            line("c", Decision::Continue, 10000, 10.0),
        ];
        // Pool 100.00; caps are 20.00 each: both capped, 60.00 is savings.
        let a = reallocate(&lines, &[], 5, &s());
        assert_eq!(a.proposed, vec![0, 12000, 12000]);
        assert_eq!(a.savings, 6000);
        assert_eq!(a.total_before, 30000);
        assert_eq!(a.total_after, 24000);
    }

    #[test]
    fn water_filling_shares_what_a_cap_cuts_off() {
        let lines = vec![
            line("p", Decision::Pause, 3000, -50.0),
            line("big", Decision::Continue, 100000, 10.0),
            line("small", Decision::Continue, 5000, 90.0),
        ];
        // Pool 30.00: by weight small would get 27.00 but is capped at 10.00;
        // the other 20.00 goes to big (cap 200.00).
        let a = reallocate(&lines, &[], 5, &s());
        assert_eq!(a.proposed, vec![0, 102000, 6000]);
        assert_eq!(a.savings, 0);
    }

    #[test]
    fn leftover_cents_stay_in_the_pool() {
        let lines = vec![
            line("p", Decision::Pause, 100, -50.0),
            line("x", Decision::Continue, 10000, 1.0),
            line("y", Decision::Continue, 10000, 1.0),
            line("z", Decision::Continue, 10000, 1.0),
        ];
        // 1.00 over three equal receivers: 33 cents each, 1 cent saved.
        let a = reallocate(&lines, &[], 5, &s());
        assert_eq!(&a.proposed[1..], &[10033, 10033, 10033]);
        assert_eq!(a.savings, 1);
    }

    #[test]
    fn receivers_must_be_cheap_risk_budget_limited_and_profitable() {
        let mut risky = line("r", Decision::Continue, 10000, 50.0);
        risky.risk = Some(0.5);
        let mut idle = line("i", Decision::Continue, 10000, 50.0);
        idle.burn = 0.899999;
        let mut losing = line("l", Decision::Continue, 10000, 50.0);
        losing.roi = Some(-0.01);
        let mut locked = line("k", Decision::Continue, 10000, 50.0);
        locked.locked = true;
        let ok = line("ok", Decision::Continue, 10000, 50.0);
        let lines = vec![line("p", Decision::Pause, 10000, -9.0), risky, idle, losing, locked, ok];
        let a = reallocate(&lines, &[], 5, &s());
        assert_eq!(a.proposed, vec![0, 10000, 10000, 10000, 10000, 12000]);
        assert_eq!(a.receivers, vec![5]);
    }

    #[test]
    fn receiver_that_stays_below_min_daily_is_skipped() {
        let lines = vec![
            line("p", Decision::Pause, 10000, -9.0),
            line("tiny", Decision::Continue, 1000, 50.0),
            line("ok", Decision::Continue, 5000, 50.0),
        ];
        let a = reallocate(&lines, &[], 5, &s());
        assert_eq!(a.proposed, vec![0, 1000, 6000]);
    }

    #[test]
    fn resumes_are_paid_first_best_product_first_and_unfunded_stay_paused() {
        let lines = vec![
            line("p", Decision::Pause, 2000, -9.0),
            line("r1", Decision::Resume, 4000, 5.0),
            line("r2", Decision::Resume, 4000, 9.0),
            line("c", Decision::Continue, 10000, 50.0),
        ];
        // Pool 20.00 pays one resume at 15.00 (the better product); 5.00 left.
        let a = reallocate(&lines, &[], 5, &s());
        assert_eq!(a.proposed, vec![0, 4000, 1500, 10500]);
        assert_eq!(a.unfunded, vec![1]);
        assert_eq!(a.total_after, 1500 + 10500);
    }

    #[test]
    fn resume_spills_into_the_new_campaign_pool() {
        let mut st = s();
        st.new_campaign_pool = 10.0;
        let lines = vec![line("p", Decision::Pause, 1000, -9.0), line("r", Decision::Resume, 4000, 5.0)];
        let a = reallocate(&lines, &[], 5, &st);
        assert_eq!(a.proposed, vec![0, 1500]);
        assert_eq!(a.new_pool_used, 500);
        assert_eq!(a.savings, 0);
    }

    #[test]
    fn locked_campaign_neither_gives_nor_takes() {
        let mut lp = line("lp", Decision::Pause, 10000, -50.0);
        lp.locked = true;
        let lines = vec![lp, line("c", Decision::Continue, 10000, 50.0)];
        let a = reallocate(&lines, &[], 5, &s());
        assert_eq!(a.proposed, vec![10000, 10000]);
        assert_eq!(a.pool, 0);
        assert_eq!(a.total_after, a.total_before);
    }

    #[test]
    fn new_campaigns_take_what_is_left_in_rank_order_skipping_misfits() {
        let lines = vec![line("p", Decision::Pause, 5000, -9.0)];
        let cands = vec![
            NewCandidate { product_id: "A".into(), budget: 3000 },
            NewCandidate { product_id: "B".into(), budget: 2500 },
            NewCandidate { product_id: "C".into(), budget: 2000 },
        ];
        let a = reallocate(&lines, &cands, 5, &s());
        assert_eq!(a.created, vec![0, 2]);
        assert_eq!(a.savings, 0);
        let a = reallocate(&lines, &cands, 1, &s());
        assert_eq!(a.created, vec![0]);
        assert_eq!(a.savings, 2000);
    }

    #[test]
    fn invariants_hold_on_random_portfolios() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let kinds = [Decision::Pause, Decision::EmergencyPause, Decision::Continue, Decision::Optimize,
            Decision::Monitor, Decision::Learning, Decision::Resume, Decision::Paused];
        for _ in 0..300 {
            let mut st = s();
            st.new_campaign_pool = rng.random_range(0..3) as f64 * 25.0;
            let n = rng.random_range(1..30);
            let lines: Vec<Line> = (0..n)
                .map(|i| Line {
                    campaign_id: format!("c{i:02}"),
                    decision: kinds[rng.random_range(0..kinds.len())],
                    current: rng.random_range(0..20000),
                    efficiency: Some(rng.random_range(-50.0..80.0)),
                    risk: Some(rng.random_range(0.0..1.0)),
                    burn: rng.random_range(0.5..1.0),
                    roi: Some(rng.random_range(-1.0..3.0)),
                    locked: rng.random_bool(0.1),
                })
                .collect();
            let cands: Vec<NewCandidate> = (0..rng.random_range(0..6))
                .map(|i| NewCandidate { product_id: format!("P{i}"), budget: rng.random_range(1500..6000) })
                .collect();
            let a = reallocate(&lines, &cands, 5, &st);
            let v = check_invariants(&lines, &a, &cands, &st);
            assert!(v.is_empty(), "{v:?}");
            let spent: i64 = a.proposed.iter().zip(&lines).filter(|(_, l)| l.decision == Decision::Continue)
                .map(|(p, l)| p - l.current).sum::<i64>()
                + a.proposed.iter().zip(&lines).enumerate()
                    .filter(|(i, (_, l))| l.decision == Decision::Resume && !l.locked && !a.unfunded.contains(i))
                    .map(|(_, (p, _))| *p).sum::<i64>()
                + a.created.iter().map(|&c| cands[c].budget).sum::<i64>();
            assert_eq!(spent + a.savings, a.pool + a.new_pool_used, "money is conserved");
        }
    }
}
