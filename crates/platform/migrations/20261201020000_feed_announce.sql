-- Tells LISTENing readers the feed's new head when a transaction that appended entries commits:
-- `NOTIFY gongshi_feed, '<max seq>'`. The gateways' feed-page caches (services/gateway/src/
-- feeds/head.rs) serve rendered pages again until the head moves, so every appender must
-- announce; a trigger makes that the store's duty rather than each writer's.
--
-- A deferred constraint trigger runs at commit, inside the transaction and still under the
-- feed's append lock (store/feed.rs), so `max(seq)` is the transaction's own last entry. Every
-- row's call sends the same payload, and PostgreSQL folds identical notifications of one
-- transaction into one; it delivers them only after the commit, and none on a rollback. An
-- insert skipped by ON CONFLICT DO NOTHING fires nothing.
CREATE FUNCTION gongshi_feed_announce() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('gongshi_feed', (SELECT COALESCE(max(seq), 0) FROM feed_entries)::text);
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER feed_entries_announce
    AFTER INSERT ON feed_entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION gongshi_feed_announce();
