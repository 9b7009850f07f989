//! What the agent desk and the lead dashboard need beyond the handoff endpoints: who am I, the
//! agent's reply to the customer, suggestions (the integrator's AI and Baton's own), and the
//! lead's summary figures. Also serves the pages themselves (embedded, no CDN).

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::Json;
use baton_core::model::{validate_message, InputLimits, Message, Role as MessageRole};
use baton_store::{HandoffStatus, Role, Suggestion, Transition};
use serde::{Deserialize, Serialize};

use crate::auth::{Caller, ANY, BOT, DESK, SUPERVISORS};
use crate::error::{ApiError, ApiResult};
use crate::wire::JsonBody;
use crate::AppState;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub key_id: String,
    pub name: String,
    pub role: String,
    pub agent_id: Option<String>,
}

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
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(DESK)?;
    let h = crate::handoffs::own_handoff(&state, &caller, &id).await?;
    if !matches!(h.status, HandoffStatus::Assigned | HandoffStatus::Accepted) {
        return Err(ApiError::conflict(format!(
            "handoff {id} is {}: only an assigned or accepted handoff can be answered",
            h.status.as_str()
        )));
    }
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
    if h.status == HandoffStatus::Assigned {
        let agent = h.agent_id.clone().unwrap_or_default();
        state
            .store
            .transition(
                &id,
                Transition::Accept { agent_id: agent },
                caller.actor(),
                state.now().to_string(),
                state.routing(),
            )
            .await?;
    }
    let reply_text = message.text.clone();
    let event = (
        "message.agent".to_string(),
        id.clone(),
        serde_json::json!({"handoff_id": id, "conversation_id": h.conversation_id, "agent_id": h.agent_id, "text": message.text}),
    );
    let answer =
        crate::ingest::ingest(&state, &h.conversation_id, None, message, None, Some(event)).await?;
    if let Some(original) = &used {
        // Used as it was, or edited by the agent first.
        let status = if original.text.trim() == reply_text.trim() {
            "used"
        } else {
            "edited"
        };
        state
            .store
            .set_suggestion_status(&id, &original.id, status, state.now().to_string())
            .await?;
    }
    state.events.notify_waiters();
    Ok(Json(answer))
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
    pub integrator: Vec<Suggestion>,
    /// Baton's own, built from the context package: a reply draft, facts to look up, KB articles.
    pub baton: Vec<BatonSuggestion>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatonSuggestion {
    pub kind: String,
    pub text: String,
}

#[utoipa::path(
    post, path = "/v1/handoffs/{id}/suggestions",
    params(("id" = String, Path, description = "handoff id")),
    request_body = SuggestionsIn,
    responses((status = 201), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn add_suggestions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SuggestionsIn>,
) -> ApiResult<StatusCode> {
    caller.require(BOT)?;
    if body.replies.is_empty() && body.kb_articles.is_empty() {
        return Err(ApiError::invalid(
            "replies",
            "give `replies` or `kb_articles`",
        ));
    }
    let now = state.now().to_string();
    let mut list = Vec::new();
    for (i, r) in body.replies.iter().enumerate() {
        if r.trim().is_empty() || r.len() > state.settings.max_text_bytes {
            return Err(ApiError::invalid(
                format!("replies[{i}]"),
                "empty or too long",
            ));
        }
        list.push(Suggestion {
            id: format!("s-{}", &state.new_id()[..12]),
            handoff_id: id.clone(),
            kind: "reply".into(),
            source: "integrator".into(),
            text: r.clone(),
            url: None,
            status: "new".into(),
            created_at: now.clone(),
        });
    }
    for (i, k) in body.kb_articles.iter().enumerate() {
        if k.id.trim().is_empty() {
            return Err(ApiError::invalid(
                format!("kb_articles[{i}].id"),
                "must not be empty",
            ));
        }
        list.push(Suggestion {
            id: format!("s-{}", &state.new_id()[..12]),
            handoff_id: id.clone(),
            kind: "kb_article".into(),
            source: "integrator".into(),
            text: k.title.clone().unwrap_or_else(|| k.id.clone()),
            url: k.url.clone(),
            status: "new".into(),
            created_at: now.clone(),
        });
    }
    state.store.add_suggestions(list, now).await?;
    state.events.notify_waiters();
    Ok(StatusCode::CREATED)
}

