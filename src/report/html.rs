//! `report.html`: one self-contained file (no network, no external asset)
//! that reads on a laptop and a phone. Charts are drawn by plotters as inline
//! SVG; every value is escaped by construction (maud templates).

use std::collections::BTreeMap;

use maud::{html, Markup, PreEscaped, DOCTYPE};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use super::{follow_up_words, shard_note, signed};
use crate::model::outcome::OutcomesSection;
use crate::model::contract::Table;
use crate::model::decision::Decision;
use crate::decisions::response;
use crate::model::plan::{ActionStatus, Forecast};
use crate::model::report::{CampaignEntry, Report};

fn color(d: Decision) -> RGBColor {
    match d {
        Decision::EmergencyPause => RGBColor(200, 30, 45),
        Decision::Pause => RGBColor(240, 130, 30),
        Decision::Continue => RGBColor(30, 150, 70),
        Decision::Optimize => RGBColor(20, 150, 160),
        Decision::Monitor => RGBColor(140, 140, 140),
        Decision::Learning => RGBColor(130, 80, 190),
        Decision::Resume => RGBColor(40, 100, 210),
        Decision::Paused => RGBColor(50, 50, 50),
    }
}

/// Axis labels short enough to sit side by side under the bars.
fn short(d: Decision) -> &'static str {
    match d {
        Decision::EmergencyPause => "EMERG.",
        Decision::Pause => "PAUSE",
        Decision::Continue => "CONT.",
        Decision::Optimize => "OPTIM.",
        Decision::Monitor => "MONIT.",
        Decision::Learning => "LEARN.",
        Decision::Resume => "RESUME",
        Decision::Paused => "PAUSED",
    }
}

fn css(c: RGBColor) -> String {
    format!("rgb({},{},{})", c.0, c.1, c.2)
}

type Svg = Result<String, String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// What a chart with nothing to draw shows: its title and why it is empty.
pub const NO_DATA: &str = "no campaign to chart";

/// A chart frame with its title and a line of text instead of a plot
/// (plotters is never asked to lay out an empty axis).
fn empty(title: &str, why: &str) -> Svg {
    let page = html! {
        svg xmlns="http://www.w3.org/2000/svg" width="640" height="420" viewBox="0 0 640 420" {
            rect width="640" height="420" fill="white" {}
            text x="320" y="40" text-anchor="middle" font-family="sans-serif" font-size="24" { (title) }
            text x="320" y="215" text-anchor="middle" font-family="sans-serif" font-size="18" fill="#777" { (why) }
        }
    };
    Ok(page.into_string())
}

/// A scatter of campaigns, one colour per decision, with a legend.
fn scatter(title: &str, x_desc: &str, y_desc: &str, points: &[(Decision, f64, f64)]) -> Svg {
    if points.is_empty() {
        return empty(title, NO_DATA);
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let span = |v: Vec<f64>| {
            let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
            let hi = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            if !lo.is_finite() || !hi.is_finite() {
                (0.0, 1.0)
            } else {
                let pad = ((hi - lo) * 0.05).max(1e-6);
                (lo.min(0.0) - pad, hi + pad)
            }
        };
        let (x0, x1) = span(points.iter().map(|p| p.1).collect());
        let (y0, y1) = span(points.iter().map(|p| p.2).collect());
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 24))
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 16))
            .light_line_style(WHITE)
            .draw()
            .map_err(err)?;
        for &d in Decision::ALL {
            let c = color(d);
            let pts: Vec<(f64, f64)> = points.iter().filter(|p| p.0 == d).map(|p| (p.1, p.2)).collect();
            if pts.is_empty() {
                continue;
            }
            chart
                .draw_series(pts.into_iter().map(|(x, y)| Circle::new((x, y), 3, c.mix(0.75).filled())))
                .map_err(err)?
                .label(d.as_str())
                .legend(move |(x, y)| Circle::new((x, y), 4, c.filled()));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.6))
            .border_style(BLACK.mix(0.3))
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(("sans-serif", 13))
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// Vertical bars over named segments, one colour per bar.
fn bars(title: &str, y_desc: &str, bars: &[(String, f64, RGBColor)]) -> Svg {
    // Zero bars would ask plotters for zero x labels: it never returns.
    if bars.is_empty() || bars.iter().all(|b| b.1 == 0.0) {
        return empty(title, NO_DATA);
    }
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 420)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let n = bars.len().max(1) as u32;
        let top = bars.iter().map(|b| b.1).fold(0.0, f64::max).max(1.0) * 1.1;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 24))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d((0u32..n).into_segmented(), 0f64..top)
            .map_err(err)?;
        let names: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc(y_desc)
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 16))
            .x_labels(bars.len())
            .x_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => names.get(*i as usize).cloned().unwrap_or_default(),
                _ => String::new(),
            })
            .x_label_style(("sans-serif", 13))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(bars.iter().enumerate().map(|(i, (_, v, c))| {
                let i = i as u32;
                Rectangle::new([(SegmentValue::Exact(i), 0.0), (SegmentValue::Exact(i + 1), *v)], c.filled())
            }))
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The most response curves a page draws (the largest budget changes).
pub const MAX_CURVES: usize = 12;

