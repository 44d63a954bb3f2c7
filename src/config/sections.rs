//! Every section of `pipeline.toml` as a typed struct, with its defaults.
//!
//! Every number the rules use is a key here; the defaults are the SPEC's and
//! are repeated, documented, in the shipped `pipeline.toml`. Kinds are the
//! enums of `model::kinds`, so an unknown name never reaches a connector.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::model::kinds::{ActMode, AdsKind, BudgetStrategy, DecisionPolicy, LlmProvider, StoreKind, ViewsItemId, ViewsKind};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub store: StoreSettings,
    pub ads: AdsSettings,
    pub views: ViewsSettings,
    pub http: HttpSettings,
    pub history: HistorySettings,
    pub database: DatabaseSettings,
    pub demo: DemoSettings,
    pub schedule: ScheduleSettings,
    pub windows: WindowSettings,
    pub decisions: DecisionSettings,
    pub objective: ObjectiveSettings,
    pub model: ModelSettings,
    pub learning: LearningSettings,
    pub significance: SignificanceSettings,
    pub risk: RiskSettings,
    pub resume: ResumeSettings,
    pub budget: BudgetSettings,
    pub selection: SelectionSettings,
    pub act: ActSettings,
    pub report: ReportSettings,
    pub llm: LlmSettings,
    pub notify: NotifySettings,
    pub metrics: MetricsSettings,
    pub serve: ServeSettings,
    pub tools: ToolSettings,
    pub session: SessionSettings,
    pub search: SearchSettings,
    pub validate: ValidateSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            store: StoreSettings::default(),
            ads: AdsSettings::default(),
            views: ViewsSettings::default(),
            http: HttpSettings::default(),
            history: HistorySettings::default(),
            database: DatabaseSettings::default(),
            demo: DemoSettings::default(),
            schedule: ScheduleSettings::default(),
            windows: WindowSettings::default(),
            decisions: DecisionSettings::default(),
            objective: ObjectiveSettings::default(),
            model: ModelSettings::default(),
            learning: LearningSettings::default(),
            significance: SignificanceSettings::default(),
            risk: RiskSettings::default(),
            resume: ResumeSettings::default(),
            budget: BudgetSettings::default(),
            selection: SelectionSettings::default(),
            act: ActSettings::default(),
            report: ReportSettings::default(),
            llm: LlmSettings::default(),
            notify: NotifySettings::default(),
            metrics: MetricsSettings::default(),
            serve: ServeSettings::default(),
            tools: ToolSettings::default(),
            session: SessionSettings::default(),
            search: SearchSettings::default(),
            validate: ValidateSettings::default(),
        }
    }
}

/// Where products and daily product analytics come from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// `files` (SPEC §3 tables), `woocommerce` (the REST API) or `sandbox`
    /// (`sandbox serve`'s WooCommerce-shaped routes, views from its GA4 route).
    pub kind: StoreKind,
    /// Directory holding the SPEC §3 tables (relative to the config file).
    pub path: PathBuf,
    /// The store's URL (`https://shop.example`); API connectors only.
    pub base_url: String,
    /// Allow a plain-http store URL (the sandbox; never a real store: keys
    /// would travel in clear).
    pub allow_http: bool,
    /// Send the keys as `consumer_key`/`consumer_secret` query parameters
    /// instead of Basic auth (servers that strip the Authorization header).
    pub auth_in_query: bool,
    /// Products per analytics request (≤ 100).
    pub products_per_request: u32,
    /// Requests in flight at once.
    pub concurrency: u32,
    /// Client-side limit, requests per hour (0 = none; WooCommerce has no
    /// documented limit, hosts may).
    pub rate_limit_per_hour: u32,
    /// Stock counted for an in-stock product that does not manage stock
    /// (WooCommerce sends `stock_quantity: null`, `stock_status: "instock"`).
    pub unmanaged_stock: i64,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            kind: StoreKind::Files,
            path: PathBuf::from("demo-data"),
            base_url: String::new(),
            allow_http: false,
            auth_in_query: false,
            products_per_request: 100,
            concurrency: 4,
            rate_limit_per_hour: 0,
            unmanaged_stock: 1000,
        }
    }
}

