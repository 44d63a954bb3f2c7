//! The sandbox's simulated store and ad account, one day at a time.
//!
//! `sandbox serve` holds one [`World`]: products with growing, flat or
//! declining demand, campaigns (one product each) that spend their budget and
//! bring clicks and conversions, and a clock. Every day is computed from the
//! seed, the day and the id alone, so the same actions give the same data
//! whatever order requests come in, and a pause or a budget change shows in
//! the next day's numbers: a paused campaign spends nothing and its product
//! loses the sales it brought; a bigger budget buys more clicks at a rising
//! cost per click.
//!
//! The hidden truth (what `sandbox simulate` scores policies with): each
//! campaign spends `budget × burn × u` (u uniform around 1, never above the
//! budget) and buys clicks at a cost that rises with spend, so its expected
//! revenue is a saturating curve `roas0 · s / (1 + s / half)` — `roas0` the
//! return of the first dollar, `half` the spend at which a dollar buys half
//! as much — scaled by the weekday and, mildly, by its product's own trend.
//! [`World::expected_day`] integrates that over the spend noise.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::generate::{binomial, cents, poisson};
use crate::model::campaign::{CampaignStatus, PausedBy};
use crate::model::day::Day;

/// The sandbox's starting point.
#[derive(Debug, Clone)]
pub struct WorldOptions {
    pub seed: u64,
    pub products: u32,
    pub campaigns: u32,
    /// Days of history before (and including) `today`.
    pub history_days: u32,
    /// The last complete day.
    pub today: Day,
}

#[derive(Debug, Clone, Serialize)]
pub struct Product {
    /// WooCommerce id.
    pub id: u64,
    pub sku: String,
    pub name: String,
    pub category: String,
    pub price: f64,
    /// A variable product without priced variations: WooCommerce sends `""`.
    pub unpriced: bool,
    /// When false WooCommerce sends `stock_quantity: null`.
    pub manage_stock: bool,
    pub stock: i64,
    pub created: Day,
    #[serde(skip)]
    base: f64,
    #[serde(skip)]
    growth: f64,
    #[serde(skip)]
    views_per_unit: f64,
}


#[derive(Debug, Clone, Serialize)]
pub struct Campaign {
    /// Ad id on the Impact-shaped routes, campaign id on `/_sandbox/`.
    pub id: u64,
    pub name: String,
    pub product: usize,
    pub created: Day,
    pub daily_budget: f64,
    pub status: CampaignStatus,
    pub paused_by: Option<PausedBy>,
    pub paused_at: Option<Day>,
    /// Impact's `LimitedTimeEndDate`: not served from this day on.
    pub end_date: Option<Day>,
    pub description: String,
    pub labels: String,
    /// The request key that created it (`/_sandbox/` creates), for reconciliation.
    pub created_by_key: String,
    /// Revenue per dollar of the first dollars (weekday and trend factor 1).
    #[serde(skip)]
    pub roas0: f64,
    /// Daily spend at which a dollar buys half as much as the first.
    #[serde(skip)]
    pub half: f64,
    #[serde(skip)]
    cvr: f64,
    /// Share of the budget it spends (before the day's noise).
    #[serde(skip)]
    pub burn: f64,
}

