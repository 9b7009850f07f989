//! `baton demo` runs what `baton serve` runs: its background workers deliver webhooks.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::support::*;

/// Regression: the demo served the API without the workers, so webhooks never arrived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_arrive_under_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let mut child = baton()
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--db",
            db.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _demo = Servers(vec![child]);
    // Read the banner up to its last line: the URL and the integrator key.
    let (base, key) = tokio::task::spawn_blocking(move || {
        let (mut base, mut key) = (None, None);
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(url) = line.strip_prefix("Baton demo is running at ") {
                base = Some(url.trim().to_string());
            }
            if let Some(k) = line.trim().strip_prefix("integrator key") {
                key = Some(k.trim().to_string());
            }
            if line.contains("ctrl-c stops the server") {
                break;
            }
        }
        (base.expect("demo URL"), key.expect("integrator key"))
    })
    .await
    .unwrap();

    let client = reqwest::Client::new();
    let received = webhook_receiver(&client, &base, &key).await;
    let r = client
        .post(format!("{base}/v1/conversations/after-demo/messages"))
        .bearer_auth(&key)
        .json(&serde_json::json!({
            "customer": {"id": "u-demo", "name": "Dana", "tier": "standard"},
            "message": {"role": "customer", "text": "I want to speak to a real person now"}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let deadline = Instant::now() + Duration::from_secs(15);
    while received.lock().unwrap().is_empty() {
        assert!(
            Instant::now() < deadline,
            "no webhook arrived within 15 s of a handoff under the demo"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
