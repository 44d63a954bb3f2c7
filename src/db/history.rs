//! SQL of the incremental history (migration 0004): fetched days, daily
//! rows, Impact actions and the ads ledger.

use std::collections::{BTreeSet, HashMap};

use sqlx::Row;

use super::{values_sql, Db, DbError};
use crate::model::{date_of, day_of, Day};

/// One product's sales on one day, as stored (`None` = not a number in the feed).
#[derive(Debug, Clone, PartialEq)]
pub struct SalesRow {
    pub day: Day,
    pub product_id: String,
    pub units: Option<i64>,
    pub revenue: Option<f64>,
}

/// One campaign-day as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignDayRow {
    pub day: Day,
    pub campaign_id: String,
    pub impressions: Option<i64>,
    pub clicks: Option<i64>,
    pub spend: Option<f64>,
    pub conversions: Option<i64>,
    pub revenue: Option<f64>,
    pub new_customers: Option<i64>,
}

/// One ad's entry in the ledger.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LedgerEntry {
    pub daily_budget: f64,
    pub paused_by: Option<String>,
    pub paused_at: Option<String>,
    pub created_key: Option<String>,
}

fn parse_day(s: &str) -> Option<Day> {
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().map(day_of)
}

/// Rows per multi-row INSERT: under SQLite's and PostgreSQL's bind limits.
const CHUNK: usize = 1_000;

impl Db {
    /// Rows of a query whose `$1` is the source and `$2..$3` a date range.
    async fn in_range(&self, sql: &str, source: &str, from: Day, to: Day) -> Result<Vec<sqlx::any::AnyRow>, DbError> {
        Ok(sqlx::query(sql)
            .bind(source.to_string())
            .bind(date_of(from).to_string())
            .bind(date_of(to).to_string())
            .fetch_all(&self.pool)
            .await?)
    }

