-- Publication order: every notice gets a number from one sequence when it is published, taken
-- while its procedures are locked (FOR UPDATE on their `procedures` rows), so within a procedure
-- the numbers follow the order in which gongshi published its notices — also when several are
-- published in one second or one transaction (a back-filled batch, a tender and the notices
-- parked behind it). `published_at` stays the publishing transaction's start time (the export's
-- paging relies on that); OCDS release dates are derived from both (gongshi_domain::ocds::dates).
CREATE SEQUENCE notices_publication_seq;
ALTER TABLE notices ADD COLUMN published_seq BIGINT;

-- Notices published before this migration: their order as far as the store knew it.
UPDATE notices n SET published_seq = o.seq
FROM (SELECT notice_id, row_number() OVER (ORDER BY published_at, first_seen, notice_id) AS seq
      FROM notices WHERE published_at IS NOT NULL) o
WHERE n.notice_id = o.notice_id;
SELECT setval('notices_publication_seq', GREATEST((SELECT COALESCE(MAX(published_seq), 0) FROM notices), 1),
              (SELECT COUNT(*) > 0 FROM notices WHERE published_seq IS NOT NULL));

CREATE UNIQUE INDEX notices_published_seq ON notices (published_seq) WHERE published_seq IS NOT NULL;
