-- Acting exactly once: one journal row per deterministic action key
-- (planned -> sent -> applied | failed), and an audit history of every change
-- campaign-pilot made or was asked to make, with before and after values.

CREATE TABLE action_journal (
    action_key     TEXT PRIMARY KEY,
    as_of          TEXT NOT NULL,
    run_id         TEXT NOT NULL,
    campaign_id    TEXT NOT NULL,
    product_id     TEXT NOT NULL,
    kind           TEXT NOT NULL,
    from_budget    DOUBLE PRECISION NOT NULL,
    to_budget      DOUBLE PRECISION NOT NULL,
    paused_by      TEXT,
    effective_date TEXT NOT NULL,
    state          TEXT NOT NULL,
    attempts       BIGINT NOT NULL,
    last_error     TEXT,
    -- the run (or approve / rollback) that applied it
    applied_by     TEXT,
    updated_at     TEXT NOT NULL
);
CREATE INDEX action_journal_as_of ON action_journal (as_of);
CREATE INDEX action_journal_applied_by ON action_journal (applied_by);

CREATE TABLE audit (
    audit_id    TEXT PRIMARY KEY,
    at          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    action_key  TEXT NOT NULL,
    campaign_id TEXT NOT NULL,
    product_id  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    before_value DOUBLE PRECISION NOT NULL,
    after_value  DOUBLE PRECISION NOT NULL,
    status      TEXT NOT NULL,
    note        TEXT NOT NULL
);
CREATE INDEX audit_campaign ON audit (campaign_id);
