//! `sandbox generate`: a deterministic synthetic store and ad account.
//!
//! Products have growing, flat or declining demand with weekly seasonality,
//! and stock that depletes and restocks. Campaigns cycle through archetypes —
//! losing, declining product, saturated winner, mild grower, marginal,
//! brand new, recently launched, paused by the pipeline, paused otherwise,
//! ended — with random magnitudes, so every decision class appears. A
//! campaign's clicks and conversions add to its product's views and units.
//! `--faults` appends bad rows of every kind the validator must catch and
//! lists them in `faults.json`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{Datelike, NaiveDate};
use indicatif::{ProgressBar, ProgressStyle};
use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Binomial, Distribution, Poisson};
use serde::Serialize;

use crate::model::campaign::{CampaignStatus, PausedBy};
use crate::model::contract::{col, Table};
use crate::model::day::{date_of, day_of};

/// Marker file of a generated demo directory (holds the as_of it ends on).
pub const DEMO_MARKER: &str = ".campaign-pilot-demo";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Parquet,
}

#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub seed: u64,
    pub products: u32,
    pub campaigns: u32,
    pub days: u32,
    pub as_of: NaiveDate,
    pub format: Format,
    pub faults: bool,
    pub progress: bool,
    /// Row order of the daily tables.
    pub order: RowOrder,
    /// Daily rows after this day are left out (the world still runs to
    /// `as_of`).
    pub until: Option<NaiveDate>,
}

/// Row order of the daily tables as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RowOrder {
    /// Each product's (campaign's) days together, oldest first.
    #[default]
    Id,
    /// Each day's rows together, by id within the day.
    Date,
}

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("writing {path}: {message}")]
    Write { path: String, message: String },
    #[error("--faults needs --format csv (bad values of the wrong type cannot be stored in parquet)")]
    FaultsNeedCsv,
}

/// The bad rows `--faults` added, by table, with the reason each must get.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct FaultManifest {
    pub products: Vec<String>,
    pub product_daily: Vec<String>,
    pub campaigns: Vec<String>,
    pub campaign_daily: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GenerateSummary {
    pub rows: std::collections::BTreeMap<&'static str, usize>,
    pub faults: usize,
    pub dir: PathBuf,
}

const CATEGORIES: [&str; 8] = ["Electronics", "Fitness", "Clothing", "Home", "Beauty", "Toys", "Books", "Garden"];
const ADJECTIVES: [&str; 12] = [
    "Classic", "Ultra", "Eco", "Pro", "Compact", "Deluxe", "Smart", "Urban", "Trail", "Nordic", "Pocket", "Prime",
];
const NOUNS: [[&str; 4]; 8] = [
    ["Headphones", "Charger", "Speaker", "Webcam"],
    ["Yoga Mat", "Kettlebell", "Jump Rope", "Foam Roller"],
    ["Hoodie", "Rain Jacket", "Sneakers", "Beanie"],
    ["Lamp", "Throw Blanket", "Mug Set", "Planter"],
    ["Face Serum", "Lip Balm", "Hair Dryer", "Body Lotion"],
    ["Puzzle", "Building Set", "Plush Bear", "Kite"],
    ["Cookbook", "Notebook", "Atlas", "Novel"],
    ["Hose", "Pruner", "Seed Kit", "Gloves"],
];

/// What a campaign is like; cycles so every decision class shows up.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Archetype {
    Losing,
    DecliningProduct,
    SaturatedWinner,
    MildGrower,
    Marginal,
    BrandNew,
    RecentLaunch,
    PausedByPipeline,
    PausedOther,
    Ended,
}

/// Twenty campaigns of a typical portfolio: most steady, a few winners and
/// losers, one new, one recent, some paused, one ended.
const CYCLE: [Archetype; 20] = [
    Archetype::SaturatedWinner,
    Archetype::Losing,
    Archetype::Marginal,
    Archetype::MildGrower,
    Archetype::DecliningProduct,
    Archetype::BrandNew,
    Archetype::Marginal,
    Archetype::RecentLaunch,
    Archetype::PausedByPipeline,
    Archetype::MildGrower,
    Archetype::Marginal,
    Archetype::PausedOther,
    Archetype::Ended,
    Archetype::SaturatedWinner,
    Archetype::MildGrower,
    Archetype::Losing,
    Archetype::Marginal,
    Archetype::MildGrower,
    Archetype::PausedOther,
    Archetype::Marginal,
];

