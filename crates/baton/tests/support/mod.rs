//! Running the `baton` binary from tests: keys, servers on free loopback ports.
#![allow(dead_code)]

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
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (child, url)
}
