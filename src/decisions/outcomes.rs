//! The learning loop's rules (SPEC §13), pure: an applied action's
//! follow-up from the campaign's days, the per-rule summary, the money the
//! changes made, and the calibration that feeds back into the forecasts.
//!
//! A follow-up compares the `d` days after an action took effect with the
//! `d` days up to it. What the forecast's curve predicts for those same days
//! (at the spend the campaign really had, so a later budget change or a day
//! it did not spend its budget is in the prediction as in the observation)
//! is held against what happened: a hit when the observed change is inside
//! the curve's 80 % band widened by the noise of a `d`-day average.

use std::collections::BTreeMap;

use crate::config::LearningSettings;
use crate::decisions::response::{self, Fit};
use crate::model::day::{date_of, Day};
use crate::model::outcome::{AppliedAction, Calibration, Outcome, Rule, RuleStats, WindowPnl};

/// z of the 90th percentile: an 80 % interval is ±Z80 standard errors.
pub const Z80: f64 = 1.281_551_565_5;

/// One day of a campaign: spend and attributed revenue (zero when it had no row).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DayPnl {
    pub spend: f64,
    pub revenue: f64,
}

/// What the follow-ups say the next forecasts should be: the interval scale,
/// and the campaigns whose own misses make the model less sure of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Calibrated {
    pub scale: f64,
    pub widen: BTreeMap<String, f64>,
}

impl Calibrated {
    /// Nothing learned yet: the configured scale, no campaign widened.
    pub fn configured(scale: f64) -> Self {
        Calibrated { scale, widen: BTreeMap::new() }
    }

    /// How much less sure the model is of `campaign` (1: as sure as its data).
    pub fn widen_of(&self, campaign: &str) -> f64 {
        self.widen.get(campaign).copied().unwrap_or(1.0)
    }
}

/// The follow-up `d` days after `a` took effect. `days[k]` is the campaign's
/// day `a.as_of − d + 1 + k` (2·d days: the window before, then after);
/// `overlapping` counts the campaign's other applied actions inside the
/// window after. `checked` is the as_of of the run that follows it up.
pub fn follow_up(a: &AppliedAction, days: &[DayPnl], d: u32, margin: f64, checked: Day, overlapping: u32) -> Outcome {
    let n = d as usize;
    assert_eq!(days.len(), 2 * n, "follow_up needs the window before and after");
    let (before, after) = days.split_at(n);
    let pnl = |w: &[DayPnl]| {
        let spend = w.iter().map(|x| x.spend).sum::<f64>() / n as f64;
        let revenue = w.iter().map(|x| x.revenue).sum::<f64>() / n as f64;
        WindowPnl { days: d, spend, revenue, profit: margin * revenue - spend }
    };
    let (b, af) = (pnl(before), pnl(after));
    let observed_delta = af.profit - b.profit;
    let rule = Rule::of(a.kind, a.from, a.to, a.paused_by);
    let mut o = Outcome {
        action_key: a.key.clone(),
        follow_up_days: d,
        action_as_of: date_of(a.as_of).to_string(),
        checked_as_of: date_of(checked).to_string(),
        campaign_id: a.campaign_id.clone(),
        product_id: a.product_id.clone(),
        rule,
        from_budget: a.from,
        to_budget: a.to,
        before: b,
        after: af,
        observed_delta,
        forecast_delta: a.forecast.map(|f| f.delta_profit),
        forecast_low: a.forecast.map(|f| f.delta_low),
        forecast_high: a.forecast.map(|f| f.delta_high),
        expected_delta: None,
        band_low: None,
        band_high: None,
        band1_low: None,
        band1_high: None,
        interval_scale: None,
        noise_se: noise_se(before, after, margin, None),
        low: None,
        high: None,
        hit: None,
        overlapping,
    };
    let Some(summary) = a.forecast.and_then(|f| f.fit) else {
        return o;
    };
    let fit = Fit::from_summary(&summary);
    let spends = |w: &[DayPnl]| w.iter().map(|x| x.spend).collect::<Vec<f64>>();
    let (sb, sa) = (spends(before), spends(after));
    let (expected, low, high) = response::window_delta(&fit, &sb, &sa, margin, summary.interval_scale);
    let (_, low1, high1) = response::window_delta(&fit, &sb, &sa, margin, 1.0);
    o.expected_delta = Some(expected);
    o.band_low = Some(low);
    o.band_high = Some(high);
    o.band1_low = Some(low1);
    o.band1_high = Some(high1);
    o.interval_scale = Some(summary.interval_scale);
    o.noise_se = noise_se(before, after, margin, Some(&fit));
    let (lo, hi) = interval(expected, expected - low, high - expected, o.noise_se);
    o.low = Some(lo);
    o.high = Some(hi);
    o.hit = Some(lo <= observed_delta && observed_delta <= hi);
    o
}

