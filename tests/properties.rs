//! Properties, over random input: the validator never panics, quarantines
//! every bad row with its correct line and keeps every good one; values from
//! the environment are read as their key's type and a bad one is named by
//! its key.

use std::collections::BTreeMap;
use std::path::Path;

use campaign_pilot::config::ValidateSettings;
use campaign_pilot::connectors::files::read_table;
use campaign_pilot::model::batch::{RawBatch, SideFeed};
use campaign_pilot::model::contract::Table;
use campaign_pilot::model::day::day_of;
use campaign_pilot::stages::validate::validate;
use proptest::prelude::*;

/// `cases` cases (or `PROPTEST_CASES`, for a longer local run), no files of
/// failures written into the tree.
fn config(cases: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(cases);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

/// How one generated product row is broken, and the column (and the start of
/// the reason) the validator must name.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Bad {
    Good,
    NegativePrice,
    PriceNotANumber,
    PriceZero,
    PriceTooLarge,
    StockNotWhole,
    DateNotADate,
    EmptyId,
    NameNotUtf8,
    Duplicate,
}

impl Bad {
    fn expected(self) -> Option<(&'static str, &'static str)> {
        match self {
            Bad::Good => None,
            Bad::NegativePrice => Some(("price", "negative")),
            Bad::PriceNotANumber => Some(("price", "missing or not a decimal number")),
            Bad::PriceZero => Some(("price", "must be above 0")),
            Bad::PriceTooLarge => Some(("price", "above validate.max_money")),
            Bad::StockNotWhole => Some(("stock_quantity", "missing or not a whole number")),
            Bad::DateNotADate => Some(("created_at", "missing or not a YYYY-MM-DD date")),
            Bad::EmptyId => Some(("product_id", "missing")),
            Bad::NameNotUtf8 => Some(("name", "not valid UTF-8")),
            Bad::Duplicate => Some(("*", "duplicate product_id")),
        }
    }
}

fn bad() -> impl Strategy<Value = Bad> {
    prop_oneof![
        6 => Just(Bad::Good),
        1 => Just(Bad::NegativePrice),
        1 => Just(Bad::PriceNotANumber),
        1 => Just(Bad::PriceZero),
        1 => Just(Bad::PriceTooLarge),
        1 => Just(Bad::StockNotWhole),
        1 => Just(Bad::DateNotADate),
        1 => Just(Bad::EmptyId),
        1 => Just(Bad::NameNotUtf8),
        1 => Just(Bad::Duplicate),
    ]
}

/// Store text with the characters CSV must quote: commas, quotes, line breaks.
fn text() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[a-zA-Zé ,\"\n]{0,12}").expect("a regex")
}

fn row() -> impl Strategy<Value = (Bad, String, String, bool)> {
    (bad(), text(), text(), any::<bool>())
}

const HEADERS: [(&str, &str); 3] = [
    ("product_daily", "date,product_id,views,units_sold,revenue"),
    ("campaigns", "campaign_id,name,product_id,status,daily_budget,start_date,paused_by,paused_at"),
    ("campaign_daily", "date,campaign_id,impressions,clicks,spend,conversions,revenue,new_customers"),
];

