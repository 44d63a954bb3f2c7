//! Where chat sessions live (SPEC §12): Redis when `[session] redis_url` is
//! set (`SET key body EX ttl`, so Redis forgets them itself), else the
//! database's `chat_sessions` table (expiry checked on read). Both keep one
//! JSON body per session; the chat does not know which it talks to.

use chrono::SecondsFormat;
use redis::aio::ConnectionManager;

use crate::db::{Db, DbError};

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Db(#[from] DbError),
    /// Redis did not answer or refused; the URL is never in the message.
    #[error("session.redis_url: redis: {0}")]
    Redis(String),
}

fn redis_err(e: redis::RedisError) -> SessionError {
    // A connection error can echo the URL, password included.
    SessionError::Redis(crate::secrets::redact(&format!("{:?}: {}", e.kind(), e.detail().unwrap_or("no detail"))))
}

#[derive(Clone)]
pub enum Sessions {
    Db(Db),
    Redis(ConnectionManager),
}

const PREFIX: &str = "campaign-pilot:session:";

impl Sessions {
    /// Redis when `redis_url` is set (connected now, so a bad URL fails at
    /// start), else `db`.
    pub async fn open(redis_url: &str, db: Db) -> Result<Sessions, SessionError> {
        if redis_url.is_empty() {
            return Ok(Sessions::Db(db));
        }
        crate::secrets::hold(&secrecy::SecretString::from(redis_url.to_string()));
        let client = redis::Client::open(redis_url).map_err(redis_err)?;
        let timeout = Some(std::time::Duration::from_secs(3));
        let config = redis::aio::ConnectionManagerConfig::new().set_number_of_retries(2).set_connection_timeout(timeout).set_response_timeout(timeout);
        let manager = client.get_connection_manager_with_config(config).await.map_err(redis_err)?;
        Ok(Sessions::Redis(manager))
    }

    pub async fn get(&self, id: &str, now: chrono::DateTime<chrono::Utc>) -> Result<Option<String>, SessionError> {
        match self {
            Sessions::Db(db) => Ok(db.chat_session(id, &now.to_rfc3339_opts(SecondsFormat::Millis, true)).await?),
            Sessions::Redis(m) => redis::cmd("GET").arg(format!("{PREFIX}{id}")).query_async(&mut m.clone()).await.map_err(redis_err),
        }
    }

    pub async fn put(&self, id: &str, body: &str, now: chrono::DateTime<chrono::Utc>, ttl_s: u64) -> Result<(), SessionError> {
        match self {
            Sessions::Db(db) => {
                let ttl = chrono::Duration::seconds(ttl_s.min(i64::MAX as u64 / 1000) as i64);
                Ok(db.put_chat_session(id, body, &(now + ttl).to_rfc3339_opts(SecondsFormat::Millis, true)).await?)
            }
            Sessions::Redis(m) => redis::cmd("SET")
                .arg(format!("{PREFIX}{id}"))
                .arg(body)
                .arg("EX")
                .arg(ttl_s)
                .query_async::<()>(&mut m.clone())
                .await
                .map_err(redis_err),
        }
    }
}
