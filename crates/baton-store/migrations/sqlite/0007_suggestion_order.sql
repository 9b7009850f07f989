-- Suggestions added together share a time: keep the order they were given in, in a column both
-- databases have (SQLite's rowid has no PostgreSQL counterpart).
ALTER TABLE suggestions ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE suggestions SET seq = rowid;
