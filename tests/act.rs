//! The act stage end to end on the `files` ads connector: exactly once under
//! crashes, guardrails, kill switch, locks, manual mode, the run lock.

mod common;

use common::Bounded;

use std::collections::BTreeSet;
use std::os::unix::process::ExitStatusExt;

use common::{applied_keys, copy_data, generate, stderr, App};

const AS_OF: &str = "2026-03-31";

/// A generated portfolio whose plan passes the guardrails and has actions.
fn data() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), &["--seed", "2", "--products", "200", "--campaigns", "60", "--days", "90", "--as-of", AS_OF]);
    d
}

fn planned_keys(app: &App) -> BTreeSet<String> {
    app.report()["actions"].as_array().unwrap().iter().map(|a| a["key"].as_str().unwrap().to_string()).collect()
}

fn statuses(app: &App) -> BTreeSet<String> {
    app.report()["actions"].as_array().unwrap().iter().map(|a| a["status"].as_str().unwrap().to_string()).collect()
}

#[test]
fn auto_mode_applies_every_action_once_and_a_rerun_applies_nothing_new() {
    let d = data();
    let app = App::new(d.path(), "");
    let out = app.command(AS_OF).bounded().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let planned = planned_keys(&app);
    assert!(planned.len() >= 5, "want a plan with actions, got {planned:?}");
    assert_eq!(statuses(&app), BTreeSet::from(["applied".to_string()]));
    let keys = applied_keys(d.path());
    assert_eq!(keys.len(), planned.len());
    assert_eq!(keys.iter().cloned().collect::<BTreeSet<_>>(), planned);

    let out = app.command(AS_OF).bounded().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(applied_keys(d.path()).len(), planned.len(), "a rerun must not append again");
    assert!(app.report()["actions"].as_array().unwrap().iter().all(|a| a["reason"]
        .as_str()
        .unwrap()
        .starts_with("already applied")));
}

/// Kills the act stage at every journal transition of the plan of `source`,
/// then a second time in the rerun, then reruns cleanly: every planned key
/// ends up applied exactly once.
fn crash_at_every_point(source: &tempfile::TempDir) {
    // The full plan, from a dry run: the keys that must end up applied.
    let probe = App::new(source.path(), "");
    assert!(probe.run(AS_OF).status.success());
    let planned = planned_keys(&probe);
    // Journal transitions: the plan, every action marked sent, each append to
    // the platform, every applied action marked applied.
    let points = 3 + planned.len() as u64;
    assert!(points >= 20, "want at least 20 crash points, have {points}");
    let mut crashed = 0;
    for point in 1..=points {
        let d = copy_data(source.path());
        let _ = std::fs::remove_file(d.path().join("actions_applied.csv"));
        let app = App::new(d.path(), "");
        let out = app.command(AS_OF).env("CAMPAIGN_PILOT_TEST_CRASH_AT", point.to_string()).bounded().unwrap();
        if out.status.signal() == Some(9) {
            crashed += 1;
        } else {
            assert!(out.status.success(), "point {point}: {}", stderr(&out));
        }
        // A second crash a little later in the rerun, then a clean rerun.
        let again = app.command(AS_OF).env("CAMPAIGN_PILOT_TEST_CRASH_AT", "3").bounded().unwrap();
        assert!(again.status.signal() == Some(9) || again.status.success(), "point {point}: {}", stderr(&again));
        let out = app.command(AS_OF).bounded().unwrap();
        assert_eq!(out.status.code(), Some(0), "point {point}: {}", stderr(&out));
        let keys = applied_keys(d.path());
        let unique: BTreeSet<String> = keys.iter().cloned().collect();
        assert_eq!(unique.len(), keys.len(), "point {point}: an action was applied twice: {keys:?}");
        assert_eq!(unique, planned, "point {point}: applied set differs from the plan");
    }
    assert_eq!(crashed, points, "every point should have killed the process");
}

#[test]
fn a_crash_at_any_point_of_the_act_stage_still_applies_each_action_exactly_once() {
    crash_at_every_point(&data());
}

