//! The semantic rules of every key: ranges, combinations, URLs. One pass
//! that returns every problem, each naming its key.

use super::sections::Settings;
use crate::model::kinds::{AdsKind, StoreKind, ViewsKind};

impl Settings {
    /// Connector keys: kinds, URLs and the HTTP layer's numbers.
    fn validate_connectors(&self, p: &mut Vec<String>) {
        fn url(p: &mut Vec<String>, key: &str, value: &str, allow_http: bool, allow_key: &str) {
            if value.starts_with("https://") {
                return;
            }
            if value.starts_with("http://") {
                if !allow_http {
                    p.push(format!(
                        "{key}: plain http would send credentials in clear; use https, or set {allow_key} = true for a local sandbox"
                    ));
                }
                return;
            }
            p.push(format!("{key}: must be an http(s) URL, found \"{value}\""));
        }
        let st = &self.store;
        match st.kind {
            StoreKind::Files => {}
            StoreKind::Woocommerce | StoreKind::Sandbox => url(p, "store.base_url", &st.base_url, st.allow_http, "store.allow_http"),
        }
        if !(1..=100).contains(&st.products_per_request) {
            p.push(format!("store.products_per_request: must be between 1 and 100, found {}", st.products_per_request));
        }
        if st.concurrency == 0 {
            p.push("store.concurrency: must be at least 1".into());
        }
        let ad = &self.ads;
        match ad.kind {
            AdsKind::Files => {}
            AdsKind::Sandbox => url(p, "ads.base_url", &ad.base_url, ad.allow_http, "ads.allow_http"),
            AdsKind::Impact => {
                url(p, "ads.base_url", &ad.base_url, ad.allow_http, "ads.allow_http");
                if ad.program_id.trim().is_empty() {
                    p.push("ads.program_id: required with ads.kind = \"impact\" (the program whose ads are the campaigns)".into());
                }
            }
        }
        if !(2_000..=20_000).contains(&ad.page_size) {
            p.push(format!("ads.page_size: Impact accepts 2000 to 20000, found {}", ad.page_size));
        }
        if !(ad.ledger_overspend_pct.is_finite() && ad.ledger_overspend_pct >= 0.0) {
            p.push(format!("ads.ledger_overspend_pct: must be a number ≥ 0, found {}", ad.ledger_overspend_pct));
        }
        if ad.concurrency == 0 {
            p.push("ads.concurrency: must be at least 1".into());
        }
        if !(ad.default_daily_budget.is_finite() && ad.default_daily_budget >= 0.0) {
            p.push(format!("ads.default_daily_budget: must be a number ≥ 0, found {}", ad.default_daily_budget));
        }
        if ad.observed_budget_days == 0 {
            p.push("ads.observed_budget_days: must be at least 1".into());
        }
        let v = &self.views;
        match v.kind {
            ViewsKind::None | ViewsKind::Files => {}
            ViewsKind::Ga4 => {
                url(p, "views.base_url", &v.base_url, v.allow_http, "views.allow_http");
                if v.property_id.trim().is_empty() || !v.property_id.chars().all(|c| c.is_ascii_digit()) {
                    p.push(format!("views.property_id: a numeric GA4 property id is required with views.kind = \"ga4\", found \"{}\"", v.property_id));
                }
            }
        }
        let h = &self.http;
        if !(h.timeout_s > 0.0 && h.timeout_s.is_finite()) {
            p.push(format!("http.timeout_s: must be above 0, found {}", h.timeout_s));
        }
        if h.backoff_min_ms > h.backoff_max_ms {
            p.push("http.backoff_min_ms: must not exceed http.backoff_max_ms".into());
        }
        if !(h.max_retry_after_s >= 0.0 && h.max_retry_after_s.is_finite()) {
            p.push(format!("http.max_retry_after_s: must be a number ≥ 0, found {}", h.max_retry_after_s));
        }
        if h.breaker_failures == 0 {
            p.push("http.breaker_failures: must be at least 1".into());
        }
        if !(h.breaker_cooldown_s >= 0.0 && h.breaker_cooldown_s.is_finite()) {
            p.push(format!("http.breaker_cooldown_s: must be a number ≥ 0, found {}", h.breaker_cooldown_s));
        }
        if !(1..=3650).contains(&self.history.days) {
            p.push(format!("history.days: must be between 1 and 3650, found {}", self.history.days));
        }
    }