/// Where campaigns and daily campaign performance come from, and where
/// actions go.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct AdsSettings {
    /// `files`, `impact` (the Impact.com brand API) or `sandbox` (the
    /// sandbox's budgeted platform under `/_sandbox/`).
    pub kind: AdsKind,
    /// Directory holding the SPEC §3 tables (files only).
    pub path: PathBuf,
    /// `https://api.impact.com`, or the sandbox's URL.
    pub base_url: String,
    /// Allow a plain-http URL (the sandbox only).
    pub allow_http: bool,
    /// Impact account SID (not secret; `IMPACT_ACCOUNT_SID` overrides when empty).
    pub account_sid: String,
    /// Impact program (`CampaignId`) whose ads are our campaigns.
    pub program_id: String,
    /// Actions page size (Impact: 2,000–20,000).
    pub page_size: u32,
    /// Requests in flight at once.
    pub concurrency: u32,
    /// Client-side limit for `impact`, requests per hour (Impact allows
    /// 1,000/h; 0 = none). The sandbox's own platform is not limited.
    pub rate_limit_per_hour: u32,
    /// Impact has no budgets: an ad seen for the first time gets the mean of
    /// its spend over its last `observed_budget_days` days with spend as its
    /// ledger budget, recorded as observed (not enforced until the pipeline
    /// or a person sets one); an ad that never spent gets this.
    pub default_daily_budget: f64,
    /// Days with spend an observed ledger budget is the mean of.
    pub observed_budget_days: u32,
    /// Impact: keep budgets in campaign-pilot's ledger and pause an ad whose
    /// day's spend passed it. false: budget changes are reported `skipped`.
    pub ledger_budgets: bool,
    /// Spend above the ledger budget by more than this % on as_of pauses the ad.
    pub ledger_overspend_pct: f64,
}

impl Default for AdsSettings {
    fn default() -> Self {
        AdsSettings {
            kind: AdsKind::Files,
            path: PathBuf::from("demo-data"),
            base_url: String::new(),
            allow_http: false,
            account_sid: String::new(),
            program_id: String::new(),
            page_size: 20_000,
            concurrency: 4,
            rate_limit_per_hour: 900,
            default_daily_budget: 50.0,
            observed_budget_days: 7,
            ledger_budgets: true,
            ledger_overspend_pct: 10.0,
        }
    }
}

/// Product page views: WooCommerce records none (reference §10).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ViewsSettings {
    /// `none` (view impact is null, with the reason), `files` (a
    /// `views.csv` of date,product_id,views) or `ga4` (Data API runReport).
    /// With `store.kind = "files"` views come from product_daily and this is ignored.
    pub kind: ViewsKind,
    /// Directory of views.csv (files).
    pub path: PathBuf,
    /// `https://analyticsdata.googleapis.com`, or the sandbox's URL.
    pub base_url: String,
    pub allow_http: bool,
    /// GA4 property id (numeric).
    pub property_id: String,
    /// What GA4's itemId holds: `id` (WooCommerce product id) or `sku`.
    pub item_id: ViewsItemId,
}

impl Default for ViewsSettings {
    fn default() -> Self {
        ViewsSettings {
            kind: ViewsKind::None,
            path: PathBuf::from("views"),
            base_url: "https://analyticsdata.googleapis.com".into(),
            allow_http: false,
            property_id: String::new(),
            item_id: ViewsItemId::Id,
        }
    }
}

/// The one HTTP layer every API connector uses.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Per-request timeout.
    pub timeout_s: f64,
    /// Retries after the first attempt (timeouts, 5xx, 429).
    pub retries: u32,
    /// First backoff delay; doubles each retry, with jitter.
    pub backoff_min_ms: u64,
    pub backoff_max_ms: u64,
    /// A `Retry-After` longer than this is not waited for: the call fails.
    pub max_retry_after_s: f64,
    /// Consecutive failed attempts that open the circuit breaker…
    pub breaker_failures: u32,
    /// …and how long it stays open (calls fail at once meanwhile).
    pub breaker_cooldown_s: f64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            timeout_s: 30.0,
            retries: 4,
            backoff_min_ms: 500,
            backoff_max_ms: 30_000,
            max_retry_after_s: 120.0,
            breaker_failures: 10,
            breaker_cooldown_s: 60.0,
        }
    }
}

