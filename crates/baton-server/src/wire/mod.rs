//! Request and response bodies of the HTTP API (every serde type a handler reads or answers),
//! and, in `json_body`, the JSON body extractor and the checks made at the edge.

mod json_body;

use baton_core::model::{Customer, Role, Tier};
use baton_core::Decision;
use baton_store::{AgentStatus, Seniority};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use json_body::{
    check_id, is_json_media_type, reject_nul_in_uri, JsonBody, MAX_NOTE_BYTES, MAX_SHORT_BYTES,
    MAX_TITLE_BYTES, MAX_URL_BYTES,
};

/// A JSON answer serialised once, straight to its bytes (the answer to a posted message, or a
/// stored answer replayed as it was stored), sent with `Content-Type: application/json`.
pub struct JsonText(axum::body::Bytes);

impl JsonText {
    /// `value` serialised; 500 if it cannot be.
    pub fn of(value: &impl Serialize) -> Result<Self, crate::error::ApiError> {
        // Room for a typical answer to a posted message, so the buffer is not grown and copied.
        let mut out = Vec::with_capacity(1024);
        serde_json::to_writer(&mut out, value)
            .map_err(|e| crate::error::ApiError::internal(e.to_string()))?;
        Ok(Self(out.into()))
    }
}

impl From<String> for JsonText {
    /// Text that is JSON already.
    fn from(text: String) -> Self {
        Self(text.into())
    }
}

impl axum::response::IntoResponse for JsonText {
    fn into_response(self) -> axum::response::Response {
        (
            [(
                axum::http::header::CONTENT_TYPE,
                axum::http::HeaderValue::from_static("application/json"),
            )],
            self.0,
        )
            .into_response()
    }
}

/// One message as an integrator sends it; `at` defaults to the time the server receives it.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageIn {
    pub role: Role,
    /// At most `max_text_bytes` (64 KiB by default).
    #[schema(max_length = 65536)]
    pub text: String,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub at: Option<Timestamp>,
    #[serde(default)]
    #[schema(minimum = 0.0, maximum = 1.0)]
    pub confidence: Option<f64>,
    /// KB article ids, each at most 200 bytes.
    #[serde(default)]
    pub kb_articles: Vec<String>,
}

/// `POST /v1/conversations/{id}/messages`. Strings in `customer` (id, name, time zone) are at
/// most 200 bytes each.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostMessage {
    /// Required on a conversation's first message unless the customer was stored with
    /// `PUT /v1/customers/{id}`.
    #[serde(default)]
    pub customer: Option<Customer>,
    pub message: MessageIn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Keep answering: the AI stays on.
    Continue,
    /// Hand the conversation to a human.
    Handoff,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HandoffRef {
    pub id: String,
    /// queued, assigned, accepted, resolved or callback
    pub status: String,
    pub skill: String,
    pub team: String,
    pub priority: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    /// 0-based place in the queue of its skill, when queued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_position: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_seconds: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_at: Option<String>,
}