impl Campaign {
    /// Whether it runs on day `d`.
    pub fn serving_on(&self, d: Day) -> bool {
        self.status == CampaignStatus::Active && self.created <= d && self.end_date.is_none_or(|e| d < e)
    }
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ProductDay {
    pub views: i64,
    pub units: i64,
    pub revenue: f64,
}

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct CampaignDay {
    pub impressions: i64,
    pub clicks: i64,
    pub spend: f64,
    pub conversions: i64,
    pub revenue: f64,
    pub new_customers: i64,
}

/// One change made through the API, for tests to check "exactly once".
#[derive(Debug, Clone, Serialize)]
pub struct WriteLog {
    pub day: Day,
    pub route: String,
    pub campaign_id: u64,
    pub what: String,
    /// Whether the state changed (a repeat of a pause changes nothing).
    pub changed: bool,
}

pub struct World {
    pub seed: u64,
    pub today: Day,
    pub first_day: Day,
    pub products: Vec<Product>,
    pub campaigns: Vec<Campaign>,
    /// `product_days[d - first_day][product]`.
    pub product_days: Vec<Vec<ProductDay>>,
    /// `campaign_days[d - first_day]`: (campaign index, numbers), campaigns that ran.
    pub campaign_days: Vec<Vec<(usize, CampaignDay)>>,
    pub log: Vec<WriteLog>,
}

const CATEGORIES: [&str; 6] = ["Camping", "Fitness", "Clothing", "Home", "Beauty", "Garden"];
const NOUNS: [&str; 10] =
    ["Tent", "Yoga Mat", "Rain Jacket", "Lamp", "Face Serum", "Pruner", "Backpack", "Kettlebell", "Beanie", "Planter"];
const ADJECTIVES: [&str; 8] = ["Trailhead", "Nordic", "Urban", "Eco", "Compact", "Prime", "Classic", "Summit"];

/// One kind of campaign a real account has: its first-dollar return
/// `roas0`, its half-saturation spend as a multiple of its budget, and its
/// product's organic growth per day.
struct Kind {
    roas0: (f64, f64),
    half: (f64, f64),
    growth: (f64, f64),
}

/// Campaign kinds, cycled. Average ROAS at budget b is roas0 / (1 + b/half),
/// marginal ROAS roas0 / (1 + b/half)².
const KINDS: [Kind; 10] = [
    Kind { roas0: (3.0, 5.0), half: (2.0, 5.0), growth: (0.020, 0.030) },    // winner, budget-limited, growing product
    Kind { roas0: (0.5, 0.95), half: (1.0, 3.0), growth: (0.0, 0.0) },      // loser: unprofitable at any budget
    Kind { roas0: (1.3, 2.0), half: (0.8, 2.0), growth: (-0.004, 0.003) },  // marginal
    Kind { roas0: (2.0, 3.0), half: (1.0, 3.0), growth: (0.006, 0.011) },   // mild grower
    Kind { roas0: (2.5, 4.0), half: (1.5, 4.0), growth: (-0.035, -0.020) }, // good campaign on a declining product
    Kind { roas0: (4.0, 7.0), half: (0.15, 0.35), growth: (0.020, 0.030) }, // saturated: high average, marginal below 1
    Kind { roas0: (1.5, 2.5), half: (0.3, 0.6), growth: (-0.004, 0.003) },  // saturated marginal: too much budget
    Kind { roas0: (1.5, 4.0), half: (1.0, 3.0), growth: (0.0, 0.0) },       // recently launched
    Kind { roas0: (2.5, 4.0), half: (3.0, 6.0), growth: (0.006, 0.011) },   // good, budget-limited, flat-ish
    Kind { roas0: (0.6, 0.95), half: (1.0, 3.0), growth: (0.0, 0.0) },      // loser
];

/// Mean of the order value over the price (orders are 1.0–1.3 × price).
const AOV_FACTOR: f64 = 1.15;
/// The day's spend noise: `u` uniform on `1 ± SPEND_NOISE`.
const SPEND_NOISE: f64 = 0.12;
/// How much of its product's organic trend a campaign's conversion rate follows.
const TREND_SHARE: f64 = 0.3;
/// Points of the midpoint rule over the spend noise in [`World::expected_day`].
const NOISE_POINTS: usize = 24;

/// The weekday factor on organic demand and conversion rates (0 = Monday).
fn weekly(d: Day) -> f64 {
    let weekday = (d + 3).rem_euclid(7); // 1970-01-01 was a Thursday
    if weekday >= 5 {
        1.25
    } else {
        0.95
    }
}

/// What one campaign-day is expected to bring (the truth a policy is scored by).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Expected {
    pub spend: f64,
    pub revenue: f64,
}

