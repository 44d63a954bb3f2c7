-- Under the profit policy every action carries its forecast (expected
-- spend, revenue and profit per day with 80 % intervals, as JSON): kept with
-- the action in the journal and the proposals, so an approved proposal and a
-- later follow-up still know what was expected of it.
ALTER TABLE action_journal ADD COLUMN forecast TEXT;
ALTER TABLE proposed_actions ADD COLUMN forecast TEXT;
