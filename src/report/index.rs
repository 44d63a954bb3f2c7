//! The list of stored runs: `report --list` (md, json or html) and
//! `reports/index.html`, which a run writes beside its day's directory.

use std::collections::HashSet;
use std::fmt::Write as _;

use maud::html;

use super::words::decision_words;
use crate::model::decision::Decision;
use crate::model::report::IndexedRun;

fn pauses(r: &IndexedRun) -> u64 {
    r.decisions.iter().filter(|(d, _)| d.is_pause()).map(|(_, n)| n).sum()
}

fn campaigns(r: &IndexedRun) -> u64 {
    r.decisions.values().sum()
}

fn counts(r: &IndexedRun) -> String {
    Decision::ALL.iter().filter_map(|d| r.decisions.get(d).map(|n| format!("{} {n}", decision_words(*d)))).collect::<Vec<_>>().join(", ")
}

/// The runs as a markdown table, newest first.
pub fn markdown(runs: &[IndexedRun]) -> String {
    let mut s = String::from("# campaign-pilot runs\n\n| as of | started | run | status | mode | campaigns | pauses | actions (applied) | decisions |\n|---|---|---|---|---|---:|---:|---:|---|\n");
    for r in runs {
        let _ = writeln!(
            s,
            "| {} | {} | `{}` | {} | {}{} | {} | {} | {} ({}) | {} |",
            r.as_of,
            r.started_at,
            r.run_id,
            r.status,
            r.mode,
            if r.dry_run { ", dry run" } else { "" },
            campaigns(r),
            pauses(r),
            r.actions,
            r.applied,
            counts(r)
        );
    }
    if runs.is_empty() {
        s.push_str("\nNo run has a report yet.\n");
    }
    s
}

/// The runs as a page. The newest run of each day links to that day's
/// `report.html` (the file on disk is the newest run's); the others name
/// the command that prints theirs.
pub fn html(runs: &[IndexedRun]) -> String {
    let mut linked = HashSet::new();
    let body = html! {
        h1 { "Every run" }
        p.meta { (runs.len()) " stored run(s), newest first. A day's page is its newest run's; " code { "campaign-pilot report RUN_ID --format html" } " prints any run's." }
        div.scroll tabindex="0" role="region" aria-label="table of runs" { table.sortable id="runs" {
            thead { tr { @for h in ["as of", "started", "status", "mode", "campaigns", "pauses", "actions", "applied", "report"] { (super::html::th(h)) } } }
            tbody { @for r in runs {
                tr {
                    td data-v=(r.as_of) { b { (r.as_of) } }
                    td data-v=(r.started_at) { (r.started_at) }
                    td { (r.status) }
                    td { (r.mode) @if r.dry_run { " · dry run" } }
                    td.n data-v=(campaigns(r)) { (campaigns(r)) }
                    td.n data-v=(pauses(r)) { (pauses(r)) }
                    td.n data-v=(r.actions) { (r.actions) }
                    td.n data-v=(r.applied) { (r.applied) }
                    td {
                        @if linked.insert(r.as_of.clone()) { a href=(format!("{}/report.html", r.as_of)) { "report of " (r.as_of) } }
                        @else { code { "report " (r.run_id) " --format html" } }
                        br; small { (counts(r)) }
                    }
                }
            } }
        } }
    };
    super::html::page("campaign-pilot — every run", body)
}
