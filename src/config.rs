//! Settings: `pipeline.toml` layered under `CAMPAIGN_PILOT__SECTION__KEY`
//! environment variables, resolved once into typed structs.
//!
//! Responsible for: reading, type-checking and validating every key, and
//! reporting *all* problems at once (each naming its key). Not responsible for:
//! secrets (those are read from the environment by the connectors that need
//! them) or for deciding anything with the values.
//!
//! Every number the rules use is a key here; the defaults are the SPEC's and are
//! repeated, documented, in the shipped `pipeline.toml`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "CAMPAIGN_PILOT_CONFIG";
/// Prefix of per-key overrides: `CAMPAIGN_PILOT__DECISIONS__MIN_DAYS=5`.
pub const ENV_PREFIX: &str = "CAMPAIGN_PILOT";

/// A configuration that could not be used; every problem names its key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .problems.join("\n  - "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl ConfigError {
    fn one(problem: impl Into<String>) -> Self {
        ConfigError { problems: vec![problem.into()] }
    }
}

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
    pub significance: SignificanceSettings,
    pub risk: RiskSettings,
    pub resume: ResumeSettings,
    pub budget: BudgetSettings,
    pub selection: SelectionSettings,
    pub act: ActSettings,
    pub report: ReportSettings,
    pub llm: LlmSettings,
    pub notify: crate::notify::NotifySettings,
    pub metrics: crate::metrics::MetricsSettings,
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
            significance: SignificanceSettings::default(),
            risk: RiskSettings::default(),
            resume: ResumeSettings::default(),
            budget: BudgetSettings::default(),
            selection: SelectionSettings::default(),
            act: ActSettings::default(),
            report: ReportSettings::default(),
            llm: LlmSettings::default(),
            notify: Default::default(),
            metrics: Default::default(),
        }
    }
}

/// Where products and daily product analytics come from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// `files` (SPEC §3 tables), `woocommerce` (the REST API) or `sandbox`
    /// (`sandbox serve`'s WooCommerce-shaped routes, views from its GA4 route).
    pub kind: String,
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
            kind: "files".into(),
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
    pub kind: String,
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
    /// Impact has no budgets: the daily budget a new ad gets in campaign-pilot's ledger
    /// until the pipeline sets one (0 = the new-campaign budget from the plan).
    pub default_daily_budget: f64,
    /// Impact: keep budgets in campaign-pilot's ledger and pause an ad whose
    /// day's spend passed it. false: budget changes are reported `skipped`.
    pub ledger_budgets: bool,
    /// Spend above the ledger budget by more than this % on as_of pauses the ad.
    pub ledger_overspend_pct: f64,
}