    /// Every semantic problem, each naming its key.
    pub fn validate(&self) -> Vec<String> {
        let mut p = Vec::new();
        if self.search.kind == crate::model::kinds::SearchKind::Searxng && self.search.base_url.is_empty() {
            p.push("search.base_url: search.kind = \"searxng\" needs the instance's URL".into());
        }
        if self.search.max_results == 0 {
            p.push("search.max_results: must be at least 1".into());
        }
        if self.session.ttl_s == 0 {
            p.push("session.ttl_s: must be at least 1".into());
        }
        if self.session.max_turns == 0 {
            p.push("session.max_turns: must be at least 1".into());
        }
        if self.tools.allow_approve && !self.tools.allow_writes {
            p.push("tools.allow_approve: needs tools.allow_writes = true (approve applies what save_proposal saved)".into());
        }
        let mut non_negative = |key: &str, v: f64| {
            if !v.is_finite() || v < 0.0 {
                p.push(format!("{key}: must be a number ≥ 0, found {v}"));
            }
        };
        non_negative("decisions.min_spend", self.decisions.min_spend);
        non_negative("decisions.emergency_cpa_price_ratio", self.decisions.emergency_cpa_price_ratio);
        non_negative("budget.new_campaign_pool", self.budget.new_campaign_pool);
        non_negative("budget.min_daily", self.budget.min_daily);
        non_negative("budget.max_increase_pct", self.budget.max_increase_pct);
        non_negative("budget.min_receiver_burn", self.budget.min_receiver_burn);
        non_negative("selection.min_view_sales_ratio", self.selection.min_view_sales_ratio);
        non_negative("selection.min_price", self.selection.min_price);
        non_negative("selection.expected_lift", self.selection.expected_lift);
        non_negative("selection.budget_price_ratio", self.selection.budget_price_ratio);
        non_negative("selection.budget_potential_ratio", self.selection.budget_potential_ratio);
        non_negative("risk.growing_sales_impact", self.risk.growing_sales_impact);

        let mut unit = |key: &str, v: f64| {
            if !(0.0..=1.0).contains(&v) {
                p.push(format!("{key}: must be between 0 and 1, found {v}"));
            }
        };
        unit("significance.alpha", self.significance.alpha);
        unit("risk.burn_weight", self.risk.burn_weight);
        unit("risk.decline_weight", self.risk.decline_weight);
        unit("risk.competition_weight", self.risk.competition_weight);
        unit("risk.lifecycle_weight", self.risk.lifecycle_weight);
        unit("risk.default_competition", self.risk.default_competition);
        unit("risk.lifecycle_new", self.risk.lifecycle_new);
        unit("risk.lifecycle_growing", self.risk.lifecycle_growing);
        unit("risk.lifecycle_declining", self.risk.lifecycle_declining);
        unit("risk.lifecycle_other", self.risk.lifecycle_other);
        unit("risk.medium_level", self.risk.medium_level);
        unit("risk.high_level", self.risk.high_level);
        unit("budget.max_receiver_risk", self.budget.max_receiver_risk);
        unit("act.max_action_fraction", self.act.max_action_fraction);
        unit("act.max_budget_moved_fraction", self.act.max_budget_moved_fraction);
        unit("act.max_pause_fraction", self.act.max_pause_fraction);
        unit("act.max_quarantine_fraction", self.act.max_quarantine_fraction);
        unit("act.min_day_fraction", self.act.min_day_fraction);
        for (cat, v) in &self.risk.competition {
            unit(&format!("risk.competition.{cat}"), *v);
        }
        if !(0.0..=100.0).contains(&self.budget.max_decrease_pct) {
            p.push(format!(
                "budget.max_decrease_pct: must be between 0 and 100, found {}",
                self.budget.max_decrease_pct
            ));
        }
        if self.significance.alpha == 0.0 {
            p.push("significance.alpha: must be above 0 (0 would make every change insignificant)".into());
        }
        let weights = self.risk.burn_weight
            + self.risk.decline_weight
            + self.risk.competition_weight
            + self.risk.lifecycle_weight;
        if (weights - 1.0).abs() > 1e-9 {
            p.push(format!("risk.*_weight: the four weights must add up to 1, they add up to {weights}"));
        }
        if self.risk.medium_level > self.risk.high_level {
            p.push("risk.medium_level: must not exceed risk.high_level".into());
        }
        let d = &self.decisions;
        for (key, v) in [
            ("decisions.emergency_roi", d.emergency_roi),
            ("decisions.pause_sales_impact", d.pause_sales_impact),
            ("decisions.pause_view_impact", d.pause_view_impact),
            ("decisions.continue_sales_impact", d.continue_sales_impact),
            ("decisions.continue_view_impact", d.continue_view_impact),
            ("decisions.optimize_sales_min", d.optimize_sales_min),
            ("decisions.optimize_sales_max", d.optimize_sales_max),
            ("decisions.optimize_view_min", d.optimize_view_min),
            ("decisions.optimize_view_max", d.optimize_view_max),
            ("budget.min_receiver_roi", self.budget.min_receiver_roi),
            ("resume.min_efficiency", self.resume.min_efficiency),
            ("risk.declining_sales_impact", self.risk.declining_sales_impact),
        ] {
            if !v.is_finite() {
                p.push(format!("{key}: must be a finite number, found {v}"));
            }
        }
        if d.emergency_roi < -1.0 {
            p.push(format!("decisions.emergency_roi: must be ≥ -1 (a loss of everything), found {}", d.emergency_roi));
        }
        if d.pause_sales_impact > 0.0 {
            p.push(format!("decisions.pause_sales_impact: must be ≤ 0 (a drop), found {}", d.pause_sales_impact));
        }
        if d.pause_view_impact > 0.0 {
            p.push(format!("decisions.pause_view_impact: must be ≤ 0 (a drop), found {}", d.pause_view_impact));
        }
        if d.continue_sales_impact < 0.0 {
            p.push(format!("decisions.continue_sales_impact: must be ≥ 0, found {}", d.continue_sales_impact));
        }
        if d.continue_view_impact < 0.0 {
            p.push(format!("decisions.continue_view_impact: must be ≥ 0, found {}", d.continue_view_impact));
        }
        if d.optimize_sales_min > d.optimize_sales_max {
            p.push("decisions.optimize_sales_min: must not exceed decisions.optimize_sales_max".into());
        }
        if d.optimize_view_min > d.optimize_view_max {
            p.push("decisions.optimize_view_min: must not exceed decisions.optimize_view_max".into());
        }
        let w = &self.windows;
        for (key, v) in [("windows.current_days", w.current_days), ("windows.baseline_days", w.baseline_days)] {
            if !(1..=365).contains(&v) {
                p.push(format!("{key}: must be between 1 and 365, found {v}"));
            }
        }
        if w.lift_max_age_days > 365 {
            p.push(format!("windows.lift_max_age_days: must be at most 365, found {}", w.lift_max_age_days));
        }
        if !(self.validate.max_money > 0.0 && self.validate.max_money.is_finite() && self.validate.max_money <= 1e12) {
            p.push(format!("validate.max_money: must be above 0 and at most 1e12, found {}", self.validate.max_money));
        }
        if self.report.dir.as_os_str().is_empty() {
            p.push("report.dir: must not be empty".into());
        }
        if !(self.report.chart_timeout_s > 0.0 && self.report.chart_timeout_s.is_finite()) {
            p.push(format!("report.chart_timeout_s: must be above 0, found {}", self.report.chart_timeout_s));
        }
        if !(1..=366).contains(&self.report.trend_days) {
            p.push(format!("report.trend_days: must be 1 to 366, found {}", self.report.trend_days));
        }
        if self.selection.campaign_days == 0 {
            p.push("selection.campaign_days: must be at least 1".into());
        }
        self.validate_connectors(&mut p);
        let l = &self.llm;
        if !(l.base_url.starts_with("http://") || l.base_url.starts_with("https://")) {
            p.push(format!("llm.base_url: must be an http(s) URL, found \"{}\"", l.base_url));
        }
        if !(l.timeout_s > 0.0 && l.timeout_s.is_finite()) {
            p.push(format!("llm.timeout_s: must be above 0, found {}", l.timeout_s));
        }
        if !(0.0..=2.0).contains(&l.temperature) {
            p.push(format!("llm.temperature: must be between 0 and 2, found {}", l.temperature));
        }
        if l.max_tokens == 0 {
            p.push("llm.max_tokens: must be at least 1".into());
        }
        let n = &self.notify;
        if !(n.webhook_url.is_empty() || n.webhook_url.starts_with("http://") || n.webhook_url.starts_with("https://")) {
            // Never echo the value: it is a secret.
            p.push("notify.webhook_url: must be empty or an http(s) URL".into());
        }
        if n.attempts == 0 {
            p.push("notify.attempts: must be at least 1".into());
        }
        if !(n.budget_s > 0.0 && n.budget_s.is_finite()) {
            p.push(format!("notify.budget_s: must be above 0, found {}", n.budget_s));
        }
        let m = &self.metrics;
        let u = &m.pushgateway_url;
        if !(u.is_empty() || u.starts_with("http://") || u.starts_with("https://")) {
            p.push(format!("metrics.pushgateway_url: must be empty or an http(s) URL, found \"{u}\""));
        }
        if !(m.textfile_path.is_empty() || m.textfile_path.ends_with(".prom")) {
            p.push(format!(
                "metrics.textfile_path: must end in .prom (the textfile collector reads only those), found \"{}\"",
                m.textfile_path
            ));
        }
        if m.job.is_empty() || !m.job.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            p.push(format!("metrics.job: letters, digits, '_' and '-' only, found \"{}\"", m.job));
        }
        if !(m.timeout_s > 0.0 && m.timeout_s.is_finite()) {
            p.push(format!("metrics.timeout_s: must be above 0, found {}", m.timeout_s));
        }
        let url = &self.database.url;
        if !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            p.push("database.url: must start with \"sqlite:\" or \"postgres://\"".into());
        }
        if self.schedule.timezone.parse::<chrono_tz::Tz>().is_err() {
            p.push(format!("schedule.timezone: unknown time zone \"{}\"", self.schedule.timezone));
        }
        if self.demo.enabled && (self.demo.products == 0 || self.demo.days == 0) {
            p.push("demo.products and demo.days: must be at least 1 when demo.enabled".into());
        }
        let m = &self.model;
        if m.lookback_days < 7 || m.lookback_days > 365 {
            p.push(format!("model.lookback_days: must be 7..=365, found {}", m.lookback_days));
        }
        if m.roas_days < 7 || m.roas_days > m.lookback_days {
            p.push(format!("model.roas_days: must be 7..=model.lookback_days, found {}", m.roas_days));
        }
        if !(m.pause_confidence >= 0.5 && m.pause_confidence < 1.0) {
            p.push(format!("model.pause_confidence: must be in [0.5, 1), found {}", m.pause_confidence));
        }
        if !(0.0..=0.97).contains(&m.prior_elasticity) {
            p.push(format!("model.prior_elasticity: must be in [0, 0.97], found {}", m.prior_elasticity));
        }
        if !(m.prior_elasticity_sd > 0.0 && m.prior_elasticity_sd <= 1.0) {
            p.push(format!("model.prior_elasticity_sd: must be in (0, 1], found {}", m.prior_elasticity_sd));
        }
        if !(m.interval_scale >= 1.0 && m.interval_scale <= 10.0) {
            p.push(format!("model.interval_scale: must be in [1, 10], found {}", m.interval_scale));
        }
        if !(0.0..=50.0).contains(&m.min_change_pct) {
            p.push(format!("model.min_change_pct: must be in [0, 50], found {}", m.min_change_pct));
        }
        let l = &self.learning;
        if l.follow_up_days.is_empty() || l.follow_up_days.iter().any(|&d| d == 0 || d > 90) {
            p.push(format!("learning.follow_up_days: each must be in 1..=90 and at least one given, found {:?}", l.follow_up_days));
        }
        if !(l.min_scale > 0.0 && l.min_scale <= l.max_scale && l.max_scale <= 20.0) {
            p.push(format!("learning.min_scale/max_scale: need 0 < min_scale <= max_scale <= 20, found {} and {}", l.min_scale, l.max_scale));
        }
        if !(l.max_campaign_scale >= 1.0 && l.max_campaign_scale <= 20.0) {
            p.push(format!("learning.max_campaign_scale: must be in [1, 20], found {}", l.max_campaign_scale));
        }
        if !(l.calibration_prior_sd > 0.0 && l.calibration_prior_sd <= 5.0) {
            p.push(format!("learning.calibration_prior_sd: must be in (0, 5], found {}", l.calibration_prior_sd));
        }
        if l.calibration_window == 0 {
            p.push("learning.calibration_window: must be at least 1".to_string());
        }
        let margin = self.objective.margin;
        if !(margin.is_finite() && margin > 0.0 && margin <= 1.0) {
            p.push(format!("objective.margin: must be in (0, 1] (a share of revenue), found {margin}"));
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::sections::MetricsSettings;

    #[test]
    fn metrics_settings_name_the_bad_key() {
        let s = Settings {
            metrics: MetricsSettings { textfile_path: "/tmp/x.txt".into(), pushgateway_url: "pushgw:9091".into(), ..Default::default() },
            ..Default::default()
        };
        let p = s.validate().join("\n");
        assert!(p.contains("metrics.textfile_path") && p.contains("metrics.pushgateway_url"), "{p}");
    }
}
