//! Persistence behind one trait, [`Store`]: conversations and their messages, customers, agents,
//! handoffs, API keys, idempotent responses and the event log.
//!
//! [`sqlite::SqliteStore`] is the embedded default; [`postgres::PostgresStore`] lets several
//! instances share one database. Both are [`sqlstore::SqlStore`] over a backend: the logic is
//! written once, and both pass the same conformance suite (`tests/integration/conformance.rs`).

pub mod postgres;
pub mod sql;
pub mod sqlite;
pub mod sqlstore;

use async_trait::async_trait;
pub use baton_core::event::EventKind;
pub use baton_core::handoff::{Handoff, HandoffStatus, TransferNote, Transition};
use baton_core::model::{Customer, Message};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Errors of the store. `NotFound` and `Conflict` are the caller's business; `Other` and
/// `Backend` are ours.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// A failure with no underlying error to keep (a stored value that does not parse, a
    /// stopped writer thread, a poisoned lock); the message says what. Where an error caused
    /// it, it is a [`StoreError::Backend`] with that error as its source.
    #[error("storage error: {0}")]
    Other(String),
    /// A failure of the database, its driver or a task, with the error that caused it;
    /// `context` (possibly empty) says what was being done.
    #[error("storage error: {context}{source}")]
    Backend {
        context: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl StoreError {
    /// A [`StoreError::Backend`]: `context` is printed right before `source` (end it with
    /// `": "`, or leave it empty).
    pub fn backend(
        context: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> StoreError {
        StoreError::Backend {
            context: context.into(),
            source: source.into(),
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::backend("", e)
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::backend("stored JSON: ", e)
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Who holds an API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyRole {
    /// A support bot: posts messages, manages customers, reads conversations.
    Integrator,
    /// A human agent: acts on the handoffs assigned or offered to its own agent, and on its own
    /// status.
    Agent,
    /// A supervisor: sees and acts on every handoff, reassigns, reads the dashboard and reports;
    /// cannot manage keys, agents or webhooks.
    Lead,
    /// Everything, including agents, keys and metrics.
    Admin,
}

impl KeyRole {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Integrator => "integrator",
            KeyRole::Agent => "agent",
            KeyRole::Lead => "lead",
            KeyRole::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<KeyRole> {
        match s {
            "integrator" => Some(KeyRole::Integrator),
            "agent" => Some(KeyRole::Agent),
            "lead" => Some(KeyRole::Lead),
            "admin" => Some(KeyRole::Admin),
            _ => None,
        }
    }
}

/// A stored API key: its public id, role and the SHA-256 of its secret (never the secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub role: KeyRole,
    #[serde(skip)]
    pub secret_hash: Vec<u8>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
    /// For agent keys: the agent the key belongs to ("assigned to me" in the desk).
    pub agent_id: Option<String>,
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

pub use baton_core::routing::Seniority;

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
    pub created_at: Timestamp,
    /// The customer's satisfaction with the whole conversation (1-5), when given.
    pub csat: Option<u8>,
}

/// A new handoff, as the server asks for it: the store routes it in the same transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct NewHandoff {
    pub id: String,
    pub skill: String,
    pub team: String,
    pub priority: baton_core::Priority,
    pub reason: baton_core::reason::ReasonName,
    pub vip: bool,
    /// When set, the team is closed: schedule a callback at this time instead of routing.
    pub callback_at: Option<Timestamp>,
    /// When nobody with the skill is on shift, schedule a callback at this time instead of
    /// queueing without an end.
    pub callback_if_nobody: Option<Timestamp>,
    /// When and how the conversation escalated (kept for the metrics).
    pub facts: Option<baton_core::EscalationFacts>,
}

/// What a metrics read covers: conversations that started in `[since_ms, until_ms)` (Unix ms),
/// and only handoffs of the given team, skill and reason when set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsQuery {
    pub since_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub team: Option<String>,
    pub skill: Option<String>,
    pub reason: Option<String>,
    /// A later conversation of the same customer and topic within this many ms of a handed-off
    /// one's start is a repeat contact.
    pub repeat_window_ms: i64,
}

/// One handoff as the metrics need it: no transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct HandoffMetrics {
    pub id: String,
    pub conversation_id: String,
    pub status: HandoffStatus,
    pub skill: String,
    pub team: String,
    pub reason: baton_core::reason::ReasonName,
    pub created_at: Timestamp,
    pub accepted_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
    pub necessary: Option<bool>,
    pub missing: Option<String>,
    pub csat: Option<u8>,
    pub transfers: u32,
    /// `None` for handoffs stored before the facts were kept (computed from the transcript then).
    pub facts: Option<baton_core::EscalationFacts>,
    /// The Handoff Quality Score and why it is low, once computed.
    pub quality: Option<(f64, String)>,
    /// The customer came back about the same topic within the window.
    pub repeat_contact: bool,
}

/// Everything a report reads for a period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsData {
    /// Conversations that started in the period (all of them, whatever the filters).
    pub conversations: u64,
    /// Conversation CSAT by kind (`handed_off`, `ai_only`, `human_only`): (kind, mean, count).
    pub csat_by_kind: Vec<(String, f64, u64)>,
    /// Handoffs of those conversations that pass the filters, oldest first.
    pub handoffs: Vec<HandoffMetrics>,
}