#[test]
fn a_crash_at_any_point_applies_each_action_once_even_with_commas_quotes_and_line_breaks_in_ids() {
    let source = data();
    let probe = App::new(source.path(), "");
    assert!(probe.run(AS_OF).status.success());
    let actions = probe.report()["actions"].as_array().unwrap().clone();
    // Every campaign acted on and every product to be given a campaign.
    let mut rename = std::collections::BTreeMap::new();
    for a in &actions {
        for id in [a["campaign_id"].as_str().unwrap(), a["product_id"].as_str().unwrap()] {
            if !id.is_empty() {
                rename.insert(id.to_string(), format!("{id},\"q\nx"));
            }
        }
    }
    common::rename_ids(source.path(), &rename);
    let probe = App::new(source.path(), "");
    assert!(probe.run(AS_OF).status.success());
    let keys = planned_keys(&probe);
    assert!(keys.iter().filter(|k| k.contains(",\"q\nx")).count() >= keys.len() / 2, "{keys:?}");
    crash_at_every_point(&source);
}

#[test]
fn a_torn_last_line_is_cut_before_appending() {
    let d = data();
    let app = App::new(d.path(), "");
    std::fs::write(
        d.path().join("actions_applied.csv"),
        "as_of,key,campaign_id,product_id,kind,from,to,paused_by,effective_date\n2026-03-31,2026-03-31/C0",
    )
    .unwrap();
    let out = app.command(AS_OF).bounded().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(d.path().join("actions_applied.csv")).unwrap();
    assert!(text.lines().all(|l| l.split(',').count() == 9), "{text}");
    assert_eq!(applied_keys(d.path()).into_iter().collect::<BTreeSet<_>>(), planned_keys(&app));
}

fn assert_held(app: &App, d: &std::path::Path, out: &std::process::Output, guardrail: &str) {
    assert_eq!(out.status.code(), Some(4), "{}", stderr(out));
    let r = app.report();
    assert_eq!(r["status"], "held");
    let held: Vec<&str> = r["held_by"].as_array().unwrap().iter().map(|h| h["guardrail"].as_str().unwrap()).collect();
    assert!(held.contains(&guardrail), "{held:?}");
    let h = r["held_by"].as_array().unwrap().iter().find(|h| h["guardrail"] == guardrail).unwrap();
    assert!(h["value"].as_f64().unwrap() > h["limit"].as_f64().unwrap());
    assert_eq!(statuses(app), BTreeSet::from(["proposed".to_string()]));
    assert!(applied_keys(d).is_empty(), "a held run applied something");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("HELD by {guardrail}")));
}

#[test]
fn each_guardrail_holds_the_whole_plan_and_says_why() {
    for (toml, guardrail) in [
        ("[act]\nmax_actions = 2\n", "max_actions"),
        ("[act]\nmax_action_fraction = 0.01\n", "max_action_fraction"),
        ("[act]\nmax_pause_fraction = 0.01\n", "max_pause_fraction"),
    ] {
        let d = data();
        let app = App::new(d.path(), toml);
        let out = app.command(AS_OF).bounded().unwrap();
        assert_held(&app, d.path(), &out, guardrail);
    }
}

#[test]
fn stale_data_holds_the_plan() {
    let d = data();
    let app = App::new(d.path(), "");
    // The data ends on AS_OF; judging the next day finds no row for it.
    let out = app.command("2026-04-01").bounded().unwrap();
    assert_held(&app, d.path(), &out, "stale_data");
    assert_eq!(app.report()["data_quality"]["stale"], true);
}

#[test]
fn too_many_quarantined_rows_hold_the_plan() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), &["--seed", "2", "--products", "200", "--campaigns", "60", "--days", "90", "--as-of", AS_OF, "--faults"]);
    let app = App::new(d.path(), "[act]\nmax_quarantine_fraction = 0.0001\n");
    let out = app.command(AS_OF).bounded().unwrap();
    assert_held(&app, d.path(), &out, "max_quarantine_fraction");
}

#[test]
fn the_kill_switch_applies_nothing() {
    let d = data();
    let app = App::new(d.path(), "");
    let out = app.command(AS_OF).env("CAMPAIGN_PILOT_KILL_SWITCH", "1").bounded().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(applied_keys(d.path()).is_empty());
    assert!(app.report()["actions"].as_array().unwrap().iter().all(|a| a["status"] == "proposed"
        && a["reason"].as_str().unwrap().starts_with("kill_switch")));
}

