-- What a record that did not become a notice says it is, as far as its fields could be read:
-- {"title", "procedure", "region"}. The operators' list, its platform filter and the report's
-- violations by region read it where there is no notice to read them from.
ALTER TABLE receipt_records ADD COLUMN subject JSONB;
