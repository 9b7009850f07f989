//! Durability: a load of concurrent message posts, `kill -9` of the server mid-load, restart, and
//! every acknowledged message is there, exactly once, at the index it was acknowledged with.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod support;

use support::{create_key, start_server};

#[test]
fn acknowledged_messages_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let key = create_key(db.to_str().unwrap(), "integrator");
    let (mut server, url) = start_server(db.to_str().unwrap());

    let acked: Arc<Mutex<Vec<(String, u64, String)>>> = Arc::default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut tasks = Vec::new();
        for c in 0..32 {
            let (client, url, key, acked) = (client.clone(), url.clone(), key.clone(), acked.clone());
            tasks.push(tokio::spawn(async move {
                let conv = format!("conv-{c}");
                for i in 0u64.. {
                    if Instant::now() > deadline {
                        break;
                    }
                    let text = format!("{conv} message {i}");
                    let body = serde_json::json!({
                        "customer": {"id": format!("cust-{c}"), "tier": "standard"},
                        "message": {"role": if i.is_multiple_of(2) { "customer" } else { "ai" }, "text": text}
                    });
                    let resp = client
                        .post(format!("{url}/v1/conversations/{conv}/messages"))
                        .bearer_auth(&key)
                        .json(&body)
                        .send()
                        .await;
                    match resp {
                        Ok(r) if r.status().is_success() => {
                            let v: serde_json::Value = match r.json().await {
                                Ok(v) => v,
                                Err(_) => break,
                            };
                            acked.lock().unwrap().push((conv.clone(), v["index"].as_u64().unwrap(), text));
                        }
                        Ok(r) => panic!("unexpected status {}", r.status()),
                        Err(_) => break, // the server is gone
                    }
                }
            }));
        }
        // Let the load run, then kill the server without warning.
        while acked.lock().unwrap().len() < 400 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server.kill().unwrap(); // SIGKILL
        server.wait().unwrap();
        for t in tasks {
            t.await.unwrap();
        }
    });
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 400,
        "only {} messages acknowledged before the kill",
        acked.len()
    );

    let (mut server, url) = start_server(db.to_str().unwrap());
    let check = rt.block_on(async {
        let client = reqwest::Client::new();
        let mut stored = std::collections::HashMap::new();
        for c in 0..32 {
            let conv = format!("conv-{c}");
            let r = client
                .get(format!("{url}/v1/conversations/{conv}"))
                .bearer_auth(&key)
                .send()
                .await
                .unwrap();
            if r.status().as_u16() == 404 {
                continue;
            }
            let v: serde_json::Value = r.json().await.unwrap();
            let texts: Vec<String> = v["messages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["text"].as_str().unwrap().to_string())
                .collect();
            stored.insert(conv, texts);
        }
        // The restarted server keeps accepting messages where each conversation left off.
        let r = client
            .post(format!("{url}/v1/conversations/conv-0/messages"))
            .bearer_auth(&key)
            .json(&serde_json::json!({"message": {"role": "customer", "text": "after restart"}}))
            .send()
            .await
            .unwrap();
        (stored, r.status().as_u16())
    });
    server.kill().unwrap();
    server.wait().unwrap();
    let (stored, after_restart) = check;
    assert_eq!(after_restart, 200);
    for (conv, index, text) in &acked {
        let texts = &stored[conv];
        assert_eq!(
            texts.get(*index as usize),
            Some(text),
            "{conv} message {index} lost"
        );
        assert_eq!(
            texts.iter().filter(|t| *t == text).count(),
            1,
            "{text} stored twice"
        );
    }
}

#[test]
fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("term.db");
    create_key(db.to_str().unwrap(), "integrator"); // creates and migrates the database
    let (mut server, url) = start_server(db.to_str().unwrap());
    // The server answers, then stops on SIGTERM with exit code 0.
    let status = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{url}/healthz"),
        ])
        .output();
    if let Ok(out) = status {
        assert_eq!(String::from_utf8_lossy(&out.stdout), "200");
    }
    let term = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(code) = server.try_wait().unwrap() {
            assert!(code.success(), "exit status {code}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