/// Facts and score computed for a handoff, saved so they are computed once.
#[derive(Debug, Clone, PartialEq)]
pub struct HandoffScore {
    pub handoff_id: String,
    pub facts: baton_core::EscalationFacts,
    /// Only for resolved handoffs (the score is final then).
    pub quality: Option<(f64, String)>,
}

/// Routing parameters from the policy, passed with every write that may route.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RoutingParams {
    pub ageing_seconds: i64,
    pub default_handle_seconds: f64,
    pub handle_time_sample: usize,
}

/// Where a handoff stands after a routing write: assigned to whom, or its queue position and
/// expected wait.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Placement {
    pub handoff: Handoff,
    pub agent_name: Option<String>,
    /// 0-based place among queued handoffs of the same skill.
    pub position: Option<usize>,
    pub eta_seconds: Option<f64>,
    /// Agents with the skill who are available now.
    pub agents_on_shift: u32,
}

/// Who made a change: the API key and its role, recorded on the events it writes (the audit
/// trail). Changes the service makes by itself (routing, timeouts) carry no actor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub key_id: String,
    pub role: KeyRole,
}

/// A suggestion beside a handoff in the agent desk: a reply or a KB article from the
/// integrator's AI, and what the agent did with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    pub id: String,
    pub handoff_id: String,
    pub kind: SuggestionKind,
    pub source: String,
    pub text: String,
    pub url: Option<String>,
    pub status: SuggestionStatus,
    pub created_at: Timestamp,
}

/// What the integrator's AI suggests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuggestionKind {
    Reply,
    KbArticle,
}

impl SuggestionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SuggestionKind::Reply => "reply",
            SuggestionKind::KbArticle => "kb_article",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [SuggestionKind::Reply, SuggestionKind::KbArticle]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// What the agent did with a suggestion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SuggestionStatus {
    /// Nothing yet.
    New,
    /// Sent as it was.
    Used,
    /// Sent after the agent changed it.
    Edited,
    Dismissed,
}

impl SuggestionStatus {
    pub const ALL: [SuggestionStatus; 4] = [
        SuggestionStatus::New,
        SuggestionStatus::Used,
        SuggestionStatus::Edited,
        SuggestionStatus::Dismissed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SuggestionStatus::New => "new",
            SuggestionStatus::Used => "used",
            SuggestionStatus::Edited => "edited",
            SuggestionStatus::Dismissed => "dismissed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        SuggestionStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
    }
}

/// Figures for the lead dashboard, over all stored history.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeskSummary {
    pub conversations: u64,
    pub handoffs: u64,
    pub handoff_rate: f64,
    pub by_status: std::collections::BTreeMap<String, u64>,
    pub by_reason: std::collections::BTreeMap<String, u64>,
    /// Mean seconds from a conversation's start to its handoff.
    pub mean_time_to_handoff_seconds: Option<f64>,
    /// Mean seconds from acceptance to resolution.
    pub mean_resolution_seconds: Option<f64>,
    pub mean_csat: Option<f64>,
    pub csat_count: u64,
    /// Share of resolved handoffs the human judged necessary.
    pub necessary_share: Option<f64>,
    /// Lowest-CSAT resolved handoffs (id, csat, reason), worst first.
    pub lowest_csat: Vec<(String, u8, String)>,
}

/// A registered webhook endpoint (the secret is only returned when created).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    #[serde(skip)]
    pub secret: String,
    pub created_at: Timestamp,
}

/// One webhook delivery due: the endpoint, the event and how many times it was tried.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub endpoint: WebhookEndpoint,
    pub event: Event,
    pub attempts: u32,
}

/// An entry of the event log (handoff created, agent status changed, ...).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub seq: i64,
    pub kind: EventKind,
    pub subject: String,
    pub payload: serde_json::Value,
    pub at: Timestamp,
}