/// Writes products.csv (one record per generated row) and header-only other
/// tables; returns, per row, the physical line its record starts on.
fn write_products(dir: &Path, rows: &[(Bad, String, String, bool)]) -> Vec<u64> {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    w.write_record(["product_id", "sku", "name", "category", "price", "stock_quantity", "created_at"]).unwrap();
    let mut starts = Vec::new();
    let mut first_good: Option<Vec<u8>> = None;
    for (i, (kind, name, category, quoted_id)) in rows.iter().enumerate() {
        w.flush().unwrap();
        let line = 1 + w.get_ref().iter().filter(|b| **b == b'\n').count() as u64;
        starts.push(line);
        let mut id: Vec<u8> = if *quoted_id { format!("P{i},\"q").into_bytes() } else { format!("P{i}").into_bytes() };
        let mut name = name.clone().into_bytes();
        let (mut price, mut stock, mut created) = ("19.90".to_string(), "40".to_string(), "2025-01-01".to_string());
        match kind {
            Bad::Good => {}
            Bad::NegativePrice => price = "-3.5".into(),
            Bad::PriceNotANumber => price = "abc".into(),
            Bad::PriceZero => price = "0".into(),
            Bad::PriceTooLarge => price = "2e9".into(),
            Bad::StockNotWhole => stock = "1.5x".into(),
            Bad::DateNotADate => created = "2026-13-01".into(),
            Bad::EmptyId => id.clear(),
            Bad::NameNotUtf8 => name.extend([0xE9, b'x']),
            Bad::Duplicate => id = first_good.clone().unwrap_or_else(|| b"P-none".to_vec()),
        }
        if *kind == Bad::Good && first_good.is_none() {
            first_good = Some(id.clone());
        }
        w.write_byte_record(&csv::ByteRecord::from(vec![
            id,
            format!("SKU{i}").into_bytes(),
            name,
            category.clone().into_bytes(),
            price.into_bytes(),
            stock.into_bytes(),
            created.into_bytes(),
        ]))
        .unwrap();
    }
    w.flush().unwrap();
    std::fs::write(dir.join("products.csv"), w.into_inner().unwrap()).unwrap();
    for (t, h) in HEADERS {
        std::fs::write(dir.join(format!("{t}.csv")), format!("{h}\n")).unwrap();
    }
    starts
}

fn batch(dir: &Path) -> RawBatch {
    RawBatch {
        products: read_table(dir, Table::Products, "store.path", None).unwrap(),
        product_daily: read_table(dir, Table::ProductDaily, "store.path", None).unwrap(),
        campaigns: read_table(dir, Table::Campaigns, "ads.path", None).unwrap(),
        campaign_daily: read_table(dir, Table::CampaignDaily, "ads.path", None).unwrap(),
        views_available: true,
        views_feed: SideFeed::default(),
        observed_budgets: BTreeMap::new(),
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn every_bad_row_is_quarantined_at_its_line_and_every_good_row_kept(rows in prop::collection::vec(row(), 1..25)) {
        let dir = tempfile::tempdir().unwrap();
        let starts = write_products(dir.path(), &rows);
        let as_of = day_of(chrono::NaiveDate::from_ymd_opt(2026, 3, 31).unwrap());
        let (valid, _) = validate(batch(dir.path()), as_of, &ValidateSettings::default(), 0.2).unwrap();

        // A duplicate of no earlier good row is a good row of its own (its id is P-none).
        let has_good_before = |i: usize| rows[..i].iter().any(|r| r.0 == Bad::Good);
        let mut seen_none = false;
        let mut expected: Vec<(u64, &str, &str)> = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            let kind = if r.0 == Bad::Duplicate && !has_good_before(i) {
                if seen_none { Bad::Duplicate } else { seen_none = true; Bad::Good }
            } else {
                r.0
            };
            if let Some((column, reason)) = kind.expected() {
                expected.push((starts[i], column, reason));
            }
        }
        let got: Vec<(u64, &str, &str)> = valid.quarantine.iter().map(|q| (q.line, q.column.as_str(), q.reason.as_str())).collect();
        prop_assert_eq!(got.len(), expected.len(), "{:?} vs {:?}", got, expected);
        for ((gl, gc, gr), (el, ec, er)) in got.iter().zip(&expected) {
            prop_assert_eq!((gl, gc), (el, ec), "{:?} vs {:?}", got, expected);
            prop_assert!(gr.starts_with(er), "{} does not start with {}", gr, er);
        }
        prop_assert_eq!(valid.products.height(), rows.len() - expected.len());
        prop_assert_eq!(valid.quality.rows_quarantined.products as usize, expected.len());
    }
}

/// Every key of the configuration, as `section.key`, with its default.
fn leaves() -> Vec<(String, serde_json::Value)> {
    let defaults = serde_json::to_value(campaign_pilot::config::Settings::default()).unwrap();
    let mut out = Vec::new();
    for (section, keys) in defaults.as_object().unwrap() {
        for (key, value) in keys.as_object().unwrap() {
            out.push((format!("{section}.{key}"), value.clone()));
        }
    }
    out
}

