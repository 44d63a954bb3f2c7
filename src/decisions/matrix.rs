//! The decision matrix of SPEC §6, with its significance gates.
//!
//! Active campaigns take the first row whose condition holds; paused ones are
//! resumed or stay paused. Every comparison uses the metric rounded to 6
//! decimals ([`round6`]). Reasons are `rule:detail` strings a program can
//! read and a person can follow.

use super::significance::{poisson_lower_tail, rate_change_p};
use super::{num, round6};
use crate::config::{DecisionSettings, ResumeSettings, SignificanceSettings};
use crate::model::campaign::PausedBy;
use crate::model::day::Day;
use crate::model::decision::{Decision, Verdict};
use crate::model::reason::Code;

/// What the matrix needs to know about an active campaign.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActiveInputs {
    pub spend_days: u64,
    pub spend: f64,
    pub revenue: f64,
    pub conversions: u64,
    pub new_customers: u64,
    pub price: f64,
    pub roi: Option<f64>,
    /// +∞ when there was spend and no new customer.
    pub cpa: Option<f64>,
    pub sales_impact: Option<f64>,
    pub view_impact: Option<f64>,
    pub units_cur: u64,
    pub units_base: u64,
    pub views_cur: u64,
    pub views_base: u64,
    /// Covered days of the current and baseline windows.
    pub cur_days: u64,
    pub base_days: u64,
    /// The store has no views source: view impact is unknown, not zero.
    pub views_missing: bool,
}

fn lt(x: Option<f64>, t: f64) -> bool {
    x.is_some_and(|x| round6(x) < t)
}
fn gt(x: Option<f64>, t: f64) -> bool {
    x.is_some_and(|x| round6(x) > t)
}
fn within(x: Option<f64>, lo: f64, hi: f64) -> bool {
    x.is_some_and(|x| {
        let r = round6(x);
        lo <= r && r <= hi
    })
}
fn show(x: Option<f64>) -> String {
    x.map(num).unwrap_or_else(|| "null".into())
}

