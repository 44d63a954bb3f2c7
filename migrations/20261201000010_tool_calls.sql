-- Every tool call through the registry (SPEC §12): which tool, its
-- arguments as sent, who called (mcp over stdio, http, chat), whether it
-- answered, and a line of what it answered or why it refused.
CREATE TABLE tool_calls (
    call_id   TEXT PRIMARY KEY,
    at        TEXT NOT NULL,
    tool      TEXT NOT NULL,
    arguments TEXT NOT NULL,
    caller    TEXT NOT NULL,
    ok        BIGINT NOT NULL,
    summary   TEXT NOT NULL
);
CREATE INDEX tool_calls_at ON tool_calls (at);
