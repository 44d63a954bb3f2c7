//! The golden test: a small hand-designed portfolio (`tests/fixtures/golden/`)
//! whose expected decisions, metrics, budgets and totals were computed by an
//! independent script (`make_golden.py`, plain Python + scipy, from the SPEC)
//! and checked there against the outcome designed by hand.

mod common;

use common::{stderr, App};
use serde_json::Value;

fn close(got: &Value, want: &Value, what: &str) {
    match (got.as_f64(), want.as_f64()) {
        (Some(g), Some(w)) => assert!((g - w).abs() < 1e-6 * w.abs().max(1.0), "{what}: got {g}, want {w}"),
        _ => assert_eq!(got, want, "{what}"),
    }
}

#[test]
fn golden_portfolio_matches_the_independent_computation() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden");
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("expected.json")).unwrap()).unwrap();
    let app = App::new(&fixture, "[risk.competition]\nelectronics = 0.8\n");
    let out = app.run("2026-03-31");
    assert!(out.status.success(), "{}", stderr(&out));
    let r = app.report();

    let campaigns = r["campaigns"].as_array().unwrap();
    let want = expected["campaigns"].as_object().unwrap();
    assert_eq!(campaigns.len(), want.len(), "ended campaigns are not listed, the rest are");
    for c in campaigns {
        let id = c["campaign_id"].as_str().unwrap();
        let w = &want[id];
        assert_eq!(c["decision"], w["decision"], "{id} decision; reasons {}", c["reasons"]);
        assert_eq!(c["baseline"], w["baseline"], "{id} baseline");
        assert_eq!(c["product_id"], w["product_id"]);
        for (k, v) in w["metrics"].as_object().unwrap() {
            close(&c["metrics"][k], v, &format!("{id} {k}"));
        }
        close(&c["budget"]["current"], &w["budget"]["current"], &format!("{id} budget.current"));
        close(&c["budget"]["proposed"], &w["budget"]["proposed"], &format!("{id} budget.proposed"));
    }
    for k in ["budget_before", "budget_after", "savings"] {
        close(&r["totals"][k], &expected["totals"][k], k);
    }
    let new: Vec<(&str, f64)> = r["new_campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["product_id"].as_str().unwrap(), n["daily_budget"].as_f64().unwrap()))
        .collect();
    let want_new: Vec<(&str, f64)> = expected["new_campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| (n["product_id"].as_str().unwrap(), n["daily_budget"].as_f64().unwrap()))
        .collect();
    assert_eq!(new, want_new);
    assert_eq!(r["data_quality"]["rows_after_as_of"], expected["rows_after_as_of"]);
    assert_eq!(r["data_quality"]["rows_quarantined"]["product_daily"], 0);

    // The reasons say why, in machine-readable form.
    let reasons = |id: &str| -> String {
        campaigns.iter().find(|c| c["campaign_id"] == id).unwrap()["reasons"].to_string()
    };
    assert!(reasons("C04").contains("not_significant"), "{}", reasons("C04"));
    assert!(reasons("C13").contains("no_baseline"), "{}", reasons("C13"));
    assert!(reasons("C11").contains("cooldown"), "{}", reasons("C11"));
    assert!(reasons("C10").contains("paused_by_user"), "{}", reasons("C10"));
    assert!(reasons("C07").contains("learning:spend_days=2<3"), "{}", reasons("C07"));

    // Actions: two pauses, one resume, one budget increase, one create.
    let actions = r["actions"].as_array().unwrap();
    let kinds: Vec<(String, String)> = actions
        .iter()
        .map(|a| (a["kind"].as_str().unwrap().to_string(), a["campaign_id"].as_str().unwrap().to_string()))
        .collect();
    for k in [("pause", "C02"), ("pause", "C03"), ("resume", "C09"), ("set_budget", "C01"), ("create", "")] {
        assert!(kinds.contains(&(k.0.to_string(), k.1.to_string())), "missing {k:?} in {kinds:?}");
    }
    assert_eq!(actions.len(), 5);
    let c03 = actions.iter().find(|a| a["campaign_id"] == "C03").unwrap();
    assert_eq!(c03["paused_by"], "pipeline_emergency");
    assert_eq!(c03["to"], 0.0);
    assert_eq!(c03["effective_date"], "2026-04-01");
    assert_eq!(c03["key"], "2026-03-31/C03/pause/0.00");
}