/// The changed campaigns whose curves the page draws: a fitted response and
/// a budget that moves (a pause included), the largest changes first.
pub fn curve_campaigns(r: &Report) -> Vec<&CampaignEntry> {
    let mut v: Vec<&CampaignEntry> =
        r.campaigns.iter().filter(|c| c.response.is_some() && (c.budget.current - c.budget.proposed).abs() >= 0.01).collect();
    v.sort_by(|a, b| {
        let d = |c: &CampaignEntry| (c.budget.proposed - c.budget.current).abs();
        d(b).total_cmp(&d(a)).then_with(|| a.campaign_id.cmp(&b.campaign_id))
    });
    v.truncate(MAX_CURVES);
    v
}

/// Expected profit per day against daily budget for one campaign: the
/// fitted curve, its 80 % band, and its current (grey) and proposed
/// (coloured) budgets.
fn response_curve(c: &CampaignEntry) -> Svg {
    let Some(r) = &c.response else { return empty(&c.campaign_id, "no fitted response") };
    let f = response::Fit::from_summary(r);
    let top = c.budget.current.max(c.budget.proposed).max(1.0) * 1.6;
    let xs: Vec<f64> = (0..=60).map(|i| top * i as f64 / 60.0).collect();
    let pts: Vec<(f64, Forecast)> = xs.iter().map(|&x| (x, response::forecast(&f, r.burn, c.budget.current, x, r.margin, r.interval_scale))).collect();
    let lo = pts.iter().map(|p| p.1.low).fold(0.0, f64::min);
    let hi = pts.iter().map(|p| p.1.high).fold(1.0, f64::max);
    let pad = (hi - lo) * 0.08;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (480, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("{} — expected profit per day", c.campaign_id), ("sans-serif", 18))
            .margin(10)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..top, (lo - pad)..(hi + pad))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("daily budget")
            .y_desc("profit / day")
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 14))
            .draw()
            .map_err(err)?;
        let band: Vec<(f64, f64)> =
            pts.iter().map(|(x, p)| (*x, p.high)).chain(pts.iter().rev().map(|(x, p)| (*x, p.low))).collect();
        chart.draw_series(std::iter::once(Polygon::new(band, RGBColor(40, 100, 210).mix(0.18)))).map_err(err)?;
        chart.draw_series(LineSeries::new(pts.iter().map(|(x, p)| (*x, p.profit)), RGBColor(40, 100, 210).stroke_width(2))).map_err(err)?;
        chart.draw_series(LineSeries::new([(0.0, 0.0), (top, 0.0)], BLACK.mix(0.4))).map_err(err)?;
        let mark = |x: f64, colour: RGBColor| PathElement::new(vec![(x, lo - pad), (x, hi + pad)], colour.stroke_width(2));
        chart.draw_series([mark(c.budget.current, RGBColor(120, 120, 120)), mark(c.budget.proposed, color(c.decision))]).map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(svg)
}

/// The four charts, drawn on a thread of their own for at most `timeout`:
/// past it the page goes without them (and says so) and the run goes on.
pub fn charts_within(r: &Report, timeout: std::time::Duration) -> Result<Vec<(String, String)>, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let report = r.clone();
    let spawned = std::thread::Builder::new().name("charts".into()).spawn(move || {
        let _ = tx.send(charts(&report));
    });
    if let Err(e) = spawned {
        return Err(format!("charts not drawn: {e}"));
    }
    rx.recv_timeout(timeout).map_err(|_| {
        tracing::warn!(seconds = timeout.as_secs_f64(), "charts took too long to draw; the report goes without them");
        format!("charts not drawn: drawing took longer than {:.0} s", timeout.as_secs_f64())
    })
}

