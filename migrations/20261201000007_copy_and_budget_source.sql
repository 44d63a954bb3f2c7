-- A create action carries its ad copy (name, headline, description as
-- JSON), journaled and proposed with it, so `approve` sends what the run
-- wrote. The ledger says who set each budget: only one someone set
-- (the pipeline or a person) is enforced; one observed from an ad's own
-- spend when it was first seen is not. Rows from before were written by the
-- pipeline.
ALTER TABLE action_journal ADD COLUMN copy TEXT;
ALTER TABLE proposed_actions ADD COLUMN copy TEXT;
ALTER TABLE ads_ledger ADD COLUMN budget_source TEXT NOT NULL DEFAULT 'pipeline';
