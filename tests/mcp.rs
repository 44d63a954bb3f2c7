//! `campaign-pilot mcp` with a client this project did not write: the
//! Python `mcp` SDK from PyPI (`.ci/run` installs it into a venv and names
//! its python in CAMPAIGN_PILOT_TEST_PYTHON). The tools are listed with their
//! schemas and called over stdio against a database a real run filled; the
//! answers are report.json's numbers, field by field; bad calls get an error
//! each and the server keeps serving; every call is audited.

mod common;

use std::process::Command;

use common::{generate, stderr, App, BIN};
use serde_json::{json, Value};

fn python() -> String {
    let py = std::env::var("CAMPAIGN_PILOT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py).args(["-c", "import mcp"]).output().is_ok_and(|o| o.status.success());
    assert!(ok, "{py} cannot import the Python `mcp` SDK: run `bash .ci/run` (it makes the venv), or set CAMPAIGN_PILOT_TEST_PYTHON to a python that has `pip install mcp`");
    py
}

/// The Python client's view: the tools, and each call's answer.
fn client(app: &App, calls: Value) -> Value {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mcp_client.py");
    let out = Command::new(python()).arg(script).arg("stdio").arg(BIN).arg(app.config()).arg(calls.to_string()).env_remove("CAMPAIGN_PILOT_CONFIG").output().unwrap();
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

#[tokio::test]
async fn a_real_mcp_client_lists_the_tools_and_their_answers_are_the_reports_numbers() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), &["--seed", "42", "--products", "200", "--campaigns", "60", "--days", "90", "--as-of", "2026-03-31"]);
    let app = App::new(d.path(), "[decisions]\npolicy = \"profit\"\n");
    let out = app.run("2026-03-31");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = app.report();
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
    ]);
    let n_calls = calls.len();
    let r = client(&app, Value::Array(calls));
    assert_eq!(r["server"], "campaign-pilot");

    // The tools, each with an object schema; explain requires campaign_id and takes nothing unknown.
    let tools = r["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["list_campaigns", "get_budget", "explain", "latest_report", "history", "outcomes"]);
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
    // Every call is audited, refusals too.
    assert_eq!(count(&app.db_url(), "SELECT COUNT(*) FROM tool_calls").await, n_calls as i64);
    assert_eq!(count(&app.db_url(), "SELECT COUNT(*) FROM tool_calls WHERE ok = 0").await, 4);
}

/// A port free on loopback right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn over_http_behind_a_token_the_same_answers_a_burst_of_100_calls_and_bad_requests_do_not_stop_it() {
    let d = tempfile::tempdir().unwrap();
    generate(d.path(), &["--seed", "42", "--products", "200", "--campaigns", "60", "--days", "90", "--as-of", "2026-03-31"]);
    let app = App::new(d.path(), "[decisions]\npolicy = \"profit\"\n");
    let out = app.run("2026-03-31");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = app.report();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Command::new(BIN)
        .arg("--config")
        .arg(app.config())
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("CAMPAIGN_PILOT_SERVE_TOKEN", "t0ken-for-the-test")
        .env_remove("CAMPAIGN_PILOT_CONFIG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if http.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status() == 200) {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "serve did not come up");
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
    let calls = json!([["get_budget", {}], ["explain", {"campaign_id": id}], ["explain", {"nope": 1}], ["get_budget", {}]]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mcp_client.py");
    let out = Command::new(python()).arg(script).args(["http", &format!("{base}/mcp"), "t0ken-for-the-test"]).arg(calls.to_string()).arg("100").output().unwrap();
    assert!(out.status.success(), "the client failed: {}", stderr(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["tools"].as_array().unwrap().len(), 6);
    let calls = r["calls"].as_array().unwrap();
    assert_eq!(calls[0]["result"]["totals"], report["totals"]);
    let c = report["campaigns"].as_array().unwrap().iter().find(|c| c["campaign_id"] == id.as_str()).unwrap();
    assert_eq!(calls[1]["result"]["reasons"], c["reasons"]);
    assert_eq!(calls[1]["result"]["budget"], c["budget"]);
    assert!(calls[2]["ok"] == false && calls[2]["error"].as_str().unwrap().contains("unknown field `nope`"), "{}", calls[2]);
    assert_eq!(calls[3]["result"]["totals"], report["totals"], "still serving after a bad call");
    let burst = &r["burst"];
    assert_eq!((burst["n"].as_u64(), burst["failed"].as_u64()), (Some(100), Some(0)), "{burst}");
    eprintln!("100 concurrent get_budget calls over HTTP: p50 {} ms, p99 {} ms", burst["p50_ms"], burst["p99_ms"]);
    // Still serving; SIGTERM stops it cleanly.
    assert_eq!(http.get(format!("{base}/healthz")).send().await.unwrap().status(), 200);
    unsafe {
        libc::kill(server.id() as i32, libc::SIGTERM);
    }
    let mut status = None;
    for _ in 0..100 {
        if let Some(s) = server.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let status = status.unwrap_or_else(|| {
        let _ = server.kill();
        panic!("serve did not stop on SIGTERM")
    });
    assert_eq!(status.code(), Some(0));
}
