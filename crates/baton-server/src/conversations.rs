//! Conversation endpoints: the integrator posts messages (each answered with the decision),
//! reads a conversation, and records the customer's satisfaction with it.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use baton_core::model::{validate_customer, validate_message, InputLimits, Message};
use baton_store::KeyRole;

use crate::auth::{Caller, ANY, BOT};
use crate::error::{ApiError, ApiResult};
use crate::ingest::{ingest, IdempotencyKey};
use crate::wire::*;
use crate::AppState;

/// Appends a message, folds it into the conversation's state, runs the policy and answers with
/// the action and the decision. The message is committed before the answer.
#[utoipa::path(
    post, path = "/v1/conversations/{id}/messages",
    params(("id" = String, Path, description = "conversation id"),
           ("Idempotency-Key" = Option<String>, Header, description = "makes retries safe")),
    request_body = PostMessage,
    responses(
        (status = 200, body = PostMessageResponse),
        (status = 400, body = crate::error::ErrorBody), (status = 401, body = crate::error::ErrorBody),
        (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
        (status = 413, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn post_message(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<PostMessage>,
) -> ApiResult<JsonText> {
    caller.require(BOT)?;
    check_id("id", &id)?;
    let idem = IdempotencyKey::of_request(&headers, &caller.key_id, &id, &body)?;
    let limits = InputLimits {
        max_text_bytes: state.settings.max_text_bytes,
        ..InputLimits::default()
    };
    if let Some(c) = &body.customer {
        check_id("customer.id", &c.id)?;
        validate_customer(c, "customer").map_err(|e| ApiError::invalid(e.field, e.message))?;
    }
    let now = state.now();
    let message = Message {
        role: body.message.role,
        text: body.message.text,
        at: body.message.at.unwrap_or(now),
        confidence: body.message.confidence,
        kb_articles: body.message.kb_articles,
    };
    validate_message(&message, "message", &limits)
        .map_err(|e| ApiError::invalid(e.field, e.message))?;
    let skew = jiff::SignedDuration::from_secs(state.settings.max_clock_skew_seconds as i64);
    if message.at > now + skew {
        return Err(ApiError::invalid(
            "message.at",
            format!("{} is in the future (server time {now})", message.at),
        ));
    }
    ingest(&state, &id, body.customer, message, idem, None).await
}

/// The customer's satisfaction with the whole conversation (AI-only, handed off or human-only),
/// once; the reports compare the three.
#[utoipa::path(
    post, path = "/v1/conversations/{id}/csat",
    params(("id" = String, Path, description = "conversation id")),
    request_body = crate::wire::CsatIn,
    responses((status = 204), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn conversation_csat(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CsatIn>,
) -> ApiResult<axum::http::StatusCode> {
    caller.require(BOT)?;
    if !(1..=5).contains(&body.score) {
        return Err(ApiError::invalid(
            "score",
            format!("{} is outside 1..=5", body.score),
        ));
    }
    state
        .store
        .conversation_csat(&id, body.score, state.now())
        .await?;
    state.events.notify_waiters();
    Ok(axum::http::StatusCode::NO_CONTENT)
}

/// The conversation with its customer, messages and decision so far.
#[utoipa::path(
    get, path = "/v1/conversations/{id}",
    params(("id" = String, Path, description = "conversation id")),
    responses((status = 200, body = ConversationOut), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn get_conversation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<ConversationOut>> {
    caller.require(ANY)?;
    if caller.role == KeyRole::Agent {
        // An agent reads the conversations of its own handoffs.
        let h = state
            .store
            .handoff_of_conversation(&id)
            .await?
            .ok_or_else(|| {
                ApiError::forbidden(format!(
                    "conversation {id} has no handoff of yours; an agent reads only its own"
                ))
            })?;
        caller.may_act_on(&h)?;
    }
    let c = state
        .store
        .conversation(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("conversation {id} not found")))?;
    Ok(Json(ConversationOut {
        id: c.id,
        customer: c.customer,
        messages: c.messages,
        decision: c.decision,
        created_at: c.created_at.to_string(),
        csat: c.csat,
    }))
}