struct Product {
    base: f64,
    /// Daily growth rate over the last six weeks.
    growth: f64,
    views_per_unit: f64,
    price: f64,
    created: i32,
    stock: i64,
}

struct Campaign {
    product: usize,
    archetype: Archetype,
    status: CampaignStatus,
    budget: f64,
    start: i32,
    /// Last day with spend (inclusive).
    last: i32,
    paused_by: Option<PausedBy>,
    paused_at: Option<i32>,
    cpc: f64,
    cvr: f64,
    burn: f64,
}

fn werr(path: &Path) -> impl Fn(PolarsError) -> GenerateError + '_ {
    move |e| GenerateError::Write { path: path.display().to_string(), message: e.to_string() }
}

fn ioerr(path: &Path) -> impl Fn(std::io::Error) -> GenerateError + '_ {
    move |e| GenerateError::Write { path: path.display().to_string(), message: e.to_string() }
}

pub(crate) fn poisson(rng: &mut ChaCha8Rng, lambda: f64) -> i64 {
    if lambda <= 0.0 {
        return 0;
    }
    Poisson::new(lambda).map(|p| p.sample(rng) as i64).unwrap_or(0)
}

pub(crate) fn binomial(rng: &mut ChaCha8Rng, n: i64, p: f64) -> i64 {
    if n <= 0 || p <= 0.0 {
        return 0;
    }
    Binomial::new(n as u64, p.min(1.0)).map(|b| b.sample(rng) as i64).unwrap_or(0)
}

pub(crate) fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

