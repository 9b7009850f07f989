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
        if let Some(ct) = req.headers().get(axum::http::header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or("");
            if !ct.starts_with("application/json") {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    format!("expected Content-Type: application/json, got `{ct}`"),
                )
                .with_field("Content-Type"));
            }
        }
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "body_too_large",
                    format!("the body is larger than the limit of {limit} bytes"),
                )
            })?;
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

/// One message as an integrator sends it; `at` defaults to the time the server receives it.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageIn {
    pub role: Role,
    pub text: String,
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub at: Option<Timestamp>,
    #[serde(default)]
    pub confidence: Option<f64>,
    #[serde(default)]
    pub kb_articles: Vec<String>,
}

/// `POST /v1/conversations/{id}/messages`.
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
    pub status: String,
    pub skill: String,
    pub priority: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
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
}

/// `PUT /v1/customers/{id}`: the customer without its id (the path gives it).
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerIn {
    #[serde(default)]
    pub name: String,
    pub tier: Tier,
    #[serde(default)]
    pub lifetime_value: f64,
    #[serde(default)]
    pub timezone: Option<String>,
}

/// `PUT /v1/agents/{id}`.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentIn {
    pub name: String,
    pub skills: Vec<String>,
    /// Most conversations at once (1..=50).
    pub capacity: u32,
    #[schema(value_type = String, example = "senior")]
    pub seniority: Seniority,
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
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HandoffOut {
    pub id: String,
    pub conversation_id: String,
    pub status: String,
    pub skill: String,
    pub priority: String,
    pub reason: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    pub created_at: String,
}

impl From<baton_store::Handoff> for HandoffOut {
    fn from(h: baton_store::Handoff) -> Self {
        Self {
            id: h.id,
            conversation_id: h.conversation_id,
            status: h.status.as_str().to_string(),
            skill: h.skill,
            priority: h.priority,
            reason: h.reason,
            agent_id: h.agent_id,
            created_at: h.created_at,
        }
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Health {
    pub status: String,
}