/// Builds the answer to store for a retried request, from where the new handoff (if any) was
/// placed; runs inside the transaction, so the stored answer and the message commit together.
pub type Respond = Box<dyn Fn(Option<&Placement>) -> String + Send + Sync>;

/// What an `Idempotency-Key` stores with the write it made.
pub struct Idempotency {
    /// Unique per caller, conversation and key.
    pub scope: String,
    /// A fingerprint of the request, so a key reused with another body can be refused.
    pub request: String,
    pub respond: Respond,
}

/// The stored answer of an idempotent request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentReply {
    /// The fingerprint of the request that made it (`None` for answers stored before
    /// fingerprints were kept).
    pub request: Option<String>,
    pub response: String,
}

/// Everything one accepted message writes, in one transaction.
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
    /// The decision after this message, as JSON text, stored on the conversation.
    pub decision: String,
    /// The decision's topic, stored beside it for the metrics.
    pub topic: Option<String>,
    /// A handoff to create (and route) with this message.
    pub handoff: Option<NewHandoff>,
    pub routing: RoutingParams,
    /// The event written with the message, if any.
    pub extra_event: Option<AppendEvent>,
    /// The answer to replay for a retried request.
    pub idempotency: Option<Idempotency>,
    /// Wall-clock time of the write.
    pub now: Timestamp,
}

impl Append {
    /// Whether the append writes only its message (and the conversation's row and the customer):
    /// no handoff, no event, no idempotency record. Most messages are plain.
    pub fn is_plain(&self) -> bool {
        self.handoff.is_none() && self.extra_event.is_none() && self.idempotency.is_none()
    }
}

/// The event an [`Append`] writes with its message.
#[derive(Debug, Clone)]
pub enum AppendEvent {
    /// This event: `(kind, subject, payload)` (e.g. an agent's reply, which the integrator's
    /// webhook must receive).
    Given(EventKind, String, serde_json::Value),
    /// The event of a message on a handed-off conversation (`message.customer`, `message.ai`),
    /// whose subject is the conversation, naming handoff `.0` as it stands in the write's
    /// transaction (status, agent), so the desk shows the message in the open handoff at once;
    /// none if that handoff is resolved or gone.
    OnHandoff(String),
}

/// How long an instance holds the deliveries it claimed.
pub const DELIVERY_LEASE_SECONDS: i64 = 30;