#[test]
fn act_enabled_false_and_manual_mode_apply_nothing() {
    for (toml, why) in [("[act]\nenabled = false\n", "act.enabled=false"), ("[act]\nmode = \"manual\"\n", "manual mode")] {
        let d = data();
        let app = App::new(d.path(), toml);
        let out = app.command(AS_OF).bounded().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(applied_keys(d.path()).is_empty(), "{why}");
        let r = app.report();
        assert!(!r["actions"].as_array().unwrap().is_empty());
        assert!(r["actions"].as_array().unwrap().iter().all(|a| a["status"] == "proposed"
            && a["reason"].as_str().unwrap().starts_with(why)));
    }
}

#[test]
fn a_locked_campaign_is_reported_but_never_acted_on() {
    let d = data();
    let probe = App::new(d.path(), "");
    assert!(probe.run(AS_OF).status.success());
    let r = probe.report();
    let target = r["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "pause")
        .expect("a pause in the plan")["campaign_id"]
        .as_str()
        .unwrap()
        .to_string();
    let app = App::new(d.path(), &format!("[act]\nlocked_campaigns = [\"{target}\"]\n"));
    let out = app.command(AS_OF).bounded().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let r = app.report();
    let c = r["campaigns"].as_array().unwrap().iter().find(|c| c["campaign_id"] == target.as_str()).unwrap();
    assert!(c["reasons"].as_array().unwrap().iter().any(|x| x == "locked"));
    assert_eq!(c["budget"]["proposed"], c["budget"]["current"], "a locked budget neither gives nor takes");
    assert!(r["actions"].as_array().unwrap().iter().all(|a| a["campaign_id"] != target.as_str()));
    assert!(applied_keys(d.path()).iter().all(|k| !k.contains(&format!("/{target}/"))));
}

/// Holds the run lock the way another run would: an OS lock on the SQLite
/// lock file, or a session advisory lock on PostgreSQL (a psql kept open).
enum Holder {
    File(std::fs::File),
    Psql(std::process::Child),
}

fn hold_lock(app: &App) -> Holder {
    match &app.postgres {
        None => {
            let path = format!("{}.run.lock", app.db_path().display());
            let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            f.try_lock().unwrap();
            Holder::File(f)
        }
        Some(pg) => {
            use std::io::{BufRead, BufReader, Write};
            let mut child = std::process::Command::new("psql")
                .arg(&pg.url)
                .arg("-qtA")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let stdin = child.stdin.as_mut().unwrap();
            writeln!(stdin, "SELECT pg_advisory_lock(hashtext('campaign-pilot:run')::bigint); SELECT 'locked';").unwrap();
            stdin.flush().unwrap();
            let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
            while let Some(Ok(l)) = lines.next() {
                if l.trim() == "locked" {
                    break;
                }
            }
            Holder::Psql(child)
        }
    }
}

fn release(h: Holder) {
    match h {
        Holder::File(f) => drop(f),
        Holder::Psql(mut c) => {
            drop(c.stdin.take());
            let _ = c.wait();
        }
    }
}

#[test]
fn a_second_run_exits_75_while_the_lock_is_held_and_does_nothing() {
    let d = data();
    let app = App::new(d.path(), "");
    // Create the database (and its lock file) with a first run.
    assert!(app.run(AS_OF).status.success());
    let holder = hold_lock(&app);
    let _ = std::fs::remove_dir_all(app.report_dir());
    let out = app.command(AS_OF).bounded().unwrap();
    assert_eq!(out.status.code(), Some(75), "{}", stderr(&out));
    assert!(stderr(&out).contains("another run holds the lock"));
    assert!(!app.report_dir().exists(), "a locked-out run wrote a report");
    assert!(applied_keys(d.path()).is_empty());
    release(holder);
    let out = app.command(AS_OF).bounded().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn two_runs_started_together_one_acts_and_the_other_exits_75_or_finds_it_done() {
    let d = data();
    let app = App::new(d.path(), "");
    assert!(app.run(AS_OF).status.success()); // migrations done
    let spawn = || {
        app.command(AS_OF)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let codes = [a.status.code(), b.status.code()];
    assert!(codes.iter().all(|c| matches!(c, Some(0) | Some(75))), "{codes:?}");
    assert!(codes.contains(&Some(0)));
    let keys = applied_keys(d.path());
    let unique: BTreeSet<_> = keys.iter().collect();
    assert_eq!(unique.len(), keys.len(), "applied twice: {keys:?}");
}
