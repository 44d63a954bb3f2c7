//! The run report, built from the outcome only: `report.json` (the
//! machine-readable contract of SPEC §9, the [`Report`] type of the model),
//! `report.md`, `decisions.csv` and `report.html` ([`html`]).

pub mod html;
pub mod index;
pub mod trend;
pub mod words;

use std::fmt::Write as _;
use std::path::Path;

use crate::decisions::num;
use crate::model::contract::Table;
use crate::model::day::{date_of, Day};
use crate::model::decision::Decision;
use crate::model::plan::{ActionStatus, CampaignDecision, Plan, Totals};
use crate::model::report::{Budget, CampaignEntry, Flip, Metrics, NarrativeSource, Rendered, Report};
use crate::model::run::{DataQuality, Outcome, QuarantinedRow, RunMode, StageReport};
use crate::model::outcome::{Outcome as FollowUp, OutcomesSection};
use crate::model::shard::Shard;

/// A finite number, or null (SPEC §9: ∞ and undefined are null with a reason).
fn finite(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite())
}

fn entry(d: &CampaignDecision) -> CampaignEntry {
    let r = &d.row;
    CampaignEntry {
        campaign_id: r.campaign_id.clone(),
        product_id: r.product_id.clone(),
        product_name: r.product_name.clone(),
        category: r.category.clone(),
        decision: d.verdict.decision,
        reasons: d.verdict.reasons.clone(),
        sentence: words::sentence(d.verdict.decision, &d.verdict.reasons),
        baseline: d.baseline(),
        metrics: Metrics {
            spend: r.spend,
            revenue: r.revenue,
            roas: finite(r.roas),
            roi: finite(r.roi),
            cpa: finite(r.cpa),
            sales_impact_pct: finite(r.sales_impact),
            view_impact_pct: finite(r.view_impact),
            efficiency: finite(r.efficiency),
            risk_score: finite(r.risk_score),
            risk_level: d.risk_level,
        },
        budget: Budget { current: d.budget_current, proposed: d.budget_proposed },
        seed_decision: d.seed_decision,
        response: d.response,
        trend: Vec::new(),
    }
}

pub struct ReportInput<'a> {
    pub run_id: &'a str,
    pub dry_run: bool,
    pub mode: RunMode,
    pub outcome: &'a Outcome,
    pub quality: &'a DataQuality,
    pub quarantine: &'a [QuarantinedRow],
    pub stages: Vec<StageReport>,
    pub shard: Option<Shard>,
    /// The learning loop's follow-ups (a run's; a replayed day has none).
    pub outcomes: Option<OutcomesSection>,
}

pub fn build(input: ReportInput) -> Report {
    let plan = &input.outcome.plan;
    let mut counts = std::collections::BTreeMap::new();
    for d in &plan.campaigns {
        *counts.entry(d.verdict.decision).or_insert(0) += 1;
    }
    let narrative = template_narrative(plan.as_of, &counts, &plan.totals, plan.new_campaigns.len(), input.quality);
    Report {
        run_id: input.run_id.to_string(),
        as_of: date_of(plan.as_of).to_string(),
        dry_run: input.dry_run,
        mode: input.mode,
        status: input.outcome.status,
        data_quality: input.quality.clone(),
        held_by: input.outcome.held_by.clone(),
        campaigns: plan.campaigns.iter().map(entry).collect(),
        actions: plan.actions.clone(),
        new_campaigns: plan.new_campaigns.clone(),
        totals: plan.totals.clone(),
        narrative,
        narrative_source: NarrativeSource::Template,
        llm: Default::default(),
        decision_counts: counts,
        stages: input.stages,
        shard: input.shard.map(|k| k.label()),
        quarantine_sample: input.quarantine.iter().take(100).cloned().collect(),
        outcomes: input.outcomes,
        trend: None,
        previous: None,
        changes: Vec::new(),
    }
}

