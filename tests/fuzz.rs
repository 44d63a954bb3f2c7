//! Fuzzing on stable Rust (no nightly for cargo-fuzz on a fresh machine): a
//! proptest generator drives each target for a time budget —
//! `FUZZ_SECONDS` per target (3 in the test suite; `scripts/fuzz.sh` runs
//! longer) — and any panic is a failure, printed with the input. The
//! targets: the CSV and Parquet readers with the validator after them, and
//! the Impact and WooCommerce record decoders.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::path::Path;
use std::time::{Duration, Instant};

use campaign_pilot::config::ValidateSettings;
use campaign_pilot::connectors::files::read_table;
use campaign_pilot::connectors::{impact, woocommerce};
use campaign_pilot::model::batch::{RawBatch, SideFeed};
use campaign_pilot::model::contract::Table;
use campaign_pilot::stages::validate::validate;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::Value;

fn budget() -> Duration {
    Duration::from_secs_f64(std::env::var("FUZZ_SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3.0))
}

/// Runs `target` on values of `strategy` until the budget is spent; fails
/// with the first input that panics. Prints how many inputs it tried.
fn fuzz<S: Strategy>(name: &str, strategy: S, target: impl Fn(&S::Value)) {
    let mut runner = TestRunner::default();
    let deadline = Instant::now() + budget();
    let mut n = 0u64;
    let caught_before = CAUGHT.load(Ordering::Relaxed);
    count_panics();
    while Instant::now() < deadline {
        let value = strategy.new_tree(&mut runner).expect("a value").current();
        if catch_unwind(AssertUnwindSafe(|| target(&value))).is_err() {
            panic!("{name}: input {n} panicked: {value:?}");
        }
        n += 1;
    }
    let caught = CAUGHT.load(Ordering::Relaxed) - caught_before;
    println!("fuzz {name}: {n} inputs in {:.1} s, no panic escaped ({caught} panics inside a reader were turned into read errors)", budget().as_secs_f64());
}

/// Panics seen by the hook: those a reader's guard turned into an error
/// count here too (the suite runs tests side by side: a rough count there).
static CAUGHT: AtomicU64 = AtomicU64::new(0);

fn count_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            CAUGHT.fetch_add(1, Ordering::Relaxed);
            if std::env::var("FUZZ_VERBOSE").is_ok() {
                default(info);
            }
        }));
    });
}

const OTHER_HEADERS: [(&str, &str); 3] = [
    ("product_daily", "date,product_id,views,units_sold,revenue"),
    ("campaigns", "campaign_id,name,product_id,status,daily_budget,start_date,paused_by,paused_at"),
    ("campaign_daily", "date,campaign_id,impressions,clicks,spend,conversions,revenue,new_customers"),
];

fn read_and_validate(dir: &Path) {
    let tables = (
        read_table(dir, Table::Products, "store.path", None),
        // With a reach, as a run reads: the older rows are read by the validator.
        read_table(dir, Table::ProductDaily, "store.path", Some(20_000 - 87)),
        read_table(dir, Table::Campaigns, "ads.path", None),
        read_table(dir, Table::CampaignDaily, "ads.path", Some(20_000 - 87)),
    );
    let (Ok(products), Ok(product_daily), Ok(campaigns), Ok(campaign_daily)) = tables else { return };
    let raw = RawBatch { products, product_daily, campaigns, campaign_daily, views_available: true, views_feed: SideFeed::default(), observed_budgets: BTreeMap::new() };
    let _ = validate(raw, 20_000, &ValidateSettings::default(), 0.2);
}

/// Bytes shaped like a products table: its header, then rows of fields
/// drawn from what breaks parsers (quotes, line breaks, invalid UTF-8,
/// huge and odd numbers, dates out of range).
fn products_csv() -> impl Strategy<Value = Vec<u8>> {
    let field = prop_oneof![
        "[a-zA-Z0-9 ]{0,8}".prop_map(String::into_bytes),
        Just(b"\"".to_vec()),
        Just(b"\"\"".to_vec()),
        Just(b"\"a,\nb\"".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(vec![0xE9, 0xFF, 0xC3]),
        Just(b"1e308".to_vec()),
        Just(b"-0".to_vec()),
        Just(b"NaN".to_vec()),
        Just(b"99999999999999999999".to_vec()),
        Just(b"2026-02-30".to_vec()),
        Just(b"+262142-12-31".to_vec()),
        prop::collection::vec(any::<u8>(), 0..6),
    ];
    let row = prop::collection::vec(field, 0..10).prop_map(|fields| fields.join(&b","[..]));
    prop::collection::vec(row, 0..12).prop_map(|rows| {
        let mut out = b"product_id,sku,name,category,price,stock_quantity,created_at\n".to_vec();
        for r in rows {
            out.extend(r);
            out.push(b'\n');
        }
        out
    })
}

#[test]
fn fuzz_the_csv_reader_and_the_validator() {
    fuzz("csv", products_csv(), |bytes| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("products.csv"), bytes).unwrap();
        for (t, h) in OTHER_HEADERS {
            std::fs::write(dir.path().join(format!("{t}.csv")), format!("{h}\n")).unwrap();
        }
        read_and_validate(dir.path());
    });
}