/// Incremental history for the API connectors: fetched days are kept in the
/// database; a run asks only for the days it lacks plus the tails that can
/// still change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct HistorySettings {
    /// Days of history a run needs before as_of (first run fetches them all).
    pub days: u32,
    /// Store analytics days re-read every run (orders settle, GA4 settles in 1–2 days).
    pub store_refetch_days: u32,
    /// Ad platform days re-read every run (Impact actions change until locked, ~35 days).
    pub ads_refetch_days: u32,
    /// Files feeds: the directory (relative to the config file) where a run
    /// keeps the daily rows it validated from its reach on, so that the next
    /// run reads and judges only the rows appended since. "" keeps none.
    pub validated_dir: String,
}

impl Default for HistorySettings {
    fn default() -> Self {
        HistorySettings { days: 60, store_refetch_days: 3, ads_refetch_days: 35, validated_dir: "validated".into() }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite:FILE` (relative to the config file) or `postgres://…`.
    pub url: String,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings { url: "sqlite:campaign-pilot.db".into() }
    }
}

/// The embedded demo: a synthetic dataset generated into `store.path` when
/// that directory holds no data, so a fresh clone runs with no set-up.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DemoSettings {
    pub enabled: bool,
    pub seed: u64,
    pub products: u32,
    pub campaigns: u32,
    pub days: u32,
}