fn rng_for(seed: u64, day: Day, stream: u64, id: u64) -> ChaCha8Rng {
    let mix = seed
        ^ (day as i64 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ stream.wrapping_mul(0xBF58_476D_1CE4_E5B9)
        ^ id.wrapping_mul(0x94D0_49BB_1331_11EB);
    ChaCha8Rng::seed_from_u64(mix)
}

fn draw(rng: &mut ChaCha8Rng, (lo, hi): (f64, f64)) -> f64 {
    if lo == hi {
        lo
    } else {
        rng.random_range(lo..hi)
    }
}

/// Organic growth at `growth` per day, `t` days after the trend started
/// (capped at e³).
fn trend(growth: f64, t: i32) -> f64 {
    (growth * t.max(0) as f64).min(3.0).exp()
}

/// How well a new campaign in a category tends to do (what a pooled prior
/// by category can learn).
fn category_factor(category: &str) -> f64 {
    match category {
        "Fitness" | "Camping" => 1.2,
        "Beauty" => 0.8,
        _ => 1.0,
    }
}

impl World {
    pub fn new(o: &WorldOptions) -> World {
        let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
        let days = o.history_days.max(1) as i32;
        let first = o.today - days + 1;
        let n = o.products.max(1) as usize;
        let mut products: Vec<Product> = (0..n)
            .map(|i| {
                let price = cents((rng.random_range(8f64.ln()..300f64.ln())).exp().floor() + 0.99);
                let created = if rng.random_bool(0.05) { o.today - rng.random_range(0..days.min(30)) } else { first - rng.random_range(1..300) };
                Product {
                    id: 1001 + i as u64,
                    sku: if i % 17 == 3 { String::new() } else { format!("NW-{:05}", i + 1) },
                    name: format!("{} {}", ADJECTIVES[(i / 10) % ADJECTIVES.len()], NOUNS[i % NOUNS.len()]),
                    category: CATEGORIES[i % CATEGORIES.len()].to_string(),
                    price,
                    unpriced: i % 97 == 50,
                    manage_stock: i % 13 != 7,
                    stock: rng.random_range(50..1500),
                    created,
                    base: (rng.random_range(0.5f64.ln()..20f64.ln())).exp(),
                    growth: [0.015, 0.0, -0.015][rng.random_range(0..3)],
                    views_per_unit: rng.random_range(4.0..25.0),
                }
            })
            .collect();
        let mut campaigns = Vec::with_capacity(o.campaigns as usize);
        for i in 0..o.campaigns as usize {
            // Campaigns on distinct products (wrapping when there are more campaigns).
            let product = (i * 7919) % n;
            let kind = &KINDS[i % KINDS.len()];
            let p = &mut products[product];
            p.unpriced = false;
            p.manage_stock = true;
            p.stock = p.stock.max(rng.random_range(500..3000));
            p.base = p.base.max(2.0);
            p.growth = draw(&mut rng, kind.growth);
            let created = if i % KINDS.len() == 7 {
                o.today - rng.random_range(8..20)
            } else {
                first.max(o.today - rng.random_range(40..days.max(41)))
            };
            p.created = p.created.min(created - 60);
            let cvr = rng.random_range(0.02..0.05);
            let daily_budget = cents(rng.random_range(20.0..120.0f64).max(p.price * 0.6));
            campaigns.push(Campaign {
                id: 600_001 + i as u64,
                name: format!("{} – text link", p.name),
                product,
                created,
                daily_budget,
                status: CampaignStatus::Active,
                paused_by: None,
                paused_at: None,
                end_date: None,
                description: format!("{} for {}", p.name, p.category.to_lowercase()),
                labels: format!("product:{}", p.id),
                created_by_key: String::new(),
                roas0: draw(&mut rng, kind.roas0),
                half: daily_budget * draw(&mut rng, kind.half),
                cvr,
                burn: rng.random_range(0.6..0.95),
            });
        }
        let mut w = World {
            seed: o.seed,
            today: first - 1,
            first_day: first,
            products,
            campaigns,
            product_days: Vec::new(),
            campaign_days: Vec::new(),
            log: Vec::new(),
        };
        for _ in 0..days {
            w.advance();
        }
        w
    }

    /// Simulates the next day and moves the clock to it.
    pub fn advance(&mut self) {
        let d = self.today + 1;
        let mut extra_units = vec![0i64; self.products.len()];
        let mut extra_views = vec![0i64; self.products.len()];
        let mut ran = Vec::new();
        for (ci, c) in self.campaigns.iter().enumerate() {
            if !c.serving_on(d) {
                continue;
            }
            let mut rng = rng_for(self.seed, d, 1, c.id);
            let p = &self.products[c.product];
            let u = rng.random_range(1.0 - SPEND_NOISE..1.0 + SPEND_NOISE);
            let spend = cents((c.daily_budget * c.burn * u).min(c.daily_budget));
            // Diminishing returns: each extra dollar buys dearer clicks.
            let cpc = self.first_click_cost(ci) * (1.0 + spend / c.half);
            let clicks = if cpc > 0.0 { poisson(&mut rng, spend / cpc) } else { 0 };
            let cvr = (c.cvr * self.conversion_factor(ci, d)).min(1.0);
            let conversions = binomial(&mut rng, clicks, cvr);
            let revenue = cents(conversions as f64 * p.price * rng.random_range(1.0..1.3));
            let new_customers = binomial(&mut rng, conversions, 0.6);
            let impressions = clicks * rng.random_range(30..90);
            extra_units[c.product] += conversions;
            extra_views[c.product] += clicks;
            ran.push((ci, CampaignDay { impressions, clicks, spend, conversions, revenue, new_customers }));
        }
        let mut days = Vec::with_capacity(self.products.len());
        for (pi, p) in self.products.iter_mut().enumerate() {
            if p.created > d {
                days.push(ProductDay::default());
                continue;
            }
            let mut rng = rng_for(self.seed, d, 2, p.id);
            let lambda = p.base * trend(p.growth, d - (self.first_day + 20)) * weekly(d);
            let units = poisson(&mut rng, lambda) + extra_units[pi];
            let views = poisson(&mut rng, lambda * p.views_per_unit) + extra_views[pi];
            p.stock -= units;
            if p.stock < 50 {
                p.stock += rng.random_range(300..2000);
            }
            days.push(ProductDay { views, units, revenue: cents(units as f64 * p.price) });
        }
        self.product_days.push(days);
        self.campaign_days.push(ran);
        self.today = d;
    }

    /// Cost of the first click: what makes the first dollar return `roas0`.
    fn first_click_cost(&self, ci: usize) -> f64 {
        let c = &self.campaigns[ci];
        c.cvr * self.products[c.product].price * AOV_FACTOR / c.roas0.max(1e-9)
    }

    /// The weekday and (a share of) the product's trend on conversion rates.
    fn conversion_factor(&self, ci: usize, d: Day) -> f64 {
        let p = &self.products[self.campaigns[ci].product];
        weekly(d) * trend(p.growth * TREND_SHARE, d - (self.first_day + 20))
    }

    /// The expected spend and attributed revenue of campaign `ci` on day `d`
    /// at `budget`, over the day's spend noise (the hidden truth).
    pub fn expected_day(&self, ci: usize, budget: f64, d: Day) -> Expected {
        let c = &self.campaigns[ci];
        let price = self.products[c.product].price;
        let per_click = (c.cvr * self.conversion_factor(ci, d)).min(1.0) * price * AOV_FACTOR;
        let cpc0 = self.first_click_cost(ci);
        let mut e = Expected::default();
        for j in 0..NOISE_POINTS {
            let u = 1.0 - SPEND_NOISE + 2.0 * SPEND_NOISE * (j as f64 + 0.5) / NOISE_POINTS as f64;
            let s = (budget * c.burn * u).min(budget);
            e.spend += s;
            e.revenue += s / (cpc0 * (1.0 + s / c.half)) * per_click;
        }
        e.spend /= NOISE_POINTS as f64;
        e.revenue /= NOISE_POINTS as f64;
        e
    }

    /// The index of day `d` in the day vectors, when simulated.
    pub fn day_index(&self, d: Day) -> Option<usize> {
        (d >= self.first_day && d <= self.today).then(|| (d - self.first_day) as usize)
    }

    pub fn campaign_index(&self, id: u64) -> Option<usize> {
        id.checked_sub(600_001).map(|i| i as usize).filter(|&i| i < self.campaigns.len() && self.campaigns[i].id == id)
    }

    pub fn product_index(&self, id: u64) -> Option<usize> {
        id.checked_sub(1001).map(|i| i as usize).filter(|&i| i < self.products.len())
    }

    /// Adds a campaign (starting tomorrow) and returns its index.
    pub fn create_campaign(&mut self, product: usize, name: &str, daily_budget: f64, labels: String, key: &str) -> usize {
        let i = self.campaigns.len();
        let mut rng = rng_for(self.seed, self.today, 3, i as u64);
        let p = &self.products[product];
        self.campaigns.push(Campaign {
            id: 600_001 + i as u64,
            name: name.to_string(),
            product,
            created: self.today + 1,
            daily_budget,
            status: CampaignStatus::Active,
            paused_by: None,
            paused_at: None,
            end_date: None,
            description: format!("{} for {}", p.name, p.category.to_lowercase()),
            labels,
            created_by_key: key.to_string(),
            roas0: rng.random_range(1.0..3.5) * category_factor(&p.category),
            half: daily_budget.max(15.0) * rng.random_range(0.5..4.0),
            cvr: rng.random_range(0.02..0.05),
            burn: rng.random_range(0.6..0.95),
        });
        i
    }

    pub fn record(&mut self, route: &str, campaign: usize, what: String, changed: bool) {
        let id = self.campaigns[campaign].id;
        self.log.push(WriteLog { day: self.today, route: route.to_string(), campaign_id: id, what, changed });
    }
}

/// One Impact "action" (a conversion), derived from a campaign-day.
#[derive(Debug, Clone, Serialize)]
pub struct SimAction {
    pub id: String,
    pub ad_id: u64,
    pub day: Day,
    pub minute: u32,
    pub amount: f64,
    pub client_cost: f64,
    pub payout: f64,
    pub new_customer: bool,
    pub state: &'static str,
    pub locking_day: Day,
}

/// Days after its event an action locks (Pending → Approved).
pub const LOCK_DAYS: i32 = 30;
/// Days after its event a reversed action shows as reversed.
pub const REVERSAL_DAYS: i32 = 3;

/// The conversions of one campaign-day as Impact actions, their state as of
/// `today`: about 4 % are reversed a few days later (returns), which is why
/// a client must re-read the unlocked tail.
pub fn actions_of(program: &str, ad_id: u64, day: Day, cd: &CampaignDay, today: Day) -> Vec<SimAction> {
    let k = cd.conversions.max(0) as usize;
    if k == 0 {
        return Vec::new();
    }
    let split = |total: f64, j: usize| -> f64 {
        let cents_total = (total * 100.0).round() as i64;
        let each = cents_total / k as i64;
        let rest = cents_total - each * k as i64;
        (each + if (j as i64) < rest { 1 } else { 0 }) as f64 / 100.0
    };
    (0..k)
        .map(|j| {
            let id = format!("{program}.6102.{ad_id}{:06}{j:03}", day.rem_euclid(1_000_000));
            let h = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3));
            let reversed = h % 100 < 4 && today >= day + REVERSAL_DAYS;
            let locking_day = day + LOCK_DAYS;
            let state = if reversed {
                "REVERSED"
            } else if today >= locking_day {
                "APPROVED"
            } else {
                "PENDING"
            };
            let cost = split(cd.spend, j);
            SimAction {
                id,
                ad_id,
                day,
                minute: (j as u32 * 7) % 1440,
                amount: split(cd.revenue, j),
                client_cost: cost,
                payout: cents(cost * 0.85),
                new_customer: (j as i64) < cd.new_customers,
                state,
                locking_day,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world(seed: u64) -> World {
        World::new(&WorldOptions { seed, products: 40, campaigns: 12, history_days: 30, today: 20_000 })
    }

    #[test]
    fn the_same_seed_gives_the_same_world() {
        let (a, b) = (world(7), world(7));
        assert_eq!(a.today, 20_000);
        assert_eq!(a.product_days.len(), 30);
        let units = |w: &World| w.product_days.iter().flatten().map(|d| d.units).sum::<i64>();
        let spend = |w: &World| w.campaign_days.iter().flatten().map(|d| d.1.spend).sum::<f64>();
        assert_eq!(units(&a), units(&b));
        assert_eq!(spend(&a), spend(&b));
        assert_ne!(units(&a), units(&world(8)));
    }

    #[test]
    fn a_paused_campaign_spends_nothing_the_next_day_and_its_product_sells_less() {
        let mut a = world(3);
        let mut b = world(3);
        let c = 0;
        b.campaigns[c].status = CampaignStatus::Paused;
        a.advance();
        b.advance();
        let ran = |w: &World| w.campaign_days.last().unwrap().iter().any(|(i, _)| *i == c);
        assert!(ran(&a) && !ran(&b));
        let p = a.campaigns[c].product;
        let conv = a.campaign_days.last().unwrap().iter().find(|(i, _)| *i == c).unwrap().1.conversions;
        let units = |w: &World| w.product_days.last().unwrap()[p].units;
        // Organic sales are drawn from the same stream: only the campaign's conversions differ.
        assert_eq!(units(&a) - units(&b), conv);
        // Other campaigns are unaffected.
        let others = |w: &World| w.campaign_days.last().unwrap().iter().filter(|(i, _)| *i != c).map(|d| d.1.spend).sum::<f64>();
        assert_eq!(others(&a), others(&b));
    }

    #[test]
    fn a_bigger_budget_buys_more_spend_at_a_higher_cost_per_click() {
        let mut a = world(5);
        let mut b = world(5);
        b.campaigns[0].daily_budget *= 3.0;
        a.advance();
        b.advance();
        let day = |w: &World| w.campaign_days.last().unwrap().iter().find(|(i, _)| *i == 0).unwrap().1;
        let (x, y) = (day(&a), day(&b));
        assert!(y.spend > 2.5 * x.spend);
        assert!(y.spend / y.clicks as f64 > x.spend / x.clicks as f64);
    }

    #[test]
    fn the_expected_day_is_what_the_days_bring_on_average() {
        // 400 days of one world: realised spend and revenue per campaign
        // against the truth function, summed over the days it ran.
        let w = World::new(&WorldOptions { seed: 11, products: 30, campaigns: 10, history_days: 400, today: 20_000 });
        for ci in 0..10 {
            let (mut real, mut exp, mut days) = (Expected::default(), Expected::default(), 0);
            for (k, day) in w.campaign_days.iter().enumerate() {
                if let Some((_, cd)) = day.iter().find(|(i, _)| *i == ci) {
                    let e = w.expected_day(ci, w.campaigns[ci].daily_budget, w.first_day + k as i32);
                    real.spend += cd.spend;
                    real.revenue += cd.revenue;
                    exp.spend += e.spend;
                    exp.revenue += e.revenue;
                    days += 1;
                }
            }
            if days < 100 {
                continue; // recently launched: too few days to average
            }
            assert!((real.spend / exp.spend - 1.0).abs() < 0.015, "campaign {ci}: spend {real:?} vs {exp:?}");
            // Revenue comes in whole conversions: allow three standard errors.
            let conversions = exp.revenue / (w.products[w.campaigns[ci].product].price * AOV_FACTOR);
            let tolerance = 3.0 / conversions.sqrt() + 0.01;
            assert!((real.revenue / exp.revenue - 1.0).abs() < tolerance, "campaign {ci}: revenue {real:?} vs {exp:?} (±{tolerance:.3})");
        }
    }

    #[test]
    fn the_kinds_cover_saturated_and_budget_limited_campaigns() {
        let w = World::new(&WorldOptions { seed: 4, products: 60, campaigns: 20, history_days: 30, today: 20_000 });
        let d = w.today;
        let marginal = |ci: usize| {
            let b = w.campaigns[ci].daily_budget;
            let (lo, hi) = (w.expected_day(ci, b * 0.99, d), w.expected_day(ci, b * 1.01, d));
            (hi.revenue - lo.revenue) / (hi.spend - lo.spend)
        };
        let average = |ci: usize| {
            let e = w.expected_day(ci, w.campaigns[ci].daily_budget, d);
            e.revenue / e.spend
        };
        // Kind 5: profitable on average, losing money on its last dollar.
        assert!(average(5) > 1.0 && marginal(5) < 1.0, "saturated: {} / {}", average(5), marginal(5));
        // Kind 0: its last dollar still returns well above break-even.
        assert!(marginal(0) > 1.5, "budget-limited: {}", marginal(0));
        // Kind 1: unprofitable even for its first dollar.
        assert!(w.campaigns[1].roas0 * 1.25 < 1.2 && average(1) < 1.0);
    }

    #[test]
    fn actions_split_a_day_exactly_and_reverse_some_later() {
        let cd = CampaignDay { impressions: 0, clicks: 100, spend: 10.0, conversions: 3, revenue: 100.0, new_customers: 2 };
        let acts = actions_of("24811", 600_001, 100, &cd, 100);
        assert_eq!(acts.len(), 3);
        assert_eq!(acts.iter().map(|a| (a.amount * 100.0).round() as i64).sum::<i64>(), 10_000);
        assert_eq!(acts.iter().map(|a| (a.client_cost * 100.0).round() as i64).sum::<i64>(), 1_000);
        assert_eq!(acts.iter().filter(|a| a.new_customer).count(), 2);
        assert!(acts.iter().all(|a| a.state == "PENDING"));
        assert!(actions_of("24811", 600_001, 100, &cd, 130).iter().all(|a| a.state != "PENDING"));
    }
}
