-- What each consumer is retrying now: upserted by the consume loop (platform::bus::consume) on
-- every transient failure of an event, deleted when the event is handled or set aside. One row
-- per consumer and partition (a partition is handled by one instance at a time, in order), so
-- the operators' overview can say which event holds a consumer back, since when, and why.
-- Best effort: during a database outage the row cannot be written, and the overview shows the
-- store as down instead.
CREATE TABLE consumer_retries (
    consumer        TEXT NOT NULL,
    topic           TEXT NOT NULL,
    kafka_partition INTEGER NOT NULL,
    kafka_offset    BIGINT NOT NULL,
    event_id        TEXT,
    error           TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    first_failed_at TIMESTAMPTZ NOT NULL,
    last_failed_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, topic, kafka_partition)
);

-- The overview charts records received and notices published per minute over the last 24 hours,
-- and the publication report counts by publication time: both read these by time range.
CREATE INDEX receipts_received_at ON receipts (received_at);
CREATE INDEX feed_entries_published_at ON feed_entries (published_at) WHERE event_type = 'notice.published';
