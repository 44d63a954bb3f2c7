//! New-campaign selection (SPEC §7): which products qualify, how they rank,
//! and what daily budget each gets. Funding is the budget step's.

use super::num;
use crate::config::{BudgetSettings, SelectionSettings};
use crate::model::day::to_cents_floor;

/// A product with no active or paused campaign, as selection sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    pub product_id: String,
    pub name: String,
    pub category: String,
    pub price: f64,
    pub stock: i64,
    /// Sums over the current window and its covered days.
    pub views: u64,
    pub units: u64,
    pub covered_days: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub product_id: String,
    pub name: String,
    pub category: String,
    pub price: f64,
    /// price × avg daily units × expected_lift × campaign_days.
    pub potential: f64,
    /// Daily budget in cents.
    pub budget: i64,
    pub reasons: Vec<String>,
}

/// views / units over the window; +∞ when units are 0 and views are not;
/// None when both are 0 (nothing to judge).
pub fn view_sales_ratio(views: u64, units: u64) -> Option<f64> {
    match (views, units) {
        (0, 0) => None,
        (_, 0) => Some(f64::INFINITY),
        (v, u) => Some(v as f64 / u as f64),
    }
}

/// Why a product does not qualify, or None when it does.
pub fn disqualify(p: &Product, s: &SelectionSettings) -> Option<String> {
    if p.stock <= s.min_stock {
        return Some(format!("stock={}<={}", p.stock, s.min_stock));
    }
    match view_sales_ratio(p.views, p.units) {
        Some(r) if super::round6(r) > s.min_view_sales_ratio => {}
        r => return Some(format!("view_sales_ratio={}<={}", r.map(num).unwrap_or("null".into()), num(s.min_view_sales_ratio))),
    }
    if super::round6(p.price) <= s.min_price {
        return Some(format!("price={}<={}", num(p.price), num(s.min_price)));
    }
    if !s.categories.is_empty() && !s.categories.iter().any(|c| c.trim().to_lowercase() == p.category.trim().to_lowercase()) {
        return Some(format!("category={} not selected", p.category));
    }
    None
}

/// Revenue potential of a campaign on this product.
pub fn potential(p: &Product, s: &SelectionSettings) -> f64 {
    let avg_units = if p.covered_days > 0 { p.units as f64 / p.covered_days as f64 } else { 0.0 };
    p.price * avg_units * s.expected_lift * s.campaign_days as f64
}

/// max(min_daily, min(price × 0.6, max(min_daily, potential × 0.3))), in cents, rounded down.
pub fn daily_budget(price: f64, potential: f64, s: &SelectionSettings, b: &BudgetSettings) -> i64 {
    let inner = b.min_daily.max(potential * s.budget_potential_ratio);
    let amount = b.min_daily.max((price * s.budget_price_ratio).min(inner));
    to_cents_floor(amount)
}

/// Qualifying products ranked by potential (ties by product_id), with budgets.
pub fn rank(products: &[Product], s: &SelectionSettings, b: &BudgetSettings) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = products
        .iter()
        .filter(|p| disqualify(p, s).is_none())
        .map(|p| {
            let pot = potential(p, s);
            Candidate {
                product_id: p.product_id.clone(),
                name: p.name.clone(),
                category: p.category.clone(),
                price: p.price,
                potential: pot,
                budget: daily_budget(p.price, pot, s, b),
                reasons: vec![super::reasons::new_campaign(pot, p.stock, view_sales_ratio(p.views, p.units))],
            }
        })
        .collect();
    out.sort_by(|a, b| b.potential.total_cmp(&a.potential).then_with(|| a.product_id.cmp(&b.product_id)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: &str, price: f64, stock: i64, views: u64, units: u64, cat: &str) -> Product {
        Product {
            product_id: id.into(),
            name: id.into(),
            category: cat.into(),
            price,
            stock,
            views,
            units,
            covered_days: 7,
        }
    }

    #[test]
    fn qualification_boundaries_are_strict() {
        let s = SelectionSettings::default();
        assert!(disqualify(&p("a", 30.0, 51, 30, 10, "Fitness"), &s).is_none());
        assert!(disqualify(&p("a", 30.0, 50, 30, 10, "Fitness"), &s).unwrap().starts_with("stock"));
        assert!(disqualify(&p("a", 30.0, 51, 20, 10, "Fitness"), &s).unwrap().starts_with("view_sales_ratio"));
        assert!(disqualify(&p("a", 20.0, 51, 30, 10, "Fitness"), &s).unwrap().starts_with("price"));
        assert!(disqualify(&p("a", 30.0, 51, 30, 10, "Toys"), &s).unwrap().starts_with("category"));
    }

    #[test]
    fn zero_units_with_views_is_an_infinite_ratio_and_qualifies() {
        let s = SelectionSettings::default();
        assert!(disqualify(&p("a", 30.0, 51, 5, 0, "Clothing"), &s).is_none());
        assert!(disqualify(&p("a", 30.0, 51, 0, 0, "Clothing"), &s).is_some());
    }

    #[test]
    fn categories_compare_case_insensitively_and_empty_means_any() {
        let mut s = SelectionSettings::default();
        assert!(disqualify(&p("a", 30.0, 51, 30, 10, "ELECTRONICS"), &s).is_none());
        s.categories.clear();
        assert!(disqualify(&p("a", 30.0, 51, 30, 10, "Toys"), &s).is_none());
    }

    #[test]
    fn budget_formula_by_hand() {
        let s = SelectionSettings::default();
        let b = BudgetSettings::default();
        // price 100, 7 units in 7 days: potential = 100 × 1 × 0.1 × 14 = 140;
        // 140 × 0.3 = 42; min(60, 42) = 42.
        let prod = p("a", 100.0, 100, 70, 7, "Fitness");
        let pot = potential(&prod, &s);
        assert!((pot - 140.0).abs() < 1e-9);
        assert_eq!(daily_budget(100.0, pot, &s, &b), 4200);
        // A cheap product: price × 0.6 = 15.6 caps it.
        assert_eq!(daily_budget(26.0, 500.0, &s, &b), 1560);
        // Tiny potential: the floor is min_daily.
        assert_eq!(daily_budget(100.0, 1.0, &s, &b), 1500);
        // Price × 0.6 below min_daily: still min_daily.
        assert_eq!(daily_budget(21.0, 500.0, &s, &b), 1500);
        // Rounded down to cents: 33.333… × 0.3 = 9.99…, price 55.55 × 0.6 = 33.33.
        assert_eq!(daily_budget(55.55, 1000.0, &s, &b), 3333);
    }

    #[test]
    fn ranking_by_potential_then_product_id() {
        let s = SelectionSettings::default();
        let b = BudgetSettings::default();
        let ps = vec![
            p("B", 50.0, 100, 70, 7, "Fitness"),
            p("A", 50.0, 100, 70, 7, "Fitness"),
            p("C", 90.0, 100, 70, 7, "Fitness"),
            p("D", 90.0, 10, 70, 7, "Fitness"),
        ];
        let ids: Vec<_> = rank(&ps, &s, &b).into_iter().map(|c| c.product_id).collect();
        assert_eq!(ids, vec!["C", "A", "B"]);
    }
}
