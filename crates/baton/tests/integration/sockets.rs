//! The server over real sockets against careless and hostile clients: idle connections,
//! half-sent headers, bodies shorter than their `Content-Length`, more connections than file
//! descriptors, SIGTERM with event streams open, and a flood of report requests from every role
//! with the server's memory and CPU read from `/proc`.
//!
//! Requests are written by hand on `std::net::TcpStream`, so a test controls every byte and
//! when (or whether) it is sent.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{baton, create_key, server_url, start_server_with};

fn host(url: &str) -> String {
    url.trim_start_matches("http://").to_string()
}

/// Sends `raw` on a new connection and reads the answer until the server closes it.
fn exchange(addr: &str, raw: &str) -> String {
    exchange_bytes(addr, raw.as_bytes())
}

fn exchange_bytes(addr: &str, raw: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(raw).unwrap();
    read_until_closed(&mut s).0
}

/// Everything the server sends until it closes the connection (or 30 s pass), and whether it
/// closed.
fn read_until_closed(s: &mut TcpStream) -> (String, bool) {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return (String::from_utf8_lossy(&out).into_owned(), false)
            }
            Err(_) => return (String::from_utf8_lossy(&out).into_owned(), true),
        }
    }
}

/// A `Connection: close` request.
fn request(method: &str, path: &str, key: Option<&str>, body: Option<&str>) -> String {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    if let Some(k) = key {
        r.push_str(&format!("Authorization: Bearer {k}\r\n"));
    }
    if let Some(b) = body {
        r.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
            b.len()
        ));
    } else {
        r.push_str("\r\n");
    }
    r
}

fn status_of(answer: &str) -> u16 {
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

fn body_of(answer: &str) -> serde_json::Value {
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {answer:?}"))
}

/// Resident memory of process `pid`, in MB (`VmRSS` of /proc/PID/status).
fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb / 1024.0
}

/// CPU time used by process `pid` so far, in clock ticks (utime + stime of /proc/PID/stat).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of the line; 3 is the first one after the name.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// The (soft, hard) limits on open files of process `pid`, from /proc/PID/limits.
fn open_files_limits(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let n: Vec<&str> = line.split_whitespace().skip(3).take(2).collect();
    (n[0].to_string(), n[1].to_string())
}

/// Starts `baton serve` through `sh -c "SHELL_PREFIX; exec baton serve ..."` (to lower limits
/// first) and returns the child and its URL.
fn start_server_under(shell_prefix: &str, db: &str, env: &[(&str, &str)]) -> (Child, String) {
    let bin = env!("CARGO_BIN_EXE_baton");
    let template = baton();
    let mut cmd = Command::new("sh");
    for (k, v) in template.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let mut child = cmd
        .envs(env.iter().copied())
        .arg("-c")
        .arg(format!(
            "{shell_prefix} && exec \"$0\" serve --db \"$1\" --listen 127.0.0.1:0"
        ))
        .args([bin, db])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let url = server_url(&mut child);
    (child, url)
}

/// Kills the server however the test ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn idle_slow_and_short_clients_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("slow.db");
    let db = db.to_str().unwrap();
    let key = create_key(db, "integrator");
    let (server, url) = start_server_with(
        db,
        &[
            ("BATON_HEADER_TIMEOUT_SECONDS", "1"),
            ("BATON_BODY_TIMEOUT_SECONDS", "1"),
        ],
    );
    let _server = Killed(server);
    let addr = host(&url);
    let connect = || {
        let s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(8))).unwrap();
        s
    };
    // Connected, sends nothing.
    let mut idle = connect();
    // Half a request head.
    let mut half = connect();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow:")
        .unwrap();
    // One request answered, then nothing (an idle keep-alive connection).
    let mut kept = connect();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 12];
    kept.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    // A body 20 bytes long that says it has 200.
    let mut short = connect();
    short
        .write_all(
            format!(
                "POST /v1/conversations/c1/messages HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"message\": {{\"role\"",
            )
            .as_bytes(),
        )
        .unwrap();
    let started = Instant::now();
    for (what, s) in [
        ("idle", &mut idle),
        ("half-sent head", &mut half),
        ("idle keep-alive", &mut kept),
    ] {
        let (_, closed) = read_until_closed(s);
        assert!(closed, "the {what} connection was still open after 8 s");
    }
    let (answer, closed) = read_until_closed(&mut short);
    assert!(closed, "the short-body connection was still open");
    assert_eq!(status_of(&answer), 408, "{answer}");
    assert_eq!(body_of(&answer)["error"]["code"], "request_timeout");
    // Generous: the timeouts are 1 s.
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    // Nothing was stored and the server still answers.
    let answer = exchange(
        &addr,
        &request("GET", "/v1/conversations/c1", Some(&key), None),
    );
    assert_eq!(status_of(&answer), 404, "{answer}");
}

