//! Prometheus metrics of a run, pushed to a real Pushgateway (Debian's
//! `prometheus-pushgateway`, started here on loopback) and read back from
//! its `/metrics`, and written for the textfile collector.

mod common;

use common::Bounded;

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{stderr, App};
use serde_json::Value;

const AS_OF: &str = "2026-03-31";

struct Pushgateway {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Pushgateway {
    async fn start() -> Pushgateway {
        let bin = ["prometheus-pushgateway", "pushgateway"]
            .into_iter()
            .find(|b| Command::new(b).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok())
            .expect("this test needs a Pushgateway: apt-get install prometheus-pushgateway (.ci/run does)");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(bin)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg(format!("--persistence.file={}", dir.path().join("pgw.db").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !reqwest::get(format!("{url}/-/ready")).await.is_ok_and(|r| r.status().is_success()) {
            assert!(Instant::now() < deadline, "the Pushgateway never became ready on {url}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Pushgateway { child, url, _dir: dir }
    }

    /// `name{labels}` → value of every campaign_pilot sample it serves.
    async fn samples(&self) -> BTreeMap<String, f64> {
        let text = reqwest::get(format!("{}/metrics", self.url)).await.unwrap().text().await.unwrap();
        text.lines()
            .filter(|l| l.starts_with("campaign_pilot_"))
            .map(|l| {
                let (key, value) = l.rsplit_once(' ').unwrap();
                (key.replace("instance=\"\",", ""), value.parse::<f64>().unwrap())
            })
            .collect()
    }
}

impl Drop for Pushgateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `campaign_pilot_NAME{labels}` as the Pushgateway writes it: labels sorted
/// by name, with this app's group (`job`, `shard`).
fn key(name: &str, extra: &str) -> String {
    let mut labels = vec!["job=\"campaign_pilot\"", "shard=\"all\""];
    if !extra.is_empty() {
        labels.push(extra);
    }
    labels.sort();
    format!("campaign_pilot_{name}{{{}}}", labels.join(","))
}

fn get(samples: &BTreeMap<String, f64>, name: &str, extra: &str) -> f64 {
    let k = key(name, extra);
    *samples.get(&k).unwrap_or_else(|| panic!("no {k} in {samples:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_pushes_its_metrics_to_a_pushgateway_and_a_failed_run_keeps_the_last_success() {
    let pgw = Pushgateway::start().await;
    let data = tempfile::tempdir().unwrap();
    common::generate(data.path(), &["--products", "200", "--campaigns", "40", "--days", "90", "--seed", "12", "--as-of", AS_OF, "--faults"]);
    let textfile = tempfile::tempdir().unwrap();
    let prom = textfile.path().join("campaign_pilot.prom");
    let app = App::new(
        data.path(),
        &format!(
            "[act]\nmax_quarantine_fraction = 1.0\n[metrics]\npushgateway_url = \"{}\"\ntextfile_path = \"{}\"\n",
            pgw.url,
            prom.display()
        ),
    );
    let started = Instant::now();
    let o = app.command(AS_OF).arg("--dry-run").bounded().unwrap();
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report = app.report();
    let status = report["status"].as_str().unwrap().to_string();
    assert_eq!(status, "succeeded");

    let s = pgw.samples().await;
    let g = |name: &str, labels: &str| get(&s, name, labels);
    for st in ["succeeded", "partial", "held", "failed"] {
        assert_eq!(g("run_status", &format!("status=\"{st}\"")), if st == status { 1.0 } else { 0.0 }, "{st}");
    }
    let secs = g("run_duration_seconds", "");
    assert!(secs > 0.0 && secs < wall, "duration {secs} within the process's {wall} s");
    assert_eq!(g("campaigns", ""), report["campaigns"].as_array().unwrap().len() as f64);
    let counts = report["decision_counts"].as_object().unwrap();
    for d in ["CONTINUE", "OPTIMIZE", "MONITOR", "PAUSE", "EMERGENCY_PAUSE", "RESUME", "PAUSED", "LEARNING"] {
        let want = counts.get(d).and_then(Value::as_u64).unwrap_or(0) as f64;
        assert_eq!(g("decisions", &format!("decision=\"{d}\"")), want, "decisions {d}");
    }
    assert!(counts.len() >= 2);
    let actions = report["actions"].as_array().unwrap();
    assert_eq!(g("actions", "status=\"proposed\""), actions.len() as f64, "a dry run proposes every action");
    assert_eq!(g("actions", "status=\"applied\""), 0.0);
    let q = &report["data_quality"]["rows_quarantined"];
    let mut quarantined = 0.0;
    for t in ["products", "product_daily", "campaigns", "campaign_daily"] {
        let n = g("rows_quarantined", &format!("table=\"{t}\""));
        assert_eq!(n, q[t].as_u64().unwrap() as f64, "quarantined {t}");
        quarantined += n;
    }
    assert!(quarantined > 0.0, "--faults rows were quarantined and counted");
    let success = s.get(&key("last_success_timestamp_seconds", "")).copied();
    assert!(success.is_some_and(|t| (t - chrono::Utc::now().timestamp() as f64).abs() < 120.0), "{success:?}");

    // The same numbers for the textfile collector.
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(text.contains(&format!("campaign_pilot_run_status{{status=\"{status}\"}} 1")), "{text}");
    assert!(!textfile.path().join("campaign_pilot.prom.tmp").exists(), "written through a temporary file and renamed");

    // A failed run (its data directory is gone): status failed, decisions and
    // the last success of the previous run still there.
    let o = app.command(AS_OF).arg("--dry-run").env("CAMPAIGN_PILOT__STORE__PATH", "/nonexistent/campaign-pilot").bounded().unwrap();
    assert!(matches!(o.status.code(), Some(1) | Some(2)), "{}", stderr(&o));
    let after = pgw.samples().await;
    let g2 = |name: &str, labels: &str| get(&after, name, labels);
    assert_eq!(g2("run_status", "status=\"failed\""), 1.0);
    assert_eq!(g2("run_status", &format!("status=\"{status}\"")), 0.0);
    assert_eq!(
        after.get(&key("last_success_timestamp_seconds", "")).copied(),
        success,
        "the last success survives a failed run"
    );
    assert_eq!(g2("decisions", "decision=\"MONITOR\""), counts.get("MONITOR").and_then(Value::as_u64).unwrap_or(0) as f64);
    let text = std::fs::read_to_string(&prom).unwrap();
    assert!(text.contains("campaign_pilot_run_status{status=\"failed\"} 1"), "{text}");
    assert!(text.contains("campaign_pilot_decisions{"), "the textfile keeps the last decisions too: {text}");
}

#[test]
fn an_unreachable_pushgateway_does_not_fail_the_run() {
    let data = tempfile::tempdir().unwrap();
    common::generate(data.path(), &["--products", "30", "--campaigns", "6", "--days", "60", "--seed", "3", "--as-of", AS_OF]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let app = App::new(data.path(), &format!("[metrics]\npushgateway_url = \"http://127.0.0.1:{port}\"\ntimeout_s = 2.0\n"));
    let o = app.command(AS_OF).arg("--dry-run").bounded().unwrap();
    assert!(matches!(o.status.code(), Some(0) | Some(4)), "{}", stderr(&o));
    assert!(stderr(&o).contains("could not push metrics"), "{}", stderr(&o));
}
