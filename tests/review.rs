//! Human in the loop: approve, reject, rollback and history, end to end.

mod common;

use common::Bounded;

use std::collections::BTreeSet;
use std::process::{Command, Output};

use common::{applied_keys, generate, stderr, App, BIN};

const AS_OF: &str = "2026-03-31";

fn data() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), &["--seed", "2", "--products", "200", "--campaigns", "60", "--days", "90", "--as-of", AS_OF]);
    d
}

fn cli(app: &App, args: &[&str]) -> Output {
    Command::new(BIN).arg("--config").arg(app.config()).args(args).env_remove("CAMPAIGN_PILOT_CONFIG").bounded().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn manual_proposals_are_applied_by_approve_once_each() {
    let d = data();
    let app = App::new(d.path(), "[act]\nmode = \"manual\"\n");
    let out = app.command(AS_OF).bounded().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = app.report();
    let run_id = r["run_id"].as_str().unwrap().to_string();
    let keys: Vec<String> = r["actions"].as_array().unwrap().iter().map(|a| a["key"].as_str().unwrap().to_string()).collect();
    assert!(keys.len() >= 3);
    assert!(applied_keys(d.path()).is_empty());

    // One proposal by its key.
    let out = cli(&app, &["approve", &keys[0]]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(applied_keys(d.path()), vec![keys[0].clone()]);

    // The rest by the run id; the first is not applied again.
    let out = cli(&app, &["approve", &run_id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let applied = applied_keys(d.path());
    assert_eq!(applied.len(), keys.len(), "{applied:?}");
    assert_eq!(applied.iter().collect::<BTreeSet<_>>(), keys.iter().collect::<BTreeSet<_>>());

    // Nothing is left to approve.
    let out = cli(&app, &["approve", &run_id]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(stderr(&out).contains("no waiting proposal"));

    // The audit history has every approval with its before and after values.
    let out = cli(&app, &["history"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert_eq!(text.lines().filter(|l| l.contains("approve")).count(), keys.len(), "{text}");
    let first = &r["actions"][0];
    let campaign = first["campaign_id"].as_str().unwrap();
    if !campaign.is_empty() {
        let out = cli(&app, &["history", "--campaign", campaign]);
        let text = stdout(&out);
        assert!(text.lines().skip(1).all(|l| l.contains(campaign)), "{text}");
        assert!(text.contains(&format!("{:.2}", first["from"].as_f64().unwrap())), "{text}");
    }
}

#[test]
fn a_held_run_can_be_approved_by_a_person() {
    let d = data();
    let app = App::new(d.path(), "[act]\nmax_actions = 1\n");
    let out = app.command(AS_OF).bounded().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let r = app.report();
    let n = r["actions"].as_array().unwrap().len();
    // The guardrail holds the approval too, until a person insists.
    let out = cli(&app, &["approve", r["run_id"].as_str().unwrap()]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("max_actions"), "{}", stderr(&out));
    assert!(applied_keys(d.path()).is_empty());
    let out = cli(&app, &["approve", "--force", r["run_id"].as_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(applied_keys(d.path()).len(), n);
}

#[test]
fn rejected_proposals_are_never_applied() {
    let d = data();
    let app = App::new(d.path(), "[act]\nmode = \"manual\"\n");
    assert_eq!(app.command(AS_OF).bounded().unwrap().status.code(), Some(0));
    let run_id = app.report()["run_id"].as_str().unwrap().to_string();
    let out = cli(&app, &["reject", &run_id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = cli(&app, &["approve", &run_id]);
    assert_eq!(out.status.code(), Some(2));
    assert!(applied_keys(d.path()).is_empty());
    let history = stdout(&cli(&app, &["history"]));
    assert!(history.lines().filter(|l| l.contains("rejected")).count() >= 3, "{history}");
}

#[test]
fn rollback_applies_each_inverse_once() {
    let d = data();
    let app = App::new(d.path(), "");
    assert_eq!(app.command(AS_OF).bounded().unwrap().status.code(), Some(0));
    let r = app.report();
    let run_id = r["run_id"].as_str().unwrap().to_string();
    let actions = r["actions"].as_array().unwrap().clone();
    let before = applied_keys(d.path());
    assert_eq!(before.len(), actions.len());

    let out = cli(&app, &["rollback", &run_id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = std::fs::read_to_string(d.path().join("actions_applied.csv")).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().skip(1).map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2 * actions.len());
    for a in &actions {
        let key = a["key"].as_str().unwrap();
        let inv = rows.iter().find(|r| r[1] == format!("rollback/{key}")).unwrap_or_else(|| panic!("no rollback of {key}"));
        let (from, to) = (a["from"].as_f64().unwrap(), a["to"].as_f64().unwrap());
        let (ifrom, ito): (f64, f64) = (inv[5].parse().unwrap(), inv[6].parse().unwrap());
        match a["kind"].as_str().unwrap() {
            "pause" => assert_eq!((inv[4], ifrom, ito), ("resume", 0.0, from)),
            "resume" => assert_eq!((inv[4], ifrom, ito), ("pause", to, 0.0)),
            "set_budget" => assert_eq!((inv[4], ifrom, ito), ("set_budget", to, from)),
            "create" => assert_eq!((inv[4], ifrom, ito), ("pause", to, 0.0)),
            k => panic!("unexpected kind {k}"),
        }
    }
    // Rolling back again changes nothing.
    let out = cli(&app, &["rollback", &run_id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(applied_keys(d.path()).len(), 2 * actions.len());
    let history = stdout(&cli(&app, &["history"]));
    assert_eq!(history.lines().filter(|l| l.contains(" rollback ")).count(), actions.len(), "{history}");
    // An unknown run is bad usage.
    assert_eq!(cli(&app, &["rollback", "no-such-run"]).status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollback_is_dated_by_the_clock_it_is_given() {
    use campaign_pilot::clock::FixedClock;
    use campaign_pilot::review::{rollback, ReviewContext};
    let d = data();
    let app = App::new(d.path(), "");
    assert_eq!(app.command(AS_OF).bounded().unwrap().status.code(), Some(0));
    let run_id = app.report()["run_id"].as_str().unwrap().to_string();
    let cfg = campaign_pilot::config::load(Some(&app.config()), Vec::new()).unwrap();
    let noon = chrono::DateTime::parse_from_rfc3339("2026-04-05T12:00:00Z").unwrap().with_timezone(&chrono::Utc);
    let ctx = ReviewContext { cfg: &cfg, clock: &FixedClock(noon), stop: Default::default() };
    let summary = rollback(&ctx, &run_id).await.unwrap();
    assert!(!summary.actions.is_empty());
    let mut r = csv::Reader::from_path(d.path().join("actions_applied.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).filter(|rec| rec[1].starts_with("rollback/")).collect();
    assert_eq!(rows.len(), summary.actions.len());
    for rec in &rows {
        assert_eq!((&rec[0], &rec[8]), ("2026-04-05", "2026-04-06"), "as_of today, effective tomorrow: {rec:?}");
    }
}
