-- Every rendering of a run's report is kept, so `campaign-pilot report RUN_ID
-- --format md|html|json|csv` gives back exactly what the run wrote.
ALTER TABLE reports ADD COLUMN decisions_csv TEXT;
ALTER TABLE reports ADD COLUMN html TEXT;