/// The campaigns a person should read about first, each in a line: the
/// pauses, then the largest budget changes (at most `n`).
pub fn highlights(r: &Report, n: usize) -> Vec<String> {
    let mut moved: Vec<&CampaignEntry> =
        r.campaigns.iter().filter(|c| c.decision.is_pause() || (c.budget.proposed - c.budget.current).abs() >= 0.005).collect();
    moved.sort_by(|a, b| attention(a, b).then_with(|| a.campaign_id.cmp(&b.campaign_id)));
    moved.iter().take(n).map(|c| line(c)).collect()
}

/// What a person reads first: pauses, then the largest budget changes.
pub fn attention(a: &CampaignEntry, b: &CampaignEntry) -> std::cmp::Ordering {
    let delta = |c: &CampaignEntry| (c.budget.proposed - c.budget.current).abs();
    (!a.decision.is_pause()).cmp(&!b.decision.is_pause()).then(delta(b).total_cmp(&delta(a)))
}

/// One campaign in a line: id, product name, and its sentence.
pub fn line(c: &CampaignEntry) -> String {
    let name = if c.product_name.is_empty() { String::new() } else { format!(" ({})", c.product_name) };
    format!("{}{name}: {}", c.campaign_id, said(c))
}

/// The campaign's sentence (worded again from its reasons for a report
/// stored before sentences were kept).
pub fn said(c: &CampaignEntry) -> String {
    if c.sentence.is_empty() { words::sentence(c.decision, &c.reasons) } else { c.sentence.clone() }
}

/// The campaigns whose decision differs from a previous run's, by campaign id.
pub fn changes(r: &Report, before: &[crate::db::backfill::StoredDecision]) -> Vec<Flip> {
    let was: std::collections::HashMap<&str, Decision> = before.iter().map(|d| (d.campaign_id.as_str(), d.decision)).collect();
    let mut out: Vec<Flip> = r
        .campaigns
        .iter()
        .filter_map(|c| {
            let b = *was.get(c.campaign_id.as_str())?;
            (b != c.decision).then(|| Flip { campaign_id: c.campaign_id.clone(), before: b, after: c.decision })
        })
        .collect();
    out.sort_by(|a, b| a.campaign_id.cmp(&b.campaign_id));
    out
}

/// What the model may know to write the narrative: aggregates and the top
/// movers with their reasons (ids, numbers, rules), and, apart, the product
/// names involved (store text, to be passed as untrusted data). No secret and
/// no customer data is in either.
pub fn narrative_facts(r: &Report, plan: &Plan) -> (String, Vec<String>) {
    let mut s = format!("Run for {} ({} campaigns judged).\nDecisions:", r.as_of, r.campaigns.len());
    for (d, n) in &r.decision_counts {
        let _ = write!(s, " {d} {n};");
    }
    let _ = write!(
        s,
        "\nDaily budget: {} before, {} after, {} saved.\nActions: {} ({} applied).",
        money(r.totals.budget_before),
        money(r.totals.budget_after),
        money(r.totals.savings),
        r.actions.len(),
        r.actions.iter().filter(|a| a.status == ActionStatus::Applied).count()
    );
    let mut names = Vec::new();
    let mut movers: Vec<&CampaignDecision> = plan
        .campaigns
        .iter()
        .filter(|c| c.verdict.decision.is_pause() || c.budget_proposed != c.budget_current)
        .collect();
    movers.sort_by(|a, b| {
        let delta = |c: &CampaignDecision| (c.budget_proposed - c.budget_current).abs();
        delta(b).total_cmp(&delta(a)).then_with(|| a.row.campaign_id.cmp(&b.row.campaign_id))
    });
    s.push_str("\nTop movers:");
    for c in movers.iter().take(6) {
        let _ = write!(
            s,
            "\n- campaign {} (product {}): {}, daily budget {} -> {}; why: {}",
            c.row.campaign_id,
            c.row.product_id,
            c.verdict.decision,
            money(c.budget_current),
            money(c.budget_proposed),
            c.verdict.reasons.first().cloned().unwrap_or_default()
        );
        names.push(format!("{}: {}", c.row.product_id, c.row.product_name));
    }
    for n in &r.new_campaigns {
        let _ = write!(s, "\n- new campaign for product {} at {} a day", n.product_id, money(n.daily_budget));
    }
    for n in &plan.new_campaigns {
        names.push(format!("{}: {}", n.product_id, n.product_name));
    }
    let q = &r.data_quality;
    let _ = write!(s, "\nData: {} rows quarantined; stale: {}.", q.rows_quarantined.total(), if q.stale { "yes" } else { "no" });
    if !r.held_by.is_empty() {
        s.push_str("\nThe plan was HELD by a guardrail; nothing was applied:");
        for h in &r.held_by {
            let _ = write!(s, " {} {} > {};", h.guardrail, h.value, h.limit);
        }
    }
    (s, names)
}