pub fn generate(dir: &Path, o: &GenerateOptions) -> Result<GenerateSummary, GenerateError> {
    if o.faults && o.format == Format::Parquet {
        return Err(GenerateError::FaultsNeedCsv);
    }
    std::fs::create_dir_all(dir).map_err(ioerr(dir))?;
    let mut rng = ChaCha8Rng::seed_from_u64(o.seed);
    let as_of = day_of(o.as_of);
    let days = o.days.max(1) as i32;
    let first = as_of - days + 1;
    let n = o.products.max(1) as usize;

    // Products.
    let mut products: Vec<Product> = (0..n)
        .map(|_| {
            let price = (rng.random_range(8f64.ln()..400f64.ln())).exp().floor() + 0.99;
            let created = if rng.random_bool(0.08) {
                as_of - rng.random_range(0..days.min(60))
            } else {
                first - rng.random_range(1..400)
            };
            let trend = rng.random_range(0..3);
            Product {
                base: (rng.random_range(0.3f64.ln()..25f64.ln())).exp(),
                growth: match trend {
                    0 => rng.random_range(0.012..0.03),
                    1 => 0.0,
                    _ => -rng.random_range(0.012..0.03),
                },
                views_per_unit: rng.random_range(3.0..30.0),
                price,
                created,
                stock: rng.random_range(-20..1500),
            }
        })
        .collect();

    // Campaigns on distinct products where possible.
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let campaigns: Vec<Campaign> = (0..o.campaigns as usize)
        .map(|i| {
            let archetype = CYCLE[i % CYCLE.len()];
            let product = order[i % n];
            let p = &mut products[product];
            // Campaign products are older than the campaign and in stock.
            p.created = p.created.min(first - 30);
            p.stock = p.stock.max(rng.random_range(200..2000));
            let budget = cents(rng.random_range(15.0..150.0));
            let old_start = as_of - rng.random_range(35.min(days - 1).max(0)..days.max(36));
            let (mut status, mut paused_by, mut paused_at) = (CampaignStatus::Active, None, None);
            let mut start = old_start;
            // cost: spend per conversion as a fraction of the price (ROI ≈ 1.15 / cost − 1;
            // CPA ≈ cost / 0.6 × price, since 60 % of buyers are new).
            let (mut cost, cvr, mut burn) = (rng.random_range(0.3..0.5), rng.random_range(0.02..0.05), rng.random_range(0.55..0.85));
            match archetype {
                Archetype::Losing => {
                    cost = rng.random_range(1.6..4.0);
                    p.growth = 0.0;
                }
                Archetype::DecliningProduct => p.growth = -rng.random_range(0.02..0.035),
                Archetype::SaturatedWinner => {
                    burn = 1.0;
                    cost = rng.random_range(0.2..0.4);
                    p.growth = rng.random_range(0.02..0.035);
                    p.base = p.base.max(3.0);
                }
                Archetype::MildGrower => {
                    p.growth = rng.random_range(0.006..0.011);
                    p.base = p.base.max(4.0);
                }
                Archetype::Marginal => {
                    cost = rng.random_range(0.45..0.55);
                    p.growth = rng.random_range(-0.004..0.003);
                }
                Archetype::BrandNew => start = as_of - rng.random_range(0..2),
                Archetype::RecentLaunch => {
                    start = as_of - rng.random_range(8..28.min(days - 15).max(9));
                    p.growth = 0.0;
                    cost = rng.random_range(0.25..0.4);
                    burn = rng.random_range(0.9..1.0);
                }
                Archetype::PausedByPipeline => {
                    status = CampaignStatus::Paused;
                    paused_by = Some(PausedBy::Pipeline);
                    // Paused long enough ago that both windows are after the pause,
                    // on a product that recovers: a RESUME candidate.
                    paused_at = Some(as_of - rng.random_range(22..40));
                    p.growth = rng.random_range(0.012..0.03);
                }
                Archetype::PausedOther => {
                    status = CampaignStatus::Paused;
                    paused_by = [Some(PausedBy::User), Some(PausedBy::PipelineEmergency), None][rng.random_range(0..3)];
                    paused_at = if paused_by.is_none() { None } else { Some(as_of - rng.random_range(3..60)) };
                }
                Archetype::Ended => status = CampaignStatus::Ended,
            }
            // Enough budget for a week's spend to pass one unit of the price.
            let budget = if archetype == Archetype::BrandNew { budget } else { budget.max(cents(p.price * 0.6)) };
            let start = start.max(first);
            let last = match (status, paused_at) {
                (CampaignStatus::Paused, Some(at)) => at - 1,
                (CampaignStatus::Paused, None) => as_of - 20,
                (CampaignStatus::Ended, _) => as_of - rng.random_range(10..40),
                (CampaignStatus::Active, _) => as_of,
            };
            let cpc = cost * p.price * cvr;
            Campaign { product, archetype, status, budget, start, last, paused_by, paused_at, cpc, cvr, burn }
        })
        .collect();

    // Campaign days, and what they add to their product's views and units.
    let mut extra_units = vec![0i64; n * days as usize];
    let mut extra_views = vec![0i64; n * days as usize];
    let mut cd = CampaignDailyCols::default();
    for (ci, c) in campaigns.iter().enumerate() {
        let price = products[c.product].price;
        for d in c.start.max(first)..=c.last.min(as_of) {
            let wanted = c.budget * c.burn * rng.random_range(0.85..1.15);
            let spend = cents(wanted.min(c.budget));
            let clicks = ((spend / c.cpc).round() as i64).max(0);
            let impressions = clicks * rng.random_range(30..90);
            let conversions = binomial(&mut rng, clicks, c.cvr);
            let revenue = cents(conversions as f64 * price * rng.random_range(1.0..1.3));
            let new_customers = binomial(&mut rng, conversions, 0.6);
            let slot = c.product * days as usize + (d - first) as usize;
            extra_units[slot] += conversions;
            extra_views[slot] += clicks;
            cd.push(d, format!("C{:05}", ci + 1), impressions, clicks, spend, conversions, revenue, new_customers);
        }
    }

    // Product days.
    let bar = if o.progress && n * days as usize > 1_000_000 {
        let b = ProgressBar::new(n as u64);
        b.set_style(ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} products ({eta})").unwrap());
        b.set_message("generating");
        b
    } else {
        ProgressBar::hidden()
    };
    let mut pd = ProductDailyCols::with_capacity(n * days as usize);
    for (pi, p) in products.iter_mut().enumerate() {
        let pid = format!("P{:06}", pi + 1);
        for d in first.max(p.created)..=as_of {
            let t = (d - (as_of - 41)).max(0) as f64;
            let weekday = date_of(d).weekday().num_days_from_monday();
            let weekly = if weekday >= 5 { 1.25 } else { 0.95 };
            let lambda = p.base * (p.growth * t).exp() * weekly;
            let slot = pi * days as usize + (d - first) as usize;
            let organic = poisson(&mut rng, lambda);
            let units = organic + extra_units[slot];
            let views = poisson(&mut rng, lambda * p.views_per_unit) + extra_views[slot];
            p.stock -= units;
            if p.stock < 50 && rng.random_bool(0.3) {
                p.stock += rng.random_range(300..2000);
            }
            pd.push(d, &pid, views, units, cents(units as f64 * p.price));
        }
        if pi % 256 == 0 {
            bar.set_position(pi as u64);
        }
    }
    bar.finish_and_clear();

    // Frames.
    let mut products_df = df!(
        col::PRODUCT_ID => (1..=n).map(|i| format!("P{i:06}")).collect::<Vec<_>>(),
        col::SKU => (1..=n).map(|i| format!("SKU-{i:06}")).collect::<Vec<_>>(),
        col::NAME => (0..n).map(|i| {
            let cat = i % CATEGORIES.len();
            format!("{} {}", ADJECTIVES[(i / 8) % ADJECTIVES.len()], NOUNS[cat][(i / 96) % 4])
        }).collect::<Vec<_>>(),
        col::CATEGORY => (0..n).map(|i| CATEGORIES[i % CATEGORIES.len()]).collect::<Vec<_>>(),
        col::PRICE => products.iter().map(|p| p.price).collect::<Vec<_>>(),
        col::STOCK => products.iter().map(|p| p.stock).collect::<Vec<_>>(),
        col::CREATED_AT => products.iter().map(|p| p.created).collect::<Vec<_>>(),
    )
    .map_err(werr(dir))?;
    to_date(&mut products_df, col::CREATED_AT).map_err(werr(dir))?;
    let mut campaigns_df = df!(
        col::CAMPAIGN_ID => (1..=campaigns.len()).map(|i| format!("C{i:05}")).collect::<Vec<_>>(),
        col::NAME => campaigns.iter().enumerate().map(|(i, c)| format!("{:?} {}", c.archetype, i + 1)).collect::<Vec<_>>(),
        col::PRODUCT_ID => campaigns.iter().map(|c| format!("P{:06}", c.product + 1)).collect::<Vec<_>>(),
        col::STATUS => campaigns.iter().map(|c| c.status.as_str()).collect::<Vec<_>>(),
        col::DAILY_BUDGET => campaigns.iter().map(|c| c.budget).collect::<Vec<_>>(),
        col::START_DATE => campaigns.iter().map(|c| c.start).collect::<Vec<_>>(),
        col::PAUSED_BY => campaigns.iter().map(|c| c.paused_by.map(PausedBy::as_str)).collect::<Vec<_>>(),
        col::PAUSED_AT => campaigns.iter().map(|c| c.paused_at).collect::<Vec<_>>(),
    )
    .map_err(werr(dir))?;
    to_date(&mut campaigns_df, col::START_DATE).map_err(werr(dir))?;
    to_date(&mut campaigns_df, col::PAUSED_AT).map_err(werr(dir))?;
    let mut pd_df = arrange(pd.into_frame().map_err(werr(dir))?, col::PRODUCT_ID, o).map_err(werr(dir))?;
    let mut cd_df = arrange(cd.into_frame().map_err(werr(dir))?, col::CAMPAIGN_ID, o).map_err(werr(dir))?;

    let mut rows = std::collections::BTreeMap::new();
    for (table, df) in [
        (Table::Products, &mut products_df),
        (Table::ProductDaily, &mut pd_df),
        (Table::Campaigns, &mut campaigns_df),
        (Table::CampaignDaily, &mut cd_df),
    ] {
        rows.insert(table.name(), df.height());
        write_table(dir, table, df, o.format)?;
    }
    // Remove a stale copy in the other format so readers find this one.
    for table in Table::CONTRACT {
        let other = match o.format {
            Format::Csv => dir.join(format!("{}.parquet", table.name())),
            Format::Parquet => dir.join(format!("{}.csv", table.name())),
        };
        let _ = std::fs::remove_file(other);
    }

    let faults = if o.faults { append_faults(dir, as_of, &mut rng)? } else { FaultManifest::default() };
    let n_faults = faults.products.len() + faults.product_daily.len() + faults.campaigns.len() + faults.campaign_daily.len();
    if o.faults {
        let text = serde_json::to_string_pretty(&faults).expect("manifest serializes");
        std::fs::write(dir.join("faults.json"), text).map_err(ioerr(dir))?;
    } else {
        let _ = std::fs::remove_file(dir.join("faults.json"));
    }
    Ok(GenerateSummary { rows, faults: n_faults, dir: dir.to_path_buf() })
}

