-- Feeds, the event stream and subscriptions filter feed entries the way search filters notices.
-- What the filters need is denormalised onto each entry when it is appended (publish service),
-- so a feed page is one indexed query over feed_entries.

ALTER TABLE feed_entries
    ADD COLUMN kind        TEXT,
    ADD COLUMN category    TEXT,
    ADD COLUMN region      TEXT,
    -- The notice's lifecycle status as this entry leaves it: open, publicity, closed, awarded, terminated.
    ADD COLUMN status      TEXT,
    ADD COLUMN title       TEXT,
    -- When the entry happened: the notice's publication or the window's closing.
    ADD COLUMN entry_at    TIMESTAMPTZ,
    -- Title, body and codes, traditional characters made simplified and lower-cased: what `q` matches.
    ADD COLUMN search_text TEXT;

-- Back-fill published notices from their own event payload.
UPDATE feed_entries SET
    kind = entry->'payload'->>'kind',
    category = entry->'payload'->>'regime',
    region = entry->'payload'->>'region',
    title = entry->'payload'->>'title',
    status = CASE entry->'payload'->>'kind'
        WHEN 'candidates' THEN 'publicity' WHEN 'award' THEN 'awarded'
        WHEN 'termination' THEN 'terminated' ELSE 'open' END,
    entry_at = COALESCE((entry->'payload'->>'published_at')::timestamptz, published_at),
    -- Without the Rust converter the back-fill cannot simplify traditional characters.
    search_text = lower(concat_ws(' ', entry->'payload'->>'title', entry->>'key', entry->'payload'->'procedure'->>'project'))
WHERE event_type = 'notice.published';

-- Back-fill window events from the notice's published entry.
UPDATE feed_entries w SET
    kind = p.kind, category = p.category, region = p.region, title = p.title, search_text = p.search_text,
    status = CASE WHEN w.entry->'payload'->>'window' IN ('bid', 'publicity') THEN 'closed' ELSE p.status END,
    entry_at = COALESCE((w.entry->'payload'->>'closed_at')::timestamptz, w.published_at)
FROM feed_entries p
WHERE w.event_type = 'window.closed' AND p.notice_id = w.notice_id AND p.event_type = 'notice.published';

-- Window events whose notice has no published entry: what the notice row and the event know.
UPDATE feed_entries w SET
    kind = n.kind, category = n.regime, region = n.notice->>'region', title = n.notice->>'title',
    search_text = lower(concat_ws(' ', n.notice->>'title', n.procedure_key, n.project))
FROM notices n
WHERE w.event_type = 'window.closed' AND w.kind IS NULL AND n.notice_id = w.notice_id;
UPDATE feed_entries SET
    status = CASE WHEN entry->'payload'->>'window' IN ('bid', 'publicity') THEN 'closed' END,
    title = COALESCE(title, entry->'payload'->>'title'),
    entry_at = COALESCE(entry_at, (entry->'payload'->>'closed_at')::timestamptz)
WHERE event_type = 'window.closed' AND status IS NULL;

UPDATE feed_entries SET entry_at = published_at WHERE entry_at IS NULL;
UPDATE feed_entries SET title = '' WHERE title IS NULL;
UPDATE feed_entries SET search_text = '' WHERE search_text IS NULL;
ALTER TABLE feed_entries
    ALTER COLUMN entry_at SET NOT NULL, ALTER COLUMN entry_at SET DEFAULT now(),
    ALTER COLUMN title SET NOT NULL, ALTER COLUMN title SET DEFAULT '',
    ALTER COLUMN search_text SET NOT NULL, ALTER COLUMN search_text SET DEFAULT '';

CREATE INDEX feed_entries_kind ON feed_entries (kind, seq);
CREATE INDEX feed_entries_region ON feed_entries (region text_pattern_ops, seq);
CREATE INDEX feed_entries_entry_at ON feed_entries (entry_at);

-- A bidder's saved search with a webhook. `token_hash` (SHA-256 of the subscriber token) owns it;
-- `cursor_seq` is how far the fan-out has read the feed, advanced in the transaction that queues
-- the deliveries of the entries it read.
CREATE TABLE subscriptions (
    subscription_id TEXT PRIMARY KEY,
    token_hash      TEXT NOT NULL,
    filter          JSONB NOT NULL,
    webhook_url     TEXT NOT NULL,
    secret          TEXT NOT NULL,
    cursor_seq      BIGINT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at      TIMESTAMPTZ
);
CREATE INDEX subscriptions_token ON subscriptions (token_hash) WHERE deleted_at IS NULL;

-- The webhook outbox: one delivery per (subscription, entry), with its exact signed body.
CREATE TABLE deliveries (
    delivery_id     TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL REFERENCES subscriptions (subscription_id),
    seq             BIGINT NOT NULL,
    entry_id        TEXT NOT NULL,
    body            TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending','delivered','failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_attempt_at TIMESTAMPTZ,
    last_status     INTEGER,
    last_error      TEXT,
    delivered_at    TIMESTAMPTZ,
    UNIQUE (subscription_id, seq)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_subscription ON deliveries (subscription_id, state);