/// Regression (issue 14, item 5): requests hyper cannot parse, answered before any handler runs,
/// still get the documented JSON error.
#[test]
fn unparseable_requests_get_json_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bytes.db");
    let db = db.to_str().unwrap();
    let key = create_key(db, "admin");
    let (server, url) = start_server_with(db, &[]);
    let _server = Killed(server);
    let addr = host(&url);
    let auth = format!("Authorization: Bearer {key}\r\n");
    let long_path = format!("/v1/handoffs/{}", "a".repeat(70_000));
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "raw 0xFF in the path",
            [
                b"GET /v1/handoffs/\xff HTTP/1.1\r\nHost: t\r\n".as_slice(),
                auth.as_bytes(),
                b"\r\n",
            ]
            .concat(),
            400,
        ),
        (
            "a control byte in the path",
            [
                b"GET /v1/hand\x01offs HTTP/1.1\r\nHost: t\r\n".as_slice(),
                auth.as_bytes(),
                b"\r\n",
            ]
            .concat(),
            400,
        ),
        (
            "NUL in a header",
            [
                b"GET /v1/handoffs HTTP/1.1\r\nHost: t\r\nX-Note: a\x00b\r\n".as_slice(),
                auth.as_bytes(),
                b"\r\n",
            ]
            .concat(),
            400,
        ),
        (
            "a 70 KB URL",
            format!("GET {long_path} HTTP/1.1\r\nHost: t\r\n{auth}\r\n").into_bytes(),
            414,
        ),
        (
            "%FF in the path",
            [
                b"GET /v1/handoffs/%FF HTTP/1.1\r\nHost: t\r\nConnection: close\r\n".as_slice(),
                auth.as_bytes(),
                b"\r\n",
            ]
            .concat(),
            400,
        ),
    ];
    for (what, raw, status) in cases {
        let answer = exchange_bytes(&addr, &raw);
        assert_eq!(status_of(&answer), status, "{what}: {answer}");
        let lower = answer.to_ascii_lowercase();
        assert!(
            lower.contains("content-type: application/json"),
            "{what}: {answer}"
        );
        let e = body_of(&answer);
        assert!(e["error"]["code"].is_string(), "{what}: {answer}");
        assert!(e["error"]["message"].is_string(), "{what}: {answer}");
    }
}

#[test]
fn more_connections_than_file_descriptors_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fds.db");
    let db = db.to_str().unwrap();
    create_key(db, "integrator");
    // Soft and hard limit 256: the server cannot raise it, and caps itself at 256 - 64 = 192.
    let (server, url) = start_server_under(
        "ulimit -n 256",
        db,
        &[("BATON_HEADER_TIMEOUT_SECONDS", "2")],
    );
    let server = Killed(server);
    let addr = host(&url);
    let mut held = Vec::new();
    for _ in 0..260 {
        let s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        held.push(s);
    }
    // Over the cap: an immediate 503 with Retry-After and a JSON body, then close.
    let mut refused = 0;
    for s in &mut held {
        let (answer, _) = read_until_closed(s);
        if answer.is_empty() {
            continue;
        }
        assert_eq!(status_of(&answer), 503, "{answer}");
        assert!(
            answer.to_ascii_lowercase().contains("retry-after: 1"),
            "{answer}"
        );
        assert_eq!(body_of(&answer)["error"]["code"], "unavailable");
        refused += 1;
    }
    assert!(
        (260 - 192..=260 - 150).contains(&refused),
        "{refused} of 260 refused"
    );
    // The held connections are idle: closed after the header timeout, and the server serves
    // again, never having run out of descriptors.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = exchange(&addr, &request("GET", "/healthz", None, None));
        if status_of(&answer) == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "still refused: {answer}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        open_files_limits(server.0.id()),
        ("256".into(), "256".into())
    );
}