    /// The days of `feed` already complete for `source` within `from..=to`.
    pub async fn fetched_days(&self, source: &str, feed: &str, from: Day, to: Day) -> Result<BTreeSet<Day>, DbError> {
        let rows = sqlx::query("SELECT date FROM history_fetched WHERE source = $1 AND feed = $2 AND date >= $3 AND date <= $4")
            .bind(source.to_string())
            .bind(feed.to_string())
            .bind(date_of(from).to_string())
            .bind(date_of(to).to_string())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().filter_map(|r| parse_day(&r.get::<String, _>(0))).collect())
    }

    /// Replaces the sales rows of `days` (the fetched values win) and marks
    /// those days complete, in one transaction.
    pub async fn store_sales_days(&self, source: &str, days: &[Day], rows: &[SalesRow]) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        delete_days(&mut tx, self.is_postgres(), "history_product_daily", source, days).await?;
        for chunk in rows.chunks(CHUNK) {
            let sql = values_sql("INSERT INTO history_product_daily (source, date, product_id, units_sold, revenue) VALUES ", 5, chunk.len());
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q.bind(source.to_string()).bind(date_of(r.day).to_string()).bind(r.product_id.clone()).bind(r.units).bind(r.revenue);
            }
            q.execute(&mut *tx).await?;
        }
        mark_fetched(&mut tx, source, "sales", days, &chrono::Utc::now().to_rfc3339()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the views rows of `days` and marks them complete.
    pub async fn store_views_days(&self, source: &str, days: &[Day], rows: &[(Day, String, i64)]) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        delete_days(&mut tx, self.is_postgres(), "history_views", source, days).await?;
        for chunk in rows.chunks(CHUNK) {
            let sql = values_sql("INSERT INTO history_views (source, date, product_id, views) VALUES ", 4, chunk.len());
            let mut q = sqlx::query(&sql);
            for (d, pid, v) in chunk {
                q = q.bind(source.to_string()).bind(date_of(*d).to_string()).bind(pid.clone()).bind(*v);
            }
            q.execute(&mut *tx).await?;
        }
        mark_fetched(&mut tx, source, "views", days, &chrono::Utc::now().to_rfc3339()).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn sales_days(&self, source: &str, from: Day, to: Day) -> Result<Vec<SalesRow>, DbError> {
        let rows = self.in_range("SELECT date, product_id, units_sold, revenue FROM history_product_daily \
             WHERE source = $1 AND date >= $2 AND date <= $3", source, from, to).await?;
        Ok(rows
            .iter()
            .filter_map(|r| Some(SalesRow { day: parse_day(&r.get::<String, _>(0))?, product_id: r.get(1), units: r.get(2), revenue: r.get(3) }))
            .collect())
    }

    pub async fn views_days(&self, source: &str, from: Day, to: Day) -> Result<Vec<(Day, String, i64)>, DbError> {
        let rows = self.in_range("SELECT date, product_id, views FROM history_views WHERE source = $1 AND date >= $2 AND date <= $3", source, from, to).await?;
        Ok(rows
            .iter()
            .filter_map(|r| Some((parse_day(&r.get::<String, _>(0))?, r.get::<String, _>(1), r.get::<Option<i64>, _>(2).unwrap_or(0))))
            .collect())
    }

    /// Replaces the campaign rows of `days` and marks them complete.
    pub async fn store_campaign_days(&self, source: &str, days: &[Day], rows: &[CampaignDayRow]) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        let now = chrono::Utc::now().to_rfc3339();
        delete_days(&mut tx, self.is_postgres(), "history_campaign_daily", source, days).await?;
        for chunk in rows.chunks(CHUNK) {
            let sql = values_sql(
                "INSERT INTO history_campaign_daily (source, date, campaign_id, impressions, clicks, spend, conversions, revenue, new_customers) VALUES ",
                9,
                chunk.len(),
            );
            let mut q = sqlx::query(&sql);
            for r in chunk {
                q = q
                    .bind(source.to_string())
                    .bind(date_of(r.day).to_string())
                    .bind(r.campaign_id.clone())
                    .bind(r.impressions)
                    .bind(r.clicks)
                    .bind(r.spend)
                    .bind(r.conversions)
                    .bind(r.revenue)
                    .bind(r.new_customers);
            }
            q.execute(&mut *tx).await?;
        }
        mark_fetched(&mut tx, source, "campaign_daily", days, &now).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn campaign_days(&self, source: &str, from: Day, to: Day) -> Result<Vec<CampaignDayRow>, DbError> {
        let rows = self.in_range("SELECT date, campaign_id, impressions, clicks, spend, conversions, revenue, new_customers FROM history_campaign_daily \
             WHERE source = $1 AND date >= $2 AND date <= $3 ORDER BY campaign_id, date", source, from, to).await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                Some(CampaignDayRow {
                    day: parse_day(&r.get::<String, _>(0))?,
                    campaign_id: r.get(1),
                    impressions: r.get(2),
                    clicks: r.get(3),
                    spend: r.get(4),
                    conversions: r.get(5),
                    revenue: r.get(6),
                    new_customers: r.get(7),
                })
            })
            .collect())
    }

    /// Upserts Impact actions by id (a re-read replaces state and amounts)
    /// and marks `days` complete for the actions feed.
    pub async fn store_impact_actions(&self, source: &str, days: &[Day], actions: &[crate::connectors::impact::ImpactAction]) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        let now = chrono::Utc::now().to_rfc3339();
        for chunk in actions.chunks(CHUNK) {
            let sql = format!(
                "{} ON CONFLICT (source, action_id) DO UPDATE SET ad_id = excluded.ad_id, event_date = excluded.event_date, \
                 state = excluded.state, amount = excluded.amount, cost = excluded.cost, new_customer = excluded.new_customer",
                values_sql("INSERT INTO impact_actions (source, action_id, ad_id, event_date, state, amount, cost, new_customer) VALUES ", 8, chunk.len())
            );
            let mut q = sqlx::query(&sql);
            for a in chunk {
                q = q
                    .bind(source.to_string())
                    .bind(a.id.clone())
                    .bind(a.ad_id.clone())
                    .bind(date_of(a.day).to_string())
                    .bind(a.state.clone())
                    .bind(a.amount)
                    .bind(a.cost)
                    .bind(i64::from(a.new_customer));
            }
            q.execute(&mut *tx).await?;
        }
        mark_fetched(&mut tx, source, "actions", days, &now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Daily numbers per ad from the stored actions (reversed ones left out).
    pub async fn impact_campaign_days(&self, source: &str, from: Day, to: Day) -> Result<Vec<CampaignDayRow>, DbError> {
        let rows = self.in_range("SELECT event_date, ad_id, COUNT(*), SUM(amount), SUM(cost), CAST(SUM(new_customer) AS BIGINT) FROM impact_actions \
             WHERE source = $1 AND event_date >= $2 AND event_date <= $3 AND state <> 'REVERSED' \
             GROUP BY event_date, ad_id ORDER BY ad_id, event_date", source, from, to).await?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let cents = |v: Option<f64>| v.map(|x| (x * 100.0).round() / 100.0);
                Some(CampaignDayRow {
                    day: parse_day(&r.get::<String, _>(0))?,
                    campaign_id: r.get(1),
                    // Impact reports no impressions or clicks per ad per day.
                    impressions: Some(0),
                    clicks: Some(0),
                    spend: cents(r.get(4)),
                    conversions: Some(r.get(2)),
                    revenue: cents(r.get(3)),
                    new_customers: Some(r.get(5)),
                })
            })
            .collect())
    }

    pub async fn ledger(&self, source: &str) -> Result<HashMap<String, LedgerEntry>, DbError> {
        let rows = sqlx::query("SELECT campaign_id, daily_budget, paused_by, paused_at, created_key FROM ads_ledger WHERE source = $1")
            .bind(source.to_string())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get::<String, _>(0),
                    LedgerEntry { daily_budget: r.get(1), paused_by: r.get(2), paused_at: r.get(3), created_key: r.get(4) },
                )
            })
            .collect())
    }

    /// One ad's ledger entry.
    pub async fn ledger_entry(&self, source: &str, campaign_id: &str) -> Result<Option<LedgerEntry>, DbError> {
        let row = sqlx::query("SELECT daily_budget, paused_by, paused_at, created_key FROM ads_ledger WHERE source = $1 AND campaign_id = $2")
            .bind(source.to_string())
            .bind(campaign_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| LedgerEntry { daily_budget: r.get(0), paused_by: r.get(1), paused_at: r.get(2), created_key: r.get(3) }))
    }

    /// The ad a create action made, as the ledger knows it.
    pub async fn ledger_created_by(&self, source: &str, key: &str) -> Result<Option<String>, DbError> {
        let row = sqlx::query("SELECT campaign_id FROM ads_ledger WHERE source = $1 AND created_key = $2")
            .bind(source.to_string())
            .bind(key.to_string())
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    pub async fn ledger_set(&self, source: &str, campaign_id: &str, e: &LedgerEntry) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO ads_ledger (source, campaign_id, daily_budget, paused_by, paused_at, created_key, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (source, campaign_id) DO UPDATE SET \
             daily_budget = excluded.daily_budget, paused_by = excluded.paused_by, paused_at = excluded.paused_at, \
             created_key = COALESCE(excluded.created_key, ads_ledger.created_key), updated_at = excluded.updated_at",
        )
        .bind(source.to_string())
        .bind(campaign_id.to_string())
        .bind(e.daily_budget)
        .bind(e.paused_by.clone())
        .bind(e.paused_at.clone())
        .bind(e.created_key.clone())
        .bind(chrono::Utc::now().to_rfc3339())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

async fn mark_fetched(tx: &mut sqlx::Transaction<'_, sqlx::Any>, source: &str, feed: &str, days: &[Day], now: &str) -> Result<(), DbError> {
    for chunk in days.chunks(CHUNK) {
        let sql = format!(
            "{} ON CONFLICT (source, feed, date) DO UPDATE SET fetched_at = excluded.fetched_at",
            values_sql("INSERT INTO history_fetched (source, feed, date, fetched_at) VALUES ", 4, chunk.len())
        );
        let mut q = sqlx::query(&sql);
        for d in chunk {
            q = q.bind(source.to_string()).bind(feed.to_string()).bind(date_of(*d).to_string()).bind(now.to_string());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Deletes `days` of a history table before they are written again. On
/// PostgreSQL the transaction first takes a lock on (table, source), so two
/// processes storing the same days (shards of one Indexed Job) take turns
/// instead of both inserting after both deleted (a duplicate key). SQLite
/// serializes writing transactions by itself.
async fn delete_days(tx: &mut sqlx::Transaction<'_, sqlx::Any>, postgres: bool, table: &str, source: &str, days: &[Day]) -> Result<(), DbError> {
    if postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1)::bigint)")
            .bind(format!("campaign-pilot:{table}:{source}"))
            .execute(&mut **tx)
            .await?;
    }
    for chunk in days.chunks(CHUNK) {
        let placeholders: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!("DELETE FROM {table} WHERE source = $1 AND date IN ({})", placeholders.join(", "));
        let mut q = sqlx::query(&sql).bind(source.to_string());
        for d in chunk {
            q = q.bind(date_of(*d).to_string());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}
