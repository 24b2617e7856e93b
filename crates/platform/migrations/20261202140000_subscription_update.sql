-- A subscriber may move its receiver and roll its secret (PATCH /v1/subscriptions/{id}). A rolled
-- secret is kept as `previous_secret` until `previous_secret_until`: meanwhile every delivery is
-- signed with both (two `v1=` values), so the receiver can switch keys without refusing the
-- deliveries in between.
ALTER TABLE subscriptions
    ADD COLUMN previous_secret       TEXT,
    ADD COLUMN previous_secret_until TIMESTAMPTZ,
    ADD COLUMN updated_at            TIMESTAMPTZ;
