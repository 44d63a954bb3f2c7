//! The first pass over a configuration: every key the user wrote is compared
//! with the defaults' tree, which has every key, so an unknown key or a value
//! of the wrong type is named before serde sees it; kinds are checked against
//! their names the same way.

use serde::de::DeserializeOwned;
use serde_json::Value as J;

use crate::model::kinds::{ActMode, AdsKind, BudgetStrategy, LlmProvider, StoreKind, ViewsItemId, ViewsKind};

/// Maps whose keys the user chooses (not checked against the defaults).
const FREE_MAPS: &[&str] = &["risk.competition"];

/// Reports unknown keys and values of the wrong type, comparing the user's
/// tree with the defaults' (which has every key).
pub(super) fn check_shape(
    prefix: &str,
    raw: &serde_json::Value,
    defaults: &serde_json::Value,
    problems: &mut Vec<String>,
) {
    let key = |k: &str| if prefix.is_empty() { k.to_string() } else { format!("{prefix}.{k}") };
    let (J::Object(raw), J::Object(def)) = (raw, defaults) else { return };
    for (k, v) in raw {
        let full = key(k);
        let Some(d) = def.get(k) else {
            problems.push(format!("{full}: unknown key"));
            continue;
        };
        if FREE_MAPS.contains(&full.as_str()) {
            match v {
                J::Object(m) => {
                    for (cat, val) in m {
                        if !val.is_number() {
                            problems.push(format!("{full}.{cat}: expected a number, found {}", describe(val)));
                        }
                    }
                }
                other => problems.push(format!("{full}: expected a table, found {}", describe(other))),
            }
            continue;
        }
        let ok = match (d, v) {
            (J::Object(_), J::Object(_)) => {
                check_shape(&full, v, d, problems);
                true
            }
            (J::Number(dn), J::Number(vn)) => {
                if dn.is_f64() {
                    true
                } else if vn.is_u64() || vn.is_i64() {
                    if dn.is_u64() && vn.as_i64().is_some_and(|x| x < 0) {
                        problems.push(format!("{full}: must not be negative, found {vn}"));
                    }
                    true
                } else {
                    problems.push(format!("{full}: expected a whole number, found {vn}"));
                    true
                }
            }
            (J::String(_), J::String(_)) | (J::Bool(_), J::Bool(_)) => true,
            (J::Array(di), J::Array(items)) if numeric(di) => {
                if let Some(bad) = items.iter().find(|i| !i.is_number()) {
                    problems.push(format!("{full}: expected a list of numbers, found {}", describe(bad)));
                }
                true
            }
            (J::Array(_), J::Array(items)) => {
                if let Some(bad) = items.iter().find(|i| !i.is_string()) {
                    problems.push(format!("{full}: expected a list of strings, found {}", describe(bad)));
                }
                true
            }
            // The environment gives strings for single-element lists.
            (J::Array(_), J::String(_)) => true,
            _ => false,
        };
        if !ok {
            problems.push(format!("{full}: expected {}, found {}", describe_type(d), describe(v)));
        }
    }
}

/// Integers where a float is expected become floats; single strings where a
/// list is expected become one-element lists.
pub(super) fn normalize_numbers(raw: serde_json::Value, defaults: &serde_json::Value) -> serde_json::Value {
    match (raw, defaults) {
        (J::Object(m), J::Object(d)) => J::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let nv = match d.get(&k) {
                        Some(dv) => normalize_numbers(v, dv),
                        None => v,
                    };
                    (k, nv)
                })
                .collect(),
        ),
        (J::String(s), J::Array(d)) => list(&s, d),
        (J::Array(items), J::Array(d)) if numeric(d) => J::Array(items.into_iter().map(|i| match i {
            J::String(t) => number(&t).unwrap_or(J::String(t)),
            other => other,
        }).collect()),
        (v, _) => v,
    }
}

/// A default list of numbers (`learning.follow_up_days`): its items are numbers too.
fn numeric(default: &[J]) -> bool {
    default.first().is_some_and(J::is_number)
}

fn number(text: &str) -> Option<J> {
    let t = text.trim();
    t.parse::<i64>().ok().map(J::from).or_else(|| t.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(J::Number))
}

