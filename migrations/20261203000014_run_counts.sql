-- Each run's decisions and actions counted once, when the run is stored
-- (issue 17). The list of runs (reports/index.html, written by every run,
-- and `report --list`) counted every decision and action ever stored with a
-- GROUP BY: 0.8 s at two months of daily runs of 10,000 campaigns, and
-- growing by the day. `counted` is 'decision:<name>' or 'actions'. Runs
-- stored before are counted here from their rows.
CREATE TABLE run_counts (
    run_id  TEXT NOT NULL REFERENCES runs (run_id),
    counted TEXT NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (run_id, counted)
);
INSERT INTO run_counts (run_id, counted, n) SELECT run_id, 'decision:' || decision, COUNT(*) FROM decisions GROUP BY run_id, decision;
INSERT INTO run_counts (run_id, counted, n) SELECT run_id, 'actions', COUNT(*) FROM proposed_actions GROUP BY run_id;
-- An action's status changes after its run (applied on review, rolled
-- back): the applied ones are counted live, found through this index.
CREATE INDEX proposed_actions_status ON proposed_actions (status, run_id);