impl Default for DemoSettings {
    fn default() -> Self {
        DemoSettings { enabled: false, seed: 42, products: 300, campaigns: 60, days: 120 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleSettings {
    /// IANA time zone; "yesterday" (the default as_of) is taken in it.
    pub timezone: String,
    /// Cron expressions for `schedule` (seconds field first).
    pub cron: Vec<String>,
}

impl Default for ScheduleSettings {
    fn default() -> Self {
        ScheduleSettings { timezone: "UTC".into(), cron: vec!["0 0 6 * * *".into()] }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct WindowSettings {
    pub current_days: u32,
    pub baseline_days: u32,
    pub lift_max_age_days: u32,
}

impl Default for WindowSettings {
    fn default() -> Self {
        WindowSettings { current_days: 7, baseline_days: 14, lift_max_age_days: 28 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct DecisionSettings {
    /// `seed` (the matrix of SPEC §6 and the budget rules of §7) or
    /// `profit` (response curves and equal marginal profit, §13).
    pub policy: DecisionPolicy,
    pub min_days: u32,
    pub min_spend: f64,
    pub emergency_roi: f64,
    pub emergency_cpa_price_ratio: f64,
    pub pause_sales_impact: f64,
    pub pause_view_impact: f64,
    pub continue_sales_impact: f64,
    pub continue_view_impact: f64,
    pub optimize_sales_min: f64,
    pub optimize_sales_max: f64,
    pub optimize_view_min: f64,
    pub optimize_view_max: f64,
    /// efficiency = sales weight × sales_impact + view weight × view_impact.
    pub efficiency_sales_weight: f64,
    pub efficiency_view_weight: f64,
}

impl Default for DecisionSettings {
    fn default() -> Self {
        DecisionSettings {
            policy: DecisionPolicy::Profit,
            min_days: 3,
            min_spend: 0.0,
            emergency_roi: 0.0,
            emergency_cpa_price_ratio: 1.0,
            pause_sales_impact: -10.0,
            pause_view_impact: -5.0,
            continue_sales_impact: 15.0,
            continue_view_impact: 10.0,
            optimize_sales_min: 5.0,
            optimize_sales_max: 15.0,
            optimize_view_min: 5.0,
            optimize_view_max: 10.0,
            efficiency_sales_weight: 0.6,
            efficiency_view_weight: 0.4,
        }
    }
}

/// What the decisions maximise (SPEC §13): profit = margin × attributed
/// revenue − spend.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ObjectiveSettings {
    /// Share of attributed revenue that is profit before ad spend (1.0: the
    /// original design's ROI; a store with 40 % gross margin sets 0.4).
    pub margin: f64,
}

impl Default for ObjectiveSettings {
    fn default() -> Self {
        ObjectiveSettings { margin: 1.0 }
    }
}

/// The response model of `decisions.policy = "profit"` (SPEC §13).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ModelSettings {
    /// Days of a campaign's history its cost curve is fitted from.
    pub lookback_days: u32,
    /// The most recent days its average ROAS is taken over (whole weeks).
    pub roas_days: u32,
    /// Pause when P(a loss even at min_daily) is above this.
    pub pause_confidence: f64,
    /// The elasticity prior when fewer than three campaigns can say.
    pub prior_elasticity: f64,
    pub prior_elasticity_sd: f64,
    /// Budget changes smaller than this % of the budget are not made.
    pub min_change_pct: f64,
    /// Forecast intervals widen the posterior's standard errors by this
    /// (what the curve's form, the spend share and the trend add).
    pub interval_scale: f64,
}

impl Default for ModelSettings {
    fn default() -> Self {
        ModelSettings {
            lookback_days: 28,
            roas_days: 14,
            pause_confidence: 0.9,
            prior_elasticity: 0.5,
            prior_elasticity_sd: 0.3,
            min_change_pct: 2.0,
            interval_scale: 1.3,
        }
    }
}

/// The learning loop (SPEC §13): every applied action followed up, the
/// forecasts' intervals calibrated from what happened.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LearningSettings {
    /// Follow each applied action up this many days after it took effect
    /// (each a window compared with the same number of days before).
    pub follow_up_days: Vec<u32>,
    /// Adjust the forecasts' interval scale from the observed coverage.
    pub calibrate: bool,
    /// Follow-ups needed before the interval scale moves from `model.interval_scale`.
    pub calibration_min_outcomes: u32,
    /// How far (sd of its log) the scale is expected to be from
    /// `model.interval_scale` before any follow-up: the prior that keeps a
    /// few follow-ups from swinging it.
    pub calibration_prior_sd: f64,
    /// The most recent follow-ups the calibration looks at.
    pub calibration_window: u32,
    /// The calibrated scale stays inside [min_scale, max_scale].
    pub min_scale: f64,
    pub max_scale: f64,
    /// A campaign's own misses widen its uncertainty; its configured scale
    /// counts as this many follow-ups, and it widens at most this much.
    pub campaign_prior_outcomes: u32,
    pub max_campaign_scale: f64,
    /// Follow-ups of actions in the last this many days are counted in a
    /// report (and calibrate the forecasts) ...
    pub report_days: u32,
    /// ... and at most this many of them listed in report.json.
    pub report_max_rows: u32,
}

impl Default for LearningSettings {
    fn default() -> Self {
        LearningSettings {
            follow_up_days: vec![7, 14],
            calibrate: true,
            calibration_min_outcomes: 20,
            calibration_prior_sd: 0.35,
            calibration_window: 400,
            min_scale: 0.5,
            max_scale: 6.0,
            campaign_prior_outcomes: 2,
            max_campaign_scale: 3.0,
            report_days: 60,
            report_max_rows: 5000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SignificanceSettings {
    pub alpha: f64,
    pub gate_emergency: bool,
}

impl Default for SignificanceSettings {
    fn default() -> Self {
        SignificanceSettings { alpha: 0.05, gate_emergency: true }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct RiskSettings {
    pub burn_weight: f64,
    pub decline_weight: f64,
    pub competition_weight: f64,
    pub lifecycle_weight: f64,
    /// Competition of a category not listed in `[risk.competition]`.
    pub default_competition: f64,
    /// Per-category competition in [0, 1]; names compared case-insensitively.
    pub competition: BTreeMap<String, f64>,
    pub new_product_days: u32,
    pub mature_product_days: u32,
    pub growing_sales_impact: f64,
    pub declining_sales_impact: f64,
    pub lifecycle_new: f64,
    pub lifecycle_growing: f64,
    pub lifecycle_declining: f64,
    pub lifecycle_other: f64,
    pub medium_level: f64,
    pub high_level: f64,
}

impl Default for RiskSettings {
    fn default() -> Self {
        RiskSettings {
            burn_weight: 0.3,
            decline_weight: 0.4,
            competition_weight: 0.2,
            lifecycle_weight: 0.1,
            default_competition: 0.5,
            competition: BTreeMap::new(),
            new_product_days: 30,
            mature_product_days: 90,
            growing_sales_impact: 10.0,
            declining_sales_impact: -10.0,
            lifecycle_new: 0.3,
            lifecycle_growing: 0.1,
            lifecycle_declining: 1.0,
            lifecycle_other: 0.5,
            medium_level: 0.33,
            high_level: 0.66,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ResumeSettings {
    pub cooldown_days: u32,
    pub min_efficiency: f64,
}

impl Default for ResumeSettings {
    fn default() -> Self {
        ResumeSettings { cooldown_days: 7, min_efficiency: 0.0 }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetSettings {
    pub strategy: BudgetStrategy,
    pub new_campaign_pool: f64,
    pub min_daily: f64,
    pub max_receiver_risk: f64,
    pub min_receiver_burn: f64,
    pub min_receiver_roi: f64,
    pub max_increase_pct: f64,
    pub max_decrease_pct: f64,
}

impl Default for BudgetSettings {
    fn default() -> Self {
        BudgetSettings {
            strategy: BudgetStrategy::Proportional,
            new_campaign_pool: 0.0,
            min_daily: 15.0,
            max_receiver_risk: 0.5,
            min_receiver_burn: 0.9,
            min_receiver_roi: 0.0,
            max_increase_pct: 20.0,
            max_decrease_pct: 50.0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SelectionSettings {
    pub min_stock: i64,
    pub min_view_sales_ratio: f64,
    pub min_price: f64,
    pub categories: Vec<String>,
    pub expected_lift: f64,
    pub campaign_days: u32,
    pub max_new_per_run: u32,
    /// New budget cap as a fraction of the price (SPEC: price × 0.6).
    pub budget_price_ratio: f64,
    /// New budget as a fraction of revenue potential (SPEC: potential × 0.3).
    pub budget_potential_ratio: f64,
}

impl Default for SelectionSettings {
    fn default() -> Self {
        SelectionSettings {
            min_stock: 50,
            min_view_sales_ratio: 2.0,
            min_price: 20.0,
            categories: vec!["Electronics".into(), "Fitness".into(), "Clothing".into()],
            expected_lift: 0.10,
            campaign_days: 14,
            max_new_per_run: 5,
            budget_price_ratio: 0.6,
            budget_potential_ratio: 0.3,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ActSettings {
    pub enabled: bool,
    /// `auto` applies actions; `manual` saves them as proposals.
    pub mode: ActMode,
    pub max_actions: u64,
    pub max_action_fraction: f64,
    /// Σ |budget change| + Σ budgets paused over the daily budget before.
    pub max_budget_moved_fraction: f64,
    pub max_pause_fraction: f64,
    pub max_quarantine_fraction: f64,
    pub locked_campaigns: Vec<String>,
    /// `approve` refuses (without `--force`) a proposal made more than this
    /// many days ago.
    pub max_proposal_age_days: u32,
    /// The as_of day's total spend, views or units below this fraction of
    /// its trailing 28-day median is a broken export, not a real day: the
    /// data is stale for the guardrails.
    pub min_day_fraction: f64,
}

impl Default for ActSettings {
    fn default() -> Self {
        ActSettings {
            enabled: true,
            mode: ActMode::Auto,
            max_actions: 1000,
            max_action_fraction: 0.5,
            max_budget_moved_fraction: 0.5,
            max_pause_fraction: 0.3,
            max_quarantine_fraction: 0.05,
            locked_campaigns: Vec::new(),
            max_proposal_age_days: 3,
            min_day_fraction: 0.2,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ReportSettings {
    /// Reports go to `DIR/<as_of>/` unless `--report-dir` is given.
    pub dir: PathBuf,
    /// Seconds the HTML report's charts may take to draw; past it the page
    /// is written without them (saying so), so drawing can never hold a run.
    pub chart_timeout_s: f64,
    /// Days of each campaign's sparkline and of the portfolio's daily
    /// spend, revenue and profit chart.
    pub trend_days: u32,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings { dir: PathBuf::from("reports"), chart_timeout_s: 10.0, trend_days: 28 }
    }
}

/// The language model that writes the narrative and new campaigns' ad copy
/// (never a number or a decision).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LlmSettings {
    /// `none` (template text) or `openai` (any OpenAI-compatible server).
    pub provider: LlmProvider,
    pub base_url: String,
    pub model: String,
    pub timeout_s: f64,
    pub max_tokens: u32,
    pub temperature: f64,
    /// Environment variable holding the API key.
    pub api_key_env: String,
}

impl Default for LlmSettings {
    fn default() -> Self {
        LlmSettings {
            provider: LlmProvider::None,
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4o-mini".into(),
            timeout_s: 20.0,
            max_tokens: 400,
            temperature: 0.3,
            api_key_env: "OPENAI_API_KEY".into(),
        }
    }
}

/// Bounds the validator puts on values beyond the contract's types.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ValidateSettings {
    /// A money value (price, budget, spend, revenue) above this is not a
    /// real value but a broken export: the row is quarantined (a bound that
    /// also keeps the cents arithmetic far from overflowing).
    pub max_money: f64,
}

impl Default for ValidateSettings {
    fn default() -> Self {
        ValidateSettings { max_money: 1e9 }
    }
}

/// The run webhook (`notify.rs` sends it).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySettings {
    /// Webhook URL; empty = no notifications. A secret: set it through the
    /// environment (`CAMPAIGN_PILOT__NOTIFY__WEBHOOK_URL`), not in this file.
    pub webhook_url: String,
    /// Attempts before giving up.
    pub attempts: u32,
    /// Seconds the whole notification may take, retries included.
    pub budget_s: f64,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings { webhook_url: String::new(), attempts: 3, budget_s: 10.0 }
    }
}

/// `campaign-pilot serve` (SPEC §12): MCP over streamable HTTP.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ServeSettings {
    /// Address to listen on; off loopback a bearer token
    /// (`CAMPAIGN_PILOT_SERVE_TOKEN`) is required.
    pub bind: String,
    /// Largest request body accepted (bytes); a larger one gets 413.
    pub max_body_bytes: u64,
    /// `Host` values accepted (DNS rebinding): loopback by default; add the
    /// name clients use when the server is reached from elsewhere.
    pub allowed_hosts: Vec<String>,
    /// Browser `Origin`s accepted (with scheme; `:*` any port); a request
    /// with another Origin is refused.
    pub allowed_origins: Vec<String>,
}

impl Default for ServeSettings {
    fn default() -> Self {
        ServeSettings {
            bind: "127.0.0.1:8787".into(),
            max_body_bytes: 1_048_576,
            allowed_hosts: vec!["localhost".into(), "127.0.0.1".into(), "::1".into()],
            allowed_origins: vec!["http://localhost:*".into(), "http://127.0.0.1:*".into()],
        }
    }
}

/// The tool registry's writes (SPEC §12): off unless switched on.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ToolSettings {
    /// `save_proposal` is listed and callable: changes checked by the run's
    /// own rules and saved as proposals (never applied by the tool).
    pub allow_writes: bool,
    /// `approve` and `reject` are listed and callable too (needs
    /// `allow_writes`): an MCP client can then apply saved proposals.
    pub allow_approve: bool,
}

/// Chat sessions (SPEC §12): in Redis when `redis_url` is set, else in the database.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SessionSettings {
    /// `redis://host:port/db`; empty = the database. With a password it is a
    /// secret: set it as CAMPAIGN_PILOT__SESSION__REDIS_URL, never here.
    pub redis_url: String,
    /// Seconds a session lives after its last turn.
    pub ttl_s: u64,
    /// Turns of a session kept (older ones are dropped).
    pub max_turns: u32,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings { redis_url: String::new(), ttl_s: 1800, max_turns: 20 }
    }
}

/// The chat's web search (SPEC §12).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct SearchSettings {
    pub kind: crate::model::kinds::SearchKind,
    /// The SearxNG instance (its JSON format enabled), e.g. `http://searx:8080`.
    pub base_url: String,
    /// Results given to the model (and listed in the reply).
    pub max_results: u32,
}

impl Default for SearchSettings {
    fn default() -> Self {
        SearchSettings { kind: crate::model::kinds::SearchKind::None, base_url: String::new(), max_results: 5 }
    }
}

/// Prometheus metrics of each run (`metrics.rs` publishes them).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// A Pushgateway's base URL (`http://pushgateway:9091`); empty = no push.
    pub pushgateway_url: String,
    /// A file for node_exporter's textfile collector (must end in `.prom`);
    /// empty = none. Written to a temporary file and renamed, so the
    /// collector never reads half a file.
    pub textfile_path: String,
    /// The `job` label of the pushed group.
    pub job: String,
    /// Seconds a push may take, retries included.
    pub timeout_s: f64,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        MetricsSettings { pushgateway_url: String::new(), textfile_path: String::new(), job: "campaign_pilot".into(), timeout_s: 10.0 }
    }
}

impl MetricsSettings {
    pub fn enabled(&self) -> bool {
        !self.pushgateway_url.is_empty() || !self.textfile_path.is_empty()
    }
}
