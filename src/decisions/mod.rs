//! The pure rules: numbers and settings in, decisions with reasons out.
//! Nothing in here reads a clock, a file, a database or the network, so every
//! rule can be pinned by a unit test at its boundaries.

pub mod budget;
pub mod day;
pub mod guardrails;
pub mod marginal;
pub mod matrix;
pub mod outcomes;
pub mod proposals;
pub mod reach;
pub mod reasons;
pub mod response;
pub mod risk;
pub mod selection;
pub mod significance;


/// A metric rounded to 6 decimals, half away from zero, as every threshold
/// comparison uses it (SPEC §5 "exact comparisons").
pub fn round6(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    let scaled = x * 1e6;
    // Snap values a float error away from a half-way point onto it first.
    let snapped = (scaled * 1e3).round() / 1e3;
    snapped.round() / 1e6
}

/// Formats a number for a reason string: up to 6 decimals, no trailing zeros.
pub fn num(x: f64) -> String {
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let s = format!("{:.6}", round6(x));
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round6_goes_half_away_from_zero() {
        assert_eq!(round6(0.0000005), 0.000001);
        assert_eq!(round6(-0.0000005), -0.000001);
        assert_eq!(round6(1.2345674), 1.234567);
    }

    #[test]
    fn round6_absorbs_float_error_at_a_threshold() {
        // 21 units in 7 days against 40 in 14: exactly +5 % on paper.
        let impact = (21.0 / 7.0 - 40.0 / 14.0) / (40.0 / 14.0) * 100.0;
        assert_ne!(impact, 5.0);
        assert_eq!(round6(impact), 5.0);
    }

    #[test]
    fn num_prints_short_numbers() {
        assert_eq!(num(5.0), "5");
        assert_eq!(num(-0.25), "-0.25");
        assert_eq!(num(f64::INFINITY), "inf");
    }
}
