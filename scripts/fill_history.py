#!/usr/bin/env python3
"""Fill a Baton SQLite database (already migrated, e.g. by `baton keys create --db FILE ...`) with
1,000,000 synthetic conversations over a year from 50,000 customers, 30% handed off and resolved,
for timing the metrics. Rows carry what the server writes as it goes (start time, topic, roles,
the escalation's facts); quality scores are left to be computed, as for handoffs resolved
outside the server. Usage: python3 scripts/fill_history.py [DB]  (default /tmp/big.db)."""
import sqlite3, random, json, time, sys, datetime
random.seed(1)
path = sys.argv[1] if len(sys.argv) > 1 else '/tmp/big.db'
db = sqlite3.connect(path)
db.execute('PRAGMA journal_mode=WAL'); db.execute('PRAGMA synchronous=OFF')
N = 1_000_000
CUSTOMERS = 50_000
t = time.time()
db.executemany("INSERT INTO customers VALUES (?,?,'standard',100,NULL,'2026-01-01T00:00:00Z')",
               [(f"cust-{i}", f"Customer {i}") for i in range(CUSTOMERS)])
reasons = ['explicit_request', 'cancellation', 'frustration', 'low_confidence', 'transaction_dispute', 'vip']
skills = ['general', 'retention', 'general', 'billing', 'billing', 'enterprise']
topics = ['general', 'billing', 'technical', 'account']
start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
def iso(d): return d.strftime('%Y-%m-%dT%H:%M:%SZ')
conv = []; msgs = []; hand = []
for i in range(N):
    cid = f"c{i:07d}"
    t0 = start + datetime.timedelta(seconds=i * 365 * 86400 // N)
    ts = [iso(t0), iso(t0 + datetime.timedelta(seconds=20)), iso(t0 + datetime.timedelta(seconds=60))]
    ms = int(t0.timestamp() * 1000)
    cust = f"cust-{random.randrange(CUSTOMERS)}"
    topic = random.choice(topics)
    esc = random.random() < 0.3
    dec = json.dumps({"id": cid, "escalate": esc, "at": 2 if esc else None, "reasons": [], "skill": None, "priority": "medium", "topic": topic})
    conv.append((cid, cust, ts[0], 3, dec, random.randint(1, 5) if random.random() < 0.2 else None, ms, topic, 3))
    msgs.append((cid, 0, 'customer', 'where is my order?', ts[0], None, '[]'))
    msgs.append((cid, 1, 'ai', 'It ships today.', ts[1], 0.9, '[]'))
    msgs.append((cid, 2, 'customer', 'I want to cancel my subscription', ts[2], None, '[]'))
    if esc:
        k = random.randrange(6)
        done = iso(t0 + datetime.timedelta(minutes=random.randint(5, 90)))
        hand.append((f"h{i:07d}", cid, 'resolved', skills[k], 'Team', 'medium', reasons[k], 0, None, ts[2], ts[2], ts[2], ts[2], done, None, 'done',
                     random.random() < 0.8, random.choice([None, 'order history', 'refund authority']), random.randint(1, 5), 0, None, '[]', done, '[]',
                     ms, 2, 2, 60.0, 0, cust, topic))
    if len(conv) >= 50000 or i == N - 1:
        db.executemany("INSERT INTO conversations (id,customer_id,created_at,message_count,decision,csat,started_ms,topic,roles) VALUES (?,?,?,?,?,?,?,?,?)", conv)
        db.executemany("INSERT INTO messages VALUES (?,?,?,?,?,?,?)", msgs)
        db.executemany("INSERT INTO handoffs (id,conversation_id,status,skill,team,priority,reason,vip,agent_id,created_at,queued_at,assigned_at,accepted_at,resolved_at,callback_at,resolution,necessary,missing,csat,transfers,eta_seconds,excluded,updated_at,notes,started_ms,trigger_index,customer_messages,seconds_to_handoff,late,customer_id,topic) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", hand)
        conv = []; msgs = []; hand = []
db.commit()
print("filled in %.1fs" % (time.time() - t))
