-- campaign-pilot's run history. Portable SQL: the same file runs on SQLite
-- and PostgreSQL (TEXT, BIGINT and DOUBLE PRECISION only; JSON kept as TEXT).

CREATE TABLE runs (
    run_id      TEXT PRIMARY KEY,
    as_of       TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    status      TEXT NOT NULL,
    dry_run     BIGINT NOT NULL,
    mode        TEXT NOT NULL
);
CREATE INDEX runs_as_of ON runs (as_of);

CREATE TABLE decisions (
    run_id          TEXT NOT NULL REFERENCES runs (run_id),
    campaign_id     TEXT NOT NULL,
    product_id      TEXT NOT NULL,
    decision        TEXT NOT NULL,
    baseline        TEXT NOT NULL,
    reasons         TEXT NOT NULL,
    metrics         TEXT NOT NULL,
    budget_current  DOUBLE PRECISION NOT NULL,
    budget_proposed DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (run_id, campaign_id)
);

CREATE TABLE proposed_actions (
    run_id         TEXT NOT NULL REFERENCES runs (run_id),
    action_key     TEXT NOT NULL,
    campaign_id    TEXT NOT NULL,
    product_id     TEXT NOT NULL,
    kind           TEXT NOT NULL,
    from_budget    DOUBLE PRECISION NOT NULL,
    to_budget      DOUBLE PRECISION NOT NULL,
    paused_by      TEXT,
    effective_date TEXT NOT NULL,
    status         TEXT NOT NULL,
    reason         TEXT NOT NULL,
    PRIMARY KEY (run_id, action_key)
);

CREATE TABLE quarantine (
    run_id      TEXT NOT NULL REFERENCES runs (run_id),
    table_name  TEXT NOT NULL,
    line        BIGINT NOT NULL,
    column_name TEXT NOT NULL,
    reason      TEXT NOT NULL,
    raw_text    TEXT NOT NULL
);
CREATE INDEX quarantine_run ON quarantine (run_id);

CREATE TABLE reports (
    run_id      TEXT PRIMARY KEY REFERENCES runs (run_id),
    report_json TEXT NOT NULL,
    markdown    TEXT NOT NULL
);
