//! The correctness bugs the foundations work found, each pinned end to end:
//! a rollback is a person's pause, an approved create keeps its copy, ids
//! with commas and quotes survive a crash, a first Impact run takes budgets
//! from what ads spend, stored history that does not decode is an error
//! naming its table and column, and bad `views.csv` rows are quarantined.

mod common;

use common::Bounded;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;

use common::{cli, exec, generate, stderr, App, Sandbox};
use serde_json::Value;

const TODAY: &str = "2026-03-31";

/// The sandbox's Impact credentials, as the environment gives them.
use common::IMPACT_ENV;

/// A store and an ad platform on the sandbox, with guardrails opened wide.
fn sandbox_config(url: &str, ads: &str, act: &str) -> String {
    common::sandbox_config(url, ads, act, "")
}

fn actions(r: &Value) -> Vec<Value> {
    r["actions"].as_array().cloned().unwrap_or_default()
}

async fn sandbox_campaigns(sb: &Sandbox) -> Vec<Value> {
    sb.get("/_sandbox/campaigns").await["campaigns"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollback_pauses_as_a_person_so_the_matrix_never_resumes_it() {
    let sb = Sandbox::start(&["--seed", "11", "--products", "150", "--campaigns", "30", "--today", TODAY]);
    let app = App::with_config(&sandbox_config(&sb.url, "kind = \"sandbox\"", ""));
    let o = app.command(TODAY).bounded().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = app.report();
    let created: Vec<String> = actions(&r).iter().filter(|a| a["kind"] == "create").map(|a| a["key"].as_str().unwrap().to_string()).collect();
    assert!(!created.is_empty(), "the seed gives new campaigns: {:?}", actions(&r));

    let o = cli(&app, &["rollback", r["run_id"].as_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // The campaigns the run created are paused now, by a person.
    let rolled_back: Vec<Value> =
        sandbox_campaigns(&sb).await.into_iter().filter(|c| created.iter().any(|k| c["created_by_key"] == k.as_str())).collect();
    assert_eq!(rolled_back.len(), created.len());
    for c in &rolled_back {
        assert_eq!(c["status"], "paused", "{c}");
        assert_eq!(c["paused_by"], "user", "a rollback is a person's decision: {c}");
    }

    // Well past the cooldown, the matrix leaves them paused for the person.
    for _ in 0..9 {
        sb.post("/_sandbox/advance").await;
    }
    let later = "2026-04-09";
    let o = app.run(later);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = app.report();
    for c in &rolled_back {
        let id = c["campaign_id"].as_str().unwrap();
        let d = r["campaigns"].as_array().unwrap().iter().find(|d| d["campaign_id"] == id).unwrap_or_else(|| panic!("{id} judged"));
        assert_eq!(d["decision"], "PAUSED", "{d}");
        assert_eq!(d["reasons"][0], "paused_by_user", "{d}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approved_create_reaches_the_platform_with_its_copy() {
    let sb = Sandbox::start(&["--seed", "11", "--products", "150", "--campaigns", "30", "--today", TODAY]);
    let app = App::with_config(&sandbox_config(&sb.url, "kind = \"sandbox\"", "mode = \"manual\""));
    let o = app.command(TODAY).bounded().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = app.report();
    let names: HashMap<String, String> = r["new_campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["product_id"].as_str().unwrap().to_string(), n["name"].as_str().unwrap().to_string()))
        .collect();
    assert!(!names.is_empty(), "the seed gives new campaigns");
    // Nothing reached the platform yet.
    assert!(sandbox_campaigns(&sb).await.iter().all(|c| c["created_by_key"] == ""));

    let o = cli(&app, &["approve", r["run_id"].as_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let made: Vec<Value> = sandbox_campaigns(&sb).await.into_iter().filter(|c| c["created_by_key"] != "").collect();
    assert_eq!(made.len(), names.len());
    for c in &made {
        let want = &names[c["product_id"].as_str().unwrap()];
        assert_eq!(c["name"].as_str().unwrap(), want, "the proposal's copy, not a placeholder: {c}");
    }
}

/// Keys of `actions_applied.csv`, read as CSV.
fn applied_keys_csv(dir: &Path) -> Vec<String> {
    let Ok(mut r) = csv::Reader::from_path(dir.join("actions_applied.csv")) else { return Vec::new() };
    r.records().map(|rec| rec.unwrap()[1].to_string()).collect()
}

#[test]
fn ids_with_commas_and_quotes_are_found_again_after_a_crash_between_sent_and_applied() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), &["--seed", "2", "--products", "200", "--campaigns", "60", "--days", "90", "--as-of", TODAY]);
    let app = App::new(d.path(), "");
    assert!(app.run(TODAY).status.success());
    let first = actions(&app.report());
    // One campaign acted on and one product to be given a campaign, renamed
    // with a comma and a quote everywhere they appear.
    let campaign = first.iter().find(|a| a["campaign_id"] != "").expect("a campaign action")["campaign_id"].as_str().unwrap().to_string();
    let product = first.iter().find(|a| a["kind"] == "create").expect("a create")["product_id"].as_str().unwrap().to_string();
    let rename = BTreeMap::from([(campaign.clone(), format!("{campaign},\"x")), (product.clone(), format!("{product},\"y"))]);
    common::rename_ids(d.path(), &rename);
    assert!(app.run(TODAY).status.success());
    let planned: BTreeSet<String> = actions(&app.report()).iter().map(|a| a["key"].as_str().unwrap().to_string()).collect();
    assert!(planned.iter().any(|k| k.contains(&format!("{campaign},\"x"))), "{planned:?}");
    assert!(planned.iter().any(|k| k.contains(&format!("{product},\"y"))), "{planned:?}");

    // Killed after the last append, before anything is marked applied: every
    // action is on the platform and `sent` in the journal.
    let point = 2 + planned.len();
    let o = app.command(TODAY).env("CAMPAIGN_PILOT_TEST_CRASH_AT", point.to_string()).bounded().unwrap();
    assert_eq!(o.status.signal(), Some(9), "{}", stderr(&o));
    assert_eq!(applied_keys_csv(d.path()).len(), planned.len());

    let o = app.command(TODAY).bounded().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let keys = applied_keys_csv(d.path());
    assert_eq!(keys.len(), planned.len(), "an action was sent twice: {keys:?}");
    assert_eq!(keys.into_iter().collect::<BTreeSet<_>>(), planned);
    assert!(actions(&app.report()).iter().all(|a| a["status"] == "applied" && a["reason"].as_str().unwrap().starts_with("reconciled")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_impact_run_takes_each_ads_budget_from_its_own_recent_spend() {
    let sb = Sandbox::start(&["--seed", "5", "--products", "300", "--campaigns", "60", "--today", TODAY]);
    // The defaults a new user has: a 50.00 default budget, enforcement on.
    let ads = "kind = \"impact\"\nprogram_id = \"24811\"\nrate_limit_per_hour = 0";
    let body = sandbox_config(&sb.url, ads, "").replace("max_action_fraction = 1.0\nmax_pause_fraction = 1.0\nmax_actions = 1000\n", "");
    let app = App::with_config(&body);
    let mut c = app.command(TODAY);
    c.envs(IMPACT_ENV);
    let o = c.bounded().unwrap();
    assert_eq!(o.status.code(), Some(0), "not held, nothing paused for a budget nobody set: {}", stderr(&o));
    let r = app.report();
    let campaigns = r["campaigns"].as_array().unwrap();
    assert!(campaigns.len() >= 40, "{}", campaigns.len());
    for c in campaigns {
        let reasons: Vec<&str> = c["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
        assert!(!reasons.iter().any(|r| r.starts_with("ledger_budget:")), "{c}");
    }

    // Each ad's budget is the mean of its last 7 days with spend, in cents,
    // recorded in the ledger as observed.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.db_url()).await.unwrap();
    let rows: Vec<(String, String, f64)> = sqlx::query_as(
        "SELECT ad_id, event_date, SUM(cost) FROM impact_actions WHERE state <> 'REVERSED' AND event_date <= $1 GROUP BY ad_id, event_date ORDER BY ad_id, event_date",
    )
    .bind(TODAY)
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut spend: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (ad, _, s) in rows {
        let s = (s * 100.0).round() / 100.0;
        if s > 0.0 {
            spend.entry(ad).or_default().push(s);
        }
    }
    let ledger: Vec<(String, f64, Option<String>)> =
        sqlx::query_as("SELECT campaign_id, daily_budget, budget_source FROM ads_ledger").fetch_all(&pool).await.unwrap();
    let ledger: HashMap<String, (f64, Option<String>)> = ledger.into_iter().map(|(id, b, s)| (id, (b, s))).collect();
    pool.close().await;
    let mut checked = 0;
    for c in campaigns {
        let id = c["campaign_id"].as_str().unwrap();
        let Some(days) = spend.get(id) else { continue };
        let last: Vec<f64> = days.iter().rev().take(7).copied().collect();
        let want = ((last.iter().sum::<f64>() / last.len() as f64) * 100.0 + 1e-6).floor() / 100.0;
        assert!((c["budget"]["current"].as_f64().unwrap() - want).abs() < 0.005, "{id}: want {want}: {c}");
        let (b, source) = &ledger[id];
        // A budget the run then set is the pipeline's.
        let set = actions(&r).into_iter().find(|a| a["campaign_id"] == id && a["kind"] == "set_budget" && a["status"] == "applied");
        match set {
            Some(a) => {
                assert!((b - a["to"].as_f64().unwrap()).abs() < 0.005, "{id}: ledger {b}: {a}");
                assert_eq!(source.as_deref(), Some("pipeline"), "{id}");
            }
            None => {
                assert!((b - want).abs() < 0.005, "{id}: ledger {b}, want {want}");
                assert_eq!(source.as_deref(), Some("observed"), "{id}");
            }
        }
        assert!(c["reasons"].as_array().unwrap().iter().any(|r| r.as_str().unwrap().starts_with("budget_observed:")), "{c}");
        checked += 1;
    }
    assert!(checked >= 30, "{checked} ads checked");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stored_history_day_that_does_not_parse_fails_the_run_naming_table_and_column() {
    let sb = Sandbox::start(&["--seed", "3", "--products", "60", "--campaigns", "10", "--today", TODAY]);
    let app = App::with_config(&sandbox_config(&sb.url, "kind = \"sandbox\"", ""));
    let o = app.run(TODAY);
    assert!(o.status.success(), "{}", stderr(&o));
    // A day inside the window's range as text, but not a date.
    exec(
        &app.db_url(),
        "INSERT INTO history_campaign_daily (source, date, campaign_id, impressions, clicks, spend, conversions, revenue, new_customers) \
         SELECT source, '2026-03-2x', campaign_id, impressions, clicks, spend, conversions, revenue, new_customers \
         FROM history_campaign_daily WHERE date = '2026-03-20'",
    )
    .await;
    let o = app.run(TODAY);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("history_campaign_daily") && e.contains("date") && e.contains("2026-03-2x"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stored_history_value_of_the_wrong_type_is_an_error_not_a_panic() {
    if std::env::var("DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")) {
        return; // PostgreSQL refuses the wrong type at insert: only SQLite can hold it
    }
    let sb = Sandbox::start(&["--seed", "3", "--products", "60", "--campaigns", "10", "--today", TODAY]);
    let app = App::with_config(&sandbox_config(&sb.url, "kind = \"sandbox\"", ""));
    let o = app.run(TODAY);
    assert!(o.status.success(), "{}", stderr(&o));
    // A day before the refetched tail (history.ads_refetch_days), so the run reads it back as stored.
    exec(&app.db_url(), "UPDATE history_campaign_daily SET spend = 'lots' WHERE date = '2026-02-10'").await;
    let o = app.run(TODAY);
    assert_eq!(o.status.code(), Some(1), "an error, not a panic (101): {}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("history_campaign_daily.spend"), "{e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_views_csv_rows_are_quarantined_and_counted() {
    let sb = Sandbox::start(&["--seed", "3", "--products", "60", "--campaigns", "10", "--today", TODAY]);
    let views = tempfile::tempdir().unwrap();
    let products = sb.get("/wp-json/wc/v3/products?per_page=5&consumer_key=ck_sandbox&consumer_secret=cs_sandbox").await;
    let id = products[0]["id"].as_u64().unwrap();
    std::fs::write(
        views.path().join("views.csv"),
        format!("date,product_id,views\n2026-03-30,{id},40\n2026-03-31,{id},41\n2026-03-3x,{id},5\n2026-03-29,,7\n2026-03-28,{id},many\n"),
    )
    .unwrap();
    let store_views = format!("[views]\nkind = \"files\"\npath = \"{}\"\n", views.path().display());
    let app = App::with_config(&(sandbox_config(&sb.url, "kind = \"sandbox\"", "") + &store_views));
    let o = app.run(TODAY);
    assert!(o.status.success(), "{}", stderr(&o));
    let r = app.report();
    assert_eq!(r["data_quality"]["rows_read"]["views"], 5, "{}", r["data_quality"]);
    assert_eq!(r["data_quality"]["rows_quarantined"]["views"], 3, "{}", r["data_quality"]);
    let q: Vec<&Value> = r["quarantine_sample"].as_array().unwrap().iter().filter(|q| q["table"] == "views").collect();
    let lines: Vec<(u64, &str)> = q.iter().map(|q| (q["line"].as_u64().unwrap(), q["column"].as_str().unwrap())).collect();
    assert_eq!(lines, vec![(4, "date"), (5, "product_id"), (6, "views")], "{q:?}");
    assert!(q[0]["raw"].as_str().unwrap().contains("2026-03-3x"), "{q:?}");
}

/// A generated portfolio on the files connectors whose plan has actions.
fn files_app(extra: &str) -> (tempfile::TempDir, App) {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), &["--seed", "2", "--products", "200", "--campaigns", "60", "--days", "90", "--as-of", TODAY]);
    let app = App::new(d.path(), extra);
    (d, app)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_journal_state_nobody_knows_stops_the_rerun_instead_of_sending_again() {
    let (d, app) = files_app("");
    let o = app.command(TODAY).bounded().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let before = applied_keys_csv(d.path());
    assert!(!before.is_empty());
    // A state written by something newer (or a broken tool): not "planned".
    exec(&app.db_url(), &format!("UPDATE action_journal SET state = 'sending' WHERE action_key = '{}'", before[0].replace('\'', "''"))).await;
    let o = app.command(TODAY).bounded().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("action_journal.state") && stderr(&o).contains("sending"), "{}", stderr(&o));
    assert_eq!(applied_keys_csv(d.path()), before, "nothing was sent again");
}

/// A manual-mode run on generated data: its proposals wait in the database.
fn manual_run() -> (tempfile::TempDir, App, Value) {
    let (d, app) = files_app("[act]\nmode = \"manual\"\n");
    let o = app.command(TODAY).bounded().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = app.report();
    (d, app, r)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_proposal_of_an_unknown_kind_is_refused_not_created() {
    let (d, app, r) = manual_run();
    let pause = actions(&r).into_iter().find(|a| a["kind"] == "pause").expect("a pause");
    let key = pause["key"].as_str().unwrap().to_string();
    exec(&app.db_url(), &format!("UPDATE proposed_actions SET kind = 'paws' WHERE action_key = '{key}'")).await;
    let o = cli(&app, &["approve", &key]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("proposed_actions.kind") && stderr(&o).contains("paws"), "{}", stderr(&o));
    assert!(applied_keys_csv(d.path()).is_empty(), "nothing was applied, least of all a create");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_proposal_whose_key_has_no_date_is_refused_not_applied_as_of_1970() {
    let (d, app, r) = manual_run();
    let key = actions(&r)[0]["key"].as_str().unwrap().to_string();
    let bad = key.replacen(TODAY, "someday", 1);
    exec(&app.db_url(), &format!("UPDATE proposed_actions SET action_key = '{bad}' WHERE action_key = '{key}'")).await;
    let o = cli(&app, &["approve", &bad]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("proposed_actions.action_key") && stderr(&o).contains("someday"), "{}", stderr(&o));
    assert!(applied_keys_csv(d.path()).is_empty(), "nothing was applied");
}
