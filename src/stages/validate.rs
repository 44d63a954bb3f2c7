//! Stage 1, validate: every rule of SPEC §3 over whole columns.
//!
//! Responsible for: leaving out (and counting) rows dated after `as_of`,
//! quarantining bad rows with table, line, column and reason, and handing on
//! only valid rows, with dense product and campaign indexes and dates as day
//! numbers. Not responsible for: windows or metrics (transform, analyze).
//!
//! Each table's rules are an ordered list of boolean expressions; a row takes
//! the first rule it breaks as its reason. The rules run as one polars query
//! per table; only the (few) bad rows ever reach Rust.

use std::time::Instant;

use polars::prelude::*;

use super::left_ordered;
use crate::config::ValidateSettings;
use crate::connectors::files::raw_records;
use crate::decisions::reach::TRAILING_DAYS;
use crate::connectors::window::Keep;
use crate::model::batch::{CachedRows, OlderCheck, OlderRows, RawBatch, RawTable, Source, StoredCheck};
use crate::model::campaign::{CampaignStatus, PausedBy};
use crate::model::contract::{col, Kind, Table};
use crate::model::day::{date_of, Day};
use crate::model::run::{CarriedCheck, DataQuality, QuarantinedRow, StageReport};

/// Valid rows only. Dates are `Int32` day numbers; `__pidx` / `cidx` index
/// the products / campaigns frames.
#[derive(Debug, Clone)]
pub struct ValidBatch {
    pub as_of: Day,
    /// `__pidx`, product_id, sku, name, category, price, stock_quantity, created_at.
    pub products: DataFrame,
    /// `__pidx`, date, views, units_sold, revenue.
    pub product_daily: DataFrame,
    /// `__cidx`, campaign_id, name, product_id, `__pidx`, status, daily_budget,
    /// start_date, paused_by ("" when empty), paused_at (nullable).
    pub campaigns: DataFrame,
    /// `__cidx`, date, impressions, clicks, spend, conversions, revenue, new_customers.
    pub campaign_daily: DataFrame,
    /// Products of campaigns that start after as_of (they get no new campaign).
    pub future_campaign_products: Vec<String>,
    /// The oldest day with a valid campaign row in the whole feed (read or
    /// only checked), as `quality.data_start` is for product rows.
    pub campaign_data_start: Option<Day>,
    pub quarantine: Vec<QuarantinedRow>,
    pub quality: DataQuality,
    /// The daily files' older rows' checks, for the next run to start from.
    pub checks: Vec<StoredCheck>,
    /// The daily tables' valid rows to keep for the next run (a table whose
    /// rows from the reach on were all valid, read with a mark).
    pub kept: Vec<Keep>,
}

pub const CIDX: &str = "__cidx";
const CODE: &str = "__code";
const FUTURE: &str = "__future";
const KEY: &str = "__key";
const BAD: &str = "__bad";
const DUP: &str = "__dup";

/// Which rows repeat an earlier row's `__key` (null keys never do). Feeds
/// arrive sorted by their key more often than not, and then a repeat is just
/// "equal to the row before" (skipping bad rows' nulls): one vectorized pass
/// instead of hashing every key. A daily table's key packs (index, day); a
/// feed that appends a day at a time is sorted by (day, index) instead, so
/// that order is tried too (the swap is one-to-one: equal keys stay equal).
/// Otherwise, hash. (Without bad rows there are no nulls to skip.)
fn duplicate_mask(df: &DataFrame) -> PolarsResult<Expr> {
    let key = df.column(KEY)?;
    let packed = key.dtype() == &DataType::Int64;
    let nulls = key.null_count() > 0;
    let low = lit(1i64 << 32);
    let swapped = (col(KEY) % low.clone()) * low.clone() + col(KEY).floor_div(low);
    let orders: Vec<Expr> = if packed { vec![col(KEY), swapped] } else { vec![col(KEY)] };
    let filled = |k: &Expr| if nulls { k.clone().fill_null_with_strategy(FillNullStrategy::Forward(None)) } else { k.clone() };
    let checks: Vec<Expr> = orders.iter().enumerate().map(|(i, k)| filled(k).gt_eq(filled(k).shift(lit(1))).all(true).alias(format!("s{i}"))).collect();
    let sorted = df.clone().lazy().select(checks).collect()?;
    for (i, k) in orders.iter().enumerate() {
        if sorted.column(&format!("s{i}"))?.bool()?.get(0).unwrap_or(true) {
            return Ok(col(KEY).is_not_null().and(filled(k).eq(filled(k).shift(lit(1)))).fill_null(lit(false)));
        }
    }
    Ok(col(KEY).is_first_distinct().not())
}

#[derive(Debug, thiserror::Error)]
#[error("validating {table}: {source}")]
pub struct ValidateError {
    table: &'static str,
    source: PolarsError,
}

struct Rule {
    column: &'static str,
    reason: String,
    bad: Expr,
}

fn rule(column: &'static str, reason: impl Into<String>, bad: Expr) -> Rule {
    Rule { column, reason: reason.into(), bad }
}

fn as_day(e: Expr) -> Expr {
    e.cast(DataType::Int32)
}

fn date_options() -> StrptimeOptions {
    StrptimeOptions { format: Some("%Y-%m-%d".into()), strict: false, exact: true, cache: true }
}

/// The rules every contract column brings (missing values, negatives, NaN).
fn column_rules(table: Table, limits: &ValidateSettings) -> Vec<Rule> {
    let mut rules = Vec::new();
    for c in table.columns() {
        let e = col(c.name);
        match c.kind {
            Kind::OptionalDate => rules.push(rule(
                c.name,
                "not a YYYY-MM-DD date",
                e.clone().is_not_null()
                    .and(e.clone().neq(lit("")))
                    .and(e.str().to_date(date_options()).is_null()),
            )),
            kind => {
                // What the reader made of bytes that are not UTF-8, in the
                // tables that carry store text (a daily table's bad id fails
                // its foreign key anyway); flagged by `with_utf8_flags`.
                if kind == Kind::Text && matches!(table, Table::Products | Table::Campaigns) {
                    rules.push(rule(c.name, "not valid UTF-8", col(utf8_flag(c.name).as_str())));
                }
                if c.required && kind == Kind::Text {
                    rules.push(rule(c.name, "missing", e.clone().is_null().or(e.clone().str().len_bytes().eq(lit(0u32)))));
                } else if c.required {
                    rules.push(rule(c.name, format!("missing or not {}", kind.describe()), e.clone().is_null()));
                }
                if kind == Kind::Money {
                    rules.push(rule(c.name, "not a finite number", e.clone().is_finite().not()));
                    rules.push(rule(
                        c.name,
                        format!("above validate.max_money ({})", crate::decisions::num(limits.max_money)),
                        e.clone().gt(lit(limits.max_money)),
                    ));
                }
                let may_be_negative = c.name == col::STOCK;
                if matches!(kind, Kind::Int | Kind::Money) && !may_be_negative {
                    rules.push(rule(c.name, "negative", e.clone().lt(lit(0))));
                }
            }
        }
    }
    rules
}

/// Each row's first broken rule, numbered from 1 (0: it breaks none).
fn first_broken(rules: &[Rule]) -> Expr {
    let mut code = lit(0u32);
    for (i, r) in rules.iter().enumerate().rev() {
        code = when(r.bad.clone().fill_null(lit(false))).then(lit(i as u32 + 1)).otherwise(code);
    }
    code.cast(DataType::UInt32)
}