/// The four charts of the report.
pub fn charts(r: &Report) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let spend: Vec<(Decision, f64, f64)> =
        r.campaigns.iter().map(|c| (c.decision, c.metrics.spend, c.metrics.revenue)).collect();
    // A campaign on a product that came from nothing can score +1000 %; clip
    // for the picture so the rest stays readable (the tables keep the value).
    let eff_risk: Vec<(Decision, f64, f64)> = r
        .campaigns
        .iter()
        .filter_map(|c| Some((c.decision, c.metrics.efficiency?.clamp(-100.0, 200.0), c.metrics.risk_score?)))
        .collect();
    let counts: Vec<(String, f64, RGBColor)> = Decision::ALL
        .iter()
        .map(|d| (short(*d).to_string(), *r.decision_counts.get(d).unwrap_or(&0) as f64, color(*d)))
        .collect();
    let mut budget: BTreeMap<Decision, (f64, f64)> = BTreeMap::new();
    for c in &r.campaigns {
        let e = budget.entry(c.decision).or_default();
        e.0 += c.budget.current;
        e.1 += c.budget.proposed;
    }
    let mut budget_bars = Vec::new();
    for &d in Decision::ALL {
        if let Some((before, after)) = budget.get(&d) {
            budget_bars.push((String::new(), *before, color(d).mix(0.35).to_rgba().into_rgb()));
            budget_bars.push((short(d).to_string(), *after, color(d)));
        }
    }
    for c in curve_campaigns(r) {
        match response_curve(c) {
            Ok(s) => out.push((format!("curve-{}", c.campaign_id), s)),
            Err(e) => tracing::warn!(chart = "curve", campaign = %c.campaign_id, error = %e, "chart not drawn"),
        }
    }
    for (id, svg) in [
        ("spend-revenue", scatter("Spend vs revenue (current window)", "spend", "revenue", &spend)),
        ("decisions", bars("Decisions by class", "campaigns", &counts)),
        ("budget", bars("Daily budget by decision (light: before, dark: after)", "daily budget", &budget_bars)),
        ("efficiency-risk", scatter("Efficiency vs risk", "efficiency (clipped to -100…200)", "risk score", &eff_risk)),
    ] {
        match svg {
            Ok(s) => out.push((id.to_string(), s)),
            Err(e) => tracing::warn!(chart = id, error = %e, "chart not drawn"),
        }
    }
    out
}

trait IntoRgb {
    fn into_rgb(self) -> RGBColor;
}

impl IntoRgb for RGBAColor {
    /// Blends over white, so a "lighter" colour stays opaque in the SVG.
    fn into_rgb(self) -> RGBColor {
        let a = self.3;
        let mix = |c: u8| (c as f64 * a + 255.0 * (1.0 - a)).round() as u8;
        RGBColor(mix(self.0), mix(self.1), mix(self.2))
    }
}

fn money(x: f64) -> String {
    format!("{x:.2}")
}

fn opt(x: Option<f64>, digits: usize) -> String {
    x.map(|v| format!("{v:.digits$}")).unwrap_or_else(|| "–".into())
}

