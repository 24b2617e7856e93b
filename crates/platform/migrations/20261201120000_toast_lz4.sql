-- Large values (documents, canonical records, notices, feed entries, events) are compressed with
-- LZ4 rather than PostgreSQL's default pglz when they are stored out of line (TOAST). pglz cost
-- the store about 6 % of its CPU over a pipeline benchmark of 20,000 notices of every table
-- (7.95 and 7.98 s of PostgreSQL CPU against 7.46 and 7.50 s with LZ4, alternated). Only values
-- written from now on use it; both kinds read alike.
--
-- LZ4 needs a server built `--with-lz4` (Debian's and the PGDG packages are). Without it the
-- columns keep pglz and the migration says so, rather than failing the deployment.
DO $$
DECLARE
    col RECORD;
BEGIN
    FOR col IN SELECT * FROM (VALUES
        ('receipts', 'document'),
        ('receipt_records', 'errors'),
        ('receipt_records', 'warnings'),
        ('notices_private', 'canonical'),
        ('notices', 'notice'),
        ('notices', 'outcome'),
        ('procedures', 'state'),
        ('timers', 'payload'),
        ('feed_entries', 'entry'),
        ('feed_entries', 'search_text'),
        ('outbox', 'envelope'),
        ('deliveries', 'body'),
        ('quarantine', 'message')
    ) AS c(tbl, name) LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET COMPRESSION lz4', col.tbl, col.name);
    END LOOP;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'LZ4 not available in this server (%); large values stay compressed with pglz', SQLERRM;
END
$$;