/// A daily table cut at `o.until` and put in `o.order`.
fn arrange(df: DataFrame, id: &str, o: &GenerateOptions) -> PolarsResult<DataFrame> {
    let mut lf = df.lazy();
    if let Some(until) = o.until {
        lf = lf.filter(col(col::DATE).lt_eq(lit(until)));
    }
    if o.order == RowOrder::Date {
        lf = lf.sort([col::DATE, id], SortMultipleOptions::default().with_maintain_order(true));
    }
    lf.collect()
}

pub(crate) fn to_date(df: &mut DataFrame, name: &str) -> PolarsResult<()> {
    let c = df.column(name)?.cast(&DataType::Int32)?.cast(&DataType::Date)?;
    df.with_column(c)?;
    Ok(())
}

pub(crate) fn write_table(dir: &Path, table: Table, df: &mut DataFrame, format: Format) -> Result<(), GenerateError> {
    let path = match format {
        Format::Csv => dir.join(format!("{}.csv", table.name())),
        Format::Parquet => dir.join(format!("{}.parquet", table.name())),
    };
    let file = File::create(&path).map_err(ioerr(&path))?;
    match format {
        Format::Csv => CsvWriter::new(file).include_header(true).finish(df).map_err(werr(&path))?,
        Format::Parquet => write_parquet_groups(file, df, PARQUET_GROUP_ROWS).map_err(werr(&path))?,
    }
    Ok(())
}

