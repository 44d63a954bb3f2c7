//! report.html: self-contained, with its charts, and safe with hostile store text.

mod common;

use common::Bounded;

use common::{copy_data, stderr, App};

#[test]
fn the_html_report_is_self_contained_has_four_charts_and_escapes_store_text() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden");
    let d = copy_data(&fixture);
    // Hostile text in a campaign id and in the name of the product that gets a new campaign.
    for f in ["campaigns.csv", "campaign_daily.csv"] {
        let p = d.path().join(f);
        let t = std::fs::read_to_string(&p).unwrap().replace("C01,", "C01<b>x</b>,");
        std::fs::write(&p, t).unwrap();
    }
    let p = d.path().join("products.csv");
    let t = std::fs::read_to_string(&p).unwrap().replace("Golden P14", "<img src=x onerror=alert(1)>");
    std::fs::write(&p, t).unwrap();

    let app = App::new(d.path(), "");
    let out = app.run("2026-03-31");
    assert!(out.status.success(), "{}", stderr(&out));
    let html = std::fs::read_to_string(app.report_dir().join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 4, "four inline charts");
    for id in ["chart-spend-revenue", "chart-decisions", "chart-budget", "chart-efficiency-risk"] {
        assert!(html.contains(id), "{id}");
    }
    // Nothing is fetched: no external scripts, styles, images or fonts.
    for bad in ["<script src", "<link", "<img", "@import", "url("] {
        assert!(!html.contains(bad), "found {bad}");
    }
    let without_ns = html.replace("http://www.w3.org/2000/svg", "");
    assert!(!without_ns.contains("http://") && !without_ns.contains("https://"));
    // Store text is escaped wherever it appears.
    assert!(html.contains("C01&lt;b&gt;x&lt;/b&gt;"));
    assert!(!html.contains("C01<b>x</b>"));
    // A new campaign's copy is cleaned of markup before anything shows or sends it.
    assert!(!html.contains("onerror"), "the new campaign's name holds no markup");
    assert!(html.contains("P14 – Clothing"), "the new campaign is shown, named by its product id");
    // Every decision class of the golden portfolio has its table.
    for class in ["CONTINUE", "PAUSE", "EMERGENCY_PAUSE", "OPTIMIZE", "MONITOR", "LEARNING", "RESUME", "PAUSED"] {
        assert!(html.contains(&format!("{class}</span>")), "{class}");
    }
}

#[test]
fn report_prints_a_stored_run_in_each_format_exactly_as_the_run_wrote_it() {
    use std::process::Command;
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden");
    let d = copy_data(&fixture);
    let app = App::new(d.path(), "");
    let first = app.run("2026-03-30");
    assert!(first.status.success(), "{}", stderr(&first));
    let first_id = app.report()["run_id"].as_str().unwrap().to_string();
    let first_md = std::fs::read_to_string(app.report_dir().join("report.md")).unwrap();
    let out = app.run("2026-03-31");
    assert!(out.status.success(), "{}", stderr(&out));
    let report = |args: &[&str]| {
        Command::new(common::BIN).arg("--config").arg(app.config()).arg("report").args(args).current_dir(app.dir.path()).bounded().unwrap()
    };
    // The newest run by default, each format byte for byte.
    for (format, file) in [("json", "report.json"), ("md", "report.md"), ("csv", "decisions.csv"), ("html", "report.html")] {
        let o = report(&["--format", format]);
        assert!(o.status.success(), "{format}: {}", stderr(&o));
        let on_disk = std::fs::read_to_string(app.report_dir().join(file)).unwrap();
        assert_eq!(String::from_utf8(o.stdout).unwrap(), on_disk, "{format}");
    }
    // An older run by id.
    let o = report(&[&first_id]);
    assert!(o.status.success());
    assert_eq!(String::from_utf8(o.stdout).unwrap(), first_md);
    assert_ne!(first_md, std::fs::read_to_string(app.report_dir().join("report.md")).unwrap());
    // An unknown run: exit 2, named.
    let o = report(&["no-such-run"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no report for run no-such-run"), "{}", stderr(&o));
}

#[test]
fn json_logs_carry_the_run_id_on_every_line_and_pretty_logs_are_for_people() {
    use std::process::Command;
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden");
    let d = copy_data(&fixture);
    let app = App::new(d.path(), "");
    let run = |format: &str| {
        Command::new(common::BIN)
            .args(["--log-format", format, "--config"])
            .arg(app.config())
            .args(["run", "--dry-run", "--as-of", "2026-03-31", "--report-dir"])
            .arg(app.report_dir())
            .bounded()
            .unwrap()
    };
    let o = run("json");
    assert!(o.status.success(), "{}", stderr(&o));
    let run_id = app.report()["run_id"].as_str().unwrap().to_string();
    let lines: Vec<serde_json::Value> =
        stderr(&o).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    let stages: Vec<&serde_json::Value> = lines.iter().filter(|l| l["fields"]["message"] == "stage done").collect();
    assert_eq!(stages.len(), 6, "read, validate, transform, analyze, decide, act: {lines:?}");
    for l in &stages {
        assert_eq!(l["span"]["run_id"], run_id.as_str(), "{l}");
        // Each stage logs inside its own span, named after it.
        assert_eq!(l["span"]["name"], "stage", "{l}");
        assert_eq!(l["span"]["stage"], l["fields"]["stage"], "{l}");
    }
    let o = run("pretty");
    assert!(o.status.success());
    assert!(stderr(&o).contains("stage done") && serde_json::from_str::<serde_json::Value>(stderr(&o).lines().next().unwrap()).is_err());
}