/// The bad rows' (line, reason, column), from their `__line`, `__code`
/// ([`first_broken`]) and `__dup` columns.
fn reasons(bad_rows: &DataFrame, rules: &[Rule], table: Table) -> PolarsResult<Vec<(u64, String, &'static str)>> {
    let lines = bad_rows.column(col::LINE)?.cast(&DataType::UInt64)?;
    let (codes, dups) = (bad_rows.column(CODE)?.u32()?, bad_rows.column(DUP)?.bool()?);
    let mut bad = Vec::with_capacity(bad_rows.height());
    for ((line, code), dup) in lines.u64()?.iter().zip(codes.iter()).zip(dups.iter()) {
        let (line, code) = (line.unwrap_or(0), code.unwrap_or(0));
        if code > 0 {
            let r = &rules[code as usize - 1];
            bad.push((line, r.reason.clone(), r.column));
        } else if dup == Some(true) {
            bad.push((line, duplicate_reason(table), "*"));
        } else {
            // Unreachable while the flag and the codes use the same rules.
            bad.push((line, "invalid row".to_string(), "*"));
        }
    }
    Ok(bad)
}

/// Why a row whose key an earlier row has is quarantined.
fn duplicate_reason(table: Table) -> String {
    let key = match table {
        Table::Products => "product_id",
        Table::Campaigns => "campaign_id",
        Table::ProductDaily | Table::Views => "(date, product_id)",
        Table::CampaignDaily => "(date, campaign_id)",
    };
    format!("duplicate {key}: an earlier row has the same key")
}

