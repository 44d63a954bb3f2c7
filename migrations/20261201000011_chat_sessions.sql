-- Chat sessions kept in the database when no Redis is configured (SPEC §12):
-- the session's turns and state as JSON, and when it expires
-- (session.ttl_s after its last turn); an expired session is gone.
CREATE TABLE chat_sessions (
    session_id TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
