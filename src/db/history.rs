//! SQL of the incremental history (migration 0004): fetched days, daily
//! rows, Impact actions and the ads ledger.

use std::collections::{BTreeSet, HashMap};

use super::{get, get_day, get_name, get_opt_day, insert_json, placeholders, rows_per_statement, values_sql, Db, DbError};
use crate::model::campaign::PausedBy;
use crate::model::day::{date_of, Day};
use crate::model::history::{CampaignDayRow, ImpactAction, LedgerEntry, SalesRow, ViewsRow, IMPACT_REVERSED};

impl Db {
    /// Rows of a query whose `$1` is the source, `$2..$3` a date range and
    /// `$4…` the `extra` values.
    async fn in_range(&self, sql: &str, source: &str, from: Day, to: Day, extra: &[&str]) -> Result<Vec<sqlx::any::AnyRow>, DbError> {
        let mut q = sqlx::query(sql).bind(source.to_string()).bind(date_of(from).to_string()).bind(date_of(to).to_string());
        for e in extra {
            q = q.bind(e.to_string());
        }
        Ok(q.fetch_all(&self.pool).await?)
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
        rows.iter().map(|r| get_day(r, "history_fetched", "date")).collect()
    }

    /// Replaces the sales rows of `days` (the fetched values win) and marks
    /// those days complete, in one transaction.
    pub async fn store_sales_days(&self, source: &str, days: &[Day], rows: &[SalesRow]) -> Result<(), DbError> {
        let (table, head) = ("history_product_daily", "INSERT INTO history_product_daily (source, date, product_id, units_sold, revenue)");
        self.replace_days(table, "sales", head, &["text", "text", "bigint", "double precision"], source, days, rows, |r| {
            (date_of(r.day).to_string(), &r.product_id, r.units, r.revenue)
        })
        .await
    }

    /// Replaces the views rows of `days` and marks them complete.
    pub async fn store_views_days(&self, source: &str, days: &[Day], rows: &[ViewsRow]) -> Result<(), DbError> {
        let (table, head) = ("history_views", "INSERT INTO history_views (source, date, product_id, views)");
        self.replace_days(table, "views", head, &["text", "text", "bigint"], source, days, rows, |r| (date_of(r.day).to_string(), &r.product_id, r.views)).await
    }

    pub async fn sales_days(&self, source: &str, from: Day, to: Day) -> Result<Vec<SalesRow>, DbError> {
        let rows = self.in_range("SELECT date, product_id, units_sold, revenue FROM history_product_daily \
             WHERE source = $1 AND date >= $2 AND date <= $3", source, from, to, &[]).await?;
        const T: &str = "history_product_daily";
        rows.iter()
            .map(|r| {
                Ok(SalesRow {
                    day: get_day(r, T, "date")?,
                    product_id: get(r, T, "product_id")?,
                    units: get(r, T, "units_sold")?,
                    revenue: get(r, T, "revenue")?,
                })
            })
            .collect()
    }

    pub async fn views_days(&self, source: &str, from: Day, to: Day) -> Result<Vec<ViewsRow>, DbError> {
        let rows = self.in_range("SELECT date, product_id, views FROM history_views WHERE source = $1 AND date >= $2 AND date <= $3", source, from, to, &[]).await?;
        const T: &str = "history_views";
        rows.iter()
            .map(|r| {
                Ok(ViewsRow {
                    day: get_day(r, T, "date")?,
                    product_id: get(r, T, "product_id")?,
                    views: get::<Option<i64>>(r, T, "views")?.unwrap_or(0),
                })
            })
            .collect()
    }

    /// Replaces the campaign rows of `days` and marks them complete.
    pub async fn store_campaign_days(&self, source: &str, days: &[Day], rows: &[CampaignDayRow]) -> Result<(), DbError> {
        let table = "history_campaign_daily";
        let head = "INSERT INTO history_campaign_daily (source, date, campaign_id, impressions, clicks, spend, conversions, revenue, new_customers)";
        let cells = ["text", "text", "bigint", "bigint", "double precision", "bigint", "double precision", "bigint"];
        self.replace_days(table, "campaign_daily", head, &cells, source, days, rows, |r| {
            (date_of(r.day).to_string(), &r.campaign_id, r.impressions, r.clicks, r.spend, r.conversions, r.revenue, r.new_customers)
        })
        .await
    }

