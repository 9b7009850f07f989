//! What the agent desk and the lead dashboard need beyond the handoff and suggestion endpoints:
//! who am I, the agent's reply to the customer, the lead's summary figures and the report. Also
//! serves the pages themselves (embedded, no CDN).

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::Json;
use baton_core::model::{validate_message, InputLimits, Message, Role as MessageRole};
use baton_store::SuggestionStatus;

use crate::auth::{Caller, DESK, SUPERVISORS};
use crate::error::{ApiError, ApiResult};
use crate::lookup::own_handoff;
use crate::wire::{JsonBody, JsonText, Me, ReplyIn, ReportQuery};
use crate::AppState;

/// Who the key belongs to (the desk shows "assigned to me" from `agent_id`).
#[utoipa::path(get, path = "/v1/me", responses((status = 200, body = Me)), security(("bearer" = [])))]
pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me {
        key_id: caller.key_id,
        name: caller.name,
        role: caller.role.as_str().to_string(),
        agent_id: caller.agent_id,
    })
}

/// The agent writes to the customer: the message is stored in the conversation and sent to the
/// integrator's webhooks (`message.agent`). The first reply of an assigned handoff accepts it.
#[utoipa::path(
    post, path = "/v1/handoffs/{id}/messages",
    params(("id" = String, Path, description = "handoff id")),
    request_body = ReplyIn,
    responses((status = 200, body = Object), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn reply(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ReplyIn>,
) -> ApiResult<JsonText> {
    caller.require(DESK)?;
    let h = own_handoff(&state, &caller, &id).await?;
    let accept_first =
        baton_core::handoff::before_reply(&h).map_err(|e| ApiError::conflict(e.to_string()))?;
    if body.text.trim().is_empty() {
        return Err(ApiError::invalid("text", "the reply is empty"));
    }
    // Checked before anything is written: a wrong suggestion id stores nothing.
    let used = match &body.suggestion_id {
        None => None,
        Some(sid) => Some(
            state
                .store
                .suggestions(&id)
                .await?
                .into_iter()
                .find(|s| &s.id == sid)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "suggestion_id",
                        format!("handoff {id} has no suggestion {sid}"),
                    )
                })?,
        ),
    };
    let message = Message {
        role: MessageRole::Agent,
        text: body.text,
        at: state.now(),
        confidence: None,
        kb_articles: Vec::new(),
    };
    let limits = InputLimits {
        max_text_bytes: state.settings.max_text_bytes,
        ..InputLimits::default()
    };
    validate_message(&message, "", &limits).map_err(|e| ApiError::invalid("text", e.message))?;
    if let Some(accept) = accept_first {
        state
            .store
            .transition(&id, accept, caller.actor(), state.now(), state.routing())
            .await?;
    }
    let reply_text = message.text.clone();
    let event = baton_store::AppendEvent::Given(
        baton_store::EventKind::MessageAgent,
        id.clone(),
        serde_json::json!({"handoff_id": id, "conversation_id": h.conversation_id, "agent_id": h.agent_id, "text": message.text}),
    );
    let answer =
        crate::ingest::ingest(&state, &h.conversation_id, None, message, None, Some(event)).await?;
    if let Some(original) = &used {
        // Used as it was, or edited by the agent first.
        let status = if original.text.trim() == reply_text.trim() {
            SuggestionStatus::Used
        } else {
            SuggestionStatus::Edited
        };
        state
            .store
            .set_suggestion_status(&id, &original.id, status, state.now())
            .await?;
    }
    state.events.notify_waiters();
    Ok(answer)
}

/// Figures for the lead dashboard: handoff rate, time to handoff, resolution time, CSAT, the
/// share judged necessary, breakdowns, the lowest-CSAT handoffs, queue and agents now, and the
/// service level per team (`teams`: waiting now, longest wait, answered within the team's target
/// today, breaches today).
#[utoipa::path(get, path = "/v1/summary", responses((status = 200, body = Object)), security(("bearer" = [])))]
pub async fn summary(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(SUPERVISORS)?;
    let s = state.store.desk_summary().await?;
    let agents = state.store.agents().await?;
    // "Today" starts at the latest midnight of any time zone: two days back covers it.
    let now = state.now();
    let since = now - jiff::SignedDuration::from_hours(48);
    let shift = state.store.handoffs_open_or_resolved_since(since).await?;
    let teams = crate::service_level::by_team(&state.policy, &shift, now);
    let json =
        |x: serde_json::Result<serde_json::Value>| x.map_err(|e| ApiError::internal(e.to_string()));
    let mut v = json(serde_json::to_value(&s))?;
    v["agents"] = json(serde_json::to_value(&agents))?;
    v["teams"] = json(serde_json::to_value(&teams))?;
    Ok(Json(v))
}

/// The handoff report of a period: metrics, quality scores, the weekly review and suggested
/// policy changes (the same as `baton report --json`).
#[utoipa::path(get, path = "/v1/report", params(ReportQuery), responses((status = 200, body = Object), (status = 422, body = crate::error::ErrorBody)), security(("bearer" = [])))]
pub async fn report(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<axum::extract::Query<ReportQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(SUPERVISORS)?;
    let axum::extract::Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let bound = |field: &str, v: &Option<String>| {
        v.as_deref()
            .map(baton_report::parse_bound)
            .transpose()
            .map_err(|e| ApiError::invalid(field, e.to_string()))
    };
    let (since, until) = (bound("since", &q.since)?, bound("until", &q.until)?);
    let r = state
        .reports
        .get(
            state.store.clone(),
            state.policy.clone(),
            since,
            until,
            baton_report::Filter {
                team: q.team,
                skill: q.skill,
                reason: q.reason,
            },
        )
        .await?;
    serde_json::to_value(&*r)
        .map(Json)
        .map_err(|e| ApiError::internal(e.to_string()))
}

const DESK_HTML: &str = include_str!("../web/desk.html");
const DASHBOARD_HTML: &str = include_str!("../web/dashboard.html");
const APP_JS: &str = include_str!("../web/app.js");
const STYLE_CSS: &str = include_str!("../web/style.css");

pub async fn desk_page() -> Html<&'static str> {
    Html(DESK_HTML)
}

pub async fn dashboard_page() -> Html<&'static str> {
    Html(DASHBOARD_HTML)
}

pub async fn app_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        APP_JS,
    )
}

pub async fn style_css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        STYLE_CSS,
    )
}
