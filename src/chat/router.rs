//! The chat's shortcuts (SPEC §12): a message's words, a campaign id the
//! newest run knows, or "it" for the campaign of the previous turn, decide
//! what is asked — before any model is asked. Pure: a test calls it directly.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Branch {
    Budget,
    Report,
    WebSearch,
    Generic,
}

named!(Branch, "branch", Budget => "budget", Report => "report", WebSearch => "web_search", Generic => "generic");

/// A change asked for in words.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ask {
    Pause,
    Resume,
    /// "set C1 to 30".
    SetTo(f64),
    /// "raise C1 by 10 %" (negative: lower, cut, decrease, reduce).
    ByPct(f64),
}

/// What a message asks, as far as the shortcuts can tell.
#[derive(Debug, Clone, PartialEq)]
pub enum Intent {
    /// A campaign's budget, or the portfolio's.
    Budget(Option<String>),
    /// Why a campaign got its decision.
    Why(String),
    /// What the newest run changed.
    Changed,
    Report,
    Propose { campaign: String, ask: Ask },
    Confirm,
    Cancel,
    /// Nothing the shortcuts know: the model's, if there is one.
    Free,
}

impl Intent {
    pub fn branch(&self) -> Branch {
        match self {
            Intent::Changed | Intent::Report => Branch::Report,
            Intent::Free => Branch::Generic,
            _ => Branch::Budget,
        }
    }
}

const CONFIRM: [&str; 9] = ["yes", "y", "apply", "confirm", "ok", "okay", "do it", "yes please", "save it"];
const CANCEL: [&str; 6] = ["no", "n", "cancel", "stop", "never mind", "no thanks"];
const PRONOUNS: [&str; 5] = ["it", "its", "it's", "that", "this"];
const WHY: [&str; 4] = ["why", "explain", "reason", "reasons"];
const BUDGET: [&str; 9] = ["budget", "budgets", "spend", "spent", "roas", "roi", "cpa", "metrics", "cost"];
const CHANGED: [&str; 4] = ["changed", "changes", "change", "happened"];
const REPORT: [&str; 3] = ["report", "summary", "narrative"];
const UP: [&str; 4] = ["raise", "increase", "boost", "up"];
const DOWN: [&str; 5] = ["lower", "decrease", "cut", "reduce", "down"];

