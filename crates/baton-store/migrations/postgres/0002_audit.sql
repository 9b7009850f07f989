-- A handoff's audit trail reads its events by subject.
CREATE INDEX events_subject ON events (subject, seq);
-- The fingerprint of the request an idempotent answer belongs to: a key reused with another
-- body is refused instead of answered with the first reply.
ALTER TABLE idempotency ADD COLUMN request TEXT;