impl Default for AdsSettings {
    fn default() -> Self {
        AdsSettings {
            kind: "files".into(),
            path: PathBuf::from("demo-data"),
            base_url: String::new(),
            allow_http: false,
            account_sid: String::new(),
            program_id: String::new(),
            page_size: 20_000,
            concurrency: 4,
            rate_limit_per_hour: 900,
            default_daily_budget: 50.0,
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
    pub kind: String,
    /// Directory of views.csv (files).
    pub path: PathBuf,
    /// `https://analyticsdata.googleapis.com`, or the sandbox's URL.
    pub base_url: String,
    pub allow_http: bool,
    /// GA4 property id (numeric).
    pub property_id: String,
    /// What GA4's itemId holds: `id` (WooCommerce product id) or `sku`.
    pub item_id: String,
}

impl Default for ViewsSettings {
    fn default() -> Self {
        ViewsSettings {
            kind: "none".into(),
            path: PathBuf::from("views"),
            base_url: "https://analyticsdata.googleapis.com".into(),
            allow_http: false,
            property_id: String::new(),
            item_id: "id".into(),
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
}

impl Default for HistorySettings {
    fn default() -> Self {
        HistorySettings { days: 60, store_refetch_days: 3, ads_refetch_days: 35 }
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
    pub strategy: String,
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
            strategy: "proportional".into(),
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
    pub mode: String,
    pub max_actions: u64,
    pub max_action_fraction: f64,
    pub max_pause_fraction: f64,
    pub max_quarantine_fraction: f64,
    pub locked_campaigns: Vec<String>,
}

impl Default for ActSettings {
    fn default() -> Self {
        ActSettings {
            enabled: true,
            mode: "auto".into(),
            max_actions: 1000,
            max_action_fraction: 0.5,
            max_pause_fraction: 0.3,
            max_quarantine_fraction: 0.05,
            locked_campaigns: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct ReportSettings {
    /// Reports go to `DIR/<as_of>/` unless `--report-dir` is given.
    pub dir: PathBuf,
}

impl Default for ReportSettings {
    fn default() -> Self {
        ReportSettings { dir: PathBuf::from("reports") }
    }
}

/// The language model that writes the narrative and new campaigns' ad copy
/// (never a number or a decision).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LlmSettings {
    /// `none` (template text) or `openai` (any OpenAI-compatible server).
    pub provider: String,
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
            provider: "none".into(),
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4o-mini".into(),
            timeout_s: 20.0,
            max_tokens: 400,
            temperature: 0.3,
            api_key_env: "OPENAI_API_KEY".into(),
        }
    }
}

/// Settings plus where they came from, with relative paths resolved against
/// the configuration file's directory.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub settings: Settings,
    pub base_dir: PathBuf,
    pub file: Option<PathBuf>,
}

impl LoadedConfig {
    /// A path from the configuration, resolved against the config's directory.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// The database URL with a relative SQLite file resolved like any path.
    pub fn database_url(&self) -> String {
        let url = &self.settings.database.url;
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let rest = rest.trim_start_matches("//");
            let (file, query) = rest.split_once('?').unwrap_or((rest, ""));
            if file == ":memory:" {
                return url.clone();
            }
            let path = self.resolve(Path::new(file));
            let query = if query.is_empty() { "mode=rwc".to_string() } else { query.to_string() };
            format!("sqlite://{}?{}", path.display(), query)
        } else {
            url.clone()
        }
    }
}

/// Loads `file` (or the default `pipeline.toml` if it exists) and the
/// environment overrides in `env` (pass `std::env::vars()` in production).
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<LoadedConfig, ConfigError> {
    let env_map: config::Map<String, String> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(&format!("{ENV_PREFIX}__")))
        .collect();

    let mut builder = config::Config::builder();
    let (base_dir, used_file) = match file {
        Some(path) => {
            if !path.exists() {
                return Err(ConfigError::one(format!(
                    "config file {}: not found",
                    path.display()
                )));
            }
            builder = builder.add_source(config::File::from(path.to_path_buf()).format(config::FileFormat::Toml));
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
            (dir, Some(path.to_path_buf()))
        }
        None => (PathBuf::from("."), None),
    };
    builder = builder.add_source(
        config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("selection.categories")
            .with_list_parse_key("act.locked_campaigns")
            .with_list_parse_key("schedule.cron")
            .source(Some(env_map)),
    );
    let raw = builder
        .build()
        .map_err(|e| ConfigError::one(format!("reading configuration: {e}")))?;
    let raw_json: serde_json::Value = raw
        .clone()
        .try_deserialize()
        .map_err(|e| ConfigError::one(format!("reading configuration: {e}")))?;

    let mut problems = Vec::new();
    let defaults = serde_json::to_value(Settings::default()).expect("defaults serialize");
    check_shape("", &raw_json, &defaults, &mut problems);
    if !problems.is_empty() {
        return Err(ConfigError { problems });
    }
    let settings: Settings = serde_json::from_value(normalize_numbers(raw_json, &defaults))
        .map_err(|e| ConfigError::one(format!("configuration: {e}")))?;
    let problems = settings.validate();
    if !problems.is_empty() {
        return Err(ConfigError { problems });
    }
    Ok(LoadedConfig { settings, base_dir, file: used_file })
}

/// Maps whose keys the user chooses (not checked against the defaults).
const FREE_MAPS: &[&str] = &["risk.competition"];

/// Reports unknown keys and values of the wrong type, comparing the user's
/// tree with the defaults' (which has every key).
fn check_shape(
    prefix: &str,
    raw: &serde_json::Value,
    defaults: &serde_json::Value,
    problems: &mut Vec<String>,
) {
    use serde_json::Value as J;
    let key = |k: &str| if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
    let (J::Object(raw), J::Object(def)) = (raw, defaults) else { return };
    for (k, v) in raw {
        let full = key(k);
        let Some(d) = def.get(k) else {
            problems.push(format!("{full}: unknown key"));
            continue;
        };
        if FREE_MAPS.contains(&full.as_str()) {
            match v {
                J::Object(m) => {
                    for (cat, val) in m {
                        if !val.is_number() {
                            problems.push(format!("{full}.{cat}: expected a number, found {}", describe(val)));
                        }
                    }
                }
                other => problems.push(format!("{full}: expected a table, found {}", describe(other))),
            }
            continue;
        }
        let ok = match (d, v) {
            (J::Object(_), J::Object(_)) => {
                check_shape(&full, v, d, problems);
                true
            }
            (J::Number(dn), J::Number(vn)) => {
                if dn.is_f64() {
                    true
                } else if vn.is_u64() || vn.is_i64() {
                    if dn.is_u64() && vn.as_i64().is_some_and(|x| x < 0) {
                        problems.push(format!("{full}: must not be negative, found {vn}"));
                    }
                    true
                } else {
                    problems.push(format!("{full}: expected a whole number, found {vn}"));
                    true
                }
            }
            (J::String(_), J::String(_)) | (J::Bool(_), J::Bool(_)) => true,
            (J::Array(_), J::Array(items)) => {
                if let Some(bad) = items.iter().find(|i| !i.is_string()) {
                    problems.push(format!("{full}: expected a list of strings, found {}", describe(bad)));
                }
                true
            }
            // The environment gives strings for single-element lists.
            (J::Array(_), J::String(_)) => true,
            _ => false,
        };
        if !ok {
            problems.push(format!("{full}: expected {}, found {}", describe_type(d), describe(v)));
        }
    }
}

/// Integers where a float is expected become floats; single strings where a
/// list is expected become one-element lists.
fn normalize_numbers(raw: serde_json::Value, defaults: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match (raw, defaults) {
        (J::Object(m), J::Object(d)) => J::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let nv = match d.get(&k) {
                        Some(dv) => normalize_numbers(v, dv),
                        None => v,
                    };
                    (k, nv)
                })
                .collect(),
        ),
        (J::String(s), J::Array(_)) => J::Array(
            s.split(',').map(|x| J::String(x.trim().to_string())).filter(|x| x != "").collect(),
        ),
        (v, _) => v,
    }
}

