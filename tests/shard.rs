//! Sharding (SPEC §11): `run --shard K/N` decides for the campaigns whose
//! stable hash falls in shard K; the shards together decide what one
//! unsharded run decides, and the same shard never runs twice at once.

mod common;

use common::Bounded;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{stderr, App, Sandbox, BIN};
use serde_json::Value;

const AS_OF: &str = "2026-03-31";

fn run_shard(app: &App, shard: Option<&str>, dir: &str) -> Value {
    let mut c = Command::new(BIN);
    c.arg("--config").arg(app.config()).args(["run", "--dry-run", "--as-of", AS_OF, "--report-dir"]);
    c.arg(app.dir.path().join(dir)).env_remove("JOB_COMPLETION_INDEX");
    if let Some(k) = shard {
        c.args(["--shard", k]);
    }
    let o = c.bounded().unwrap();
    assert_eq!(o.status.code(), Some(0), "shard {shard:?}: {}", stderr(&o));
    serde_json::from_str(&std::fs::read_to_string(app.dir.path().join(dir).join("report.json")).unwrap()).unwrap()
}

/// campaign_id → (decision, metrics) of a report.
fn decisions(report: &Value) -> BTreeMap<String, (Value, Value)> {
    report["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["campaign_id"].as_str().unwrap().to_string(), (c["decision"].clone(), c["metrics"].clone())))
        .collect()
}

#[test]
fn three_shards_decide_together_what_one_unsharded_run_decides() {
    let data = tempfile::tempdir().unwrap();
    common::generate(data.path(), &["--products", "300", "--campaigns", "60", "--days", "90", "--seed", "8", "--as-of", AS_OF]);
    let app = App::new(data.path(), "");
    let whole = run_shard(&app, None, "whole");
    assert_eq!(whole["shard"], Value::Null);
    let all = decisions(&whole);
    assert!(all.len() >= 50, "{}", all.len());
    let classes: std::collections::BTreeSet<String> = all.values().map(|(d, _)| d.to_string()).collect();
    assert!(classes.len() >= 3, "a dataset with several decision classes: {classes:?}");

    let mut union = BTreeMap::new();
    for k in 0..3 {
        let label = format!("{k}/3");
        let part = run_shard(&app, Some(&label), &format!("shard{k}"));
        assert_eq!(part["shard"], Value::String(label.clone()));
        let mine = decisions(&part);
        assert!(!mine.is_empty() && mine.len() < all.len(), "shard {label} has some but not all campaigns: {}", mine.len());
        for id in mine.keys() {
            assert_eq!(campaign_pilot::model::shard::Shard::of(id, 3), k, "{id} is in shard {label} by its hash");
        }
        // Actions and new campaigns stay inside the shard too.
        for a in part["actions"].as_array().unwrap() {
            let subject = if a["campaign_id"] == "" { &a["product_id"] } else { &a["campaign_id"] };
            assert_eq!(campaign_pilot::model::shard::Shard::of(subject.as_str().unwrap(), 3), k, "{a}");
        }
        let md = std::fs::read_to_string(app.dir.path().join(format!("shard{k}")).join("report.md")).unwrap();
        assert!(md.contains(&format!("shard {label}")), "the report says which shard it covers");
        for (id, d) in mine {
            assert!(union.insert(id.clone(), d).is_none(), "{id} decided by two shards");
        }
    }
    assert_eq!(union, all, "the union of the shards' decisions and metrics is the unsharded run's");
}

#[test]
fn a_bad_shard_is_a_usage_error() {
    let data = tempfile::tempdir().unwrap();
    common::generate(data.path(), &["--products", "20", "--campaigns", "4", "--days", "60", "--seed", "2", "--as-of", AS_OF]);
    let app = App::new(data.path(), "");
    let o = app.command(AS_OF).args(["--dry-run", "--shard", "3/3"]).bounded().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("shard 3 of 3"), "{}", stderr(&o));
    let o = app.command(AS_OF).arg("--dry-run").env("JOB_COMPLETION_INDEX", "1").env_remove("CAMPAIGN_PILOT_SHARDS").bounded().unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("CAMPAIGN_PILOT_SHARDS"), "{}", stderr(&o));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_shard_never_runs_twice_at_once_but_other_shards_do() {
    // A slow store (1 s an answer) keeps the first run in flight.
    let sb = Sandbox::start(&["--seed", "6", "--products", "40", "--campaigns", "9", "--today", AS_OF, "--latency-ms", "1000"]);
    let app = App::with_config(&format!(
        "[store]\nkind = \"sandbox\"\nbase_url = \"{u}\"\nallow_http = true\n[ads]\nkind = \"sandbox\"\nbase_url = \"{u}\"\nallow_http = true\n[report]\ndir = \"reports\"\n",
        u = sb.url
    ));
    let url = app.db_url();
    let spawn = |shard: &str| {
        Command::new(BIN)
            .arg("--config")
            .arg(app.config())
            .args(["run", "--dry-run", "--as-of", AS_OF])
            .env("JOB_COMPLETION_INDEX", shard)
            .env("CAMPAIGN_PILOT_SHARDS", "3")
            .current_dir(app.dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut first = spawn("0");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "the first run never started");
        assert!(first.try_wait().unwrap().is_none(), "the first run ended before the test saw it running");
        tokio::time::sleep(Duration::from_millis(50)).await;
        if app.postgres.is_none() && !app.db_path().exists() {
            continue;
        }
        // The first run may still be creating the database (SQLite): a
        // database that cannot be read yet is a database not running yet.
        let Ok(db) = campaign_pilot::db::Db::connect(&url).await else { continue };
        let counts = db.run_counts().await;
        db.close().await;
        match counts {
            Ok((_, 1)) => break,
            Ok(_) => {}
            Err(e) => eprintln!("not readable yet: {e}"),
        }
    }
    let same = spawn("0").wait_with_output().unwrap();
    assert_eq!(same.status.code(), Some(75), "the same shard is locked: {}", stderr(&same));
    assert!(stderr(&same).contains("another run holds the lock"));
    assert!(first.try_wait().unwrap().is_none(), "the first run was still in flight when the second was refused");
    let other = spawn("1");
    let other = other.wait_with_output().unwrap();
    let first = first.wait_with_output().unwrap();
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(other.status.code(), Some(0), "another shard runs beside it: {}", stderr(&other));
    let db = campaign_pilot::db::Db::connect(&url).await.unwrap();
    let (runs, running) = db.run_counts().await.unwrap();
    db.close().await;
    assert_eq!((runs, running), (2, 0), "the refused run recorded nothing");
    for k in [0, 1] {
        let dir = app.dir.path().join(format!("reports/{AS_OF}/shard-{k}-of-3"));
        assert!(dir.join("report.json").exists(), "each shard's report in its own directory: {}", dir.display());
    }
}
