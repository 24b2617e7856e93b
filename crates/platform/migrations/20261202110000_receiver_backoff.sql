-- A subscription's receiver, apart from any one delivery: when it cannot be reached or answers
-- 5xx or about the endpoint (3xx, 401, 403, 404, 405, 408, 410, 429), every delivery of the
-- subscription waits (`paused_until`), and one delivery tries again when that passes. A receiver
-- that is down costs one request per back-off, not one per queued delivery, and its deliveries go
-- in order when it comes back (a circuit breaker).
ALTER TABLE subscriptions
    ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0,
    ADD COLUMN failing_since        TIMESTAMPTZ,
    ADD COLUMN paused_until         TIMESTAMPTZ,
    ADD COLUMN last_receiver_error  TEXT;
