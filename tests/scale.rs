//! Reading only what a run needs (issue 17): a daily table read with the
//! run's reach hands on only the days some stage looks at, and judges the
//! older rows for the data quality alone. The decisions, the counts and the
//! quarantine must be exactly those of reading the whole history, and an
//! old row changed between two runs must be caught by the second.

mod common;

use common::Bounded;

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use campaign_pilot::config::Settings;
use campaign_pilot::connectors::files::read_table;
use campaign_pilot::decisions::reach::needed_from;
use campaign_pilot::model::batch::{RawBatch, SideFeed};
use campaign_pilot::model::contract::Table;
use campaign_pilot::model::day::{date_of, day_of, Day};
use campaign_pilot::model::outcome::AppliedAction;
use campaign_pilot::model::plan::ActionKind;
use campaign_pilot::stages::learn::follow_ups;
use campaign_pilot::pipeline::plan_day;
use campaign_pilot::sandbox::generate::{generate, Format, GenerateOptions, RowOrder};
use chrono::NaiveDate;
use common::{stderr, App, BIN};
use serde_json::Value;

const AS_OF: &str = "2026-05-31";

fn as_of() -> NaiveDate {
    AS_OF.parse().unwrap()
}

fn dataset(dir: &Path, format: Format, order: RowOrder, faults: bool) {
    let o = GenerateOptions { seed: 7, products: 300, campaigns: 40, days: 200, as_of: as_of(), format, faults, progress: false, order, until: None };
    generate(dir, &o).unwrap();
}