/// Rows per Parquet row group as the generator writes them.
pub const PARQUET_GROUP_ROWS: usize = 1 << 18;

/// Writes `df` as Parquet in row groups of `rows` rows each (the last
/// shorter), as an export that appends days writes them: a file rewritten
/// with rows added at its end keeps its earlier row groups byte for byte,
/// which lets the next run tell its old rows unchanged. (polars' own
/// `finish` evens the groups out over the whole frame, so every group
/// shifts when a row is added.)
pub fn write_parquet_groups(file: File, df: &DataFrame, rows: usize) -> PolarsResult<()> {
    let mut writer = ParquetWriter::new(file).batched(df.schema())?;
    let mut offset = 0;
    while offset < df.height() {
        let mut group = df.slice(offset as i64, rows);
        group.rechunk_mut_par();
        writer.write_batch(&group)?;
        offset += rows;
    }
    writer.finish()?;
    Ok(())
}

#[derive(Default)]
pub(crate) struct ProductDailyCols {
    date: Vec<i32>,
    product_id: Vec<String>,
    views: Vec<i64>,
    units: Vec<i64>,
    revenue: Vec<f64>,
}

impl ProductDailyCols {
    pub(crate) fn with_capacity(n: usize) -> Self {
        ProductDailyCols {
            date: Vec::with_capacity(n),
            product_id: Vec::with_capacity(n),
            views: Vec::with_capacity(n),
            units: Vec::with_capacity(n),
            revenue: Vec::with_capacity(n),
        }
    }
    pub(crate) fn push(&mut self, d: i32, pid: &str, views: i64, units: i64, revenue: f64) {
        self.date.push(d);
        self.product_id.push(pid.to_string());
        self.views.push(views);
        self.units.push(units);
        self.revenue.push(revenue);
    }
    pub(crate) fn into_frame(self) -> PolarsResult<DataFrame> {
        let mut df = df!(
            col::DATE => self.date,
            col::PRODUCT_ID => self.product_id,
            col::VIEWS => self.views,
            col::UNITS => self.units,
            col::REVENUE => self.revenue,
        )?;
        to_date(&mut df, col::DATE)?;
        Ok(df)
    }
}

