//! Handoff endpoints: list, read with the context package, and the lifecycle (accept, warm
//! transfer, resolve, callback, CSAT).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::Json;
use baton_store::{Handoff, HandoffStatus, KeyRole, Placement, StoredConversation, Transition};

use crate::auth::{Caller, ANY, BOT, DESK};
use crate::error::{ApiError, ApiResult};
use crate::lookup::{context_for, own_handoff, placement_of};
use crate::wire::*;
use crate::AppState;

fn out(
    state: &AppState,
    p: Placement,
    context: Option<baton_core::context::ContextPackage>,
) -> HandoffOut {
    HandoffOut {
        target_seconds: state
            .policy
            .team(&p.handoff.skill)
            .map(|t| t.target_seconds),
        handoff: p.handoff,
        queue_position: p.position,
        eta_now_seconds: p.eta_seconds.map(|e| e.round()),
        agent_name: p.agent_name,
        sentiment: context.as_ref().map(|c| c.sentiment_now),
        context,
        customer: None,
        summary: None,
        messages: None,
        audit: None,
    }
}

/// The handoff's events as its audit trail.
async fn audit(state: &AppState, id: &str) -> ApiResult<Vec<AuditEntry>> {
    Ok(state
        .store
        .handoff_events(id)
        .await?
        .into_iter()
        .map(|e| {
            let field = |k: &str| e.payload.get(k).and_then(|v| v.as_str()).map(String::from);
            AuditEntry {
                seq: e.seq,
                by: e
                    .payload
                    .get("by")
                    .and_then(|b| serde_json::from_value(b.clone()).ok()),
                agent_id: field("agent_id"),
                status: field("status"),
                kind: e.kind.to_string(),
                at: e.at.to_string(),
            }
        })
        .collect())
}

/// The statuses of `?status=`: one, several separated by commas, or all (`[None]`) when absent.
fn statuses(q: Option<&str>) -> ApiResult<Vec<Option<HandoffStatus>>> {
    let Some(q) = q else {
        return Ok(vec![None]);
    };
    q.split(',')
        .map(|s| {
            HandoffStatus::parse(s.trim()).map(Some).ok_or_else(|| {
                ApiError::invalid(
                    "status",
                    format!("unknown status `{s}`; expected queued, assigned, accepted, resolved or callback (several separated by commas)"),
                )
            })
        })
        .collect()
}

