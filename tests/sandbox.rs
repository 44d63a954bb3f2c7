//! End to end over HTTP: `sandbox serve` started by the test, then
//! `campaign-pilot run` against its WooCommerce-, GA4- and Impact-shaped
//! routes and its budgeted platform, day after day.

mod common;

use common::Bounded;

use std::collections::{HashMap, HashSet};

use common::{stderr, App, Sandbox};
use serde_json::Value;

const TODAY: &str = "2026-03-31";

use common::IMPACT_ENV;

fn config(url: &str, ads: &str, extra: &str) -> String {
    common::sandbox_config(url, ads, "", extra)
}

fn actions(report: &Value) -> Vec<Value> {
    report["actions"].as_array().cloned().unwrap_or_default()
}

fn with_status<'a>(acts: &'a [Value], status: &str) -> Vec<&'a Value> {
    acts.iter().filter(|a| a["status"] == status).collect()
}

/// Runs until the day's run exits 0 (a partial run, exit 3, is retried the
/// way the next cron tick would); returns the report and how many runs it took.
fn run_day(app: &App, as_of: &str, envs: &[(&str, &str)]) -> (Value, usize) {
    for attempt in 1..=5 {
        let mut c = app.command(as_of);
        for (k, v) in envs {
            c.env(k, v);
        }
        let o = c.bounded().unwrap();
        let code = o.status.code();
        assert!(matches!(code, Some(0) | Some(3)), "run {as_of} exited {code:?}: {}", stderr(&o));
        if code == Some(0) {
            return (app.report(), attempt);
        }
    }
    panic!("the run for {as_of} never completed");
}

async fn campaigns(sb: &Sandbox) -> HashMap<String, Value> {
    let v = sb.get("/_sandbox/campaigns").await;
    v["campaigns"].as_array().unwrap().iter().map(|c| (c["campaign_id"].as_str().unwrap().to_string(), c.clone())).collect()
}

/// Every change the sandbox saw took effect once: no campaign paused,
/// resumed, re-budgeted or created twice by the same action.
async fn assert_exactly_once(sb: &Sandbox, report_keys: usize) {
    let log = sb.get("/_sandbox/log").await;
    let changed: Vec<&Value> = log.as_array().unwrap().iter().filter(|l| l["changed"] == true).collect();
    let mut seen = HashSet::new();
    for l in &changed {
        let k = (l["day"].as_str().unwrap(), l["campaign_id"].as_str().unwrap(), l["what"].as_str().unwrap());
        assert!(seen.insert(k), "applied twice: {l}");
    }
    assert!(changed.len() >= report_keys, "{} changes for {report_keys} applied actions", changed.len());
}

