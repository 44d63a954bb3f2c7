-- `backfill --from --to`: one row per replayed day, written in the same
-- transaction as the day's run row and decisions, so a day is either done
-- (and skipped on resume) or not there at all.
CREATE TABLE backfill_days (
    as_of           TEXT PRIMARY KEY,
    run_id          TEXT NOT NULL REFERENCES runs (run_id),
    finished_at     TEXT NOT NULL,
    campaigns       BIGINT NOT NULL,
    actions         BIGINT NOT NULL,
    new_campaigns   BIGINT NOT NULL,
    budget_before   DOUBLE PRECISION NOT NULL,
    budget_after    DOUBLE PRECISION NOT NULL,
    savings         DOUBLE PRECISION NOT NULL,
    decision_counts TEXT NOT NULL
);