#[test]
fn the_server_raises_its_soft_open_files_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("raise.db");
    let db = db.to_str().unwrap();
    create_key(db, "integrator");
    let (server, _url) = start_server_under("ulimit -Sn 300", db, &[]);
    let server = Killed(server);
    let (soft, hard) = open_files_limits(server.0.id());
    assert_eq!(soft, hard, "the soft limit was not raised to the hard one");
    assert_ne!(soft, "300");
}

#[test]
fn sigterm_ends_event_streams_and_finishes_in_flight_requests() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("term.db");
    let db = db.to_str().unwrap();
    let key = create_key(db, "integrator");
    let (server, url) = start_server_with(db, &[]);
    let mut server = Killed(server);
    let addr = host(&url);
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream
        .write_all(
            format!("GET /v1/events HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {key}\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    // A request in flight: its head and half its body are sent before SIGTERM, the rest after.
    let body = r#"{"customer": {"id": "u1", "tier": "standard"}, "message": {"role": "customer", "text": "hello there"}}"#;
    let (first, rest) = body.split_at(40);
    let mut post = TcpStream::connect(&addr).unwrap();
    post.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    post.write_all(
        format!(
            "POST /v1/conversations/c1/messages HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{first}",
            body.len()
        )
        .as_bytes(),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let term = Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    std::thread::sleep(Duration::from_millis(300));
    post.write_all(rest.as_bytes()).unwrap();
    let (answer, _) = read_until_closed(&mut post);
    assert_eq!(status_of(&answer), 200, "{answer}");
    assert_eq!(body_of(&answer)["index"], 0);
    // The stream ends with an event telling the client to reconnect.
    let (events, closed) = read_until_closed(&mut stream);
    assert!(closed, "the event stream stayed open: {events}");
    assert!(events.contains("event: reconnect"), "{events}");
    assert!(events.contains("retry: 1000"), "{events}");
    // And the process exits, cleanly, well within the grace period.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(code) = server.0.try_wait().unwrap() {
            assert!(code.success(), "exit status {code}");
            break;
        }
        assert!(Instant::now() < deadline, "the server did not exit");
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("exited {:?} after SIGTERM", started.elapsed());
}

/// An agent with every skill, on shift, and `n` conversations handed to it and resolved (half
/// judged unnecessary), so that reports replay suggested policy changes.
fn seed_resolved_handoffs(addr: &str, db: &str, n: usize) -> [String; 3] {
    let admin = create_key(db, "admin");
    let integrator = create_key(db, "integrator");
    let put = |path: &str, key: &str, body: &str| {
        let a = exchange(addr, &request("PUT", path, Some(key), Some(body)));
        assert_eq!(status_of(&a), 200, "PUT {path}: {a}");
    };
    put(
        "/v1/agents/a1",
        &admin,
        r#"{"name": "Ana", "skills": ["billing", "technical", "retention", "legal", "enterprise", "general"], "capacity": 50, "seniority": "senior", "team": "general"}"#,
    );
    let out = baton()
        .args([
            "keys", "create", "--db", db, "--role", "agent", "--name", "ana", "--agent", "a1",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let agent = String::from_utf8(out.stdout).unwrap().trim().to_string();
    put("/v1/agents/a1/status", &agent, r#"{"status": "available"}"#);
    for i in 0..n {
        let body = format!(
            r#"{{"customer": {{"id": "u{i}", "tier": "standard"}}, "message": {{"role": "customer", "text": "my bill is wrong, I want to talk to a real person"}}}}"#
        );
        let a = exchange(
            addr,
            &request(
                "POST",
                &format!("/v1/conversations/c{i}/messages"),
                Some(&integrator),
                Some(&body),
            ),
        );
        assert_eq!(status_of(&a), 200, "{a}");
        let h = body_of(&a)["handoff"]["id"].as_str().unwrap().to_string();
        for (action, body) in [
            ("accept", r#"{"agent_id": "a1"}"#.to_string()),
            (
                "resolve",
                format!(
                    r#"{{"resolution": "refunded", "necessary": {}}}"#,
                    i % 2 == 0
                ),
            ),
        ] {
            let a = exchange(
                addr,
                &request(
                    "POST",
                    &format!("/v1/handoffs/{h}/{action}"),
                    Some(&agent),
                    Some(&body),
                ),
            );
            assert_eq!(status_of(&a), 200, "{action}: {a}");
        }
    }
    [admin, integrator, agent]
}

#[test]
fn a_report_flood_from_every_role_keeps_memory_and_cpu_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("flood.db");
    let db = db.to_str().unwrap();
    create_key(db, "integrator"); // creates the database
    let (server, url) = start_server_with(db, &[]);
    let server = Killed(server);
    let pid = server.0.id();
    let addr = host(&url);
    let [admin, integrator, agent] = seed_resolved_handoffs(&addr, db, 6);

    // Every role: leads and admins read reports; integrators and agents may not.
    let lead = create_key(db, "lead");
    for (key, status) in [
        (&integrator, 403),
        (&agent, 403),
        (&lead, 200),
        (&admin, 200),
    ] {
        let a = exchange(&addr, &request("GET", "/v1/report", Some(key), None));
        assert_eq!(status_of(&a), status, "{a}");
        if status == 200 {
            // Judged handoffs: the report replays the suggested policy changes.
            assert_eq!(body_of(&a)["judged"], 6, "{a}");
        } else {
            assert_eq!(body_of(&a)["error"]["code"], "forbidden");
        }
    }

    // 16 dashboards x 25 requests over 4 periods; every other request is abandoned as soon as
    // it is sent.
    let rss_before = rss_mb(pid);
    let flood_started = Instant::now();
    let workers: Vec<_> = (0..16)
        .map(|w| {
            let (addr, key) = (
                addr.clone(),
                if w % 2 == 0 { &admin } else { &lead }.clone(),
            );
            std::thread::spawn(move || {
                for i in 0..25 {
                    let path = format!("/v1/report?since=2026-01-0{}", 1 + (w + i) % 4);
                    let raw = request("GET", &path, Some(&key), None);
                    if i % 2 == 0 {
                        let mut s = TcpStream::connect(&addr).unwrap();
                        s.write_all(raw.as_bytes()).unwrap();
                        drop(s);
                    } else {
                        let a = exchange(&addr, &raw);
                        assert_eq!(status_of(&a), 200, "{a}");
                    }
                }
            })
        })
        .collect();
    let mut peak_rss = rss_before;
    let mut health_worst = Duration::ZERO;
    while workers.iter().any(|w| !w.is_finished()) {
        peak_rss = peak_rss.max(rss_mb(pid));
        let t = Instant::now();
        let a = exchange(&addr, &request("GET", "/healthz", None, None));
        assert_eq!(status_of(&a), 200, "{a}");
        health_worst = health_worst.max(t.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
    for w in workers {
        w.join().unwrap();
    }
    let flood_took = flood_started.elapsed();
    // Once the answers are given, the work is over: no report goes on computing for nobody.
    std::thread::sleep(Duration::from_millis(200));
    let ticks = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(1));
    let idle_ticks = cpu_ticks(pid) - ticks;
    let rss_after = rss_mb(pid);
    eprintln!(
        "report flood: 400 requests in {flood_took:?}; RSS {rss_before:.1} -> peak {peak_rss:.1} -> {rss_after:.1} MB; \
         CPU in the second after: {idle_ticks} ticks; slowest /healthz {health_worst:?}"
    );
    assert!(peak_rss < 150.0, "RSS reached {peak_rss:.1} MB");
    assert!(
        idle_ticks < 30,
        "{idle_ticks} ticks of CPU in the second after the flood ended"
    );
}
