-- The agent desk: keys tied to an agent, and suggestions beside a handoff.
ALTER TABLE api_keys ADD COLUMN agent_id TEXT;

CREATE TABLE suggestions (
    id TEXT PRIMARY KEY,
    handoff_id TEXT NOT NULL REFERENCES handoffs(id),
    kind TEXT NOT NULL,          -- reply | kb_article
    source TEXT NOT NULL,        -- integrator
    text TEXT NOT NULL,
    url TEXT,
    status TEXT NOT NULL,        -- new | used | edited | dismissed
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX suggestions_handoff ON suggestions(handoff_id, created_at);
