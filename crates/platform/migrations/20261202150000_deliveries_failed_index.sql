-- The operators' overview counts given-up deliveries every refresh: a partial index keeps that
-- from reading every delivered one (as `deliveries_due` does for the pending).
CREATE INDEX deliveries_failed ON deliveries (subscription_id) WHERE state = 'failed';