struct Checked {
    valid: DataFrame,
    bad: Vec<(u64, String, &'static str)>,
    after_as_of: u64,
    future_ids: Vec<String>,
}

/// Runs one table through: after-as-of filter, rules, duplicate key check.
fn check_table(
    lf: LazyFrame,
    table: Table,
    after_as_of: Expr,
    rules: Vec<Rule>,
    key: Expr,
    id_column: Option<&'static str>,
) -> Result<Checked, PolarsError> {
    let with_flags = lf.with_column(after_as_of.fill_null(lit(false)).alias(FUTURE)).collect()?;
    let future = with_flags.column(FUTURE)?.bool()?.clone();
    let after_count = future.sum().unwrap_or(0) as u64;
    let future_ids = match (id_column, after_count) {
        (Some(id), n) if n > 0 => with_flags
            .clone()
            .lazy()
            .filter(col(FUTURE))
            .select([col(id)])
            .collect()?
            .column(id)?
            .str()?
            .iter()
            .flatten()
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    let judged = if after_count > 0 {
        with_flags.lazy().filter(col(FUTURE).not())
    } else {
        with_flags.lazy()
    };

    // Over every row, only booleans: does the row break any rule, and does its
    // key repeat an earlier good row's (the first valid row in file order wins;
    // bad rows get a null key so they never shadow a later good one).
    let any_bad = rules.iter().fold(lit(false), |acc, r| acc.or(r.bad.clone().fill_null(lit(false))));
    let flagged = judged
        .with_column(any_bad.alias(BAD))
        .with_column(when(col(BAD).not()).then(key).otherwise(lit(NULL)).alias(KEY))
        .collect()?;
    let dup = duplicate_mask(&flagged)?;
    let flagged = flagged.lazy().with_column(dup.alias(DUP)).drop(cols([KEY])).collect()?;

    // Only the (few) bad rows get their reason: the first rule they break.
    let bad_rows = flagged.clone().lazy().filter(col(BAD).or(col(DUP))).collect()?;
    let mut bad = Vec::new();
    if bad_rows.height() > 0 {
        let coded = bad_rows.lazy().select([col(col::LINE), first_broken(&rules).alias(CODE), col(DUP)]).collect()?;
        bad = reasons(&coded, &rules, table)?;
    }
    // A clean feed (the usual case) keeps every row: no filter to copy them through.
    let kept = if bad.is_empty() { flagged.lazy() } else { flagged.lazy().filter(col(BAD).not().and(col(DUP).not())) };
    let valid = kept.drop(cols([BAD, DUP, FUTURE])).collect()?;
    Ok(Checked { valid, bad, after_as_of: after_count, future_ids })
}

/// `id_column` values (valid ones get their dense index) plus the ids left out
/// as after-as-of, flagged, for foreign-key checks by a left join. Each id
/// once: an id with a valid row is not a future one too (a second row with
/// it, created after as_of, is left out by itself), else the join would
/// repeat the daily rows of that id.
fn id_frame(valid: &DataFrame, id: &str, idx: &str, future: &[String]) -> Result<DataFrame, PolarsError> {
    let valid_ids = valid
        .clone()
        .lazy()
        .select([col(id), col(idx), lit(false).alias(FUTURE)]);
    let future_ids = df!(id => future)?
        .lazy()
        .unique_stable(None, UniqueKeepStrategy::First)
        .join(valid_ids.clone(), [col(id)], [col(id)], JoinArgs::new(JoinType::Anti))
        .select([col(id), lit(NULL).cast(DataType::UInt32).alias(idx), lit(true).alias(FUTURE)]);
    concat([valid_ids, future_ids], UnionArgs::default())?.collect()
}

fn join_ids(lf: LazyFrame, ids: &DataFrame, id: &str) -> LazyFrame {
    lf.join(
        ids.clone().lazy(),
        [col(id)],
        [col(id)],
        left_ordered(),
    )
}

/// The flag column of a text column that holds U+FFFD (the CSV reader's
/// stand-in for bytes that are not UTF-8).
fn utf8_flag(column: &str) -> String {
    format!("__utf8_{column}")
}

/// Adds a flag per text column of `table`: does the value hold U+FFFD? The
/// store-text tables are small (products, campaigns), so a pass in Rust.
fn with_utf8_flags(df: &DataFrame, table: Table) -> PolarsResult<DataFrame> {
    let mut out = df.clone();
    for c in table.columns().iter().filter(|c| c.kind == Kind::Text) {
        let Ok(values) = df.column(c.name).and_then(|s| s.str().cloned()) else { continue };
        let flags: Vec<bool> = values.iter().map(|v| v.is_some_and(|v| v.contains('\u{FFFD}'))).collect();
        out.with_column(Column::new(utf8_flag(c.name).into(), flags))?;
    }
    Ok(out)
}

/// Drops the flag columns `with_utf8_flags` added.
fn without_utf8_flags(lf: LazyFrame, table: Table) -> LazyFrame {
    let flags: Vec<String> = table.columns().iter().filter(|c| c.kind == Kind::Text).map(|c| utf8_flag(c.name)).collect();
    lf.drop(cols(flags))
}

/// Validates the batch as of `as_of`.
pub fn validate(raw: RawBatch, as_of: Day, limits: &ValidateSettings, min_day_fraction: f64) -> Result<(ValidBatch, StageReport), ValidateError> {
    let started = Instant::now();
    let mut stores = check_stores(&raw, as_of, limits)?;
    // Rows an earlier run kept, as today judges them (or the table read again).
    let (pd_raw, pd_kept) = with_kept(&raw.product_daily, &stores.product_ids, col::PRODUCT_ID, col::PIDX, as_of, limits)?;
    let (cd_raw, cd_kept) = with_kept(&raw.campaign_daily, &stores.campaign_ids, col::CAMPAIGN_ID, CIDX, as_of, limits)?;
    // The two daily tables are independent of each other: check them side by side.
    let (pd, cd) = std::thread::scope(|s| {
        let pd = s.spawn(|| check_daily_parts(&pd_raw, pd_kept, &stores.product_ids, col::PRODUCT_ID, col::PIDX, as_of, limits));
        let cd = s.spawn(|| check_daily_parts(&cd_raw, cd_kept, &stores.campaign_ids, col::CAMPAIGN_ID, CIDX, as_of, limits));
        (pd.join().expect("validator panicked"), cd.join().expect("validator panicked"))
    });
    let pd = pd.map_err(err(Table::ProductDaily))?;
    let cd = cd.map_err(err(Table::CampaignDaily))?;
    let older_first = (pd.older.first(), cd.older.first());
    let daily_in = [pd.rows_in, cd.rows_in];
    let mut kept = Vec::new();
    for (part, ids, id, idx) in [(&pd, &stores.product_ids, col::PRODUCT_ID, col::PIDX), (&cd, &stores.campaign_ids, col::CAMPAIGN_ID, CIDX)] {
        if let Some(k) = part.keep(ids, id, idx, as_of).map_err(err(part.table))? {
            kept.push(k);
        }
    }
    let checks = [
        record(&pd_raw, pd.checked, pd.older, limits, &mut stores.quality, &mut stores.quarantine),
        record(&cd_raw, cd.checked, cd.older, limits, &mut stores.quality, &mut stores.quarantine),
    ];
    let (mut valid, report) = finish(&raw, as_of, stores, pd.valid, cd.valid, older_first, daily_in, min_day_fraction, started)?;
    valid.checks = checks.into_iter().flatten().collect();
    valid.kept = kept;
    Ok((valid, report))
}

/// A daily table's rows an earlier run kept ([`CachedRows`]), indexed as
/// today: when they would be judged today as they were then (the same
/// rules, an as_of not before theirs, a reach not before theirs, every id
/// they and the older rows' check name standing as it did). Otherwise the
/// table read again as if nothing were kept.
fn with_kept<'a>(raw: &'a RawTable, ids: &DataFrame, id: &'static str, idx: &'static str, as_of: Day, limits: &ValidateSettings) -> Result<(std::borrow::Cow<'a, RawTable>, Option<DataFrame>), ValidateError> {
    let Some(c) = &raw.cached else { return Ok((std::borrow::Cow::Borrowed(raw), None)) };
    if let Some(rows) = kept_today(raw, c, ids, id, idx, as_of, limits).map_err(err(raw.table))? {
        return Ok((std::borrow::Cow::Borrowed(raw), Some(rows)));
    }
    let again = (c.reread)().map_err(|e| ValidateError { table: raw.table.name(), source: PolarsError::ComputeError(e.into()) })?;
    Ok((std::borrow::Cow::Owned(again), None))
}

fn kept_today(raw: &RawTable, c: &CachedRows, ids: &DataFrame, id: &'static str, idx: &'static str, as_of: Day, limits: &ValidateSettings) -> PolarsResult<Option<DataFrame>> {
    let w = &c.window;
    let older = raw.older.as_ref();
    let known = older.and_then(|o| o.known.as_ref()).filter(|k| k.rules == rules_key(limits) && k.before == w.from);
    let Some(known) = known.filter(|_| w.as_of <= as_of && older.is_some_and(|o| w.from <= o.before)) else {
        tracing::info!(table = raw.table.name(), "the kept rows were judged by other rules, as of a later day or for a later reach: the file is read again");
        return Ok(None);
    };
    if !stands_as_it_did(known, ids, id)? {
        tracing::info!(table = raw.table.name(), "a product or campaign the older rows name changed standing: the file is read again");
        return Ok(None);
    }
    // Today's index of each id the kept index stands for (null: not valid today).
    let map = c.ids.clone().lazy().select([col(id)]).join(valid_ids(ids, id, idx), [col(id)], [col(id)], left_ordered()).collect()?;
    let map = map.column(idx)?.u32()?.clone();
    let same = map.null_count() == 0 && map.into_no_null_iter().enumerate().all(|(i, v)| v as usize == i);
    let mut rows = c.rows.clone();
    if !same {
        let mapped = map.take(rows.column(idx)?.u32()?)?;
        if mapped.null_count() > 0 {
            tracing::info!(table = raw.table.name(), "a product or campaign the kept rows name changed standing: the file is read again");
            return Ok(None);
        }
        rows.with_column(Column::from(mapped.into_series().with_name(idx.into())))?;
    }
    Ok(Some(rows))
}

/// The store tables judged as of one day, and the id frames the daily
/// tables' foreign keys join.
struct Stores {
    products: DataFrame,
    product_ids: DataFrame,
    campaigns: DataFrame,
    campaign_ids: DataFrame,
    future_campaign_products: Vec<String>,
    quality: DataQuality,
    quarantine: Vec<QuarantinedRow>,
}

/// Products, then campaigns (their product must be a valid or a future one).
fn check_stores(raw: &RawBatch, as_of: Day, limits: &ValidateSettings) -> Result<Stores, ValidateError> {
    let mut quality = DataQuality::default();
    let mut quarantine = Vec::new();
    let as_of_lit = lit(as_of);
    // products
    let t = Table::Products;
    let mut rules = column_rules(t, limits);
    rules.push(rule(col::PRICE, "must be above 0", col(col::PRICE).lt_eq(lit(0.0))));
    let checked = check_table(
        with_utf8_flags(&raw.products.df, t).map_err(err(t))?.lazy(),
        t,
        as_day(col(col::CREATED_AT)).gt(as_of_lit.clone()),
        rules,
        col(col::PRODUCT_ID),
        Some(col::PRODUCT_ID),
    )
    .map_err(err(t))?;
    let future_products = checked.future_ids.clone();
    let products = without_utf8_flags(checked.valid.clone().lazy(), t)
        .with_column(as_day(col(col::CREATED_AT)).alias(col::CREATED_AT))
        .with_row_index(col::PIDX, None)
        .collect()
        .map_err(err(t))?;
    record(&raw.products, checked, Older::default(), limits, &mut quality, &mut quarantine);
    let product_ids = id_frame(&products, col::PRODUCT_ID, col::PIDX, &future_products).map_err(err(t))?;

    // campaigns
    let t = Table::Campaigns;
    let mut rules = column_rules(t, limits);
    let status = col(col::STATUS);
    // The states' names come from the enums: one list, in one place.
    let names = |all: &[&str]| match all.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => all.join(""),
    };
    let statuses: Vec<&str> = CampaignStatus::ALL.iter().map(|s| s.as_str()).collect();
    rules.push(rule(
        col::STATUS,
        format!("must be {}", names(&statuses)),
        statuses.iter().fold(lit(true), |bad, name| bad.and(status.clone().neq(lit(*name)))),
    ));
    let by = col(col::PAUSED_BY);
    let pausers: Vec<&str> = PausedBy::ALL.iter().map(|p| p.as_str()).collect();
    rules.push(rule(
        col::PAUSED_BY,
        format!("must be {}", names(&[&["empty"], &pausers[..]].concat())),
        pausers.iter().fold(by.clone().is_not_null().and(by.clone().neq(lit(""))), |bad, name| bad.and(by.clone().neq(lit(*name)))),
    ));
    rules.push(rule(col::PRODUCT_ID, "unknown product", col("__product_future").is_null()));
    let lf = join_ids(with_utf8_flags(&raw.campaigns.df, t).map_err(err(t))?.lazy(), &product_ids, col::PRODUCT_ID)
        .rename([FUTURE], ["__product_future"], true);
    let checked = check_table(
        lf,
        t,
        as_day(col(col::START_DATE)).gt(as_of_lit.clone()).or(col("__product_future").eq(lit(true))),
        rules,
        col(col::CAMPAIGN_ID),
        Some(col::CAMPAIGN_ID),
    );
    let checked = checked.map_err(err(t))?;
    let future_campaigns = checked.future_ids.clone();
    let future_campaign_products = if future_campaigns.is_empty() {
        Vec::new()
    } else {
        let ids = df!(col::CAMPAIGN_ID => &future_campaigns).map_err(err(t))?;
        raw.campaigns
            .df
            .clone()
            .lazy()
            .semi_join(ids.lazy(), col(col::CAMPAIGN_ID), col(col::CAMPAIGN_ID))
            .select([col(col::PRODUCT_ID)])
            .collect()
            .map_err(err(t))?
            .column(col::PRODUCT_ID)
            .map_err(err(t))?
            .str()
            .map_err(err(t))?
            .iter()
            .flatten()
            .map(str::to_string)
            .collect()
    };
    let campaigns = checked
        .valid
        .clone()
        .lazy()
        .drop(cols(["__product_future"]))
        .drop(cols(Table::Campaigns.columns().iter().filter(|c| c.kind == Kind::Text).map(|c| utf8_flag(c.name)).collect::<Vec<_>>()))
        .with_columns([
            as_day(col(col::START_DATE)).alias(col::START_DATE),
            as_day(col(col::PAUSED_AT).str().to_date(date_options())).alias(col::PAUSED_AT),
            col(col::PAUSED_BY).fill_null(lit("")).alias(col::PAUSED_BY),
        ])
        .with_row_index(CIDX, None)
        .collect()
        .map_err(err(t))?;
    record(&raw.campaigns, checked, Older::default(), limits, &mut quality, &mut quarantine);
    let campaign_ids = id_frame(&campaigns, col::CAMPAIGN_ID, CIDX, &future_campaigns).map_err(err(t))?;

