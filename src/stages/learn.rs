//! Between analyze and decide: the learning loop (SPEC §13). Follows up
//! every applied action whose window has passed, from the campaign days the
//! run already read, and turns all follow-ups so far into the calibration
//! the decide stage's forecasts use and the report's "did the changes work?".

use std::collections::{BTreeMap, HashMap, HashSet};

use polars::prelude::*;

use super::validate::{ValidBatch, CIDX};
use crate::config::Settings;
use crate::decisions::outcomes::{self, Calibrated, DayPnl};
use crate::model::contract::col;
use crate::model::day::Day;
use crate::model::outcome::{AppliedAction, Calibration, Outcome, OutcomesSection};
use crate::model::plan::ActionKind;

/// What the loop knows after this run's follow-ups.
#[derive(Debug, Clone)]
pub struct Learned {
    /// The follow-ups this run made.
    pub due: Vec<Outcome>,
    /// Every follow-up of the last `learning.report_days`, newest first.
    pub recent: Vec<Outcome>,
    pub calibration: Calibration,
    pub calibrated: Calibrated,
}

impl Learned {
    /// The report's section: the per-rule table and the money over every
    /// recent follow-up, the list itself cut to `max_rows` (newest first;
    /// all of them are in the database and `outcomes`).
    pub fn section(&self, max_rows: usize) -> OutcomesSection {
        let (money, money_low, money_high) = outcomes::money(&self.recent);
        OutcomesSection {
            due: self.due.iter().take(max_rows).cloned().collect(),
            recent: self.recent.iter().take(max_rows).cloned().collect(),
            recent_total: self.recent.len(),
            per_rule: outcomes::per_rule(&self.recent),
            money,
            money_low,
            money_high,
            calibration: self.calibration.clone(),
        }
    }
}

/// The oldest action as_of a run for `as_of` follows up.
pub fn oldest_followed(as_of: Day, s: &Settings) -> Day {
    let longest = s.learning.follow_up_days.iter().copied().max().unwrap_or(0) as i32;
    as_of - longest - s.learning.report_days as i32
}

/// The follow-ups that came due with this run's data: for each applied
/// action and each `learning.follow_up_days` d not yet in `done`, when the
/// data runs d days past the action and starts at least d days before it.
/// A create is followed up on the campaign of its product that started
/// within the window (none yet: it waits).
pub fn follow_ups(valid: &ValidBatch, applied: &[AppliedAction], done: &HashSet<(String, u32)>, s: &Settings) -> PolarsResult<Vec<Outcome>> {
    let as_of = valid.as_of;
    let days = &s.learning.follow_up_days;
    let due: Vec<(&AppliedAction, u32)> = applied
        .iter()
        .flat_map(|a| days.iter().map(move |&d| (a, d)))
        .filter(|(a, d)| a.as_of + *d as i32 <= as_of && !done.contains(&(a.key.clone(), *d)))
        .collect();
    if due.is_empty() || valid.campaign_daily.height() == 0 {
        return Ok(Vec::new());
    }
    let campaigns = Campaigns::of(valid)?;
    let resolved: Vec<(&AppliedAction, u32, String)> = due
        .into_iter()
        .filter_map(|(a, d)| {
            let id = if a.kind == ActionKind::Create { campaigns.created_for(&a.product_id, a.as_of, a.as_of + d as i32)? } else { a.campaign_id.clone() };
            Some((a, d, id))
        })
        .collect();
    let first = resolved.iter().map(|(a, d, _)| a.as_of - *d as i32 + 1).min().unwrap_or(as_of);
    let wanted: HashSet<&str> = resolved.iter().map(|(_, _, id)| id.as_str()).collect();
    let series = campaigns.days(valid, &wanted, first)?;
    let Some(data_start) = series.start else {
        return Ok(Vec::new());
    };
    // Each campaign's applied actions, for the overlap count.
    let mut by_campaign: HashMap<&str, Vec<Day>> = HashMap::new();
    for a in applied {
        by_campaign.entry(a.campaign_id.as_str()).or_default().push(a.as_of);
    }
    let empty = BTreeMap::new();
    let mut out = Vec::new();
    for (a, d, id) in resolved {
        let start = a.as_of - d as i32 + 1;
        if start < data_start {
            continue; // the window before is not in the data this run read
        }
        let days_of = series.by_campaign.get(id.as_str()).unwrap_or(&empty);
        let window: Vec<DayPnl> = (start..=a.as_of + d as i32).map(|day| days_of.get(&day).copied().unwrap_or_default()).collect();
        let overlapping = by_campaign
            .get(id.as_str())
            .map_or(0, |v| v.iter().filter(|&&x| x > a.as_of && x < a.as_of + d as i32).count() as u32);
        let mut a = a.clone();
        a.campaign_id = id;
        out.push(outcomes::follow_up(&a, &window, d, s.objective.margin, as_of, overlapping));
    }
    Ok(out)
}

