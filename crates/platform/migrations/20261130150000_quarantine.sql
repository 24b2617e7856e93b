-- Quarantine: events a consumer could not process (a permanent failure, an undecodable message,
-- a panic, or transient failures beyond the bound while the store and the broker were healthy)
-- are set aside here with their error, stage and attempts, so that nothing behind them waits.
-- The message is kept as the bytes the broker delivered: whatever made it fail (a NUL byte, bad
-- JSON) cannot make keeping it fail too.

ALTER TABLE receipt_records DROP CONSTRAINT IF EXISTS receipt_records_status_check;
ALTER TABLE receipt_records ADD CONSTRAINT receipt_records_status_check CHECK (
    status IN ('received','invalid','rejected','parked','held','published','duplicate','quarantined','discarded'));

CREATE TABLE quarantine (
    quarantine_id     BIGSERIAL PRIMARY KEY,
    -- The consumer (stage) that failed: validate, enforce, publish.
    stage             TEXT NOT NULL,
    -- The topic (unprefixed) the message came from, and where.
    topic             TEXT NOT NULL,
    kafka_partition   INTEGER NOT NULL,
    kafka_offset      BIGINT NOT NULL,
    message           BYTEA NOT NULL,
    -- From the envelope when it could be read.
    event_id          TEXT,
    event_type        TEXT,
    receipt_id        TEXT,
    record_index      INTEGER,
    notice_id         TEXT,
    -- permanent, undecodable, panic, retries-exhausted.
    reason            TEXT NOT NULL CHECK (reason IN ('permanent','undecodable','panic','retries-exhausted')),
    error             TEXT NOT NULL,
    attempts          INTEGER NOT NULL,
    first_failed_at   TIMESTAMPTZ NOT NULL,
    quarantined_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    state             TEXT NOT NULL DEFAULT 'quarantined' CHECK (state IN ('quarantined','retried','discarded')),
    resolved_at       TIMESTAMPTZ,
    resolved_by       TEXT,
    resolution_reason TEXT
);

CREATE INDEX quarantine_open ON quarantine (quarantined_at) WHERE state = 'quarantined';
CREATE INDEX quarantine_receipt ON quarantine (receipt_id);
