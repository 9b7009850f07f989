//! Three `baton serve` processes on one PostgreSQL database: 20 agents, 500 conversations
//! escalating at once through all three. No handoff is assigned twice, no agent goes above
//! capacity, freed capacity goes to the queue's head, every webhook event arrives once, and an
//! SSE client on each instance sees every event, woken by LISTEN/NOTIFY (the streams' own polling
//! is set to once a minute).
//!
//! Needs the PostgreSQL test server (`BATON_TEST_POSTGRES`, see scripts/postgres.sh) and
//! `--ignore-default-filter` (see pg_common).

use crate::pg_common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{create_key, query, start_servers, webhook_receiver};
use serde_json::{json, Value};

const INSTANCES: usize = 3;
const AGENTS: usize = 20;
const CAPACITY: u32 = 2;
const CONVERSATIONS: usize = 500;

async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads an SSE stream, recording every event id.
async fn listen(
    client: reqwest::Client,
    url: String,
    key: String,
    seen: Arc<Mutex<BTreeSet<i64>>>,
) {
    let mut resp = client
        .get(format!("{url}/v1/events"))
        .bearer_auth(key)
        .header("last-event-id", "0")
        .send()
        .await
        .unwrap();
    let mut buf = String::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find('\n') {
            let line: String = buf.drain(..=end).collect();
            if let Some(id) = line.strip_prefix("id:") {
                if let Ok(id) = id.trim().parse() {
                    seen.lock().unwrap().insert(id);
                }
            }
        }
    }
}

