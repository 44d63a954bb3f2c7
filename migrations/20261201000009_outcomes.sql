-- The learning loop (SPEC §13): each applied action followed up after
-- `learning.follow_up_days`, once per follow-up length. The columns are what
-- `outcomes` filters and sorts by; `body` is the whole follow-up as JSON
-- (windows before and after, forecast, the curve's band, hit or miss).
CREATE TABLE action_outcomes (
    action_key     TEXT NOT NULL,
    follow_up_days BIGINT NOT NULL,
    action_as_of   TEXT NOT NULL,
    checked_as_of  TEXT NOT NULL,
    campaign_id    TEXT NOT NULL,
    product_id     TEXT NOT NULL,
    rule           TEXT NOT NULL,
    observed_delta DOUBLE PRECISION NOT NULL,
    hit            BIGINT,
    run_id         TEXT NOT NULL,
    body           TEXT NOT NULL,
    PRIMARY KEY (action_key, follow_up_days)
);
CREATE INDEX action_outcomes_as_of ON action_outcomes (action_as_of);
CREATE INDEX action_outcomes_campaign ON action_outcomes (campaign_id);