fn template_narrative(
    as_of: Day,
    counts: &std::collections::BTreeMap<Decision, usize>,
    t: &Totals,
    new: usize,
    q: &DataQuality,
) -> String {
    let n = |d: Decision| counts.get(&d).copied().unwrap_or(0);
    let mut s = format!(
        "For {}: {} campaigns judged. {} to pause ({} emergency), {} to keep growing, {} to optimize, {} to watch, {} still learning; {} to resume, {} stay paused. {} new campaign(s) proposed.",
        date_of(as_of),
        counts.values().sum::<usize>(),
        n(Decision::Pause) + n(Decision::EmergencyPause),
        n(Decision::EmergencyPause),
        n(Decision::Continue),
        n(Decision::Optimize),
        n(Decision::Monitor),
        n(Decision::Learning),
        n(Decision::Resume),
        n(Decision::Paused),
        new
    );
    let _ = write!(
        s,
        " Daily budget {} before, {} after; {} saved.",
        money(t.budget_before),
        money(t.budget_after),
        money(t.savings)
    );
    if q.rows_quarantined.total() > 0 {
        let _ = write!(s, " {} bad row(s) were quarantined.", q.rows_quarantined.total());
    }
    if q.stale {
        let _ = write!(s, " Warning: the data is stale ({}).", q.stale_reasons.join("; "));
    }
    s
}

fn money(x: f64) -> String {
    format!("{x:.2}")
}

fn opt(x: Option<f64>, digits: usize) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.digits$}"),
        Some(v) if v > 0.0 => "∞".into(),
        _ => "–".into(),
    }
}

/// Which part of the portfolio the report covers, for md and html.
pub fn shard_note(r: &Report) -> String {
    match &r.shard {
        Some(k) => format!(" · shard {k}: only this shard's campaigns, budgets and guardrails"),
        None => String::new(),
    }
}