/// Decides an active campaign (SPEC §6 rows 0–5 and the gates).
pub fn decide_active(m: &ActiveInputs, d: &DecisionSettings, sig: &SignificanceSettings) -> Verdict {
    // 0. LEARNING
    let min_spend = if d.min_spend > 0.0 { d.min_spend } else { m.price };
    if m.spend_days < d.min_days as u64 {
        return Verdict::new(
            Decision::Learning,
            vec![Code::Learning.with(format_args!("spend_days={}<{}", m.spend_days, d.min_days))],
        );
    }
    if round6(m.spend) < min_spend {
        return Verdict::new(
            Decision::Learning,
            vec![Code::Learning.with(format_args!("spend={}<{}", num(m.spend), num(min_spend)))],
        );
    }

    // 1. EMERGENCY_PAUSE
    let cpa_limit = m.price * d.emergency_cpa_price_ratio;
    let roi_hit = lt(m.roi, d.emergency_roi);
    let cpa_hit = gt(m.cpa, cpa_limit);
    if roi_hit || cpa_hit {
        let mut reasons = Vec::new();
        let mut tests = Vec::new();
        if roi_hit {
            reasons.push(Code::Emergency.with(format_args!("roi={}<{}", show(m.roi), num(d.emergency_roi))));
            let aov = if m.conversions > 0 { m.revenue / m.conversions as f64 } else { m.price };
            let k = (1.0 + d.emergency_roi) * m.spend / aov;
            tests.push(("roi", m.conversions, k, poisson_lower_tail(m.conversions, k)));
        }
        if cpa_hit {
            reasons.push(Code::Emergency.with(format_args!("cpa={}>{}", show(m.cpa), num(cpa_limit))));
            let k = m.spend / cpa_limit;
            tests.push(("cpa", m.new_customers, k, poisson_lower_tail(m.new_customers, k)));
        }
        if !sig.gate_emergency {
            return Verdict::new(Decision::EmergencyPause, reasons);
        }
        let significant = tests.iter().any(|t| t.3 < sig.alpha);
        for (rule, n, k, p) in &tests {
            let verdict = if *p < sig.alpha { Code::Significant } else { Code::NotSignificant };
            reasons.push(verdict.with(format_args!("{rule} n={n} k={} p={p:e} alpha={}", num(*k), num(sig.alpha))));
        }
        if significant {
            return Verdict::new(Decision::EmergencyPause, reasons);
        }
        reasons.insert(0, Code::NotSignificant.bare());
        return Verdict::new(Decision::Monitor, reasons);
    }

    let units_p = || rate_change_p(m.units_cur, m.cur_days, m.units_base, m.base_days);
    let views_p = || rate_change_p(m.views_cur, m.cur_days, m.views_base, m.base_days);
    let p_reason = |what: &str, p: f64| {
        let verdict = if p < sig.alpha { Code::Significant } else { Code::NotSignificant };
        verdict.with(format_args!("{what} p={p:e} alpha={}", num(sig.alpha)))
    };

    // 2. PAUSE
    let sales_drop = lt(m.sales_impact, d.pause_sales_impact);
    let views_drop = lt(m.view_impact, d.pause_view_impact);
    if sales_drop || views_drop {
        let mut reasons = Vec::new();
        let mut any_significant = false;
        if sales_drop {
            reasons.push(Code::Pause.with(format_args!("sales_impact={}<{}", show(m.sales_impact), num(d.pause_sales_impact))));
            let p = units_p();
            any_significant |= p < sig.alpha;
            reasons.push(p_reason("units", p));
        }
        if views_drop {
            reasons.push(Code::Pause.with(format_args!("view_impact={}<{}", show(m.view_impact), num(d.pause_view_impact))));
            let p = views_p();
            any_significant |= p < sig.alpha;
            reasons.push(p_reason("views", p));
        }
        if any_significant {
            return Verdict::new(Decision::Pause, reasons);
        }
        reasons.insert(0, Code::NotSignificant.bare());
        return Verdict::new(Decision::Monitor, reasons);
    }

    // A null impact can be neither CONTINUE nor OPTIMIZE.
    if m.sales_impact.is_none() || m.view_impact.is_none() {
        let reason = if m.sales_impact.is_none() {
            Code::NoBaseline.with("sales_impact")
        } else if m.views_missing {
            Code::NoViewsSource.with("view_impact (configure [views])")
        } else {
            Code::NoBaseline.with("view_impact")
        };
        return Verdict::new(Decision::Monitor, vec![reason]);
    }

    // 3. CONTINUE
    if gt(m.sales_impact, d.continue_sales_impact) && gt(m.view_impact, d.continue_view_impact) {
        let (pu, pv) = (units_p(), views_p());
        let mut reasons = vec![
            Code::Continue.with(format_args!("sales_impact={}>{}", show(m.sales_impact), num(d.continue_sales_impact))),
            Code::Continue.with(format_args!("view_impact={}>{}", show(m.view_impact), num(d.continue_view_impact))),
            p_reason("units", pu),
            p_reason("views", pv),
        ];
        if pu < sig.alpha && pv < sig.alpha {
            return Verdict::new(Decision::Continue, reasons);
        }
        reasons.insert(0, Code::NotSignificant.bare());
        return Verdict::new(Decision::Monitor, reasons);
    }

    // 4. OPTIMIZE
    let sales_mid = within(m.sales_impact, d.optimize_sales_min, d.optimize_sales_max);
    let views_mid = within(m.view_impact, d.optimize_view_min, d.optimize_view_max);
    if sales_mid || views_mid {
        let mut reasons = Vec::new();
        if sales_mid {
            reasons.push(Code::Optimize.with(format_args!(
                "sales_impact={} in [{},{}]",
                show(m.sales_impact),
                num(d.optimize_sales_min),
                num(d.optimize_sales_max)
            )));
        }
        if views_mid {
            reasons.push(Code::Optimize.with(format_args!(
                "view_impact={} in [{},{}]",
                show(m.view_impact),
                num(d.optimize_view_min),
                num(d.optimize_view_max)
            )));
        }
        return Verdict::new(Decision::Optimize, reasons);
    }

    // 5. MONITOR
    Verdict::new(
        Decision::Monitor,
        vec![Code::MixedResults.with(format_args!("sales_impact={} view_impact={}", show(m.sales_impact), show(m.view_impact)))],
    )
}