#[derive(Default)]
pub(crate) struct CampaignDailyCols {
    date: Vec<i32>,
    campaign_id: Vec<String>,
    impressions: Vec<i64>,
    clicks: Vec<i64>,
    spend: Vec<f64>,
    conversions: Vec<i64>,
    revenue: Vec<f64>,
    new_customers: Vec<i64>,
}

impl CampaignDailyCols {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn push(&mut self, d: i32, id: String, imp: i64, clicks: i64, spend: f64, conv: i64, revenue: f64, newc: i64) {
        self.date.push(d);
        self.campaign_id.push(id);
        self.impressions.push(imp);
        self.clicks.push(clicks);
        self.spend.push(spend);
        self.conversions.push(conv);
        self.revenue.push(revenue);
        self.new_customers.push(newc);
    }
    pub(crate) fn into_frame(self) -> PolarsResult<DataFrame> {
        let mut df = df!(
            col::DATE => self.date,
            col::CAMPAIGN_ID => self.campaign_id,
            col::IMPRESSIONS => self.impressions,
            col::CLICKS => self.clicks,
            col::SPEND => self.spend,
            col::CONVERSIONS => self.conversions,
            col::REVENUE => self.revenue,
            col::NEW_CUSTOMERS => self.new_customers,
        )?;
        to_date(&mut df, col::DATE)?;
        Ok(df)
    }
}

