-- Handoff lifecycle, routing, callbacks and webhooks.
ALTER TABLE handoffs ADD COLUMN team TEXT NOT NULL DEFAULT '';
ALTER TABLE handoffs ADD COLUMN vip INTEGER NOT NULL DEFAULT 0;
ALTER TABLE handoffs ADD COLUMN assigned_at TEXT;
ALTER TABLE handoffs ADD COLUMN accepted_at TEXT;
ALTER TABLE handoffs ADD COLUMN resolved_at TEXT;
ALTER TABLE handoffs ADD COLUMN queued_at TEXT;
ALTER TABLE handoffs ADD COLUMN callback_at TEXT;
ALTER TABLE handoffs ADD COLUMN resolution TEXT;
ALTER TABLE handoffs ADD COLUMN necessary INTEGER;
ALTER TABLE handoffs ADD COLUMN missing TEXT;
ALTER TABLE handoffs ADD COLUMN csat INTEGER;
ALTER TABLE handoffs ADD COLUMN transfers INTEGER NOT NULL DEFAULT 0;
ALTER TABLE handoffs ADD COLUMN excluded TEXT NOT NULL DEFAULT '[]';
ALTER TABLE handoffs ADD COLUMN eta_seconds REAL;

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE webhook_outbox (
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id),
    event_seq INTEGER NOT NULL REFERENCES events(seq),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    delivered_at TEXT,
    last_error TEXT,
    PRIMARY KEY (endpoint_id, event_seq)
) WITHOUT ROWID;
CREATE INDEX webhook_outbox_pending ON webhook_outbox(delivered_at, next_attempt_at);
