//! Risk score (SPEC §5): four components in [0, 1], weighted.
//!
//! The components are polars expressions, so analyze computes them over the
//! whole campaign column at once; they read only their input columns and
//! settings. The level is a plain function of the score.

use polars::prelude::*;

use super::round6;
use crate::config::RiskSettings;
use crate::model::decision::RiskLevel;

/// burn = min(1, spend / (daily_budget × covered days)); 1 if there was spend
/// against no budget, 0 if neither.
pub fn burn(spend: Expr, budget: Expr, days: Expr) -> Expr {
    let capacity = budget * days.cast(DataType::Float64);
    when(capacity.clone().gt(lit(0.0)))
        .then((spend.clone() / capacity).clip_max(lit(1.0)))
        .when(spend.gt(lit(0.0)))
        .then(lit(1.0))
        .otherwise(lit(0.0))
}

/// decline = clamp(−efficiency / 100, 0, 1); null when efficiency is.
pub fn decline(efficiency: Expr) -> Expr {
    (-efficiency / lit(100.0)).clip(lit(0.0), lit(1.0))
}

/// The category's competition from `[risk.competition]`, ignoring case.
pub fn competition(category: Expr, s: &RiskSettings) -> Expr {
    let lower = category.str().to_lowercase();
    let mut e = lit(s.default_competition);
    for (cat, v) in &s.competition {
        e = when(lower.clone().eq(lit(cat.to_lowercase()))).then(lit(*v)).otherwise(e);
    }
    e
}

/// lifecycle: new product, else growing, else declining and mature, else other.
pub fn lifecycle(age_days: Expr, sales_impact: Expr, s: &RiskSettings) -> Expr {
    when(age_days.clone().lt(lit(s.new_product_days as i32)))
        .then(lit(s.lifecycle_new))
        .when(sales_impact.clone().gt(lit(s.growing_sales_impact)))
        .then(lit(s.lifecycle_growing))
        .when(sales_impact.lt(lit(s.declining_sales_impact)).and(age_days.gt(lit(s.mature_product_days as i32))))
        .then(lit(s.lifecycle_declining))
        .otherwise(lit(s.lifecycle_other))
}

/// The weighted score; null when `decline` is (no baseline).
pub fn score(burn: Expr, decline: Expr, competition: Expr, lifecycle: Expr, s: &RiskSettings) -> Expr {
    lit(s.burn_weight) * burn
        + lit(s.decline_weight) * decline
        + lit(s.competition_weight) * competition
        + lit(s.lifecycle_weight) * lifecycle
}

/// low < medium_level ≤ medium < high_level ≤ high.
pub fn level(score: f64, s: &RiskSettings) -> RiskLevel {
    let r = round6(score);
    if r < s.medium_level {
        RiskLevel::Low
    } else if r < s.high_level {
        RiskLevel::Medium
    } else {
        RiskLevel::High
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(df: DataFrame, e: Expr) -> Vec<Option<f64>> {
        df.lazy().select([e.alias("x")]).collect().unwrap().column("x").unwrap().f64().unwrap().iter().collect()
    }

    #[test]
    fn burn_is_capped_and_handles_zero_budgets() {
        let df = df!("spend" => [50.0, 150.0, 10.0, 0.0, 35.0], "budget" => [10.0, 10.0, 0.0, 0.0, 10.0], "days" => [7, 7, 7, 7, 5]).unwrap();
        let got = eval(df, burn(col("spend"), col("budget"), col("days")));
        assert_eq!(got, vec![Some(50.0 / 70.0), Some(1.0), Some(1.0), Some(0.0), Some(0.7)]);
    }

    #[test]
    fn decline_clamps_to_unit_interval() {
        let df = df!("e" => [Some(-50.0), Some(-250.0), Some(30.0), None]).unwrap();
        assert_eq!(eval(df, decline(col("e"))), vec![Some(0.5), Some(1.0), Some(0.0), None]);
    }

    #[test]
    fn competition_lookup_ignores_case() {
        let mut s = RiskSettings::default();
        s.competition.insert("Electronics".into(), 0.9);
        let df = df!("c" => [Some("ELECTRONICS"), Some("electronics"), Some("Toys"), None]).unwrap();
        assert_eq!(eval(df, competition(col("c"), &s)), vec![Some(0.9), Some(0.9), Some(0.5), Some(0.5)]);
    }

    #[test]
    fn lifecycle_boundaries() {
        let s = RiskSettings::default();
        let df = df!(
            "age" => [29, 30, 30, 91, 90, 91, 200],
            "sales" => [Some(-50.0), Some(10.000001), Some(10.0), Some(-10.000001), Some(-20.0), Some(-10.0), None]
        )
        .unwrap();
        assert_eq!(
            eval(df, lifecycle(col("age"), col("sales"), &s)),
            vec![Some(0.3), Some(0.1), Some(0.5), Some(1.0), Some(0.5), Some(0.5), Some(0.5)]
        );
    }

    #[test]
    fn score_weights_components_and_propagates_null() {
        let s = RiskSettings::default();
        let df = df!("b" => [1.0, 1.0], "d" => [Some(0.5), None], "c" => [0.5, 0.5], "l" => [0.1, 0.1]).unwrap();
        let got = eval(df, score(col("b"), col("d"), col("c"), col("l"), &s));
        assert!((got[0].unwrap() - (0.3 + 0.2 + 0.1 + 0.01)).abs() < 1e-12);
        assert_eq!(got[1], None);
    }

    #[test]
    fn levels_split_at_their_thresholds() {
        let s = RiskSettings::default();
        assert_eq!(level(0.329999, &s), RiskLevel::Low);
        assert_eq!(level(0.33, &s), RiskLevel::Medium);
        assert_eq!(level(0.659999, &s), RiskLevel::Medium);
        assert_eq!(level(0.66, &s), RiskLevel::High);
    }
}