#[utoipa::path(
    get, path = "/v1/handoffs",
    params(HandoffQuery),
    responses((status = 200, body = [HandoffOut]), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn list_handoffs(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<HandoffQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Vec<HandoffOut>>> {
    caller.require(DESK)?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let statuses = statuses(q.status.as_deref())?;
    // An agent sees the queue and its own work; leads and admins see every handoff.
    let mine = if caller.supervises() {
        None
    } else {
        Some(caller.own_agent()?.to_string())
    };
    let mut handoffs = Vec::new();
    for status in statuses {
        handoffs.extend(state.store.handoffs(status).await?);
    }
    handoffs.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    handoffs.dedup_by(|a, b| a.id == b.id);
    let names: HashMap<String, String> = state
        .store
        .agents()
        .await?
        .into_iter()
        .map(|a| (a.id, a.name))
        .collect();
    let handoffs: Vec<Handoff> = handoffs
        .into_iter()
        .filter(|h| match &mine {
            Some(me) => h.status == HandoffStatus::Queued || h.agent_id.as_ref() == Some(me),
            None => true,
        })
        .collect();
    let mut ids: Vec<String> = handoffs.iter().map(|h| h.conversation_id.clone()).collect();
    ids.sort_unstable();
    ids.dedup();
    let conversations: HashMap<String, StoredConversation> = state
        .store
        .conversations_by_ids(ids)
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let mut list = Vec::with_capacity(handoffs.len());
    for h in handoffs {
        let conversation = conversations.get(&h.conversation_id);
        let p = match h.status {
            HandoffStatus::Queued => {
                state
                    .store
                    .placement(&h.id, state.now(), state.routing())
                    .await?
            }
            _ => None,
        };
        let p = p.unwrap_or_else(|| Placement {
            agent_name: h.agent_id.as_ref().and_then(|a| names.get(a)).cloned(),
            handoff: h,
            position: None,
            eta_seconds: None,
            agents_on_shift: 0,
        });
        let mut item = out(&state, p, None);
        if let Some(c) = conversation {
            // The summary and the state the context package would show, kept until the
            // conversation changes (every desk fetches this list on every event).
            let glance = state.glances.of(&item.handoff.id, c, &state.policy);
            let customer_spoke = c
                .messages
                .iter()
                .any(|m| m.role == baton_core::Role::Customer);
            item.sentiment = customer_spoke.then(|| glance.customer_state.mood.colour());
            item.messages = Some(c.messages.len());
            item.customer = Some(c.customer.clone());
            // Only for work still open.
            if item.handoff.status != HandoffStatus::Resolved {
                item.summary = Some(glance.summary.clone());
            }
        }
        list.push(item);
    }
    Ok(Json(list))
}

/// The handoff with its context package: summary, customer, issue, AI assessment, sentiment
/// trajectory, facts, recommended actions, KB articles, transcript, greeting and warm-transfer
/// introduction.
#[utoipa::path(
    get, path = "/v1/handoffs/{id}",
    params(("id" = String, Path, description = "handoff id")),
    responses((status = 200, body = HandoffOut), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn get_handoff(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<HandoffOut>> {
    caller.require(ANY)?;
    let p = placement_of(&state, &id).await?;
    if caller.role == KeyRole::Agent {
        caller.may_act_on(&p.handoff)?;
    }
    let context = context_for(&state, &p).await?;
    let mut answer = out(&state, p, Some(context));
    if caller.supervises() {
        answer.audit = Some(audit(&state, &id).await?);
    }
    Ok(Json(answer))
}

async fn apply(
    state: &AppState,
    caller: &Caller,
    id: &str,
    t: Transition,
) -> ApiResult<Json<HandoffOut>> {
    let p = state
        .store
        .transition(id, t, caller.actor(), state.now(), state.routing())
        .await?;
    state.events.notify_waiters();
    Ok(Json(out(state, p, None)))
}

/// The assigned agent accepts the handoff.
#[utoipa::path(
    post, path = "/v1/handoffs/{id}/accept",
    params(("id" = String, Path, description = "handoff id")),
    request_body = AcceptIn,
    responses((status = 200, body = HandoffOut), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AcceptIn>,
) -> ApiResult<Json<HandoffOut>> {
    caller.require(DESK)?;
    // An agent key accepts as its own agent, never as another.
    if let (KeyRole::Agent, Some(other)) = (caller.role, &body.agent_id) {
        caller.may_act_as(other)?;
    }
    let h = own_handoff(&state, &caller, &id).await?;
    let agent_id = match (caller.role, body.agent_id) {
        (KeyRole::Agent, _) => caller.own_agent()?.to_string(),
        (_, Some(a)) => a,
        (_, None) => h.agent_id.clone().ok_or_else(|| {
            ApiError::conflict(format!(
                "handoff {id} is {} and offered to nobody: give `agent_id`, or transfer it to an agent",
                h.status.as_str()
            ))
        })?,
    };
    apply(&state, &caller, &id, Transition::Accept { agent_id }).await
}

/// Warm transfer to another agent or another team (by skill), with a note for the next person.
#[utoipa::path(
    post, path = "/v1/handoffs/{id}/transfer",
    params(("id" = String, Path, description = "handoff id")),
    request_body = TransferIn,
    responses((status = 200, body = HandoffOut), (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn transfer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<TransferIn>,
) -> ApiResult<Json<HandoffOut>> {
    caller.require(DESK)?;
    own_handoff(&state, &caller, &id).await?;
    if body.to_agent.is_none() && body.to_skill.is_none() {
        return Err(ApiError::invalid(
            "to_agent",
            "give `to_agent` or `to_skill`",
        ));
    }
    if body.note.trim().is_empty() {
        return Err(ApiError::invalid(
            "note",
            "a warm transfer needs a note for the next person",
        ));
    }
    let to_team = match &body.to_skill {
        Some(skill) => Some(
            state
                .policy
                .team(skill)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "to_skill",
                        format!(
                            "no team serves `{skill}`; skills: {}",
                            state.policy.skills.join(", ")
                        ),
                    )
                })?
                .name
                .clone(),
        ),
        None => None,
    };
    apply(
        &state,
        &caller,
        &id,
        Transition::Transfer {
            to_agent: body.to_agent,
            to_skill: body.to_skill,
            to_team,
            note: body.note,
        },
    )
    .await
}

/// Resolve, with the outcome, whether the escalation was needed and what the AI lacked.
#[utoipa::path(
    post, path = "/v1/handoffs/{id}/resolve",
    params(("id" = String, Path, description = "handoff id")),
    request_body = ResolveIn,
    responses((status = 200, body = HandoffOut), (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<ResolveIn>,
) -> ApiResult<Json<HandoffOut>> {
    caller.require(DESK)?;
    own_handoff(&state, &caller, &id).await?;
    if body.resolution.trim().is_empty() {
        return Err(ApiError::invalid("resolution", "say how it was resolved"));
    }
    let resolved = apply(
        &state,
        &caller,
        &id,
        Transition::Resolve {
            resolution: body.resolution,
            necessary: body.necessary,
            missing: body.missing.filter(|m| !m.trim().is_empty()),
        },
    )
    .await?;
    // The quality score is final now: keep it, so reports never re-read this transcript. It is
    // derived data: if this fails, the next report computes and saves it.
    let mut one = [baton_report::metrics_of(&resolved.0.handoff)];
    if let Err(e) =
        baton_report::complete_scores(state.store.as_ref(), &state.policy, &mut one).await
    {
        tracing::warn!(handoff = %id, error = %e, "could not save the quality score");
    }
    Ok(resolved)
}

/// Schedule (or move) a callback.
#[utoipa::path(
    post, path = "/v1/handoffs/{id}/callback",
    params(("id" = String, Path, description = "handoff id")),
    request_body = CallbackIn,
    responses((status = 200, body = HandoffOut), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn callback(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CallbackIn>,
) -> ApiResult<Json<HandoffOut>> {
    caller.require(ANY)?;
    if caller.role == KeyRole::Integrator {
        // The customer, through the bot, may choose a callback instead of waiting; once a
        // person has the handoff, only the desk moves it.
        let h = placement_of(&state, &id).await?.handoff;
        if !matches!(h.status, HandoffStatus::Queued | HandoffStatus::Callback) {
            return Err(ApiError::forbidden(format!(
                "handoff {id} is {}: the bot schedules a callback only while the customer waits in the queue",
                h.status.as_str()
            )));
        }
    } else {
        own_handoff(&state, &caller, &id).await?;
    }
    if body.at < state.now() {
        return Err(ApiError::invalid("at", "a callback must be in the future"));
    }
    apply(&state, &caller, &id, Transition::Callback { at: body.at }).await
}

/// The customer's satisfaction score for the handoff (once).
#[utoipa::path(
    post, path = "/v1/handoffs/{id}/csat",
    params(("id" = String, Path, description = "handoff id")),
    request_body = CsatIn,
    responses((status = 200, body = HandoffOut), (status = 409, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn csat(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CsatIn>,
) -> ApiResult<Json<HandoffOut>> {
    caller.require(BOT)?;
    if !(1..=5).contains(&body.score) {
        return Err(ApiError::invalid(
            "score",
            format!("{} is outside 1..=5", body.score),
        ));
    }
    apply(&state, &caller, &id, Transition::Csat { score: body.score }).await
}
