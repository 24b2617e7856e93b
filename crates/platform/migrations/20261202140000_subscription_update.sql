-- A subscriber may move its receiver and roll its secret (PATCH /v1/subscriptions/{id}). A rolled
-- secret goes on signing until its `until`: `previous_secrets` holds the rolled keys still in
-- their overlap ([{"secret", "until"}], the newest few), and meanwhile every delivery is signed
-- with each of them and the current one (one `v1=` each), so the receiver can switch keys without
-- refusing the deliveries in between, even after two rolls in a row.
ALTER TABLE subscriptions
    ADD COLUMN previous_secrets JSONB NOT NULL DEFAULT '[]',
    ADD COLUMN updated_at       TIMESTAMPTZ;
