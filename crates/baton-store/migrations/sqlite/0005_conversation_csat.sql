-- CSAT of any conversation (AI-only, handed off, or human-only), for comparison.
ALTER TABLE conversations ADD COLUMN csat INTEGER;
