//! Test harness shared by the HTTP tests: a real server on 127.0.0.1 with a fresh
//! SQLite file per test, and one helper per endpoint.

use std::sync::Arc;

use baton_core::Policy;
use baton_server::auth::generate_key;
use baton_server::{router, AppState, Settings};
use baton_store::sqlite::SqliteStore;
use baton_store::{KeyRole, Store};
use serde_json::{json, Value};

pub struct TestApp {
    pub base: String,
    pub store: Arc<SqliteStore>,
    pub client: reqwest::Client,
    pub admin: String,
    pub integrator: String,
    /// A lead's key: acts on every handoff.
    pub lead: String,
    pub _dir: tempfile::TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Settings::default()).await
}

pub async fn spawn_app_with(settings: Settings) -> TestApp {
    spawn_app_full(settings, default_policy(), false).await
}

/// The default policy, compiled once per test binary (compiling it is most of a server's start).
pub fn default_policy() -> Policy {
    static POLICY: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
    POLICY.get_or_init(Policy::default).clone()
}

/// A server with `policy`; `workers` starts the routing sweep and webhook delivery.
pub async fn spawn_app_full(mut settings: Settings, policy: Policy, workers: bool) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    settings.db = baton_server::Database::Sqlite(path.clone());
    let store = Arc::new(SqliteStore::open(&path).unwrap());
    let mut keys = Vec::new();
    for role in [KeyRole::Admin, KeyRole::Integrator, KeyRole::Lead] {
        let k = generate_key(role.as_str(), role, "2026-01-01T00:00:00Z".parse().unwrap());
        store.create_key(k.record.clone()).await.unwrap();
        keys.push(k.key);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = AppState::new(store.clone(), policy, settings);
    if workers {
        state.spawn_workers();
    }
    let app = router(state);
    tokio::spawn(baton_server::serve(listener, app, std::future::pending()));
    TestApp {
        base,
        store,
        client: reqwest::Client::new(),
        admin: keys[0].clone(),
        integrator: keys[1].clone(),
        lead: keys[2].clone(),
        _dir: dir,
    }
}

impl TestApp {
    /// A second server on this one's store, with nothing cached (as after a restart, or another
    /// instance): its base URL.
    pub async fn serve_again(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let settings = Settings {
            db: baton_server::Database::Sqlite(self._dir.path().join("baton.db")),
            ..Settings::default()
        };
        let state = AppState::new(self.store.clone(), default_policy(), settings);
        tokio::spawn(baton_server::serve(
            listener,
            router(state),
            std::future::pending(),
        ));
        base
    }

    pub async fn post_message(&self, conv: &str, body: &Value) -> (u16, Value) {
        self.send(
            self.client
                .post(format!("{}/v1/conversations/{conv}/messages", self.base))
                .bearer_auth(&self.integrator)
                .json(body),
        )
        .await
    }

    pub async fn get(&self, path: &str, key: &str) -> (u16, Value) {
        self.send(
            self.client
                .get(format!("{}{path}", self.base))
                .bearer_auth(key),
        )
        .await
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub async fn message_count(&self, conv: &str) -> usize {
        self.store
            .conversation(conv)
            .await
            .unwrap()
            .map_or(0, |c| c.messages.len())
    }
}

impl TestApp {
    /// A new key of agent `agent_id` (which acts on that agent's handoffs and status only).
    pub async fn agent_key(&self, agent_id: &str) -> String {
        let k = baton_server::auth::generate_agent_key(
            agent_id,
            KeyRole::Agent,
            Some(agent_id.to_string()),
            "2026-01-01T00:00:00Z".parse().unwrap(),
        );
        self.store.create_key(k.record.clone()).await.unwrap();
        k.key
    }

    pub async fn post(&self, path: &str, key: &str, body: Value) -> (u16, Value) {
        self.send(
            self.client
                .post(format!("{}{path}", self.base))
                .bearer_auth(key)
                .json(&body),
        )
        .await
    }

    pub async fn put(&self, path: &str, key: &str, body: Value) -> (u16, Value) {
        self.send(
            self.client
                .put(format!("{}{path}", self.base))
                .bearer_auth(key)
                .json(&body),
        )
        .await
    }

    /// Creates an agent and sets it available.
    pub async fn agent_on_shift(&self, id: &str, skills: &[&str], capacity: u32, seniority: &str) {
        let (s, r) = self
            .put(&format!("/v1/agents/{id}"), &self.admin, json!({"name": format!("Agent {id}"), "skills": skills, "capacity": capacity, "seniority": seniority, "team": skills[0]}))
            .await;
        assert_eq!(s, 200, "{r}");
        let (s, r) = self
            .put(
                &format!("/v1/agents/{id}/status"),
                &self.lead,
                json!({"status": "available"}),
            )
            .await;
        assert_eq!(s, 200, "{r}");
    }
}

pub fn customer() -> Value {
    json!({"id": "cust-1", "name": "Dana Reyes", "tier": "standard", "lifetime_value": 840.0, "timezone": "America/Chicago"})
}

pub fn first(text: &str) -> Value {
    json!({"customer": customer(), "message": {"role": "customer", "text": text, "at": "2026-11-02T10:00:00Z"}})
}

pub fn next(role: &str, text: &str, at: &str) -> Value {
    json!({"message": {"role": role, "text": text, "at": at}})
}

/// The string `field` of each object in the JSON array `list`, in order.
pub fn strings<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|x| x[field].as_str().unwrap())
        .collect()
}
