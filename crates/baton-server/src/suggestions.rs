//! Suggestions for the agent who has a handoff: the integrator's AI keeps helping after the
//! handoff (`POST`), Baton adds its own from the context package (`GET`), and the desk records
//! what the agent did with each (feeds the quality figures).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use baton_store::{KeyRole, Suggestion, SuggestionKind, SuggestionStatus};

use crate::auth::{Caller, ANY, BOT, DESK};
use crate::error::{ApiError, ApiResult};
use crate::lookup::{context_for, own_handoff, placement_of};
use crate::wire::{BatonSuggestion, JsonBody, SuggestionStatusIn, SuggestionsIn, SuggestionsOut};
use crate::AppState;

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
    let now = state.now();
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
            kind: SuggestionKind::Reply,
            source: "integrator".into(),
            text: r.clone(),
            url: None,
            status: SuggestionStatus::New,
            created_at: now,
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
            kind: SuggestionKind::KbArticle,
            source: "integrator".into(),
            text: k.title.clone().unwrap_or_else(|| k.id.clone()),
            url: k.url.clone(),
            status: SuggestionStatus::New,
            created_at: now,
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
    let p = placement_of(&state, &id).await?;
    if caller.role == KeyRole::Agent {
        caller.may_act_on(&p.handoff)?;
    }
    let ctx = context_for(&state, &p).await?;
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
    own_handoff(&state, &caller, &id).await?;
    let status = match SuggestionStatus::parse(&body.status) {
        Some(s) if s != SuggestionStatus::New => s,
        _ => {
            return Err(ApiError::invalid(
                "status",
                "expected used, edited or dismissed",
            ))
        }
    };
    let s = state
        .store
        .set_suggestion_status(&id, &sid, status, state.now())
        .await?;
    state.events.notify_waiters();
    Ok(Json(s))
}
