//! `report.html`: one self-contained file (no network, no external asset)
//! that reads on a laptop and a phone. Charts are drawn by plotters as inline
//! SVG; every value is escaped by construction (maud templates).

use std::collections::BTreeMap;

use maud::{html, Markup, PreEscaped, DOCTYPE};
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use super::{follow_up_words, shard_note, signed, words};
use crate::model::outcome::OutcomesSection;
use crate::model::contract::Table;
use crate::model::decision::Decision;
use crate::decisions::response;
use crate::model::plan::{ActionStatus, Forecast};
use crate::model::reason::Code;
use crate::model::report::{CampaignEntry, PortfolioTrend, Report};

/// One colour per decision, each dark enough for white text on it (and
/// for marks on white) to pass WCAG AA contrast (4.5:1).
fn color(d: Decision) -> RGBColor {
    match d {
        Decision::EmergencyPause => RGBColor(176, 0, 32),
        Decision::Pause => RGBColor(168, 67, 0),
        Decision::Continue => RGBColor(27, 122, 58),
        Decision::Optimize => RGBColor(11, 110, 117),
        Decision::Monitor => RGBColor(95, 99, 104),
        Decision::Learning => RGBColor(106, 63, 176),
        Decision::Resume => RGBColor(31, 95, 191),
        Decision::Paused => RGBColor(51, 51, 51),
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

/// What a bar chart with a single bar shows instead.
pub const ONE_BAR: &str = "one class only: see the table";

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
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
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
                .map_err(err)?;
        }
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
    // One bar compares nothing: the page says it in words instead.
    if bars.iter().filter(|b| b.1 != 0.0).count() < 2 {
        return empty(title, ONE_BAR);
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
            .y_label_formatter(&|v| format!("{v:.0}"))
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
/// Daily spend, revenue and profit of the portfolio over the trend days.
fn portfolio_chart(t: &PortfolioTrend) -> Svg {
    let n = t.spend.len();
    if n < 2 {
        return empty("Spend, revenue and profit per day", NO_DATA);
    }
    let all = t.spend.iter().chain(&t.revenue).chain(&t.profit).copied();
    let lo = all.clone().fold(0.0, f64::min);
    let hi = all.fold(1.0, f64::max);
    let pad = (hi - lo) * 0.06;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let from = t.from.clone();
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .build_cartesian_2d(0f64..(n - 1) as f64, (lo - pad)..(hi + pad))
            .map_err(err)?;
        let label = |x: &f64| {
            chrono::NaiveDate::parse_from_str(&from, "%Y-%m-%d")
                .map(|d| (d + chrono::Duration::days(x.round() as i64)).format("%b %d").to_string())
                .unwrap_or_default()
        };
        chart
            .configure_mesh()
            .x_labels(7)
            .x_label_formatter(&label)
            .y_label_formatter(&|v| format!("{v:.0}"))
            .y_desc("money per day")
            .label_style(("sans-serif", 18))
            .axis_desc_style(("sans-serif", 18))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(err)?;
        chart.draw_series(LineSeries::new([(0.0, 0.0), ((n - 1) as f64, 0.0)], BLACK.mix(0.5))).map_err(err)?;
        for (values, c) in [(&t.spend, SPEND), (&t.revenue, REVENUE), (&t.profit, PROFIT)] {
            chart
                .draw_series(LineSeries::new(values.iter().enumerate().map(|(i, v)| (i as f64, *v)), c.stroke_width(3)))
                .map_err(err)?;
        }
        root.present().map_err(err)?;
    }
    Ok(svg)
}

const SPEND: RGBColor = RGBColor(168, 67, 0);
const REVENUE: RGBColor = RGBColor(31, 95, 191);
const PROFIT: RGBColor = RGBColor(27, 122, 58);

/// A drawn chart with what a person who cannot see it is told, and its
/// legend (drawn beside the chart, never on the data).
pub struct Chart {
    pub id: String,
    pub title: String,
    pub alt: String,
    pub svg: String,
    pub legend: Vec<(String, RGBColor)>,
}

/// The charts, drawn on a thread of their own for at most `timeout`:
/// past it the page goes without them (and says so) and the run goes on.
pub fn charts_within(r: &Report, timeout: std::time::Duration) -> Result<Vec<Chart>, String> {
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

fn decision_legend(r: &Report) -> Vec<(String, RGBColor)> {
    Decision::ALL.iter().filter(|d| r.decision_counts.get(d).is_some_and(|n| *n > 0)).map(|d| (words::decision_words(*d).to_string(), color(*d))).collect()
}

/// The charts of the report: the portfolio over time, the response curves
/// of the largest changes, and the portfolio by decision.
pub fn charts(r: &Report) -> Vec<Chart> {
    let mut out = Vec::new();
    let mut push = |id: String, title: String, alt: String, svg: Svg, legend: Vec<(String, RGBColor)>| match svg {
        Ok(svg) => out.push(Chart { id, title, alt, svg, legend }),
        Err(e) => tracing::warn!(chart = %id, error = %e, "chart not drawn"),
    };
    if let Some(t) = &r.trend {
        let sum = |v: &[f64]| v.iter().sum::<f64>();
        let alt = format!(
            "Line chart of the portfolio's spend, revenue and profit per day over the {} days from {}: in all, spend {}, revenue {}, profit {}; profit on the last day {}.",
            t.spend.len(),
            t.from,
            wmoney(sum(&t.spend)),
            wmoney(sum(&t.revenue)),
            wmoney(sum(&t.profit)),
            wmoney(t.profit.last().copied().unwrap_or(0.0))
        );
        push(
            "portfolio".into(),
            "The portfolio day by day".into(),
            alt,
            portfolio_chart(t),
            vec![("spend".into(), SPEND), ("revenue".into(), REVENUE), ("profit (revenue × margin − spend)".into(), PROFIT)],
        );
    }
    for c in curve_campaigns(r) {
        let fc = r.actions.iter().find(|a| a.campaign_id == c.campaign_id).and_then(|a| a.forecast);
        push(format!("curve-{}", c.campaign_id), format!("{} — expected profit per day", c.campaign_id), curve_alt(c, fc.as_ref()), response_curve(c), vec![
            ("expected profit, 80 % band shaded".into(), RGBColor(31, 95, 191)),
            ("budget now".into(), RGBColor(110, 110, 110)),
            ("budget proposed".into(), color(c.decision)),
        ]);
    }
    let counts: Vec<(String, f64, RGBColor)> = Decision::ALL
        .iter()
        .map(|d| (short(*d).to_string(), *r.decision_counts.get(d).unwrap_or(&0) as f64, color(*d)))
        .collect();
    let counts_alt = format!(
        "Bar chart of campaigns by decision: {}.",
        Decision::ALL
            .iter()
            .filter_map(|d| r.decision_counts.get(d).filter(|n| **n > 0).map(|n| format!("{} {n}", words::decision_words(*d))))
            .collect::<Vec<_>>()
            .join(", ")
    );
    push("decisions".into(), "Campaigns by decision".into(), counts_alt, bars("Campaigns by decision", "campaigns", &counts), decision_legend(r));
    let mut budget: BTreeMap<Decision, (f64, f64)> = BTreeMap::new();
    for c in &r.campaigns {
        let e = budget.entry(c.decision).or_default();
        e.0 += c.budget.current;
        e.1 += c.budget.proposed;
    }
    let mut budget_bars = Vec::new();
    let mut budget_words = Vec::new();
    for &d in Decision::ALL {
        if let Some((before, after)) = budget.get(&d) {
            budget_bars.push((String::new(), *before, color(d).mix(0.35).to_rgba().into_rgb()));
            budget_bars.push((short(d).to_string(), *after, color(d)));
            budget_words.push(format!("{} {} → {}", words::decision_words(d), wmoney(*before), wmoney(*after)));
        }
    }
    push(
        "budget".into(),
        "Daily budget by decision, before and after".into(),
        format!("Bar chart of the daily budget by decision, before (light) and after (dark): {}.", budget_words.join(", ")),
        bars("Daily budget by decision", "daily budget", &budget_bars),
        decision_legend(r),
    );
    let spend: Vec<(Decision, f64, f64)> = r.campaigns.iter().map(|c| (c.decision, c.metrics.spend, c.metrics.revenue)).collect();
    let above = r.campaigns.iter().filter(|c| c.metrics.revenue > c.metrics.spend).count();
    push(
        "spend-revenue".into(),
        "Spend against revenue, current window".into(),
        format!("Scatter of the {} campaigns' spend against revenue in the current window, coloured by decision; {above} earned more than they spent.", r.campaigns.len()),
        scatter("Spend against revenue", "spend (current window)", "revenue (current window)", &spend),
        decision_legend(r),
    );
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

/// Money for the page: two decimals, thousands separated.
fn wmoney(x: f64) -> String {
    words::money(Some(x))
}

fn opt(x: Option<f64>, digits: usize) -> String {
    x.map(|v| format!("{v:.digits$}")).unwrap_or_else(|| "–".into())
}

/// A sort key for a cell: its number, or its text.
fn key(x: f64) -> String {
    if x.is_finite() { format!("{x}") } else { String::new() }
}

/// "What the changes are expected to earn": per changed campaign its
/// response curve, the two budgets, the forecast and why, in words.
fn curves(r: &Report, charts: &[Chart]) -> Markup {
    let shown = curve_campaigns(r);
    let forecast = |c: &CampaignEntry| r.actions.iter().find(|a| a.campaign_id == c.campaign_id).and_then(|a| a.forecast);
    html! {
        @if !shown.is_empty() {
            section aria-labelledby="h-curves" {
                h2 id="h-curves" { "What the changes are expected to earn" }
                div.charts {
                    @for c in &shown {
                        @let fc = forecast(c);
                        @if let Some(ch) = charts.iter().find(|x| x.id == format!("curve-{}", c.campaign_id)) {
                            figure.chart id=(ch.id) {
                                (chart_body(ch))
                                figcaption {
                                    b { (c.campaign_id) " · " (c.product_name) } " — " (words::decision_words(c.decision))
                                    @if let Some(s) = c.seed_decision { @if s != c.decision { " (the old rules said " (words::decision_words(s)) ")" } }
                                    ". Budget " (wmoney(c.budget.current)) " → " (wmoney(c.budget.proposed)) " a day."
                                    @if let Some(f) = fc {
                                        " Expected change in profit: " b { (signed(f.delta_profit)) } " a day (80 %: " (signed(f.delta_low)) " to " (signed(f.delta_high)) ")."
                                    }
                                    " " (words::curve_words(c))
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The text a screen reader gets for a curve.
fn curve_alt(c: &CampaignEntry, f: Option<&Forecast>) -> String {
    let mut s = format!(
        "Line chart of the expected profit per day of {} against its daily budget, with an 80 % band; budget {} now, {} proposed",
        c.campaign_id,
        wmoney(c.budget.current),
        wmoney(c.budget.proposed)
    );
    if let Some(f) = f {
        s.push_str(&format!("; expected change {} a day (80 %: {} to {})", signed(f.delta_profit), signed(f.delta_low), signed(f.delta_high)));
    }
    s.push('.');
    s
}

/// A chart's drawing, as one image with its text alternative, and its legend.
fn chart_body(ch: &Chart) -> Markup {
    html! {
        div.svg role="img" aria-label=(ch.alt) { (PreEscaped(&ch.svg)) }
        @if !ch.legend.is_empty() {
            ul.legend aria-hidden="true" {
                @for (name, c) in &ch.legend { li { span.sw style=(format!("background:{}", css(*c))) {} (name) } }
            }
        }
    }
}

/// "Did the changes work?": the money the changes made, the calibration,
/// per rule how often the forecasts held, and the follow-ups that came due.
fn outcomes(o: &OutcomesSection) -> Markup {
    let pct = |c: Option<f64>| c.map_or("–".to_string(), |c| format!("{:.0} %", 100.0 * c));
    html! {
        section aria-labelledby="outcomes" {
        h2 id="outcomes" { "Did the changes work?" }
        p {
            "The changes followed up so far made " b { (signed(o.money)) } " (80 %: " (signed(o.money_low)) " to " (signed(o.money_high)) ") against the days before them. "
            (o.calibration.note)
        }
        @if !o.per_rule.is_empty() {
            div.scroll tabindex="0" role="region" aria-label="table of follow-ups by rule" { table.sortable {
                thead { tr { @for h in ["rule", "after days", "count", "judged", "inside 80 %", "observed Δprofit/day", "expected Δprofit/day"] { (th(h)) } } }
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
            ul.due { @for f in &o.due { li { b { (f.campaign_id) } " (" (f.rule) "): " (follow_up_words(f)) } } }
        }
        }
    }
}

/// A sortable column's header: a button (keyboard and screen reader reach it).
pub(super) fn th(h: &str) -> Markup {
    html! { th scope="col" aria-sort="none" { button type="button" { (h) } } }
}

/// Both series of a campaign's sparkline, as a polyline each.
fn sparkline(c: &CampaignEntry) -> Markup {
    let n = c.trend.len();
    let top = c.trend.iter().map(|t| t.0.max(t.1)).fold(0.0, f64::max);
    let (w, h) = (120.0, 32.0);
    let line = |pick: fn(&(f64, f64)) -> f64| -> String {
        c.trend
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let x = if n > 1 { i as f64 * w / (n - 1) as f64 } else { 0.0 };
                let y = if top > 0.0 { h - 2.0 - pick(t) / top * (h - 4.0) } else { h - 2.0 };
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let spend: f64 = c.trend.iter().map(|t| t.0).sum();
    let revenue: f64 = c.trend.iter().map(|t| t.1).sum();
    let alt = format!("Last {n} days: spend {} and revenue {} in all", wmoney(spend), wmoney(revenue));
    html! {
        @if n > 1 {
            svg.spark xmlns="http://www.w3.org/2000/svg" viewBox="0 0 120 32" width="120" height="32" role="img" aria-label=(alt) {
                title { (alt) }
                polyline fill="none" stroke=(css(SPEND)) stroke-width="1.5" stroke-dasharray="3 2" points=(line(|t| t.0)) {}
                polyline fill="none" stroke=(css(REVENUE)) stroke-width="2" points=(line(|t| t.1)) {}
            }
        }
    }
}

/// Every campaign, one row each (a card on a phone): who, what was decided
/// and why in words, the budget change, and its last days.
fn campaign_table(r: &Report) -> Markup {
    let mut rows: Vec<&CampaignEntry> = r.campaigns.iter().collect();
    // As the summary's highlights, then by decision class and id.
    let rank = |c: &CampaignEntry| Decision::ALL.iter().position(|d| *d == c.decision).unwrap_or(0);
    rows.sort_by(|a, b| super::attention(a, b).then(rank(a).cmp(&rank(b))).then(a.campaign_id.cmp(&b.campaign_id)));
    campaign_rows(&rows)
}

fn campaign_rows(rows: &[&CampaignEntry]) -> Markup {
    html! {
        div.scroll.wide tabindex="0" role="region" aria-label="table of every campaign" { table.sortable.campaigns id="campaigns" {
            caption.sr { "Every campaign with its decision, why, its daily budget and its last days; the column buttons sort the table." }
            thead { tr { @for h in ["campaign", "product", "decision", "why", "daily budget", "last days", "spend", "revenue", "ROI"] { (th(h)) } } }
            tbody { @for c in rows.iter().copied() {
                @let m = &c.metrics;
                tr data-decision=(c.decision.as_str()) {
                    td data-label="campaign" data-v=(c.campaign_id) { b { (c.campaign_id) } br; span.name { (c.product_name) } }
                    td data-label="product" data-v=(c.product_id) { (c.product_id) @if !c.category.is_empty() { " · " (c.category) } }
                    td data-label="decision" data-v=(c.decision.as_str()) { span.badge style=(format!("background:{}", css(color(c.decision)))) { (words::decision_words(c.decision)) } }
                    td.why data-label="why" data-v=(c.sentence) {
                        span.sentence { (c.sentence) }
                        details { summary { "rules" } code { (c.reasons.join("; ")) } }
                    }
                    td.n data-label="daily budget" data-v=(key(c.budget.proposed - c.budget.current)) {
                        @if (c.budget.current - c.budget.proposed).abs() < 0.005 { (wmoney(c.budget.current)) }
                        @else { (wmoney(c.budget.current)) " → " b { (wmoney(c.budget.proposed)) } }
                    }
                    td data-label="last days" data-v=(key(c.trend.iter().map(|t| t.1 - t.0).sum::<f64>())) { (sparkline(c)) }
                    td.n data-label="spend" data-v=(key(m.spend)) { (wmoney(m.spend)) }
                    td.n data-label="revenue" data-v=(key(m.revenue)) { (wmoney(m.revenue)) }
                    td.n data-label="ROI" data-v=(m.roi.map(key).unwrap_or_default()) { (opt(m.roi, 2)) }
                }
            } }
        } }
    }
}

/// What needs a person: a held plan, proposals waiting, locked campaigns,
/// actions that failed.
fn needs_a_person(r: &Report) -> Markup {
    let waiting: Vec<_> = if r.dry_run { Vec::new() } else { r.actions.iter().filter(|a| a.status == ActionStatus::Proposed).collect() };
    let failed: Vec<_> = r.actions.iter().filter(|a| a.status == ActionStatus::Failed).collect();
    let locked: Vec<&CampaignEntry> = r.campaigns.iter().filter(|c| c.reasons.iter().any(|x| Code::Locked.marks(x))).collect();
    let nothing = r.held_by.is_empty() && waiting.is_empty() && failed.is_empty() && locked.is_empty();
    html! {
        section.attention aria-labelledby="h-person" {
            h2 id="h-person" { "Needs a person" }
            @if nothing { p { "Nothing: no plan held, no proposal waiting, no campaign locked, no action failed." } }
            ul {
                @if !r.held_by.is_empty() {
                    li.held { b { "The plan was held by a guardrail; nothing was applied." } " "
                        @for h in &r.held_by { (h.guardrail) " was " (crate::decisions::num(h.value)) " (limit " (crate::decisions::num(h.limit)) "). " }
                        "Approve or reject it with " code { "approve " (r.run_id) } "." }
                }
                @if !waiting.is_empty() { li { b { (waiting.len()) " proposal(s) waiting" } " for " code { "approve" } " or " code { "reject" } "." } }
                @if !failed.is_empty() { li { b { (failed.len()) " action(s) failed" } "; they are retried next run." } }
                @if !locked.is_empty() {
                    li { b { (locked.len()) " campaign(s) locked" } " by a person, left as they are: "
                        (locked.iter().map(|c| c.campaign_id.as_str()).collect::<Vec<_>>().join(", ")) "." }
                }
            }
        }
    }
}

/// Decisions that flipped since the previous run, with both dates.
fn changed_since(r: &Report) -> Markup {
    let name = |id: &str| r.campaigns.iter().find(|c| c.campaign_id == id).map(|c| c.product_name.clone()).unwrap_or_default();
    html! {
        section aria-labelledby="h-changed" {
            h2 id="h-changed" { "Changed since the previous run" }
            @match &r.previous {
                None => p { "This is the first stored run: nothing to compare with." },
                Some(p) if r.changes.is_empty() => p { "No decision changed since the run of " (p.as_of) "." },
                Some(p) => {
                    p { (r.changes.len()) " decision(s) changed since the run of " (p.as_of) "." }
                    div.scroll tabindex="0" role="region" aria-label="table of changed decisions" { table.sortable {
                        thead { tr { (th("campaign")) (th(&format!("on {}", p.as_of))) (th(&format!("on {}", r.as_of))) } }
                        tbody { @for f in &r.changes {
                            tr {
                                td data-v=(f.campaign_id) { b { (f.campaign_id) } " " (name(&f.campaign_id)) }
                                td data-v=(f.before.as_str()) { (words::decision_words(f.before)) }
                                td data-v=(f.after.as_str()) { (words::decision_words(f.after)) }
                            }
                        } }
                    } }
                }
            }
        }
    }
}

const STYLE: &str = "*{box-sizing:border-box}\
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d1d1f;background:#f4f5f7;line-height:1.45}code,td.why,.narrative,.attention li{overflow-wrap:anywhere}\
main{max-width:1240px;margin:0 auto;padding:16px}h1{font-size:1.5rem;margin:.25rem 0}h2{font-size:1.2rem;margin:1.75rem 0 .5rem}h3{font-size:1rem}\
.meta{color:#4a4a4f;margin:.25rem 0 1rem}.narrative{background:#fff;border-left:4px solid #1f5fbf;padding:12px 16px;border-radius:6px}\
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;margin:16px 0}\
.card{background:#fff;border-radius:8px;padding:12px;box-shadow:0 1px 2px #0002}.card b{display:block;font-size:1.35rem}.card small{color:#4a4a4f}\
.attention{background:#fff;border-radius:8px;padding:4px 16px 8px;border-left:4px solid #a84300}.attention ul{padding-left:1.2rem}.held{color:#8a0019}\
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:12px}.charts.one{grid-template-columns:minmax(0,900px)}\
figure.chart{background:#fff;border-radius:8px;padding:8px;margin:0}.chart .svg svg{width:100%;height:auto;display:block}\
figcaption{font-size:.9rem;padding:4px}.legend{list-style:none;display:flex;flex-wrap:wrap;gap:4px 14px;padding:0 4px;margin:6px 0 0;font-size:.85rem}\
.sw{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;vertical-align:-1px}\
.scroll{overflow-x:auto;max-width:100%}.scroll td:first-child,.scroll th:first-child{position:sticky;left:0;z-index:1}.scroll td:first-child{background:#fff}table{border-collapse:collapse;background:#fff;width:100%;font-size:.9rem}\
th,td{padding:6px 8px;border-bottom:1px solid #e4e6ea;text-align:left;vertical-align:top}\
th{background:#e9edf3;position:sticky;top:0;white-space:nowrap}table.campaigns td:nth-child(-n+2){min-width:7.5em}th button{font:inherit;font-weight:600;background:none;border:0;padding:0;cursor:pointer;color:#1d1d1f;text-align:left}\
th[aria-sort=ascending] button::after{content:' ▲'}th[aria-sort=descending] button::after{content:' ▼'}\
td.n{text-align:right;white-space:nowrap}td.why{min-width:260px}.name{color:#4a4a4f}\
details{font-size:.8rem;color:#4a4a4f}summary{cursor:pointer}details code{display:block;white-space:pre-wrap}\
.badge{display:inline-block;padding:2px 8px;border-radius:10px;color:#fff;font-size:.8rem;white-space:nowrap}\
.nowrap{white-space:nowrap}.key{font-size:.85rem;color:#4a4a4f;margin:.25rem 0 .5rem}.key svg{vertical-align:middle}.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}b.hit{color:#1b7a3a}b.miss{color:#b00020}\
@media (max-width:720px){main{padding:10px}.charts{grid-template-columns:1fr}\
table.campaigns,table.campaigns tbody,table.campaigns tr,table.campaigns td{display:block;width:100%}\
table.campaigns thead tr{display:flex;flex-wrap:wrap;gap:4px 10px;background:#e9edf3;padding:6px 8px}table.campaigns thead th{padding:0;border:0;position:static}\
table.campaigns tr{background:#fff;border-radius:8px;margin:0 0 10px;box-shadow:0 1px 2px #0002;padding:6px 0}\
table.campaigns td{border:0;padding:3px 12px;text-align:left;min-width:0;position:static}table.campaigns td::before{content:attr(data-label)': ';color:#4a4a4f;font-size:.8rem}\
table.campaigns td:first-child::before,table.campaigns td.why::before{content:none}.scroll.wide{overflow-x:visible}}\
@media print{body{background:#fff}th{position:static}th button::after{content:none!important}.card,figure.chart,table.campaigns tr{break-inside:avoid;box-shadow:none}details{display:none}}";

const SORT: &str = "document.querySelectorAll('table.sortable th button').forEach(function(b){b.addEventListener('click',function(){\
var th=b.closest('th'),t=th.closest('table'),i=Array.prototype.indexOf.call(th.parentNode.children,th),tb=t.tBodies[0],r=Array.from(tb.rows);\
var d=th.getAttribute('aria-sort')==='ascending'?-1:1;t.querySelectorAll('th').forEach(function(h){h.setAttribute('aria-sort','none')});\
th.setAttribute('aria-sort',d===1?'ascending':'descending');\
var v=function(x){var c=x.cells[i],s=c.dataset.v!==undefined?c.dataset.v:c.innerText.trim(),n=parseFloat(s);return s!==''&&!isNaN(n)&&isFinite(s)?n:s.toLowerCase()};\
r.sort(function(a,c){var x=v(a),y=v(c);if(typeof x!==typeof y){return (typeof x==='number'?-1:1)*d}return (x>y?1:x<y?-1:0)*d});r.forEach(function(x){tb.appendChild(x)})})});";

/// The page. Every value is escaped by the template (maud) unless wrapped
/// in `PreEscaped`, which only our own CSS, script and the drawn SVG are.
pub fn render(r: &Report, chart_timeout: std::time::Duration) -> String {
    let (charts, why) = match charts_within(r, chart_timeout) {
        Ok(c) => (c, None),
        Err(why) => (Vec::new(), Some(why)),
    };
    let applied = r.actions.iter().filter(|a| a.status == ActionStatus::Applied).count();
    let moved: f64 = r.campaigns.iter().map(|c| (c.budget.proposed - c.budget.current).max(0.0)).sum::<f64>()
        + r.new_campaigns.iter().map(|n| n.daily_budget).sum::<f64>();
    let paused = r.campaigns.iter().filter(|c| c.decision.is_pause()).count();
    let q = &r.data_quality;
    let chart = |id: &str| charts.iter().find(|c| c.id == id);
    let body = html! {
        header {
            h1 { "Campaign report — " span.nowrap { (r.as_of) } }
            p.meta {
                "Run " code { (r.run_id) } " · " b { (r.status) } " · mode " (r.mode)
                @if r.dry_run { " · dry run: nothing was applied" }
                (shard_note(r))
            }
        }
        section aria-labelledby="h-summary" {
            h2 id="h-summary" { "What changed and what it is worth" }
            div.narrative { (r.narrative) }
            div.cards {
                div.card { small { "budget moved to better campaigns" } b { (wmoney(moved)) } small { "a day" } }
                div.card { small { "daily budget" } b { (wmoney(r.totals.budget_before)) " → " (wmoney(r.totals.budget_after)) } }
                div.card { small { "saved" } b { (wmoney(r.totals.savings)) } small { "a day" } }
                @if let (Some(b), Some(a)) = (r.totals.expected_profit_before, r.totals.expected_profit_after) {
                    div.card { small { "expected profit" } b { (wmoney(b)) " → " (wmoney(a)) } small { "a day, at today's budgets → with this plan" } }
                } @else {
                    div.card { small { "expected profit" } b { "–" } small { "forecasts come with the profit policy" } }
                }
                div.card { small { "campaigns judged" } b { (r.campaigns.len()) } small { (paused) " to pause" } }
                div.card { small { "actions" } b { (r.actions.len()) } small { (applied) " applied" } }
            }
        }
        (needs_a_person(r))
        (changed_since(r))
        @if let Some(ch) = chart("portfolio") {
            section aria-labelledby="h-portfolio" {
                h2 id="h-portfolio" { "The portfolio day by day" }
                div.charts.one { figure.chart id="chart-portfolio" { (chart_body(ch)) figcaption { "Spend, revenue and profit per day of the campaigns in this report." } } }
            }
        }
        section aria-labelledby="h-campaigns" {
            h2 id="h-campaigns" { "Every campaign" }
            p.key {
                "Pauses first, then the largest budget changes. Last " (r.trend.as_ref().map_or(0, |t| t.spend.len())) " days: "
                svg width="28" height="8" aria-hidden="true" { line x1="0" y1="4" x2="28" y2="4" stroke=(css(REVENUE)) stroke-width="2" {} } " revenue, "
                svg width="28" height="8" aria-hidden="true" { line x1="0" y1="4" x2="28" y2="4" stroke=(css(SPEND)) stroke-width="1.5" stroke-dasharray="3 2" {} } " spend."
            }
            (campaign_table(r))
        }
        (curves(r, &charts))
        @if let Some(o) = &r.outcomes { (outcomes(o)) }
        section aria-labelledby="h-shape" {
            h2 id="h-shape" { "The portfolio by decision" }
            div.charts {
                @for id in ["decisions", "budget", "spend-revenue"] {
                    @if let Some(ch) = chart(id) { figure.chart id=(format!("chart-{id}")) { (chart_body(ch)) figcaption { (ch.title) } } }
                }
                @if let Some(why) = &why { p { (why) } }
            }
        }
        @if !r.new_campaigns.is_empty() {
            section aria-labelledby="h-new" {
                h2 id="h-new" { "New campaigns" }
                div.scroll tabindex="0" role="region" aria-label="table of new campaigns" { table.sortable {
                    thead { tr { (th("product")) (th("daily budget")) (th("name")) (th("why")) (th("headline")) } }
                    tbody { @for n in &r.new_campaigns {
                        tr {
                            td { (n.product_id) }
                            td.n data-v=(key(n.daily_budget)) { (wmoney(n.daily_budget)) }
                            td { (n.copy.name) }
                            td { (words::new_campaign_sentence(&n.reasons)) }
                            td { (n.copy.headline) br; small { (n.copy.description) } }
                        }
                    } }
                } }
            }
        }
        section aria-labelledby="h-quality" {
            h2 id="h-quality" { "Data quality" }
            div.scroll tabindex="0" role="region" aria-label="table of data quality" { table {
                thead { tr { th scope="col" { "table" } th scope="col" { "rows read" } th scope="col" { "quarantined" } th scope="col" { "after as_of" } } }
                tbody { @for t in Table::ALL {
                    tr {
                        td { (t.name()) }
                        td.n { (q.rows_read.get(t)) }
                        td.n { (q.rows_quarantined.get(t)) }
                        td.n { (q.rows_after_as_of.get(t)) }
                    }
                } }
            } }
            p { "Stale data: " @if q.stale { b { "yes" } " — " (q.stale_reasons.join("; ")) } @else { "no" } }
            @for c in &q.carried { p.note { (words::carried_sentence(c)) } }
        }
    };
    page(&format!("campaign-pilot — {}", r.as_of), body)
}

/// A whole page around `body`: our style in the head, the table-sorting
/// script at the end; nothing fetched.
pub(super) fn page(title: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width,initial-scale=1";
                title { (title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                main { (body) }
                script { (PreEscaped(SORT)) }
            }
        }
    }
    .into_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_text_is_escaped_by_the_template() {
        let rows = [&CampaignEntry {
            campaign_id: "<script>alert(1)</script>".into(),
            product_id: "P\"1".into(),
            product_name: "<img src=x>".into(),
            category: "A&B".into(),
            decision: Decision::Monitor,
            reasons: vec!["a&b".into()],
            sentence: "Watching — a<b.".into(),
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
            trend: vec![(1.0, 2.0), (3.0, 4.0)],
        }];
        let t = campaign_rows(&rows).into_string();
        assert!(t.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && !t.contains("<script>"), "{t}");
        assert!(t.contains("P&quot;1") && t.contains("a&amp;b") && t.contains("A&amp;B"), "{t}");
        assert!(t.contains("&lt;img src=x&gt;") && !t.contains("<img") && t.contains("Watching — a&lt;b."), "{t}");
    }

    #[test]
    fn blending_keeps_colours_opaque() {
        assert_eq!(RGBAColor(0, 0, 0, 0.5).into_rgb(), RGBColor(128, 128, 128));
    }
}
