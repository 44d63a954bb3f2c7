//! A campaign's response to spend (SPEC §13), fitted from its own days.
//!
//! The model: a dollar buys clicks at a cost per click that rises with the
//! day's spend, `cpc(s) = (1 + s/h) / c0` — the auction's ladder — so revenue
//! is the saturating curve `R(s) = roas0 · s / (1 + s/h)`. Two observable
//! quantities pin it down at the campaign's recent spend `s̄`:
//!
//! - the *elasticity* of cost per click to spend, `e = d ln cpc / d ln s`,
//!   the slope of a click-weighted regression of ln cpc on ln spend over
//!   `lookback_days` (clicks are 10–50× more numerous than conversions, so
//!   they carry most of the information about saturation); for the curve
//!   above `e = (s̄/h) / (1 + s̄/h)`;
//! - the *average ROAS* over the last `roas_days` (whole weeks, so the
//!   weekday cancels), with a standard error from its conversion count.
//!
//! Then marginal ROAS = average ROAS × (1 − e): a campaign with a high
//! average and a steep cost curve is saturated. The elasticity is shrunk
//! toward the portfolio's (partial pooling, DerSimonian–Laird between-
//! campaign variance), so a campaign with few days or a flat spend borrows
//! the others' evidence. Every quantity used to decide has a standard error.

use statrs::distribution::{ContinuousCDF, Normal};

use crate::model::plan::Forecast;

/// One day of a campaign with spend.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Day {
    pub spend: f64,
    pub clicks: f64,
    pub conversions: f64,
    pub revenue: f64,
}

/// An estimate with its standard error.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub mean: f64,
    pub se: f64,
}

/// What a campaign's own days say, before pooling.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Raw {
    /// ln cpc on ln spend; `None` when spend did not vary enough to tell.
    pub elasticity: Option<Estimate>,
    /// Average ROAS over the recent days, and the standard error of its log.
    pub roas: f64,
    pub log_roas_se: f64,
    /// Mean daily spend over the recent days (the curve's anchor).
    pub spend: f64,
    pub conversions: f64,
}

/// The portfolio's elasticity: the prior each campaign is shrunk toward.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prior {
    pub mean: f64,
    pub sd: f64,
}

/// A fitted response curve: `R(s) = roas0 · s / (1 + s/half)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Curve {
    pub roas0: f64,
    pub half: f64,
}

/// A campaign's posterior: the curve at the posterior means, and what is
/// uncertain about it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    pub curve: Curve,
    pub elasticity: Estimate,
    pub roas: f64,
    pub log_roas_se: f64,
    pub spend: f64,
}

/// Elasticities are kept inside [0, E_MAX]: 1 would be a campaign whose
/// extra dollars buy nothing at all.
pub const E_MAX: f64 = 0.97;

/// What the days say. `days` are in date order; the last `roas_days` give
/// the ROAS, all of them the elasticity. `price` stands in for the order
/// value while there are no conversions.
pub fn raw(days: &[Day], roas_days: usize, price: f64) -> Option<Raw> {
    let days: Vec<&Day> = days.iter().filter(|d| d.spend > 0.0 && d.clicks > 0.0).collect();
    if days.is_empty() {
        return None;
    }
    let recent = &days[days.len().saturating_sub(roas_days.max(1))..];
    let spend: f64 = recent.iter().map(|d| d.spend).sum();
    let revenue: f64 = recent.iter().map(|d| d.revenue).sum();
    let conversions: f64 = recent.iter().map(|d| d.conversions).sum();
    // Conversions per dollar have a Jeffreys posterior, Gamma(N + ½, spend):
    // a week without a sale is bad news, not proof of a zero return. The
    // order value is the observed one, or the price before any order.
    let aov = if conversions > 0.0 { revenue / conversions } else { price.max(0.0) };
    let roas = (conversions + 0.5) * aov / spend;
    let log_roas_se = 1.05 / (conversions + 0.5).sqrt();
    Some(Raw { elasticity: elasticity(&days), roas, log_roas_se, spend: spend / recent.len() as f64, conversions })
}