    Ok(Stores { products, product_ids, campaigns, campaign_ids, future_campaign_products, quality, quarantine })
}

/// What every day's validation ends with, once its daily tables are judged:
/// the side feed's counts, the feed's first and newest days, whether the
/// data is stale, the quarantine in file order, and the stage's report.
#[allow(clippy::too_many_arguments)]
fn finish(
    raw: &RawBatch,
    as_of: Day,
    stores: Stores,
    product_daily: DataFrame,
    campaign_daily: DataFrame,
    (pd_first, cd_first): (Option<Day>, Option<Day>),
    daily_in: [u64; 2],
    min_day_fraction: f64,
    started: Instant,
) -> Result<(ValidBatch, StageReport), ValidateError> {
    let Stores { products, campaigns, future_campaign_products, mut quality, mut quarantine, .. } = stores;
    // A side feed (views.csv) was checked by the connector that parsed it.
    if let Some(t) = raw.views_feed.table {
        *quality.rows_read.get_mut(t) = raw.views_feed.rows_read;
        *quality.rows_after_as_of.get_mut(t) = raw.views_feed.after_as_of;
        *quality.rows_quarantined.get_mut(t) = raw.views_feed.quarantine.len() as u64;
        quarantine.extend(raw.views_feed.quarantine.iter().cloned());
    }

    let day_range = |df: &DataFrame| -> (Option<Day>, Option<Day>) {
        let Ok(s) = df.column(col::DATE).and_then(|c| c.i32().cloned()) else { return (None, None) };
        (s.min(), s.max())
    };
    let earliest = |a: Option<Day>, b: Option<Day>| a.into_iter().chain(b).min();
    let (data_start, newest_pd) = day_range(&product_daily);
    let (campaign_start, newest_cd) = day_range(&campaign_daily);
    quality.data_start = earliest(pd_first, data_start);
    let campaign_data_start = earliest(cd_first, campaign_start);
    quality.newest_product_day = newest_pd;
    quality.newest_campaign_day = newest_cd;
    for (table, newest) in [(Table::ProductDaily, newest_pd), (Table::CampaignDaily, newest_cd)] {
        if newest.is_none_or(|d| d < as_of) {
            quality.stale_reasons.push(format!("{}: no rows for as_of", table.name()));
        }
    }
    quality.stale_reasons.extend(collapsed(&product_daily, &campaign_daily, as_of, min_day_fraction).map_err(err(Table::ProductDaily))?);
    quality.stale = !quality.stale_reasons.is_empty();

    // (Rows left unread before the reach are counted in the data quality,
    // not here: this stage's rows are the ones it hands on or drops.)
    let rows_in = (raw.products.df.height() + raw.campaigns.df.height()) as u64 + daily_in[0] + daily_in[1];
    let rows_out = (products.height() + product_daily.height() + campaigns.height() + campaign_daily.height()) as u64;
    quarantine.sort_by(|a, b| (a.table, a.line).cmp(&(b.table, b.line)));
    let report = StageReport::new("validate", started, rows_in, rows_out);
    Ok((
        ValidBatch {
            as_of,
            products,
            product_daily,
            campaigns,
            campaign_daily,
            future_campaign_products,
            campaign_data_start,
            quarantine,
            quality,
            checks: Vec::new(),
            kept: Vec::new(),
        },
        report,
    ))
}

/// Validation for every as_of of a range (`backfill`): what [`validate`]
/// as of each day gives, with the daily tables judged once instead of once
/// a day.
///
/// The daily tables are judged as of the range's last day; a day's valid
/// rows, quarantine and counts are cut from that, and the store tables
/// (small) are judged for each day as [`validate`] does. The cut is exact
/// because going back a day only takes rows out of judgement: a row is
/// left out as of `d` when its date is after `d` or its id is a future one
/// then (a product created after `d`, a campaign starting after `d`), and
/// every id valid as of the last day but not as of `d` is such a future id.
/// So a row judged as of `d` breaks the same rule (its foreign key
/// included) and repeats the same earlier row's key as it does as of the
/// last day.
pub struct RangeValidator {
    raw: RawBatch,
    limits: ValidateSettings,
    min_day_fraction: f64,
    /// None when the daily tables have older rows left unread (a reach):
    /// every day validated whole.
    judged: Option<[Judged; 2]>,
}

/// A daily table judged once, as of a range's last day.
struct Judged {
    /// The valid rows, indexed by the last day's store frame.
    valid: DataFrame,
    /// The last day's valid ids in index order, each with its first valid day.
    ids: DataFrame,
    /// (day, valid rows dated up to that day), by day.
    by_day: Vec<(Day, u64)>,
    /// Whether the valid rows are in date order (a date-ordered export):
    /// then a day's rows are a slice of them, cut without a copy.
    in_date_order: bool,
    /// Each bad row, with its date and its id.
    bad: Vec<(QuarantinedRow, Option<Day>, Option<String>)>,
    rows: u64,
}

const FIRST: &str = "__first";

impl RangeValidator {
    /// Judges the daily tables of `raw` as of `last`, the range's last day.
    pub fn new(raw: RawBatch, last: Day, limits: &ValidateSettings, min_day_fraction: f64) -> Result<RangeValidator, ValidateError> {
        let whole = raw.product_daily.older.is_some() || raw.campaign_daily.older.is_some();
        let judged = if whole { None } else { judge_once(&raw, last, limits)? };
        Ok(RangeValidator { raw, limits: limits.clone(), min_day_fraction, judged })
    }

    /// Whether days are cut from one judgement (false: each day validated whole).
    pub fn cuts(&self) -> bool {
        self.judged.is_some()
    }

    /// The batch as of `as_of` (a day of the range): [`validate`]'s answer
    /// for the batch read with `reach` (the daily rows dated before it judged
    /// and counted, not handed on; [`crate::decisions::reach::needed_from`]).
    pub fn day(&self, as_of: Day, reach: Option<Day>) -> Result<(ValidBatch, StageReport), ValidateError> {
        let Some([pd, cd]) = &self.judged else {
            return self.whole(as_of, reach);
        };
        let started = Instant::now();
        let mut stores = check_stores(&self.raw, as_of, &self.limits)?;
        let (product_daily, pd_first) = pd
            .cut(&stores.product_ids, col::PRODUCT_ID, col::PIDX, Table::ProductDaily, as_of, reach, &mut stores.quality, &mut stores.quarantine)
            .map_err(err(Table::ProductDaily))?;
        let (campaign_daily, cd_first) = cd
            .cut(&stores.campaign_ids, col::CAMPAIGN_ID, CIDX, Table::CampaignDaily, as_of, reach, &mut stores.quality, &mut stores.quarantine)
            .map_err(err(Table::CampaignDaily))?;
        let daily_in = [self.raw.product_daily.df.height() as u64, self.raw.campaign_daily.df.height() as u64];
        finish(&self.raw, as_of, stores, product_daily, campaign_daily, (pd_first, cd_first), daily_in, self.min_day_fraction, started)
    }

    /// The day validated whole, its daily rows from `reach` on.
    fn whole(&self, as_of: Day, reach: Option<Day>) -> Result<(ValidBatch, StageReport), ValidateError> {
        let (mut valid, report) = validate(self.raw.clone(), as_of, &self.limits, self.min_day_fraction)?;
        if let Some(r) = reach {
            let from = |df: &DataFrame, t: Table| df.clone().lazy().filter(col(col::DATE).gt_eq(lit(r))).collect().map_err(err(t));
            valid.product_daily = from(&valid.product_daily, Table::ProductDaily)?;
            valid.campaign_daily = from(&valid.campaign_daily, Table::CampaignDaily)?;
        }
        Ok((valid, report))
    }
}

