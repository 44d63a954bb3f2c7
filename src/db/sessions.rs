//! SQL of chat sessions (migration 0011), the back end when no Redis is
//! configured: one JSON body per session, with its expiry.

use super::{get, Db, DbError};

impl Db {
    /// The session's body, unless it expired before `now` (RFC 3339; an
    /// expired one is deleted).
    pub async fn chat_session(&self, id: &str, now: &str) -> Result<Option<String>, DbError> {
        sqlx::query("DELETE FROM chat_sessions WHERE expires_at < $1").bind(now.to_string()).execute(&self.pool).await?;
        let row = sqlx::query("SELECT body FROM chat_sessions WHERE session_id = $1").bind(id.to_string()).fetch_optional(&self.pool).await?;
        row.map(|r| get(&r, "chat_sessions", "body")).transpose()
    }

    pub async fn put_chat_session(&self, id: &str, body: &str, expires_at: &str) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO chat_sessions (session_id, body, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (session_id) DO UPDATE SET body = excluded.body, expires_at = excluded.expires_at",
        )
        .bind(id.to_string())
        .bind(body.to_string())
        .bind(expires_at.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
