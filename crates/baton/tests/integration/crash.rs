//! Durability: a varied load of concurrent message posts, the server killed mid-load (`kill -9`,
//! or a simulated power loss that also drops every write not yet fsync'ed), restart, the
//! requests that were in flight retried with their `Idempotency-Key`, and every acknowledged
//! message is there, exactly once, at the index it was acknowledged with.

use std::path::Path;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::support::{create_key, start_server, start_server_with};

/// Conversations posted to at once.
const WRITERS: usize = 32;

/// One message the load sent: its conversation, idempotency key, body and text.
#[derive(Clone)]
struct Sent {
    conv: String,
    key: String,
    body: serde_json::Value,
    text: String,
}

#[derive(Default)]
struct Outcome {
    /// (message, index it was acknowledged with)
    acked: Vec<(Sent, u64)>,
    /// Sent, but the server went away before answering.
    in_flight: Vec<Sent>,
}

/// The `i`th message of writer `c`: customer and AI turns, texts of varied length, now and then a
/// customer asking for a human (a handoff is created and routed in the same commit).
fn message(c: usize, i: u64) -> Sent {
    let conv = format!("conv-{c}");
    let role = if i.is_multiple_of(2) {
        "customer"
    } else {
        "ai"
    };
    let filler = "about my last invoice and the plan ".repeat((i % 7) as usize);
    let text = if i % 13 == 5 {
        format!("{conv} message {i}: I want to talk to a real person {filler}")
    } else {
        format!("{conv} message {i} {filler}")
    };
    let body = serde_json::json!({
        "customer": {"id": format!("cust-{c}"), "tier": if c.is_multiple_of(5) { "vip" } else { "standard" }},
        "message": {"role": role, "text": text, "confidence": 0.5 + (i % 5) as f64 / 10.0}
    });
    Sent {
        key: format!("{conv}-{i}"),
        conv,
        body,
        text,
    }
}

async fn post(client: &reqwest::Client, url: &str, key: &str, m: &Sent) -> Result<u64, String> {
    let r = client
        .post(format!("{url}/v1/conversations/{}/messages", m.conv))
        .bearer_auth(key)
        .header("Idempotency-Key", &m.key)
        .json(&m.body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status();
    let v: serde_json::Value = r.json().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("status {status}: {v}"));
    }
    Ok(v["index"].as_u64().expect("an index"))
}

/// A varied load for a varied time (1-2.5 s, at least 400 messages acknowledged), then `kill`.
fn load_then_kill(url: &str, key: &str, kill: impl FnOnce()) -> Outcome {
    let outcome: Arc<Mutex<Outcome>> = Arc::default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let run_for = Duration::from_millis(1000 + nanos % 1500);
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let started = Instant::now();
        let deadline = started + Duration::from_secs(30);
        let mut tasks = Vec::new();
        for c in 0..WRITERS {
            let (client, url, key, outcome) = (
                client.clone(),
                url.to_string(),
                key.to_string(),
                outcome.clone(),
            );
            tasks.push(tokio::spawn(async move {
                for i in 0u64.. {
                    if Instant::now() > deadline {
                        break;
                    }
                    let m = message(c, i);
                    match post(&client, &url, &key, &m).await {
                        Ok(index) => outcome.lock().unwrap().acked.push((m, index)),
                        Err(_) => {
                            // The server is gone: this one may or may not have been stored.
                            outcome.lock().unwrap().in_flight.push(m);
                            break;
                        }
                    }
                }
            }));
        }
        while (started.elapsed() < run_for || outcome.lock().unwrap().acked.len() < 400)
            && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        kill();
        for t in tasks {
            t.await.unwrap();
        }
    });
    Arc::try_unwrap(outcome).ok().unwrap().into_inner().unwrap()
}