    /// The rows of `days` in `table` replaced by `rows` and those days of
    /// `feed` marked complete, in one transaction (the three daily tables).
    #[allow(clippy::too_many_arguments)]
    async fn replace_days<'a, T, R: serde::Serialize>(
        &self,
        table: &str,
        feed: &str,
        head: &str,
        cells: &[&str],
        source: &str,
        days: &[Day],
        rows: &'a [T],
        row: impl Fn(&'a T) -> R,
    ) -> Result<(), DbError> {
        if let Some(pool) = &self.pg {
            super::copy::write(pool, table, feed, head, super::copy::Write::Replace, source, days, rows, row).await?;
            return Ok(());
        }
        let pg = self.is_postgres();
        let mut tx = self.pool.begin().await?;
        delete_days(&mut tx, pg, table, source, days).await?;
        insert_json(&mut tx, pg, head, cells, "", source, rows, row).await?;
        mark_fetched(&mut tx, source, feed, days, &chrono::Utc::now().to_rfc3339()).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn campaign_days(&self, source: &str, from: Day, to: Day) -> Result<Vec<CampaignDayRow>, DbError> {
        let rows = self.in_range("SELECT date, campaign_id, impressions, clicks, spend, conversions, revenue, new_customers FROM history_campaign_daily \
             WHERE source = $1 AND date >= $2 AND date <= $3 ORDER BY campaign_id, date", source, from, to, &[]).await?;
        const T: &str = "history_campaign_daily";
        rows.iter()
            .map(|r| {
                Ok(CampaignDayRow {
                    day: get_day(r, T, "date")?,
                    campaign_id: get(r, T, "campaign_id")?,
                    impressions: get(r, T, "impressions")?,
                    clicks: get(r, T, "clicks")?,
                    spend: get(r, T, "spend")?,
                    conversions: get(r, T, "conversions")?,
                    revenue: get(r, T, "revenue")?,
                    new_customers: get(r, T, "new_customers")?,
                })
            })
            .collect()
    }

    /// Upserts Impact actions by id (a re-read replaces state and amounts)
    /// and marks `days` complete for the actions feed. Returns how many
    /// actions were new or changed (only those are written).
    pub async fn store_impact_actions(&self, source: &str, days: &[Day], actions: &[ImpactAction]) -> Result<u64, DbError> {
        // A re-read action is written again only when something about it
        // changed (most of the re-read tail is as it was).
        const UPDATED: [&str; 6] = ["ad_id", "event_date", "state", "amount", "cost", "new_customer"];
        let set = UPDATED.map(|c| format!("{c} = excluded.{c}")).join(", ");
        let changed = UPDATED.map(|c| format!("impact_actions.{c} IS DISTINCT FROM excluded.{c}")).join(" OR ");
        let tail = format!("ON CONFLICT (source, action_id) DO UPDATE SET {set} WHERE {changed}");
        let head = "INSERT INTO impact_actions (source, action_id, ad_id, event_date, state, amount, cost, new_customer)";
        // An action read twice (pages that shifted) goes in once, as last
        // read: PostgreSQL's one statement could not change a row twice.
        let mut last: HashMap<&str, usize> = HashMap::with_capacity(actions.len());
        for (i, a) in actions.iter().enumerate() {
            last.insert(&a.id, i);
        }
        let once: Vec<&ImpactAction> = actions.iter().enumerate().filter(|(i, a)| last[a.id.as_str()] == *i).map(|(_, a)| a).collect();
        if let Some(pool) = &self.pg {
            return super::copy::write(pool, "impact_actions", "actions", head, super::copy::Write::Upsert(&tail), source, days, &once, |a| action_row(a)).await;
        }
        let mut tx = self.pool.begin().await?;
        let now = chrono::Utc::now().to_rfc3339();
        let cells = ["text", "text", "text", "text", "double precision", "double precision", "bigint"];
        let written = insert_json(&mut tx, self.is_postgres(), head, &cells, &tail, source, &once, |a| action_row(a)).await?;
        mark_fetched(&mut tx, source, "actions", days, &now).await?;
        tx.commit().await?;
        Ok(written)
    }

    /// Daily numbers per ad from the stored actions (reversed ones left out).
    pub async fn impact_campaign_days(&self, source: &str, from: Day, to: Day) -> Result<Vec<CampaignDayRow>, DbError> {
        let rows = self.in_range("SELECT event_date, ad_id, COUNT(*) AS n, SUM(amount) AS amount, SUM(cost) AS cost, CAST(SUM(new_customer) AS BIGINT) AS new_customers FROM impact_actions \
             WHERE source = $1 AND event_date >= $2 AND event_date <= $3 AND state <> $4 \
             GROUP BY event_date, ad_id ORDER BY ad_id, event_date", source, from, to, &[IMPACT_REVERSED]).await?;
        const T: &str = "impact_actions";
        let cents = |v: Option<f64>| v.map(|x| (x * 100.0).round() / 100.0);
        rows.iter()
            .map(|r| {
                Ok(CampaignDayRow {
                    day: get_day(r, T, "event_date")?,
                    campaign_id: get(r, T, "ad_id")?,
                    // Impact reports no impressions or clicks per ad per day.
                    impressions: Some(0),
                    clicks: Some(0),
                    spend: cents(get(r, T, "cost")?),
                    conversions: Some(get(r, T, "n")?),
                    revenue: cents(get(r, T, "amount")?),
                    new_customers: Some(get(r, T, "new_customers")?),
                })
            })
            .collect()
    }

    pub async fn ledger(&self, source: &str) -> Result<HashMap<String, LedgerEntry>, DbError> {
        let rows = sqlx::query("SELECT campaign_id, daily_budget, budget_source, paused_by, paused_at, created_key FROM ads_ledger WHERE source = $1")
            .bind(source.to_string())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((get(r, LEDGER, "campaign_id")?, ledger_entry(r)?))).collect()
    }

