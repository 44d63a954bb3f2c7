//! report.html: self-contained, with its charts, and safe with hostile store text.

mod common;

use common::Bounded;

use common::{copy_data, stderr, App};

#[test]
fn the_html_report_is_self_contained_has_its_charts_and_escapes_store_text() {
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
    let report = app.report();
    let campaigns = report["campaigns"].as_array().unwrap();
    // The portfolio over time and three charts of it by decision, each drawn
    // inside an image with its text alternative; and a sparkline per campaign.
    for id in ["chart-portfolio", "chart-decisions", "chart-budget", "chart-spend-revenue"] {
        let at = html.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("{id}"));
        let figure = &html[at..at + html[at..].find("</figure>").unwrap()];
        assert!(figure.contains("role=\"img\" aria-label=\"") && figure.contains("<svg"), "{id}");
    }
    let sparks = html.matches("<svg class=\"spark\"").count();
    assert_eq!(sparks, campaigns.len(), "one sparkline per campaign");
    assert_eq!(html.matches("<svg class=\"spark\"").count(), html.matches("<svg class=\"spark\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 120 32\" width=\"120\" height=\"32\" role=\"img\" aria-label=\"Last 28 days: ").count());
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
    // Every campaign is a row with its product's name, its decision in words and its sentence.
    for c in campaigns {
        let id = c["campaign_id"].as_str().unwrap().replace('<', "&lt;").replace('>', "&gt;");
        let row = html.find(&format!("<b>{id}</b>")).unwrap_or_else(|| panic!("{id}"));
        let row = &html[row..row + html[row..].find("</tr>").unwrap()];
        let name = c["product_name"].as_str().unwrap();
        assert!(!name.is_empty() && row.contains(name), "{id}: {name}");
        let sentence = c["sentence"].as_str().unwrap();
        assert!(!sentence.is_empty() && row.contains(&sentence.replace('<', "&lt;")), "{id}: {sentence}");
        assert!(!sentence.contains(':') || !sentence.contains('='), "{id}: a sentence, not a rule: {sentence}");
    }
    // report.md says the same sentences, in its tables and "What changed".
    let md = std::fs::read_to_string(app.report_dir().join("report.md")).unwrap();
    for c in campaigns {
        let sentence = c["sentence"].as_str().unwrap().replace('|', "/");
        assert!(md.contains(&format!("| {sentence} |")), "report.md: {sentence}");
    }
    assert!(md.contains("## What changed\n"), "report.md lists the campaigns to read first");
    // Every decision class of the golden portfolio is there, in words.
    for class in ["Keep going", "Paused", "Paused at once", "Fine-tune", "Watching", "Still learning", "Resuming", "Stays paused"] {
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
    // Every stored run, newest first, with the counts its report.json has.
    let o = report(&["--list", "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!((list[0]["as_of"].as_str(), list[1]["as_of"].as_str()), (Some("2026-03-31"), Some("2026-03-30")));
    assert_eq!(list[1]["run_id"], first_id.as_str());
    let newest = app.report();
    assert_eq!(list[0]["run_id"], newest["run_id"]);
    assert_eq!(list[0]["decisions"], newest["decision_counts"]);
    assert_eq!(list[0]["actions"], newest["actions"].as_array().unwrap().len());
    let first_actions = list[1]["actions"].as_u64().unwrap();
    assert!(first_actions > 0 && list[1]["applied"] != first_actions, "{}", list[1]);
    let o = report(&["--list"]);
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("`{first_id}`")), "the markdown list names each run");
    let o = report(&["--list", "--format", "csv"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a list format"), "{}", stderr(&o));
    // An unknown run: exit 2, named.
    let o = report(&["no-such-run"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no report for run no-such-run"), "{}", stderr(&o));

    // Stored packed: the text columns are left empty, the packed ones are
    // a fraction of the text (the golden report.json is about 100 kB).
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&app.db_url()).await.unwrap();
        let sizes: (String, i64, i64) = sqlx::query_as(
            "SELECT report_json, CAST(length(report_json_zst) AS BIGINT), CAST(length(html_zst) AS BIGINT) FROM reports WHERE run_id = $1",
        )
        .bind(first_id.clone())
        .fetch_one(&pool)
        .await
        .unwrap();
        let on_disk = |file: &str| std::fs::metadata(app.report_dir().join(file)).unwrap().len() as i64;
        assert_eq!(sizes.0, "", "a packed run leaves report_json empty");
        assert!(sizes.1 > 0 && sizes.1 * 4 < on_disk("report.json"), "report.json packed to {} bytes", sizes.1);
        assert!(sizes.2 > 0 && sizes.2 * 3 < on_disk("report.html"), "report.html packed to {} bytes", sizes.2);
        // A run stored before reports were packed is read from its text,
        // and one stored before its html was kept says so.
        // An action applied after its run (on review) is counted as applied.
        sqlx::query("UPDATE proposed_actions SET status = 'applied' WHERE run_id = $1").bind(first_id.clone()).execute(&pool).await.unwrap();
        sqlx::query("UPDATE reports SET markdown = $1, report_json_zst = NULL, markdown_zst = NULL, decisions_csv_zst = NULL, html_zst = NULL WHERE run_id = $2")
            .bind("the report of a run stored as text")
            .bind(first_id.clone())
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    });
    let o = report(&["--list", "--format", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((list[1]["actions"].as_u64(), list[1]["applied"].as_u64()), (Some(first_actions), Some(first_actions)), "{}", list[1]);
    let o = report(&[&first_id, "--format", "md"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8(o.stdout).unwrap(), "the report of a run stored as text");
    let o = report(&[&first_id, "--format", "html"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("was stored before its html report was kept"), "{}", stderr(&o));
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
    // After the stages, the report's own line: how long it took and how big it is.
    let done: Vec<&serde_json::Value> = lines.iter().filter(|l| l["fields"]["message"] == "report done").collect();
    assert_eq!(done.len(), 1, "{lines:?}");
    let bytes = done[0]["fields"]["bytes"].as_u64().unwrap();
    let on_disk: u64 = ["report.json", "report.md", "decisions.csv", "report.html"].iter().map(|f| std::fs::metadata(app.report_dir().join(f)).unwrap().len()).sum();
    assert_eq!(bytes, on_disk, "the four files' bytes");
    for part in ["built_ms", "rendered_ms", "written_ms", "stored_ms"] {
        assert!(done[0]["fields"][part].is_u64(), "{part}: {}", done[0]);
    }
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

/// Where the browser test's tools are: the npm packages `.ci/run` installs
/// from tests/fixtures/browser (CAMPAIGN_PILOT_TEST_BROWSER) and Debian's
/// chromium (CAMPAIGN_PILOT_TEST_CHROMIUM, default /usr/bin/chromium).
fn browser() -> (std::path::PathBuf, std::path::PathBuf) {
    let modules = std::env::var("CAMPAIGN_PILOT_TEST_BROWSER")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/browser"));
    let chromium = std::path::PathBuf::from(std::env::var("CAMPAIGN_PILOT_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()));
    assert!(
        modules.join("node_modules/playwright-core").is_dir() && modules.join("node_modules/axe-core").is_dir(),
        "no playwright-core and axe-core under {}: run `bash .ci/run` (it installs them), or `npm ci` in tests/fixtures/browser, or set CAMPAIGN_PILOT_TEST_BROWSER",
        modules.display()
    );
    assert!(chromium.exists(), "no chromium at {}: `apt-get install chromium`, or set CAMPAIGN_PILOT_TEST_CHROMIUM", chromium.display());
    (modules, chromium)
}

/// The shipped demo, as the README's first command runs it, on two days:
/// the second day's report.html in Debian's chromium at laptop and phone
/// width, driven by playwright-core and audited by axe-core.
#[test]
fn the_demo_report_reads_in_a_real_browser_on_a_laptop_and_a_phone() {
    use std::process::Command;
    let (modules, chromium) = browser();
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/pipeline.toml")).unwrap();
    std::fs::write(dir.path().join("pipeline.toml"), shipped).unwrap();
    // The demo's data is made for its as_of; the week before is judged on
    // the same files (demo off, so they are not made again), then the day.
    for (day, demo) in [("2026-11-20", "true"), ("2026-11-12", "false"), ("2026-11-20", "true")] {
        let out = Command::new(common::BIN)
            .current_dir(dir.path())
            .args(["run", "--dry-run", "--as-of", day])
            .env("CAMPAIGN_PILOT__DEMO__ENABLED", demo)
            .env_remove("CAMPAIGN_PILOT_CONFIG")
            .bounded()
            .unwrap();
        assert!(out.status.success(), "{day}: {}", stderr(&out));
    }
    let day = dir.path().join("reports/2026-11-20");
    let read = |p: std::path::PathBuf| -> serde_json::Value { serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap() };
    let (before, report) = (read(dir.path().join("reports/2026-11-12/report.json")), read(day.join("report.json")));

    // "Changed since the previous run", computed here from the two report.json files.
    let was: std::collections::HashMap<&str, &str> =
        before["campaigns"].as_array().unwrap().iter().map(|c| (c["campaign_id"].as_str().unwrap(), c["decision"].as_str().unwrap())).collect();
    let mut flips: Vec<serde_json::Value> = report["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| {
            let id = c["campaign_id"].as_str().unwrap();
            let b = *was.get(id)?;
            (b != c["decision"]).then(|| serde_json::json!({ "campaign_id": id, "before": b, "after": c["decision"] }))
        })
        .collect();
    flips.sort_by_key(|f| f["campaign_id"].as_str().unwrap().to_string());
    assert!(!flips.is_empty(), "the demo's decisions change between the two days");
    assert_eq!(report["changes"], serde_json::Value::Array(flips.clone()));
    assert_eq!(report["previous"]["as_of"], "2026-11-12");
    let html = std::fs::read_to_string(day.join("report.html")).unwrap();
    assert!(html.contains(&format!("{} decision(s) changed since the run of 2026-11-12.", flips.len())), "the page says how many changed");

    // The list of runs beside the days, each linked.
    let index = std::fs::read_to_string(dir.path().join("reports/index.html")).unwrap();
    for d in ["2026-11-12", "2026-11-20"] {
        assert!(index.contains(&format!("href=\"{d}/report.html\"")), "{d} is linked from reports/index.html");
    }

    let shots = std::env::var("CAMPAIGN_PILOT_TEST_SHOTS").map(std::path::PathBuf::from).unwrap_or_else(|_| dir.path().join("shots"));
    std::fs::create_dir_all(&shots).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/browser/report.mjs");
    let out = Command::new("node").arg(script).arg(&modules).arg(&chromium).arg(day.join("report.html")).arg(day.join("report.json")).arg(&shots).bounded().unwrap();
    assert!(out.status.success(), "the browser script failed: {}", stderr(&out));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = report["campaigns"].as_array().unwrap().len();
    for width in ["laptop", "phone"] {
        let w = &seen["widths"][width];
        assert_eq!(w["errors"], serde_json::json!([]), "{width}: script errors on the page");
        // Every campaign's name and sentence is visible, inside the viewport's width.
        assert_eq!(w["campaigns"], n, "{width}");
        assert_eq!(w["missing"], serde_json::json!([]), "{width}: campaigns not seen");
        // Nothing overflows the viewport sideways (a table may scroll inside its own box).
        assert_eq!(w["overflow"]["count"], 0, "{width}: {}", w["overflow"]);
        assert!(w["overflow"]["scroll_width"].as_u64() <= w["overflow"]["viewport"].as_u64(), "{width}: {}", w["overflow"]);
        assert_eq!(w["unpinned"], serde_json::json!([]), "{width}: tables wider than the screen without their key column pinned");
        // Each chart (and sparkline) has a text alternative.
        assert!(w["charts"]["count"].as_u64().unwrap() >= 4 + n as u64, "{width}: {}", w["charts"]);
        assert_eq!(w["charts"]["without"], serde_json::json!([]), "{width}: charts without a text alternative");
        // Clicking a column's header sorts the table by it, and again the other way.
        for k in ["changed_order", "campaign_ascending", "campaign_descending", "spend_ascending"] {
            assert_eq!(w["sort"][k], true, "{width}: {k}: {}", w["sort"]);
        }
        assert_eq!(w["sort"]["aria_sort"], "ascending", "{width}");
        assert_eq!(w["sort"]["rows"], n, "{width}: sorting keeps every row");
        // axe-core: no serious or critical violation.
        let axe = w["axe"].as_array().unwrap();
        let bad: Vec<&serde_json::Value> = axe.iter().filter(|v| v["impact"] == "serious" || v["impact"] == "critical").collect();
        assert!(bad.is_empty(), "{width}: axe-core found {bad:?}");
        eprintln!(
            "{width}: axe-core violations {} ({}); {} charts, all with a text alternative; screenshots in {}",
            axe.len(),
            axe.iter().map(|v| format!("{} {} ×{}", v["impact"].as_str().unwrap_or("?"), v["id"].as_str().unwrap_or("?"), v["nodes"])).collect::<Vec<_>>().join(", "),
            w["charts"]["count"],
            shots.display()
        );
    }
    assert!(shots.join("laptop.png").exists() && shots.join("phone.png").exists());
}

/// The portfolio's days and each campaign's sparkline are the campaign days
/// of the files, summed here with a CSV reader over the last 28 days; with
/// a margin set, profit is revenue × margin − spend.
#[test]
fn the_portfolio_trend_is_the_files_campaign_days_summed_by_day() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden");
    let app = App::new(&fixture, "[objective]\nmargin = 0.4\n");
    let out = app.run("2026-03-31");
    assert!(out.status.success(), "{}", stderr(&out));
    let r = app.report();
    let ids: std::collections::HashSet<&str> = r["campaigns"].as_array().unwrap().iter().map(|c| c["campaign_id"].as_str().unwrap()).collect();
    let mut by_day = std::collections::BTreeMap::<String, (f64, f64)>::new();
    let mut rd = csv::Reader::from_path(fixture.join("campaign_daily.csv")).unwrap();
    for row in rd.records() {
        let row = row.unwrap();
        let (date, id) = (row[0].to_string(), &row[1]);
        if ids.contains(id) && date.as_str() >= "2026-03-04" && date.as_str() <= "2026-03-31" {
            let e = by_day.entry(date).or_default();
            e.0 += row[4].parse::<f64>().unwrap_or(0.0);
            e.1 += row[6].parse::<f64>().unwrap_or(0.0);
        }
    }
    let t = &r["trend"];
    assert_eq!(t["from"], "2026-03-04");
    let got = |k: &str| t[k].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect::<Vec<f64>>();
    let (spend, revenue, profit) = (got("spend"), got("revenue"), got("profit"));
    assert_eq!(spend.len(), 28);
    for (i, day) in (4..=31).map(|d| format!("2026-03-{d:02}")).enumerate() {
        let (s, v) = by_day.get(&day).copied().unwrap_or_default();
        assert!((spend[i] - s).abs() < 0.006, "{day} spend {} != {s}", spend[i]);
        assert!((revenue[i] - v).abs() < 0.006, "{day} revenue {} != {v}", revenue[i]);
        assert!((profit[i] - (v * 0.4 - s)).abs() < 0.006, "{day} profit {} != {}", profit[i], v * 0.4 - s);
    }
    assert!(spend.iter().sum::<f64>() > 0.0, "the golden campaigns spend in March");
    // Each sparkline's label is that campaign's own sums.
    let html = std::fs::read_to_string(app.report_dir().join("report.html")).unwrap();
    let mut own = std::collections::BTreeMap::<String, (f64, f64)>::new();
    let mut rd = csv::Reader::from_path(fixture.join("campaign_daily.csv")).unwrap();
    for row in rd.records() {
        let row = row.unwrap();
        if &row[0] >= "2026-03-04" && &row[0] <= "2026-03-31" {
            let e = own.entry(row[1].to_string()).or_default();
            e.0 += row[4].parse::<f64>().unwrap_or(0.0);
            e.1 += row[6].parse::<f64>().unwrap_or(0.0);
        }
    }
    for id in &ids {
        let (s, v) = own.get(*id).copied().unwrap_or_default();
        let money = |x: f64| {
            let cents = (x * 100.0).round() as i64;
            let units = (cents / 100).to_string();
            let mut g = String::new();
            for (i, ch) in units.chars().enumerate() {
                if i > 0 && (units.len() - i) % 3 == 0 {
                    g.push(',');
                }
                g.push(ch);
            }
            format!("{g}.{:02}", cents % 100)
        };
        let label = format!("Last 28 days: spend {} and revenue {} in all", money(s), money(v));
        let row = html.find(&format!("<b>{id}</b>")).unwrap();
        let row = &html[row..row + html[row..].find("</tr>").unwrap()];
        assert!(row.contains(&label), "{id}: {label}");
    }
}
