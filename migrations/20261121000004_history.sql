-- Incremental history for the API connectors. Fetched days are kept here,
-- so a daily run asks the store and the ad platform only for the days it
-- lacks plus the tails that can still change, and `backfill` reads history
-- from the database. `source` names the peer (kind and URL or account), so
-- two stores never mix.

-- Non-zero product days (a missing day counts as zero). A null is a value
-- the API sent that was not a number: the validator quarantines it.
CREATE TABLE history_product_daily (
    source       TEXT NOT NULL,
    date         TEXT NOT NULL,
    product_id   TEXT NOT NULL,
    units_sold   BIGINT,
    revenue      DOUBLE PRECISION,
    PRIMARY KEY (source, date, product_id)
);

-- Product page views from the separate views source (GA4 or a file).
CREATE TABLE history_views (
    source       TEXT NOT NULL,
    date         TEXT NOT NULL,
    product_id   TEXT NOT NULL,
    views        BIGINT,
    PRIMARY KEY (source, date, product_id)
);

CREATE TABLE history_campaign_daily (
    source        TEXT NOT NULL,
    date          TEXT NOT NULL,
    campaign_id   TEXT NOT NULL,
    impressions   BIGINT,
    clicks        BIGINT,
    spend         DOUBLE PRECISION,
    conversions   BIGINT,
    revenue       DOUBLE PRECISION,
    new_customers BIGINT,
    PRIMARY KEY (source, date, campaign_id)
);

-- Which days of which feed are complete in the tables above.
CREATE TABLE history_fetched (
    source     TEXT NOT NULL,
    feed       TEXT NOT NULL,
    date       TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (source, feed, date)
);

-- Impact actions, one row per action id (a re-read replaces it: pending
-- actions change state until they lock).
CREATE TABLE impact_actions (
    source       TEXT NOT NULL,
    action_id    TEXT NOT NULL,
    ad_id        TEXT NOT NULL,
    event_date   TEXT NOT NULL,
    state        TEXT NOT NULL,
    amount       DOUBLE PRECISION,
    cost         DOUBLE PRECISION,
    new_customer BIGINT NOT NULL,
    PRIMARY KEY (source, action_id)
);
CREATE INDEX impact_actions_day ON impact_actions (source, event_date);

-- What Impact cannot hold: each ad's daily budget and who paused it.
CREATE TABLE ads_ledger (
    source       TEXT NOT NULL,
    campaign_id  TEXT NOT NULL,
    daily_budget DOUBLE PRECISION NOT NULL,
    paused_by    TEXT,
    paused_at    TEXT,
    created_key  TEXT,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (source, campaign_id)
);