/// The store. All methods are durable when they return `Ok`: the data is committed (fsync).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn put_customer(&self, customer: Customer, now: Timestamp) -> Result<()>;
    async fn customer(&self, id: &str) -> Result<Option<Customer>>;

    /// Appends one message with everything it implies (see [`Append`]); when it creates a
    /// handoff, returns where the handoff was placed.
    async fn append(&self, append: Append) -> Result<Option<Placement>>;
    async fn conversation(&self, id: &str) -> Result<Option<StoredConversation>>;
    /// Conversations with ids after `after` (all when `None`), in id order, at most `limit`:
    /// for replay and export over the whole history, page by page.
    async fn conversations_page(
        &self,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<StoredConversation>>;
    /// The stored response of an idempotent request, if any.
    async fn idempotent_response(&self, scope: &str) -> Result<Option<IdempotentReply>>;
    /// The conversations with these ids (unknown ids are skipped).
    async fn conversations_by_ids(&self, ids: Vec<String>) -> Result<Vec<StoredConversation>>;
    /// What the metrics of a period need, read through indexes on the start time.
    async fn metrics(&self, query: MetricsQuery) -> Result<MetricsData>;
    /// Saves escalation facts and quality scores computed for handoffs.
    async fn save_handoff_scores(&self, scores: Vec<HandoffScore>) -> Result<()>;

    async fn put_agent(&self, agent: Agent, now: Timestamp) -> Result<Agent>;
    /// Sets an agent's status; an agent who becomes available takes queued handoffs.
    async fn set_agent_status(
        &self,
        id: &str,
        status: AgentStatus,
        by: Actor,
        now: Timestamp,
        routing: RoutingParams,
    ) -> Result<Agent>;
    async fn agent(&self, id: &str) -> Result<Option<Agent>>;
    async fn agents(&self) -> Result<Vec<Agent>>;

    async fn handoff(&self, id: &str) -> Result<Option<Handoff>>;
    async fn handoffs(&self, status: Option<HandoffStatus>) -> Result<Vec<Handoff>>;
    /// Every handoff not resolved, and those resolved at or after `since` (compared as stored
    /// text: pass a bound a little earlier than needed and filter exactly), oldest first: what a
    /// shift's service level reads.
    async fn handoffs_open_or_resolved_since(&self, since: Timestamp) -> Result<Vec<Handoff>>;
    /// The handoff of a conversation, if it escalated.
    async fn handoff_of_conversation(&self, conversation_id: &str) -> Result<Option<Handoff>>;
    /// Applies a lifecycle change. `Conflict` when it makes no sense in the handoff's state,
    /// `NotFound` for an unknown handoff or agent. Freed capacity takes queued handoffs.
    async fn transition(
        &self,
        id: &str,
        transition: Transition,
        by: Actor,
        now: Timestamp,
        routing: RoutingParams,
    ) -> Result<Placement>;
    /// Returns assigned handoffs not accepted within `timeout_seconds` to the queue (the agent
    /// is set away and excluded), releases due callbacks into the queue, and routes the queue.
    /// Returns how many handoffs changed.
    async fn sweep(
        &self,
        now: Timestamp,
        timeout_seconds: i64,
        routing: RoutingParams,
    ) -> Result<usize>;
    /// Where a handoff stands at `now` (queue position and expected wait when queued).
    async fn placement(
        &self,
        id: &str,
        now: Timestamp,
        routing: RoutingParams,
    ) -> Result<Option<Placement>>;

    /// Adds suggestions to a handoff (`NotFound` if there is no such handoff).
    async fn add_suggestions(&self, suggestions: Vec<Suggestion>, now: Timestamp) -> Result<()>;
    async fn suggestions(&self, handoff_id: &str) -> Result<Vec<Suggestion>>;
    /// Records what the agent did with a suggestion.
    async fn set_suggestion_status(
        &self,
        handoff_id: &str,
        id: &str,
        status: SuggestionStatus,
        now: Timestamp,
    ) -> Result<Suggestion>;
    async fn desk_summary(&self) -> Result<DeskSummary>;

    /// Records the customer's CSAT for a whole conversation (once): AI-only, handed off or
    /// human-only alike, so that they can be compared.
    async fn conversation_csat(&self, id: &str, score: u8, now: Timestamp) -> Result<()>;

    async fn add_webhook(&self, endpoint: WebhookEndpoint) -> Result<()>;
    async fn webhooks(&self) -> Result<Vec<WebhookEndpoint>>;
    async fn remove_webhook(&self, id: &str) -> Result<()>;
    /// Claims the deliveries due at `now` for [`DELIVERY_LEASE_SECONDS`]: for each endpoint only
    /// its oldest undelivered event, so events reach each endpoint in order, and none that
    /// another instance holds, so an event is sent by one instance at a time. A claim that runs
    /// out (its instance died) can be taken again.
    async fn due_deliveries(&self, now: Timestamp, limit: usize) -> Result<Vec<Delivery>>;
    /// Records a delivery attempt: delivered, or failed with the time of the next attempt.
    async fn delivery_result(
        &self,
        endpoint_id: &str,
        event_seq: i64,
        delivered_at: Option<Timestamp>,
        next_attempt_at: Option<Timestamp>,
        error: Option<String>,
    ) -> Result<()>;

    async fn create_key(&self, key: ApiKey) -> Result<()>;
    async fn key(&self, id: &str) -> Result<Option<ApiKey>>;
    async fn keys(&self) -> Result<Vec<ApiKey>>;
    /// Marks a key revoked; `NotFound` if there is no such key.
    async fn revoke_key(&self, id: &str, now: Timestamp) -> Result<()>;

    /// The sequence number of the newest event (0 when there is none).
    async fn last_event_seq(&self) -> Result<i64>;
    /// Events with `seq > after`, oldest first, at most `limit`.
    async fn events_after(&self, after: i64, limit: usize) -> Result<Vec<Event>>;
    /// The events of one handoff, oldest first: its audit trail (what happened, when, and who
    /// did it, under `payload.by`).
    async fn handoff_events(&self, handoff_id: &str) -> Result<Vec<Event>>;
    /// Cheap liveness check of the database.
    async fn ping(&self) -> Result<()>;
    /// Wakes `wake` whenever another process commits events to this store (PostgreSQL:
    /// `LISTEN`/`NOTIFY`), so event streams on every instance see them at once. Stores used by
    /// one process need nothing: the server wakes its own waiters after its writes.
    fn watch_events(&self, wake: std::sync::Weak<tokio::sync::Notify>) {
        let _ = wake;
    }
}

/// Test helper: the migration files in `folder` (below the crate) are exactly `listed`, in order.
#[cfg(test)]
pub(crate) fn assert_migrations_listed(folder: &str, listed: &[(&str, &str)]) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(folder);
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    let listed: Vec<&str> = listed.iter().map(|(n, _)| *n).collect();
    assert_eq!(files, listed);
}