/// `report.md`: totals, data quality, one table per decision class.
pub fn markdown(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# campaign-pilot report — {}\n", r.as_of);
    let _ = writeln!(s, "{}\n", r.narrative);
    let _ = writeln!(
        s,
        "Run `{}` · status **{}** · mode {}{}{}\n",
        r.run_id,
        r.status.as_str(),
        r.mode,
        if r.dry_run { " · dry run" } else { "" },
        shard_note(r)
    );
    let top = highlights(r, 10);
    if !top.is_empty() {
        let _ = writeln!(s, "## What changed\n");
        for l in &top {
            let _ = writeln!(s, "- {}", l.replace('|', "/"));
        }
        s.push('\n');
    }
    if let Some(p) = &r.previous {
        if r.changes.is_empty() {
            let _ = writeln!(s, "No decision changed since the run of {}.\n", p.as_of);
        } else {
            let _ = writeln!(s, "## Changed since the run of {}\n\n| campaign | on {} | on {} |\n|---|---|---|", p.as_of, p.as_of, r.as_of);
            for f in &r.changes {
                let _ = writeln!(s, "| {} | {} | {} |", f.campaign_id, words::decision_words(f.before), words::decision_words(f.after));
            }
            s.push('\n');
        }
    }
    let _ = writeln!(s, "## Totals\n\n| budget before | budget after | savings |\n|---:|---:|---:|");
    let _ = writeln!(
        s,
        "| {} | {} | {} |\n",
        money(r.totals.budget_before),
        money(r.totals.budget_after),
        money(r.totals.savings)
    );
    let q = &r.data_quality;
    let _ = writeln!(s, "## Data quality\n\n| table | rows read | quarantined | after as_of |\n|---|---:|---:|---:|");
    for t in Table::ALL {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            t.name(),
            q.rows_read.get(t),
            q.rows_quarantined.get(t),
            q.rows_after_as_of.get(t)
        );
    }
    let _ = writeln!(s, "\nStale data: {}\n", if q.stale { format!("**yes** — {}", q.stale_reasons.join("; ")) } else { "no".to_string() });
    for c in &q.carried {
        let _ = writeln!(s, "{}\n", words::carried_sentence(c));
    }
    for &d in Decision::ALL {
        let rows: Vec<&CampaignEntry> = r.campaigns.iter().filter(|c| c.decision == d).collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(s, "## {} ({})\n", d, rows.len());
        let _ = writeln!(
            s,
            "| campaign | product | spend | revenue | ROI | sales Δ% | views Δ% | risk | budget | why |\n|---|---|---:|---:|---:|---:|---:|---|---:|---|"
        );
        for c in rows {
            let m = &c.metrics;
            let budget = if c.budget.current == c.budget.proposed {
                money(c.budget.current)
            } else {
                format!("{} → {}", money(c.budget.current), money(c.budget.proposed))
            };
            let product = if c.product_name.is_empty() { c.product_id.clone() } else { format!("{} {}", c.product_id, c.product_name) };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                c.campaign_id,
                product.replace('|', "/"),
                money(m.spend),
                money(m.revenue),
                opt(m.roi, 2),
                opt(m.sales_impact_pct, 1),
                opt(m.view_impact_pct, 1),
                m.risk_level.map(|l| l.to_string()).unwrap_or("–".into()),
                budget,
                said(c).replace('|', "/")
            );
        }
        s.push('\n');
    }
    if let Some(o) = &r.outcomes {
        outcomes_markdown(&mut s, o);
    }
    if !r.new_campaigns.is_empty() {
        let _ = writeln!(s, "## New campaigns\n\n| product | daily budget | name | headline |\n|---|---:|---|---|");
        for n in &r.new_campaigns {
            let _ = writeln!(s, "| {} | {} | {} | {} |", n.product_id, money(n.daily_budget), n.copy.name, n.copy.headline);
        }
        s.push('\n');
    }
    if !r.actions.is_empty() {
        let _ = writeln!(s, "## Actions\n\n| kind | campaign | product | from | to | status |\n|---|---|---|---:|---:|---|");
        for a in &r.actions {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {:?} |",
                a.kind.as_str(),
                a.campaign_id,
                a.product_id,
                money(a.from),
                money(a.to),
                a.status
            );
        }
    }
    s
}

/// A signed amount per day, as the follow-ups speak: `+12.30`, `−4.00`.
pub fn signed(x: f64) -> String {
    if x < 0.0 {
        format!("−{:.2}", -x)
    } else {
        format!("+{x:.2}")
    }
}

/// One follow-up in words: what was done, what was expected, what happened.
pub fn follow_up_words(o: &FollowUp) -> String {
    let what = match o.rule {
        crate::model::outcome::Rule::Create => format!("created at {} a day", money(o.to_budget)),
        crate::model::outcome::Rule::Pause | crate::model::outcome::Rule::EmergencyPause => format!("paused at {} a day", money(o.from_budget)),
        crate::model::outcome::Rule::Resume => format!("resumed at {} a day", money(o.to_budget)),
        _ => format!("budget {} → {}", money(o.from_budget), money(o.to_budget)),
    };
    let expected = match (o.expected_delta, o.low, o.high) {
        (Some(e), Some(lo), Some(hi)) => format!("expected {} a day (80 %: {} to {})", signed(e), signed(lo), signed(hi)),
        _ => "no forecast".to_string(),
    };
    let verdict = match o.hit {
        Some(true) => "hit",
        Some(false) => "miss",
        None => "not judged",
    };
    format!(
        "{what} on {}: {expected}; observed {} a day over {} days (profit {} → {} a day) — {verdict}",
        o.action_as_of,
        signed(o.observed_delta),
        o.follow_up_days,
        money(o.before.profit),
        money(o.after.profit)
    )
}

