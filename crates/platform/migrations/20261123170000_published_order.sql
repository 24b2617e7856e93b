-- The OCDS export pages through published notices in publication order; procedure views find a
-- notice by any of the sections it names (notice->'procedures'), not only its first.
CREATE INDEX notices_published ON notices (published_at, notice_id) WHERE published_at IS NOT NULL;
CREATE INDEX notices_procedures ON notices USING gin ((notice -> 'procedures') jsonb_path_ops);