/// Click-weighted least squares of ln(spend/clicks) on ln(spend).
fn elasticity(days: &[&Day]) -> Option<Estimate> {
    if days.len() < 4 {
        return None;
    }
    let w: Vec<f64> = days.iter().map(|d| d.clicks).collect();
    let x: Vec<f64> = days.iter().map(|d| d.spend.ln()).collect();
    let y: Vec<f64> = days.iter().map(|d| (d.spend / d.clicks).ln()).collect();
    let sw: f64 = w.iter().sum();
    let xm = w.iter().zip(&x).map(|(w, x)| w * x).sum::<f64>() / sw;
    let ym = w.iter().zip(&y).map(|(w, y)| w * y).sum::<f64>() / sw;
    let sxx: f64 = w.iter().zip(&x).map(|(w, x)| w * (x - xm).powi(2)).sum();
    let sxy: f64 = w.iter().zip(&x).zip(&y).map(|((w, x), y)| w * (x - xm) * (y - ym)).sum();
    // Too little spread in spend (under ~2 % either way) says nothing.
    if sxx / sw < 4e-4 {
        return None;
    }
    let slope = sxy / sxx;
    let rss: f64 = w.iter().zip(&x).zip(&y).map(|((w, x), y)| w * (y - ym - slope * (x - xm)).powi(2)).sum();
    // Poisson clicks give a unit scale of about 1; more scatter widens the
    // error, less (a small sample's luck) is not trusted below 0.5.
    let scale = (rss / (days.len() as f64 - 2.0)).max(0.5);
    Some(Estimate { mean: slope, se: (scale / sxx).sqrt() })
}

/// The portfolio's elasticity from the campaigns' own estimates: the
/// precision-weighted mean and the between-campaign spread
/// (DerSimonian–Laird), or `fallback` with fewer than three estimates.
pub fn pool(estimates: &[Estimate], fallback: Prior) -> Prior {
    let e: Vec<&Estimate> = estimates.iter().filter(|e| e.se.is_finite() && e.se > 0.0).collect();
    if e.len() < 3 {
        return fallback;
    }
    let w: Vec<f64> = e.iter().map(|e| 1.0 / (e.se * e.se)).collect();
    let sw: f64 = w.iter().sum();
    let mean = e.iter().zip(&w).map(|(e, w)| w * e.mean).sum::<f64>() / sw;
    let q: f64 = e.iter().zip(&w).map(|(e, w)| w * (e.mean - mean).powi(2)).sum();
    let c = sw - w.iter().map(|w| w * w).sum::<f64>() / sw;
    let tau2 = ((q - (e.len() as f64 - 1.0)) / c).max(0.0);
    // Re-weight with the spread for the mean the prior is centred on.
    let w2: Vec<f64> = e.iter().map(|e| 1.0 / (e.se * e.se + tau2)).collect();
    let mean = e.iter().zip(&w2).map(|(e, w)| w * e.mean).sum::<f64>() / w2.iter().sum::<f64>();
    Prior { mean: mean.clamp(0.0, E_MAX), sd: tau2.sqrt().max(fallback.sd * 0.25) }
}

/// The posterior fit: the campaign's elasticity shrunk toward the prior,
/// and the curve through its recent spend and ROAS.
pub fn fit(r: &Raw, prior: Prior) -> Fit {
    let (p_prior, p_own) = (1.0 / (prior.sd * prior.sd), r.elasticity.map_or(0.0, |e| 1.0 / (e.se * e.se)));
    let own = r.elasticity.map_or(0.0, |e| e.mean);
    let mean = ((prior.mean * p_prior + own * p_own) / (p_prior + p_own)).clamp(0.0, E_MAX);
    let elasticity = Estimate { mean, se: (1.0 / (p_prior + p_own)).sqrt() };
    Fit { curve: curve(r.roas, r.spend, mean), elasticity, roas: r.roas, log_roas_se: r.log_roas_se, spend: r.spend }
}

/// A new campaign's expected response, before it has a day of its own:
/// the first-dollar returns (`roas0`) of the campaigns like it — its
/// category's when at least three are fitted, else the portfolio's —
/// log-averaged, their spread as its uncertainty, and the portfolio's
/// elasticity prior at the spend it will have. `None` with none to learn from.
pub fn new_campaign_fit(roas0s: &[f64], prior: Prior, spend: f64) -> Option<Fit> {
    Peers::of(roas0s).map(|p| p.fit(prior, spend))
}

/// What a new campaign learns from the campaigns like it: the mean and the
/// spread of the logs of their first-dollar returns. Computed once per
/// group of peers, however many candidates share it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Peers {
    log_mean: f64,
    log_sd: f64,
}

