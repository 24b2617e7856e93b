-- An operator's release of one record from one rule (the console's `release` action): kept so
-- that every later validation of the record (a redelivered document) applies it too.
CREATE TABLE record_releases (
    receipt_id  TEXT NOT NULL,
    idx         INTEGER NOT NULL,
    rule        TEXT NOT NULL,
    released_by TEXT NOT NULL,
    reason      TEXT NOT NULL,
    released_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (receipt_id, idx, rule)
);
