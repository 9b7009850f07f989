//! Faults with several instances on PostgreSQL: `kill -9` of an instance mid-load, and
//! PostgreSQL restarted mid-load. Needs the PostgreSQL test server (`BATON_TEST_POSTGRES`, see
//! scripts/postgres.sh); the restart test also needs `BATON_TEST_POSTGRES_RESTART`, the command
//! that restarts it (`.ci/run` sets both).

use crate::pg_common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{create_key, query, start_server, start_servers, webhook_receiver, Servers};
use serde_json::json;

fn message(n: usize, k: usize) -> serde_json::Value {
    // Every fifth conversation asks for a human on its first message.
    let text = if n.is_multiple_of(5) && k == 0 {
        "I want to talk to a human please"
    } else {
        "Where is my parcel? It was due yesterday."
    };
    json!({
        "customer": {"id": format!("u{n}"), "name": "Sam", "tier": "standard", "lifetime_value": 10.0},
        "message": {"role": "customer", "text": text, "at": format!("2026-11-02T10:00:{k:02}Z")}
    })
}

#[test]
fn kill_9_of_an_instance_loses_nothing_acknowledged_and_leaves_nothing_stuck() {
    let Some(db) = pg_common::fresh_database_url() else {
        return;
    };
    let key = create_key(&db, "admin");
    let (servers, urls) = start_servers(&db, 3, &[]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let acked: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        // A webhook receiver, so the outbox has work that a dead instance may have claimed.
        webhook_receiver(&client, &urls[0], &key).await;
        for a in 0..10 {
            for (path, body) in [
                (format!("/v1/agents/a{a}"), json!({"name": "Agent", "skills": ["general"], "capacity": 2, "seniority": "senior", "team": "Customer Care"})),
                (format!("/v1/agents/a{a}/status"), json!({"status": "available"})),
            ] {
                let r = client.put(format!("{}{path}", urls[a % 3])).bearer_auth(&key).json(&body).send().await.unwrap();
                assert!(r.status().is_success());
            }
        }

        // 24 clients post conversations of 4 messages each, each over the instances in turn;
        // a refused or failed request is retried on the next instance with the same
        // Idempotency-Key, so an answer lost with the killed instance is not applied twice.
        let total = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..24)
            .map(|t| {
                let (client, urls, key, acked, total) =
                    (client.clone(), urls.clone(), key.clone(), acked.clone(), total.clone());
                tokio::spawn(async move {
                    let mut turn = t;
                    for c in 0..12 {
                        let n = t * 100 + c;
                        let id = format!("k{n}");
                        for k in 0..4 {
                            loop {
                                turn += 1;
                                let url = &urls[turn % 3];
                                let r = client
                                    .post(format!("{url}/v1/conversations/{id}/messages"))
                                    .bearer_auth(&key)
                                    .header("idempotency-key", format!("{id}-{k}"))
                                    .json(&message(n, k))
                                    .send()
                                    .await;
                                let Ok(r) = r else { continue };
                                if r.status() == 200 {
                                    let body: serde_json::Value = r.json().await.unwrap();
                                    acked.lock().unwrap().push((id.clone(), body["index"].as_u64().unwrap()));
                                    total.fetch_add(1, Ordering::SeqCst);
                                    break;
                                }
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                        }
                    }
                })
            })
            .collect();
        // Kill instance 1 with SIGKILL once a third of the load is acknowledged.
        let start = Instant::now();
        while total.load(Ordering::SeqCst) < 384 {
            assert!(start.elapsed() < Duration::from_secs(120), "load too slow");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let pid = servers.0[1].id();
        let killed = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        for t in tasks {
            t.await.unwrap();
        }

        // Everything acknowledged is stored, once, at its index.
        let stored: HashSet<(String, u64)> = query(&db, "SELECT conversation_id, idx FROM messages")
            .iter()
            .map(|r| (r.get(0), r.get::<_, i64>(1) as u64))
            .collect();
        let acked = acked.lock().unwrap().clone();
        assert!(acked.len() >= 1000, "only {} acknowledged", acked.len());
        for a in &acked {
            assert!(stored.contains(a), "acknowledged {a:?} is missing");
        }
        // Every conversation has its four messages exactly once (indexes 0..4).
        let counts = query(
            &db,
            "SELECT count(*) FROM (SELECT conversation_id FROM messages GROUP BY conversation_id
               HAVING count(*) <> 4 OR max(idx) <> 3) bad",
        );
        assert_eq!(counts[0].get::<_, i64>(0), 0);
        // Nothing stuck: agents' load equals their open assignments, every escalation has a
        // handoff, and the outbox drains (a dead instance's claims run out and are taken over).
        let mismatch = query(
            &db,
            "SELECT a.id FROM agents a WHERE a.active <> (SELECT count(*) FROM handoffs h
               WHERE h.agent_id = a.id AND h.status IN ('assigned', 'accepted'))",
        );
        assert!(mismatch.is_empty(), "agent load out of step with handoffs");
        let handoffs = query(&db, "SELECT count(*) FROM handoffs")[0].get::<_, i64>(0);
        let asked = (0..24usize)
            .flat_map(|t| (0..12).map(move |c| t * 100 + c))
            .filter(|n| n % 5 == 0)
            .count() as i64;
        assert_eq!(handoffs, asked, "one handoff per conversation that asked");
        let start = Instant::now();
        loop {
            let left = query(&db, "SELECT count(*) FROM webhook_outbox WHERE delivered_at IS NULL")[0]
                .get::<_, i64>(0);
            if left == 0 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(baton_store::DELIVERY_LEASE_SECONDS as u64 + 30),
                "{left} webhook deliveries stuck"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
}

#[test]
fn postgres_restarted_mid_load_answers_503_meanwhile_and_recovers() {
    let Some(db) = pg_common::fresh_database_url() else {
        return;
    };
    let Ok(restart) = std::env::var("BATON_TEST_POSTGRES_RESTART") else {
        assert!(
            std::env::var("CI").is_err(),
            "CI must set BATON_TEST_POSTGRES_RESTART (the command that restarts the server)"
        );
        eprintln!("BATON_TEST_POSTGRES_RESTART is not set: skipping");
        return;
    };
    let key = create_key(&db, "integrator");
    let (child, url) = start_server(&db);
    let _servers = Servers(vec![child]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let post = |n: usize| {
            let (client, url, key) = (client.clone(), url.clone(), key.clone());
            async move {
                let r = client
                    .post(format!("{url}/v1/conversations/r{n}/messages"))
                    .bearer_auth(key)
                    .json(&message(n + 1, 0))
                    .send()
                    .await
                    .unwrap();
                let retry = r.headers().get("retry-after").is_some();
                (r.status().as_u16(), retry)
            }
        };
        assert_eq!(post(0).await.0, 200);
        let restarting = std::thread::spawn(move || {
            let ok = std::process::Command::new("sh")
                .args(["-c", &restart])
                .status()
                .unwrap()
                .success();
            assert!(ok, "restart command failed");
        });
        let (mut unavailable, mut n) = (0, 1);
        while !restarting.is_finished() {
            let (status, retry) = post(n).await;
            n += 1;
            assert!(
                status == 200 || status == 503,
                "answered {status} while restarting"
            );
            if status == 503 {
                assert!(retry, "503 without Retry-After");
                unavailable += 1;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        restarting.join().unwrap();
        // It recovers by itself: within a few seconds, requests succeed again.
        let start = Instant::now();
        loop {
            let (status, _) = post(n).await;
            n += 1;
            if status == 200 {
                break;
            }
            assert_eq!(status, 503);
            assert!(start.elapsed() < Duration::from_secs(15), "did not recover");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        eprintln!("{unavailable} requests answered 503 during the restart");
    });
}
