-- A run's report is stored compressed (zstd, issue 17): at 10,000 campaigns
-- its four formats are about 52 MB of text a run (18 GB a year of daily
-- runs, and most of the time it took to store them) and about 7 MB packed.
-- A run stored since keeps each format in its *_zst column and leaves the
-- text columns empty ('' where they are NOT NULL, else NULL); a run stored
-- before keeps its text, and is read from it.
ALTER TABLE reports ADD COLUMN report_json_zst BYTEA;
ALTER TABLE reports ADD COLUMN markdown_zst BYTEA;
ALTER TABLE reports ADD COLUMN decisions_csv_zst BYTEA;
ALTER TABLE reports ADD COLUMN html_zst BYTEA;
