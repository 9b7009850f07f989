//! Agent endpoints: admins create and update agents (skills, capacity, seniority, team), the
//! desk sets an agent's status, and lists the agents.

use axum::extract::{Path, State};
use axum::Json;
use baton_store::{Agent, AgentStatus};

use crate::auth::{Caller, ADMINS, DESK};
use crate::error::{ApiError, ApiResult};
use crate::wire::*;
use crate::AppState;

/// Creates or updates an agent (name, skills, capacity, seniority, team).
#[utoipa::path(
    put, path = "/v1/agents/{id}",
    params(("id" = String, Path, description = "agent id")),
    request_body = AgentIn,
    responses((status = 200, body = AgentOut), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn put_agent(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AgentIn>,
) -> ApiResult<Json<AgentOut>> {
    caller.require(ADMINS)?;
    check_id("id", &id)?;
    if !(1..=50).contains(&body.capacity) {
        return Err(ApiError::invalid(
            "capacity",
            format!("{} is outside 1..=50", body.capacity),
        ));
    }
    for (i, s) in body.skills.iter().enumerate() {
        if !state.policy.skills.contains(s) {
            return Err(ApiError::invalid(
                format!("skills[{i}]"),
                format!(
                    "unknown skill `{s}`; the policy's skills are {}",
                    state.policy.skills.join(", ")
                ),
            ));
        }
    }
    if body.name.trim().is_empty() {
        return Err(ApiError::invalid("name", "must not be empty"));
    }
    let existing = state.store.agent(&id).await?;
    let agent = Agent {
        id,
        name: body.name,
        skills: body.skills,
        capacity: body.capacity,
        seniority: body.seniority,
        team: body.team,
        status: existing.as_ref().map_or(AgentStatus::Offline, |a| a.status),
        active: existing.map_or(0, |a| a.active),
    };
    Ok(Json(
        state.store.put_agent(agent, state.now()).await?.into(),
    ))
}

/// Sets an agent's status (available, away, offline).
#[utoipa::path(
    put, path = "/v1/agents/{id}/status",
    params(("id" = String, Path, description = "agent id")),
    request_body = StatusIn,
    responses((status = 200, body = AgentOut), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn put_agent_status(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<StatusIn>,
) -> ApiResult<Json<AgentOut>> {
    caller.require(DESK)?;
    caller.may_act_as(&id)?;
    let agent = state
        .store
        .set_agent_status(
            &id,
            body.status,
            caller.actor(),
            state.now(),
            state.routing(),
        )
        .await?;
    state.events.notify_waiters();
    Ok(Json(agent.into()))
}

#[utoipa::path(
    get, path = "/v1/agents",
    responses((status = 200, body = [AgentOut])),
    security(("bearer" = []))
)]
pub async fn list_agents(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<AgentOut>>> {
    caller.require(DESK)?;
    Ok(Json(
        state
            .store
            .agents()
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}