/// Appends bad rows dated long before the reach (and one without a date)
/// to the two daily CSV files: each kind the older rows' check must catch.
fn old_faults(dir: &Path) -> usize {
    let old = date_of(day_of(as_of()) - 150);
    let append = |table: &str, rows: Vec<String>| {
        let path = dir.join(format!("{table}.csv"));
        let mut text = std::fs::read_to_string(&path).unwrap();
        let first = text.lines().nth(1).unwrap().to_string();
        for r in rows.iter().chain([&first]) {
            text.push_str(r);
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
        rows.len() + 1
    };
    append("product_daily", vec![format!("{old},P000001,-5,1,10.0"), format!("{old},P999999,1,1,10.0"), format!("{old},P000002,,1,10.0"), "2026-02-30,P000003,1,1,10.0".into()])
        + append("campaign_daily", vec![format!("{old},C00001,100,5,-1.0,0,0.0,0"), format!("{old},C09999,100,5,1.0,0,0.0,0")])
}

/// The same kinds of old faults written in place, keeping a day-ordered
/// file in (date, id) order for its valid rows: a row repeated right after
/// itself, a negative value, an unknown product, a missing number.
fn old_faults_in_place(dir: &Path) -> usize {
    let old = date_of(day_of(as_of()) - 150).to_string();
    let path = dir.join("product_daily.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let at: Vec<usize> = lines.iter().enumerate().filter(|(_, l)| l.starts_with(&old)).map(|(i, _)| i).collect();
    assert!(at.len() > 4);
    let edit = |line: &str, field: usize, value: &str| {
        let mut f: Vec<&str> = line.split(',').collect();
        f[field] = value;
        f.join(",")
    };
    lines[at[1]] = edit(&lines[at[1]], 2, "-5");
    // The day's last row: an unknown id that still sorts after the others.
    let last = *at.last().unwrap();
    lines[last] = edit(&lines[last], 1, "P999999");
    lines[at[3]] = edit(&lines[at[3]], 3, "");
    let repeated = lines[at[0]].clone();
    lines.insert(at[0] + 1, repeated);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let cpath = dir.join("campaign_daily.csv");
    let text = std::fs::read_to_string(&cpath).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let on_day: Vec<usize> = lines.iter().enumerate().filter(|(_, l)| l.starts_with(&old)).map(|(i, _)| i).collect();
    assert!(on_day.len() > 1);
    lines[on_day[0]] = edit(&lines[on_day[0]], 4, "-1.0");
    let last = *on_day.last().unwrap();
    lines[last] = edit(&lines[last], 1, "C09999");
    std::fs::write(&cpath, lines.join("\n") + "\n").unwrap();
    6
}

fn batch(dir: &Path, reach: Option<Day>) -> RawBatch {
    let read = |t: Table| read_table(dir, t, "store.path", if matches!(t, Table::ProductDaily | Table::CampaignDaily) { reach } else { None }).unwrap();
    RawBatch {
        products: read(Table::Products),
        product_daily: read(Table::ProductDaily),
        campaigns: read(Table::Campaigns),
        campaign_daily: read(Table::CampaignDaily),
        views_available: true,
        views_feed: SideFeed::default(),
        observed_budgets: Default::default(),
    }
}

/// Budget changes made 14 to 74 days before as_of, for the learning loop
/// to follow up: the oldest reach back to its 14-day window before them.
fn applied(days: &[Day]) -> Vec<AppliedAction> {
    (1..=12)
        .flat_map(|i| {
            days.iter().map(move |d| AppliedAction {
                key: format!("k{i}-{d}"),
                as_of: day_of(as_of()) - d,
                campaign_id: format!("C{i:05}"),
                product_id: String::new(),
                kind: ActionKind::SetBudget,
                from: 50.0,
                to: 60.0,
                paused_by: None,
                forecast: None,
            })
        })
        .collect()
}

/// Everything a day's run decides and reports about its data, as text.
fn outcome(dir: &Path, s: &Settings, reach: Option<Day>) -> (String, String, String, usize) {
    let raw = batch(dir, reach);
    let read = raw.product_daily.df.height() + raw.campaign_daily.df.height();
    let (valid, plan, _) = plan_day(s, raw, day_of(as_of()), None, "scale-test").unwrap();
    let followed = follow_ups(&valid, &applied(&[14, 30, 59, 60, 74]), &HashSet::new(), s).unwrap();
    assert!(followed.len() >= 12, "{followed:?}");
    let quality = format!("{:?} campaigns from {:?}", valid.quality, valid.campaign_data_start);
    let quarantine = serde_json::to_string(&valid.quarantine).unwrap();
    (format!("{:?}|{:?}|{:?}|{followed:?}", plan.campaigns, plan.actions, plan.new_campaigns), quality, quarantine, read)
}

#[test]
fn a_run_that_reads_only_its_reach_decides_counts_and_quarantines_as_a_whole_history_read() {
    let mut s = Settings::default();
    for (format, order) in [(Format::Csv, RowOrder::Id), (Format::Csv, RowOrder::Date), (Format::Parquet, RowOrder::Date), (Format::Parquet, RowOrder::Id)] {
        let dir = tempfile::tempdir().unwrap();
        // The generator's own faults are appended too (some dated before
        // the reach): only the file left in no order gets them.
        dataset(dir.path(), format, order, (format, order) == (Format::Csv, RowOrder::Id));
        // Appended faults leave the file in no order (the join path checks
        // it); faults in place keep a day-ordered file sorted (the
        // membership-test path).
        let faults = match (format, order) {
            (Format::Csv, RowOrder::Id) => old_faults(dir.path()),
            (Format::Csv, RowOrder::Date) => old_faults_in_place(dir.path()),
            _ => 0,
        };
        for policy in ["profit", "seed"] {
            s.decisions.policy = serde_json::from_value(Value::String(policy.into())).unwrap();
            let reach = needed_from(day_of(as_of()), &s);
            let (whole_plan, whole_quality, whole_quarantine, whole_read) = outcome(dir.path(), &s, None);
            let (plan, quality, quarantine, read) = outcome(dir.path(), &s, Some(reach));
            let what = format!("{format:?} {order:?} {policy}");
            assert_eq!(plan, whole_plan, "{what}: the decisions");
            assert_eq!(quality, whole_quality, "{what}: the data quality");
            assert_eq!(quarantine, whole_quarantine, "{what}: the quarantine");
            // The reach is 87 of 200 days: well under half the rows are handed on.
            assert!(read * 2 < whole_read, "{what}: {read} of {whole_read} rows read");
            let q: Vec<Value> = serde_json::from_str(&quarantine).unwrap();
            assert!(q.len() >= faults, "{what}: {} quarantined", q.len());
            if (format, order) == (Format::Csv, RowOrder::Date) {
                // Only the faults written in place, nothing else (a check
                // both paths share, such as the duplicate check, is held
                // here rather than by their agreement).
                assert_eq!(q.len(), faults, "{what}: {quarantine}");
            }
            if format == Format::Parquet {
                assert!(q.is_empty(), "{what}: {quarantine}");
            }
            if format == Format::Csv {
                // The old faults are among them, each with its reason.
                let reasons: Vec<&str> = q.iter().map(|r| r["reason"].as_str().unwrap()).collect();
                for r in ["negative", "unknown product", "unknown campaign", "missing or not a whole number", "duplicate (date, product_id): an earlier row has the same key"] {
                    assert!(reasons.contains(&r), "{what}: no '{r}' in {reasons:?}");
                }
            }
        }
    }
}

fn report(dir: &Path) -> Value {
    // The one day's directory (reports/ also holds index.html, the list of runs).
    let day = std::fs::read_dir(dir.join("reports")).unwrap().map(|e| e.unwrap().path()).find(|p| p.is_dir()).unwrap();
    let path = day.join("report.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The next day's run must see an old row that changed in the file since
/// the first run, long before the days it decides on.
#[test]
fn an_old_row_changed_between_two_runs_is_quarantined_by_the_second() {
    let data = tempfile::tempdir().unwrap();
    dataset(data.path(), Format::Csv, RowOrder::Date, false);
    let app = App::new(data.path(), "[demo]\nenabled = false\n");
    let run = |app: &App| {
        let out = Command::new(BIN).arg("--config").arg(app.config()).args(["run", "--dry-run", "--as-of", AS_OF]).env_remove("CAMPAIGN_PILOT_CONFIG").bounded().unwrap();
        assert!(out.status.code().is_some_and(|c| c == 0 || c == 3), "{}", stderr(&out));
        let r = report(app.dir.path());
        std::fs::remove_dir_all(app.dir.path().join("reports")).unwrap();
        r
    };
    let first = run(&app);
    let path = data.path().join("campaign_daily.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    // The 11th record: dated on the feed's first day, 200 days back.
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut fields: Vec<String> = lines[10].split(',').map(str::to_string).collect();
    assert!(fields[0].as_str() < "2025-12-01", "{}", lines[10]);
    fields[4] = "-3.5".into();
    lines[10] = fields.join(",");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let second = run(&app);
    let count = |r: &Value| r["data_quality"]["rows_quarantined"]["campaign_daily"].as_u64().unwrap();
    assert_eq!(count(&second), count(&first) + 1, "{}", second["data_quality"]);
    let caught: Vec<&Value> = second["quarantine_sample"].as_array().unwrap().iter().filter(|q| q["line"] == 11).collect();
    assert_eq!(caught.len(), 1, "{}", second["quarantine_sample"]);
    assert_eq!(caught[0]["column"], "spend");
    assert_eq!(caught[0]["reason"], "negative");
    assert_eq!(caught[0]["raw"], lines[10].as_str());
}

/// History writes (SQLite: rows as one JSON document per statement,
/// `db::insert_json`; PostgreSQL: through COPY, actions upserted from a
/// temporary table): every
/// value comes back exactly as it went in on both databases (floats to the
/// last bit, nulls as nulls, quotes, commas, line breaks and accents in ids),
/// a day stored again replaces that day, and a re-read of Impact actions writes only the actions that
/// changed (the count `store_impact_actions` returns is what the database
/// says it wrote).
#[tokio::test]
async fn history_rows_come_back_exactly_and_a_reread_writes_only_the_changed_actions() {
    use campaign_pilot::db::Db;
    use campaign_pilot::model::history::{ImpactAction, SalesRow, IMPACT_REVERSED};
    let app = App::with_config("");
    let url = app.db_url();
    let url = if url.starts_with("sqlite") { format!("{url}?mode=rwc") } else { url };
    let db = Db::connect(&url).await.unwrap();
    let day = day_of(as_of());
    let awkward = [0.1 + 0.2, 1234567.891, 1e-7, 1e300, 5e-324, 123456789.12345679];
    let sales: Vec<SalesRow> = awkward
        .iter()
        .enumerate()
        .map(|(i, &v)| SalesRow { day, product_id: format!("P\"{i},é\n"), units: if i == 2 { None } else { Some(i64::MAX - i as i64) }, revenue: (i != 3).then_some(v) })
        .collect();
    db.store_sales_days("s", &[day], &sales).await.unwrap();
    let mut back = db.sales_days("s", day, day).await.unwrap();
    back.sort_by(|a, b| a.product_id.cmp(&b.product_id));
    assert_eq!(back.len(), sales.len());
    for (a, b) in sales.iter().zip(&back) {
        assert_eq!((&a.product_id, a.units, a.revenue.map(f64::to_bits)), (&b.product_id, b.units, b.revenue.map(f64::to_bits)), "{a:?} came back as {b:?}");
    }
    // The day again, with two of its rows (one changed): the day is replaced, not added to.
    let again = vec![sales[0].clone(), SalesRow { revenue: Some(7.25), ..sales[4].clone() }];
    db.store_sales_days("s", &[day], &again).await.unwrap();
    let mut back = db.sales_days("s", day, day).await.unwrap();
    back.sort_by(|a, b| a.product_id.cmp(&b.product_id));
    assert_eq!(back.len(), 2, "{back:?}");
    assert_eq!((back[0].revenue, back[1].revenue), (sales[0].revenue, Some(7.25)));

    let action = |id: &str, state: &str, amount: f64| ImpactAction {
        id: id.into(),
        ad_id: "C00001".into(),
        day,
        state: state.into(),
        amount: Some(amount),
        cost: Some(amount / 10.0),
        new_customer: id == "a1",
    };
    let first = vec![action("a1", "PENDING", 100.0), action("a2", "PENDING", 50.0), action("a3", "APPROVED", 0.1 + 0.2)];
    assert_eq!(db.store_impact_actions("i", &[day], &first).await.unwrap(), 3, "three new actions");
    assert_eq!(db.store_impact_actions("i", &[day], &first).await.unwrap(), 0, "the same actions read again are left as they are");
    let reread = vec![action("a1", "PENDING", 100.0), action("a2", IMPACT_REVERSED, 50.0), action("a3", "APPROVED", 0.30000000000000004)];
    assert_eq!(db.store_impact_actions("i", &[day], &reread).await.unwrap(), 1, "only the reversed one changed");
    let changed = vec![action("a1", "PENDING", 99.5)];
    assert_eq!(db.store_impact_actions("i", &[day], &changed).await.unwrap(), 1, "a changed amount is written");
    let days = db.impact_campaign_days("i", day, day).await.unwrap();
    assert_eq!(days.len(), 1);
    // a2 reversed: a1 (99.50, the re-read amount) and a3 count.
    assert_eq!((days[0].conversions, days[0].revenue, days[0].new_customers), (Some(2), Some(99.8), Some(1)), "{:?}", days[0]);
    // An action read twice in one batch (pages that shifted): one action, as last read.
    let twice = vec![action("a4", "PENDING", 1.0), action("a4", "APPROVED", 2.0)];
    assert_eq!(db.store_impact_actions("i", &[day], &twice).await.unwrap(), 1, "one new action");
    let days = db.impact_campaign_days("i", day, day).await.unwrap();
    assert_eq!((days[0].conversions, days[0].revenue), (Some(3), Some(101.8)), "{:?}", days[0]);
    db.close().await;
}

/// Rows that make going back a day change what is judged: a product created
/// late in the range with sales (one bad) dated before its creation, a
/// campaign starting late and one whose product is created late, late bad
/// and repeated rows, and an unknown product's row. Returns the late day.
fn late_rows(dir: &Path) -> Day {
    let late = day_of(as_of()) - 6;
    let (d, before, after) = (date_of(late), date_of(late - 9), date_of(late + 2));
    let append = |table: &str, rows: &[String]| {
        let path = dir.join(format!("{table}.csv"));
        let mut text = std::fs::read_to_string(&path).unwrap();
        for r in rows {
            text.push_str(r);
            text.push('\n');
        }
        std::fs::write(&path, text).unwrap();
    };
    append("products", &[format!("P900001,SKU-900001,Late Lamp,Home,30.0,10,{d}")]);
    append(
        "product_daily",
        &[
            format!("{before},P900001,40,2,60.0"),
            format!("{before},P900001,40,2,60.0"),
            format!("{},P900001,-1,2,60.0", date_of(late - 8)),
            format!("{after},P900001,50,3,90.0"),
            format!("{after},P000001,-5,1,10.0"),
            format!("{after},P999999,5,1,10.0"),
        ],
    );
    append("campaigns", &[format!("C90001,Late Start,P000002,active,40.0,{after},,"), format!("C90002,Late Product,P900001,active,25.0,{before},,")]);
    append(
        "campaign_daily",
        &[
            format!("{},C90001,900,20,30.0,2,60.0,1", date_of(late + 3)),
            format!("{before},C90002,500,10,20.0,1,30.0,1"),
            format!("{after},C90002,500,10,20.0,1,30.0,1"),
            format!("{after},C90002,500,10,20.0,1,30.0,1"),
            format!("{after},C00001,100,5,-1.0,0,0.0,0"),
        ],
    );
    late
}

/// `backfill` and `tune` validate their range once and cut each day from
/// it: every day must get exactly what validating as of that day gives, with
/// the whole history read and with the run's reach: the same valid rows in
/// the same order and indexes, the same quarantine and the same counts.
#[test]
fn a_range_validated_once_gives_each_day_what_validating_that_day_gives() {
    use campaign_pilot::config::ValidateSettings;
    use campaign_pilot::stages::validate::{validate, RangeValidator, ValidBatch};
    let s = Settings::default();
    let limits = ValidateSettings::default();
    let same = |what: &str, a: &ValidBatch, b: &ValidBatch| {
        for (name, x, y) in [
            ("products", &a.products, &b.products),
            ("product_daily", &a.product_daily, &b.product_daily),
            ("campaigns", &a.campaigns, &b.campaigns),
            ("campaign_daily", &a.campaign_daily, &b.campaign_daily),
        ] {
            assert!(x.equals_missing(y), "{what}: {name} differs\n{x}\n{y}");
        }
        assert_eq!(a.quality, b.quality, "{what}: quality");
        assert_eq!(a.quarantine, b.quarantine, "{what}: quarantine");
        assert_eq!((&a.future_campaign_products, a.campaign_data_start), (&b.future_campaign_products, b.campaign_data_start), "{what}");
    };
    // Twice: then once more with a product listed twice, created on both
    // sides of the range's days (an id valid and future at once: those days
    // are validated whole, and must still agree). Then a date-ordered
    // export without the late rows (whose old dates come last): its valid
    // rows are in date order, and each day's are a slice of them.
    for (order, twice, with_late) in [(RowOrder::Id, false, true), (RowOrder::Id, true, true), (RowOrder::Date, false, false)] {
        let dir = tempfile::tempdir().unwrap();
        dataset(dir.path(), Format::Csv, order, true);
        let late = if with_late { late_rows(dir.path()) } else { i32::MIN / 2 };
        if twice {
            let path = dir.path().join("products.csv");
            let text = std::fs::read_to_string(&path).unwrap();
            std::fs::write(&path, format!("{text}P000003,SKU-000003b,Twin,Home,12.0,5,{}\n", date_of(late + 1))).unwrap();
        }
        let last = day_of(as_of());
        let range = RangeValidator::new(batch(dir.path(), None), last, &limits, s.act.min_day_fraction).unwrap();
        assert!(range.cuts());
        let mut judged_late = (0, 0);
        for day in (last - 14)..=last {
            let reach = needed_from(day, &s);
            for reach in [None, Some(reach)] {
                let what = format!("{order:?} twice={twice} as of {} reach {reach:?}", date_of(day));
                let (want, _) = validate(batch(dir.path(), reach), day, &limits, s.act.min_day_fraction).unwrap();
                let (got, _) = range.day(day, reach).unwrap();
                same(&what, &got, &want);
                if !with_late {
                    continue;
                }
                if reach.is_none() && day >= late + 2 {
                    judged_late.0 += 1;
                    assert!(got.quarantine.iter().any(|q| q.raw.starts_with(&format!("{},P900001,-1", date_of(late - 8)))), "{what}: the late product's bad row is judged once it exists");
                } else if reach.is_none() && day < late {
                    judged_late.1 += 1;
                    assert!(!got.quarantine.iter().any(|q| q.raw.contains("P900001")), "{what}: not before it exists");
                }
            }
        }
        assert!(!with_late || (judged_late.0 > 0 && judged_late.1 > 0));
    }
}

/// The generator's daily files as of `until`, day-ordered; Parquet files
/// rewritten in row groups of 3,000 rows (the generator writes one group at
/// this size, and a carried check needs the old groups to stay whole).
fn dataset_until(dir: &Path, format: Format, until: NaiveDate) {
    let o = GenerateOptions { seed: 7, products: 300, campaigns: 40, days: 200, as_of: as_of(), format, faults: false, progress: false, order: RowOrder::Date, until: Some(until) };
    generate(dir, &o).unwrap();
    if format == Format::Parquet {
        for t in ["product_daily", "campaign_daily"] {
            edit_parquet(&dir.join(format!("{t}.parquet")), |df| df);
        }
    }
}

/// Reads a Parquet file, changes it, and writes it back in 3,000-row groups.
fn edit_parquet(path: &Path, change: impl FnOnce(polars::prelude::DataFrame) -> polars::prelude::DataFrame) {
    use polars::prelude::*;
    let df = ParquetReader::new(std::fs::File::open(path).unwrap()).finish().unwrap();
    let df = change(df);
    campaign_pilot::sandbox::generate::write_parquet_groups(std::fs::File::create(path).unwrap(), &df, 3_000).unwrap();
}

fn copy_files(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

/// What a run says of its data, without the part that says which of it was
/// carried over: what two runs over the same files must agree on.
fn judged(r: &Value) -> (Value, Value, Value) {
    let mut q = r["data_quality"].clone();
    q.as_object_mut().unwrap().remove("carried");
    let decisions: Vec<Value> = r["campaigns"].as_array().unwrap().iter().map(|c| serde_json::json!([c["campaign_id"], c["decision"], c["budget"], c["reasons"]])).collect();
    (q, r["quarantine_sample"].clone(), Value::Array(decisions))
}

fn dry_run(app: &App, as_of: &str) -> Value {
    let out = app.run(as_of);
    assert!(out.status.code().is_some_and(|c| c == 0 || c == 3), "{}", stderr(&out));
    app.report()
}

/// The line a CSV daily table's next read begins at, as the last run kept it.
fn marked_line(app: &App, table: Table) -> Option<u64> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let kept = rt.block_on(async {
        let db = campaign_pilot::db::Db::connect(&app.db_url()).await.unwrap();
        db.stored_check(table).await.unwrap()
    });
    match kept?.mark.fingerprint {
        campaign_pilot::model::batch::Fingerprint::Csv { from, .. } => from.map(|f| f.line),
        _ => None,
    }
}

fn carried(r: &Value) -> Vec<(String, u64)> {
    r["data_quality"]["carried"].as_array().map_or(Vec::new(), |a| a.iter().map(|c| (c["table"].as_str().unwrap().to_string(), c["rows"].as_u64().unwrap())).collect())
}

/// How many of a table's rows the run took from those an earlier run kept.
fn kept_rows(r: &Value, table: &str) -> u64 {
    r["data_quality"]["carried"].as_array().and_then(|a| a.iter().find(|c| c["table"] == table)).and_then(|c| c["kept"].as_u64()).unwrap_or(0)
}

/// The kept rows of the reach (`history.validated_dir`) are only ever
/// used as they were: a damaged file of them is not read; a kept row
/// changed in the feed is judged again (and quarantined when bad); a row
/// appended that repeats a kept row's key is a duplicate. Each run judges
/// as a fresh database does.
fn in_the_kept_window(app: &App, data: &Path) {
    let fresh = || dry_run(&App::new(data, "[demo]\nenabled = false\n"), AS_OF);
    let quarantined = |r: &Value| r["data_quality"]["rows_quarantined"]["product_daily"].as_u64().unwrap();
    let start = dry_run(app, AS_OF);
    assert!(kept_rows(&start, "product_daily") > 0, "{}", start["data_quality"]);
    // The kept rows' file damaged: read whole again, alike.
    let validated = app.config().parent().unwrap().join("validated");
    let rows_file = std::fs::read_dir(&validated).unwrap().map(|e| e.unwrap().path()).find(|p| p.display().to_string().contains("product_daily.") && p.display().to_string().ends_with(".rows.arrow")).unwrap();
    std::fs::write(&rows_file, b"not what was kept").unwrap();
    let damaged = dry_run(app, AS_OF);
    assert_eq!(kept_rows(&damaged, "product_daily"), 0, "{}", damaged["data_quality"]);
    assert_eq!(judged(&damaged), judged(&fresh()), "a damaged kept file");
    let again = dry_run(app, AS_OF);
    assert!(kept_rows(&again, "product_daily") > 0, "kept again: {}", again["data_quality"]);

    // A kept row (5 days back, inside every window) changed in place.
    let path = data.join("product_daily.csv");
    let original = std::fs::read_to_string(&path).unwrap();
    let recent = date_of(day_of(as_of()) - 5).to_string();
    let mut lines: Vec<String> = original.lines().map(str::to_string).collect();
    let at = lines.iter().position(|l| l.starts_with(&recent)).unwrap();
    let mut f: Vec<String> = lines[at].split(',').map(str::to_string).collect();
    f[3] = "-5".into();
    lines[at] = f.join(",");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let changed = dry_run(app, AS_OF);
    assert_eq!(judged(&changed), judged(&fresh()), "a kept row changed");
    assert_eq!(quarantined(&changed), quarantined(&again) + 1, "the changed kept row is caught: {}", changed["data_quality"]);
    assert_eq!(kept_rows(&changed, "product_daily"), 0);
    // Put back, the file is read whole, kept, then read after its kept rows.
    std::fs::write(&path, &original).unwrap();
    dry_run(app, AS_OF);
    let back = dry_run(app, AS_OF);
    assert!(kept_rows(&back, "product_daily") > 0, "{}", back["data_quality"]);
    assert_eq!(judged(&back), judged(&again));

    // A kept row (3 days back) repeated at the file's end: a duplicate.
    let recent = date_of(day_of(as_of()) - 3).to_string();
    let row = original.lines().find(|l| l.starts_with(&recent)).unwrap().to_string();
    std::fs::write(&path, original.clone() + &row + "\n").unwrap();
    let repeated = dry_run(app, AS_OF);
    assert!(kept_rows(&repeated, "product_daily") > 0, "read after the kept rows: {}", repeated["data_quality"]);
    assert_eq!(judged(&repeated), judged(&fresh()), "a kept row repeated");
    assert_eq!(quarantined(&repeated), quarantined(&back) + 1, "the repeat is caught: {}", repeated["data_quality"]);
    std::fs::write(&path, &original).unwrap();
    dry_run(app, AS_OF);
}

/// Issue 17: the next day's run takes the older rows' check from the day
/// before when the files hold those rows unchanged (an export that appended
/// a day: a CSV grown at its end, a Parquet file rewritten with its old row
/// groups as they were), judges only the rest, and says so. Its counts,
/// quarantine and decisions are a fresh database's. An old row changed in
/// the file, or a product whose rows are old turned bad, is judged again.
#[test]
fn the_next_days_run_carries_the_older_rows_check_over_and_judges_as_a_fresh_database_would() {
    let day_before = as_of().pred_opt().unwrap();
    for format in [Format::Csv, Format::Parquet] {
        let (before, after, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        dataset_until(before.path(), format, day_before);
        dataset_until(after.path(), format, as_of());
        if format == Format::Csv {
            // Old faults, the same in both days' files; the later file is
            // the earlier one with a day appended.
            old_faults_in_place(before.path());
            old_faults_in_place(after.path());
            for t in ["product_daily.csv", "campaign_daily.csv"] {
                let (a, b) = (std::fs::read(before.path().join(t)).unwrap(), std::fs::read(after.path().join(t)).unwrap());
                assert!(b.len() > a.len() && b.starts_with(&a), "{t}: the next day's file must begin with the day before's");
            }
        }
        copy_files(before.path(), data.path());
        let app = App::new(data.path(), "[demo]\nenabled = false\n");
        let first = dry_run(&app, &day_before.to_string());
        assert!(carried(&first).is_empty(), "{format:?}: nothing to carry on an empty database: {}", first["data_quality"]);

        copy_files(after.path(), data.path());
        let next = dry_run(&app, AS_OF);
        let fresh = dry_run(&App::new(data.path(), "[demo]\nenabled = false\n"), AS_OF);
        let what = format!("{format:?}");
        assert!(carried(&fresh).is_empty(), "{what}");
        let kept = carried(&next);
        assert_eq!(kept.iter().map(|k| k.0.as_str()).collect::<Vec<_>>(), ["product_daily", "campaign_daily"], "{what}: {}", next["data_quality"]);
        // 300 products × the 112 days before the day before's reach.
        assert!(kept[0].1 >= 300 * 100, "{what}: {kept:?}");
        assert_eq!(judged(&next), judged(&fresh), "{what}: a carried check must count, quarantine and decide as a fresh one");
        // The day before's valid rows from its reach on were kept and read
        // back: only the appended day was read and judged.
        assert!(kept_rows(&next, "product_daily") >= 300 * 40 && kept_rows(&next, "campaign_daily") > 0, "{what}: {}", next["data_quality"]);
        let quarantined = |r: &Value| r["data_quality"]["rows_quarantined"]["product_daily"].as_u64().unwrap();
        if format == Format::Csv {
            // The next read begins past the 100-odd days whose rows all
            // lie before the reach (the file is in date order).
            assert!(marked_line(&app, Table::ProductDaily).is_some_and(|l| l > 300 * 100), "{what}: {:?}", marked_line(&app, Table::ProductDaily));
            assert!(quarantined(&next) >= 4, "{what}: the old faults: {}", next["data_quality"]);
            let md = std::fs::read_to_string(app.report_dir().join("report.md")).unwrap();
            assert!(md.contains("product_daily: the ") && md.contains("were checked by an earlier run and are unchanged in the file"), "{md}");
        }

        // An old row changed in place: a negative units value 151 days back
        // (a day without faults: the first row 150 days back has its repeat
        // after it, which a fault in it would make valid).
        let old = date_of(day_of(as_of()) - 151).to_string();
        match format {
            Format::Csv => {
                let path = data.path().join("product_daily.csv");
                let text = std::fs::read_to_string(&path).unwrap();
                let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
                let at = lines.iter().position(|l| l.starts_with(&old) && !l.contains(",-") && l.split(',').nth(3).is_some_and(|u| !u.is_empty())).unwrap();
                let mut f: Vec<String> = lines[at].split(',').map(str::to_string).collect();
                f[3] = "-5".into();
                lines[at] = f.join(",");
                std::fs::write(&path, lines.join("\n") + "\n").unwrap();
            }
            Format::Parquet => edit_parquet(&data.path().join("product_daily.parquet"), |df| {
                use polars::prelude::*;
                let day = day_of(old.parse().unwrap());
                let first = df.column("date").unwrap().cast(&DataType::Int32).unwrap().i32().unwrap().iter().position(|d| d == Some(day)).unwrap();
                let units = df.column("units_sold").unwrap().cast(&DataType::Int64).unwrap();
                let changed: Vec<Option<i64>> = units.i64().unwrap().iter().enumerate().map(|(i, u)| if i == first { Some(-5) } else { u }).collect();
                let mut df = df;
                df.with_column(Column::new("units_sold".into(), changed)).unwrap();
                df
            }),
        }
        let changed = dry_run(&app, AS_OF);
        let fresh = dry_run(&App::new(data.path(), "[demo]\nenabled = false\n"), AS_OF);
        assert_eq!(judged(&changed), judged(&fresh), "{what}: after an old row changed");
        assert_eq!(quarantined(&changed), quarantined(&next) + 1, "{what}: the changed row is caught: {}", changed["data_quality"]);
        assert!(!carried(&changed).iter().any(|k| k.0 == "product_daily"), "{what}: a changed file is judged again: {}", changed["data_quality"]);
        let again = dry_run(&app, AS_OF);
        assert_eq!(carried(&again).len(), 2, "{what}: and the check carried again the day after");
        assert_eq!(judged(&again), judged(&fresh), "{what}");
        // Read from the marked line this time: the same again.
        let from_tail = dry_run(&app, AS_OF);
        assert_eq!(judged(&from_tail), judged(&fresh), "{what}: read from the marked line");
        assert_eq!(carried(&from_tail).len(), 2, "{what}");

        // A row dated long ago appended at the file's end (a late
        // correction): here a repeat of a row 140 days back, which only a
        // check of all the old rows together tells a duplicate.
        let old = date_of(day_of(as_of()) - 140).to_string();
        match format {
            Format::Csv => {
                let path = data.path().join("product_daily.csv");
                let text = std::fs::read_to_string(&path).unwrap();
                let row = text.lines().find(|l| l.starts_with(&old) && !l.contains(",-") && !l.contains(",,")).unwrap().to_string();
                std::fs::write(&path, text + &row + "\n").unwrap();
            }
            Format::Parquet => edit_parquet(&data.path().join("product_daily.parquet"), |df| {
                use polars::prelude::*;
                let day = day_of(old.parse().unwrap());
                let at = df.column("date").unwrap().cast(&DataType::Int32).unwrap().i32().unwrap().iter().position(|d| d == Some(day)).unwrap();
                df.vstack(&df.slice(at as i64, 1)).unwrap()
            }),
        }
        let late = dry_run(&app, AS_OF);
        let fresh = dry_run(&App::new(data.path(), "[demo]\nenabled = false\n"), AS_OF);
        assert_eq!(judged(&late), judged(&fresh), "{what}: after an old day's row was appended");
        assert_eq!(quarantined(&late), quarantined(&again) + 1, "{what}: the appended repeat is caught: {}", late["data_quality"]);
        assert!(!carried(&late).iter().any(|k| k.0 == "product_daily"), "{what}: {}", late["data_quality"]);
        let again = dry_run(&app, AS_OF);
        assert_eq!(carried(&again).len(), 2, "{what}: carried again after that");
        assert_eq!(judged(&again), judged(&fresh), "{what}");

        if format == Format::Csv {
            in_the_kept_window(&app, data.path());
        }

        if format == Format::Csv {
            // A product with old rows turns bad (a zero price): its rows are
            // of an unknown product now, old ones too.
            let path = data.path().join("products.csv");
            let text = std::fs::read_to_string(&path).unwrap();
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            let header: Vec<&str> = lines[0].split(',').collect();
            let price = header.iter().position(|h| *h == "price").unwrap();
            let mut f: Vec<String> = lines[5].split(',').map(str::to_string).collect();
            f[price] = "0".into();
            lines[5] = f.join(",");
            std::fs::write(&path, lines.join("\n") + "\n").unwrap();
            let turned = dry_run(&app, AS_OF);
            let fresh = dry_run(&App::new(data.path(), "[demo]\nenabled = false\n"), AS_OF);
            assert_eq!(judged(&turned), judged(&fresh), "{what}: after a product turned bad");
            assert!(quarantined(&turned) > quarantined(&again) + 100, "{what}: its old rows are of an unknown product now: {}", turned["data_quality"]);
            assert!(!carried(&turned).iter().any(|k| k.0 == "product_daily"), "{what}: {}", turned["data_quality"]);
        }
    }
}

/// The decisions on the 10k set (issue 17's medium size: 10,000 products ×
/// 1,000 campaigns × 365 days, CSV in date order, as `scripts/bench.sh`
/// makes it) are those of reading every row, as each run did before runs
/// read only their reach: from the reach alone, and on the next day with
/// the older rows' check carried over and the kept rows read back.
#[test]
fn the_ten_thousand_product_set_decides_as_a_whole_history_read_on_a_first_run_and_the_next_day() {
    let (day1, day2): (NaiveDate, NaiveDate) = ("2026-06-29".parse().unwrap(), "2026-06-30".parse().unwrap());
    let (before, after, data) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (dir, until) in [(before.path(), day1), (after.path(), day2)] {
        let o = GenerateOptions { seed: 17, products: 10_000, campaigns: 1_000, days: 366, as_of: day2, format: Format::Csv, faults: false, progress: false, order: RowOrder::Date, until: Some(until) };
        generate(dir, &o).unwrap();
    }
    let mut s = Settings::default();
    s.decisions.policy = serde_json::from_value(Value::String("profit".into())).unwrap();
    let as_of = day_of(day2);
    let planned = |reach: Option<Day>| {
        let (valid, plan, _) = plan_day(&s, batch(after.path(), reach), as_of, None, "scale-test").unwrap();
        let decided: Vec<(String, Value, Vec<String>)> = plan.campaigns.iter().map(|c| (c.row.campaign_id.clone(), serde_json::to_value(c.verdict.decision).unwrap(), c.verdict.reasons.clone())).collect();
        (format!("{:?}|{:?}|{:?}", plan.campaigns, plan.actions, plan.new_campaigns), format!("{:?} {:?}", valid.quality, valid.quarantine.len()), decided)
    };
    let (whole, whole_quality, decided) = planned(None);
    let (reached, reached_quality, _) = planned(Some(needed_from(as_of, &s)));
    // The generator's 1,000 campaigns, less those not live on the day.
    assert!(decided.len() > 900, "{} campaigns decided", decided.len());
    assert!(reached == whole, "the decisions of a read from the reach differ from a whole history read's");
    assert_eq!(reached_quality, whole_quality);

    let config = "[demo]\nenabled = false\n[decisions]\npolicy = \"profit\"\n";
    copy_files(before.path(), data.path());
    let app = App::new(data.path(), config);
    dry_run(&app, &day1.to_string());
    copy_files(after.path(), data.path());
    let next = dry_run(&app, &day2.to_string());
    let fresh = dry_run(&App::new(data.path(), config), &day2.to_string());
    assert_eq!(carried(&next).len(), 2, "{}", next["data_quality"]);
    assert!(kept_rows(&next, "product_daily") > 10_000 * 40 && kept_rows(&next, "campaign_daily") > 1_000 * 40, "{}", next["data_quality"]);
    assert!(judged(&next) == judged(&fresh), "the next day's run judges otherwise than a fresh database");
    // And the run's decisions are the whole history read's, campaign by campaign.
    let reported: Vec<(String, Value, Vec<String>)> = next["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["campaign_id"].as_str().unwrap().to_string(), c["decision"].clone(), serde_json::from_value(c["reasons"].clone()).unwrap()))
        .collect();
    assert_eq!(reported.len(), decided.len());
    let differ: Vec<_> = reported.iter().zip(&decided).filter(|(a, b)| a != b).take(3).collect();
    assert!(differ.is_empty(), "the run and the whole history read decide otherwise: {differ:?}");
}