#[utoipa::path(
    get, path = "/v1/handoffs/{id}/suggestions",
    params(("id" = String, Path, description = "handoff id")),
    responses((status = 200, body = SuggestionsOut), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn suggestions(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<SuggestionsOut>> {
    caller.require(ANY)?;
    let p = crate::handoffs::placement_of(&state, &id).await?;
    if caller.role == Role::Agent {
        caller.may_act_on(&p.handoff)?;
    }
    let ctx = crate::handoffs::context_for(&state, &p).await?;
    let mut baton = vec![BatonSuggestion {
        kind: "reply".into(),
        text: ctx.greeting.clone(),
    }];
    for a in &ctx.recommended_actions {
        baton.push(BatonSuggestion {
            kind: "action".into(),
            text: a.clone(),
        });
    }
    for r in &ctx.facts.references {
        baton.push(BatonSuggestion {
            kind: "fact".into(),
            text: format!("Reference {r}"),
        });
    }
    for a in &ctx.facts.amounts {
        baton.push(BatonSuggestion {
            kind: "fact".into(),
            text: format!("Amount {a}"),
        });
    }
    for w in &ctx.facts.windows {
        baton.push(BatonSuggestion {
            kind: "fact".into(),
            text: format!("Window: {w}"),
        });
    }
    for k in &ctx.kb_articles {
        baton.push(BatonSuggestion {
            kind: "kb_article".into(),
            text: k.clone(),
        });
    }
    Ok(Json(SuggestionsOut {
        integrator: state.store.suggestions(&id).await?,
        baton,
    }))
}

#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuggestionStatusIn {
    /// used, edited or dismissed
    pub status: String,
}

/// Records what the agent did with a suggestion (feeds the quality figures).
#[utoipa::path(
    post, path = "/v1/handoffs/{id}/suggestions/{sid}",
    params(("id" = String, Path, description = "handoff id"), ("sid" = String, Path, description = "suggestion id")),
    request_body = SuggestionStatusIn,
    responses((status = 200, body = Object), (status = 404, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn suggestion_status(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, sid)): Path<(String, String)>,
    JsonBody(body): JsonBody<SuggestionStatusIn>,
) -> ApiResult<Json<Suggestion>> {
    caller.require(DESK)?;
    crate::handoffs::own_handoff(&state, &caller, &id).await?;
    if !matches!(body.status.as_str(), "used" | "edited" | "dismissed") {
        return Err(ApiError::invalid(
            "status",
            "expected used, edited or dismissed",
        ));
    }
    let s = state
        .store
        .set_suggestion_status(&id, &sid, &body.status, state.now().to_string())
        .await?;
    state.events.notify_waiters();
    Ok(Json(s))
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
    let shift = state
        .store
        .handoffs_open_or_resolved_since(since.to_string())
        .await?;
    let teams = crate::service_level::by_team(&state.policy, &shift, now);
    let json =
        |x: serde_json::Result<serde_json::Value>| x.map_err(|e| ApiError::internal(e.to_string()));
    let mut v = json(serde_json::to_value(&s))?;
    v["agents"] = json(serde_json::to_value(&agents))?;
    v["teams"] = json(serde_json::to_value(&teams))?;
    Ok(Json(v))
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
            .map(crate::report::parse_bound)
            .transpose()
            .map_err(|e| ApiError::invalid(field, e))
    };
    let (since, until) = (bound("since", &q.since)?, bound("until", &q.until)?);
    let r = state
        .reports
        .get(
            state.store.clone(),
            state.policy.clone(),
            since,
            until,
            crate::report::Filter {
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
