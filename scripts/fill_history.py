#!/usr/bin/env python3
"""Fill a Baton SQLite database (already migrated, e.g. by `baton keys create --db FILE ...`) with
1,000,000 synthetic conversations over a year, 30% handed off and resolved, for timing the
metrics. Usage: python3 scripts/fill_history.py  (writes /tmp/big.db)."""
import sqlite3, random, json, time
random.seed(1)
db=sqlite3.connect('/tmp/big.db')
db.execute('PRAGMA journal_mode=WAL'); db.execute('PRAGMA synchronous=OFF')
N=1_000_000
t=time.time()
db.execute("INSERT INTO customers VALUES ('cust-0','A','standard',100,NULL,'2026-01-01T00:00:00Z')")
reasons=['explicit_request','cancellation','frustration','low_confidence','transaction_dispute','vip']
skills=['general','retention','general','billing','billing','enterprise']
conv=[];msgs=[];hand=[]
for i in range(N):
    cid=f"c{i:07d}"
    day=1+i*365//N
    ts=f"2026-{1+(day-1)//31 if (1+(day-1)//31)<=12 else 12:02d}-{1+(day-1)%28:02d}T10:00:00Z"
    esc = random.random()<0.3
    dec=json.dumps({"id":cid,"escalate":esc,"at":2 if esc else None,"reasons":[],"skill":None,"priority":"medium","topic":"general"})
    conv.append((cid,'cust-0',ts,3,dec))
    msgs.append((cid,0,'customer','where is my order?',ts,None,'[]'))
    msgs.append((cid,1,'ai','It ships today.',ts,0.9,'[]'))
    msgs.append((cid,2,'customer','ok thanks',ts,None,'[]'))
    if esc:
        k=random.randrange(6)
        hand.append((f"h{i:07d}",cid,'resolved',skills[k],'Team','medium',reasons[k],0,None,ts,ts,ts,ts,ts,None,'done',random.random()<0.8,None,random.randint(1,5),0,None,'[]',ts,'[]'))
    if len(conv)>=50000:
        db.executemany("INSERT INTO conversations (id,customer_id,created_at,message_count,decision) VALUES (?,?,?,?,?)",conv)
        db.executemany("INSERT INTO messages VALUES (?,?,?,?,?,?,?)",msgs)
        db.executemany("INSERT INTO handoffs (id,conversation_id,status,skill,team,priority,reason,vip,agent_id,created_at,queued_at,assigned_at,accepted_at,resolved_at,callback_at,resolution,necessary,missing,csat,transfers,eta_seconds,excluded,updated_at,notes) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",hand)
        conv=[];msgs=[];hand=[]
db.commit()
print("filled in %.1fs"%(time.time()-t))
