//! One source of truth for the words: a campaign's decision and its machine
//! reasons (`code:detail`, kept as they are in `report.json`) as one
//! sentence a person reads, with numbers rounded for people. report.md, the
//! HTML page, the terminal summary, the webhook and the chat all say it this
//! way.
//!
//! The match on [`Code`] is exhaustive: a new reason code does not compile
//! until it has its words here.

use crate::model::decision::Decision;
use crate::model::report::CampaignEntry;
use crate::model::reason::{split, Code};

/// What a decision is called where a person reads it.
pub fn decision_words(d: Decision) -> &'static str {
    match d {
        Decision::Learning => "Still learning",
        Decision::EmergencyPause => "Paused at once",
        Decision::Pause => "Paused",
        Decision::Continue => "Keep going",
        Decision::Optimize => "Fine-tune",
        Decision::Monitor => "Watching",
        Decision::Resume => "Resuming",
        Decision::Paused => "Stays paused",
    }
}

/// The campaign's sentence: what was decided, then why.
pub fn sentence(decision: Decision, reasons: &[String]) -> String {
    lead(decision_words(decision), reasons)
}

/// A proposed new campaign's sentence.
pub fn new_campaign_sentence(reasons: &[String]) -> String {
    lead("New campaign", reasons)
}

fn lead(head: &str, reasons: &[String]) -> String {
    let parts = phrases(reasons);
    if parts.is_empty() {
        format!("{head}.")
    } else {
        format!("{head} — {}.", parts.join("; "))
    }
}

/// Each reason's phrase, a significance test's verdict folded into the
/// phrase of the change it tested.
pub fn phrases(reasons: &[String]) -> Vec<String> {
    // Each phrase with what a test of it is named (`units`, `views`, `roi`, `cpa`).
    let mut out: Vec<(&str, String)> = Vec::new();
    // An emergency says what the money did; the fitted curve would say it
    // twice, and a CPA emergency already says no customer came.
    let emergency = reasons.iter().any(|r| Code::Emergency.marks(r));
    let no_customer = reasons.iter().any(|r| Code::Emergency.marks(r) && split(r).1.starts_with("cpa=inf"));
    for r in reasons {
        let (code, detail) = split(r);
        let Ok(code) = code.parse::<Code>() else {
            // Not a decision reason (an action's note, say): shown as it is.
            if !r.trim().is_empty() {
                out.push(("", r.trim().to_string()));
            }
            continue;
        };
        if (code == Code::Model && emergency) || (code == Code::CpaInfinite && no_customer) {
            continue;
        }
        match phrase(code, detail) {
            Said::Phrase(p) => out.push((topic(code, detail), p)),
            Said::Qualifies(rule, q) => {
                // The phrase of the change the test is of, else the last one.
                let at = out.iter().rposition(|(t, _)| *t == rule).or(out.len().checked_sub(1));
                match at {
                    Some(i) => {
                        let p = &mut out[i].1;
                        p.push_str(" (");
                        p.push_str(q);
                        p.push(')');
                    }
                    None => out.push((rule, q.to_string())),
                }
            }
            Said::Nothing => {}
        }
    }
    out.into_iter().map(|(_, p)| p).collect()
}

/// Which significance test speaks to a phrase.
fn topic(code: Code, detail: &str) -> &'static str {
    match code {
        Code::Pause | Code::Continue | Code::Optimize if detail.starts_with("view_impact") => "views",
        Code::Pause | Code::Continue | Code::Optimize => "units",
        Code::Emergency if detail.starts_with("roi") => "roi",
        Code::Emergency => "cpa",
        _ => "",
    }
}

enum Said {
    Phrase(String),
    /// Said of the phrase of the change the named test is of.
    Qualifies(&'static str, &'static str),
    Nothing,
}

