-- Baton schema on PostgreSQL: the state of the SQLite migrations 0001-0006 in one step, with
-- PostgreSQL's types (BIGINT, DOUBLE PRECISION, BOOLEAN, BYTEA). Times stay RFC 3339 text, as on
-- SQLite, so both stores compare and order them the same way. A test keeps the two schemas'
-- tables and columns equal (crates/baton-store/tests/postgres.rs).
CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    tier TEXT NOT NULL,
    lifetime_value DOUBLE PRECISION NOT NULL,
    timezone TEXT,
    updated_at TEXT NOT NULL
);

CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers(id),
    created_at TEXT NOT NULL,
    message_count BIGINT NOT NULL,
    decision TEXT,
    csat BIGINT,
    started_ms BIGINT,
    topic TEXT,
    roles BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX conversations_started ON conversations(started_ms);
CREATE INDEX conversations_repeat ON conversations(customer_id, topic, started_ms);
CREATE INDEX conversations_csat ON conversations(started_ms) WHERE csat IS NOT NULL;

CREATE TABLE messages (
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    idx BIGINT NOT NULL,
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    at TEXT NOT NULL,
    confidence DOUBLE PRECISION,
    kb_articles TEXT NOT NULL,
    PRIMARY KEY (conversation_id, idx)
);

CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    skills TEXT NOT NULL,
    capacity BIGINT NOT NULL,
    seniority TEXT NOT NULL,
    team TEXT NOT NULL,
    status TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 0 CHECK (active >= 0),
    updated_at TEXT NOT NULL
);

CREATE TABLE handoffs (
    id TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL UNIQUE REFERENCES conversations(id),
    status TEXT NOT NULL,
    skill TEXT NOT NULL,
    priority TEXT NOT NULL,
    reason TEXT NOT NULL,
    agent_id TEXT REFERENCES agents(id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    team TEXT NOT NULL DEFAULT '',
    vip BOOLEAN NOT NULL DEFAULT FALSE,
    assigned_at TEXT,
    accepted_at TEXT,
    resolved_at TEXT,
    queued_at TEXT,
    callback_at TEXT,
    resolution TEXT,
    necessary BOOLEAN,
    missing TEXT,
    csat BIGINT,
    transfers BIGINT NOT NULL DEFAULT 0,
    excluded TEXT NOT NULL DEFAULT '[]',
    eta_seconds DOUBLE PRECISION,
    notes TEXT NOT NULL DEFAULT '[]',
    started_ms BIGINT,
    customer_id TEXT,
    topic TEXT,
    trigger_index BIGINT,
    customer_messages BIGINT,
    seconds_to_handoff DOUBLE PRECISION,
    late BOOLEAN,
    quality DOUBLE PRECISION,
    quality_why TEXT
);
CREATE INDEX handoffs_status ON handoffs(status, created_at);
CREATE INDEX handoffs_started ON handoffs(started_ms);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    secret_hash BYTEA NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT,
    agent_id TEXT
);

CREATE TABLE idempotency (
    scope TEXT PRIMARY KEY,
    response TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    payload TEXT NOT NULL,
    at TEXT NOT NULL
);

CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE webhook_outbox (
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id),
    event_seq BIGINT NOT NULL REFERENCES events(seq),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    delivered_at TEXT,
    last_error TEXT,
    leased_until TEXT,
    PRIMARY KEY (endpoint_id, event_seq)
);
CREATE INDEX webhook_outbox_pending ON webhook_outbox(delivered_at, next_attempt_at);
CREATE INDEX webhook_outbox_undelivered ON webhook_outbox(endpoint_id, event_seq) WHERE delivered_at IS NULL;

CREATE TABLE suggestions (
    id TEXT PRIMARY KEY,
    handoff_id TEXT NOT NULL REFERENCES handoffs(id),
    kind TEXT NOT NULL,
    source TEXT NOT NULL,
    text TEXT NOT NULL,
    url TEXT,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    seq BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX suggestions_handoff ON suggestions(handoff_id, created_at);
