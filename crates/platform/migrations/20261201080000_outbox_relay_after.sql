-- Rows their writer sends itself at once after its commit (ingest's `notice.received`): the
-- relay leaves them alone until `relay_after`, and sends them only if they are still queued
-- then (the writer died, or the broker did not acknowledge). NULL: the relay's at once.
ALTER TABLE outbox ADD COLUMN relay_after TIMESTAMPTZ;