#[test]
fn three_instances_share_one_database_correctly() {
    let Some(db) = pg_common::fresh_database_url() else {
        return;
    };
    let key = create_key(&db, "admin");
    // Streams look for new events only once a minute on their own: what another instance
    // commits must reach them through LISTEN/NOTIFY.
    let (_servers, urls) = start_servers(&db, INSTANCES, &[("BATON_EVENT_POLL_MS", "60000")]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::new();
        let put = |i: usize, path: String, body: Value| {
            let (client, url, key) = (client.clone(), urls[i % INSTANCES].clone(), key.clone());
            async move {
                let r = client
                    .put(format!("{url}{path}"))
                    .bearer_auth(key)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "{path}: {}", r.status());
            }
        };

        // A webhook receiver recording every delivery's id.
        let received = webhook_receiver(&client, &urls[0], &key).await;

        // One SSE client per instance, from the first event on.
        let seen: Vec<Arc<Mutex<BTreeSet<i64>>>> = (0..INSTANCES).map(|_| Arc::default()).collect();
        for (i, s) in seen.iter().enumerate() {
            tokio::spawn(listen(client.clone(), urls[i].clone(), key.clone(), s.clone()));
        }

        // 20 agents, registered and made available through all three instances.
        for a in 0..AGENTS {
            put(
                a,
                format!("/v1/agents/a{a:02}"),
                json!({"name": format!("Agent {a}"), "skills": ["general"], "capacity": CAPACITY, "seniority": "senior", "team": "Customer Care"}),
            )
            .await;
            put(a + 1, format!("/v1/agents/a{a:02}/status"), json!({"status": "available"})).await;
        }

        // 500 conversations escalate at once, spread over the instances.
        let tasks: Vec<_> = (0..CONVERSATIONS)
            .map(|n| {
                let (client, url, key) = (client.clone(), urls[n % INSTANCES].clone(), key.clone());
                tokio::spawn(async move {
                    let r = client
                        .post(format!("{url}/v1/conversations/m{n:03}/messages"))
                        .bearer_auth(key)
                        .json(&json!({
                            "customer": {"id": format!("u{n}"), "name": "Sam", "tier": "standard", "lifetime_value": 10.0},
                            "message": {"role": "customer", "text": "Please let me talk to a human agent", "at": "2026-11-02T10:00:00Z"}
                        }))
                        .send()
                        .await
                        .unwrap();
                    let status = r.status();
                    let body: Value = r.json().await.unwrap();
                    assert_eq!(status, 200, "{body}");
                    assert_eq!(body["action"], "handoff", "{body}");
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }

        // No handoff assigned twice, no agent above capacity.
        let handoffs = query(&db, "SELECT id, status, agent_id FROM handoffs");
        assert_eq!(handoffs.len(), CONVERSATIONS);
        let mut per_agent: HashMap<String, u32> = HashMap::new();
        for h in &handoffs {
            if let Some(a) = h.get::<_, Option<String>>(2) {
                *per_agent.entry(a).or_default() += 1;
            }
        }
        assert_eq!(per_agent.len(), AGENTS, "every agent got work");
        assert!(per_agent.values().all(|n| *n == CAPACITY), "{per_agent:?}");
        let assigned_twice = query(
            &db,
            "SELECT subject FROM events WHERE kind = 'handoff.assigned' GROUP BY subject HAVING count(*) > 1",
        );
        assert!(assigned_twice.is_empty(), "handoffs assigned twice");
        let over = query(&db, "SELECT id FROM agents WHERE active > capacity OR active <> 2");
        assert!(over.is_empty(), "agents above (or below) capacity");

        // Freed capacity goes to the head of the queue: resolve 10, through all instances.
        // The head as the router ranks it: all of one priority, so the longest waiting first
        // (to the millisecond), then by id.
        let mut queued: Vec<(i64, String)> = query(
            &db,
            "SELECT id, queued_at FROM handoffs WHERE status = 'queued'",
        )
        .iter()
        .map(|r| {
            let at: jiff::Timestamp = r.get::<_, String>(1).parse().unwrap();
            (at.as_millisecond(), r.get(0))
        })
        .collect();
        queued.sort();
        let head: BTreeSet<String> = queued.into_iter().take(10).map(|(_, id)| id).collect();
        let busy: Vec<(String, String)> = handoffs
            .iter()
            .filter_map(|h| Some((h.get(0), h.get::<_, Option<String>>(2)?)))
            .take(10)
            .collect();
        for (i, (id, agent)) in busy.iter().enumerate() {
            for (path, body) in [
                ("accept", json!({"agent_id": agent})),
                ("resolve", json!({"resolution": "done", "necessary": true})),
            ] {
                let r = client
                    .post(format!("{}/v1/handoffs/{id}/{path}", urls[i % INSTANCES]))
                    .bearer_auth(&key)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200, "{path} {id}");
            }
        }
        let newly: BTreeSet<String> = query(
            &db,
            "SELECT id FROM handoffs WHERE status = 'assigned' AND id IN (
               SELECT subject FROM events WHERE kind = 'handoff.assigned'
               AND seq > (SELECT min(seq) FROM events WHERE kind = 'handoff.resolved'))",
        )
        .iter()
        .map(|r| r.get(0))
        .collect();
        assert_eq!(newly, head, "the queue's head got the freed capacity");

        // Every event reaches the webhook exactly once, and every SSE client on every instance.
        let events: BTreeSet<i64> = query(&db, "SELECT seq FROM events")
            .iter()
            .map(|r| r.get(0))
            .collect();
        let outbox = query(&db, "SELECT count(*) FROM webhook_outbox")[0].get::<_, i64>(0) as usize;
        // Deliveries to one endpoint go one at a time, in order: on a loaded 2-core machine 2,000
        // events take more than a minute.
        wait_until("webhook deliveries", Duration::from_secs(180), || {
            received.lock().unwrap().len() >= outbox
        })
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let got = received.lock().unwrap().clone();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for id in &got {
            *counts.entry(id).or_default() += 1;
        }
        let dupes: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
        assert!(dupes.is_empty(), "delivered more than once: {dupes:?}");
        assert_eq!(got.len(), outbox, "one delivery per outbox entry");
        for (i, s) in seen.iter().enumerate() {
            wait_until("SSE events", Duration::from_secs(30), || {
                events.is_subset(&s.lock().unwrap())
            })
            .await;
            assert!(events.is_subset(&s.lock().unwrap()), "instance {i} missed events");
        }
    });
}
