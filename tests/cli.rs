//! The binary end to end on generated data: faults, bad configuration, the
//! decision classes, and the embedded default.

mod common;

use common::Bounded;

use std::process::Command;

use common::{generate, stderr, App, BIN};

#[test]
fn every_injected_fault_is_quarantined_with_its_reason_and_counted() {
    let data = tempfile::tempdir().unwrap();
    generate(
        data.path(),
        &["--seed", "7", "--products", "60", "--campaigns", "20", "--days", "60", "--as-of", "2026-03-31", "--faults"],
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data.path().join("faults.json")).unwrap()).unwrap();
    let app = App::new(data.path(), "");
    let out = app.run("2026-03-31");
    assert!(out.status.success(), "exit {:?}: {}", out.status.code(), stderr(&out));
    let r = app.report();
    let quarantine = r["quarantine_sample"].as_array().unwrap();
    for table in ["products", "product_daily", "campaigns", "campaign_daily"] {
        let expected: Vec<&str> = manifest[table].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(
            r["data_quality"]["rows_quarantined"][table].as_u64().unwrap() as usize,
            expected.len(),
            "{table}: {quarantine:#?}"
        );
        let got: Vec<String> = quarantine
            .iter()
            .filter(|q| q["table"] == table)
            .map(|q| {
                let (c, reason) = (q["column"].as_str().unwrap(), q["reason"].as_str().unwrap());
                if c == "*" { reason.to_string() } else { format!("{c}: {reason}") }
            })
            .collect();
        for e in &expected {
            assert!(got.iter().any(|g| g.starts_with(e)), "{table}: no quarantined row for {e:?} in {got:#?}");
        }
        // Every quarantined CSV row keeps its raw text: nothing is lost.
        assert!(quarantine.iter().filter(|q| q["table"] == table).all(|q| !q["raw"].as_str().unwrap().is_empty()));
    }
}

#[test]
fn bad_configuration_exits_2_naming_every_bad_key() {
    let data = tempfile::tempdir().unwrap();
    let app = App::new(
        data.path(),
        "[decisions]\nmin_days = \"three\"\npause_sales_impact = 5.0\n[budget]\nmin_daily = -1.0\nmax_incrase_pct = 10\n",
    );
    let out = app.run("2026-03-31");
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("decisions.min_days"), "{err}");
    assert!(err.contains("budget.max_incrase_pct: unknown key"), "{err}");

    // Types fixed, the range problems are all reported together.
    let app = App::new(data.path(), "[decisions]\npause_sales_impact = 5.0\n[budget]\nmin_daily = -1.0\n");
    let out = app.run("2026-03-31");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("decisions.pause_sales_impact"), "{err}");
    assert!(err.contains("budget.min_daily"), "{err}");
}

#[test]
fn an_environment_override_with_a_bad_value_exits_2() {
    let data = tempfile::tempdir().unwrap();
    let app = App::new(data.path(), "");
    let out = Command::new(BIN)
        .arg("--config")
        .arg(app.config())
        .args(["run", "--dry-run", "--as-of", "2026-03-31"])
        .env("CAMPAIGN_PILOT__SIGNIFICANCE__ALPHA", "-0.5")
        .bounded()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("significance.alpha"), "{}", stderr(&out));
}

#[test]
fn a_missing_table_or_column_is_a_configuration_error() {
    let data = tempfile::tempdir().unwrap();
    let app = App::new(data.path(), "");
    let out = app.run("2026-03-31");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("store.path"), "{}", stderr(&out));

    generate(data.path(), &["--products", "10", "--campaigns", "3", "--days", "30", "--as-of", "2026-03-31"]);
    let text = std::fs::read_to_string(data.path().join("products.csv")).unwrap();
    std::fs::write(data.path().join("products.csv"), text.replacen("price", "cost", 1)).unwrap();
    let out = app.run("2026-03-31");
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no column `price`"), "{}", stderr(&out));
}

