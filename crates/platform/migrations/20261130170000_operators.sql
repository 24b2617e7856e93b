-- The operators' console: signed-in browser sessions and the append-only audit log of every
-- operator action (api.md "Operators").

-- A browser session after sign-in at /ops/login. Only the SHA-256 of the session id is stored, so a
-- copy of this table signs nobody in. `csrf` is the token every form and cookie-authenticated
-- POST of the session must carry; `token_digest` (SHA-256 of the operator token signed in with)
-- ends the session as soon as that token is no longer configured (rotated after a leak).
CREATE TABLE operator_sessions (
    session_hash TEXT PRIMARY KEY,
    operator     TEXT NOT NULL,
    token_digest TEXT NOT NULL,
    csrf         TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX operator_sessions_expiry ON operator_sessions (expires_at);

-- One row per operator action (retry, release, discard) on one record: who, when, why, and the
-- record's status before and after. Append-only: the trigger below refuses UPDATE and DELETE.
CREATE TABLE operator_audit (
    audit_id     BIGSERIAL PRIMARY KEY,
    at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    operator     TEXT NOT NULL,
    action       TEXT NOT NULL CHECK (action IN ('retry', 'release', 'discard')),
    receipt_id   TEXT NOT NULL,
    record_index INTEGER NOT NULL,
    reason       TEXT NOT NULL,
    before       TEXT NOT NULL,
    after        TEXT NOT NULL,
    -- What the action named beyond the record (the rules released, the quarantine id).
    detail       JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX operator_audit_record ON operator_audit (receipt_id, record_index);

CREATE FUNCTION operator_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'operator_audit is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER operator_audit_append_only BEFORE UPDATE OR DELETE ON operator_audit
    FOR EACH ROW EXECUTE FUNCTION operator_audit_append_only();