fn env_name(key: &str) -> String {
    format!("CAMPAIGN_PILOT__{}", key.replace('.', "__").to_uppercase())
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn a_free_text_key_takes_the_text_as_it_is(
        key in prop::sample::select(vec!["ads.program_id", "ads.account_sid", "views.property_id", "llm.model", "llm.api_key_env"]),
        value in "[ -~]{1,24}",
    ) {
        let cfg = campaign_pilot::config::load(None, vec![(env_name(key), value.clone())]).unwrap_or_else(|e| panic!("{e}"));
        let settings = serde_json::to_value(&cfg.settings).unwrap();
        let (section, name) = key.split_once('.').unwrap();
        prop_assert_eq!(settings[section][name].as_str().unwrap(), value.as_str());
    }

    #[test]
    fn any_value_for_any_key_loads_or_is_refused_naming_that_key(
        index in 0usize..400,
        value in prop_oneof!["[ -~]{0,16}", "-?[0-9]{1,22}(\\.[0-9]{0,4})?", Just("NaN".to_string()), Just("1e400".to_string())],
    ) {
        let all = leaves();
        let (key, _) = &all[index % all.len()];
        match campaign_pilot::config::load(None, vec![(env_name(key), value.clone())]) {
            Ok(_) => {}
            // The key, or a rule of its section it takes part in
            // (`risk.*_weight`, `decisions.optimize_sales_min ≤ …_max`).
            Err(e) => {
                let section = key.split('.').next().unwrap();
                prop_assert!(e.problems.iter().any(|p| p.contains(key.as_str()) || p.starts_with(section)), "{} = {:?}: {:?}", key, value, e.problems)
            }
        }
    }

    #[test]
    fn a_whole_number_key_takes_a_whole_number_or_names_itself(
        key in prop::sample::select(vec!["decisions.min_days", "selection.max_new_per_run", "act.max_actions", "resume.cooldown_days"]),
        n in any::<i64>(),
    ) {
        match campaign_pilot::config::load(None, vec![(env_name(key), n.to_string())]) {
            Ok(cfg) => {
                let settings = serde_json::to_value(&cfg.settings).unwrap();
                let (section, name) = key.split_once('.').unwrap();
                prop_assert_eq!(settings[section][name].as_i64(), Some(n));
            }
            Err(e) => prop_assert!(e.problems.iter().all(|p| p.starts_with(key)), "{} = {}: {:?}", key, n, e.problems),
        }
    }
}

/// A float as the metrics can hold it: any size, either sign, and now and
/// then NaN or an infinity.
fn metric() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => -1e7..1e7f64,
        2 => -200.0..200.0f64,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(0.0),
    ]
}

fn maybe() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![4 => metric().prop_map(Some), 1 => Just(None)]
}

/// What a sentence must never hold: a NaN, an infinity, a float with more
/// than two decimals, or an empty value (a gap where a number should be).
fn unreadable(s: &str) -> Option<String> {
    let words: Vec<&str> = s.split(|c: char| !(c.is_alphanumeric() || c == '.' || c == '_')).collect();
    for w in &words {
        let w = w.trim_end_matches('.');
        if w.eq_ignore_ascii_case("nan") || w.eq_ignore_ascii_case("inf") || w.eq_ignore_ascii_case("infinity") || w == "null" || w == "None" {
            return Some(format!("{w:?}"));
        }
        if let Some((_, frac)) = w.split_once('.') {
            if frac.len() > 2 && frac.chars().all(|c| c.is_ascii_digit()) && w.chars().next().is_some_and(|c| c.is_ascii_digit()) {
                return Some(format!("unrounded {w}"));
            }
        }
        if w.contains('e') && w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.parse::<f64>().is_ok() {
            return Some(format!("exponent {w}"));
        }
    }
    for gap in ["  ", "()", "( ", " )", " ,", " ;", " .", "=", "Some(", "—.", "— ;", "from  to", " % %"] {
        if s.contains(gap) {
            return Some(format!("gap {gap:?}"));
        }
    }
    if s.trim().is_empty() || !s.ends_with('.') {
        return Some("not a sentence".into());
    }
    None
}