fn err(t: Table) -> impl Fn(PolarsError) -> ValidateError {
    move |source| ValidateError { table: t.name(), source }
}

fn judge_once(raw: &RawBatch, last: Day, limits: &ValidateSettings) -> Result<Option<[Judged; 2]>, ValidateError> {
    let stores = check_stores(raw, last, limits)?;
    let (pd, cd) = std::thread::scope(|s| {
        let pd = s.spawn(|| judge(&raw.product_daily, &stores.product_ids, col::PRODUCT_ID, col::PIDX, last, limits));
        let cd = s.spawn(|| judge(&raw.campaign_daily, &stores.campaign_ids, col::CAMPAIGN_ID, CIDX, last, limits));
        (pd.join().expect("validator panicked"), cd.join().expect("validator panicked"))
    });
    match (pd.map_err(err(Table::ProductDaily))?, cd.map_err(err(Table::CampaignDaily))?) {
        (Some(pd), Some(cd)) => Ok(Some([pd, cd])),
        _ => Ok(None),
    }
}

/// One daily table judged as of `last`; None when its lines do not name
/// its rows one to one (then every day is validated whole).
fn judge(
    raw: &RawTable,
    ids: &DataFrame,
    id: &'static str,
    idx: &'static str,
    last: Day,
    limits: &ValidateSettings,
) -> PolarsResult<Option<Judged>> {
    let (checked, valid) = check_daily(raw, ids, id, idx, last, limits)?;
    let valid = without_line(&valid)?;
    let lines: Vec<u64> = checked.bad.iter().map(|b| b.0).collect();
    let info = raw
        .df
        .clone()
        .lazy()
        .select([col(col::LINE).cast(DataType::UInt64).alias(col::LINE), as_day(col(col::DATE)).alias(col::DATE), col(id)])
        .join(df!(col::LINE => &lines)?.lazy(), [col(col::LINE)], [col(col::LINE)], JoinArgs::new(JoinType::Inner))
        .collect()?;
    let mut at: std::collections::HashMap<u64, (Option<Day>, Option<String>)> = std::collections::HashMap::with_capacity(info.height());
    for ((line, date), id) in info.column(col::LINE)?.u64()?.iter().zip(info.column(col::DATE)?.i32()?.iter()).zip(info.column(id)?.str()?.iter()) {
        if let Some(line) = line {
            if at.insert(line, (date, id.map(str::to_string))).is_some() {
                return Ok(None);
            }
        }
    }
    if at.len() != lines.len() {
        return Ok(None);
    }
    let bad = quarantined(raw, checked.bad).into_iter().map(|(record, q)| {
        let (date, id) = at[&record].clone();
        (q, date, id)
    });
    let ids = valid_ids(ids, id, idx)
        .join(valid.clone().lazy().group_by([col(idx)]).agg([col(col::DATE).min().alias(FIRST)]), [col(idx)], [col(idx)], left_ordered())
        .select([col(id), col(FIRST)])
        .collect()?;
    let days = valid.clone().lazy().group_by([col(col::DATE)]).agg([len().alias("n")]).sort([col::DATE], SortMultipleOptions::default()).collect()?;
    let mut total = 0u64;
    let by_day = days
        .column(col::DATE)?
        .i32()?
        .iter()
        .zip(days.column("n")?.cast(&DataType::UInt64)?.u64()?.iter())
        .filter_map(|(d, n)| {
            total += n.unwrap_or(0);
            Some((d?, total))
        })
        .collect();
    let in_date_order = in_date_order(&valid)?;
    Ok(Some(Judged {
        valid,
        ids,
        by_day,
        in_date_order,
        bad: bad.collect(),
        rows: raw.df.height() as u64,
    }))
}

/// Whether every row has a date, each no earlier than the row's before it.
fn in_date_order(valid: &DataFrame) -> PolarsResult<bool> {
    let dates = valid.column(col::DATE)?.i32()?;
    let mut last = i32::MIN;
    Ok(dates.null_count() == 0
        && dates.downcast_iter().all(|chunk| {
            chunk.values().iter().all(|&d| {
                let ordered = d >= last;
                last = d;
                ordered
            })
        }))
}

/// The valid ids of an id frame ([`id_frame`]) with their index, in index order.
fn valid_ids(ids: &DataFrame, id: &str, idx: &str) -> LazyFrame {
    ids.clone().lazy().filter(col(FUTURE).not()).select([col(id), col(idx)])
}

impl Judged {
    /// How many valid rows are dated up to `day`.
    fn rows_up_to(&self, day: Day) -> u64 {
        self.by_day.partition_point(|(d, _)| *d <= day).checked_sub(1).map_or(0, |k| self.by_day[k].1)
    }

    /// The table as [`check_daily`] as of `as_of` would leave it, given that
    /// day's id frame (`ids`, [`id_frame`]: its valid ids indexed by
    /// `idx`, and its future ones), with the first valid day; only the rows from `reach`
    /// on are handed on. Its counts go into `quality`, its bad rows into
    /// `quarantine`.
    #[allow(clippy::too_many_arguments)]
    fn cut(
        &self,
        ids: &DataFrame,
        id: &str,
        idx: &str,
        table: Table,
        as_of: Day,
        reach: Option<Day>,
        quality: &mut DataQuality,
        quarantine: &mut Vec<QuarantinedRow>,
    ) -> PolarsResult<(DataFrame, Option<Day>)> {
        // That day's index of each id (null: not a valid id that day), in
        // the last day's index order, beside the id's first valid day.
        let lookup = self
            .ids
            .clone()
            .lazy()
            .select([col(id), col(FIRST)])
            .join(valid_ids(ids, id, idx), [col(id)], [col(id)], left_ordered())
            .collect()?;
        let first = lookup.clone().lazy().select([col(FIRST).filter(col(idx).is_not_null().and(col(FIRST).lt_eq(lit(as_of)))).min()]).collect()?;
        let first = first.column(FIRST)?.i32()?.get(0);
        let mut valid = if self.in_date_order {
            // The rows dated from the reach to as_of: those after the ones
            // dated before the reach, up to the last dated as_of.
            let (from, to) = (reach.map_or(0, |r| self.rows_up_to(r - 1)), self.rows_up_to(as_of));
            self.valid.slice(from as i64, to.saturating_sub(from) as usize)
        } else {
            let dates = col(col::DATE).lt_eq(lit(as_of));
            let in_reach = match reach {
                Some(r) => dates.and(col(col::DATE).gt_eq(lit(r))),
                None => dates,
            };
            self.valid.clone().lazy().filter(in_reach).collect()?
        };
        let mapped = lookup.column(idx)?.u32()?.take(valid.column(idx)?.u32()?)?;
        let unknown = mapped.null_count() > 0;
        valid.with_column(Column::from(mapped.into_series().with_name(idx.into())))?;
        let valid = if unknown { valid.lazy().filter(col(idx).is_not_null()).collect()? } else { valid };
        // A bad row is judged unless it is dated after as_of or its id is a
        // future one that day.
        let future_ids = ids.clone().lazy().filter(col(FUTURE)).select([col(id)]).collect()?;
        let future: std::collections::HashSet<&str> = future_ids.column(id)?.str()?.iter().flatten().collect();
        let bad: Vec<QuarantinedRow> = self
            .bad
            .iter()
            .filter(|(_, date, id)| !date.is_some_and(|d| d > as_of) && !id.as_deref().is_some_and(|i| future.contains(i)))
            .map(|(q, _, _)| q.clone())
            .collect();
        // Every row is valid, bad, or after as_of: the valid rows up to
        // as_of counted by day, less those of ids not valid that day (most
        // have none that early: their first valid day is later).
        let unmapped: Vec<u32> = lookup
            .column(idx)?
            .u32()?
            .iter()
            .zip(lookup.column(FIRST)?.i32()?.iter())
            .enumerate()
            .filter(|(_, (i, first))| i.is_none() && first.is_some_and(|f| f <= as_of))
            .map(|(k, _)| k as u32)
            .collect();
        let mut valid_rows = self.rows_up_to(as_of);
        if !unmapped.is_empty() {
            let theirs = col(col::DATE).lt_eq(lit(as_of)).and(col(idx).is_in(lit(Series::new("".into(), unmapped)).implode(false), false));
            let n = self.valid.clone().lazy().select([theirs.cast(DataType::UInt64).sum().alias("n")]).collect()?;
            valid_rows -= n.column("n")?.u64()?.get(0).unwrap_or(0);
        }
        let q = quality;
        *q.rows_read.get_mut(table) = self.rows;
        *q.rows_quarantined.get_mut(table) = bad.len() as u64;
        *q.rows_after_as_of.get_mut(table) = self.rows - valid_rows - bad.len() as u64;
        quarantine.extend(bad);
        Ok((valid, first))
    }
}

