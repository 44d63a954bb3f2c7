//! `campaign-pilot mcp` with a client this project did not write: the
//! Python `mcp` SDK from PyPI (`.ci/run` installs it into a venv and names
//! its python in CAMPAIGN_PILOT_TEST_PYTHON). The tools are listed with their
//! schemas and called over stdio against a database a real run filled; the
//! answers are report.json's numbers, field by field; bad calls get an error
//! each and the server keeps serving; every call is audited.

mod common;

use common::Bounded;

use std::process::Command;

use common::{applied_keys, filled, stderr, App, Served, AS_OF, BIN};
use serde_json::{json, Value};

fn python() -> String {
    let py = std::env::var("CAMPAIGN_PILOT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py).args(["-c", "import mcp"]).bounded().is_ok_and(|o| o.status.success());
    assert!(ok, "{py} cannot import the Python `mcp` SDK: run `bash .ci/run` (it makes the venv), or set CAMPAIGN_PILOT_TEST_PYTHON to a python that has `pip install mcp`");
    py
}

/// The Python client's view: the tools, and each call's answer.
fn client(app: &App, calls: Value) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mcp_client.py");
    let out = Command::new(python()).arg(script).arg("stdio").arg(BIN).arg(app.config()).arg(calls.to_string()).env_remove("CAMPAIGN_PILOT_CONFIG").bounded().unwrap();
    assert!(out.status.success(), "the client failed: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("the client's output is not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

async fn count(url: &str, sql: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let n: i64 = sqlx::Row::get(&sqlx::query(sql).fetch_one(&pool).await.unwrap(), 0);
    pool.close().await;
    n
}


/// The read tools, in the order every client sees them.
const READ_TOOLS: [&str; 8] = ["list_campaigns", "get_budget", "campaign_metrics", "explain", "latest_report", "history", "list_proposals", "outcomes"];

#[tokio::test]
async fn a_real_mcp_client_lists_the_tools_and_their_answers_are_the_reports_numbers() {
    let (data, app, report) = filled("[decisions]\npolicy = \"profit\"\n", false);
    let campaigns = report["campaigns"].as_array().unwrap();
    // Three campaigns with an action (and so a forecast), one without.
    let mut picked: Vec<String> = report["actions"].as_array().unwrap().iter().filter(|a| a["kind"] == "set_budget").take(3).map(|a| a["campaign_id"].as_str().unwrap().to_string()).collect();
    picked.push(campaigns.iter().find(|c| c["budget"]["current"] == c["budget"]["proposed"]).unwrap()["campaign_id"].as_str().unwrap().to_string());

    let mut calls = vec![json!(["get_budget", {}]), json!(["list_campaigns", {"decision": "CONTINUE"}]), json!(["latest_report", {"format": "json"}])];
    calls.extend(picked.iter().map(|id| json!(["explain", {"campaign_id": id}])));
    calls.extend([
        json!(["no_such_tool", {}]),
        json!(["explain", {"campaign": "C00001"}]),
        json!(["explain", {"campaign_id": 7}]),
        json!(["explain", {"campaign_id": "C99999"}]),
        json!(["history", {}]),
        json!(["outcomes", {"rule": "budget_up"}]),
        json!(["campaign_metrics", {"campaign_id": picked[0], "from": "2026-03-25", "to": AS_OF}]),
        json!(["list_proposals", {}]),
        json!(["campaign_metrics", {"campaign_id": picked[0], "from": AS_OF, "to": "2026-03-01"}]),
    ]);
    let n_calls = calls.len();
    let r = client(&app, Value::Array(calls));
    assert_eq!(r["server"], "campaign-pilot");

    // The tools, each with an object schema; explain requires campaign_id and takes nothing unknown.
    let tools = r["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, READ_TOOLS, "writes are off by default: not listed");
    let explain = tools.iter().find(|t| t["name"] == "explain").unwrap();
    assert_eq!(explain["inputSchema"]["type"], "object");
    assert_eq!(explain["inputSchema"]["required"], json!(["campaign_id"]));
    assert_eq!(explain["inputSchema"]["additionalProperties"], false);
    assert!(tools.iter().all(|t| t["description"].as_str().is_some_and(|d| d.len() > 20)));

    let answers = r["calls"].as_array().unwrap();
    assert_eq!(answers.len(), n_calls);
    let ok = |i: usize| -> &Value {
        let a = &answers[i];
        assert!(a["ok"] == true && a["is_error"] == false, "call {i}: {a}");
        &a["result"]
    };
    // get_budget: every campaign's budgets and decision, the totals, as report.json has them.
    let budget = ok(0);
    assert_eq!(budget["run_id"], report["run_id"]);
    assert_eq!(budget["totals"], report["totals"]);
    let rows = budget["campaigns"].as_array().unwrap();
    assert_eq!(rows.len(), campaigns.len());
    for (row, c) in rows.iter().zip(campaigns) {
        assert_eq!(row["campaign_id"], c["campaign_id"]);
        assert_eq!(row["decision"], c["decision"]);
        assert_eq!(row["current"], c["budget"]["current"]);
        assert_eq!(row["proposed"], c["budget"]["proposed"]);
    }
    // list_campaigns: the CONTINUE ones, with their metrics.
    let listed = ok(1)["campaigns"].as_array().unwrap().clone();
    let expected: Vec<&Value> = campaigns.iter().filter(|c| c["decision"] == "CONTINUE").collect();
    assert!(!expected.is_empty());
    assert_eq!(listed.len(), expected.len());
    for (l, c) in listed.iter().zip(&expected) {
        assert_eq!((&l["campaign_id"], &l["spend"], &l["revenue"], &l["roi"]), (&c["campaign_id"], &c["metrics"]["spend"], &c["metrics"]["revenue"], &c["metrics"]["roi"]));
    }
    // latest_report: the stored report.json itself.
    let stored: Value = serde_json::from_str(ok(2)["body"].as_str().unwrap()).unwrap();
    assert_eq!(stored["run_id"], report["run_id"]);
    assert_eq!(stored["campaigns"], report["campaigns"]);
    // explain: decision, reasons, response and the action's forecast, field by field.
    for (k, id) in picked.iter().enumerate() {
        let e = ok(3 + k);
        let c = campaigns.iter().find(|c| c["campaign_id"] == id.as_str()).unwrap();
        assert_eq!(e["decision"], c["decision"], "{id}");
        assert_eq!(e["reasons"], c["reasons"], "{id}");
        assert_eq!(e["response"], c["response"], "{id}");
        assert_eq!(e["budget"], c["budget"], "{id}");
        assert!(e["in_words"].as_str().is_some_and(|w| !w.is_empty()), "{e}");
        match report["actions"].as_array().unwrap().iter().find(|a| a["campaign_id"] == id.as_str()) {
            Some(a) => {
                assert_eq!(e["action"]["forecast"], a["forecast"], "{id}");
                assert_eq!((&e["action"]["from"], &e["action"]["to"]), (&a["from"], &a["to"]));
            }
            None => assert!(e["action"].is_null(), "{e}"),
        }
    }
    // Bad calls: an error each, naming what is wrong; the server kept serving.
    let at = 3 + picked.len();
    let err = |i: usize| answers[i]["error"].as_str().unwrap_or_else(|| panic!("call {i} did not fail: {}", answers[i])).to_string();
    assert!(err(at).contains("unknown tool \"no_such_tool\""), "{}", err(at));
    assert!(err(at + 1).contains("unknown field `campaign`"), "{}", err(at + 1));
    assert!(err(at + 2).contains("invalid type"), "{}", err(at + 2));
    let missing = &answers[at + 3];
    assert!(missing["is_error"] == true && missing["result"].as_str().unwrap().contains("C99999"), "{missing}");
    assert_eq!(ok(at + 4)["changes"], json!([]), "a dry run changed nothing");
    assert_eq!(ok(at + 5)["total"], 0);
    // campaign_metrics: the campaign's rows of campaign_daily.csv, read here
    // independently; over the current window their spend is the report's.
    let m = ok(at + 6);
    let mut want = Vec::new();
    let mut rows = csv::Reader::from_path(data.path().join("campaign_daily.csv")).unwrap();
    for row in rows.deserialize::<std::collections::HashMap<String, String>>() {
        let row = row.unwrap();
        if row["campaign_id"] == picked[0] && row["date"].as_str() >= "2026-03-25" && row["date"].as_str() <= AS_OF {
            want.push((row["date"].clone(), row["spend"].parse::<f64>().unwrap(), row["clicks"].parse::<i64>().unwrap()));
        }
    }
    want.sort_by(|a, b| a.0.cmp(&b.0));
    let got: Vec<(String, f64, i64)> = m["days"].as_array().unwrap().iter().map(|d| (d["date"].as_str().unwrap().to_string(), d["spend"].as_f64().unwrap(), d["clicks"].as_i64().unwrap())).collect();
    assert_eq!(got, want);
    let c0 = campaigns.iter().find(|c| c["campaign_id"] == picked[0].as_str()).unwrap();
    assert!((m["sums"]["spend"].as_f64().unwrap() - c0["metrics"]["spend"].as_f64().unwrap()).abs() < 1e-6, "{} vs {}", m["sums"], c0["metrics"]);
    // list_proposals: the dry run's actions wait as proposals.
    let waiting = ok(at + 7)["proposals"].as_array().unwrap().clone();
    assert_eq!(waiting.len(), report["actions"].as_array().unwrap().len());
    assert!(waiting.iter().all(|p| p["proposal_id"] == report["run_id"] && p["status"] == "proposed"));
    assert!(err(at + 8).contains("is after to"), "{}", err(at + 8));
    // Every call is audited, refusals too.
    assert_eq!(count(&app.db_url(), "SELECT COUNT(*) FROM tool_calls").await, n_calls as i64);
    assert_eq!(count(&app.db_url(), "SELECT COUNT(*) FROM tool_calls WHERE ok = 0").await, 5);
}

/// The official MCP conformance suite's command (npm
/// `@modelcontextprotocol/conformance`, installed by `.ci/run` under the
/// directory CAMPAIGN_PILOT_TEST_CONFORMANCE names).
fn conformance() -> std::path::PathBuf {
    let dir = std::env::var("CAMPAIGN_PILOT_TEST_CONFORMANCE").unwrap_or_else(|_| format!("{}/.cache/campaign-pilot-conformance", std::env::var("HOME").unwrap_or_default()));
    let bin = std::path::Path::new(&dir).join("node_modules/.bin/conformance");
    assert!(bin.exists(), "{} is missing: run `bash .ci/run` (it installs the suite), or `npm install --prefix DIR @modelcontextprotocol/conformance@0.1.13` and set CAMPAIGN_PILOT_TEST_CONFORMANCE=DIR", bin.display());
    bin
}

/// The suite's server scenarios for a server with tools and no prompts,
/// resources, logging or completions (the other tools-call-* scenarios call
/// tools of the suite's own, test_simple_text and the like).
const CONFORMANCE: [&str; 6] = ["server-initialize", "ping", "tools-list", "tools-call-error", "server-sse-multiple-streams", "dns-rebinding-protection"];

#[tokio::test]
async fn the_official_conformance_suite_passes_the_scenarios_of_a_tools_server() {
    let (_data, app, _report) = filled("", false);
    // No token: the DNS-rebinding scenario is for a loopback server without
    // authentication, where Host and Origin are the only defence.
    let server = Served::start(&app, &[("CAMPAIGN_PILOT_TEST_ERROR_TOOL", "1")]).await;
    let bin = conformance();
    for scenario in CONFORMANCE {
        let out = Command::new(&bin).args(["server", "--url", &format!("{}/mcp", server.base), "--scenario", scenario]).bounded().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let summary = text.lines().find(|l| l.starts_with("Passed:")).unwrap_or_default().to_string();
        eprintln!("conformance {scenario}: {summary}");
        assert!(out.status.success() && summary.contains(", 0 failed"), "{scenario}: {text}\n{}", stderr(&out));
    }
    assert_eq!(server.stop().await.code(), Some(0));
}


#[tokio::test]
async fn over_http_behind_a_token_the_same_answers_a_burst_of_100_calls_and_bad_requests_do_not_stop_it() {
    let (_data, app, report) = filled("[decisions]\npolicy = \"profit\"\n", false);
    let server = Served::start(&app, &[("CAMPAIGN_PILOT_SERVE_TOKEN", "t0ken-for-the-test")]).await;
    let base = server.base.clone();
    let http = reqwest::Client::new();
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let post = |body: String, token: Option<&str>| {
        let mut r = http.post(format!("{base}/mcp")).header("Content-Type", "application/json").header("Accept", "application/json, text/event-stream").body(body);
        if let Some(t) = token {
            r = r.header("Authorization", format!("Bearer {t}"));
        }
        r.send()
    };
    // Without the token, or with another: 401.
    assert_eq!(post(init.to_string(), None).await.unwrap().status(), 401);
    assert_eq!(post(init.to_string(), Some("wrong")).await.unwrap().status(), 401);
    // Malformed JSON-RPC and a 10 MB body: an error answer each.
    let bad = post("{not json".to_string(), Some("t0ken-for-the-test")).await.unwrap();
    assert!(bad.status().is_client_error(), "{}", bad.status());
    let huge = format!(r#"{{"jsonrpc":"2.0","id":2,"method":"ping","params":{{"pad":"{}"}}}}"#, "x".repeat(10 << 20));
    // The server answers 413 as soon as the body passes its limit; a client
    // still uploading may see the connection closed instead. Either way it
    // is refused, and the server keeps serving (asserted below).
    match post(huge, Some("t0ken-for-the-test")).await {
        Ok(big) => assert_eq!(big.status(), 413),
        Err(e) => assert!(format!("{e:?}").contains("BrokenPipe") || e.is_body() || e.is_request(), "{e:?}"),
    }

    // The real client over HTTP: the same numbers as report.json, and 100
    // concurrent calls, all answered.
    let id = report["actions"].as_array().unwrap()[0]["campaign_id"].as_str().unwrap().to_string();
    // Then every read tool, whose answers must be the stdio server's.
    let each = json!([
        ["list_campaigns", {"status": "active"}],
        ["campaign_metrics", {"campaign_id": id}],
        ["latest_report", {"format": "md"}],
        ["history", {}],
        ["list_proposals", {}],
        ["outcomes", {}],
    ]);
    let mut calls = json!([["get_budget", {}], ["explain", {"campaign_id": id}], ["explain", {"nope": 1}], ["get_budget", {}]]);
    calls.as_array_mut().unwrap().extend(each.as_array().unwrap().iter().cloned());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mcp_client.py");
    let out = Command::new(python()).arg(script).args(["http", &format!("{base}/mcp"), "t0ken-for-the-test"]).arg(calls.to_string()).arg("100").bounded().unwrap();
    assert!(out.status.success(), "the client failed: {}", stderr(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["tools"].as_array().unwrap().len(), READ_TOOLS.len());
    let calls = r["calls"].as_array().unwrap();
    assert_eq!(calls[0]["result"]["totals"], report["totals"]);
    let c = report["campaigns"].as_array().unwrap().iter().find(|c| c["campaign_id"] == id.as_str()).unwrap();
    assert_eq!(calls[1]["result"]["reasons"], c["reasons"]);
    assert_eq!(calls[1]["result"]["budget"], c["budget"]);
    assert!(calls[2]["ok"] == false && calls[2]["error"].as_str().unwrap().contains("unknown field `nope`"), "{}", calls[2]);
    assert_eq!(calls[3]["result"]["totals"], report["totals"], "still serving after a bad call");
    let over_stdio = client(&app, each.clone());
    for (k, want) in over_stdio["calls"].as_array().unwrap().iter().enumerate() {
        let got = &calls[4 + k];
        assert!(got["ok"] == true && got["is_error"] == false, "{got}");
        assert_eq!(got["result"], want["result"], "{} over HTTP and over stdio", each[k][0]);
    }
    let md = calls[6]["result"]["body"].as_str().unwrap();
    assert!(md.contains(report["run_id"].as_str().unwrap()) || md.contains(report["as_of"].as_str().unwrap()), "the markdown report");
    let burst = &r["burst"];
    assert_eq!((burst["n"].as_u64(), burst["failed"].as_u64()), (Some(100), Some(0)), "{burst}");
    eprintln!("100 concurrent get_budget calls over HTTP: p50 {} ms, p99 {} ms", burst["p50_ms"], burst["p99_ms"]);
    // Still serving; SIGTERM stops it cleanly.
    assert_eq!(http.get(format!("{base}/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(server.stop().await.code(), Some(0));
}

/// One session of the real client over stdio with this app's configuration.
fn calls_of(app: &App, calls: Value) -> (Vec<String>, Vec<Value>) {
    let r = client(app, calls);
    let names = r["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()).collect();
    (names, r["calls"].as_array().unwrap().clone())
}

/// The rules a refused call named.
fn refused_rules(answer: &Value) -> Vec<String> {
    assert_eq!(answer["is_error"], true, "not refused: {answer}");
    assert_eq!(answer["result"]["refused"], true, "{answer}");
    answer["result"]["refusals"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn save_proposal_refuses_what_a_run_would_refuse_saves_the_rest_and_only_approve_applies_it_once() {
    let (data, app, report) = filled("", true);
    let applied_by_run = applied_keys(data.path()).len();
    let touched: std::collections::HashSet<&str> = report["actions"].as_array().unwrap().iter().map(|a| a["campaign_id"].as_str().unwrap()).collect();
    // Active campaigns the run left alone, largest budget first.
    let mut free: Vec<(String, f64)> = report["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !["PAUSED", "RESUME"].contains(&c["decision"].as_str().unwrap()) && !touched.contains(c["campaign_id"].as_str().unwrap()))
        .map(|c| (c["campaign_id"].as_str().unwrap().to_string(), c["budget"]["current"].as_f64().unwrap()))
        .collect();
    free.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (big, second, locked) = (free[0].clone(), free[1].clone(), free[2].clone());
    let small = free.iter().rev().find(|c| c.1 >= 16.0).unwrap().clone();
    let pauses: Vec<Value> = free.iter().filter(|c| c.0 != locked.0).map(|c| json!({"campaign_id": c.0, "kind": "pause"})).collect();
    assert!(pauses.len() * 2 > report["campaigns"].as_array().unwrap().len(), "enough to pass max_action_fraction");
    let cents = |x: f64| (x * 100.0).floor() / 100.0;

    let mut toml = std::fs::read_to_string(app.config()).unwrap();
    toml.push_str(&format!("\n[tools]\nallow_writes = true\nallow_approve = true\n[act]\nlocked_campaigns = [\"{}\"]\n", locked.0));
    std::fs::write(app.config(), &toml).unwrap();
    let plan = |changes: Value| json!(["save_proposal", {"changes": changes, "rationale": "test"}]);
    let (up, down) = (cents(second.1 * 1.10), cents(big.1 * 0.90));
    let (names, a) = calls_of(
        &app,
        json!([
            plan(json!([{"campaign_id": big.0, "kind": "set_budget", "to": cents(big.1 * 1.30)}])),
            plan(json!([{"campaign_id": small.0, "kind": "set_budget", "to": 14.0}])),
            plan(json!([{"campaign_id": locked.0, "kind": "set_budget", "to": cents(locked.1 * 0.95)}])),
            plan(Value::Array(pauses)),
            ["list_proposals", {"status": "all"}],
            plan(json!([{"campaign_id": second.0, "kind": "set_budget", "to": up}, {"campaign_id": big.0, "kind": "set_budget", "to": down}])),
            ["list_proposals", {}],
        ]),
    );
    let mut all: Vec<&str> = READ_TOOLS.to_vec();
    all.extend(["save_proposal", "approve", "reject"]);
    assert_eq!(names, all);
    // Each refused with its rule and numbers; nothing saved.
    let r0 = refused_rules(&a[0]);
    assert!(r0.contains(&"max_increase_pct".into()), "{r0:?}");
    let inc = a[0]["result"]["refusals"].as_array().unwrap().iter().find(|r| r["rule"] == "max_increase_pct").unwrap();
    assert_eq!(inc["limit"], 20.0);
    assert!((inc["value"].as_f64().unwrap() - 30.0).abs() < 0.1, "{inc}");
    let r1 = refused_rules(&a[1]);
    assert!(r1.contains(&"min_daily".into()), "{r1:?}");
    assert_eq!(refused_rules(&a[2]), ["locked_campaigns"]);
    let r3 = refused_rules(&a[3]);
    assert!(r3.contains(&"max_action_fraction".into()) && r3.contains(&"max_pause_fraction".into()), "{r3:?}");
    let before = a[4]["result"]["proposals"].as_array().unwrap();
    assert!(before.iter().all(|p| p["proposal_id"] == report["run_id"]), "a refused plan saved something: {before:?}");
    // The valid plan: saved, waiting, not applied.
    let saved = &a[5]["result"];
    assert_eq!((a[5]["is_error"].as_bool(), saved["saved"].as_bool()), (Some(false), Some(true)), "{}", a[5]);
    let id = saved["proposal_id"].as_str().unwrap().to_string();
    let waiting = a[6]["result"]["proposals"].as_array().unwrap();
    assert_eq!(waiting.len(), 2, "{waiting:?}");
    assert!(waiting.iter().all(|p| p["proposal_id"] == id.as_str() && p["reason"].as_str().unwrap().ends_with(": test")));
    assert_eq!(applied_keys(data.path()).len(), applied_by_run, "saving applied nothing");
    assert_eq!(count(&app.db_url(), "SELECT COUNT(*) FROM runs WHERE mode = 'propose'").await, 1);

    // approve applies it once; a second approve finds nothing waiting.
    let (_, b) = calls_of(&app, json!([["approve", {"id": id}], ["approve", {"id": id}], ["history", {"campaign_id": second.0}]]));
    assert_eq!(b[0]["is_error"], false, "{}", b[0]);
    let done = b[0]["result"]["actions"].as_array().unwrap();
    assert!(done.len() == 2 && done.iter().all(|x| x["status"] == "applied"), "{done:?}");
    assert!(b[1]["is_error"] == true && b[1]["result"].as_str().unwrap().contains("no waiting proposal"), "{}", b[1]);
    let keys = applied_keys(data.path());
    assert_eq!(keys.len(), applied_by_run + 2);
    for x in done {
        assert_eq!(keys.iter().filter(|k| **k == x["key"].as_str().unwrap()).count(), 1, "{x}");
    }
    let change = b[2]["result"]["changes"].as_array().unwrap().iter().find(|h| h["actor"] == "approve").unwrap().clone();
    assert_eq!((change["before"].as_f64(), change["after"].as_f64()), (Some(second.1), Some(up)));

    // With writes off the write tools are not listed, and calling one names the key.
    std::fs::write(app.config(), toml.replace("allow_writes = true\nallow_approve = true\n", "")).unwrap();
    let (names, c) = calls_of(&app, json!([plan(json!([{"campaign_id": big.0, "kind": "pause"}])), ["approve", {"id": id}]]));
    assert_eq!(names, READ_TOOLS);
    assert!(c[0]["error"].as_str().unwrap().contains("[tools] allow_writes = true"), "{}", c[0]);
    assert!(c[1]["error"].as_str().unwrap().contains("allow_approve"), "{}", c[1]);
    assert_eq!(count(&app.db_url(), "SELECT COUNT(*) FROM runs WHERE mode = 'propose'").await, 1);
}