/// Comma-separated text as the list the default is: numbers where it holds
/// numbers (the text as is when one does not parse, for the shape pass to name).
fn list(text: &str, default: &[J]) -> J {
    J::Array(
        text.split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(|x| if numeric(default) { number(x).unwrap_or_else(|| J::String(x.to_string())) } else { J::String(x.to_string()) })
            .collect(),
    )
}

fn describe(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => format!("\"{s}\""),
        other => other.to_string(),
    }
}

fn describe_type(v: &serde_json::Value) -> &'static str {
    match v {
        J::Null => "nothing",
        J::Bool(_) => "true or false",
        J::Number(n) if n.is_f64() => "a number",
        J::Number(_) => "a whole number",
        J::String(_) => "a string",
        J::Array(_) => "a list",
        J::Object(_) => "a table",
    }
}

/// Puts one environment override at `path` of the user's tree, typed by the
/// default at that path: a string key takes the text as it is, a number or
/// boolean key the parsed value (the text as is when it does not parse, for
/// the shape pass to name), a list key the comma-separated items. A path the
/// defaults lack goes in as text, for the shape pass to call unknown.
pub(super) fn overlay(raw: &mut J, defaults: &J, path: &[String], text: &str) {
    let mut default = Some(defaults);
    for seg in path {
        default = default.and_then(|d| d.get(seg));
    }
    let free = path.len() > 1 && FREE_MAPS.contains(&path[..path.len() - 1].join(".").as_str());
    let value = match default {
        Some(J::String(_)) | None if !free => J::String(text.to_string()),
        Some(J::Bool(_)) => match text.trim() {
            "true" | "1" => J::Bool(true),
            "false" | "0" => J::Bool(false),
            _ => J::String(text.to_string()),
        },
        Some(J::Array(d)) => list(text, d),
        Some(J::Number(_)) | None => match text.trim().parse::<i64>() {
            Ok(i) => J::from(i),
            Err(_) => match text.trim().parse::<f64>() {
                Ok(f) => serde_json::Number::from_f64(f).map(J::Number).unwrap_or_else(|| J::String(text.to_string())),
                Err(_) => J::String(text.to_string()),
            },
        },
        Some(J::String(_)) | Some(J::Null) | Some(J::Object(_)) => J::String(text.to_string()),
    };
    let mut node = raw;
    for seg in &path[..path.len().saturating_sub(1)] {
        if !node.is_object() {
            *node = J::Object(Default::default());
        }
        node = node.as_object_mut().expect("an object").entry(seg.clone()).or_insert_with(|| J::Object(Default::default()));
    }
    if let (Some(last), Some(obj)) = (path.last(), node.as_object_mut()) {
        obj.insert(last.clone(), value);
    }
}

/// Whether `v` is one of `T`'s names; the serde message lists them.
fn kind<T: DeserializeOwned>(v: &J) -> Option<String> {
    serde_json::from_value::<T>(v.clone()).err().map(|e| e.to_string())
}

/// The keys whose value is one of a few names, and how to check each.
const KINDS: &[(&str, &str, fn(&J) -> Option<String>)] = &[
    ("store", "kind", kind::<StoreKind>),
    ("ads", "kind", kind::<AdsKind>),
    ("views", "kind", kind::<ViewsKind>),
    ("views", "item_id", kind::<ViewsItemId>),
    ("budget", "strategy", kind::<BudgetStrategy>),
    ("act", "mode", kind::<ActMode>),
    ("llm", "provider", kind::<LlmProvider>),
];

/// Reports every kind key whose value is not one of its names (after the
/// shape pass: the values are strings here).
pub(super) fn check_kinds(raw: &J, problems: &mut Vec<String>) {
    for (section, key, check) in KINDS {
        let Some(v) = raw.get(section).and_then(|s| s.get(key)) else { continue };
        if !v.is_string() {
            continue; // the shape pass named it
        }
        if let Some(why) = check(v) {
            problems.push(format!("{section}.{key}: {why}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_kind_names_its_key_and_the_known_names() {
        let raw = serde_json::json!({"ads": {"kind": "imapct"}, "store": {"kind": "files"}, "act": {"mode": "yolo"}});
        let mut p = Vec::new();
        check_kinds(&raw, &mut p);
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].starts_with("ads.kind: unknown variant `imapct`") && p[0].contains("`impact`"), "{p:?}");
        assert!(p[1].starts_with("act.mode: unknown variant `yolo`"), "{p:?}");
    }
}