async fn sandbox_platform_days(fail_rate: &str) {
    let sb = Sandbox::start(&["--seed", "11", "--products", "150", "--campaigns", "30", "--today", TODAY, "--fail-rate", fail_rate]);
    let app = App::with_config(&config(&sb.url, "kind = \"sandbox\"", ""));

    // Day 1: everything fetched, decisions acted on through the platform.
    let (r1, _) = run_day(&app, TODAY, &[]);
    let acts = actions(&r1);
    let applied = with_status(&acts, "applied");
    assert!(!applied.is_empty(), "nothing applied: {acts:?}");
    assert_eq!(applied.len(), acts.len(), "every action applies on the sandbox: {acts:?}");
    let state = campaigns(&sb).await;
    let mut paused = Vec::new();
    for a in &applied {
        let id = a["campaign_id"].as_str().unwrap();
        match a["kind"].as_str().unwrap() {
            "pause" => {
                assert_eq!(state[id]["status"], "paused", "{a}");
                paused.push(id.to_string());
            }
            "set_budget" => assert_eq!(state[id]["daily_budget"].as_f64().unwrap(), a["to"].as_f64().unwrap(), "{a}"),
            "resume" => assert_eq!(state[id]["status"], "active", "{a}"),
            "create" => {
                let made: Vec<&Value> = state.values().filter(|c| c["created_by_key"] == a["key"]).collect();
                assert_eq!(made.len(), 1, "one campaign per create: {a}");
            }
            other => panic!("unknown kind {other}"),
        }
    }
    assert!(!paused.is_empty(), "the seed gives losing campaigns to pause: {acts:?}");
    assert_exactly_once(&sb, applied.len()).await;

    // Day 2: the platform moves on; paused campaigns spent nothing, created ones ran.
    let next = sb.post("/_sandbox/advance").await;
    assert_eq!(next["today"], "2026-04-01");
    let day2 = sb.get("/_sandbox/campaign_daily?from=2026-04-01&to=2026-04-01").await;
    let ran: HashSet<String> = day2["rows"].as_array().unwrap().iter().map(|r| r["campaign_id"].as_str().unwrap().to_string()).collect();
    for id in &paused {
        assert!(!ran.contains(id), "paused campaign {id} still ran");
    }
    let created: Vec<String> =
        campaigns(&sb).await.values().filter(|c| c["created_by_key"] != "").map(|c| c["campaign_id"].as_str().unwrap().to_string()).collect();
    assert!(created.iter().any(|id| ran.contains(id)), "no created campaign ran on day 2");

    let (r2, _) = run_day(&app, "2026-04-01", &[]);
    let decisions: HashMap<String, String> = r2["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["campaign_id"].as_str().unwrap().to_string(), c["decision"].as_str().unwrap().to_string()))
        .collect();
    for id in &paused {
        assert_eq!(decisions.get(id).map(String::as_str), Some("PAUSED"), "{id} is seen paused on day 2");
    }
    // Yesterday's keys are not replayed: day 2 acts only under day-2 keys.
    assert!(actions(&r2).iter().all(|a| a["key"].as_str().unwrap().starts_with("2026-04-01/")));

    // Day 3, once more.
    sb.post("/_sandbox/advance").await;
    let (r3, _) = run_day(&app, "2026-04-02", &[]);
    let total = [&r1, &r2, &r3].iter().map(|r| with_status(&actions(r), "applied").len()).sum::<usize>();
    assert_exactly_once(&sb, total).await;
    let stats = sb.get("/_sandbox/stats").await;
    let injected = stats["injected_failures"].as_u64().unwrap();
    if fail_rate == "0" {
        assert_eq!(injected, 0);
    } else {
        assert!(injected >= 5, "the failures were injected: {stats}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn woocommerce_and_the_sandbox_platform_over_several_days() {
    sandbox_platform_days("0").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_fifth_of_calls_failing_every_action_still_applies_exactly_once() {
    sandbox_platform_days("0.2").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_second_run_fetches_only_the_days_that_can_still_change() {
    let sb = Sandbox::start(&["--seed", "3", "--products", "60", "--campaigns", "10", "--today", TODAY]);
    let app = App::with_config(&config(&sb.url, "kind = \"sandbox\"", "[history]\ndays = 50\nstore_refetch_days = 2\nads_refetch_days = 5"));
    let first = app.run(TODAY);
    assert!(first.status.success(), "{}", stderr(&first));
    // Format-agnostic: in JSON logs the field's quotes are escaped.
    assert!(stderr(&first).replace('\\', "").contains(r#"{"campaign_daily": 50, "sales": 50, "views": 50}"#), "{}", stderr(&first));
    let second = app.run(TODAY);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(stderr(&second).replace('\\', "").contains(r#"{"campaign_daily": 5, "sales": 2, "views": 2}"#), "{}", stderr(&second));
    // Same data, same decisions.
    let a: Vec<Value> = app.report()["campaigns"].as_array().unwrap().clone();
    let third = app.run(TODAY);
    assert!(third.status.success());
    assert_eq!(a, app.report()["campaigns"].as_array().unwrap().clone());
}

#[tokio::test(flavor = "multi_thread")]
async fn impact_shaped_routes_ads_are_created_and_ended_and_budgets_live_in_the_ledger() {
    let sb = Sandbox::start(&["--seed", "5", "--products", "150", "--campaigns", "30", "--today", TODAY]);
    let ads = r#"kind = "impact"
program_id = "24811"
rate_limit_per_hour = 0
default_daily_budget = 60.0
ledger_budgets = false"#;
    let app = App::with_config(&config(&sb.url, ads, ""));
    let env = IMPACT_ENV;
    let (r1, _) = run_day(&app, TODAY, &env);
    let acts = actions(&r1);
    let sid = campaign_pilot::connectors::sandbox_auth::IMPACT_SID;
    let mut ended = 0;
    for a in &acts {
        match (a["kind"].as_str().unwrap(), a["status"].as_str().unwrap()) {
            ("set_budget", status) => {
                assert_eq!(status, "skipped", "{a}");
                assert!(a["reason"].as_str().unwrap().contains("cannot set_budget"), "{a}");
            }
            ("pause", "applied") => {
                let ad = authed_get(&sb, &format!("/Advertisers/{sid}/Ads/{}", a["campaign_id"].as_str().unwrap())).await;
                assert_eq!(ad["LimitedTimeEndDate"], "2026-04-01T00:00:00+00:00", "{a}");
                ended += 1;
            }
            ("create", "applied") => {}
            (kind, status) => panic!("{kind} {status}: {a}"),
        }
    }
    assert!(ended > 0, "no ad ended: {acts:?}");
    let created = with_status(&acts, "applied").iter().filter(|a| a["kind"] == "create").count();
    assert!(created > 0, "no ad created: {acts:?}");
    let list = authed_get(&sb, &format!("/Advertisers/{sid}/Ads?CampaignId=24811&PageSize=1000")).await;
    let labelled = list["Ads"].as_array().unwrap().iter().filter(|ad| ad["Labels"].as_str().unwrap().contains(",cp:")).count();
    assert_eq!(labelled, created, "each create made exactly one ad");

    // Next day: the ended ads are paused campaigns, read back from Impact + the ledger.
    sb.post("/_sandbox/advance").await;
    let (r2, _) = run_day(&app, "2026-04-01", &env);
    let paused = r2["campaigns"].as_array().unwrap().iter().filter(|c| c["decision"] == "PAUSED").count();
    assert_eq!(paused, ended, "{:?}", r2["campaigns"]);
}

async fn authed_get(sb: &Sandbox, path: &str) -> Value {
    reqwest::Client::new()
        .get(format!("{}{path}", sb.url))
        .basic_auth(campaign_pilot::connectors::sandbox_auth::IMPACT_SID, Some(campaign_pilot::connectors::sandbox_auth::IMPACT_TOKEN))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn impact_ads_past_a_ledger_budget_someone_set_are_ended_and_budgets_are_kept_in_the_ledger() {
    let sb = Sandbox::start(&["--seed", "5", "--products", "300", "--campaigns", "60", "--today", TODAY]);
    let ads = r#"kind = "impact"
program_id = "24811"
rate_limit_per_hour = 0
ledger_overspend_pct = 10.0"#;
    let app = App::with_config(&config(&sb.url, ads, ""));
    let env = IMPACT_ENV;
    // Day 1: every ad is new to the ledger; its budget is observed, not enforced.
    let (r1, _) = run_day(&app, TODAY, &env);
    let reasons = |c: &Value| c["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_string()).collect::<Vec<_>>();
    for c in r1["campaigns"].as_array().unwrap() {
        assert!(!reasons(c).iter().any(|r| r.starts_with("ledger_budget:")), "an observed budget is not enforced: {c}");
    }
    let acts = actions(&r1);
    // Budget changes are applied to the ledger and read back the next day.
    let budgets: Vec<(String, f64)> = with_status(&acts, "applied")
        .iter()
        .filter(|a| a["kind"] == "set_budget")
        .map(|a| (a["campaign_id"].as_str().unwrap().to_string(), a["to"].as_f64().unwrap()))
        .collect();
    assert!(!budgets.is_empty(), "winners get budget: {acts:?}");
    // A person sets 1.00 on ads that spend and were left running.
    let acted: HashSet<&str> = acts.iter().map(|a| a["campaign_id"].as_str().unwrap()).collect();
    let tight: Vec<String> = r1["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["metrics"]["spend"].as_f64().unwrap() > 20.0 && !acted.contains(c["campaign_id"].as_str().unwrap()))
        .filter(|c| c["decision"] != "PAUSED")
        .map(|c| c["campaign_id"].as_str().unwrap().to_string())
        .take(5)
        .collect();
    assert!(tight.len() >= 3, "{:?}", r1["campaigns"]);
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.db_url()).await.unwrap();
    for id in &tight {
        sqlx::query("UPDATE ads_ledger SET daily_budget = 1.0, budget_source = 'person' WHERE campaign_id = $1").bind(id).execute(&pool).await.unwrap();
    }
    pool.close().await;

    sb.post("/_sandbox/advance").await;
    let (r2, _) = run_day(&app, "2026-04-01", &env);
    for (id, to) in &budgets {
        let c = r2["campaigns"].as_array().unwrap().iter().find(|c| c["campaign_id"] == id.as_str()).unwrap();
        assert_eq!(c["budget"]["current"].as_f64().unwrap(), *to, "{c}");
    }
    let over: Vec<&Value> =
        r2["campaigns"].as_array().unwrap().iter().filter(|c| reasons(c).iter().any(|r| r.starts_with("ledger_budget:"))).collect();
    assert!(!over.is_empty(), "a budget a person set is enforced: {:?}", r2["campaigns"]);
    let sid = campaign_pilot::connectors::sandbox_auth::IMPACT_SID;
    let acts = actions(&r2);
    // Budgets the pipeline set on day 1 (a create's, a change's) are someone's too.
    let created_products: HashSet<String> =
        actions(&r1).iter().filter(|a| a["kind"] == "create").map(|a| a["product_id"].as_str().unwrap().to_string()).collect();
    for c in &over {
        let id = c["campaign_id"].as_str().unwrap();
        let set_by_pipeline = budgets.iter().any(|(b, _)| b == id) || created_products.contains(c["product_id"].as_str().unwrap());
        assert!(tight.iter().any(|t| t == id) || set_by_pipeline, "only budgets someone set are enforced: {c}");
        if !tight.iter().any(|t| t == id) {
            continue;
        }
        assert_eq!(c["decision"], "PAUSE", "{c}");
        let a = acts.iter().find(|a| a["campaign_id"] == id && a["kind"] == "pause").unwrap_or_else(|| panic!("no pause for {id}"));
        assert_eq!(a["status"], "applied", "{a}");
        let ad = authed_get(&sb, &format!("/Advertisers/{sid}/Ads/{id}")).await;
        assert_eq!(ad["LimitedTimeEndDate"], "2026-04-02T00:00:00+00:00");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_woocommerce_store_without_a_views_source_gets_null_view_impact_with_the_reason() {
    let sb = Sandbox::start(&["--seed", "9", "--products", "80", "--campaigns", "12", "--today", TODAY]);
    let body = config(&sb.url, "kind = \"sandbox\"", "").replacen("kind = \"sandbox\"\nbase_url", "kind = \"woocommerce\"\nbase_url", 1);
    assert!(body.contains("kind = \"woocommerce\""));
    let app = App::with_config(&body);
    let run = |key: &str| {
        let mut c = app.command(TODAY);
        c.env("WOOCOMMERCE_KEY", key).env("WOOCOMMERCE_SECRET", campaign_pilot::connectors::sandbox_auth::WOO_SECRET).arg("--dry-run");
        c.bounded().unwrap()
    };
    // A wrong key: exit 2, the message names the variables, the secret is not echoed.
    let bad = run("ck_wrong");
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("WOOCOMMERCE_KEY and WOOCOMMERCE_SECRET") && stderr(&bad).contains("Consumer key is invalid."), "{}", stderr(&bad));
    assert!(!stderr(&bad).contains(campaign_pilot::connectors::sandbox_auth::WOO_SECRET));

    let ok = run(campaign_pilot::connectors::sandbox_auth::WOO_KEY);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let r = app.report();
    let campaigns = r["campaigns"].as_array().unwrap();
    let active: Vec<&Value> = campaigns.iter().filter(|c| c["decision"] != "PAUSED" && c["decision"] != "LEARNING").collect();
    assert!(!active.is_empty());
    for c in &active {
        assert!(c["metrics"]["view_impact_pct"].is_null(), "{c}");
        let reasons: Vec<&str> = c["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
        if c["decision"] == "MONITOR" && !reasons.iter().any(|r| r.starts_with("not_significant")) {
            assert!(reasons.iter().any(|r| r.starts_with("no_views_source")), "{c}");
        }
        assert_ne!(c["decision"], "CONTINUE", "CONTINUE needs views: {c}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_woocommerce_analytics_daily_sales_come_from_orders_and_match() {
    // The same world twice: once with Analytics, once without (orders only).
    let args = ["--seed", "21", "--products", "60", "--campaigns", "10", "--today", TODAY];
    let with = Sandbox::start(&args);
    let without = Sandbox::start(&[&args[..], &["--no-analytics"]].concat());
    let mut reports = Vec::new();
    for sb in [&with, &without] {
        let app = App::with_config(&config(&sb.url, "kind = \"sandbox\"", "[history]\ndays = 30"));
        let o = app.run(TODAY);
        assert!(o.status.success(), "{}", stderr(&o));
        if std::ptr::eq(sb, &without) {
            assert!(stderr(&o).contains("reading daily sales from orders"), "{}", stderr(&o));
        }
        reports.push(app.report()["campaigns"].clone());
    }
    // Orders (cancelled ones left out) give the same units and revenue, so the same decisions and metrics.
    assert_eq!(reports[0], reports[1]);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_stops_a_run_between_two_actions_and_the_rerun_sends_the_rest_once() {
    // 400 ms an answer: the run is still acting when the test sends SIGTERM.
    let sb = Sandbox::start(&["--seed", "11", "--products", "150", "--campaigns", "30", "--today", TODAY, "--latency-ms", "400"]);
    let app = App::with_config(&config(&sb.url, "kind = \"sandbox\"", ""));
    let child = app.command(TODAY).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        assert!(std::time::Instant::now() < deadline, "no action applied within 120 s");
        let log = sb.get("/_sandbox/log").await;
        if log.as_array().unwrap().iter().any(|l| l["changed"] == true) {
            break;
        }
    }
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(3), "stopped part-way is partial: {}", stderr(&o));
    let r1 = app.report();
    let acts = actions(&r1);
    let applied = with_status(&acts, "applied");
    let stopped: Vec<&Value> = acts.iter().filter(|a| a["reason"].as_str().unwrap().starts_with("stopped:")).collect();
    assert!(!applied.is_empty(), "the actions before the signal were applied: {acts:?}");
    assert!(!stopped.is_empty(), "the actions after it were left, each saying why: {acts:?}");
    assert_eq!(applied.len() + stopped.len(), acts.len(), "nothing half-done: {acts:?}");
    assert!(stopped.iter().all(|a| a["status"] == "skipped"));
    assert_eq!(r1["status"], "partial");
    // What the platform saw matches the report: the applied ones, once.
    let log = sb.get("/_sandbox/log").await;
    let changed = log.as_array().unwrap().iter().filter(|l| l["changed"] == true).count();
    assert_eq!(changed, applied.len(), "{log}");

    // The next run for the day decides afresh from what the platform now
    // shows (the campaigns paused before the signal read back as paused),
    // sends what is left, and repeats nothing.
    let (r2, _) = run_day(&app, TODAY, &[]);
    let acts2 = actions(&r2);
    assert_eq!(with_status(&acts2, "applied").len(), acts2.len(), "{acts2:?}");
    let before: HashSet<&str> = applied.iter().map(|a| a["key"].as_str().unwrap()).collect();
    let mut sent_now = 0;
    for a in &acts2 {
        if before.contains(a["key"].as_str().unwrap()) {
            assert!(a["reason"].as_str().unwrap().starts_with("already applied"), "not sent again: {a}");
        } else {
            sent_now += 1;
        }
    }
    assert!(sent_now > 0, "the rest were sent: {acts2:?}");
    let decisions: HashMap<&str, &str> =
        r2["campaigns"].as_array().unwrap().iter().map(|c| (c["campaign_id"].as_str().unwrap(), c["decision"].as_str().unwrap())).collect();
    for a in applied.iter().filter(|a| a["kind"] == "pause") {
        assert_eq!(decisions[a["campaign_id"].as_str().unwrap()], "PAUSED", "paused before the signal: {a}");
    }
    assert_exactly_once(&sb, applied.len() + sent_now).await;
    let log = sb.get("/_sandbox/log").await;
    assert_eq!(log.as_array().unwrap().iter().filter(|l| l["changed"] == true).count(), applied.len() + sent_now, "each action took effect once");
}

#[tokio::test(flavor = "multi_thread")]
async fn backfill_over_the_api_history_fetches_once_and_matches_a_dry_run_of_each_day() {
    let sb = Sandbox::start(&["--seed", "3", "--products", "60", "--campaigns", "10", "--today", TODAY]);
    let app = App::with_config(&config(&sb.url, "kind = \"sandbox\"", ""));
    let o = std::process::Command::new(common::BIN)
        .arg("--config")
        .arg(app.config())
        .args(["backfill", "--from", "2026-03-25", "--to", TODAY])
        .bounded()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    assert!(out.contains("7 days, 0 already done, 7 replayed"), "{out}");
    let fetched = stderr(&o).lines().filter(|l| l.contains("fetched the missing history once")).count();
    assert_eq!(fetched, 1, "one fetch for the whole range: {}", stderr(&o));

    // A day of the backfill decides what a dry run that day decides (the
    // dry run reads the same stored history, fetching only its tail).
    let url = app.db_url();
    let db = campaign_pilot::db::Db::connect(&url).await.unwrap();
    let days = db.backfill_days("2026-03-25", TODAY).await.unwrap();
    assert_eq!(days.len(), 7);
    let day = &days[3];
    let stored = common::named(db.decisions_of(&day.run_id).await.unwrap());
    db.close().await;
    let o = app.run(&day.as_of.to_string());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let live = common::decisions(&app.report());
    assert!(!stored.is_empty());
    assert_eq!(stored, live, "backfill day {} = run --dry-run --as-of that day", day.as_of);
}