#[test]
fn generated_data_shows_every_decision_class_and_is_recorded() {
    let data = tempfile::tempdir().unwrap();
    generate(data.path(), &["--seed", "42", "--products", "400", "--campaigns", "120", "--days", "120", "--as-of", "2026-03-31"]);
    let app = App::new(data.path(), "");
    let out = app.run("2026-03-31");
    assert!(out.status.success(), "{}", stderr(&out));
    let r = app.report();
    for class in ["LEARNING", "EMERGENCY_PAUSE", "PAUSE", "CONTINUE", "OPTIMIZE", "MONITOR", "RESUME", "PAUSED"] {
        assert!(r["decision_counts"][class].as_u64().unwrap_or(0) > 0, "no {class}: {}", r["decision_counts"]);
    }
    assert_eq!(r["status"], "succeeded");
    assert_eq!(r["dry_run"], true);
    assert!(r["actions"].as_array().unwrap().iter().all(|a| a["status"] == "proposed"));
    let before = r["totals"]["budget_before"].as_f64().unwrap();
    let after = r["totals"]["budget_after"].as_f64().unwrap();
    assert!(after <= before + 1e-9, "total after {after} > before {before}");
    for f in ["report.json", "report.md", "decisions.csv"] {
        assert!(app.report_dir().join(f).exists(), "{f} missing");
    }
    let csv = std::fs::read_to_string(app.report_dir().join("decisions.csv")).unwrap();
    assert_eq!(csv.lines().count(), r["campaigns"].as_array().unwrap().len() + 1);
}

#[test]
fn rows_after_as_of_are_left_out_and_counted_not_quarantined() {
    let data = tempfile::tempdir().unwrap();
    generate(data.path(), &["--seed", "3", "--products", "50", "--campaigns", "10", "--days", "60", "--as-of", "2026-03-31"]);
    let app = App::new(data.path(), "");
    let out = app.run("2026-03-21");
    assert!(out.status.success(), "{}", stderr(&out));
    let r = app.report();
    let q = &r["data_quality"];
    assert!(q["rows_after_as_of"]["product_daily"].as_u64().unwrap() >= 50 * 10);
    assert_eq!(q["rows_quarantined"]["product_daily"], 0);
    assert_eq!(q["stale"], false);
}

#[test]
fn the_shipped_configuration_runs_on_a_fresh_directory() {
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/pipeline.toml")).unwrap();
    std::fs::write(dir.path().join("pipeline.toml"), shipped).unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args(["run", "--as-of", "2026-11-20"])
        .env_remove("CAMPAIGN_PILOT_CONFIG")
        .bounded()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("report: "), "{stdout}");
    assert!(dir.path().join("demo-data/products.csv").exists());
    assert!(dir.path().join("reports/2026-11-20/report.json").exists());
    assert!(dir.path().join("campaign-pilot.db").exists());
}

#[test]
fn parquet_and_csv_of_the_same_data_give_the_same_decisions() {
    let csv_dir = tempfile::tempdir().unwrap();
    let pq_dir = tempfile::tempdir().unwrap();
    let args = ["--seed", "11", "--products", "120", "--campaigns", "40", "--days", "90", "--as-of", "2026-03-31"];
    generate(csv_dir.path(), &args);
    generate(pq_dir.path(), &[&args[..], &["--format", "parquet"]].concat());
    assert!(pq_dir.path().join("product_daily.parquet").exists());
    let decisions = |dir: &std::path::Path| {
        let app = App::new(dir, "");
        let out = app.run("2026-03-31");
        assert!(out.status.success(), "{}", stderr(&out));
        let r = app.report();
        r["campaigns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| (c["campaign_id"].to_string(), c["decision"].to_string(), c["budget"]["proposed"].to_string()))
            .collect::<Vec<_>>()
    };
    let a = decisions(csv_dir.path());
    assert!(!a.is_empty());
    assert_eq!(a, decisions(pq_dir.path()));
}

#[test]
fn generation_is_deterministic_from_the_seed() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let args = ["--seed", "5", "--products", "30", "--campaigns", "10", "--days", "40", "--as-of", "2026-03-31"];
    generate(a.path(), &args);
    generate(b.path(), &args);
    for t in ["products", "product_daily", "campaigns", "campaign_daily"] {
        let f = format!("{t}.csv");
        assert_eq!(std::fs::read(a.path().join(&f)).unwrap(), std::fs::read(b.path().join(&f)).unwrap(), "{f}");
    }
}