/// The 80 % interval around `center` whose curve band reaches `down` below
/// and `up` above it, widened by the noise of the observation.
fn interval(center: f64, down: f64, up: f64, noise_se: f64) -> (f64, f64) {
    let z = Z80 * noise_se;
    (center - down.max(0.0).hypot(z), center + up.max(0.0).hypot(z))
}

/// The standard error of a window's mean daily profit change, from each
/// day's profit around the curve (or around nothing, without one). With
/// whole weeks the weekday cancels in a window's mean, so it must not count
/// as noise: the scatter is what is left after each window's mean and each
/// weekday's (a two-way fit, 2d − 8 degrees of freedom). Otherwise each
/// window's own scatter; a window of one day borrows the other's.
fn noise_se(before: &[DayPnl], after: &[DayPnl], margin: f64, fit: Option<&Fit>) -> f64 {
    let residuals = |w: &[DayPnl]| -> Vec<f64> {
        w.iter()
            .map(|x| {
                let profit = margin * x.revenue - x.spend;
                match fit {
                    Some(f) => profit - (margin * f.curve.revenue(x.spend) - x.spend),
                    None => profit,
                }
            })
            .collect()
    };
    let (rb, ra) = (residuals(before), residuals(after));
    let mean = |r: &[f64]| r.iter().sum::<f64>() / r.len().max(1) as f64;
    let d = rb.len();
    if d >= 7 && d % 7 == 0 && ra.len() == d {
        let (mb, ma) = (mean(&rb), mean(&ra));
        // Weekday k's mean over both windows, each window's mean taken out.
        let weekday: Vec<f64> = (0..7)
            .map(|k| {
                let v: Vec<f64> = (k..d).step_by(7).flat_map(|t| [rb[t] - mb, ra[t] - ma]).collect();
                mean(&v)
            })
            .collect();
        let rss: f64 = (0..d).map(|t| (rb[t] - mb - weekday[t % 7]).powi(2) + (ra[t] - ma - weekday[t % 7]).powi(2)).sum();
        let var = rss / (2 * d - 8) as f64;
        return (2.0 * var / d as f64).sqrt();
    }
    let var = |r: &[f64]| -> Option<f64> {
        (r.len() >= 2).then(|| {
            let m = mean(r);
            r.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (r.len() - 1) as f64
        })
    };
    let (vb, va) = (var(&rb), var(&ra));
    let (vb, va) = (vb.or(va).unwrap_or(0.0), va.or(vb).unwrap_or(0.0));
    (vb / rb.len().max(1) as f64 + va / ra.len().max(1) as f64).sqrt()
}

/// Whether `o` falls inside its band rescaled from scale 1 to `scale`, with
/// its noise; and by how many half-widths it misses (1 = on the edge).
fn z_at(o: &Outcome, scale: f64) -> Option<f64> {
    let (c, lo1, hi1) = (o.expected_delta?, o.band1_low?, o.band1_high?);
    let (lo, hi) = interval(c, scale * (c - lo1), scale * (hi1 - c), o.noise_se);
    let off = o.observed_delta - c;
    let half = if off < 0.0 { c - lo } else { hi - c };
    Some(if half > 0.0 { off.abs() / half } else if off == 0.0 { 0.0 } else { f64::INFINITY })
}


