-- Model responses keyed by a hash of (model, prompt): an identical rerun
-- makes no request.
CREATE TABLE llm_cache (
    prompt_hash TEXT PRIMARY KEY,
    model       TEXT NOT NULL,
    response    TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