/// One decision class's campaigns as a sortable table.
/// "What the changes are expected to earn": per changed campaign its
/// response curve (with a text alternative), the two budgets, the
/// forecast and the reason.
fn curves(r: &Report, charts: &[(String, String)]) -> Markup {
    let shown = curve_campaigns(r);
    let forecast = |c: &CampaignEntry| r.actions.iter().find(|a| a.campaign_id == c.campaign_id).and_then(|a| a.forecast);
    html! {
        @if !shown.is_empty() {
            h2 { "What the changes are expected to earn" }
            @if let (Some(b), Some(a)) = (r.totals.expected_profit_before, r.totals.expected_profit_after) {
                p { "Expected profit per day of the fitted campaigns: " b { (money(b)) } " at today's budgets → " b { (money(a)) } " with this plan." }
            }
            div.charts {
                @for c in &shown {
                    @let svg = charts.iter().find(|x| x.0 == format!("curve-{}", c.campaign_id)).map(|x| x.1.as_str());
                    @let fc = forecast(c);
                    figure.chart id=(format!("curve-{}", c.campaign_id)) {
                        @if let Some(svg) = svg {
                            div role="img" aria-label=(curve_alt(c, fc.as_ref())) { (PreEscaped(svg)) }
                        }
                        figcaption {
                            b { (c.campaign_id) } " · " (c.decision)
                            @if let Some(s) = c.seed_decision { @if s != c.decision { " (the matrix said " (s) ")" } }
                            " · budget " (money(c.budget.current)) " → " (money(c.budget.proposed))
                            @if let Some(f) = fc {
                                br;
                                "Expected change in profit: " b { (signed(f.delta_profit)) } " per day (80 %: " (signed(f.delta_low)) " to " (signed(f.delta_high)) ")"
                            }
                            br;
                            (why_in_words(c))
                            br;
                            span.r { (c.reasons.first().cloned().unwrap_or_default()) }
                        }
                    }
                }
            }
        }
    }
}

/// Why a changed campaign changed, in words, from its fitted response.
pub fn why_in_words(c: &CampaignEntry) -> String {
    let Some(r) = &c.response else { return String::new() };
    let marginal = r.roas * (1.0 - r.elasticity);
    let even = 1.0 / r.margin;
    if c.decision.is_pause() {
        let p = c.reasons.iter().find_map(|x| x.strip_prefix("profit_pause:p_loss_at_min_daily=")).and_then(|x| x.split('>').next()?.parse::<f64>().ok());
        return format!(
            "Paused: it returned {:.2} in revenue per dollar lately (break-even {:.2}){}.",
            r.roas,
            even,
            p.map(|p| format!(", and a loss is {:.0} % likely even at the smallest budget", p * 100.0)).unwrap_or_default()
        );
    }
    if c.budget.proposed > c.budget.current {
        format!("Budget up: its next dollar should bring about {marginal:.2} in revenue (break-even {even:.2}), more than the others' next dollar.")
    } else if marginal < even {
        format!("Budget down: it is past saturation — its next dollar brings only about {marginal:.2} in revenue (break-even {even:.2}).")
    } else {
        format!("Budget down to fund campaigns whose next dollar earns more: this one's brings about {marginal:.2} in revenue.")
    }
}

/// The text a screen reader gets for a curve.
fn curve_alt(c: &CampaignEntry, f: Option<&Forecast>) -> String {
    let mut s = format!(
        "Expected profit per day of {} against its daily budget, with an 80 % band; budget {} now, {} proposed",
        c.campaign_id,
        money(c.budget.current),
        money(c.budget.proposed)
    );
    if let Some(f) = f {
        s.push_str(&format!("; expected change {} per day (80 %: {} to {})", signed(f.delta_profit), signed(f.delta_low), signed(f.delta_high)));
    }
    s
}

/// "Did the changes work?": the money the changes made, the calibration,
/// per rule how often the forecasts held, and the follow-ups that came due.
fn outcomes(o: &OutcomesSection) -> Markup {
    let pct = |c: Option<f64>| c.map_or("–".to_string(), |c| format!("{:.0} %", 100.0 * c));
    html! {
        h2 id="outcomes" { "Did the changes work?" }
        p {
            "The changes followed up so far made " b { (signed(o.money)) } " (80 %: " (signed(o.money_low)) " to " (signed(o.money_high)) ") against the days before them. "
            (o.calibration.note)
        }
        @if !o.per_rule.is_empty() {
            div.scroll { table.sortable {
                thead { tr { @for h in ["rule", "after days", "count", "judged", "inside 80 %", "observed Δprofit/day", "expected Δprofit/day"] { th { (h) } } } }
                tbody { @for r in &o.per_rule {
                    tr {
                        td { (r.rule) }
                        td.n { (r.follow_up_days) }
                        td.n { (r.count) }
                        td.n { (r.judged) }
                        td.n { (pct(r.coverage)) }
                        td.n { (signed(r.mean_observed_delta)) }
                        td.n { (r.mean_expected_delta.map_or("–".to_string(), signed)) }
                    }
                } }
            } }
        }
        @if !o.due.is_empty() {
            h3 { "Came due with this run's data" }
            div.scroll { table.sortable {
                thead { tr { @for h in ["campaign", "rule", "action day", "after days", "expected Δ/day", "80 %", "observed Δ/day", "", "in words"] { th { (h) } } } }
                tbody { @for f in &o.due {
                    tr {
                        td { (f.campaign_id) }
                        td { (f.rule) }
                        td { (f.action_as_of) }
                        td.n { (f.follow_up_days) }
                        td.n { (f.expected_delta.map_or("–".to_string(), signed)) }
                        td.n { @if let (Some(lo), Some(hi)) = (f.low, f.high) { (signed(lo)) " to " (signed(hi)) } @else { "–" } }
                        td.n { (signed(f.observed_delta)) }
                        td { @match f.hit { Some(true) => b.hit { "hit" }, Some(false) => b.miss { "miss" }, None => "–" } }
                        td.r { (follow_up_words(f)) }
                    }
                } }
            } }
        }
    }
}