fn describe(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

fn describe_type(v: &serde_json::Value) -> &'static str {
    use serde_json::Value as J;
    match v {
        J::Null => "nothing",
        J::Bool(_) => "true or false",
        J::Number(n) if n.is_f64() => "a number",
        J::Number(_) => "a whole number",
        J::String(_) => "a string",
        J::Array(_) => "a list",
        J::Object(_) => "a table",
    }
}

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
        match st.kind.as_str() {
            "files" => {}
            "woocommerce" | "sandbox" => url(p, "store.base_url", &st.base_url, st.allow_http, "store.allow_http"),
            other => p.push(format!("store.kind: unknown connector \"{other}\" (known: \"files\", \"woocommerce\", \"sandbox\")")),
        }
        if !(1..=100).contains(&st.products_per_request) {
            p.push(format!("store.products_per_request: must be between 1 and 100, found {}", st.products_per_request));
        }
        if st.concurrency == 0 {
            p.push("store.concurrency: must be at least 1".into());
        }
        let ad = &self.ads;
        match ad.kind.as_str() {
            "files" => {}
            "sandbox" => url(p, "ads.base_url", &ad.base_url, ad.allow_http, "ads.allow_http"),
            "impact" => {
                url(p, "ads.base_url", &ad.base_url, ad.allow_http, "ads.allow_http");
                if ad.program_id.trim().is_empty() {
                    p.push("ads.program_id: required with ads.kind = \"impact\" (the program whose ads are the campaigns)".into());
                }
                if !(2_000..=20_000).contains(&ad.page_size) {
                    p.push(format!("ads.page_size: Impact accepts 2000 to 20000, found {}", ad.page_size));
                }
            }
            other => p.push(format!("ads.kind: unknown connector \"{other}\" (known: \"files\", \"impact\", \"sandbox\")")),
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
        let v = &self.views;
        match v.kind.as_str() {
            "none" | "files" => {}
            "ga4" => {
                url(p, "views.base_url", &v.base_url, v.allow_http, "views.allow_http");
                if v.property_id.trim().is_empty() || !v.property_id.chars().all(|c| c.is_ascii_digit()) {
                    p.push(format!("views.property_id: a numeric GA4 property id is required with views.kind = \"ga4\", found \"{}\"", v.property_id));
                }
            }
            other => p.push(format!("views.kind: unknown source \"{other}\" (known: \"none\", \"files\", \"ga4\")")),
        }
        if !matches!(v.item_id.as_str(), "id" | "sku") {
            p.push(format!("views.item_id: must be \"id\" or \"sku\", found \"{}\"", v.item_id));
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
        if self.history.days == 0 {
            p.push("history.days: must be at least 1".into());
        }
    }

    /// Every semantic problem, each naming its key.
    pub fn validate(&self) -> Vec<String> {
        let mut p = Vec::new();
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
        unit("act.max_pause_fraction", self.act.max_pause_fraction);
        unit("act.max_quarantine_fraction", self.act.max_quarantine_fraction);
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
        if w.current_days == 0 {
            p.push("windows.current_days: must be at least 1".into());
        }
        if w.baseline_days == 0 {
            p.push("windows.baseline_days: must be at least 1".into());
        }
        if self.selection.campaign_days == 0 {
            p.push("selection.campaign_days: must be at least 1".into());
        }
        if self.budget.strategy != "proportional" {
            p.push(format!(
                "budget.strategy: unknown strategy \"{}\" (known: \"proportional\")",
                self.budget.strategy
            ));
        }
        if !matches!(self.act.mode.as_str(), "auto" | "manual") {
            p.push(format!("act.mode: must be \"auto\" or \"manual\", found \"{}\"", self.act.mode));
        }
        self.validate_connectors(&mut p);
        let l = &self.llm;
        if !matches!(l.provider.as_str(), "none" | "openai") {
            p.push(format!("llm.provider: must be \"none\" or \"openai\", found \"{}\"", l.provider));
        }
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
        p.extend(self.metrics.problems());
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
        p
    }

    /// Case-insensitive competition lookup table.
    pub fn competition_lowercase(&self) -> BTreeMap<String, f64> {
        self.risk.competition.iter().map(|(k, v)| (k.to_lowercase(), *v)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("pipeline.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn defaults_are_valid() {
        assert!(Settings::default().validate().is_empty(), "{:?}", Settings::default().validate());
    }

    #[test]
    fn every_problem_is_reported_at_once_naming_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(
            dir.path(),
            "[decisions]\nmin_days = \"three\"\nbogus = 1\n[budget]\nmin_daily = -5.0\n[nosuch]\nx = 1\n",
        );
        let err = load(Some(&f), Vec::new()).unwrap_err();
        let all = err.problems.join("\n");
        assert!(all.contains("decisions.min_days"), "{all}");
        assert!(all.contains("decisions.bogus: unknown key"), "{all}");
        assert!(all.contains("nosuch: unknown key"), "{all}");
    }

    #[test]
    fn semantic_problems_are_all_reported() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "[budget]\nmin_daily = -5.0\n[significance]\nalpha = 2.0\n");
        let err = load(Some(&f), Vec::new()).unwrap_err();
        let all = err.problems.join("\n");
        assert!(all.contains("budget.min_daily"), "{all}");
        assert!(all.contains("significance.alpha"), "{all}");
    }

    #[test]
    fn environment_overrides_file_values() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "[decisions]\nmin_days = 4\n");
        let env = vec![
            ("CAMPAIGN_PILOT__DECISIONS__MIN_DAYS".to_string(), "6".to_string()),
            ("CAMPAIGN_PILOT__BUDGET__MIN_DAILY".to_string(), "20".to_string()),
            ("CAMPAIGN_PILOT__SELECTION__CATEGORIES".to_string(), "Toys,Books".to_string()),
        ];
        let cfg = load(Some(&f), env).unwrap();
        assert_eq!(cfg.settings.decisions.min_days, 6);
        assert_eq!(cfg.settings.budget.min_daily, 20.0);
        assert_eq!(cfg.settings.selection.categories, vec!["Toys", "Books"]);
    }

    #[test]
    fn environment_typo_is_an_unknown_key() {
        let env = vec![("CAMPAIGN_PILOT__DECISIONS__MIN_DAYZ".to_string(), "6".to_string())];
        let err = load(None, env).unwrap_err();
        assert!(err.problems.iter().any(|p| p == "decisions.min_dayz: unknown key"), "{:?}", err.problems);
    }

    #[test]
    fn relative_sqlite_url_is_resolved_next_to_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "");
        let cfg = load(Some(&f), Vec::new()).unwrap();
        let url = cfg.database_url();
        assert!(url.starts_with(&format!("sqlite://{}", dir.path().display())), "{url}");
        assert!(url.ends_with("campaign-pilot.db?mode=rwc"), "{url}");
    }
}