/// What the matrix needs to know about a paused campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct PausedInputs {
    pub paused_by: Option<PausedBy>,
    pub paused_at: Option<Day>,
    pub as_of: Day,
    /// Efficiency of the campaign's product over the trend baseline.
    pub efficiency: Option<f64>,
    pub stock: i64,
}

/// RESUME (a candidate, still to be funded by the budget step) or PAUSED.
pub fn decide_paused(p: &PausedInputs, r: &ResumeSettings, min_stock: i64) -> Verdict {
    let paused = |reason: String| Verdict::new(Decision::Paused, vec![reason]);
    match p.paused_by {
        Some(PausedBy::Pipeline) => {}
        Some(PausedBy::PipelineEmergency) => return paused(Code::PausedByEmergency.bare()),
        // An empty paused_by counts as a person's pause.
        Some(PausedBy::User) | None => return paused(Code::PausedByUser.bare()),
    }
    let Some(at) = p.paused_at else { return paused(Code::MissingPausedAt.bare()) };
    let days = p.as_of - at;
    if days < r.cooldown_days as Day {
        return paused(Code::Cooldown.with(format_args!("days_paused={}<{}", days, r.cooldown_days)));
    }
    let recovered = gt(p.efficiency, r.min_efficiency);
    if !recovered || p.stock <= min_stock {
        return paused(Code::NotRecovered.with(format_args!(
            "efficiency={} (needs >{}) stock={} (needs >{})",
            show(p.efficiency),
            num(r.min_efficiency),
            p.stock,
            min_stock
        )));
    }
    Verdict::new(
        Decision::Resume,
        vec![Code::Resume.with(format_args!(
            "days_paused={} efficiency={}>{} stock={}>{}",
            days,
            show(p.efficiency),
            num(r.min_efficiency),
            p.stock,
            min_stock
        ))],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d() -> DecisionSettings {
        DecisionSettings::default()
    }
    fn sig() -> SignificanceSettings {
        SignificanceSettings::default()
    }

    /// A healthy campaign with big counts, so every change is significant.
    fn base() -> ActiveInputs {
        ActiveInputs {
            spend_days: 7,
            spend: 700.0,
            revenue: 2100.0,
            conversions: 70,
            new_customers: 50,
            price: 30.0,
            roi: Some(2.0),
            cpa: Some(14.0),
            sales_impact: Some(0.0),
            view_impact: Some(0.0),
            units_cur: 7000,
            units_base: 14000,
            views_cur: 70000,
            views_base: 140000,
            cur_days: 7,
            base_days: 14,
            views_missing: false,
        }
    }

    fn with_impacts(sales: f64, views: f64) -> ActiveInputs {
        let mut m = base();
        m.sales_impact = Some(sales);
        m.view_impact = Some(views);
        // Counts consistent with the impacts, so the gates see real changes.
        m.units_cur = (1000.0 * 7.0 * (1.0 + sales / 100.0)).round() as u64;
        m.views_cur = (10000.0 * 7.0 * (1.0 + views / 100.0)).round() as u64;
        m
    }

    fn decide(m: &ActiveInputs) -> Decision {
        decide_active(m, &d(), &sig()).decision
    }

    #[test]
    fn learning_when_fewer_spend_days_than_min_days() {
        let mut m = base();
        m.spend_days = 2;
        assert_eq!(decide(&m), Decision::Learning);
        m.spend_days = 3;
        assert_ne!(decide(&m), Decision::Learning);
    }

    #[test]
    fn learning_when_spend_below_one_unit_of_price() {
        let mut m = base();
        m.spend = 29.99;
        assert_eq!(decide(&m), Decision::Learning);
        m.spend = 30.0;
        m.roi = Some(1.0);
        assert_ne!(decide(&m), Decision::Learning);
    }

    #[test]
    fn learning_uses_min_spend_when_set() {
        let mut m = base();
        let mut s = d();
        s.min_spend = 1000.0;
        assert_eq!(decide_active(&m, &s, &sig()).decision, Decision::Learning);
        m.spend = 1000.0;
        assert_ne!(decide_active(&m, &s, &sig()).decision, Decision::Learning);
    }

    #[test]
    fn roi_exactly_zero_is_not_an_emergency() {
        let mut m = base();
        m.roi = Some(0.0);
        assert_ne!(decide(&m), Decision::EmergencyPause);
        m.roi = Some(-0.000001);
        m.conversions = 0;
        assert_eq!(decide(&m), Decision::EmergencyPause);
    }

    #[test]
    fn cpa_equal_to_price_is_not_an_emergency() {
        let mut m = base();
        m.cpa = Some(30.0);
        assert_ne!(decide(&m), Decision::EmergencyPause);
        m.cpa = Some(30.000001);
        m.new_customers = 0;
        assert_eq!(decide(&m), Decision::EmergencyPause);
    }

    #[test]
    fn infinite_cpa_triggers_the_emergency_rule() {
        let mut m = base();
        m.cpa = Some(f64::INFINITY);
        m.new_customers = 0;
        let v = decide_active(&m, &d(), &sig());
        assert_eq!(v.decision, Decision::EmergencyPause);
        assert!(v.reasons.iter().any(|r| r.starts_with("emergency:cpa=inf>30")), "{:?}", v.reasons);
    }

    #[test]
    fn emergency_with_too_few_events_to_be_sure_becomes_monitor() {
        // Spend 40 on a 30 product, 1 conversion worth 30: roi -0.25, but
        // k = 40/30 = 1.33 expected conversions; P(X ≤ 1) = 0.61.
        let mut m = base();
        m.spend = 40.0;
        m.revenue = 30.0;
        m.conversions = 1;
        m.new_customers = 1;
        m.roi = Some(-0.25);
        m.cpa = Some(40.0);
        let v = decide_active(&m, &d(), &sig());
        assert_eq!(v.decision, Decision::Monitor);
        assert_eq!(v.reasons[0], "not_significant");
        assert!(v.reasons.iter().any(|r| r.starts_with("not_significant:roi n=1 k=1.333333")), "{:?}", v.reasons);
        let mut s = sig();
        s.gate_emergency = false;
        assert_eq!(decide_active(&m, &d(), &s).decision, Decision::EmergencyPause);
    }

    #[test]
    fn emergency_gate_uses_poisson_lower_tail() {
        // 0 conversions where 10 were needed to break even: P(X ≤ 0) = e^-10.
        let mut m = base();
        m.spend = 300.0;
        m.revenue = 0.0;
        m.conversions = 0;
        m.new_customers = 0;
        m.roi = Some(-1.0);
        m.cpa = Some(f64::INFINITY);
        let v = decide_active(&m, &d(), &sig());
        assert_eq!(v.decision, Decision::EmergencyPause);
        assert!(v.reasons.iter().any(|r| r.starts_with("significant:roi n=0 k=10 ")), "{:?}", v.reasons);
    }

    #[test]
    fn pause_thresholds_are_strict() {
        assert_ne!(decide(&with_impacts(-10.0, 0.0)), Decision::Pause);
        assert_eq!(decide(&with_impacts(-10.000001, 0.0)), Decision::Pause);
        assert_ne!(decide(&with_impacts(0.0, -5.0)), Decision::Pause);
        assert_eq!(decide(&with_impacts(0.0, -5.000001)), Decision::Pause);
    }

    #[test]
    fn without_a_views_source_the_reason_says_so() {
        let mut m = base();
        m.view_impact = None;
        m.views_missing = true;
        let v = decide_active(&m, &d(), &sig());
        assert_eq!(v.decision, Decision::Monitor);
        assert!(v.reasons[0].starts_with("no_views_source"), "{:?}", v.reasons);
    }

    #[test]
    fn pause_wins_over_continue_when_views_drop() {
        assert_eq!(decide(&with_impacts(30.0, -20.0)), Decision::Pause);
    }

    #[test]
    fn continue_thresholds_are_strict() {
        assert_eq!(decide(&with_impacts(15.000001, 10.000001)), Decision::Continue);
        // Exactly 15 % and 10 %: not CONTINUE, but the OPTIMIZE ranges hold.
        assert_eq!(decide(&with_impacts(15.0, 10.000001)), Decision::Optimize);
        assert_eq!(decide(&with_impacts(20.0, 10.0)), Decision::Optimize);
    }

    #[test]
    fn optimize_bounds_are_inclusive() {
        assert_eq!(decide(&with_impacts(5.0, 0.0)), Decision::Optimize);
        assert_eq!(decide(&with_impacts(4.999999, 0.0)), Decision::Monitor);
        assert_eq!(decide(&with_impacts(0.0, 5.0)), Decision::Optimize);
        assert_eq!(decide(&with_impacts(0.0, 10.0)), Decision::Optimize);
        assert_eq!(decide(&with_impacts(0.0, 4.999999)), Decision::Monitor);
        assert_eq!(decide(&with_impacts(-5.0, -4.0)), Decision::Monitor);
    }

    #[test]
    fn five_percent_from_integer_counts_is_optimize() {
        // 21 units in 7 days against 40 in 14 is exactly +5 %.
        let mut m = base();
        let imp = (21.0 / 7.0 - 40.0 / 14.0) / (40.0 / 14.0) * 100.0;
        m.sales_impact = Some(imp);
        m.view_impact = Some(0.0);
        assert_eq!(decide(&m), Decision::Optimize);
    }

    #[test]
    fn continue_needs_both_changes_significant() {
        // +50 % on tiny counts: 3 units vs 4 in twice the days.
        let mut m = with_impacts(50.0, 50.0);
        m.units_cur = 3;
        m.units_base = 4;
        let v = decide_active(&m, &d(), &sig());
        assert_eq!(v.decision, Decision::Monitor);
        assert_eq!(v.reasons[0], "not_significant");
    }

    #[test]
    fn pause_needs_one_triggering_change_significant() {
        let mut m = with_impacts(-50.0, 0.0);
        m.units_cur = 1;
        m.units_base = 4;
        let v = decide_active(&m, &d(), &sig());
        assert_eq!(v.decision, Decision::Monitor, "{:?}", v.reasons);
        assert_eq!(v.reasons[0], "not_significant");
    }

    #[test]
    fn null_impact_is_never_continue_or_optimize() {
        let mut m = with_impacts(30.0, 30.0);
        m.sales_impact = None;
        let v = decide_active(&m, &d(), &sig());
        assert_eq!(v.decision, Decision::Monitor);
        assert_eq!(v.reasons, vec!["no_baseline:sales_impact".to_string()]);
        // But a drop in the other impact still pauses.
        let mut m = with_impacts(0.0, -30.0);
        m.sales_impact = None;
        assert_eq!(decide(&m), Decision::Pause);
    }

    fn paused(by: &str, at: Option<Day>, eff: Option<f64>, stock: i64) -> PausedInputs {
        PausedInputs { paused_by: PausedBy::parse_optional(by).unwrap(), paused_at: at, as_of: 100, efficiency: eff, stock }
    }

    fn decide_p(p: &PausedInputs) -> Verdict {
        decide_paused(p, &ResumeSettings::default(), 50)
    }

    #[test]
    fn resume_needs_cooldown_recovery_and_stock() {
        assert_eq!(decide_p(&paused("pipeline", Some(93), Some(1.0), 51)).decision, Decision::Resume);
        assert!(decide_p(&paused("pipeline", Some(94), Some(1.0), 51)).reasons[0].starts_with("cooldown"));
        assert!(decide_p(&paused("pipeline", Some(93), Some(0.0), 51)).reasons[0].starts_with("not_recovered"));
        assert!(decide_p(&paused("pipeline", Some(93), None, 51)).reasons[0].starts_with("not_recovered"));
        assert!(decide_p(&paused("pipeline", Some(93), Some(1.0), 50)).reasons[0].starts_with("not_recovered"));
    }

    #[test]
    fn only_pipeline_pauses_are_resumed() {
        assert_eq!(decide_p(&paused("user", Some(10), Some(50.0), 500)).reasons, vec!["paused_by_user"]);
        assert_eq!(decide_p(&paused("", Some(10), Some(50.0), 500)).reasons, vec!["paused_by_user"]);
        assert_eq!(
            decide_p(&paused("pipeline_emergency", Some(10), Some(50.0), 500)).reasons,
            vec!["paused_by_emergency"]
        );
        assert_eq!(decide_p(&paused("pipeline", None, Some(50.0), 500)).reasons, vec!["missing_paused_at"]);
    }
}