/// A number as people write it: `30`, `30.5`, `$30`, `10%`.
fn number(word: &str) -> Option<f64> {
    let w = word.trim_start_matches(['$', '€', '£']).trim_end_matches('%');
    w.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// The words of a message, lower case; `%` and a decimal point stay inside a word.
fn words(message: &str) -> Vec<String> {
    message
        .split(|c: char| !(c.is_alphanumeric() || matches!(c, '.' | '%' | '$' | '€' | '£' | '\'' | '_' | '-')))
        .map(|w| w.trim_matches(|c: char| c == '.' || c == '\'' || c == '-').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

/// What `message` asks. `known` holds the newest run's campaign ids (any
/// case in the message); `last` is the campaign of the previous turn.
pub fn route(message: &str, known: &HashSet<String>, last: Option<&str>) -> Intent {
    let plain = message.trim().trim_end_matches(['.', '!']).to_lowercase();
    if CONFIRM.contains(&plain.as_str()) {
        return Intent::Confirm;
    }
    if CANCEL.contains(&plain.as_str()) {
        return Intent::Cancel;
    }
    let w = words(message);
    let has = |set: &[&str]| w.iter().any(|x| set.contains(&x.as_str()));
    let by_upper: std::collections::HashMap<String, &String> = known.iter().map(|k| (k.to_lowercase(), k)).collect();
    let campaign = w
        .iter()
        .find_map(|x| by_upper.get(x).map(|k| (*k).clone()))
        .or_else(|| if has(&PRONOUNS) { last.map(str::to_string) } else { None });

    if let Some(c) = &campaign {
        if has(&WHY) {
            return Intent::Why(c.clone());
        }
        let after = |marker: &str| w.iter().position(|x| x == marker).and_then(|i| w[i + 1..].iter().find_map(|x| number(x)));
        if has(&["pause"]) {
            return Intent::Propose { campaign: c.clone(), ask: Ask::Pause };
        }
        if has(&["resume", "restart", "unpause"]) {
            return Intent::Propose { campaign: c.clone(), ask: Ask::Resume };
        }
        let percent = w.iter().any(|x| x.ends_with('%')) || has(&["percent", "pct"]);
        if let Some(p) = after("by").filter(|_| percent) {
            if has(&UP) {
                return Intent::Propose { campaign: c.clone(), ask: Ask::ByPct(p) };
            }
            if has(&DOWN) {
                return Intent::Propose { campaign: c.clone(), ask: Ask::ByPct(-p) };
            }
        }
        if has(&["set", "make", "change", "move"]) || has(&BUDGET) {
            if let Some(to) = after("to") {
                return Intent::Propose { campaign: c.clone(), ask: Ask::SetTo(to) };
            }
        }
        return Intent::Budget(Some(c.clone()));
    }
    if has(&BUDGET) && !has(&CHANGED) {
        return Intent::Budget(None);
    }
    if has(&CHANGED) || plain.contains("what's new") || plain.contains("what is new") {
        return Intent::Changed;
    }
    if has(&REPORT) {
        return Intent::Report;
    }
    Intent::Free
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> HashSet<String> {
        ["C00012", "C00007", "C00003"].into_iter().map(String::from).collect()
    }

    fn r(m: &str) -> Intent {
        route(m, &known(), Some("C00007"))
    }

    #[test]
    fn questions_about_a_campaign_go_to_the_budget_branch() {
        assert_eq!(r("what is the budget of C00012?"), Intent::Budget(Some("C00012".into())));
        assert_eq!(r("c00012"), Intent::Budget(Some("C00012".into())));
        assert_eq!(r("why was C00007 paused?"), Intent::Why("C00007".into()));
        assert_eq!(r("and why is it like that"), Intent::Why("C00007".into()));
        assert_eq!(r("what's its budget"), Intent::Budget(Some("C00007".into())));
        assert_eq!(route("what's its budget", &known(), None), Intent::Budget(None));
        assert_eq!(r("what is the total budget"), Intent::Budget(None));
        assert_eq!(r("what is the budget of C99999"), Intent::Budget(None), "an unknown id is no campaign");
        assert_eq!(r("what is the budget of C00012?").branch(), Branch::Budget);
    }

    #[test]
    fn changes_in_words_become_proposals() {
        let p = |m: &str| match r(m) {
            Intent::Propose { campaign, ask } => (campaign, ask),
            other => panic!("{m}: {other:?}"),
        };
        assert_eq!(p("pause C00012"), ("C00012".into(), Ask::Pause));
        assert_eq!(p("please resume it"), ("C00007".into(), Ask::Resume));
        assert_eq!(p("set C00012 to $30"), ("C00012".into(), Ask::SetTo(30.0)));
        assert_eq!(p("change the budget of C00003 to 42.5"), ("C00003".into(), Ask::SetTo(42.5)));
        assert_eq!(p("raise C00012 by 10%"), ("C00012".into(), Ask::ByPct(10.0)));
        assert_eq!(p("cut it by 20 percent"), ("C00007".into(), Ask::ByPct(-20.0)));
        // "why … paused" is a question, not a pause.
        assert_eq!(r("why did you pause C00012"), Intent::Why("C00012".into()));
    }

    #[test]
    fn confirmations_reports_and_the_rest() {
        assert_eq!(r("Yes"), Intent::Confirm);
        assert_eq!(r("apply."), Intent::Confirm);
        assert_eq!(r("no"), Intent::Cancel);
        assert_eq!(r("what changed today?"), Intent::Changed);
        assert_eq!(r("what changed today?").branch(), Branch::Report);
        assert_eq!(r("show me the report"), Intent::Report);
        assert_eq!(r("what is the capital of France?"), Intent::Free);
        assert_eq!(r("what is the capital of France?").branch(), Branch::Generic);
    }
}