/// The "did the changes work?" part of `report.md`.
fn outcomes_markdown(s: &mut String, o: &OutcomesSection) {
    let _ = writeln!(s, "## Did the changes work?\n");
    let _ = writeln!(
        s,
        "Changes followed up so far made **{}** (80 %: {} to {}) against the days before them. {}\n",
        signed(o.money),
        signed(o.money_low),
        signed(o.money_high),
        o.calibration.note
    );
    if !o.per_rule.is_empty() {
        let _ = writeln!(s, "| rule | after days | count | judged | inside 80 % | observed Δprofit/day | expected Δprofit/day |\n|---|---:|---:|---:|---:|---:|---:|");
        for r in &o.per_rule {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} |",
                r.rule,
                r.follow_up_days,
                r.count,
                r.judged,
                r.coverage.map_or("–".into(), |c| format!("{:.0} %", 100.0 * c)),
                signed(r.mean_observed_delta),
                r.mean_expected_delta.map_or("–".into(), signed)
            );
        }
        s.push('\n');
    }
    if !o.due.is_empty() {
        let _ = writeln!(s, "Came due with this run's data:\n");
        for f in &o.due {
            let _ = writeln!(s, "- {} ({}): {}", f.campaign_id, f.rule, follow_up_words(f));
        }
        s.push('\n');
    }
}

/// `decisions.csv`: one row per campaign.
pub fn decisions_csv(r: &Report) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "campaign_id", "product_id", "decision", "baseline", "spend", "revenue", "roas", "roi", "cpa",
        "sales_impact_pct", "view_impact_pct", "efficiency", "risk_score", "risk_level", "budget_current",
        "budget_proposed", "reasons",
    ])?;
    let o = |x: Option<f64>| x.map(num).unwrap_or_default();
    for c in &r.campaigns {
        let m = &c.metrics;
        w.write_record([
            c.campaign_id.clone(),
            c.product_id.clone(),
            c.decision.to_string(),
            c.baseline.to_string(),
            num(m.spend),
            num(m.revenue),
            o(m.roas),
            o(m.roi),
            o(m.cpa),
            o(m.sales_impact_pct),
            o(m.view_impact_pct),
            o(m.efficiency),
            o(m.risk_score),
            m.risk_level.map(|l| l.to_string()).unwrap_or_default(),
            num(c.budget.current),
            num(c.budget.proposed),
            c.reasons.join("; "),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Every rendering of the report; the HTML's charts get at most
/// `chart_timeout` to draw.
pub fn render(r: &Report, chart_timeout: std::time::Duration) -> std::io::Result<Rendered> {
    // The page is about half the work: it is drawn beside the other three.
    let (html, rest) = std::thread::scope(|scope| {
        let page = scope.spawn(|| html::render(r, chart_timeout));
        let rest = (|| -> std::io::Result<(String, String, String)> {
            let json = serde_json::to_string_pretty(r).map_err(std::io::Error::other)?;
            let csv = decisions_csv(r).map_err(std::io::Error::other)?;
            Ok((json, markdown(r), csv))
        })();
        (page.join(), rest)
    });
    let html = html.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    let (json, markdown, csv) = rest?;
    Ok(Rendered { json, markdown, csv, html })
}

/// Makes `dir` and proves it writable, before a run acts on anything.
pub fn prepare_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(".campaign-pilot-write-check");
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
}

/// Writes the four files into `dir`.
pub fn write(rendered: &Rendered, dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("report.json"), &rendered.json)?;
    std::fs::write(dir.join("report.md"), &rendered.markdown)?;
    std::fs::write(dir.join("decisions.csv"), &rendered.csv)?;
    std::fs::write(dir.join("report.html"), &rendered.html)?;
    Ok(())
}
