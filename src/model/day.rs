//! Days and money as the rules count them: a day is the number of days since
//! 1970-01-01 (the physical value of a polars `Date`), money set by the run
//! is whole cents.

use chrono::NaiveDate;

/// Days since 1970-01-01, the physical value of a polars `Date`.
pub type Day = i32;

const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("1970-01-01 is a date");

pub fn day_of(d: NaiveDate) -> Day {
    (d - EPOCH).num_days() as Day
}

pub fn date_of(day: Day) -> NaiveDate {
    EPOCH + chrono::Duration::days(day as i64)
}

/// A `YYYY-MM-DD` date that did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a YYYY-MM-DD date")]
pub struct BadDate(pub String);

/// A stored or received `YYYY-MM-DD`, or an error naming the text.
pub fn parse_day(text: &str) -> Result<Day, BadDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map(day_of).map_err(|_| BadDate(text.to_string()))
}

/// Money in whole cents, the unit every budget the run sets is rounded to.
pub fn to_cents_floor(x: f64) -> i64 {
    // The epsilon keeps 12.34 (stored as 12.3399999…) at 1234 cents.
    (x * 100.0 + 1e-6).floor() as i64
}

pub fn to_cents_round(x: f64) -> i64 {
    (x * 100.0).round() as i64
}

pub fn from_cents(c: i64) -> f64 {
    c as f64 / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_and_bad_dates_are_errors() {
        assert_eq!(parse_day("2024-10-04"), Ok(20000));
        assert_eq!(date_of(20000).to_string(), "2024-10-04");
        assert_eq!(parse_day("2026-03-2x"), Err(BadDate("2026-03-2x".into())));
        assert!(parse_day("").is_err());
    }

    #[test]
    fn cents_floor_keeps_exact_cents() {
        assert_eq!(to_cents_floor(12.34), 1234);
        assert_eq!(to_cents_floor(12.349), 1234);
        assert_eq!(from_cents(1234), 12.34);
    }
}
