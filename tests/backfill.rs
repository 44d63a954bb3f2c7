//! `backfill --from --to`: interrupted part-way by SIGTERM, resumed, each day
//! replayed exactly once, and each day's decisions those of
//! `run --dry-run --as-of` that day.

mod common;

use common::Bounded;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{stderr, App, BIN};
use campaign_pilot::db::Db;

const FROM: &str = "2025-12-01";
const TO: &str = "2026-03-31";
const DAYS: usize = 121;

fn backfill(app: &App) -> Command {
    let mut c = Command::new(BIN);
    c.arg("--config").arg(app.config()).args(["backfill", "--from", FROM, "--to", TO]).current_dir(app.dir.path());
    c
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupted_backfill_resumes_and_replays_each_day_once() {
    let data = tempfile::tempdir().unwrap();
    common::generate(data.path(), &["--products", "1500", "--campaigns", "150", "--days", "200", "--seed", "21", "--as-of", TO]);
    let app = App::new(data.path(), "");
    let url = app.db_url();

    // Leg 1: SIGTERM once a few days are stored.
    let child = backfill(&app).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "no day stored within 120 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
        if app.postgres.is_none() && !app.db_path().exists() {
            continue;
        }
        let Ok(db) = Db::connect(&url).await else { continue };
        let done = db.backfill_days(FROM, TO).await.map(|d| d.len()).unwrap_or(0);
        db.close().await;
        if done >= 3 {
            break;
        }
    }
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let first = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&first.stdout).to_string();
    assert_eq!(first.status.code(), Some(3), "an interrupted backfill is partial: {out}{}", stderr(&first));
    assert!(out.contains("run the same command again to resume"), "{out}");
    let db = Db::connect(&url).await.unwrap();
    let after_first = db.backfill_days(FROM, TO).await.unwrap().len();
    db.close().await;
    assert!((3..DAYS).contains(&after_first), "stopped part-way: {after_first} of {DAYS} days");

    // Leg 2: the same command finishes the range, skipping the days done.
    let second = backfill(&app).bounded().unwrap();
    let out = String::from_utf8_lossy(&second.stdout).to_string();
    assert_eq!(second.status.code(), Some(0), "{out}{}", stderr(&second));
    assert!(
        out.contains(&format!("{DAYS} days, {after_first} already done, {} replayed", DAYS - after_first)),
        "{out}"
    );
    let total = out.lines().find(|l| l.starts_with("total")).unwrap_or_else(|| panic!("a total row: {out}"));
    assert_eq!(total.split_whitespace().nth(1), Some(DAYS.to_string().as_str()), "{out}");

    // Each day once: one summary row and one backfill run per day.
    let db = Db::connect(&url).await.unwrap();
    let days = db.backfill_days(FROM, TO).await.unwrap();
    let dates: Vec<String> = days.iter().map(|d| d.as_of.to_string()).collect();
    let expected: Vec<String> = FROM.parse::<chrono::NaiveDate>().unwrap().iter_days().take(DAYS).map(|d| d.to_string()).collect();
    assert_eq!(dates, expected, "every day of the range, once, in order");
    assert_eq!(db.runs_in_mode(campaign_pilot::model::run::RunMode::Backfill).await.unwrap(), DAYS as i64, "no day was replayed twice");

    // A third invocation has nothing to do.
    let third = backfill(&app).bounded().unwrap();
    assert!(String::from_utf8_lossy(&third.stdout).contains(&format!("{DAYS} days, {DAYS} already done, 0 replayed")));

    // A replayed day decides what `run --dry-run --as-of` decides that day
    // (one before the interruption, one after).
    for d in [&days[1], &days[DAYS - 2]] {
        let stored = common::named(db.decisions_of(&d.run_id).await.unwrap());
        let o = app.run(&d.as_of.to_string());
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let live = common::decisions(&app.report());
        assert!(!stored.is_empty());
        assert_eq!(stored, live, "backfill day {} = run --dry-run --as-of {}", d.as_of, d.as_of);
        assert_eq!(d.campaigns as usize, live.len());
        // Each decision's reasons and budgets as stored are the run's, exactly.
        let report = app.report();
        let rows = db.decision_rows(&d.run_id).await.unwrap();
        assert_eq!(rows.len(), live.len());
        for row in rows {
            let c = report["campaigns"].as_array().unwrap().iter().find(|c| c["campaign_id"] == row.campaign_id.as_str()).unwrap();
            let reasons: Vec<String> = serde_json::from_value(c["reasons"].clone()).unwrap();
            assert_eq!(row.reasons, reasons, "{}", row.campaign_id);
            assert!(!row.reasons.is_empty(), "{}", row.campaign_id);
            let budget = (c["budget"]["current"].as_f64().unwrap(), c["budget"]["proposed"].as_f64().unwrap());
            assert_eq!((row.budget_current.to_bits(), row.budget_proposed.to_bits()), (budget.0.to_bits(), budget.1.to_bits()), "{}", row.campaign_id);
        }
    }
    db.close().await;
}

#[test]
fn a_range_backwards_is_a_usage_error() {
    let data = tempfile::tempdir().unwrap();
    common::generate(data.path(), &["--products", "20", "--campaigns", "4", "--days", "60", "--seed", "2", "--as-of", TO]);
    let app = App::new(data.path(), "");
    let o = Command::new(BIN).arg("--config").arg(app.config()).args(["backfill", "--from", TO, "--to", FROM]).bounded().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is after --to"), "{}", stderr(&o));
}
