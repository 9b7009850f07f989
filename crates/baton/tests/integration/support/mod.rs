//! Running the `baton` binary from tests: keys, servers on free loopback ports.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub fn baton() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_baton"));
    // No rate limit: the load in these tests comes from one key.
    c.env_remove("BATON_POLICY")
        .env("BATON_LOG", "warn")
        .env("BATON_RATE_LIMIT_PER_SECOND", "0");
    c
}

/// Runs `baton args` writing into a pipe whose reader has already gone (as `| head -0` or a
/// pager quit at once leaves it: every write fails with a broken pipe), and checks that it ends
/// quietly: exit 0 and no panic on stderr. The output of most commands fits the pipe's buffer, so
/// a reader that took a line first would not make any write fail.
pub fn assert_ends_quietly_into_closed_pipe(args: &[&str]) {
    let mut child = baton()
        .args(args)
        // Relative paths in `args` are the repository's.
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("baton runs");
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let describe = format!(
        "command: baton {}\nexit: {:?}\n--- stderr\n{stderr}",
        args.join(" "),
        output.status.code()
    );
    assert!(!stderr.contains("panicked"), "{describe}");
    assert_eq!(output.status.code(), Some(0), "{describe}");
}

/// Creates a key with `role` in database `db` (a file or a PostgreSQL URL) and returns it.
pub fn create_key(db: &str, role: &str) -> String {
    let out = baton()
        .args([
            "keys", "create", "--db", db, "--role", role, "--name", "test",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Starts `baton serve` on a free port and returns the child and its base URL.
pub fn start_server(db: &str) -> (Child, String) {
    start_server_with(db, &[])
}

/// [`start_server`] with extra environment variables (settings such as `BATON_EVENT_POLL_MS`).
pub fn start_server_with(db: &str, env: &[(&str, &str)]) -> (Child, String) {
    let mut child = baton()
        .envs(env.iter().copied())
        .args(["serve", "--db", db, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let url = server_url(&mut child);
    (child, url)
}

/// The base URL a starting `baton serve` prints on its first line of stdout.
pub fn server_url(child: &mut Child) -> String {
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    line.split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string()
}

/// Starts `n` servers on one database (with extra environment); killed when dropped.
pub fn start_servers(db: &str, n: usize, env: &[(&str, &str)]) -> (Servers, Vec<String>) {
    let mut servers = Servers(Vec::new());
    let mut urls = Vec::new();
    for _ in 0..n {
        let (child, url) = start_server_with(db, env);
        servers.0.push(child);
        urls.push(url);
    }
    (servers, urls)
}

/// Kills the servers however the test ends.
pub struct Servers(pub Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs `sql` on the PostgreSQL database at `url` (off the async threads: the client blocks).
pub fn query(url: &str, sql: &str) -> Vec<postgres::Row> {
    let (url, sql) = (url.to_string(), sql.to_string());
    std::thread::spawn(move || {
        postgres::Client::connect(&url, postgres::NoTls)
            .unwrap()
            .query(sql.as_str(), &[])
            .unwrap()
    })
    .join()
    .unwrap()
}

/// Starts a webhook receiver on loopback that records each delivery's `webhook-id`, registers it
/// with the server at `url`, and returns the record.
pub async fn webhook_receiver(
    client: &reqwest::Client,
    url: &str,
    key: &str,
) -> std::sync::Arc<std::sync::Mutex<Vec<String>>> {
    let received: std::sync::Arc<std::sync::Mutex<Vec<String>>> = Default::default();
    let log = received.clone();
    let hook = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let log = log.clone();
            async move {
                let id = headers["webhook-id"].to_str().unwrap().to_string();
                log.lock().unwrap().push(id);
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, hook).await.unwrap() });
    let r = client
        .post(format!("{url}/v1/webhooks"))
        .bearer_auth(key)
        .json(&serde_json::json!({"url": hook_url}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    received
}