/// The campaigns table as the follow-ups need it.
struct Campaigns {
    /// (campaign_id, product_id, start_date) by `__cidx`.
    rows: Vec<(String, String, Option<Day>)>,
}

/// Campaign days by id and day, and the first day of any campaign's data.
struct CampaignDays {
    by_campaign: HashMap<String, BTreeMap<Day, DayPnl>>,
    start: Option<Day>,
}

impl Campaigns {
    fn of(valid: &ValidBatch) -> PolarsResult<Self> {
        let df = valid.campaigns.select([CIDX, col::CAMPAIGN_ID, col::PRODUCT_ID, col::START_DATE])?;
        let idx = df.column(CIDX)?.cast(&DataType::Int64)?;
        let ids = df.column(col::CAMPAIGN_ID)?.cast(&DataType::String)?;
        let pids = df.column(col::PRODUCT_ID)?.cast(&DataType::String)?;
        let start = df.column(col::START_DATE)?.cast(&DataType::Int32)?;
        let n = idx.i64()?.iter().flatten().max().map_or(0, |m| m as usize + 1);
        let mut rows = vec![(String::new(), String::new(), None); n];
        for (((i, id), pid), st) in idx.i64()?.iter().zip(ids.str()?.iter()).zip(pids.str()?.iter()).zip(start.i32()?.iter()) {
            if let Some(i) = i {
                rows[i as usize] = (id.unwrap_or_default().to_string(), pid.unwrap_or_default().to_string(), st);
            }
        }
        Ok(Campaigns { rows })
    }

    /// The first campaign of `product` that started in `[from, to]`.
    fn created_for(&self, product: &str, from: Day, to: Day) -> Option<String> {
        self.rows
            .iter()
            .filter(|(_, p, st)| p == product && st.is_some_and(|st| st >= from && st <= to))
            .min_by_key(|(id, _, st)| (*st, id.clone()))
            .map(|(id, _, _)| id.clone())
    }

    /// The `wanted` campaigns' days from `first` on: one filter over the
    /// day column, then the few rows left split by campaign.
    fn days(&self, valid: &ValidBatch, wanted: &HashSet<&str>, first: Day) -> PolarsResult<CampaignDays> {
        let cd = &valid.campaign_daily;
        // The feed's oldest day, not the oldest day read: a run reads only
        // its reach, and "the data starts d days before the action" is about the feed.
        let start = valid.campaign_data_start;
        let idx: Vec<i64> = self.rows.iter().enumerate().filter(|(_, r)| wanted.contains(r.0.as_str())).map(|(i, _)| i as i64).collect();
        let n = idx.len();
        let wanted_idx = DataFrame::new(n, vec![Column::new(CIDX.into(), idx)])?.lazy();
        let df = cd
            .clone()
            .lazy()
            .filter(col(col::DATE).cast(DataType::Int32).gt_eq(lit(first)))
            .with_column(col(CIDX).cast(DataType::Int64))
            .join(wanted_idx, [col(CIDX)], [col(CIDX)], JoinArgs::new(JoinType::Inner))
            .select([col(CIDX).cast(DataType::Int64), col(col::DATE).cast(DataType::Int32), col(col::SPEND).cast(DataType::Float64), col(col::REVENUE).cast(DataType::Float64)])
            .collect()?;
        let mut by_campaign: HashMap<String, BTreeMap<Day, DayPnl>> = HashMap::new();
        let (ci, dt) = (df.column(CIDX)?.i64()?, df.column(col::DATE)?.i32()?);
        let (sp, rv) = (df.column(col::SPEND)?.f64()?, df.column(col::REVENUE)?.f64()?);
        for k in 0..df.height() {
            let (Some(i), Some(day)) = (ci.get(k), dt.get(k)) else { continue };
            let id = self.rows[i as usize].0.clone();
            let e = by_campaign.entry(id).or_default().entry(day).or_default();
            e.spend += sp.get(k).unwrap_or(0.0);
            e.revenue += rv.get(k).unwrap_or(0.0);
        }
        Ok(CampaignDays { by_campaign, start })
    }
}