fn phrase(code: Code, d: &str) -> Said {
    use Said::*;
    match code {
        Code::Learning => Phrase(if d.starts_with("spend_days=") {
            let (a, b) = (field(d, "spend_days"), after_cmp(d, "spend_days"));
            format!("it has spent on {} of the {} days needed before it is judged", count(a), count(b))
        } else if d.starts_with("spend=") {
            format!("it has spent {} so far; {} is needed before it is judged", money(field(d, "spend")), money(after_cmp(d, "spend")))
        } else if d.starts_with("forecasts_missed") {
            "its earlier forecasts missed, so its forecasts are held less certain".to_string()
        } else {
            "there is too little to judge it by yet".to_string()
        }),
        Code::Emergency => Phrase(if d.starts_with("roi=") {
            let (a, t) = (field(d, "roi"), after_cmp(d, "roi"));
            match a {
                Some(a) if a.is_finite() => format!(
                    "it brought back only {} per dollar spent (the floor is {})",
                    money(Some(1.0 + a)),
                    money(t.map(|t| 1.0 + t))
                ),
                _ => "its return per dollar is unknown".to_string(),
            }
        } else {
            match (field(d, "cpa"), after_cmp(d, "cpa")) {
                (Some(c), t) if c.is_finite() => format!("a new customer cost {}, above the {} limit", money(Some(c)), money(t)),
                _ => "it spent without winning a single new customer".to_string(),
            }
        }),
        Code::Significant | Code::NotSignificant => {
            let sig = code == Code::Significant;
            match d.split_whitespace().next().unwrap_or("") {
                "" => Nothing,
                "roi" => Qualifies("roi", if sig { "too far off to be bad luck" } else { "but that could still be bad luck" }),
                "cpa" => Qualifies("cpa", if sig { "too far off to be bad luck" } else { "but that could still be bad luck" }),
                "views" => Qualifies("views", if sig { "a clear change, not noise" } else { "but that could still be chance" }),
                _ => Qualifies("units", if sig { "a clear change, not noise" } else { "but that could still be chance" }),
            }
        }
        Code::Pause | Code::Continue => Phrase(if d.starts_with("view_impact") {
            views_change(field(d, "view_impact"))
        } else {
            sales_change(field(d, "sales_impact"))
        }),
        Code::NoBaseline => Phrase(match d {
            "sales_impact" => "the product sold nothing in the weeks before, so the change in sales cannot be measured".to_string(),
            "view_impact" => "the product had no views in the weeks before, so the change in views cannot be measured".to_string(),
            _ => "the product came from nothing, so its change cannot be given as a percentage".to_string(),
        }),
        Code::NoViewsSource => Phrase("the store sends no product views, so views cannot be judged (set up [views])".to_string()),
        Code::Optimize => Phrase(if d.starts_with("view_impact") {
            format!("views moved only {}", signed_pct(field(d, "view_impact")))
        } else {
            format!("sales moved only {}", signed_pct(field(d, "sales_impact")))
        }),
        Code::MixedResults => Phrase(format!(
            "sales ({}) and views ({}) do not point the same way",
            signed_pct(field(d, "sales_impact")),
            signed_pct(field(d, "view_impact"))
        )),
        Code::PausedByEmergency => Phrase("it was paused in an emergency; only a person resumes it".to_string()),
        Code::PausedByUser => Phrase("a person paused it; only a person resumes it".to_string()),
        Code::MissingPausedAt => Phrase("the day it was paused is unknown, so it is not resumed".to_string()),
        Code::Cooldown => Phrase(format!(
            "paused {} ago; it waits {} before it may resume",
            days(field(d, "days_paused")),
            days(after_cmp(d, "days_paused"))
        )),
        Code::NotRecovered => {
            let needs = needs(d);
            Phrase(format!(
                "the product has not recovered yet (efficiency {}, needs above {}; {} in stock, needs more than {})",
                plain(field(d, "efficiency")),
                plain(needs.first().copied().flatten()),
                count(field(d, "stock")),
                count(needs.get(1).copied().flatten())
            ))
        }
        Code::Resume => Phrase(format!(
            "the product recovered (efficiency {}, {} in stock) after {} paused",
            plain(field(d, "efficiency")),
            count(field(d, "stock")),
            days(field(d, "days_paused"))
        )),
        Code::LedgerBudget => Phrase(format!(
            "it spent {} today, past its daily budget of {}",
            money(field(d, "spend")),
            money(field(d, "daily_budget"))
        )),
        Code::CpaInfinite => Phrase(format!("it spent {} without a single new customer", money(field(d, "spend")))),
        Code::BudgetObserved => Phrase(format!(
            "its daily budget of {} was read from its own spending (the platform keeps none)",
            money(field(d, "daily_budget"))
        )),
        Code::Locked => Phrase("a person locked it, so nothing about it is changed".to_string()),
        Code::ResumeUnfunded => Phrase(format!("it could resume, but no budget is left for its {} a day", money(field(d, "needs")))),
        Code::Budget => {
            let (from, to) = arrow(d);
            let way = if d.starts_with("decrease") { "cut" } else { "raised" };
            let toward = if d.contains("marginal") { ", toward where each dollar earns the most" } else { "" };
            Phrase(format!("budget {way} from {} to {} a day{toward}", money(from), money(to)))
        }
        Code::ProfitNotResumed => Phrase(format!(
            "it would likely lose money even at the smallest budget ({} likely), so it stays paused",
            chance(field(d, "p_loss_at_min_daily"))
        )),
        Code::ProfitPause => Phrase(format!("a loss is {} likely even at the smallest budget", chance(field(d, "p_loss_at_min_daily")))),
        Code::ProfitKeep => {
            let old = if d.contains("EMERGENCY_PAUSE") { "pause it at once" } else { "pause it" };
            Phrase(format!(
                "the old rules would {old}, but the chance of a loss at the smallest budget ({}) is not the {} it takes to pause",
                chance(field(d, "p_loss_at_min_daily")),
                chance(after_cmp(d, "p_loss_at_min_daily"))
            ))
        }
        Code::Model => {
            let (avg, next) = (field(d, "roas"), field(d, "marginal_roas"));
            let differs = match (avg, next) {
                (Some(a), Some(n)) => (a - n).abs() > 0.05 * a.abs().max(0.01),
                _ => true,
            };
            Phrase(if differs {
                format!("each dollar brought {} in revenue lately, and the next dollar should bring about {}", money(avg), money(next))
            } else {
                format!("each dollar brought {} in revenue lately", money(avg))
            })
        }
        Code::NewCampaign => Phrase(format!("a promising product without a campaign ({} in stock)", count(field(d, "stock")))),
        Code::ProfitExpected => {
            let profit = number(d);
            let budget = d.split(" at ").nth(1).and_then(number);
            Phrase(format!("expected to earn {} a day at a budget of {} a day", money(profit), money(budget)))
        }
    }
}

