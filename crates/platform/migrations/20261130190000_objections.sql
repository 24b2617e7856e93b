-- Objections (异议) and complaints (投诉) are recorded into their procedure, never published:
-- their notice rows and receipt records take the status 'recorded'. An award an open objection
-- suspends is 'held' with no hold_until (no timer): it is judged again when an answer is recorded.
ALTER TABLE notices DROP CONSTRAINT IF EXISTS notices_status_check;
ALTER TABLE notices ADD CONSTRAINT notices_status_check CHECK (
    status IN ('published','held','parked','rejected','released','discarded','recorded'));

ALTER TABLE receipt_records DROP CONSTRAINT IF EXISTS receipt_records_status_check;
ALTER TABLE receipt_records ADD CONSTRAINT receipt_records_status_check CHECK (
    status IN ('received','invalid','rejected','parked','held','published','duplicate','quarantined',
               'discarded','recorded'));
