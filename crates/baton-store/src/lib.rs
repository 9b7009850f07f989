//! Persistence behind one trait, [`Store`]: conversations and their messages, customers, agents,
//! handoffs, API keys, idempotent responses and the event log.
//!
//! [`sqlite::SqliteStore`] is the embedded default. A PostgreSQL implementation is meant to follow
//! behind the same trait and pass the same conformance suite (`tests/conformance.rs`).

pub mod sqlite;

use async_trait::async_trait;
use baton_core::model::{Customer, Message};
use serde::{Deserialize, Serialize};

/// Errors of the store. `NotFound` and `Conflict` are the caller's business; `Other` is ours.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("storage error: {0}")]
    Other(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Other(e.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Other(format!("stored JSON: {e}"))
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Who holds an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A support bot: posts messages, manages customers, reads conversations.
    Integrator,
    /// A human agent: reads conversations and handoffs, sets their own status.
    Agent,
    /// Everything, including agents, keys and metrics.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Integrator => "integrator",
            Role::Agent => "agent",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "integrator" => Some(Role::Integrator),
            "agent" => Some(Role::Agent),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A stored API key: its public id, role and the SHA-256 of its secret (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub role: Role,
    #[serde(skip)]
    pub secret_hash: Vec<u8>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentStatus {
    Available,
    Away,
    Offline,
}

impl AgentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Available => "available",
            AgentStatus::Away => "away",
            AgentStatus::Offline => "offline",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "available" => Some(AgentStatus::Available),
            "away" => Some(AgentStatus::Away),
            "offline" => Some(AgentStatus::Offline),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Seniority {
    Junior,
    Regular,
    Senior,
}

impl Seniority {
    pub fn as_str(self) -> &'static str {
        match self {
            Seniority::Junior => "junior",
            Seniority::Regular => "regular",
            Seniority::Senior => "senior",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "junior" => Some(Seniority::Junior),
            "regular" => Some(Seniority::Regular),
            "senior" => Some(Seniority::Senior),
            _ => None,
        }
    }
}

/// A human agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Agent {
    pub id: String,
    pub name: String,
    pub skills: Vec<String>,
    /// Most conversations at once.
    pub capacity: u32,
    pub seniority: Seniority,
    pub team: String,
    pub status: AgentStatus,
    /// Conversations assigned now.
    pub active: u32,
}

/// A conversation as stored: its customer, messages and the decision so far (JSON).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredConversation {
    pub id: String,
    pub customer: Customer,
    pub messages: Vec<Message>,
    pub decision: Option<serde_json::Value>,
    pub created_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HandoffStatus {
    Queued,
    Assigned,
    Accepted,
    Resolved,
}

impl HandoffStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HandoffStatus::Queued => "queued",
            HandoffStatus::Assigned => "assigned",
            HandoffStatus::Accepted => "accepted",
            HandoffStatus::Resolved => "resolved",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "queued" => Some(HandoffStatus::Queued),
            "assigned" => Some(HandoffStatus::Assigned),
            "accepted" => Some(HandoffStatus::Accepted),
            "resolved" => Some(HandoffStatus::Resolved),
            _ => None,
        }
    }
}

/// A handoff of a conversation to a human team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Handoff {
    pub id: String,
    pub conversation_id: String,
    pub status: HandoffStatus,
    pub skill: String,
    pub priority: String,
    /// Primary reason kind.
    pub reason: String,
    pub agent_id: Option<String>,
    pub created_at: String,
}

/// An entry of the event log (handoff created, agent status changed, ...).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub seq: i64,
    pub kind: String,
    pub subject: String,
    pub payload: serde_json::Value,
    pub at: String,
}

/// Everything one accepted message writes, in one transaction.
#[derive(Debug, Clone)]
pub struct Append {
    pub conversation_id: String,
    /// Upserted with the message (required when the conversation is new and the customer is
    /// not stored yet).
    pub customer: Option<Customer>,
    /// The customer id of a new conversation.
    pub customer_id: String,
    /// The index the message must get: the append fails with `Conflict` otherwise, so that two
    /// writers can never interleave one conversation.
    pub index: usize,
    pub message: Message,
    /// The decision after this message (JSON), stored on the conversation.
    pub decision: serde_json::Value,
    /// A handoff to create with this message.
    pub handoff: Option<Handoff>,
    /// `(scope, response)`: the answer to replay for a retried request.
    pub idempotency: Option<(String, String)>,
    /// Wall-clock time of the write, RFC 3339.
    pub now: String,
}

/// The store. All methods are durable when they return `Ok`: the data is committed (fsync).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn put_customer(&self, customer: Customer, now: String) -> Result<()>;
    async fn customer(&self, id: &str) -> Result<Option<Customer>>;

    /// Appends one message with everything it implies (see [`Append`]).
    async fn append(&self, append: Append) -> Result<()>;
    async fn conversation(&self, id: &str) -> Result<Option<StoredConversation>>;
    /// The stored response of an idempotent request, if any.
    async fn idempotent_response(&self, scope: &str) -> Result<Option<String>>;

    async fn put_agent(&self, agent: Agent, now: String) -> Result<Agent>;
    async fn set_agent_status(&self, id: &str, status: AgentStatus, now: String) -> Result<Agent>;
    async fn agent(&self, id: &str) -> Result<Option<Agent>>;
    async fn agents(&self) -> Result<Vec<Agent>>;

    async fn handoff(&self, id: &str) -> Result<Option<Handoff>>;
    async fn handoffs(&self, status: Option<HandoffStatus>) -> Result<Vec<Handoff>>;

    async fn create_key(&self, key: ApiKey) -> Result<()>;
    async fn key(&self, id: &str) -> Result<Option<ApiKey>>;
    async fn keys(&self) -> Result<Vec<ApiKey>>;
    /// Marks a key revoked; `NotFound` if there is no such key.
    async fn revoke_key(&self, id: &str, now: String) -> Result<()>;

    /// Events with `seq > after`, oldest first, at most `limit`.
    async fn events_after(&self, after: i64, limit: usize) -> Result<Vec<Event>>;
    /// Cheap liveness check of the database.
    async fn ping(&self) -> Result<()>;
}