/// The as_of day's totals (spend, views, units) that fell below
/// `fraction` × their trailing 28-day median (missing days count as zero;
/// fewer than 7 days with data before as_of: no verdict): a broken export.
fn collapsed(product_daily: &DataFrame, campaign_daily: &DataFrame, as_of: Day, fraction: f64) -> PolarsResult<Vec<String>> {
    let mut out = Vec::new();
    let totals = |df: &DataFrame, column: &str| -> PolarsResult<std::collections::HashMap<Day, f64>> {
        let t = df
            .clone()
            .lazy()
            .filter(col(col::DATE).gt_eq(lit(as_of - TRAILING_DAYS)).and(col(col::DATE).lt_eq(lit(as_of))))
            .group_by([col(col::DATE)])
            .agg([col(column).cast(DataType::Float64).sum().alias("t")])
            .collect()?;
        let days = t.column(col::DATE)?.i32()?.clone();
        let sums = t.column("t")?.f64()?.clone();
        Ok(days.iter().zip(sums.iter()).filter_map(|(d, s)| Some((d?, s.unwrap_or(0.0)))).collect())
    };
    for (what, df, column) in [("spend", campaign_daily, col::SPEND), ("views", product_daily, col::VIEWS), ("units", product_daily, col::UNITS)] {
        let by_day = totals(df, column)?;
        let first = by_day.keys().copied().min();
        let Some(first) = first.filter(|f| as_of - *f >= 7) else { continue };
        let mut trailing: Vec<f64> = (first.max(as_of - TRAILING_DAYS)..as_of).map(|d| by_day.get(&d).copied().unwrap_or(0.0)).collect();
        trailing.sort_by(f64::total_cmp);
        let median = trailing[trailing.len() / 2];
        let today = by_day.get(&as_of).copied().unwrap_or(0.0);
        if median > 0.0 && today < fraction * median {
            out.push(format!(
                "{what} on as_of = {} < {} × trailing median {}: a broken export, not a real day",
                crate::decisions::num(today),
                crate::decisions::num(fraction),
                crate::decisions::num(median)
            ));
        }
    }
    Ok(out)
}

/// A daily table's rules: every column's, and the foreign key.
fn daily_rules(t: Table, id: &'static str, limits: &ValidateSettings) -> Vec<Rule> {
    let mut rules = column_rules(t, limits);
    let what = if id == col::PRODUCT_ID { "unknown product" } else { "unknown campaign" };
    rules.push(rule(id, what, col("__id_future").is_null()));
    rules
}

/// A daily table's (dense index, day) key packed into one integer, hashed once.
fn daily_key(idx: &str) -> Expr {
    col(idx).cast(DataType::Int64) * lit(1i64 << 32) + as_day(col(col::DATE)).cast(DataType::Int64)
}

/// A daily table: rules, foreign key, after-as-of, and the (id, date) key.
fn check_daily(
    raw: &RawTable,
    ids: &DataFrame,
    id: &'static str,
    idx: &'static str,
    as_of: Day,
    limits: &ValidateSettings,
) -> Result<(Checked, DataFrame), PolarsError> {
    let t = raw.table;
    let lf = join_ids(raw.df.clone().lazy(), ids, id).rename([FUTURE], ["__id_future"], true);
    let checked = check_table(
        lf,
        t,
        as_day(col(col::DATE)).gt(lit(as_of)).or(col("__id_future").eq(lit(true))),
        daily_rules(t, id, limits),
        daily_key(idx),
        None,
    )?;
    let valid = checked
        .valid
        .clone()
        .lazy()
        .drop(cols(["__id_future", id]))
        .with_column(as_day(col(col::DATE)).alias(col::DATE))
        .collect()?;
    Ok((checked, valid))
}

/// A daily table's valid rows as handed on: without their `__line`.
fn without_line(df: &DataFrame) -> PolarsResult<DataFrame> {
    df.drop(col::LINE)
}

/// The version of the rules a daily table's rows are judged by: part of
/// the key an older rows' check is kept under ([`rules_key`]), so a check
/// made by other rules is never carried over. Raise it when a rule changes.
const RULES_VERSION: u32 = 1;

/// The key of the rules (their version and limits) an older rows' check
/// was made by.
pub fn rules_key(limits: &ValidateSettings) -> String {
    format!("v{RULES_VERSION} max_money={}", crate::decisions::num(limits.max_money))
}