/// A valid products.parquet, to mutate.
fn parquet_seed() -> Vec<u8> {
    use polars::prelude::*;
    let mut df = df!(
        "product_id" => ["P1", "P2", "P3"],
        "sku" => ["S1", "S2", "S3"],
        "name" => ["A", "B", "C"],
        "category" => ["Fitness", "Home", "Clothing"],
        "price" => [10.0, 20.0, 30.0],
        "stock_quantity" => [5i64, 6, 7],
        "created_at" => ["2024-01-01", "2024-01-02", "2024-01-03"],
    )
    .unwrap();
    let mut buf = Vec::new();
    ParquetWriter::new(&mut buf).finish(&mut df).unwrap();
    buf
}

#[test]
fn fuzz_the_parquet_reader_and_the_validator() {
    let seed = parquet_seed();
    let len = seed.len();
    let mutation = (prop::collection::vec((0..len, any::<u8>()), 1..8), 0..=len);
    fuzz("parquet", mutation, |(flips, keep)| {
        let mut bytes = seed.clone();
        for (at, b) in flips {
            bytes[*at] ^= b | 1;
        }
        bytes.truncate(*keep);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("products.parquet"), &bytes).unwrap();
        for (t, h) in OTHER_HEADERS {
            std::fs::write(dir.path().join(format!("{t}.csv")), format!("{h}\n")).unwrap();
        }
        read_and_validate(dir.path());
    });
}

/// JSON values of every shape, with strings and numbers that break lenient decoders.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map(Value::Number).unwrap_or(Value::Null)),
        "[ -~]{0,12}".prop_map(Value::String),
        prop_oneof![Just("2026-03-31T00:00:00+00:00"), Just("9999-99-99"), Just("1e309"), Just("-"), Just("NEW"), Just("")]
            .prop_map(|s| Value::String(s.to_string())),
    ];
    let keys = prop_oneof![
        Just("Id"), Just("AdId"), Just("EventDate"), Just("Amount"), Just("ClientCost"), Just("Payout"), Just("CustomerStatus"),
        Just("State"), Just("Labels"), Just("LimitedTimeEndDate"), Just("DateCreated"), Just("Name"),
        Just("id"), Just("price"), Just("regular_price"), Just("stock_quantity"), Just("manage_stock"), Just("stock_status"),
        Just("date_created_gmt"), Just("categories"), Just("intervals"), Just("interval"), Just("subtotals"), Just("segments"),
        Just("segment_id"), Just("items_sold"), Just("net_revenue"),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone().prop_map(str::to_string), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn fuzz_the_impact_and_woocommerce_decoders() {
    fuzz("json decoders", json(), |v| {
        let _ = impact::decode_ad(v.clone(), Some("1"));
        let _ = impact::decode_action(v.clone());
        let _ = woocommerce::decode_product(v.clone(), 1000);
        let _ = woocommerce::decode_stats_page(v);
    });
    // And bytes that may not be JSON at all.
    fuzz("json bytes", prop::collection::vec(any::<u8>(), 0..64), |bytes| {
        if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
            let _ = impact::decode_action(v.clone());
            let _ = woocommerce::decode_stats_page(&v);
        }
    });
}

#[test]
fn a_corrupt_parquet_file_the_fuzzer_found_is_a_read_error_not_a_panic() {
    // The mutation that made polars' parquet reader panic ("thrift bool field").
    let mut bytes = parquet_seed();
    for (at, b) in [(939usize, 14u8), (1572, 179), (1506, 33), (2311, 3), (974, 65), (1667, 119)] {
        if at < bytes.len() {
            bytes[at] ^= b | 1;
        }
    }
    bytes.truncate(2542);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("products.parquet"), &bytes).unwrap();
    let read = catch_unwind(AssertUnwindSafe(|| read_table(dir.path(), Table::Products, "store.path", None)));
    let read = read.expect("no panic escapes the reader");
    assert!(read.is_err(), "a corrupt file is an error naming it");
}
