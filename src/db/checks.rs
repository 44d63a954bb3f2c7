//! SQL of the daily files' older rows' checks (migration 0012): one JSON
//! body per daily table, the newest run's, which the next run starts from.

use super::{get, Db, DbError};
use crate::model::batch::StoredCheck;
use crate::model::contract::Table;

impl Db {
    /// The check kept for `table`, if any. A body that no longer decodes
    /// (written by another version) is as good as none: the rows are
    /// judged again.
    pub async fn stored_check(&self, table: Table) -> Result<Option<StoredCheck>, DbError> {
        let row = sqlx::query("SELECT body FROM checked_files WHERE table_name = $1").bind(table.name()).fetch_optional(&self.pool).await?;
        let Some(row) = row else { return Ok(None) };
        let body: String = get(&row, "checked_files", "body")?;
        Ok(serde_json::from_str(&body).inspect_err(|e| tracing::info!(table = table.name(), error = %e, "a kept check does not decode: the older rows are judged again")).ok())
    }

    pub async fn put_checks(&self, checks: &[StoredCheck]) -> Result<(), DbError> {
        for c in checks {
            sqlx::query("INSERT INTO checked_files (table_name, body) VALUES ($1, $2) ON CONFLICT (table_name) DO UPDATE SET body = excluded.body")
                .bind(c.table.name())
                .bind(serde_json::to_string(c)?)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }
}
