//! Load generator for durable message ingest: `clients` concurrent HTTP clients post messages to
//! their own conversations for `seconds`, and the run reports acknowledged messages/second and
//! latency percentiles. Next to it, it measures the disk's fsyncs/second in the database's folder
//! (a write + fsync loop), the physical limit without group commit, in the same run.
//!
//! cargo run --release -p baton --example ingest_load -- URL[,URL...] KEY DB_DIR [clients] [seconds] [FILE]
//! Without FILE each client posts to one conversation of its own, customer and AI messages
//! alternating, the same question with a new number each time (conversations of thousands of
//! messages). With FILE (conversations, one JSON per line, as `baton analyze` reads them, e.g.
//! from `scripts/generate_conversations.py`), client `c` posts conversations `c`, `c + clients`,
//! ... of the file, each message in order under a new conversation id, with the record's customer,
//! role, text and confidence (the server stamps the time), cycling through the file: real traffic's
//! mix of new and short conversations, varied text, handoffs and routing.
//! With several URLs (instances sharing one database) client `c` posts to URL `c mod n`: each
//! conversation stays on one instance, as behind a load balancer with affinity.
//! (scripts/bench_ingest.sh and scripts/bench_ingest_pg.sh start the servers and run this.)
//! Besides the percentiles it reports when the slowest request was sent (`max_sent_at_s`) and the
//! slowest of those sent after the first second (`max_after_first_second_ms`), so a slow start
//! reads apart from a stall under load; `INGEST_DUMP=FILE` also writes every request's send time
//! (seconds) and latency (ms), one per line, in send order.

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The request bodies of one conversation of the file, in order.
fn conversation_bodies(line: &str, at: usize) -> Vec<serde_json::Value> {
    let record: serde_json::Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("line {}: not a JSON conversation: {e}", at + 1));
    let customer = record.get("customer").cloned();
    let messages = record["messages"]
        .as_array()
        .unwrap_or_else(|| panic!("line {}: no `messages` array", at + 1));
    messages
        .iter()
        .map(|m| {
            let mut message = serde_json::json!({"role": m["role"], "text": m["text"]});
            for key in ["confidence", "kb_articles"] {
                if let Some(v) = m.get(key).filter(|v| !v.is_null()) {
                    message[key] = v.clone();
                }
            }
            match &customer {
                Some(c) => serde_json::json!({"customer": c, "message": message}),
                None => serde_json::json!({"message": message}),
            }
        })
        .collect()
}

/// Every conversation of `path`, as request bodies.
fn load_file(path: &str) -> Vec<Vec<serde_json::Value>> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let conversations: Vec<_> = std::io::BufReader::new(file)
        .lines()
        .enumerate()
        .filter_map(|(i, l)| {
            let l = l.unwrap_or_else(|e| panic!("{path}: line {}: {e}", i + 1));
            (!l.trim().is_empty()).then(|| conversation_bodies(&l, i))
        })
        .filter(|c| !c.is_empty())
        .collect();
    assert!(!conversations.is_empty(), "{path}: no conversations");
    conversations
}

fn fsyncs_per_second(dir: &str, seconds: f64) -> f64 {
    let path = std::path::Path::new(dir).join("fsync-probe.tmp");
    let mut f = std::fs::File::create(&path).expect("create probe file");
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed().as_secs_f64() < seconds {
        f.write_all(b"x").unwrap();
        f.sync_data().unwrap();
        n += 1;
    }
    let _ = std::fs::remove_file(&path);
    n as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: ingest_load URL[,URL...] KEY DB_DIR [clients=64] [seconds=10] [FILE]");
        std::process::exit(2);
    }
    let urls: Vec<String> = args[1].split(',').map(str::to_string).collect();
    let (key, dir) = (args[2].clone(), args[3].clone());
    let clients: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(64);
    let seconds: u64 = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(10);
    let file = args.get(6).map(|p| Arc::new(load_file(p)));

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (client, url, key) = (client.clone(), urls[c % urls.len()].clone(), key.clone());
        let file = file.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut conv = format!("load-{}-{c}", std::process::id());
            let mut i = 0u64;
            // With a file: which of the client's conversations, and which message of it.
            let (mut nth, mut at) = (0usize, 0usize);
            while Instant::now() < deadline {
                let body = match &file {
                    None => serde_json::json!({
                        "customer": {"id": format!("cust-{c}"), "tier": "standard", "lifetime_value": 100.0},
                        "message": {"role": if i.is_multiple_of(2) { "customer" } else { "ai" },
                                    "text": format!("Where is my order BX-{i}? It was due yesterday."),
                                    "confidence": if i.is_multiple_of(2) { None } else { Some(0.9) }}
                    }),
                    Some(file) => {
                        let which = (c + nth * clients) % file.len();
                        if at == file[which].len() {
                            (nth, at) = (nth + 1, 0);
                        }
                        let which = (c + nth * clients) % file.len();
                        if at == 0 {
                            conv = format!("load-{}-{c}-{nth}", std::process::id());
                        }
                        at += 1;
                        file[which][at - 1].clone()
                    }
                };
                let t = Instant::now();
                let r = client
                    .post(format!("{url}/v1/conversations/{conv}/messages"))
                    .bearer_auth(&key)
                    .json(&body)
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        latencies.push((t.elapsed(), t - started));
                    }
                    _ => errors += 1,
                }
                i += 1;
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await.unwrap();
        all.extend(l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort();
    if let Ok(f) = std::env::var("INGEST_DUMP") {
        let mut by_send: Vec<&(Duration, Duration)> = all.iter().collect();
        by_send.sort_by_key(|(_, at)| *at);
        let lines: String = by_send
            .iter()
            .map(|(l, at)| format!("{:.4} {:.2}\n", at.as_secs_f64(), l.as_secs_f64() * 1000.0))
            .collect();
        if let Err(e) = std::fs::write(&f, lines) {
            eprintln!("ingest_load: cannot write INGEST_DUMP file {f}: {e}");
            std::process::exit(1);
        }
    }
    // When the slowest request was sent, in seconds after the start, and the slowest of those
    // sent after the first second: a slow start reads apart from a stall under load.
    let max_at = all.last().map_or(0.0, |(_, at)| at.as_secs_f64());
    let steady_max = all
        .iter()
        .filter(|(_, at)| at.as_secs_f64() >= 1.0)
        .map(|(l, _)| *l)
        .max();
    let pct = |p: f64| {
        all[((all.len() as f64 * p) as usize).min(all.len() - 1)]
            .0
            .as_secs_f64()
            * 1000.0
    };
    let fsyncs = fsyncs_per_second(&dir, 3.0);
    println!(
        "{}",
        serde_json::json!({
            "clients": clients,
            "seconds": elapsed,
            "acknowledged": all.len(),
            "errors": errors,
            "messages_per_second": all.len() as f64 / elapsed,
            "p50_ms": pct(0.50),
            "p99_ms": pct(0.99),
            "max_ms": pct(1.0),
            "max_sent_at_s": max_at,
            "max_after_first_second_ms": steady_max.map_or(0.0, |d| d.as_secs_f64() * 1000.0),
            "disk_fsyncs_per_second": fsyncs,
        })
    );
}
