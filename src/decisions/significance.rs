//! Statistical gates (SPEC §6): the exact two-sided binomial test for a
//! change in a daily rate, and the Poisson lower tail for the emergency gate.

use statrs::distribution::{Binomial, Discrete, DiscreteCDF, Poisson};

/// Relative tolerance when comparing outcome probabilities, as scipy uses.
const RERR: f64 = 1.0 + 1e-7;

/// Two-sided p-value of observing `k` successes in `n` trials with success
/// probability `p`: the sum of the probabilities of every outcome no more
/// likely than `k`. Follows scipy.stats.binomtest: the tail on the far side
/// of the mode is found by binary search, so the cost is O(log n).
pub fn binom_two_sided(k: u64, n: u64, p: f64) -> f64 {
    if n == 0 || p <= 0.0 || p >= 1.0 {
        // Degenerate: every outcome is certain or the test has no data.
        return 1.0;
    }
    let Ok(dist) = Binomial::new(p, n) else { return 1.0 };
    let d = dist.pmf(k);
    let mean = p * n as f64;
    let pval = if (k as f64 - mean).abs() < 1e-12 {
        1.0
    } else if (k as f64) < mean {
        // Count the terms above the mode that are no more likely than d.
        let ix = search(|x| -dist.pmf(x), -d * RERR, mean.ceil() as i64, n as i64);
        let y = n as i64 - ix + i64::from(d * RERR == dist.pmf(ix.max(0) as u64));
        let upper = if n as i64 - y < 0 { 1.0 } else { dist.sf((n as i64 - y) as u64) };
        dist.cdf(k) + upper
    } else {
        let ix = search(|x| dist.pmf(x), d * RERR, 0, mean.floor() as i64);
        let y = ix + 1;
        let lower = if y - 1 < 0 { 0.0 } else { dist.cdf((y - 1) as u64) };
        lower + dist.sf(k - 1)
    };
    pval.min(1.0)
}

/// scipy's `_binary_search_for_binom_tst`: on a monotone side of the PMF,
/// the last x in [lo, hi] with a(x) ≤ d.
fn search(a: impl Fn(u64) -> f64, d: f64, mut lo: i64, mut hi: i64) -> i64 {
    let at = |x: i64| a(x.max(0) as u64);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let v = at(mid);
        if v < d {
            lo = mid + 1;
        } else if v > d {
            hi = mid - 1;
        } else {
            return mid;
        }
    }
    if at(lo) <= d { lo } else { lo - 1 }
}

/// p-value of a change from `b` events over `db` days to `c` over `dc` days,
/// under equal rates: c ~ Binomial(c + b, dc / (dc + db)).
pub fn rate_change_p(c: u64, dc: u64, b: u64, db: u64) -> f64 {
    if dc == 0 || db == 0 {
        return 1.0;
    }
    binom_two_sided(c, c + b, dc as f64 / (dc + db) as f64)
}

/// P(X ≤ n) for X ~ Poisson(k); k = 0 gives 1.
pub fn poisson_lower_tail(n: u64, k: f64) -> f64 {
    if !(k > 0.0) || !k.is_finite() {
        return 1.0;
    }
    match Poisson::new(k) {
        Ok(p) => p.cdf(n),
        Err(_) => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The definition, summed term by term: the independent path.
    fn brute(k: u64, n: u64, p: f64) -> f64 {
        let dist = Binomial::new(p, n).unwrap();
        let d = dist.pmf(k);
        (0..=n).map(|i| dist.pmf(i)).filter(|&q| q <= d * RERR).sum::<f64>().min(1.0)
    }

    #[test]
    fn binomial_matches_known_values() {
        // scipy.stats.binomtest(3, 10, 0.5).pvalue == 0.34375
        assert!((binom_two_sided(3, 10, 0.5) - 0.34375).abs() < 1e-12);
        // binomtest(0, 10, 0.5).pvalue == 2 / 1024
        assert!((binom_two_sided(0, 10, 0.5) - 0.001953125).abs() < 1e-12);
        assert_eq!(binom_two_sided(5, 10, 0.5), 1.0);
    }

    #[test]
    fn binomial_equals_the_definition_summed_term_by_term() {
        for &(n, p) in &[(1u64, 1.0 / 3.0), (7, 1.0 / 3.0), (30, 7.0 / 21.0), (61, 0.25), (200, 0.6), (35, 0.5)] {
            for k in 0..=n {
                let fast = binom_two_sided(k, n, p);
                let slow = brute(k, n, p);
                assert!((fast - slow).abs() < 1e-9, "k={k} n={n} p={p}: {fast} vs {slow}");
            }
        }
    }

    #[test]
    fn rate_change_compares_daily_rates() {
        // 21 in 7 days vs 40 in 14 days: the same rate is not significant.
        assert!(rate_change_p(21, 7, 40, 14) > 0.5);
        // 70 in 7 days vs 20 in 14 days: clearly significant.
        assert!(rate_change_p(70, 7, 20, 14) < 1e-6);
        // No baseline days: no test.
        assert_eq!(rate_change_p(5, 7, 0, 0), 1.0);
    }

    #[test]
    fn poisson_lower_tail_includes_n() {
        // P(X ≤ 0 | k=3) = e^-3
        assert!((poisson_lower_tail(0, 3.0) - (-3.0f64).exp()).abs() < 1e-12);
        // P(X ≤ 1 | k=3) = e^-3 (1 + 3)
        assert!((poisson_lower_tail(1, 3.0) - 4.0 * (-3.0f64).exp()).abs() < 1e-12);
        assert_eq!(poisson_lower_tail(0, 0.0), 1.0);
    }
}