/// The interval scale the follow-ups ask for. `outcomes` newest first; the
/// newest `calibration_window` with a curve give the scale, all of them
/// each campaign's widening. Each says: observed −
/// expected ~ N(0, (S·b)² + σ²), b the curve band's half-width at scale 1
/// (on the side it fell) over Z80, σ its noise; the scale S is the most
/// probable one on a grid, with a log-normal prior around `configured` of
/// sd `calibration_prior_sd` — so follow-ups drowned in the noise of a
/// week's average move it little, and a flat likelihood leaves it where it
/// was. Fewer than `calibration_min_outcomes`, or `calibrate = false`, leave
/// the configured scale. Each campaign's own misses widen its uncertainty:
/// k² = (n0 + Σ (Z80·z)²) / (n0 + n), z its misses in half-widths at the
/// new scale, k kept in [1, max_campaign_scale].
pub fn calibrate(outcomes: &[Outcome], configured: f64, l: &LearningSettings) -> (Calibration, Calibrated) {
    let all: Vec<&Outcome> = outcomes.iter().filter(|o| o.hit.is_some() && o.band1_low.is_some()).collect();
    let judged = &all[..all.len().min(l.calibration_window as usize)];
    let n = judged.len();
    let coverage = (n > 0).then(|| judged.iter().filter(|o| o.hit == Some(true)).count() as f64 / n as f64);
    // (residual, band sd at scale 1, noise sd) of each.
    let terms: Vec<(f64, f64, f64)> = judged
        .iter()
        .filter_map(|o| {
            let (c, lo1, hi1) = (o.expected_delta?, o.band1_low?, o.band1_high?);
            let r = o.observed_delta - c;
            let half = if r < 0.0 { c - lo1 } else { hi1 - c };
            Some((r, half.max(0.0) / Z80, o.noise_se))
        })
        .collect();
    let log_posterior = |scale: f64, prior_sd: Option<f64>| -> f64 {
        let like: f64 = terms
            .iter()
            .map(|&(r, b, sd)| {
                let v = (scale * b).powi(2) + sd * sd;
                if v <= 0.0 { 0.0 } else { -0.5 * v.ln() - r * r / (2.0 * v) }
            })
            .sum();
        like - prior_sd.map_or(0.0, |t| (scale.ln() - configured.ln()).powi(2) / (2.0 * t * t))
    };
    let best = |prior_sd: Option<f64>| -> f64 {
        const STEPS: usize = 240;
        let (lo, hi) = (l.min_scale.ln(), l.max_scale.ln());
        (0..=STEPS)
            .map(|k| (lo + (hi - lo) * k as f64 / STEPS as f64).exp())
            .map(|s| (s, log_posterior(s, prior_sd)))
            .fold((configured, f64::NEG_INFINITY), |a, b| if b.1 > a.1 { b } else { a })
            .0
    };
    let observed_scale = (!terms.is_empty()).then(|| best(None));
    let use_it = l.calibrate && n >= l.calibration_min_outcomes as usize;
    let scale = if use_it && !terms.is_empty() { best(Some(l.calibration_prior_sd)) } else { configured };
    let mut per: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    if l.calibrate {
        for o in &all {
            if let Some(z) = z_at(o, scale).filter(|z| z.is_finite()) {
                let e = per.entry(o.campaign_id.as_str()).or_default();
                e.0 += 1.0;
                e.1 += (Z80 * z).powi(2);
            }
        }
    }
    let n0 = l.campaign_prior_outcomes as f64;
    let widen: BTreeMap<String, f64> = per
        .into_iter()
        .filter(|(id, _)| !id.is_empty())
        .map(|(id, (count, sum))| (id.to_string(), ((n0 + sum) / (n0 + count)).sqrt().clamp(1.0, l.max_campaign_scale)))
        .filter(|(_, k)| *k > 1.0 + 1e-9)
        .collect();
    let pct = |x: f64| format!("{:.0} %", 100.0 * x);
    let note = match (coverage, observed_scale) {
        (None, _) | (_, None) => format!("No follow-up with a forecast yet: forecasts use the configured interval scale {configured:.2}."),
        (Some(c), Some(obs)) if !use_it => format!(
            "{} of {n} followed-up forecasts fell inside their 80 % interval; calibration waits for {} (or is off): the scale stays {configured:.2} (the follow-ups alone would say {obs:.2}).",
            pct(c),
            l.calibration_min_outcomes
        ),
        (Some(c), Some(obs)) => format!(
            "{} of {n} followed-up forecasts fell inside their 80 % interval; {} the intervals: scale {configured:.2} → {scale:.2} (the follow-ups alone say {obs:.2}).",
            pct(c),
            if scale > configured * 1.005 { "widening" } else if scale < configured / 1.005 { "narrowing" } else { "keeping" }
        ),
    };
    let cal = Calibration {
        configured_scale: configured,
        scale,
        outcomes: n,
        coverage,
        observed_scale,
        widened: widen.iter().map(|(k, v)| (k.clone(), *v)).collect(),
        note,
    };
    (cal, Calibrated { scale, widen })
}

