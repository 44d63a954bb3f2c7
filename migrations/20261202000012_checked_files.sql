-- What a run's check of a daily file's older rows came to (issue 17), for
-- the next run: the file, how to tell it unchanged (a fingerprint of its
-- bytes) and the check's counts, quarantine and ids, as one JSON body
-- (model::batch::StoredCheck). One per daily table; each run replaces it.
CREATE TABLE checked_files (
    table_name TEXT PRIMARY KEY,
    body       TEXT NOT NULL
);