proptest! {
    #![proptest_config(config(300))]

    /// The matrix's verdict on random metrics, said in words.
    #[test]
    fn every_sentence_the_matrix_can_lead_to_reads_without_a_raw_number(
        spend_days in 0u64..10, spend in metric(), revenue in metric(), conversions in 0u64..50, new_customers in 0u64..50,
        price in 0.01..500.0f64, roi in maybe(), cpa in maybe(), sales in maybe(), views in maybe(),
        units_cur in 0u64..500, units_base in 0u64..500, views_cur in 0u64..5000, views_base in 0u64..5000,
        cur_days in 1u64..8, base_days in 1u64..15, views_missing in any::<bool>(),
        paused_by in 0usize..4, paused_ago in prop::option::of(0i32..60), efficiency in maybe(), stock in -5i64..500,
    ) {
        use campaign_pilot::config::{DecisionSettings, ResumeSettings, SignificanceSettings};
        use campaign_pilot::decisions::matrix::{decide_active, decide_paused, ActiveInputs, PausedInputs};
        use campaign_pilot::model::campaign::PausedBy;
        use campaign_pilot::report::words::sentence;
        let m = ActiveInputs {
            spend_days, spend, revenue, conversions, new_customers, price, roi, cpa,
            sales_impact: sales, view_impact: views, units_cur, units_base, views_cur, views_base, cur_days, base_days, views_missing,
        };
        let v = decide_active(&m, &DecisionSettings::default(), &SignificanceSettings::default());
        let s = sentence(v.decision, &v.reasons);
        prop_assert!(unreadable(&s).is_none(), "{:?} in {s:?} from {:?}", unreadable(&s), v.reasons);
        let by = [None, Some(PausedBy::Pipeline), Some(PausedBy::PipelineEmergency), Some(PausedBy::User)][paused_by];
        let p = PausedInputs { paused_by: by, paused_at: paused_ago.map(|a| 20_000 - a), as_of: 20_000, efficiency, stock };
        let v = decide_paused(&p, &ResumeSettings::default(), 10);
        let s = sentence(v.decision, &v.reasons);
        prop_assert!(unreadable(&s).is_none(), "{:?} in {s:?} from {:?}", unreadable(&s), v.reasons);
    }

    /// The decide stage's own reasons on random numbers, said in words.
    #[test]
    fn every_sentence_of_the_decide_stage_reads_without_a_raw_number(
        a in metric(), b in metric(), c in metric(), d in metric(), e in metric(), n in 0u32..60, stock in -5i64..100_000, ratio in maybe(),
    ) {
        use campaign_pilot::decisions::reasons as r;
        use campaign_pilot::model::decision::Decision;
        use campaign_pilot::report::words::{new_campaign_sentence, sentence};
        let all = [
            r::ledger_budget(a, b), r::no_baseline_impact(), r::cpa_infinite(a), r::budget_observed(a, n), r::locked(),
            r::resume_unfunded(a), r::budget_increase(a, b), r::budget_toward_margin(a, b), r::profit_not_resumed(a),
            r::forecasts_missed(a), r::model(a, b, c, d, e), r::profit_pause(a, b), r::profit_keep(a, b, Decision::EmergencyPause),
            r::profit_keep(a, b, Decision::Pause), r::profit_expected(a, b, c),
        ];
        for reason in &all {
            for &decision in Decision::ALL {
                let s = sentence(decision, std::slice::from_ref(reason));
                prop_assert!(unreadable(&s).is_none(), "{:?} in {s:?} from {reason:?}", unreadable(&s));
            }
        }
        let s = new_campaign_sentence(&[r::new_campaign(a, stock, ratio), r::profit_expected(b, c, d)]);
        prop_assert!(unreadable(&s).is_none(), "{:?} in {s:?}", unreadable(&s));
    }
}
