//! Lenient decoding for API values: the real APIs send numbers as strings
//! (`"6.12"`, `"1000"`), booleans as `"true"`, and `""` or `null` for "not
//! set". Every numeric or boolean field goes through these, so a string or a
//! number both decode and an empty value is `None` (never an invented 0).

use serde::de::{self, Deserializer};
use serde::Deserialize;
use serde_json::Value;

/// A number sent as a JSON number or a string; `""`/`null` → `None`; text
/// that is not a number → `None` too (the validator quarantines the row).
pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|v| v.is_finite()),
        _ => None,
    })
}

/// A whole number sent as a number or a string (`"12"`, `12`, `12.0`).
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => {
            let t = s.trim();
            t.parse::<i64>().ok().or_else(|| t.parse::<f64>().ok().filter(|f| f.fract() == 0.0).map(|f| f as i64))
        }
        _ => None,
    })
}

/// A count that must be there: as [`opt_i64`], but a missing or bad value is
/// an error naming it (pagination keys).
pub fn req_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let v = Value::deserialize(d)?;
    let n = match &v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    n.ok_or_else(|| de::Error::custom(format!("expected a count, found {v}")))
}

/// A boolean as `true` or `"true"`.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_i64().map(|v| v != 0),
        _ => None,
    })
}

/// An id or text sent as a string or a number; `""`/`null` → `None`.
pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

/// A short, single-line excerpt of a value for error messages.
pub fn excerpt(v: &Value) -> String {
    let t = v.to_string();
    t.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "opt_f64")]
        f: Option<f64>,
        #[serde(default, deserialize_with = "opt_i64")]
        i: Option<i64>,
        #[serde(default, deserialize_with = "opt_bool")]
        b: Option<bool>,
        #[serde(default, deserialize_with = "opt_string")]
        s: Option<String>,
    }

    fn t(json: &str) -> T {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn strings_and_numbers_both_decode_and_empty_is_none() {
        let a = t(r#"{"f":"6.12","i":"1000","b":"true","s":1187}"#);
        assert_eq!((a.f, a.i, a.b, a.s.as_deref()), (Some(6.12), Some(1000), Some(true), Some("1187")));
        let b = t(r#"{"f":6.12,"i":1000,"b":false,"s":"x"}"#);
        assert_eq!((b.f, b.i, b.b, b.s.as_deref()), (Some(6.12), Some(1000), Some(false), Some("x")));
        let c = t(r#"{"f":"","i":null,"b":"","s":""}"#);
        assert_eq!((c.f, c.i, c.b, c.s), (None, None, None, None));
        let d = t(r#"{}"#);
        assert_eq!((d.f, d.i), (None, None));
        // Not a number: None, for the validator to quarantine; never a panic.
        let e = t(r#"{"f":"12,50","i":"1.5","b":"maybe","s":[1]}"#);
        assert_eq!((e.f, e.i, e.b, e.s), (None, None, None, None));
    }
}
