//! The learning loop (SPEC §13) on the real binary: every applied action is
//! followed up from the stored history, the numbers recomputed here from
//! the data files by a path of the test's own; a raise whose revenue did not
//! follow is a miss and makes the next run less sure of that campaign; `tune`
//! finds a better setting than a deliberately bad one.

mod common;

use common::Bounded;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;

use common::{cli, generate, map_csv, stderr, App, BIN};
use serde_json::Value;

/// campaign id → date → (spend, revenue), from a campaign_daily.csv.
fn days(path: &Path) -> HashMap<String, BTreeMap<String, (f64, f64)>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let h = r.headers().unwrap().clone();
    let at = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (d, c, s, v) = (at("date"), at("campaign_id"), at("spend"), at("revenue"));
    let mut out: HashMap<String, BTreeMap<String, (f64, f64)>> = HashMap::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        let e = out.entry(rec[c].to_string()).or_default().entry(rec[d].to_string()).or_default();
        e.0 += rec[s].parse::<f64>().unwrap();
        e.1 += rec[v].parse::<f64>().unwrap();
    }
    out
}

fn date(s: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// The per-day means of a campaign's spend and revenue over `n` days from `first`.
fn window(series: Option<&BTreeMap<String, (f64, f64)>>, first: chrono::NaiveDate, n: i64) -> Vec<(f64, f64)> {
    (0..n)
        .map(|k| {
            let d = (first + chrono::Duration::days(k)).to_string();
            series.and_then(|s| s.get(&d)).copied().unwrap_or((0.0, 0.0))
        })
        .collect()
}

/// R(s) − s on the curve a forecast's `fit` describes (margin 1).
fn curve_profit(fit: &Value, s: f64) -> f64 {
    let g = |k: &str| fit[k].as_f64().unwrap();
    let e = g("elasticity").clamp(0.0, 0.97);
    let roas0 = g("roas") / (1.0 - e);
    let r = if e <= 1e-9 { roas0 * s } else { roas0 * s / (1.0 + s / (g("spend") * (1.0 - e) / e)) };
    r - s
}

fn mean(v: impl Iterator<Item = f64>, n: usize) -> f64 {
    v.sum::<f64>() / n as f64
}

#[test]
fn a_45_day_loop_follows_up_every_action_and_the_numbers_come_from_the_stored_history() {
    let dir = tempfile::tempdir().unwrap();
    let keep = dir.path().join("keep");
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .args(["sandbox", "simulate", "--seed", "11", "--days", "45", "--warmup", "40", "--products", "80", "--campaigns", "24"])
        .args(["--policy", "profit", "--keep"])
        .arg(&keep)
        .bounded()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(table.contains("profit follow-ups:"), "{table}");
    let loop_dir = keep.join("profit");
    let mut reports: Vec<_> = std::fs::read_dir(loop_dir.join("reports")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    reports.sort();
    let report = |p: &Path| -> Value { serde_json::from_str(&std::fs::read_to_string(p.join("report.json")).unwrap()).unwrap() };
    let last = report(reports.last().unwrap());
    let last_day = date(last["as_of"].as_str().unwrap());
    let section = &last["outcomes"];
    let recent = section["recent"].as_array().unwrap();
    assert_eq!(section["recent_total"].as_u64().unwrap(), recent.len() as u64, "none cut");

    // Every action applied at least 14 days before the last day, from the
    // platform's own log, has both follow-ups in the last report.
    let mut applied = csv::Reader::from_path(loop_dir.join("data").join("actions_applied.csv")).unwrap();
    let h = applied.headers().unwrap().clone();
    let (ka, kk) = (h.iter().position(|x| x == "as_of").unwrap(), h.iter().position(|x| x == "key").unwrap());
    let mut due = 0;
    for rec in applied.records() {
        let rec = rec.unwrap();
        if date(&rec[ka]) + chrono::Duration::days(14) > last_day {
            continue;
        }
        due += 1;
        for d in [7, 14] {
            assert!(
                recent.iter().any(|o| o["action_key"] == rec[kk] && o["follow_up_days"] == d),
                "{} has no {d}-day follow-up in the last report",
                &rec[kk]
            );
        }
    }
    assert!(due >= 40, "only {due} actions old enough");

    // Recomputed from the stored history: the windows, the observed change,
    // and the curve's expected change at the spend the campaign really had
    // (from the forecast the action carried in its own day's report).
    let history = days(&loop_dir.join("data").join("campaign_daily.csv"));
    let mut forecasts: HashMap<String, Value> = HashMap::new();
    for p in &reports {
        for a in report(p)["actions"].as_array().unwrap() {
            forecasts.insert(a["key"].as_str().unwrap().to_string(), a["forecast"].clone());
        }
    }
    let (mut checked, mut judged, mut hits) = (0, 0, 0);
    for o in recent {
        let d = o["follow_up_days"].as_i64().unwrap();
        let acted = date(o["action_as_of"].as_str().unwrap());
        let series = history.get(o["campaign_id"].as_str().unwrap());
        let before = window(series, acted - chrono::Duration::days(d - 1), d);
        let after = window(series, acted + chrono::Duration::days(1), d);
        let n = d as usize;
        let profit = |w: &[(f64, f64)]| mean(w.iter().map(|x| x.1 - x.0), n);
        let observed = profit(&after) - profit(&before);
        let g = |k: &str, w: &str| o[k][w].as_f64().unwrap();
        assert!((g("before", "spend") - mean(before.iter().map(|x| x.0), n)).abs() < 1e-6, "{o}");
        assert!((g("after", "revenue") - mean(after.iter().map(|x| x.1), n)).abs() < 1e-6, "{o}");
        assert!((o["observed_delta"].as_f64().unwrap() - observed).abs() < 1e-6, "{o} vs {observed}");
        let fit = &forecasts[o["action_key"].as_str().unwrap()]["fit"];
        if fit.is_object() {
            let expected = mean(after.iter().map(|x| curve_profit(fit, x.0)), n) - mean(before.iter().map(|x| curve_profit(fit, x.0)), n);
            let stored = o["expected_delta"].as_f64().unwrap();
            assert!((stored - expected).abs() < 1e-6 * (1.0 + expected.abs()), "{o} vs {expected}");
            let (lo, hi) = (o["low"].as_f64().unwrap(), o["high"].as_f64().unwrap());
            assert_eq!(o["hit"].as_bool().unwrap(), lo <= observed && observed <= hi, "{o}");
            judged += 1;
            hits += usize::from(o["hit"] == true);
        }
        checked += 1;
    }
    assert!(checked >= 2 * due && judged * 10 >= checked * 9, "{checked} checked, {judged} judged");
    // The per-rule table adds up, and the intervals hold about as often as they say.
    let per_rule = section["per_rule"].as_array().unwrap();
    assert_eq!(per_rule.iter().map(|r| r["count"].as_u64().unwrap()).sum::<u64>(), recent.len() as u64);
    let coverage = hits as f64 / judged as f64;
    assert!((0.65..=0.95).contains(&coverage), "coverage {coverage}");
    let note = section["calibration"]["note"].as_str().unwrap();
    assert!(note.contains("followed-up forecasts fell inside"), "{note}");
}

#[test]
fn a_raise_whose_revenue_did_not_follow_is_a_miss_and_the_next_run_is_less_sure_of_that_campaign() {
    const FIRST: &str = "2026-03-24";
    const LATER: &str = "2026-03-31";
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), &["--seed", "42", "--products", "200", "--campaigns", "60", "--days", "90", "--as-of", LATER]);
    let app = App::new(d.path(), "[decisions]\npolicy = \"profit\"\n[act]\nmode = \"auto\"\n");
    // Which campaign the run raises most (a dry run first).
    let out = app.run(FIRST);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let up = |a: &Value| a["to"].as_f64().unwrap() - a["from"].as_f64().unwrap();
    let raises = |r: &Value| -> Vec<Value> {
        r["actions"].as_array().unwrap().iter().filter(|a| a["kind"] == "set_budget" && up(a) > 0.0).cloned().collect()
    };
    let id = raises(&app.report())
        .iter()
        .max_by(|a, b| up(a).total_cmp(&up(b)))
        .expect("a raise")["campaign_id"]
        .as_str()
        .unwrap()
        .to_string();
    // A steady campaign: its last week before the raise at its average
    // spend and revenue every day (so a week's average is not noise).
    let file = d.path().join("campaign_daily.csv");
    let week = window(days(&file).get(&id), date(FIRST) - chrono::Duration::days(6), 7);
    let (spend_before, revenue_before) = (mean(week.iter().map(|x| x.0), 7), mean(week.iter().map(|x| x.1), 7));
    let (spend_before, revenue_before) = ((spend_before * 100.0).round() / 100.0, (revenue_before * 100.0).round() / 100.0);
    let steady = |day: chrono::NaiveDate| day > date(FIRST) - chrono::Duration::days(7) && day <= date(FIRST);
    map_csv(&file, |h, mut row| {
        let at = |n: &str| h.iter().position(|x| x == n).unwrap();
        if row[at("campaign_id")] == id && steady(date(&row[at("date")])) {
            row[at("spend")] = format!("{spend_before:.2}");
            row[at("revenue")] = format!("{revenue_before:.2}");
        }
        row
    });
    let out = app.command(FIRST).bounded().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let first = app.report();
    let raise = raises(&first).into_iter().find(|a| a["campaign_id"] == id.as_str() && a["status"] == "applied").expect("the steady campaign is raised");
    let (from, to) = (raise["from"].as_f64().unwrap(), raise["to"].as_f64().unwrap());
    let before_se = first["campaigns"].as_array().unwrap().iter().find(|c| c["campaign_id"] == id.as_str()).unwrap()["response"]["log_roas_se"]
        .as_f64()
        .unwrap();

    // The week after: it spent its new budget, and sold no more than before.
    let spend_after = (spend_before * to / from * 100.0).round() / 100.0;
    map_csv(&file, |h, mut row| {
        let at = |n: &str| h.iter().position(|x| x == n).unwrap();
        if row[at("campaign_id")] == id && date(&row[at("date")]) > date(FIRST) {
            row[at("spend")] = format!("{spend_after:.2}");
            row[at("revenue")] = format!("{revenue_before:.2}");
        }
        row
    });

    let out = app.command(LATER).bounded().unwrap();
    assert!(matches!(out.status.code(), Some(0) | Some(4)), "{}", stderr(&out));
    let later = app.report();
    let due = later["outcomes"]["due"].as_array().unwrap();
    let o = due
        .iter()
        .find(|o| o["action_key"] == raise["key"] && o["follow_up_days"] == 7)
        .unwrap_or_else(|| panic!("the raise was not followed up: {due:?}"));
    assert_eq!(o["rule"], "budget_up");
    assert_eq!(o["hit"], false, "{o}");
    // Its numbers: 7 days before and after, more spent, the same revenue.
    let g = |w: &str, k: &str| o[w][k].as_f64().unwrap();
    assert!((g("before", "spend") - spend_before).abs() < 1e-6 && (g("after", "spend") - spend_after).abs() < 1e-6, "{o}");
    assert!((g("before", "revenue") - revenue_before).abs() < 1e-6 && (g("after", "revenue") - revenue_before).abs() < 1e-6, "{o}");
    assert!((o["observed_delta"].as_f64().unwrap() + (spend_after - spend_before)).abs() < 1e-6, "{o}");
    let expected = o["expected_delta"].as_f64().unwrap();
    let fit = &raise["forecast"]["fit"];
    assert!((expected - (curve_profit(fit, spend_after) - curve_profit(fit, spend_before))).abs() < 1e-6 * (1.0 + expected.abs()), "{o}");
    assert!(expected > 0.0 && o["high"].as_f64().unwrap() > o["low"].as_f64().unwrap(), "{o}");
    // `outcomes --campaign` shows it, a miss.
    let listed = cli(&app, &["outcomes", "--campaign", &id, "--json"]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert!(listed.as_array().unwrap().iter().any(|x| x["action_key"] == raise["key"] && x["hit"] == false), "{listed}");
    let text = cli(&app, &["outcomes", "--rule", "budget_up"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("miss"), "{}", String::from_utf8_lossy(&text.stdout));
    // And the next run is less sure of it: its uncertainty widened, said in
    // its reasons, wider than the same run without the learning loop's widening.
    let c = later["campaigns"].as_array().unwrap().iter().find(|c| c["campaign_id"] == id.as_str()).unwrap().clone();
    assert!(c["reasons"].as_array().unwrap().iter().any(|r| r.as_str().unwrap().starts_with("learning:forecasts_missed")), "{c}");
    let widened = later["outcomes"]["calibration"]["widened"].as_array().unwrap();
    let k = widened.iter().find(|w| w[0] == id.as_str()).expect("the campaign is widened")[1].as_f64().unwrap();
    assert!(k > 1.0, "{k}");
    let control = app.command(LATER).arg("--dry-run").env("CAMPAIGN_PILOT__LEARNING__CALIBRATE", "false").bounded().unwrap();
    assert!(matches!(control.status.code(), Some(0) | Some(4)), "{}", stderr(&control));
    let plain = app.report();
    let se = |r: &Value| r["campaigns"].as_array().unwrap().iter().find(|c| c["campaign_id"] == id.as_str()).unwrap()["response"]["log_roas_se"].as_f64().unwrap();
    assert!((se(&later) - k * se(&plain)).abs() < 1e-9 * se(&later), "widened {} = {k} × {}", se(&later), se(&plain));
    assert!(se(&later) > se(&plain) && before_se > 0.0);
    // The page says so.
    let html = std::fs::read_to_string(app.report_dir().join("report.html")).unwrap();
    assert!(html.contains("Did the changes work?"), "no section on the page");
}

#[test]
fn tune_finds_a_better_setting_than_a_deliberately_bad_one_and_leaves_the_config_alone() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    let body = "[model]\npause_confidence = 0.5\n";
    std::fs::write(&config, body).unwrap();
    let suggested = dir.path().join("suggested.toml");
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .arg("--config")
        .arg(&config)
        .args(["tune", "--seed", "7", "--days", "8", "--warmup", "40", "--products", "80", "--campaigns", "24", "--write"])
        .arg(&suggested)
        .bounded()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(table.contains("model.pause_confidence=0.9"), "the grid is printed:\n{table}");
    let best = table.lines().find(|l| l.ends_with("← best")).unwrap_or_else(|| panic!("no best:\n{table}"));
    assert!(!best.contains("  current"), "the bad setting came out best:\n{table}");
    assert!(table.contains("Best: "), "{table}");
    let written = std::fs::read_to_string(&suggested).unwrap();
    assert!(written.contains("[model]") || written.contains("[budget]") || written.contains("[decisions]"), "{written}");
    let pc: Option<f64> = written.lines().find_map(|l| l.strip_prefix("pause_confidence = ")).map(|v| v.parse().unwrap());
    assert!(pc.is_none_or(|v| v > 0.5), "{written}");
    assert_eq!(std::fs::read_to_string(&config).unwrap(), body, "tune edited the configuration");
}

#[test]
fn tune_replays_the_stored_history_with_each_setting() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), &["--seed", "42", "--products", "200", "--campaigns", "60", "--days", "90", "--as-of", "2026-03-31"]);
    let app = App::new(d.path(), "[decisions]\npolicy = \"profit\"\n");
    let json = app.config().with_file_name("replay.json");
    let out = cli(&app, &["tune", "--from", "2026-03-27", "--to", "2026-03-31", "--replay-only", "--json", json.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(table.contains("replay of the stored history 2026-03-27 to 2026-03-31"), "{table}");
    let rows: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let row = |label: &str| rows.as_array().unwrap().iter().find(|r| r["label"] == label).unwrap_or_else(|| panic!("no {label}: {rows}")).clone();
    let n = |r: &Value, k: &str| r[k].as_u64().unwrap();
    let current = row("current");
    assert_eq!(n(&current, "days"), 5);
    assert!(n(&current, "actions") > 0 && current["expected_gain_per_day"].as_f64().unwrap() > 0.0, "{current}");
    // A pause needs more confidence at 0.99 than at 0.8; looser caps let
    // the allocator reach more of what the model expects (it maximises that).
    let (eager, shy) = (row("model.pause_confidence=0.8"), row("model.pause_confidence=0.99"));
    assert!(n(&eager, "pauses") >= n(&current, "pauses") && n(&current, "pauses") >= n(&shy, "pauses"), "{eager} {current} {shy}");
    assert!(n(&eager, "pauses") > n(&shy, "pauses"), "the confidence changes nothing: {eager} {shy}");
    let gain = |label: &str| row(label)["expected_gain_per_day"].as_f64().unwrap();
    assert!(gain("budget.max_increase_pct=10") < gain("current") && gain("current") < gain("budget.max_increase_pct=40"), "{rows}");
    // Nothing was applied or proposed by the replay.
    assert!(!d.path().join("actions_applied.csv").exists() || common::applied_keys(d.path()).is_empty());
}
