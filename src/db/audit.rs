//! SQL of the audit history (migration 0002): every change campaign-pilot
//! made or was asked to make, with before and after values.

use super::{get, get_name, values_sql, Db, DbError};
use crate::model::audit::{AuditEntry, HistoryRow};

const TABLE: &str = "audit";

/// Inserts audit lines inside the caller's transaction.
pub(super) async fn insert_audit(tx: &mut sqlx::Transaction<'_, sqlx::Any>, audit: &[AuditEntry<'_>], now: &str) -> Result<(), DbError> {
    for chunk in audit.chunks(500) {
        let sql = values_sql(
            "INSERT INTO audit (audit_id, at, actor, run_id, action_key, campaign_id, product_id, kind, before_value, after_value, status, note) VALUES ",
            12,
            chunk.len(),
        );
        let mut q = sqlx::query(&sql);
        for e in chunk {
            q = q
                .bind(uuid::Uuid::now_v7().to_string())
                .bind(now.to_string())
                .bind(e.actor.as_str())
                .bind(e.run_id.to_string())
                .bind(e.action_key.to_string())
                .bind(e.campaign_id.to_string())
                .bind(e.product_id.to_string())
                .bind(e.kind.as_str())
                .bind(e.before)
                .bind(e.after)
                .bind(e.status.as_str())
                .bind(e.note.to_string());
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

impl Db {
    /// One audit line, in a transaction of its own.
    pub async fn audit(&self, e: &AuditEntry<'_>) -> Result<(), DbError> {
        let mut tx = self.pool.begin().await?;
        insert_audit(&mut tx, std::slice::from_ref(e), &chrono::Utc::now().to_rfc3339()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The audit history, oldest first, optionally for one campaign.
    pub async fn history(&self, campaign: Option<&str>) -> Result<Vec<HistoryRow>, DbError> {
        let rows = sqlx::query(
            "SELECT at, actor, run_id, action_key, campaign_id, product_id, kind, before_value, after_value, status, note \
             FROM audit WHERE ($1 = '' OR campaign_id = $2) ORDER BY at, audit_id",
        )
        .bind(campaign.unwrap_or(""))
        .bind(campaign.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(HistoryRow {
                    at: get(r, TABLE, "at")?,
                    actor: get_name(r, TABLE, "actor")?,
                    run_id: get(r, TABLE, "run_id")?,
                    action_key: get(r, TABLE, "action_key")?,
                    campaign_id: get(r, TABLE, "campaign_id")?,
                    product_id: get(r, TABLE, "product_id")?,
                    kind: get_name(r, TABLE, "kind")?,
                    before: get(r, TABLE, "before_value")?,
                    after: get(r, TABLE, "after_value")?,
                    status: get_name(r, TABLE, "status")?,
                    note: get(r, TABLE, "note")?,
                })
            })
            .collect()
    }
}
