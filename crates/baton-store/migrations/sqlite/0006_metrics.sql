-- What the metrics read, kept as conversations and handoffs are written, so that a report over a
-- year of history never re-reads transcripts (issue 7).
ALTER TABLE conversations ADD COLUMN started_ms INTEGER;   -- first message's time, Unix ms
ALTER TABLE conversations ADD COLUMN topic TEXT;           -- the decision's topic
ALTER TABLE conversations ADD COLUMN roles INTEGER NOT NULL DEFAULT 0; -- 1 customer | 2 ai | 4 agent

UPDATE conversations SET
    started_ms = (SELECT CAST(round((julianday(m.at) - 2440587.5) * 86400000.0) AS INTEGER)
                  FROM messages m WHERE m.conversation_id = conversations.id AND m.idx = 0),
    topic = json_extract(decision, '$.topic'),
    roles = (SELECT COALESCE(max(m.role = 'customer'), 0) + 2 * COALESCE(max(m.role = 'ai'), 0)
                    + 4 * COALESCE(max(m.role = 'agent'), 0)
             FROM messages m WHERE m.conversation_id = conversations.id);

CREATE INDEX conversations_started ON conversations(started_ms);
CREATE INDEX conversations_repeat ON conversations(customer_id, topic, started_ms);
CREATE INDEX conversations_csat ON conversations(started_ms) WHERE csat IS NOT NULL;

-- The escalation's facts (engine::EscalationFacts) and the Handoff Quality Score once resolved.
ALTER TABLE handoffs ADD COLUMN started_ms INTEGER;        -- the conversation's started_ms
ALTER TABLE handoffs ADD COLUMN customer_id TEXT;          -- the conversation's customer
ALTER TABLE handoffs ADD COLUMN topic TEXT;                -- the conversation's topic at handoff
ALTER TABLE handoffs ADD COLUMN trigger_index INTEGER;
ALTER TABLE handoffs ADD COLUMN customer_messages INTEGER;
ALTER TABLE handoffs ADD COLUMN seconds_to_handoff REAL;
ALTER TABLE handoffs ADD COLUMN late INTEGER;
ALTER TABLE handoffs ADD COLUMN quality REAL;
ALTER TABLE handoffs ADD COLUMN quality_why TEXT;

UPDATE handoffs SET
    started_ms = (SELECT c.started_ms FROM conversations c WHERE c.id = handoffs.conversation_id),
    customer_id = (SELECT c.customer_id FROM conversations c WHERE c.id = handoffs.conversation_id),
    topic = (SELECT c.topic FROM conversations c WHERE c.id = handoffs.conversation_id);
CREATE INDEX handoffs_started ON handoffs(started_ms);