/// Appends one bad row per kind to each CSV table. Every bad row uses ids no
/// valid row refers to (or duplicates a valid row), so nothing cascades: the
/// quarantine must hold exactly these rows.
fn append_faults(dir: &Path, as_of: i32, rng: &mut ChaCha8Rng) -> Result<FaultManifest, GenerateError> {
    let d = date_of(as_of - rng.random_range(0..5));
    let mut m = FaultManifest::default();
    let first_data_line = |t: Table| -> Result<String, GenerateError> {
        let path = dir.join(format!("{}.csv", t.name()));
        let text = std::fs::read_to_string(&path).map_err(ioerr(&path))?;
        Ok(text.lines().nth(1).unwrap_or_default().to_string())
    };
    let add = |t: Table, lines: Vec<(&str, String)>, into: &mut Vec<String>| -> Result<(), GenerateError> {
        let path = dir.join(format!("{}.csv", t.name()));
        let mut f = OpenOptions::new().append(true).open(&path).map_err(ioerr(&path))?;
        for (reason, line) in lines {
            writeln!(f, "{line}").map_err(ioerr(&path))?;
            into.push(reason.to_string());
        }
        Ok(())
    };
    let dup_product = first_data_line(Table::Products)?;
    let dup_pd = first_data_line(Table::ProductDaily)?;
    let dup_campaign = first_data_line(Table::Campaigns)?;
    let dup_cd = first_data_line(Table::CampaignDaily)?;
    add(
        Table::Products,
        vec![
            ("price: must be above 0", "PBAD1,SKU-BAD1,Broken Price,Fitness,0,100,2024-01-01".into()),
            ("price: negative", "PBAD2,SKU-BAD2,Negative Price,Fitness,-5.00,100,2024-01-01".into()),
            ("created_at: missing or not a YYYY-MM-DD date", "PBAD3,SKU-BAD3,Bad Date,Home,19.99,10,2024-13-45".into()),
            ("stock_quantity: missing or not a whole number", "PBAD4,SKU-BAD4,Bad Stock,Home,19.99,lots,2024-01-01".into()),
            ("price: not a finite number", "PBAD5,SKU-BAD5,NaN Price,Toys,NaN,10,2024-01-01".into()),
            ("product_id: missing", ",SKU-BAD6,No Id,Toys,9.99,10,2024-01-01".into()),
            ("duplicate product_id", dup_product),
        ],
        &mut m.products,
    )?;
    add(
        Table::ProductDaily,
        vec![
            ("views: negative", format!("{d},P000001,-4,1,10.00")),
            ("date: missing or not a YYYY-MM-DD date", "not-a-date,P000001,4,1,10.00".into()),
            ("product_id: unknown product", format!("{d},NOPE,4,1,10.00")),
            ("revenue: not a finite number", format!("{d},P000002,4,1,NaN")),
            ("units_sold: missing or not a whole number", format!("{d},P000002,4,3.5,10.00")),
            ("revenue: negative", format!("{d},P000003,4,1,-10.00")),
            ("views: missing or not a whole number", format!("{d},P000003,,1,10.00")),
            ("duplicate (date, product_id)", dup_pd),
        ],
        &mut m.product_daily,
    )?;
    add(
        Table::Campaigns,
        vec![
            ("product_id: unknown product", "CBAD1,Ghost,NOPE,active,20.00,2024-01-01,,".into()),
            ("status: must be active, paused or ended", "CBAD2,Running,P000001,running,20.00,2024-01-01,,".into()),
            ("daily_budget: negative", "CBAD3,Negative,P000001,active,-20.00,2024-01-01,,".into()),
            ("paused_by: must be empty, pipeline, pipeline_emergency or user", "CBAD4,Robot,P000001,paused,20.00,2024-01-01,robot,2024-02-01".into()),
            ("paused_at: not a YYYY-MM-DD date", "CBAD5,When,P000001,paused,20.00,2024-01-01,pipeline,yesterday".into()),
            ("start_date: missing or not a YYYY-MM-DD date", "CBAD6,NoStart,P000001,active,20.00,,,".into()),
            ("duplicate campaign_id", dup_campaign),
        ],
        &mut m.campaigns,
    )?;
    add(
        Table::CampaignDaily,
        vec![
            ("spend: negative", format!("{d},C00001,100,10,-5.00,1,20.00,1")),
            ("campaign_id: unknown campaign", format!("{d},CNOPE,100,10,5.00,1,20.00,1")),
            ("revenue: not a finite number", format!("{d},C00001,100,10,5.00,1,NaN,1")),
            ("clicks: missing or not a whole number", format!("{d},C00001,100,,5.00,1,20.00,1")),
            ("date: missing or not a YYYY-MM-DD date", "2024-02-30,C00001,100,10,5.00,1,20.00,1".into()),
            ("spend: not a finite number", format!("{d},C00002,100,10,inf,1,20.00,1")),
            ("duplicate (date, campaign_id)", dup_cd),
        ],
        &mut m.campaign_daily,
    )?;
    Ok(m)
}

/// Generates the embedded demo into `dir` when it holds no data, or holds a
/// demo for another as_of. A directory with data but no marker is the user's
/// and is never touched.
pub fn ensure_demo(dir: &Path, as_of: NaiveDate, seed: u64, products: u32, campaigns: u32, days: u32) -> Result<bool, GenerateError> {
    let marker = dir.join(DEMO_MARKER);
    let has_data = Table::CONTRACT.iter().any(|t| {
        dir.join(format!("{}.csv", t.name())).exists() || dir.join(format!("{}.parquet", t.name())).exists()
    });
    let current = std::fs::read_to_string(&marker).ok().map(|s| s.trim().to_string());
    let wanted = format!("{as_of} seed={seed} products={products} campaigns={campaigns} days={days}");
    if has_data && (current.is_none() || current.as_deref() == Some(wanted.as_str())) {
        return Ok(false);
    }
    let opts = GenerateOptions { seed, products, campaigns, days, as_of, format: Format::Csv, faults: false, progress: false, order: RowOrder::Id, until: None };
    generate(dir, &opts)?;
    std::fs::write(&marker, wanted).map_err(ioerr(dir))?;
    Ok(true)
}