/// What a daily table's rows before the run's reach came to.
#[derive(Default)]
struct Older {
    rows: u64,
    after_as_of: u64,
    bad: Vec<(u64, String, &'static str)>,
    /// The oldest day of a valid row among them.
    first_day: Option<Day>,
    last_line: u64,
    /// The ids the rows name: valid, unknown, future.
    ids: [Vec<String>; 3],
    /// The part an earlier run's check covered (its quarantine final):
    /// the rows dated before its `before`.
    carried: Option<OlderCheck>,
    /// Of `rows`, those an earlier run kept (valid then, not judged now).
    moved: u64,
    /// Rows an earlier run kept that this run hands on (not among `rows`).
    window: u64,
}

impl Older {
    /// The oldest day of a valid row, the carried part's included.
    fn first(&self) -> Option<Day> {
        self.first_day.into_iter().chain(self.carried.as_ref().and_then(|k| k.first_day)).min()
    }
}

/// The older rows: the part an earlier run's check covers taken from it
/// when it still holds (the same rules; every id it names stands as it
/// did: valid, unknown or future), the rest judged here.
fn check_older_rows(o: &OlderRows, t: Table, ids: &DataFrame, id: &'static str, idx: &'static str, limits: &ValidateSettings) -> Result<Older, PolarsError> {
    let known = o.known.as_ref().filter(|k| k.rules == rules_key(limits) && k.before <= o.before);
    if let Some(k) = known {
        if stands_as_it_did(k, ids, id)? {
            let rest = o.rows.clone().filter(as_day(col(col::DATE)).gt_eq(lit(k.before)));
            let mut older = check_older(rest, t, ids, id, idx, limits)?;
            older.carried = Some(k.clone());
            return Ok(older);
        }
        tracing::info!(table = t.name(), "a product or campaign the older rows name changed standing: they are judged again");
    }
    let rows = match &o.all {
        Some(all) => all()?,
        None => o.rows.clone(),
    };
    check_older(rows, t, ids, id, idx, limits)
}

/// Whether every id an older rows' check names stands today (`ids`, the
/// day's [`id_frame`]) as it did then.
fn stands_as_it_did(k: &OlderCheck, ids: &DataFrame, id: &'static str) -> PolarsResult<bool> {
    const THEN: &str = "__then";
    let then = concat(
        [(&k.valid_ids, 0u8), (&k.unknown_ids, 1), (&k.future_ids, 2)].map(|(list, code)| {
            df!(id => list).map(|d| d.lazy().with_column(lit(code).alias(THEN)))
        })
        .into_iter()
        .collect::<PolarsResult<Vec<_>>>()?,
        UnionArgs::default(),
    )?;
    let now = when(col(FUTURE).is_null()).then(lit(1u8)).when(col(FUTURE)).then(lit(2u8)).otherwise(lit(0u8));
    let changed = join_ids(then, ids, id).select([now.neq(col(THEN)).any(true).alias("changed")]).collect()?;
    Ok(!changed.column("changed")?.bool()?.get(0).unwrap_or(false))
}

/// A daily table's rows dated before the run's reach: judged by the same
/// rules as [`check_daily`]'s (each row's first broken rule; a repeated
/// key after the first valid row with it) for the feed's data quality, but
/// only narrow columns are ever materialised and no row is handed on. The
/// two parts cannot share a key (it holds the date), so together they
/// quarantine exactly what one pass over the whole table would.
fn check_older(older: LazyFrame, t: Table, ids: &DataFrame, id: &'static str, idx: &'static str, limits: &ValidateSettings) -> Result<Older, PolarsError> {
    const OTHER: &str = "__other_id";
    let rules = daily_rules(t, id, limits);
    let code = first_broken(&rules);
    let future = col("__id_future").eq(lit(true)).fill_null(lit(false));
    let narrow = join_ids(older, ids, id)
        .rename([FUTURE], ["__id_future"], true)
        .select([
            col(col::LINE).cast(DataType::UInt64).alias(col::LINE),
            future.clone().alias(FUTURE),
            when(future).then(lit(0u32)).otherwise(code).alias(CODE),
            as_day(col(col::DATE)).alias(col::DATE),
            daily_key(idx).alias(KEY),
            col(idx),
            // The ids of no valid product or campaign, by name (few).
            when(col(idx).is_null()).then(col(id)).otherwise(lit(NULL)).alias(OTHER),
        ])
        .with_column(when(col(FUTURE).or(col(CODE).gt(lit(0u32)))).then(lit(NULL)).otherwise(col(KEY)).alias(KEY))
        .collect()?;
    let dup = duplicate_mask(&narrow)?;
    let flagged = narrow.lazy().with_column(dup.alias(DUP)).drop(cols([KEY])).collect()?;
    let summary = flagged
        .clone()
        .lazy()
        .select([
            col(FUTURE).sum().cast(DataType::UInt64).alias("after"),
            col(col::DATE).filter(col(CODE).eq(lit(0u32)).and(col(DUP).not()).and(col(FUTURE).not())).min().alias("first"),
            col(col::LINE).max().alias("last"),
        ])
        .collect()?;
    let bad_rows = flagged.clone().lazy().filter(col(CODE).gt(lit(0u32)).or(col(DUP))).collect()?;
    let bad = reasons(&bad_rows, &rules, t)?;
    // Each id named once, by its standing.
    let strings = |lf: LazyFrame, c: &str| -> PolarsResult<Vec<String>> {
        let df = lf.collect()?;
        Ok(df.column(c)?.str()?.iter().flatten().map(str::to_string).collect())
    };
    let seen = flagged.clone().lazy().filter(col(idx).is_not_null()).select([col(idx).unique()]);
    let valid = strings(valid_ids(ids, id, idx).semi_join(seen, col(idx), col(idx)).select([col(id)]), id)?;
    let others = flagged.clone().lazy().filter(col(OTHER).is_not_null()).select([col(OTHER), col(FUTURE)]).unique_stable(None, UniqueKeepStrategy::First);
    let unknown = strings(others.clone().filter(col(FUTURE).not()).select([col(OTHER)]), OTHER)?;
    let future_ids = strings(others.filter(col(FUTURE)).select([col(OTHER)]), OTHER)?;
    Ok(Older {
        rows: flagged.height() as u64,
        after_as_of: summary.column("after")?.u64()?.get(0).unwrap_or(0),
        bad,
        first_day: summary.column("first")?.i32()?.get(0),
        last_line: summary.column("last")?.u64()?.get(0).unwrap_or(0),
        ids: [valid, unknown, future_ids],
        carried: None,
        moved: 0,
        window: 0,
    })
}

/// A daily table judged: its valid rows (in file order), the counts and
/// bad rows of those read and of the older ones.
struct Parts {
    table: Table,
    checked: Checked,
    valid: DataFrame,
    /// `valid` with each row's `__line`.
    lined: DataFrame,
    older: Older,
    /// The rows judged or handed on from an earlier run's.
    rows_in: u64,
    /// Where the rows handed on begin (None: the table was read whole).
    reach: Option<Day>,
    /// Whether a later run can tell the file unchanged.
    marked: bool,
}

impl Parts {
    /// The valid rows to keep for the next run: when every row from the
    /// reach on was valid (none bad, none after as_of) and the file marked.
    fn keep(&self, ids: &DataFrame, id: &str, idx: &str, as_of: Day) -> PolarsResult<Option<Keep>> {
        let Some(from) = self.reach.filter(|_| self.marked && self.checked.bad.is_empty() && self.checked.after_as_of == 0) else { return Ok(None) };
        let ids = valid_ids(ids, id, idx).sort([idx], SortMultipleOptions::default()).select([col(id)]).collect()?;
        Ok(Some(Keep { table: self.table, rows: self.lined.clone(), ids, from, as_of }))
    }
}

/// Both parts of a daily table: the rows read ([`check_daily`]) and the
/// older ones, when left unread ([`check_older_rows`]); with `kept`, the
/// rows an earlier run kept (indexed as today, [`with_kept`]), which come
/// before the rows read.
fn check_daily_parts(raw: &RawTable, kept: Option<DataFrame>, ids: &DataFrame, id: &'static str, idx: &'static str, as_of: Day, limits: &ValidateSettings) -> Result<Parts, PolarsError> {
    let started = Instant::now();
    let (mut checked, mut valid) = check_daily(raw, ids, id, idx, as_of, limits)?;
    let read_ms = started.elapsed().as_millis() as u64;
    // The older rows are read here, not by the connector: a reader that
    // panics on a corrupt file (polars' parquet reader can) fails the table.
    let mut older = match (&raw.older, &kept) {
        // Read after kept rows: no older row was read, and the earlier
        // run's check of them stands ([`kept_today`] made sure).
        (Some(o), Some(_)) => Older { carried: o.known.clone(), ..Older::default() },
        (Some(o), None) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check_older_rows(o, raw.table, ids, id, idx, limits)))
            .unwrap_or_else(|_| Err(PolarsError::ComputeError(format!("the reader failed on {}", raw.source.describe()).into())))?,
        (None, _) => Older::default(),
    };
    let reach = raw.older.as_ref().map(|o| o.before);
    if let (Some(kept), Some(reach)) = (kept, reach) {
        valid = after_kept(kept, valid, &mut checked, &mut older, raw.table, ids, id, idx, reach)?;
    }
    tracing::debug!(
        table = raw.table.name(),
        rows = raw.df.height(),
        ms = read_ms,
        older_rows = older.rows,
        carried_rows = older.carried.as_ref().map_or(0, |k| k.rows),
        older_ms = started.elapsed().as_millis() as u64 - read_ms,
        kept_rows = older.window + older.moved,
        "daily table checked"
    );
    let rows_in = raw.df.height() as u64 + older.window;
    let marked = raw.older.as_ref().is_some_and(|o| o.mark.is_some());
    Ok(Parts { table: raw.table, valid: without_line(&valid)?, lined: valid, checked, older, rows_in, reach, marked })
}