/// Why a changed campaign changed, in words, from its fitted response (the
/// caption of its curve on the page).
pub fn curve_words(c: &CampaignEntry) -> String {
    let Some(r) = &c.response else { return String::new() };
    let marginal = r.roas * (1.0 - r.elasticity);
    let even = 1.0 / r.margin;
    if c.decision.is_pause() {
        let p = c.reasons.iter().find(|x| Code::ProfitPause.marks(x)).and_then(|x| field(split(x).1, "p_loss_at_min_daily"));
        return format!(
            "Paused: it returned {:.2} in revenue per dollar lately (break-even {:.2}){}.",
            r.roas,
            even,
            p.map(|p| format!(", and a loss is {} likely even at the smallest budget", chance(Some(p)))).unwrap_or_default()
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

fn sales_change(x: Option<f64>) -> String {
    match x.filter(|x| x.is_finite()) {
        Some(x) if round_pct(x) < 0.0 => format!("the product sold {} fewer units than in the weeks before", pct(x.abs())),
        Some(x) if round_pct(x) > 0.0 => format!("the product sold {} more units than in the weeks before", pct(x)),
        Some(_) => "the product sold as many units as in the weeks before".to_string(),
        None => "the change in sales is unknown".to_string(),
    }
}

fn views_change(x: Option<f64>) -> String {
    match x.filter(|x| x.is_finite()) {
        Some(x) if round_pct(x) < 0.0 => format!("views fell {}", pct(x.abs())),
        Some(x) if round_pct(x) > 0.0 => format!("views rose {}", pct(x)),
        Some(_) => "views held level".to_string(),
        None => "the change in views is unknown".to_string(),
    }
}

/// The value after `key=`, `key` a whole word (`roas=` is not in
/// `marginal_roas=`); +∞ for `inf`, `None` for `null` or a missing key.
fn field(detail: &str, key: &str) -> Option<f64> {
    let pat = format!("{key}=");
    let mut from = 0;
    while let Some(i) = detail[from..].find(&pat) {
        let at = from + i;
        let whole = !detail[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_');
        if whole {
            return number(&detail[at + pat.len()..]);
        }
        from = at + pat.len();
    }
    None
}

/// The threshold a `key=value<limit` (or `>`, `>=`, `<=`) compares with.
fn after_cmp(detail: &str, key: &str) -> Option<f64> {
    let at = detail.find(&format!("{key}="))? + key.len() + 1;
    let rest = &detail[at..];
    let cmp = rest.find(['<', '>'])?;
    number(rest[cmp..].trim_start_matches(['<', '>', '=']))
}

/// Every `(needs >X)` of a detail, in order.
fn needs(detail: &str) -> Vec<Option<f64>> {
    detail.split("(needs >").skip(1).map(number).collect()
}

/// `a→b` of a budget change.
fn arrow(detail: &str) -> (Option<f64>, Option<f64>) {
    let body = detail.split_whitespace().nth(1).unwrap_or("");
    match body.split_once('→') {
        Some((a, b)) => (number(a), number(b)),
        None => (None, None),
    }
}

/// The number a text starts with.
fn number(s: &str) -> Option<f64> {
    let s = s.trim_start();
    if s.starts_with("inf") {
        return Some(f64::INFINITY);
    }
    if s.starts_with("-inf") {
        return Some(f64::NEG_INFINITY);
    }
    let end = s
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || ((c == '-' || c == '+') && (i == 0 || s[..i].ends_with(['e', 'E']))) || ((c == 'e' || c == 'E') && i > 0)))
        .map_or(s.len(), |(i, _)| i);
    s[..end].parse().ok()
}

fn round_pct(x: f64) -> f64 {
    if x.abs() < 10.0 { (x * 10.0).round() / 10.0 } else { x.round() }
}

/// A percentage as people say it: whole above 10, one decimal below.
fn pct(x: f64) -> String {
    let r = round_pct(x);
    let s = if x.abs() < 10.0 { format!("{r:.1}") } else { format!("{r:.0}") };
    let s = s.strip_suffix(".0").unwrap_or(&s).to_string();
    format!("{} %", if s == "-0" { "0".to_string() } else { s })
}

fn signed_pct(x: Option<f64>) -> String {
    match x.filter(|x| x.is_finite()) {
        Some(x) if round_pct(x) > 0.0 => format!("+{}", pct(x)),
        Some(x) if round_pct(x) < 0.0 => format!("−{}", pct(-x)),
        Some(_) => "0 %".to_string(),
        None => "unknown".to_string(),
    }
}

/// Money with two decimals and thousands separators; `−` for a loss.
pub fn money(x: Option<f64>) -> String {
    let Some(x) = x.filter(|x| x.is_finite()) else { return "an unknown amount".to_string() };
    let cents = (x.abs() * 100.0).round() as u128;
    let (units, cents) = (cents / 100, cents % 100);
    let digits = units.to_string();
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let sign = if x < 0.0 && (units, cents) != (0, 0) { "−" } else { "" };
    format!("{sign}{grouped}.{cents:02}")
}

/// A whole number with thousands separators.
pub fn grouped(n: u64) -> String {
    let m = money(Some(n as f64));
    m.trim_end_matches(".00").to_string()
}

/// Which part of a daily table this run checked, when an earlier run's
/// check of its older rows was carried over.
pub fn carried_sentence(c: &crate::model::run::CarriedCheck) -> String {
    if c.kept > 0 {
        return format!(
            "{}: the {} rows dated before {} and the {} valid ones from that day on were checked by an earlier run and are unchanged in the file, so this run checked only the rows added since.",
            c.table.name(),
            grouped(c.rows.saturating_sub(c.kept)),
            c.before,
            grouped(c.kept)
        );
    }
    format!(
        "{}: the {} rows dated before {} were checked by an earlier run and are unchanged in the file, so this run checked only the rows from that day on.",
        c.table.name(),
        grouped(c.rows),
        c.before
    )
}

/// A probability as a whole percentage.
fn chance(p: Option<f64>) -> String {
    match p.filter(|p| p.is_finite()) {
        Some(p) if p >= 0.995 => "over 99 %".to_string(),
        Some(p) if p < 0.005 => "less than 1 %".to_string(),
        Some(p) => format!("{:.0} %", p * 100.0),
        None => "an unknown share".to_string(),
    }
}

/// A count: a whole number.
fn count(x: Option<f64>) -> String {
    match x.filter(|x| x.is_finite()) {
        Some(x) => format!("{:.0}", x),
        None => "an unknown number".to_string(),
    }
}

fn days(x: Option<f64>) -> String {
    match x.filter(|x| x.is_finite()) {
        Some(x) if x.round() == 1.0 => "1 day".to_string(),
        Some(x) => format!("{:.0} days", x),
        None => "an unknown number of days".to_string(),
    }
}

/// A score to one decimal at most.
fn plain(x: Option<f64>) -> String {
    match x.filter(|x| x.is_finite()) {
        Some(x) => {
            let s = format!("{:.1}", (x * 10.0).round() / 10.0);
            let s = s.strip_suffix(".0").unwrap_or(&s).to_string();
            let s = if s == "-0" { "0".to_string() } else { s };
            s.replacen('-', "−", 1)
        }
        None => "unknown".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(d: Decision, r: &[&str]) -> String {
        sentence(d, &r.iter().map(|x| x.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn the_issues_examples_read_as_a_person_would_say_them() {
        assert_eq!(
            s(
                Decision::Pause,
                &["pause:sales_impact=-24.137931<-10", "significant:units p=1.2e-5 alpha=0.05", "pause:view_impact=-25.3<-5", "significant:views p=3e-4 alpha=0.05"]
            ),
            "Paused — the product sold 24 % fewer units than in the weeks before (a clear change, not noise); views fell 25 % (a clear change, not noise)."
        );
        assert_eq!(
            s(
                Decision::Monitor,
                &["not_significant", "continue:sales_impact=22.4>5", "continue:view_impact=3.04>0", "not_significant:units p=8.456707517599263e-2 alpha=0.05", "significant:views p=1e-3 alpha=0.05"]
            ),
            "Watching — the product sold 22 % more units than in the weeks before (but that could still be chance); views rose 3 % (a clear change, not noise)."
        );
        assert_eq!(
            s(Decision::EmergencyPause, &["emergency:cpa=inf>30", "significant:cpa n=0 k=4 p=1.8e-2 alpha=0.05"]),
            "Paused at once — it spent without winning a single new customer (too far off to be bad luck)."
        );
        assert_eq!(
            s(Decision::Continue, &["budget:increase 1200→1500.5 (toward equal marginal profit)", "model:roas=3.456 marginal_roas=2.1 elasticity=0.3±0.1 conversions=40"]),
            "Keep going — budget raised from 1,200.00 to 1,500.50 a day, toward where each dollar earns the most; each dollar brought 3.46 in revenue lately, and the next dollar should bring about 2.10."
        );
    }

    /// Every reason code has its words (the match is exhaustive; this
    /// checks each renders to a phrase of its own), and no decision module
    /// writes a reason-shaped literal (`"code:`) whose code is not a [`Code`].
    #[test]
    fn every_reason_code_the_decision_modules_can_emit_has_a_sentence() {
        for &c in Code::ALL {
            let said = phrases(&[c.with("x=1")]);
            let bare = phrases(&[c.bare()]);
            match c {
                // A test's verdict qualifies the change it tested; alone it is a phrase of its own.
                Code::Significant | Code::NotSignificant => assert_eq!(said.len(), 1, "{c}: {said:?}"),
                _ => {
                    assert_eq!(said.len(), 1, "{c}: {said:?}");
                    assert_eq!(bare.len(), 1, "{c}: {bare:?}");
                    assert!(!said[0].contains(&format!("{c}:")) && !said[0].contains('='), "{c} is said in words, not by its code: {}", said[0]);
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(root.join("decisions")).unwrap().map(|e| e.unwrap().path()).collect();
        files.push(root.join("stages/decide.rs"));
        let mut unknown = Vec::new();
        for f in &files {
            // The whole file: its tests name only reasons the code writes.
            let code = std::fs::read_to_string(f).unwrap();
            for (i, _) in code.match_indices('"') {
                let rest = &code[i + 1..];
                let word: String = rest.chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                if !word.is_empty() && rest[word.len()..].starts_with(':') && word.parse::<Code>().is_err() {
                    unknown.push(format!("{}: \"{word}:", f.display()));
                }
            }
        }
        assert!(unknown.is_empty(), "reason codes without a sentence (add them to model::reason::Code and report::words): {unknown:?}");
    }

    #[test]
    fn numbers_are_read_from_the_detail_by_whole_key() {
        assert_eq!(field("roas=2.5 marginal_roas=1.25", "roas"), Some(2.5));
        assert_eq!(field("roas=2.5 marginal_roas=1.25", "marginal_roas"), Some(1.25));
        assert_eq!(field("cpa=inf>30", "cpa"), Some(f64::INFINITY));
        assert_eq!(after_cmp("cpa=inf>30", "cpa"), Some(30.0));
        assert_eq!(after_cmp("p_loss_at_min_daily=0.4<=0.9 (x)", "p_loss_at_min_daily"), Some(0.9));
        assert_eq!(field("sales_impact=null view_impact=3", "sales_impact"), None);
        assert_eq!(number("8.456707517599263e-2 alpha"), Some(0.08456707517599263));
        assert_eq!(arrow("increase 12.5→15 (toward equal marginal profit)"), (Some(12.5), Some(15.0)));
        assert_eq!(needs("efficiency=null (needs >5) stock=3 (needs >10)"), vec![Some(5.0), Some(10.0)]);
    }

    #[test]
    fn money_and_percentages_are_rounded_for_people() {
        assert_eq!(money(Some(1234567.006)), "1,234,567.01");
        assert_eq!(money(Some(-0.004)), "0.00");
        assert_eq!(money(Some(-12.3)), "−12.30");
        assert_eq!(money(Some(f64::INFINITY)), "an unknown amount");
        assert_eq!(pct(24.137931), "24 %");
        assert_eq!(pct(4.04), "4 %");
        assert_eq!(pct(4.55), "4.6 %");
        assert_eq!(signed_pct(Some(-0.01)), "0 %");
    }
}