impl From<&baton_store::Placement> for HandoffRef {
    fn from(p: &baton_store::Placement) -> Self {
        let h = &p.handoff;
        Self {
            id: h.id.clone(),
            status: h.status.as_str().into(),
            skill: h.skill.clone(),
            team: h.team.clone(),
            priority: h.priority.as_str().into(),
            agent_id: h.agent_id.clone(),
            agent_name: p.agent_name.clone(),
            queue_position: p.position,
            eta_seconds: p.eta_seconds.map(|e| e.round()),
            callback_at: h.callback_at.map(|t| t.to_string()),
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PostMessageResponse {
    pub conversation_id: String,
    /// Index of the stored message in the conversation.
    pub index: usize,
    pub action: Action,
    pub decision: Decision,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handoff: Option<HandoffRef>,
    /// What to tell the customer now (acknowledgement, wait time, callback offer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_text: Option<String>,
    /// True while the customer waits for a human: the AI may keep helping meanwhile.
    pub ai_may_continue: bool,
}

/// `PUT /v1/customers/{id}`: the customer without its id (the path gives it).
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerIn {
    #[serde(default)]
    #[schema(max_length = 200)]
    pub name: String,
    pub tier: Tier,
    /// In `currency` when given; a plain number otherwise.
    #[serde(default)]
    pub lifetime_value: f64,
    /// ISO 4217 code of `lifetime_value`: three upper-case letters (`EUR`); optional.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = "^[A-Z]{3}$", example = "EUR")]
    pub currency: Option<baton_core::model::Currency>,
    /// IANA time zone, e.g. `Europe/Paris`.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub timezone: Option<String>,
}

/// `PUT /v1/agents/{id}`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentIn {
    #[schema(max_length = 200)]
    pub name: String,
    /// Skill names, each at most 200 bytes.
    pub skills: Vec<String>,
    /// Most conversations at once (1..=50).
    #[schema(minimum = 1, maximum = 50)]
    pub capacity: u32,
    #[schema(value_type = String, example = "senior")]
    pub seniority: Seniority,
    #[schema(max_length = 200)]
    pub team: String,
}

/// `PUT /v1/agents/{id}/status`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusIn {
    #[schema(value_type = String, example = "available")]
    pub status: AgentStatus,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AgentOut {
    pub id: String,
    pub name: String,
    pub skills: Vec<String>,
    pub capacity: u32,
    #[schema(value_type = String)]
    pub seniority: Seniority,
    pub team: String,
    #[schema(value_type = String)]
    pub status: AgentStatus,
    pub active: u32,
}

impl From<baton_store::Agent> for AgentOut {
    fn from(a: baton_store::Agent) -> Self {
        Self {
            id: a.id,
            name: a.name,
            skills: a.skills,
            capacity: a.capacity,
            seniority: a.seniority,
            team: a.team,
            status: a.status,
            active: a.active,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConversationOut {
    pub id: String,
    pub customer: Customer,
    pub messages: Vec<baton_core::Message>,
    #[schema(value_type = Option<Object>)]
    pub decision: Option<serde_json::Value>,
    pub created_at: String,
    pub csat: Option<u8>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HandoffQuery {
    /// queued, assigned, accepted, resolved or callback; several separated by commas
    /// (`queued,assigned,accepted,callback`: the open ones)
    pub status: Option<String>,
}

/// A handoff with its lifecycle and, on `GET /v1/handoffs/{id}`, the context package.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HandoffOut {
    #[schema(value_type = Object)]
    #[serde(flatten)]
    pub handoff: baton_store::Handoff,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_position: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_now_seconds: Option<f64>,
    /// The name of the agent it is assigned to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    /// The team's target: seconds within which a handoff should be answered (policy
    /// `teams.target_seconds`), for colouring waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_seconds: Option<u64>,
    /// The customer (on `GET /v1/handoffs`, so queue rows tell customers apart).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<Customer>,
    /// The one-line summary of the context package (on `GET /v1/handoffs`, open handoffs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// How many messages the conversation has (on `GET /v1/handoffs`: the desk marks the ones
    /// the agent has not seen).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages: Option<usize>,
    /// Colour of the customer's latest message (green, yellow, red).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sentiment: Option<baton_core::context::Colour>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<baton_core::context::ContextPackage>,
    /// Who did what to the handoff, oldest first (leads and admins, on `GET /v1/handoffs/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audit: Option<Vec<AuditEntry>>,
}

/// One entry of a handoff's audit trail.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub seq: i64,
    /// The event: handoff.created, handoff.assigned, handoff.accepted, handoff.transferred, ...
    pub kind: String,
    pub at: String,
    /// The key that made the change and its role; absent when Baton made it (routing,
    /// timeouts, due callbacks).
    #[schema(value_type = Option<Object>)]
    pub by: Option<baton_store::Actor>,
    /// The agent the handoff was with after the event.
    pub agent_id: Option<String>,
    pub status: Option<String>,
}

/// `POST /v1/handoffs/{id}/accept`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptIn {
    /// The agent accepting: an agent key's own agent when absent (another agent is 403); a
    /// lead or admin accepts for the handoff's assigned agent when absent.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub agent_id: Option<String>,
}

/// `POST /v1/handoffs/{id}/transfer`: to an agent, or to another team (by skill), with a note.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferIn {
    #[serde(default)]
    #[schema(max_length = 200)]
    pub to_agent: Option<String>,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub to_skill: Option<String>,
    #[schema(max_length = 4096)]
    pub note: String,
}

/// `POST /v1/handoffs/{id}/resolve`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveIn {
    #[schema(max_length = 4096)]
    pub resolution: String,
    /// Was the escalation needed, in the human's judgement?
    pub necessary: bool,
    /// What the human needed that the AI lacked (information, authority, ...).
    #[serde(default)]
    #[schema(max_length = 4096)]
    pub missing: Option<String>,
}

/// `POST /v1/handoffs/{id}/callback`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallbackIn {
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// `POST /v1/handoffs/{id}/csat`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CsatIn {
    /// 1 (very dissatisfied) to 5 (very satisfied).
    #[schema(minimum = 1, maximum = 5)]
    pub score: u8,
}

/// `POST /v1/webhooks`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookIn {
    /// `http://` or `https://` URL, at most 2048 bytes.
    #[schema(max_length = 2048)]
    pub url: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WebhookOut {
    pub id: String,
    pub url: String,
    /// The signing secret (`whsec_...`), returned only when the endpoint is created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub key_id: String,
    pub name: String,
    pub role: String,
    pub agent_id: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyIn {
    /// At most `max_text_bytes` (64 KiB by default).
    #[schema(max_length = 65536)]
    pub text: String,
    /// The suggestion this reply used, if any (recorded as used or edited).
    #[serde(default)]
    #[schema(max_length = 200)]
    pub suggestion_id: Option<String>,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KbArticleIn {
    #[schema(max_length = 200)]
    pub id: String,
    #[serde(default)]
    #[schema(max_length = 500)]
    pub title: Option<String>,
    #[serde(default)]
    #[schema(max_length = 2048)]
    pub url: Option<String>,
}

/// `POST /v1/handoffs/{id}/suggestions`: the integrator's AI keeps helping.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuggestionsIn {
    /// Suggested replies, each at most `max_text_bytes` (64 KiB by default).
    #[serde(default)]
    pub replies: Vec<String>,
    #[serde(default)]
    pub kb_articles: Vec<KbArticleIn>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SuggestionsOut {
    /// From the integrator's AI, with what the agent did with each.
    #[schema(value_type = Vec<Object>)]
    pub integrator: Vec<baton_store::Suggestion>,
    /// Baton's own, built from the context package: a reply draft, facts to look up, KB articles.
    pub baton: Vec<BatonSuggestion>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatonSuggestion {
    pub kind: String,
    pub text: String,
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuggestionStatusIn {
    /// used, edited or dismissed
    pub status: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// Start of the period: a date (YYYY-MM-DD) or an RFC 3339 time.
    pub since: Option<String>,
    /// End of the period (exclusive).
    pub until: Option<String>,
    /// Only handoffs to this team.
    pub team: Option<String>,
    /// Only handoffs needing this skill.
    pub skill: Option<String>,
    /// Only handoffs with this primary reason kind.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: String,
}