/// The valid rows: an earlier run's kept ones from the reach on, then the
/// new ones (those whose key a kept row has are repeats, quarantined). The
/// kept rows dated before the reach join the older rows' count.
#[allow(clippy::too_many_arguments)]
fn after_kept(kept: DataFrame, new: DataFrame, checked: &mut Checked, older: &mut Older, t: Table, ids: &DataFrame, id: &str, idx: &str, reach: Day) -> PolarsResult<DataFrame> {
    let date = col(col::DATE);
    let moved = kept.clone().lazy().filter(date.clone().lt(lit(reach)));
    let summary = moved
        .clone()
        .select([len().cast(DataType::UInt64).alias("n"), col(col::DATE).min().alias("first"), col(col::LINE).cast(DataType::UInt64).max().alias("last")])
        .collect()?;
    let n = summary.column("n")?.u64()?.get(0).unwrap_or(0);
    if n > 0 {
        older.rows += n;
        older.moved += n;
        older.first_day = older.first_day.into_iter().chain(summary.column("first")?.i32()?.get(0)).min();
        older.last_line = older.last_line.max(summary.column("last")?.u64()?.get(0).unwrap_or(0));
        let named = valid_ids(ids, id, idx).semi_join(moved.select([col(idx).unique()]), col(idx), col(idx)).select([col(id)]).collect()?;
        older.ids[0].extend(named.column(id)?.str()?.iter().flatten().map(str::to_string));
    }
    let kept = if n > 0 { kept.lazy().filter(date.clone().gt_eq(lit(reach))).collect()? } else { kept };
    older.window = kept.height() as u64;
    if new.height() == 0 {
        return Ok(kept);
    }
    // A repeat of a kept row's key: only kept rows as late as the new ones can be one.
    let first_new = new.column(col::DATE)?.i32()?.min().unwrap_or(Day::MIN);
    let keys = kept.clone().lazy().filter(date.gt_eq(lit(first_new))).select([daily_key(idx).alias(KEY)]).collect()?;
    let new = if keys.height() == 0 {
        new
    } else {
        let flagged = new.lazy().with_column(daily_key(idx).is_in(lit(keys.column(KEY)?.as_materialized_series().clone()).implode(false), false).alias(DUP)).collect()?;
        let repeats = flagged.clone().lazy().filter(col(DUP)).select([col(col::LINE).cast(DataType::UInt64)]).collect()?;
        checked.bad.extend(repeats.column(col::LINE)?.u64()?.iter().flatten().map(|line| (line, duplicate_reason(t), "*")));
        flagged.lazy().filter(col(DUP).not()).drop(cols([DUP])).collect()?
    };
    let mut all = kept;
    all.vstack_mut(&new)?;
    Ok(all)
}

/// The table's counts and quarantine, the read rows' and the older ones'
/// together; and the older rows' check, kept for the next run when the
/// file can be told unchanged then.
fn record(raw: &RawTable, checked: Checked, older: Older, limits: &ValidateSettings, quality: &mut DataQuality, quarantine: &mut Vec<QuarantinedRow>) -> Option<StoredCheck> {
    let t = raw.table;
    let carried = older.carried.unwrap_or_default();
    *quality.rows_read.get_mut(t) = raw.df.height() as u64 + older.rows + carried.rows + older.window;
    *quality.rows_after_as_of.get_mut(t) = checked.after_as_of + older.after_as_of + carried.after_as_of;
    let older_bad = quarantined(raw, older.bad).into_iter().map(|(_, q)| q);
    let older_quarantine: Vec<QuarantinedRow> = carried.quarantine.iter().cloned().chain(older_bad).collect();
    *quality.rows_quarantined.get_mut(t) = (checked.bad.len() + older_quarantine.len()) as u64;
    quarantine.extend(quarantined(raw, checked.bad).into_iter().map(|(_, q)| q));
    quarantine.extend(older_quarantine.iter().cloned());
    // Carried: the earlier check's rows, and the kept ones (those now dated
    // before the reach among the rows before it, the rest from it on).
    let kept = older.moved + older.window;
    if carried.rows + kept > 0 {
        let before = match &raw.older {
            Some(o) if kept > 0 => o.before,
            _ => carried.before,
        };
        quality.carried.push(CarriedCheck { table: t, before: date_of(before).to_string(), rows: carried.rows + kept, kept: older.window });
    }
    let o = raw.older.as_ref()?;
    let mark = o.mark.clone()?;
    let [valid, unknown, future] = older.ids;
    let merge = |mut a: Vec<String>, b: Vec<String>| {
        a.extend(b);
        a.sort_unstable();
        a.dedup();
        a
    };
    let check = OlderCheck {
        rules: rules_key(limits),
        before: o.before,
        rows: older.rows + carried.rows,
        after_as_of: older.after_as_of + carried.after_as_of,
        first_day: older.first_day.into_iter().chain(carried.first_day).min(),
        last_line: older.last_line.max(carried.last_line),
        quarantine: older_quarantine,
        valid_ids: merge(carried.valid_ids, valid),
        unknown_ids: merge(carried.unknown_ids, unknown),
        future_ids: merge(carried.future_ids, future),
    };
    Some(StoredCheck { table: t, source: raw.source.describe(), mark, check, window: None })
}

/// The bad rows `(record, reason, column)` as quarantined rows, each with
/// its place (a CSV's physical line) and text as it came, and its record.
fn quarantined(raw: &RawTable, bad: Vec<(u64, String, &'static str)>) -> Vec<(u64, QuarantinedRow)> {
    let t = raw.table;
    if bad.is_empty() {
        return Vec::new();
    }
    let places: std::collections::HashMap<u64, (u64, String)> = match &raw.source {
        Source::Csv(path) => raw_records(path, &bad.iter().map(|b| b.0).collect::<Vec<_>>()),
        Source::Parquet(_) => Default::default(),
        Source::Api { raw, .. } => bad
            .iter()
            .filter_map(|b| raw.get((b.0 as usize).checked_sub(1)?).map(|t| (b.0, (b.0, t.clone()))))
            .collect(),
    };
    bad.into_iter()
        .map(|(record, reason, column)| {
            let (line, raw) = places.get(&record).cloned().unwrap_or((record, String::new()));
            tracing::debug!(table = t.name(), line, column, reason = %reason, "row quarantined");
            (record, QuarantinedRow { table: t, line, column: column.to_string(), reason, raw })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dups(keys: &[Option<i64>]) -> Vec<bool> {
        let df = df!(KEY => keys).unwrap();
        let e = duplicate_mask(&df).unwrap();
        let out = df.lazy().select([e.alias("d")]).collect().unwrap();
        out.column("d").unwrap().bool().unwrap().iter().map(|b| b.unwrap()).collect()
    }

    #[test]
    fn duplicates_in_sorted_keys_skip_bad_rows_between_them() {
        // 1, bad, 1, 2, 2: the second 1 and the second 2 repeat.
        assert_eq!(dups(&[Some(1), None, Some(1), Some(2), Some(2)]), vec![false, false, true, false, true]);
    }

    #[test]
    fn duplicates_in_unsorted_keys_are_found_by_hashing() {
        assert_eq!(dups(&[Some(5), Some(1), Some(5), None, Some(1)]), vec![false, false, true, false, true]);
    }

    #[test]
    fn duplicates_in_keys_sorted_by_day_then_index_are_found_without_hashing() {
        // (index, day) packed; rows in (day, index) order: day 1 of 0 and 1, then day 2 of 0 and 0.
        let key = |idx: i64, day: i64| Some(idx * (1 << 32) + day);
        assert_eq!(dups(&[key(0, 1), key(1, 1), None, key(0, 2), key(0, 2), key(1, 2)]), vec![false, false, false, false, true, false]);
    }

    #[test]
    fn duplicates_among_keys_without_bad_rows_are_found_in_either_order() {
        assert_eq!(dups(&[Some(1), Some(1), Some(2), Some(3), Some(3)]), vec![false, true, false, false, true]);
        let key = |idx: i64, day: i64| Some(idx * (1 << 32) + day);
        assert_eq!(dups(&[key(0, 1), key(1, 1), key(1, 1), key(0, 2)]), vec![false, false, true, false]);
    }

    #[test]
    fn a_bad_first_row_does_not_hide_a_later_good_one() {
        // Bad rows have null keys, so the good row after them is not a repeat.
        assert_eq!(dups(&[None, Some(3), Some(4)]), vec![false, false, false]);
    }
}
