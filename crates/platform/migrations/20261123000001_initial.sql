-- gongshi store: receipts of ingested documents, the private notice store, procedure state for the
-- period engine, durable timers, the public feed, and per-consumer dedupe of bus events.

-- One row per document a platform sent; acknowledged only once this row and the bus event exist.
CREATE TABLE receipts (
    receipt_id    TEXT PRIMARY KEY,
    received_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    content_type  TEXT NOT NULL,
    size_bytes    INTEGER NOT NULL,
    source        TEXT NOT NULL DEFAULT 'http',
    -- The raw document, kept for operators whatever happens to its records.
    document      BYTEA NOT NULL,
    -- Set when the document as a whole could not be read (parse error).
    error         JSONB
);

-- One row per record of a document, created as soon as the document is parsed.
CREATE TABLE receipt_records (
    receipt_id   TEXT NOT NULL REFERENCES receipts (receipt_id),
    idx          INTEGER NOT NULL,
    table_code   TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('received','invalid','rejected','parked','held','published','duplicate')),
    notice_id    TEXT,
    errors       JSONB NOT NULL DEFAULT '[]',
    warnings     JSONB NOT NULL DEFAULT '[]',
    hold_until   TIMESTAMPTZ,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (receipt_id, idx)
);
CREATE INDEX receipt_records_notice ON receipt_records (notice_id);

-- Every valid notice, personal fields included: the private store. Never served publicly.
CREATE TABLE notices_private (
    notice_id    TEXT PRIMARY KEY,
    canonical    JSONB NOT NULL,
    stored_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The enforcement view of each notice: its verdict and public form.
CREATE TABLE notices (
    notice_id      TEXT PRIMARY KEY,
    procedure_key  TEXT NOT NULL,
    platform       TEXT NOT NULL,
    project        TEXT NOT NULL,
    section        TEXT NOT NULL,
    table_code     TEXT NOT NULL,
    kind           TEXT NOT NULL,
    regime         TEXT NOT NULL,
    content_hash   TEXT NOT NULL,
    data_timestamp TIMESTAMPTZ,
    status         TEXT NOT NULL CHECK (status IN ('published','held','parked','rejected','released','discarded')),
    outcome        JSONB NOT NULL,
    notice         JSONB NOT NULL,
    hold_until     TIMESTAMPTZ,
    first_seen     TIMESTAMPTZ NOT NULL DEFAULT now(),
    published_at   TIMESTAMPTZ,
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX notices_procedure ON notices (procedure_key);
CREATE INDEX notices_status ON notices (status);

-- Period-engine state per procedure (serialised ProcedureState).
CREATE TABLE procedures (
    procedure_key TEXT PRIMARY KEY,
    state         JSONB NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Durable timers: holds that publish by themselves, windows that close.
CREATE TABLE timers (
    timer_id    TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('hold','window')),
    notice_id   TEXT NOT NULL,
    due_at      TIMESTAMPTZ NOT NULL,
    payload     JSONB NOT NULL DEFAULT '{}',
    fired_at    TIMESTAMPTZ
);
CREATE INDEX timers_due ON timers (due_at) WHERE fired_at IS NULL;

-- The public feed: one entry per published notice or window event, with a global sequence.
CREATE TABLE feed_entries (
    seq          BIGSERIAL PRIMARY KEY,
    entry_id     TEXT NOT NULL UNIQUE,
    notice_id    TEXT NOT NULL,
    procedure_key TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    entry        JSONB NOT NULL,
    published_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX feed_entries_notice ON feed_entries (notice_id);

-- Bus events a consumer has applied: the dedupe that makes at-least-once delivery idempotent.
CREATE TABLE processed_events (
    consumer    TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    processed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

-- Events decided inside a transaction and sent after it: a crash between the commit and the send
-- loses nothing, because the relay sends what is left here (consumers dedupe on event_id).
CREATE TABLE outbox (
    event_id   TEXT PRIMARY KEY,
    topic      TEXT NOT NULL,
    envelope   JSONB NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp()
);