/// Restarts on `db`, retries the in-flight requests with their keys, and checks that every
/// acknowledged or retried message is stored once, at the index it was acknowledged with.
fn restart_retry_and_check(db: &Path, key: &str, outcome: Outcome) {
    assert!(
        outcome.acked.len() >= 400,
        "only {} messages acknowledged before the kill",
        outcome.acked.len()
    );
    let (mut server, url) = start_server(db.to_str().unwrap());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (acked, stored) = rt.block_on(async {
        let client = reqwest::Client::new();
        let mut acked = outcome.acked;
        for m in outcome.in_flight {
            let index = post(&client, &url, key, &m)
                .await
                .unwrap_or_else(|e| panic!("retrying {} with its key: {e}", m.key));
            acked.push((m, index));
        }
        let mut stored = std::collections::HashMap::new();
        for c in 0..WRITERS {
            let conv = format!("conv-{c}");
            let r = client
                .get(format!("{url}/v1/conversations/{conv}"))
                .bearer_auth(key)
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
        (acked, stored)
    });
    server.kill().unwrap();
    server.wait().unwrap();
    for (m, index) in &acked {
        let texts = stored.get(&m.conv).map_or(&[][..], |t| t.as_slice());
        assert_eq!(
            texts.get(*index as usize),
            Some(&m.text),
            "{} message acknowledged at {index} lost",
            m.conv
        );
        assert_eq!(
            texts.iter().filter(|t| **t == m.text).count(),
            1,
            "{} stored twice",
            m.text
        );
    }
}

fn kill_9(server: &mut Child) {
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
}

#[test]
fn acknowledged_messages_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let key = create_key(db.to_str().unwrap(), "integrator");
    let (mut server, url) = start_server(db.to_str().unwrap());
    let outcome = load_then_kill(&url, &key, || kill_9(&mut server));
    restart_retry_and_check(&db, &key, outcome);
}

/// Puts back the bytes the shim recorded as not yet fsync'ed (newest first; format in
/// `support/unsynced_writes.c`), as a power loss would, and returns how many writes it undid.
fn lose_unsynced_writes(mut log: &[u8]) -> usize {
    use std::os::unix::fs::FileExt;
    fn take<'a>(log: &mut &'a [u8], n: usize) -> &'a [u8] {
        let (head, tail) = log.split_at(n);
        *log = tail;
        head
    }
    fn number(log: &mut &[u8]) -> u64 {
        u64::from_le_bytes(take(log, 8).try_into().unwrap())
    }
    let mut undone = 0;
    while !log.is_empty() {
        let path_len = number(&mut log) as usize;
        let path = String::from_utf8(take(&mut log, path_len).to_vec()).unwrap();
        let (offset, old_size) = (number(&mut log), number(&mut log));
        let len = number(&mut log) as usize;
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.write_all_at(take(&mut log, len), offset).unwrap();
        file.set_len(old_size).unwrap();
        undone += 1;
    }
    undone
}

/// `kill -9` leaves the page cache, so it cannot catch a missing fsync. Here the server runs
/// with an `LD_PRELOAD` shim (`support/unsynced_writes.c`, built with gcc) that records what
/// every write to the database and its WAL overwrote and forgets it at each fsync; on a
/// trigger file it saves what is not yet fsync'ed and exits at once, and the test puts those
/// bytes back, as a power loss would. Acknowledged messages must all survive that too. (With
/// `synchronous = OFF` this test fails: acknowledged messages are lost.)
#[test]
fn acknowledged_messages_survive_losing_unsynced_writes() {
    let dir = tempfile::tempdir().unwrap();
    let shim = dir.path().join("unsynced_writes.so");
    let out = std::process::Command::new("gcc")
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&shim)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/integration/support/unsynced_writes.c"
        ))
        .args(["-ldl", "-lpthread"])
        .output()
        .expect("gcc is needed to build the fsync shim");
    assert!(
        out.status.success(),
        "building the shim: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let db = dir.path().join("power.db");
    let key = create_key(db.to_str().unwrap(), "integrator");
    let trigger = dir.path().join("power-off");
    let (mut server, url) = start_server_with(
        db.to_str().unwrap(),
        &[
            ("LD_PRELOAD", shim.to_str().unwrap()),
            ("BATON_SHIM_CRASH_FILE", trigger.to_str().unwrap()),
        ],
    );
    let outcome = load_then_kill(&url, &key, || {
        std::fs::write(&trigger, b"").unwrap();
        let status = server.wait().unwrap();
        assert_eq!(status.code(), Some(137), "the shim did not stop the server");
    });
    let report = std::fs::read_to_string(dir.path().join("power-off.done")).unwrap();
    let fsyncs: u64 = report
        .split_whitespace()
        .find_map(|w| w.strip_prefix("fsyncs="))
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(fsyncs > 0, "the shim saw no fsync: {report}");
    let undone = lose_unsynced_writes(&std::fs::read(dir.path().join("power-off.undo")).unwrap());
    eprintln!("power loss: {report} ({undone} writes put back)");
    // The WAL index is shared memory: it does not survive a power loss either.
    let _ = std::fs::remove_file(dir.path().join("power.db-shm"));
    restart_retry_and_check(&db, &key, outcome);
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