    /// One ad's ledger entry.
    pub async fn ledger_entry(&self, source: &str, campaign_id: &str) -> Result<Option<LedgerEntry>, DbError> {
        let row = sqlx::query("SELECT daily_budget, budget_source, paused_by, paused_at, created_key FROM ads_ledger WHERE source = $1 AND campaign_id = $2")
            .bind(source.to_string())
            .bind(campaign_id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(ledger_entry).transpose()
    }

    /// The ad a create action made, as the ledger knows it.
    pub async fn ledger_created_by(&self, source: &str, key: &str) -> Result<Option<String>, DbError> {
        let row = sqlx::query("SELECT campaign_id FROM ads_ledger WHERE source = $1 AND created_key = $2")
            .bind(source.to_string())
            .bind(key.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| get(&r, LEDGER, "campaign_id")).transpose()
    }

    pub async fn ledger_set(&self, source: &str, campaign_id: &str, e: &LedgerEntry) -> Result<(), DbError> {
        self.ledger_set_many(source, &[(campaign_id.to_string(), e.clone())]).await
    }

    /// Upserts ledger entries in one transaction.
    pub async fn ledger_set_many(&self, source: &str, entries: &[(String, LedgerEntry)]) -> Result<(), DbError> {
        let now = chrono::Utc::now().to_rfc3339();
        let mut tx = self.pool.begin().await?;
        for chunk in entries.chunks(rows_per_statement(8)) {
            let sql = format!(
                "{} ON CONFLICT (source, campaign_id) DO UPDATE SET \
                 daily_budget = excluded.daily_budget, budget_source = excluded.budget_source, paused_by = excluded.paused_by, \
                 paused_at = excluded.paused_at, created_key = COALESCE(excluded.created_key, ads_ledger.created_key), updated_at = excluded.updated_at",
                values_sql(
                    "INSERT INTO ads_ledger (source, campaign_id, daily_budget, budget_source, paused_by, paused_at, created_key, updated_at) VALUES ",
                    8,
                    chunk.len()
                )
            );
            let mut q = sqlx::query(&sql);
            for (id, e) in chunk {
                q = q
                    .bind(source.to_string())
                    .bind(id.clone())
                    .bind(e.daily_budget)
                    .bind(e.budget_source.as_str())
                    .bind(e.paused_by.map(PausedBy::as_str))
                    .bind(e.paused_at.map(|d| date_of(d).to_string()))
                    .bind(e.created_key.clone())
                    .bind(now.clone());
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

const LEDGER: &str = "ads_ledger";

fn ledger_entry(r: &sqlx::any::AnyRow) -> Result<LedgerEntry, DbError> {
    let paused_by: Option<String> = get(r, LEDGER, "paused_by")?;
    Ok(LedgerEntry {
        daily_budget: get(r, LEDGER, "daily_budget")?,
        budget_source: get_name(r, LEDGER, "budget_source")?,
        paused_by: PausedBy::parse_optional(paused_by.as_deref().unwrap_or(""))
            .map_err(|e| DbError::Decode { table: LEDGER, column: "paused_by", message: e.to_string() })?,
        paused_at: get_opt_day(r, LEDGER, "paused_at")?,
        created_key: get(r, LEDGER, "created_key")?,
    })
}

/// An Impact action's cells after its source, in the order of the insert's columns.
fn action_row(a: &ImpactAction) -> (&str, &str, String, &str, Option<f64>, Option<f64>, i64) {
    (&a.id, &a.ad_id, date_of(a.day).to_string(), &a.state, a.amount, a.cost, i64::from(a.new_customer))
}

async fn mark_fetched(tx: &mut sqlx::Transaction<'_, sqlx::Any>, source: &str, feed: &str, days: &[Day], now: &str) -> Result<(), DbError> {
    for chunk in days.chunks(rows_per_statement(4)) {
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
    for chunk in days.chunks(rows_per_statement(1)) {
        let sql = format!("DELETE FROM {table} WHERE source = $1 AND date IN ({})", placeholders(2, chunk.len()));
        let mut q = sqlx::query(&sql).bind(source.to_string());
        for d in chunk {
            q = q.bind(date_of(*d).to_string());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}
