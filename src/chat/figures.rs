//! "Every figure in a reply comes from a tool result of that turn" (SPEC
//! §12), as a check a test can call: the numbers a model wrote, against the
//! numbers the turn's tool results (and the user's own message) hold.

use serde_json::Value;

/// The numbers written in `text`: digits with optional thousands commas and
/// decimals, not part of a word (`C00003` holds no number, `2026-03-31`
/// holds three).
pub fn numbers_in(text: &str) -> Vec<(String, f64)> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i].is_ascii_digit() && (i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_'));
        if !starts {
            // Skip the rest of a word that holds digits.
            if chars[i].is_alphanumeric() {
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
            } else {
                i += 1;
            }
            continue;
        }
        let start = i;
        while i < chars.len() {
            let c = chars[i];
            let next_digit = chars.get(i + 1).is_some_and(char::is_ascii_digit);
            if c.is_ascii_digit() || ((c == '.' || c == ',') && next_digit) {
                i += 1;
            } else {
                break;
            }
        }
        let raw: String = chars[start..i].iter().collect();
        if i < chars.len() && chars[i].is_alphabetic() {
            // "3rd", "10x": not a figure.
            continue;
        }
        if let Ok(x) = raw.replace(',', "").parse::<f64>() {
            out.push((raw, x));
        }
    }
    out
}

/// Every number a JSON value holds: numbers, numbers inside strings, and
/// the length of each array (a count the model may state).
fn collect(v: &Value, into: &mut Vec<f64>) {
    match v {
        Value::Number(n) => into.extend(n.as_f64()),
        Value::String(s) => into.extend(numbers_in(s).into_iter().map(|(_, x)| x)),
        Value::Array(a) => {
            into.push(a.len() as f64);
            a.iter().for_each(|x| collect(x, into));
        }
        Value::Object(o) => o.values().for_each(|x| collect(x, into)),
        _ => {}
    }
}

/// A written figure stands for a known one if it is that number, rounded to
/// 0, 1 or 2 decimals (as a person writes money and rates).
fn stands_for(written: f64, known: f64) -> bool {
    (0..=2).any(|k| {
        let p = 10f64.powi(k);
        ((known * p).round() / p - written).abs() < 1e-9
    }) || (written - known).abs() < 1e-9
}

/// The figures in `reply` that no tool result of the turn (nor the user's
/// `message`) holds.
pub fn unsupported(reply: &str, results: &[Value], message: &str) -> Vec<String> {
    let mut known = Vec::new();
    for r in results {
        collect(r, &mut known);
    }
    known.extend(numbers_in(message).into_iter().map(|(_, x)| x));
    numbers_in(reply).into_iter().filter(|(_, x)| !known.iter().any(|k| stands_for(*x, *k))).map(|(raw, _)| raw).collect()
}

/// The sentences of `text`, each with its end: a `.`, `!` or `?` followed
/// by a space or the end (so `42.14` stays whole), or a line break.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let end = b == b'\n' || (matches!(b, b'.' | b'!' | b'?') && bytes.get(i + 1).is_none_or(|n| n.is_ascii_whitespace()));
        if end {
            out.push(&text[start..=i]);
            start = i + 1;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// `reply` without the sentences that hold one of `bad`.
pub fn without(reply: &str, bad: &[String]) -> String {
    let mut kept = Vec::new();
    for sentence in sentences(reply) {
        let figures: Vec<String> = numbers_in(sentence).into_iter().map(|(raw, _)| raw).collect();
        if !figures.iter().any(|f| bad.contains(f)) {
            kept.push(sentence);
        }
    }
    kept.concat().trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_are_read_as_written_and_ids_hold_none() {
        let n: Vec<f64> = numbers_in("C00003 spends 1,234.50 a day (+20%) since 2026-03-31; 3rd best").into_iter().map(|(_, x)| x).collect();
        assert_eq!(n, [1234.5, 20.0, 2026.0, 3.0, 31.0]);
        assert_eq!(numbers_in("ends with 12."), [("12".to_string(), 12.0)]);
    }

    #[test]
    fn a_figure_no_tool_returned_is_caught_and_its_sentence_removed() {
        let results = [json!({"campaigns": [{"campaign_id": "C00003", "current": 42.137, "proposed": 46.35}], "as_of": "2026-03-31"})];
        assert!(unsupported("C00003 has a daily budget of 42.14, proposed 46.35 as of 2026-03-31.", &results, "").is_empty());
        assert!(unsupported("1 campaign: C00003 at 42.1.", &results, "").is_empty(), "a count and a rounding");
        assert_eq!(unsupported("C00003's budget is 55.00.", &results, ""), ["55.00"]);
        assert!(unsupported("Raising it to 50 as you asked.", &results, "set C00003 to 50").is_empty());
        let reply = "C00003 has 42.14 a day. It would earn 99.9 more. Ask me anything.";
        assert_eq!(without(reply, &unsupported(reply, &results, "")), "C00003 has 42.14 a day. Ask me anything.");
    }
}