fn table(rows: &[&CampaignEntry]) -> Markup {
    html! {
        div.scroll { table.sortable {
            thead { tr { @for h in ["campaign", "product", "spend", "revenue", "ROI", "sales Δ%", "views Δ%", "risk", "budget", "reasons"] { th { (h) } } } }
            tbody { @for c in rows {
                @let m = &c.metrics;
                tr {
                    td { (c.campaign_id) }
                    td { (c.product_id) }
                    td.n { (money(m.spend)) }
                    td.n { (money(m.revenue)) }
                    td.n { (opt(m.roi, 2)) }
                    td.n { (opt(m.sales_impact_pct, 1)) }
                    td.n { (opt(m.view_impact_pct, 1)) }
                    td { (m.risk_level.map(|l| l.to_string()).unwrap_or("–".into())) }
                    td.n {
                        @if c.budget.current == c.budget.proposed { (money(c.budget.current)) }
                        @else { (money(c.budget.current)) " → " (money(c.budget.proposed)) }
                    }
                    td.r { (c.reasons.join("; ")) }
                }
            } }
        } }
    }
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;background:#f6f7f9}\
main{max-width:1200px;margin:0 auto;padding:16px}h1{font-size:1.5rem;margin:.5rem 0}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}\
.narrative{background:#fff;border-left:4px solid #2864d2;padding:12px 16px;border-radius:6px}\
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:12px;margin:16px 0}\
.card{background:#fff;border-radius:8px;padding:12px;box-shadow:0 1px 2px #0001}.card b{display:block;font-size:1.4rem}\
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:12px}\
.chart{background:#fff;border-radius:8px;padding:8px}.chart svg{width:100%;height:auto}\
.scroll{overflow-x:auto}table{border-collapse:collapse;background:#fff;width:100%;font-size:.85rem}\
th,td{padding:4px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}th{cursor:pointer;background:#eef1f5;position:sticky;top:0}\
td.n{text-align:right;white-space:nowrap}td.r{font-size:.75rem;color:#555;min-width:240px}.held{background:#fff3f3;border-left:4px solid #c81e2d;padding:8px 12px}\
.badge{display:inline-block;padding:2px 8px;border-radius:10px;color:#fff;font-size:.8rem}\
figure.chart{margin:0}figcaption{font-size:.85rem;padding:4px 4px 0}figcaption .r{font-size:.75rem;color:#555}b.hit{color:#1e7a3c}b.miss{color:#c81e2d}";

const SORT: &str = "document.querySelectorAll('table.sortable th').forEach(function(th,i){th.addEventListener('click',function(){\
var t=th.closest('table'),b=t.tBodies[0],r=Array.from(b.rows),d=th.dataset.d==='1'?-1:1;th.dataset.d=d===1?'1':'0';\
var v=function(x){var s=x.cells[i].innerText.split('→').pop().trim(),n=parseFloat(s);return isNaN(n)?s:n};\
r.sort(function(a,c){var x=v(a),y=v(c);return (x>y?1:x<y?-1:0)*d});r.forEach(function(x){b.appendChild(x)})})});";

/// The page. Every value is escaped by the template (maud) unless wrapped
/// in `PreEscaped`, which only our own CSS, script and plotters' SVG are.
pub fn render(r: &Report, chart_timeout: std::time::Duration) -> String {
    let (charts, why) = match charts_within(r, chart_timeout) {
        Ok(c) => (c, None),
        Err(why) => (Vec::new(), Some(why)),
    };
    let applied = r.actions.iter().filter(|a| a.status == ActionStatus::Applied).count();
    let q = &r.data_quality;
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                title { "campaign-pilot — " (r.as_of) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                main {
                    h1 { "campaign-pilot report — " (r.as_of) }
                    p {
                        "Run " code { (r.run_id) } " · status " b { (r.status) } " · mode " (r.mode)
                        @if r.dry_run { " · dry run" }
                        (shard_note(r))
                    }
                    div.narrative { (r.narrative) }
                    @if !r.held_by.is_empty() {
                        p.held {
                            b { "Held by a guardrail — nothing was applied." } " "
                            @for h in &r.held_by { (h.guardrail) ": " (h.value) " (limit " (h.limit) "). " }
                        }
                    }
                    div.cards {
                        div.card { "budget before" b { (money(r.totals.budget_before)) } }
                        div.card { "budget after" b { (money(r.totals.budget_after)) } }
                        div.card { "savings" b { (money(r.totals.savings)) } }
                        div.card { "campaigns" b { (r.campaigns.len()) } }
                        div.card { "actions (applied)" b { (r.actions.len()) " (" (applied) ")" } }
                        div.card { "rows quarantined" b { (q.rows_quarantined.total()) } }
                    }
                    div.charts {
                        @for (id, svg) in charts.iter().filter(|c| !c.0.starts_with("curve-")) { div.chart id=(format!("chart-{id}")) { (PreEscaped(svg)) } }
                        @if let Some(why) = &why { p { (why) } }
                    }
                    (curves(r, &charts))
                    @if let Some(o) = &r.outcomes { (outcomes(o)) }
                    @for &d in Decision::ALL {
                        @let rows: Vec<&CampaignEntry> = r.campaigns.iter().filter(|c| c.decision == d).collect();
                        @if !rows.is_empty() {
                            h2 { span.badge style=(format!("background:{}", css(color(d)))) { (d) } " " (rows.len()) }
                            (table(&rows))
                        }
                    }
                    @if !r.new_campaigns.is_empty() {
                        h2 { "New campaigns" }
                        div.scroll { table {
                            tr { th { "product" } th { "daily budget" } th { "name" } th { "headline" } th { "description" } }
                            @for n in &r.new_campaigns {
                                tr {
                                    td { (n.product_id) }
                                    td.n { (money(n.daily_budget)) }
                                    td { (n.copy.name) }
                                    td { (n.copy.headline) }
                                    td { (n.copy.description) }
                                }
                            }
                        } }
                    }
                    h2 { "Data quality" }
                    div.scroll { table {
                        tr { th { "table" } th { "rows read" } th { "quarantined" } th { "after as_of" } }
                        @for t in Table::ALL {
                            tr {
                                td { (t.name()) }
                                td.n { (q.rows_read.get(t)) }
                                td.n { (q.rows_quarantined.get(t)) }
                                td.n { (q.rows_after_as_of.get(t)) }
                            }
                        }
                    } }
                    p { "Stale data: " @if q.stale { b { "yes" } " — " (q.stale_reasons.join("; ")) } @else { "no" } }
                }
                script { (PreEscaped(SORT)) }
            }
        }
    };
    page.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_text_is_escaped_by_the_template() {
        let rows = [&CampaignEntry {
            campaign_id: "<script>alert(1)</script>".into(),
            product_id: "P\"1".into(),
            decision: Decision::Monitor,
            reasons: vec!["a&b".into()],
            baseline: crate::model::campaign::Baseline::Trend,
            metrics: crate::model::report::Metrics {
                spend: 1.0,
                revenue: 2.0,
                roas: None,
                roi: None,
                cpa: None,
                sales_impact_pct: None,
                view_impact_pct: None,
                efficiency: None,
                risk_score: None,
                risk_level: None,
            },
            budget: crate::model::report::Budget { current: 1.0, proposed: 1.0 },
            seed_decision: None,
            response: None,
        }];
        let t = table(&rows).into_string();
        assert!(t.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !t.contains("<script>"), "{t}");
        assert!(t.contains("P&quot;1") && t.contains("a&amp;b"), "{t}");
    }

    #[test]
    fn blending_keeps_colours_opaque() {
        assert_eq!(RGBAColor(0, 0, 0, 0.5).into_rgb(), RGBColor(128, 128, 128));
    }
}