impl Peers {
    /// `None` when no return is finite and positive.
    pub fn of(roas0s: &[f64]) -> Option<Peers> {
        let logs: Vec<f64> = roas0s.iter().filter(|r| r.is_finite() && **r > 0.0).map(|r| r.ln()).collect();
        if logs.is_empty() {
            return None;
        }
        let n = logs.len() as f64;
        let log_mean = logs.iter().sum::<f64>() / n;
        let log_sd = if logs.len() > 1 { (logs.iter().map(|l| (l - log_mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt() } else { 1.0 };
        Some(Peers { log_mean, log_sd })
    }

    /// The fit of a new campaign like these at a daily spend.
    pub fn fit(self, prior: Prior, spend: f64) -> Fit {
        let e = prior.mean.clamp(0.0, E_MAX);
        // Average ROAS at its spend on a curve with this first-dollar return.
        let roas = self.log_mean.exp() * (1.0 - e);
        Fit {
            curve: curve(roas, spend.max(1e-9), e),
            elasticity: Estimate { mean: e, se: prior.sd },
            roas,
            log_roas_se: self.log_sd.max(0.1),
            spend: spend.max(1e-9),
        }
    }
}

impl Fit {
    /// What a report and a forecast keep of the fit.
    pub fn summary(&self, burn: f64, margin: f64, interval_scale: f64) -> crate::model::plan::ResponseSummary {
        crate::model::plan::ResponseSummary {
            roas: self.roas,
            log_roas_se: self.log_roas_se,
            elasticity: self.elasticity.mean,
            elasticity_se: self.elasticity.se,
            spend: self.spend,
            burn,
            margin,
            interval_scale,
        }
    }

    /// The same curve, less sure of itself: every standard error times `k`.
    pub fn widened(mut self, k: f64) -> Fit {
        self.log_roas_se *= k;
        self.elasticity.se *= k;
        self
    }

    /// The fit a report stored (its curve redrawn from the summary).
    pub fn from_summary(r: &crate::model::plan::ResponseSummary) -> Fit {
        Fit {
            curve: curve(r.roas, r.spend, r.elasticity),
            elasticity: Estimate { mean: r.elasticity, se: r.elasticity_se },
            roas: r.roas,
            log_roas_se: r.log_roas_se,
            spend: r.spend,
        }
    }
}

/// The curve whose average ROAS at `spend` is `roas` and whose cost per
/// click there has elasticity `e`.
pub fn curve(roas: f64, spend: f64, e: f64) -> Curve {
    let e = e.clamp(0.0, E_MAX);
    let half = if e <= 1e-9 { f64::INFINITY } else { spend.max(1e-9) * (1.0 - e) / e };
    Curve { roas0: roas / (1.0 - e), half }
}

impl Curve {
    /// Expected revenue at a daily spend.
    pub fn revenue(&self, s: f64) -> f64 {
        self.roas0 * s / (1.0 + s / self.half)
    }

    /// Expected profit per day at a daily budget, for a campaign that
    /// spends `burn` of it.
    pub fn profit_at(&self, burn: f64, budget: f64, margin: f64) -> f64 {
        let s = burn * budget;
        margin * self.revenue(s) - s
    }

    /// Revenue of the next dollar at a daily spend.
    pub fn marginal(&self, s: f64) -> f64 {
        self.roas0 / (1.0 + s / self.half).powi(2)
    }
}

/// Points per dimension of the posterior grid (quantiles of a normal).
const GRID: usize = 15;

/// The posterior grid: (ROAS, elasticity) at equal-probability quantiles,
/// the standard errors times `scale`.
fn grid(f: &Fit, scale: f64) -> impl Iterator<Item = (f64, f64)> + '_ {
    // The standard normal's quantiles, computed once.
    static Q: std::sync::OnceLock<[f64; GRID]> = std::sync::OnceLock::new();
    let q = Q.get_or_init(|| {
        let z = Normal::new(0.0, 1.0).expect("a standard normal");
        std::array::from_fn(|i| z.inverse_cdf((i as f64 + 0.5) / GRID as f64))
    });
    q.iter().flat_map(move |&zr| {
        let roas = f.roas * (zr * scale * f.log_roas_se).exp();
        q.iter().map(move |&ze| (roas, f.elasticity.mean + ze * scale * f.elasticity.se))
    })
}

/// The 10th and 90th percentiles of equally likely values (the values at
/// those ranks of the sorted list, found without sorting it).
fn interval80(mut v: Vec<f64>) -> (f64, f64) {
    let rank = |p: f64| ((p * v.len() as f64).floor() as usize).min(v.len() - 1);
    let (low, high) = (rank(0.1), rank(0.9));
    let high_value = *v.select_nth_unstable_by(high, f64::total_cmp).1;
    // Everything before `high` now ranks at or below it.
    let low_value = if low < high { *v[..high].select_nth_unstable_by(low, f64::total_cmp).1 } else { high_value };
    (low_value, high_value)
}

/// What running at budget `to` instead of `from` is expected to bring per
/// day, for a campaign that spends `burn` of its budget: the point values
/// from the fitted curve, the 80 % intervals from the posterior grid with
/// its standard errors widened by `scale` (`model.interval_scale`: what the
/// curve's form, the spend share and the trend add, calibrated in
/// `sandbox simulate`).
pub fn forecast(f: &Fit, burn: f64, from: f64, to: f64, margin: f64, scale: f64) -> Forecast {
    let (mut at_to, mut delta) = (Vec::with_capacity(GRID * GRID), Vec::with_capacity(GRID * GRID));
    for (roas, e) in grid(f, scale) {
        let c = curve(roas, f.spend, e);
        let p = c.profit_at(burn, to, margin);
        at_to.push(p);
        delta.push(p - c.profit_at(burn, from, margin));
    }
    let (low, high) = interval80(at_to);
    let (delta_low, delta_high) = interval80(delta);
    let spend = burn * to;
    Forecast {
        fit: Some(f.summary(burn, margin, scale)),
        spend,
        revenue: f.curve.revenue(spend),
        profit: f.curve.profit_at(burn, to, margin),
        low,
        high,
        delta_profit: f.curve.profit_at(burn, to, margin) - f.curve.profit_at(burn, from, margin),
        delta_low,
        delta_high,
    }
}

/// What the curve says of two windows of real days: the change in mean
/// daily profit (margin × R(s) − s at each day's actual spend) from `before`
/// to `after`, and its 80 % band from the posterior grid widened by `scale`.
/// The follow-up of an action holds what happened to this, so later budget
/// changes and the days the campaign did not spend its budget are in both.
pub fn window_delta(f: &Fit, before: &[f64], after: &[f64], margin: f64, scale: f64) -> (f64, f64, f64) {
    let mean_profit = |c: &Curve, days: &[f64]| {
        if days.is_empty() {
            0.0
        } else {
            days.iter().map(|&s| margin * c.revenue(s) - s).sum::<f64>() / days.len() as f64
        }
    };
    let band: Vec<f64> = grid(f, scale)
        .map(|(roas, e)| {
            let c = curve(roas, f.spend, e);
            mean_profit(&c, after) - mean_profit(&c, before)
        })
        .collect();
    let (low, high) = interval80(band);
    (mean_profit(&f.curve, after) - mean_profit(&f.curve, before), low, high)
}

/// The probability that the campaign loses money even at daily spend `s`
/// (its least, with a concave curve the most profitable per dollar): over a
/// grid of quantiles of its log ROAS and its elasticity, the share where
/// margin × average ROAS at `s` is below 1.
pub fn p_unprofitable_at(f: &Fit, s: f64, margin: f64) -> f64 {
    let losing = grid(f, 1.0).filter(|&(roas, e)| margin * curve(roas, f.spend, e).revenue(s) / s.max(1e-9) < 1.0).count();
    losing as f64 / (GRID * GRID) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use rand_distr::{Distribution, Poisson};

    #[test]
    fn the_80_percent_interval_is_the_sorted_lists_10th_and_90th_percentile() {
        let mut rng = ChaCha8Rng::seed_from_u64(80);
        for n in (1..40).chain([224, 225, 226, 1000]) {
            // Ties and a NaN too: the ranks are those of `f64::total_cmp`.
            let mut v: Vec<f64> = (0..n).map(|_| (rng.random_range(-50.0..50.0_f64)).round() / 4.0).collect();
            if n > 5 {
                v[3] = f64::NAN;
            }
            let mut sorted = v.clone();
            sorted.sort_by(f64::total_cmp);
            let at = |p: f64| sorted[((p * n as f64).floor() as usize).min(n - 1)];
            let (low, high) = interval80(v);
            assert_eq!((low.to_bits(), high.to_bits()), (at(0.1).to_bits(), at(0.9).to_bits()), "n = {n}");
        }
    }

    /// 28 days of a campaign with a known curve, spend around `budget`.
    fn days(rng: &mut ChaCha8Rng, c0: f64, half: f64, rpc: f64, budget: f64) -> Vec<Day> {
        (0..28)
            .map(|_| {
                let s = budget * rng.random_range(0.85..1.15);
                let clicks = Poisson::new(c0 * s / (1.0 + s / half)).unwrap().sample(rng);
                let conv = Poisson::new((clicks * rpc / 40.0).max(1e-9)).unwrap().sample(rng);
                Day { spend: s, clicks, conversions: conv, revenue: conv * 40.0 }
            })
            .collect()
    }

    #[test]
    fn the_fit_recovers_a_known_elasticity_inside_its_interval_about_as_often_as_it_says() {
        // 200 campaigns, true elasticity between 0.1 and 0.85: the 80 %
        // interval of the posterior holds the truth 70–90 % of the time.
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut truths = Vec::new();
        let mut raws = Vec::new();
        for _ in 0..200 {
            let budget = rng.random_range(30.0..120.0);
            let ratio: f64 = rng.random_range(0.1..6.0); // s̄ / half
            let half = budget / ratio;
            truths.push(ratio / (1.0 + ratio));
            raws.push(raw(&days(&mut rng, 3.0, half, 1.2, budget), 14, 40.0).unwrap());
        }
        let prior = pool(&raws.iter().filter_map(|r| r.elasticity).collect::<Vec<_>>(), Prior { mean: 0.5, sd: 0.3 });
        let z80 = 1.2816;
        let inside = raws
            .iter()
            .zip(&truths)
            .filter(|(r, t)| {
                let f = fit(r, prior);
                (f.elasticity.mean - **t).abs() <= z80 * f.elasticity.se
            })
            .count();
        eprintln!("elasticity coverage: {inside} of 200 inside the 80 % interval");
        assert!((140..=180).contains(&inside), "{inside} of 200 inside the 80 % interval (prior {prior:?})");
    }

    #[test]
    fn marginal_roas_is_average_roas_times_one_minus_the_elasticity() {
        let c = curve(2.0, 50.0, 0.6);
        assert!((c.revenue(50.0) / 50.0 - 2.0).abs() < 1e-9);
        assert!((c.marginal(50.0) - 2.0 * 0.4).abs() < 1e-9);
        // No saturation: every dollar returns the same.
        let flat = curve(1.5, 50.0, 0.0);
        assert!((flat.marginal(500.0) - 1.5).abs() < 1e-9);
    }

    #[test]
    fn the_pause_rule_turns_at_break_even() {
        // A certain curve: loses at its least spend exactly when roas0 · m < 1 there.
        let sure = |roas: f64| Fit {
            curve: curve(roas, 40.0, 0.0),
            elasticity: Estimate { mean: 0.0, se: 1e-9 },
            roas,
            log_roas_se: 1e-9,
            spend: 40.0,
        };
        assert_eq!(p_unprofitable_at(&sure(0.99), 15.0, 1.0), 1.0);
        assert_eq!(p_unprofitable_at(&sure(1.01), 15.0, 1.0), 0.0);
        // A 40 % margin moves break-even to ROAS 2.5.
        assert_eq!(p_unprofitable_at(&sure(2.4), 15.0, 0.4), 1.0);
        assert_eq!(p_unprofitable_at(&sure(2.6), 15.0, 0.4), 0.0);
        // Uncertain: a ROAS of 0.9 on two conversions is not a sure loss.
        let shaky = Fit { log_roas_se: 1.05 / 2.5f64.sqrt(), ..sure(0.9) };
        let p = p_unprofitable_at(&shaky, 15.0, 1.0);
        assert!(p > 0.4 && p < 0.7, "{p}");
    }

    #[test]
    fn a_week_without_a_sale_is_bad_news_not_a_certain_loss() {
        // 4 days, 90.00 spent on a 50.00 product, no order: ROAS (0 + ½)·50/90.
        let d: Vec<Day> = (0..4).map(|_| Day { spend: 22.5, clicks: 30.0, conversions: 0.0, revenue: 0.0 }).collect();
        let r = raw(&d, 14, 50.0).unwrap();
        assert!((r.roas - 0.25 / 0.9).abs() < 1e-9, "{}", r.roas);
        let f = fit(&r, Prior { mean: 0.3, sd: 0.2 });
        let p = p_unprofitable_at(&f, 15.0, 1.0);
        assert!(p < 0.9, "not sure enough to pause: {p}");
        // Four weeks of the same: now it is.
        let d: Vec<Day> = (0..28).map(|_| Day { spend: 22.5, clicks: 30.0, conversions: 0.0, revenue: 0.0 }).collect();
        let f = fit(&raw(&d, 28, 50.0).unwrap(), Prior { mean: 0.3, sd: 0.2 });
        assert!(p_unprofitable_at(&f, 15.0, 1.0) > 0.9);
    }

    #[test]
    fn a_forecast_is_the_curve_with_its_interval_around_it() {
        let f = Fit {
            curve: curve(2.0, 40.0, 0.5),
            elasticity: Estimate { mean: 0.5, se: 0.1 },
            roas: 2.0,
            log_roas_se: 0.2,
            spend: 40.0,
        };
        // Budget 50 → 60 at burn 0.8: spend 40 → 48 on R(s) = 4s/(1 + s/40).
        let fc = forecast(&f, 0.8, 50.0, 60.0, 1.0, 1.0);
        let r = |s: f64| 4.0 * s / (1.0 + s / 40.0);
        assert!((fc.spend - 48.0).abs() < 1e-9);
        assert!((fc.revenue - r(48.0)).abs() < 1e-9);
        assert!((fc.delta_profit - ((r(48.0) - 48.0) - (r(40.0) - 40.0))).abs() < 1e-9);
        assert!(fc.low < fc.profit && fc.profit < fc.high, "{fc:?}");
        assert!(fc.delta_low < fc.delta_profit && fc.delta_profit < fc.delta_high, "{fc:?}");
        // A pause forecasts nothing spent and the profit it had as the change.
        let p = forecast(&f, 0.8, 50.0, 0.0, 1.0, 1.0);
        // Wider errors, wider intervals, the same point.
        let wide = forecast(&f, 0.8, 50.0, 60.0, 1.0, 2.0);
        assert_eq!(wide.delta_profit, fc.delta_profit);
        assert!(wide.delta_high - wide.delta_low > 1.5 * (fc.delta_high - fc.delta_low));
        assert_eq!((p.spend, p.profit), (0.0, 0.0));
        assert!((p.delta_profit + (r(40.0) - 40.0)).abs() < 1e-9);
    }

    #[test]
    fn a_new_campaign_is_expected_to_do_as_its_peers_do_with_their_spread() {
        let prior = Prior { mean: 0.3, sd: 0.2 };
        let f = new_campaign_fit(&[2.0, 2.0, 2.0], prior, 20.0).unwrap();
        // First-dollar return 2 on a curve with elasticity 0.3 at spend 20.
        assert!((f.curve.roas0 - 2.0).abs() < 1e-9 && (f.curve.marginal(0.0) - 2.0).abs() < 1e-9);
        assert!((f.roas - 1.4).abs() < 1e-9);
        assert_eq!(f.log_roas_se, 0.1, "no spread: the floor");
        let wide = new_campaign_fit(&[0.5, 2.0, 8.0], prior, 20.0).unwrap();
        assert!((wide.curve.roas0 - 2.0).abs() < 1e-9, "the log-average");
        assert!((wide.log_roas_se - 4f64.ln()).abs() < 1e-9);
        assert!(new_campaign_fit(&[], prior, 20.0).is_none());
    }

    #[test]
    fn too_little_spread_in_spend_says_nothing_and_the_prior_speaks() {
        let d: Vec<Day> = (0..20).map(|i| Day { spend: 50.0 + (i % 2) as f64 * 0.1, clicks: 100.0, conversions: 2.0, revenue: 80.0 }).collect();
        let r = raw(&d, 14, 40.0).unwrap();
        assert!(r.elasticity.is_none());
        let f = fit(&r, Prior { mean: 0.4, sd: 0.2 });
        assert!((f.elasticity.mean - 0.4).abs() < 1e-9 && (f.elasticity.se - 0.2).abs() < 1e-9);
    }
}
