//! SQL of the LLM response cache (migration 0003): responses by a hash of
//! (model, prompt), so an identical rerun makes no request.

use super::{get, Db, DbError};

impl Db {
    pub async fn llm_cache_get(&self, hash: &str) -> Result<Option<String>, DbError> {
        let row = sqlx::query("SELECT response FROM llm_cache WHERE prompt_hash = $1").bind(hash).fetch_optional(&self.pool).await?;
        row.map(|r| get(&r, "llm_cache", "response")).transpose()
    }

    pub async fn llm_cache_put(&self, hash: &str, model: &str, response: &str) -> Result<(), DbError> {
        sqlx::query("INSERT INTO llm_cache (prompt_hash, model, response, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (prompt_hash) DO NOTHING")
            .bind(hash)
            .bind(model)
            .bind(response)
            .bind(chrono::Utc::now().to_rfc3339())
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