/// The ConfigMap's pipeline.toml is a valid configuration (with the database
/// URL from the Secret), and the CronJob fails without retry on exit 2 and 4.
#[test]
fn the_kubernetes_configuration_is_valid_and_the_cronjob_does_not_retry_bad_config_or_held_runs() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes");
    let cm = std::fs::read_to_string(root.join("configmap.yaml")).unwrap();
    let start = cm.lines().position(|l| l.trim() == "pipeline.toml: |").expect("the ConfigMap holds pipeline.toml");
    let toml: Vec<&str> = cm.lines().skip(start + 1).map(|l| l.strip_prefix("    ").unwrap_or(l.trim())).collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pipeline.toml");
    std::fs::write(&file, toml.join("\n")).unwrap();
    let env = vec![("CAMPAIGN_PILOT__DATABASE__URL".to_string(), "postgres://u:p@db:5432/cp".to_string())];
    let cfg = campaign_pilot::config::load(Some(&file), env.into_iter()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.settings.store.kind.as_str(), "woocommerce");
    assert_eq!(cfg.settings.ads.kind.as_str(), "impact");
    assert!(cfg.database_url().starts_with("postgres://"));

    let cron = std::fs::read_to_string(root.join("cronjob.yaml")).unwrap();
    assert!(cron.contains("concurrencyPolicy: Forbid"));
    assert!(cron.contains("values: [2, 4]"), "exit 2 (bad config) and 4 (held) fail the Job without retry");
    let sharded = std::fs::read_to_string(root.join("cronjob-sharded.yaml")).unwrap();
    let completions = sharded.lines().find_map(|l| l.trim().strip_prefix("completions: ")).expect("an Indexed Job's completions");
    let shards = sharded.lines().skip_while(|l| !l.contains("name: CAMPAIGN_PILOT_SHARDS")).nth(1).expect("CAMPAIGN_PILOT_SHARDS");
    assert_eq!(shards.trim(), format!("value: \"{completions}\""), "the shard count equals the Indexed Job's completions");
    assert!(sharded.contains("completionMode: Indexed") && sharded.contains("values: [2, 4]"));
    let docker = std::fs::read_to_string(root.join("../../Dockerfile")).unwrap();
    assert!(docker.contains("cargo build --release --locked --bin campaign-pilot"), ".ci/run exercises the same command");
}

#[tokio::test(flavor = "multi_thread")]
async fn schedule_runs_on_its_cron_and_stops_cleanly_on_sigterm() {
    let data = tempfile::tempdir().unwrap();
    common::generate(data.path(), &["--products", "40", "--campaigns", "8", "--days", "60", "--seed", "4"]);
    let app = App::new(data.path(), "[schedule]\ncron = [\"*/1 * * * * *\"]\n");
    let child = std::process::Command::new(common::BIN)
        .arg("--config")
        .arg(app.config())
        .arg("schedule")
        .current_dir(app.dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let url = app.db_url();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let mut total = 0;
    while std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        if !app.db_path().exists() && app.postgres.is_none() {
            continue;
        }
        let db = campaign_pilot::db::Db::connect(&url).await.unwrap();
        total = db.run_counts().await.unwrap().0;
        db.close().await;
        if total >= 2 {
            break;
        }
    }
    assert!(total >= 2, "two runs within 90 s, saw {total}");
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("schedule stopped after"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{}", String::from_utf8_lossy(&out.stderr));
    let db = campaign_pilot::db::Db::connect(&url).await.unwrap();
    let (runs, unfinished) = db.run_counts().await.unwrap();
    db.close().await;
    assert!(runs >= 2);
    assert_eq!(unfinished, 0, "no run left running after SIGTERM");
}