/// Per rule and follow-up length: count, coverage, mean observed and expected change.
pub fn per_rule(outcomes: &[Outcome]) -> Vec<RuleStats> {
    let mut groups: BTreeMap<(Rule, u32), Vec<&Outcome>> = BTreeMap::new();
    for o in outcomes {
        groups.entry((o.rule, o.follow_up_days)).or_default().push(o);
    }
    groups
        .into_iter()
        .map(|((rule, d), os)| {
            let judged: Vec<&&Outcome> = os.iter().filter(|o| o.hit.is_some()).collect();
            let expected: Vec<f64> = os.iter().filter_map(|o| o.expected_delta).collect();
            RuleStats {
                rule: rule.as_str().to_string(),
                follow_up_days: d,
                count: os.len(),
                judged: judged.len(),
                coverage: (!judged.is_empty()).then(|| judged.iter().filter(|o| o.hit == Some(true)).count() as f64 / judged.len() as f64),
                mean_observed_delta: os.iter().map(|o| o.observed_delta).sum::<f64>() / os.len() as f64,
                mean_expected_delta: (!expected.is_empty()).then(|| expected.iter().sum::<f64>() / expected.len() as f64),
            }
        })
        .collect()
}

/// What the changes made or lost to date: each action once, by its longest
/// follow-up, Σ observed Δprofit per day × its days; the 80 % interval from
/// the windows' noise (independent across actions).
pub fn money(outcomes: &[Outcome]) -> (f64, f64, f64) {
    let mut longest: BTreeMap<&str, &Outcome> = BTreeMap::new();
    for o in outcomes {
        let e = longest.entry(o.action_key.as_str()).or_insert(o);
        if o.follow_up_days > e.follow_up_days {
            *e = o;
        }
    }
    let total: f64 = longest.values().map(|o| o.observed_delta * o.follow_up_days as f64).sum();
    let var: f64 = longest.values().map(|o| (o.noise_se * o.follow_up_days as f64).powi(2)).sum();
    let half = Z80 * var.sqrt();
    (total, total - half, total + half)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decisions::response::curve;
    use crate::model::plan::{ActionKind, ResponseSummary};

    fn summary(roas: f64, spend: f64, se: f64) -> ResponseSummary {
        ResponseSummary { roas, log_roas_se: se, elasticity: 0.0, elasticity_se: 1e-6, spend, burn: 1.0, margin: 1.0, interval_scale: 1.0 }
    }

    fn raise(from: f64, to: f64, fit: ResponseSummary) -> AppliedAction {
        let f = Fit::from_summary(&fit);
        AppliedAction {
            key: "k".into(),
            as_of: 100,
            campaign_id: "C1".into(),
            product_id: "P1".into(),
            kind: ActionKind::SetBudget,
            from,
            to,
            paused_by: None,
            forecast: Some(response::forecast(&f, 1.0, from, to, 1.0, fit.interval_scale)),
        }
    }

    #[test]
    fn a_raise_whose_revenue_followed_is_a_hit_and_one_whose_revenue_stayed_is_a_miss() {
        // A flat curve at ROAS 2: 50 → 80 a day should bring +30 profit a day.
        let a = raise(50.0, 80.0, summary(2.0, 50.0, 0.05));
        assert!((a.forecast.unwrap().delta_profit - 30.0).abs() < 1e-9);
        let before = vec![DayPnl { spend: 50.0, revenue: 100.0 }; 7];
        let followed: Vec<DayPnl> = before.iter().cloned().chain(vec![DayPnl { spend: 80.0, revenue: 161.0 }; 7]).collect();
        let o = follow_up(&a, &followed, 7, 1.0, 107, 0);
        assert_eq!(o.rule, Rule::BudgetUp);
        assert!((o.observed_delta - 31.0).abs() < 1e-9, "{o:?}");
        assert!((o.expected_delta.unwrap() - 30.0).abs() < 1e-9);
        assert_eq!(o.hit, Some(true), "{o:?}");
        // The same spend, the revenue flat: 30 more spent for nothing.
        let flat: Vec<DayPnl> = before.iter().cloned().chain(vec![DayPnl { spend: 80.0, revenue: 100.0 }; 7]).collect();
        let o = follow_up(&a, &flat, 7, 1.0, 107, 0);
        assert!((o.observed_delta + 30.0).abs() < 1e-9);
        assert_eq!(o.hit, Some(false), "{o:?}");
        assert!(o.high.unwrap() < 0.0 || o.low.unwrap() > -30.0);
    }

    #[test]
    fn the_expected_change_is_the_curve_at_the_spend_really_had() {
        // Raised to 80 but it only spent 60 a day: the curve expects +10, not +30.
        let a = raise(50.0, 80.0, summary(2.0, 50.0, 0.05));
        let days: Vec<DayPnl> = vec![DayPnl { spend: 50.0, revenue: 100.0 }; 7].into_iter().chain(vec![DayPnl { spend: 60.0, revenue: 120.0 }; 7]).collect();
        let o = follow_up(&a, &days, 7, 1.0, 107, 0);
        assert!((o.expected_delta.unwrap() - 10.0).abs() < 1e-9, "{o:?}");
        assert!((o.after.spend - 60.0).abs() < 1e-9 && (o.before.revenue - 100.0).abs() < 1e-9);
        assert_eq!(o.hit, Some(true));
    }

    #[test]
    fn noise_is_the_scatter_of_the_days_but_not_their_weekday() {
        let a = raise(50.0, 50.5, summary(2.0, 50.0, 1e-6));
        let quiet: Vec<DayPnl> = vec![DayPnl { spend: 50.0, revenue: 100.0 }; 14];
        assert!(follow_up(&a, &quiet, 7, 1.0, 107, 0).noise_se < 1e-9);
        // The same weekly pattern both weeks (weekends +40): no noise in a week's mean.
        let weekly: Vec<DayPnl> = (0..14).map(|k| DayPnl { spend: 50.0, revenue: if k % 7 >= 5 { 140.0 } else { 100.0 } }).collect();
        assert!(follow_up(&a, &weekly, 7, 1.0, 107, 0).noise_se < 1e-9);
        // And a level shift between the weeks is the signal, not noise.
        let shifted: Vec<DayPnl> = (0..14).map(|k| DayPnl { spend: 50.0, revenue: if k >= 7 { 130.0 } else { 100.0 } }).collect();
        let o = follow_up(&a, &shifted, 7, 1.0, 107, 0);
        assert!(o.noise_se < 1e-9 && (o.observed_delta - 30.0).abs() < 1e-9);
        // Scatter that is neither: ±e on the first day of each week, ∓e on the second.
        let e = 21.0;
        let loud: Vec<DayPnl> = (0..14)
            .map(|k| {
                let bump = match (k % 7, k / 7) { (0, 0) | (1, 1) => e, (1, 0) | (0, 1) => -e, _ => 0.0 };
                DayPnl { spend: 50.0, revenue: 100.0 + bump }
            })
            .collect();
        let o = follow_up(&a, &loud, 7, 1.0, 107, 0);
        // Each window's mean is 100; the weekday means are 0; RSS 4e², 6 df.
        let var = 4.0 * e * e / 6.0;
        assert!((o.noise_se - (2.0 * var / 7.0).sqrt()).abs() < 1e-6, "{}", o.noise_se);
        assert!(o.high.unwrap() - o.expected_delta.unwrap() >= Z80 * o.noise_se * 0.999);
        // A window that is not whole weeks: each window's own scatter.
        let five: Vec<DayPnl> = (0..10).map(|k| DayPnl { spend: 50.0, revenue: if k % 2 == 0 { 90.0 } else { 110.0 } }).collect();
        let o = follow_up(&a, &five, 5, 1.0, 105, 0);
        // 90, 110, 90, 110, 90 then 110, 90, 110, 90, 110: each variance (3·8² + 2·12²)/4 = 120.
        assert!((o.noise_se - (120.0f64 / 5.0 + 120.0 / 5.0).sqrt()).abs() < 1e-6, "{}", o.noise_se);
    }

    fn outcome(campaign: &str, observed: f64, half1: f64) -> Outcome {
        let a = raise(50.0, 60.0, summary(2.0, 50.0, 0.05));
        let mut o = follow_up(&a, &[DayPnl::default(); 14], 7, 1.0, 107, 0);
        o.campaign_id = campaign.into();
        o.expected_delta = Some(0.0);
        o.band1_low = Some(-half1);
        o.band1_high = Some(half1);
        o.noise_se = 0.0;
        o.observed_delta = observed;
        o.hit = Some(observed.abs() <= half1 * 1.3);
        o
    }

    #[test]
    fn calibration_finds_the_scale_the_misses_ask_for_and_a_prior_keeps_it_near_the_configured_one() {
        // Residuals at the normal quantiles of a band twice as wide as the
        // curve said (band half-width 1 at scale 1, no noise): scale 2.
        use statrs::distribution::{ContinuousCDF, Normal};
        let z = Normal::new(0.0, 1.0).unwrap();
        let os: Vec<Outcome> = (0..200)
            .map(|i| outcome(&format!("C{}", i % 50), 2.0 / Z80 * z.inverse_cdf((i as f64 + 0.5) / 200.0), 1.0))
            .collect();
        let l = LearningSettings::default();
        let (cal, c) = calibrate(&os, 1.3, &l);
        let obs = cal.observed_scale.unwrap();
        assert!((obs - 2.0).abs() < 0.05, "{obs}");
        assert!(c.scale > 1.8 && c.scale <= obs, "200 follow-ups outweigh the prior: {}", c.scale);
        assert!(cal.note.contains("widening"), "{}", cal.note);
        // Drowned in noise: the same misses move the scale (almost) nowhere.
        let noisy: Vec<Outcome> = os.iter().cloned().map(|o| Outcome { noise_se: 50.0, ..o }).collect();
        let (_, c) = calibrate(&noisy, 1.3, &l);
        assert!((c.scale - 1.3).abs() < 0.05, "{}", c.scale);
        // Too few follow-ups: the configured scale stays.
        let (cal, c) = calibrate(&os[..10], 1.3, &l);
        assert_eq!(c.scale, 1.3);
        assert!(cal.note.contains("waits"), "{}", cal.note);
        // Off: the same, and no campaign widened.
        let (_, c) = calibrate(&os, 1.3, &LearningSettings { calibrate: false, ..l });
        assert_eq!(c.scale, 1.3);
        assert!(c.widen.is_empty());
    }

    #[test]
    fn a_campaign_that_missed_is_widened_and_one_that_hit_is_not() {
        let mut os: Vec<Outcome> = (0..40).map(|i| outcome("GOOD", 0.2 * ((i % 5) as f64 - 2.0), 1.0)).collect();
        os.push(outcome("BAD", 3.0, 1.0));
        let (_, c) = calibrate(&os, 1.0, &LearningSettings { calibration_min_outcomes: 1000, ..LearningSettings::default() });
        assert_eq!(c.widen_of("GOOD"), 1.0);
        // One miss by 3 half-widths at scale 1: k² = (2 + (1.28·3)²)/3.
        let k = c.widen_of("BAD");
        assert!((k - ((2.0 + (Z80 * 3.0).powi(2)) / 3.0f64).sqrt()).abs() < 1e-9, "{k}");
    }

    #[test]
    fn rules_are_grouped_and_money_counts_each_action_once_by_its_longest_follow_up() {
        let mut a = outcome("C1", 2.0, 1.0);
        let mut b = a.clone();
        b.follow_up_days = 14;
        b.observed_delta = 3.0;
        b.noise_se = 1.0;
        a.noise_se = 5.0;
        let stats = per_rule(&[a.clone(), b.clone()]);
        assert_eq!(stats.len(), 2);
        assert_eq!((stats[0].rule.as_str(), stats[0].follow_up_days, stats[0].count), ("budget_up", 7, 1));
        let (m, lo, hi) = money(&[a, b]);
        assert!((m - 42.0).abs() < 1e-9);
        assert!((hi - m - Z80 * 14.0).abs() < 1e-9 && (m - lo - Z80 * 14.0).abs() < 1e-9);
    }

    #[test]
    fn a_pause_of_a_loser_expects_the_loss_back() {
        // ROAS 0.5 at 40 a day: −20 a day; paused, the curve expects +20.
        let f = summary(0.5, 40.0, 0.05);
        let fit = Fit::from_summary(&f);
        let c = curve(0.5, 40.0, 0.0);
        assert!((c.revenue(40.0) - 20.0).abs() < 1e-9);
        let a = AppliedAction {
            kind: ActionKind::Pause,
            to: 0.0,
            forecast: Some(response::forecast(&fit, 1.0, 40.0, 0.0, 1.0, 1.0)),
            ..raise(40.0, 0.0, f)
        };
        let days: Vec<DayPnl> = vec![DayPnl { spend: 40.0, revenue: 20.0 }; 7].into_iter().chain(vec![DayPnl::default(); 7]).collect();
        let o = follow_up(&a, &days, 7, 1.0, 107, 0);
        assert_eq!(o.rule, Rule::Pause);
        assert!((o.expected_delta.unwrap() - 20.0).abs() < 1e-9 && (o.observed_delta - 20.0).abs() < 1e-9);
        assert_eq!(o.hit, Some(true));
    }
}
