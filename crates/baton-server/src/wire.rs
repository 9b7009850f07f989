//! Request and response bodies of the HTTP API, and the JSON body extractor that names the
//! offending field of a bad body.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use baton_core::model::{Customer, Role, Tier};
use baton_core::Decision;
use baton_store::{AgentStatus, Seniority};

use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::AppState;

/// A JSON body parsed with field-level errors: malformed JSON and wrong types are 400 with the
/// JSON path of the field; a body over the configured limit is 413.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request<Body>, state: &AppState) -> Result<Self, ApiError> {
        let limit = state.settings.max_body_bytes;
        let ct = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        if !ct.as_deref().is_some_and(is_json_media_type) {
            let got = ct.map_or("none".to_string(), |c| format!("`{c}`"));
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("expected Content-Type: application/json, got {got}"),
            )
            .with_field("Content-Type"));
        }
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|e| body_error(e, limit))?;
        if has_escaped_nul(&bytes) {
            // No database stores U+0000 in text (PostgreSQL refuses it): say where it is.
            let field = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| nul_path(&v, String::new()))
                .unwrap_or_default();
            return Err(ApiError::invalid(
                &field,
                "text must not contain the NUL character (U+0000)",
            ));
        }
        if bytes.len() > MAX_SHORT_BYTES {
            // Only a body this long can hold a string over a limit.
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                check_lengths(&v, String::new(), "", state.settings.max_text_bytes)?;
            }
        }
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(de) {
            Ok(v) => Ok(JsonBody(v)),
            Err(e) => {
                let path = e.path().to_string();
                let field = if path == "." { String::new() } else { path };
                Err(
                    ApiError::bad_request(format!("invalid JSON body: {}", e.into_inner()))
                        .with_field(field),
                )
            }
        }
    }
}

/// `Ok` if `id` (a path id or `customer.id`, named `field`) is 1 to 200 characters without
/// control characters; 422 naming `field` otherwise.
pub fn check_id(field: &str, id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > 200 || id.chars().any(|c| c.is_control()) {
        return Err(ApiError::invalid(
            field,
            "an id must be 1 to 200 characters without control characters",
        ));
    }
    Ok(())
}

/// Longest id, name, team, skill, time zone or other short string in a body, in bytes.
pub const MAX_SHORT_BYTES: usize = 200;
/// Longest URL (webhook endpoints, KB article links), in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// Longest note an agent writes (transfer note, resolution, what the AI lacked), in bytes.
pub const MAX_NOTE_BYTES: usize = 4096;
/// Longest KB article title, in bytes.
pub const MAX_TITLE_BYTES: usize = 500;

/// The longest string a body field may hold, by the field's name: every string the API stores
/// has a limit (message and reply texts: `max_text_bytes`).
fn max_len(key: &str, max_text_bytes: usize) -> usize {
    match key {
        "text" | "replies" => max_text_bytes,
        "resolution" | "note" | "missing" => MAX_NOTE_BYTES,
        "url" => MAX_URL_BYTES,
        "title" => MAX_TITLE_BYTES,
        _ => MAX_SHORT_BYTES,
    }
}

/// 422 naming the first string (or key) of `v` longer than its field allows.
fn check_lengths(
    v: &serde_json::Value,
    at: String,
    key: &str,
    max_text_bytes: usize,
) -> Result<(), ApiError> {
    match v {
        serde_json::Value::String(s) => {
            let max = max_len(key, max_text_bytes);
            if s.len() > max {
                return Err(ApiError::invalid(
                    &at,
                    format!(
                        "`{at}` is {} bytes long; at most {max} are accepted",
                        s.len()
                    ),
                ));
            }
        }
        serde_json::Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                check_lengths(x, format!("{at}[{i}]"), key, max_text_bytes)?;
            }
        }
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                if k.len() > MAX_SHORT_BYTES {
                    return Err(ApiError::invalid(
                        &path,
                        format!("a key is at most {MAX_SHORT_BYTES} bytes long"),
                    ));
                }
                check_lengths(x, path, k, max_text_bytes)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Whether a `Content-Type` value is JSON: exactly `application/json`, with optional
/// parameters (`; charset=utf-8`), in any case.
pub fn is_json_media_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// What went wrong reading a body: over the limit (413), too slow (408), or cut short (400).
fn body_error(e: axum::Error, limit: usize) -> ApiError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body is larger than the limit of {limit} bytes"),
            );
        }
        if err.is::<tower_http::timeout::TimeoutError>() {
            return ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the request body did not arrive in time",
            );
        }
        source = err.source();
    }
    ApiError::bad_request(format!(
        "the request body could not be read (shorter than its Content-Length?): {e}"
    ))
}

/// Whether a JSON text holds the escape `\u0000` (a raw NUL is not valid JSON anyway); an
/// escaped backslash before `u0000` does not count.
fn has_escaped_nul(json: &[u8]) -> bool {
    json.windows(6).enumerate().any(|(i, w)| {
        w == b"\\u0000" && json[..i].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 0
    })
}

/// The JSON path (`message.text`, `skills[1]`) of the first string or key holding a NUL.
fn nul_path(v: &serde_json::Value, at: String) -> Option<String> {
    let join = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    match v {
        serde_json::Value::String(s) if s.contains('\0') => Some(at),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| nul_path(x, format!("{at}[{i}]"))),
        serde_json::Value::Object(m) => m.iter().find_map(|(k, x)| {
            if k.contains('\0') {
                Some(join(k))
            } else {
                nul_path(x, join(k))
            }
        }),
        _ => None,
    }
}

/// Rejects a path or query holding an encoded NUL (`%00`): nothing stored can match it, and
/// PostgreSQL refuses it as a parameter.
pub async fn reject_nul_in_uri(
    req: Request<Body>,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let uri = req.uri();
    let bad = |s: &str| s.to_ascii_lowercase().contains("%00");
    if bad(uri.path()) || uri.query().is_some_and(bad) {
        let field = if bad(uri.path()) { "path" } else { "query" };
        return axum::response::IntoResponse::into_response(
            ApiError::bad_request("the request must not contain the NUL character (%00)")
                .with_field(field),
        );
    }
    next.run(req).await
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
            priority: h.priority.clone(),
            agent_id: h.agent_id.clone(),
            agent_name: p.agent_name.clone(),
            queue_position: p.position,
            eta_seconds: p.eta_seconds.map(|e| e.round()),
            callback_at: h.callback_at.clone(),
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

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: String,
}
