//! The `/v1` handlers.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use baton_core::model::{validate_customer, validate_message, Customer, InputLimits, Message};
use baton_core::ConversationState;
use baton_store::{
    Agent, AgentStatus, Append, EventKind, HandoffStatus, NewHandoff, Placement, Role,
    StoredConversation,
};
use jiff::Timestamp;

use crate::auth::{Caller, ADMINS, ANY, BOT, DESK, READERS};
use crate::error::{ApiError, ApiResult};
use crate::wire::*;
use crate::AppState;

/// What the server keeps in memory per conversation: the folded engine state and what checks
/// need (customer, message count, last time). Rebuilt from the store after a restart.
#[derive(Clone)]
pub struct LiveConversation {
    pub state: ConversationState,
    pub customer: Customer,
    pub count: usize,
    pub last_at: Option<Timestamp>,
    pub handoff: Option<HandoffRef>,
}

fn check_id(field: &str, id: &str) -> ApiResult<()> {
    if id.is_empty() || id.len() > 200 || id.chars().any(|c| c.is_control()) {
        return Err(ApiError::invalid(
            field,
            "an id must be 1 to 200 characters without control characters",
        ));
    }
    Ok(())
}

pub(crate) fn now_string() -> String {
    Timestamp::now().to_string()
}

/// Loads a conversation's live state: from memory, or by replaying its stored messages once.
async fn load_live(state: &AppState, id: &str) -> ApiResult<Option<LiveConversation>> {
    let Some(stored) = state.store.conversation(id).await? else {
        return Ok(None);
    };
    Ok(Some(replay(state, stored).await?))
}

async fn replay(state: &AppState, stored: StoredConversation) -> ApiResult<LiveConversation> {
    let mut live = LiveConversation {
        state: ConversationState::new(),
        customer: stored.customer,
        count: 0,
        last_at: None,
        handoff: None,
    };
    for m in &stored.messages {
        live.state.push(&state.policy, &live.customer, m);
        live.count += 1;
        live.last_at = Some(m.at);
    }
    if live.state.escalated() {
        if let Some(h) = state.store.handoff_of_conversation(&stored.id).await? {
            if let Some(p) = state
                .store
                .placement(&h.id, now_string(), state.routing())
                .await?
            {
                live.handoff = Some(HandoffRef::from(&p));
            }
        }
    }
    Ok(live)
}

fn idempotency_key(headers: &HeaderMap) -> ApiResult<Option<String>> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let s = v.to_str().map_err(|_| {
        ApiError::bad_request("Idempotency-Key must be printable ASCII")
            .with_field("Idempotency-Key")
    })?;
    if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err(ApiError::bad_request(
            "Idempotency-Key must be 1 to 255 printable ASCII characters without spaces",
        )
        .with_field("Idempotency-Key"));
    }
    Ok(Some(s.to_string()))
}

/// An `Idempotency-Key` with what it applies to.
pub(crate) struct IdempotencyKey {
    key: String,
    /// Unique per key, conversation and caller.
    scope: String,
    /// The request's fingerprint: the same key with another body is refused.
    request: String,
}

/// A fingerprint of a request body: SHA-256 of its canonical JSON (so spacing and field order
/// in what the client sent do not matter).
fn fingerprint(body: &impl serde::Serialize) -> String {
    use sha2::Digest;
    let json = serde_json::to_vec(body).unwrap_or_default();
    hex::encode(sha2::Sha256::digest(&json))
}

/// The answer stored for `idem`, if the request was made before; 422 when the key was used with
/// another body.
async fn stored_answer(
    state: &AppState,
    idem: &IdempotencyKey,
) -> ApiResult<Option<serde_json::Value>> {
    let Some(stored) = state.store.idempotent_response(&idem.scope).await? else {
        return Ok(None);
    };
    if stored.request.as_deref().is_some_and(|r| r != idem.request) {
        return Err(ApiError::invalid(
            "Idempotency-Key",
            format!(
                "Idempotency-Key `{}` was first used with a different request; use a new key for a new request",
                idem.key
            ),
        ));
    }
    serde_json::from_str(&stored.response)
        .map(Some)
        .map_err(|e| ApiError::internal(format!("stored response is not JSON: {e}")))
}

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
) -> ApiResult<Json<serde_json::Value>> {
    caller.require(BOT)?;
    check_id("id", &id)?;
    let idem = idempotency_key(&headers)?.map(|key| IdempotencyKey {
        scope: format!("{}:{}:{}", caller.key_id, id, key),
        request: fingerprint(&body),
        key,
    });
    let limits = InputLimits {
        max_text_bytes: state.settings.max_text_bytes,
        ..InputLimits::default()
    };
    if let Some(c) = &body.customer {
        check_id("customer.id", &c.id)?;
        validate_customer(c, "customer").map_err(|e| ApiError::invalid(e.field, e.message))?;
    }
    let now = Timestamp::now();
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
    let response = ingest(&state, &id, body.customer, message, idem, None).await?;
    Ok(Json(response))
}

/// Appends `message` to conversation `id` (applying messages of one conversation in order),
/// decides, routes a new handoff, and answers. Shared by the integrator's messages and the
/// agents' replies.
pub(crate) async fn ingest(
    state: &AppState,
    id: &str,
    customer: Option<Customer>,
    message: Message,
    idem: Option<IdempotencyKey>,
    extra_event: Option<(EventKind, String, serde_json::Value)>,
) -> ApiResult<serde_json::Value> {
    let now = Timestamp::now();
    let id = id.to_string();
    let body_customer = customer;
    // One request at a time per conversation, so messages apply in order.
    let slot = state.conversations.slot(&id);
    let mut guard = slot.lock().await;
    if let Some(idem) = &idem {
        if let Some(answer) = stored_answer(state, idem).await? {
            return Ok(answer);
        }
    }
    let mut fresh = false;
    loop {
        if guard.is_none() {
            *guard = load_live(state, &id).await?;
            fresh = true;
        }
        // Checks first, so that a refused message leaves the cached state as it was.
        if let Some(l) = guard.as_ref() {
            if let Some(c) = &body_customer {
                if c.id != l.customer.id {
                    return Err(ApiError::invalid(
                        "customer.id",
                        format!("conversation {id} belongs to customer {}", l.customer.id),
                    ));
                }
            }
            if let Some(last) = l.last_at {
                if message.at < last {
                    return Err(ApiError::invalid(
                        "message.at",
                        format!(
                            "{} is earlier than the conversation's last message ({last})",
                            message.at
                        ),
                    ));
                }
            }
        }
        let cached = guard.is_some();
        // The message is folded into the state in place (no copy per message): the state goes
        // back into the slot only after the store committed; on any failure the slot stays empty
        // and the next message replays the conversation from the store.
        let mut live = match guard.take() {
            Some(l) => l,
            None => {
                let customer = match &body_customer {
                    Some(c) => c.clone(),
                    None => return Err(ApiError::invalid(
                        "customer",
                        "the first message of a conversation needs `customer` (or store it first with PUT /v1/customers/{id})",
                    )),
                };
                LiveConversation {
                    state: ConversationState::new(),
                    customer,
                    count: 0,
                    last_at: None,
                    handoff: None,
                }
            }
        };
        if let Some(c) = &body_customer {
            live.customer = c.clone();
        }
        let index = live.count;
        let event = match (&extra_event, &live.handoff) {
            (None, Some(handoff)) => {
                message_event(state, &id, &handoff.id, index, message.role).await?
            }
            _ => extra_event.clone(),
        };
        let was_escalated = live.state.escalated();
        let escalated_now = live.state.push(&state.policy, &live.customer, &message);
        let decision = live.state.decision(&state.policy, &id, &live.customer);
        let new_handoff = (escalated_now && !was_escalated).then(|| {
            let facts = live.state.escalation_facts();
            new_handoff(state, &decision, facts, &live.customer, now)
        });
        let answer = Answer {
            conversation_id: id.clone(),
            index,
            decision: decision.clone(),
            customer: live.customer.clone(),
            previous: live.handoff.clone(),
            policy: state.policy.clone(),
        };
        let customer_known = cached || state.store.customer(&live.customer.id).await?.is_some();
        let respond_with = answer.clone();
        let placement = state
            .store
            .append(Append {
                conversation_id: id.clone(),
                customer: if body_customer.is_some() || !customer_known {
                    Some(live.customer.clone())
                } else {
                    None
                },
                customer_id: live.customer.id.clone(),
                index,
                message: message.clone(),
                decision: serde_json::to_value(&decision)
                    .map_err(|e| ApiError::internal(e.to_string()))?,
                handoff: new_handoff.clone(),
                routing: state.routing(),
                extra_event: event,
                idempotency: idem.as_ref().map(|i| baton_store::Idempotency {
                    scope: i.scope.clone(),
                    request: i.request.clone(),
                    respond: Box::new(move |p| {
                        serde_json::to_string(&respond_with.build(p)).unwrap_or_default()
                    }),
                }),
                now: now.to_string(),
            })
            .await;
        let placement = match placement {
            // Another instance wrote to this conversation since this one cached it: read it again
            // and decide on the stored messages.
            Err(baton_store::StoreError::Conflict(_)) if !fresh => {
                *guard = None;
                continue;
            }
            other => other?,
        };
        let response = answer.build(placement.as_ref());
        live.handoff = response.handoff.clone();
        live.count += 1;
        live.last_at = Some(message.at);
        *guard = Some(live);
        drop(guard);
        crate::metrics::decision(&response.decision, new_handoff.is_some());
        state.events.notify_waiters();
        return serde_json::to_value(&response).map_err(|e| ApiError::internal(e.to_string()));
    }
}

/// The event a message on a handed-off conversation writes (`message.customer`, `message.ai`),
/// naming the handoff and who has it, so the desk shows the message in the open handoff at once;
/// none once the handoff is resolved. Its subject is the conversation: the handoff's own events
/// stay its audit trail.
async fn message_event(
    state: &AppState,
    conversation_id: &str,
    handoff_id: &str,
    index: usize,
    role: baton_core::Role,
) -> ApiResult<Option<(EventKind, String, serde_json::Value)>> {
    let Some(h) = state.store.handoff(handoff_id).await? else {
        return Ok(None);
    };
    if h.status == HandoffStatus::Resolved {
        return Ok(None);
    }
    let kind = EventKind::message(role);
    let role = match role {
        baton_core::Role::Customer => "customer",
        baton_core::Role::Ai => "ai",
        baton_core::Role::Agent => "agent",
    };
    Ok(Some((
        kind,
        conversation_id.to_string(),
        serde_json::json!({"handoff_id": h.id, "conversation_id": conversation_id, "index": index,
                           "role": role, "status": h.status.as_str(), "agent_id": h.agent_id}),
    )))
}

/// Everything the answer to a posted message depends on, so the same answer can be built inside
/// the store's transaction (for `Idempotency-Key` replays) and after it.
#[derive(Clone)]
struct Answer {
    conversation_id: String,
    index: usize,
    decision: baton_core::Decision,
    customer: Customer,
    previous: Option<HandoffRef>,
    policy: Arc<baton_core::Policy>,
}

impl Answer {
    fn build(&self, placement: Option<&Placement>) -> PostMessageResponse {
        let handoff = placement
            .map(HandoffRef::from)
            .or_else(|| self.previous.clone());
        let customer_text =
            placement.map(|p| customer_text(&self.policy, &self.decision, &self.customer, p));
        let waiting = handoff
            .as_ref()
            .is_some_and(|h| h.status == "queued" || h.status == "callback");
        PostMessageResponse {
            conversation_id: self.conversation_id.clone(),
            index: self.index,
            action: if self.decision.escalate {
                Action::Handoff
            } else {
                Action::Continue
            },
            decision: self.decision.clone(),
            handoff,
            customer_text,
            ai_may_continue: !self.decision.escalate || waiting,
        }
    }
}

fn new_handoff(
    state: &AppState,
    decision: &baton_core::Decision,
    facts: Option<baton_core::EscalationFacts>,
    customer: &Customer,
    now: Timestamp,
) -> NewHandoff {
    let skill = decision.skill.clone().unwrap_or_else(|| "general".into());
    let team = state.policy.team(&skill);
    // Outside the team's hours the customer is offered a callback at the next opening.
    let callback_at = team.and_then(|t| match t.hours.is_open(now) {
        true => None,
        false => t.hours.next_opening(now).map(|t| t.to_string()),
    });
    let later = now
        + jiff::SignedDuration::from_secs(
            state.policy.routing.no_agent_callback_minutes as i64 * 60,
        );
    let callback_if_nobody = match team {
        Some(t) => t.hours.next_opening(later).map(|t| t.to_string()),
        None => Some(later.to_string()),
    };
    NewHandoff {
        callback_if_nobody,
        id: format!("h-{}", uuid_like()),
        team: team.map_or_else(|| skill.clone(), |t| t.name.clone()),
        skill,
        priority: decision.priority,
        reason: decision
            .reasons
            .first()
            .map(|r| r.kind.clone())
            .unwrap_or_default(),
        vip: customer.tier == baton_core::Tier::Vip,
        callback_at,
        facts,
    }
}

/// The customer-facing text for a placed handoff, from the policy's templates.
pub(crate) fn customer_text(
    policy: &baton_core::Policy,
    decision: &baton_core::Decision,
    customer: &Customer,
    p: &Placement,
) -> String {
    use baton_core::customer_text::{Handover, Placed};
    let h = &p.handoff;
    let placed = match h.status {
        HandoffStatus::Callback => Placed::Callback {
            at: h.callback_at.as_deref().and_then(|c| c.parse().ok()),
        },
        HandoffStatus::Assigned | HandoffStatus::Accepted => Placed::Assigned {
            agent: p.agent_name.as_deref().unwrap_or_default(),
        },
        _ => Placed::Queued {
            eta_seconds: p.eta_seconds,
        },
    };
    baton_core::customer_text::customer_text(
        &policy.texts,
        &Handover {
            customer_name: &customer.name,
            customer_timezone: customer.timezone.as_deref(),
            team: &h.team,
            hours: policy.team(&h.skill).map(|t| &t.hours),
            at: h.created_at.parse().unwrap_or_else(|_| Timestamp::now()),
            explicit_request: decision
                .reasons
                .first()
                .is_some_and(|r| r.kind == "explicit_request"),
            placed,
        },
    )
}

/// A random 128-bit id in hex.
pub fn uuid_like() -> String {
    use rand::RngCore;
    let mut b = [0u8; 16];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
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
        .conversation_csat(&id, body.score, now_string())
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
    if caller.role == Role::Agent {
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
        created_at: c.created_at,
        csat: c.csat,
    }))
}

/// Creates or replaces a customer.
#[utoipa::path(
    put, path = "/v1/customers/{id}",
    params(("id" = String, Path, description = "customer id")),
    request_body = CustomerIn,
    responses((status = 200, body = Customer), (status = 400, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn put_customer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CustomerIn>,
) -> ApiResult<Json<Customer>> {
    caller.require(BOT)?;
    check_id("id", &id)?;
    let customer = Customer {
        id: id.clone(),
        name: body.name,
        tier: body.tier,
        lifetime_value: body.lifetime_value,
        currency: body.currency,
        timezone: body.timezone,
    };
    validate_customer(&customer, "")
        .map_err(|e| ApiError::invalid(e.field.trim_start_matches('.').to_string(), e.message))?;
    state
        .store
        .put_customer(customer.clone(), now_string())
        .await?;
    // Later messages of cached conversations use the new tier and value.
    state.conversations.update_customer(&customer).await;
    Ok(Json(customer))
}

#[utoipa::path(
    get, path = "/v1/customers/{id}",
    params(("id" = String, Path, description = "customer id")),
    responses((status = 200, body = Customer), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn get_customer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Customer>> {
    caller.require(READERS)?;
    state
        .store
        .customer(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("customer {id} not found")))
}

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
        state.store.put_agent(agent, now_string()).await?.into(),
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
            now_string(),
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

/// Liveness and database check; needs no key.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health), (status = 503, body = crate::error::ErrorBody)))]
pub async fn healthz(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    state.store.ping().await?;
    Ok(Json(Health {
        status: "ok".into(),
    }))
}

/// Prometheus metrics (admin key).
#[utoipa::path(get, path = "/metrics", responses((status = 200, body = String, content_type = "text/plain")), security(("bearer" = [])))]
pub async fn metrics(State(state): State<AppState>, caller: Caller) -> ApiResult<String> {
    caller.require(ADMINS)?;
    Ok(state.metrics.render())
}

/// This API's OpenAPI description (any key).
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, body = Object)), security(("bearer" = [])))]
pub async fn openapi(_caller: Caller) -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::spec())
}

/// Shared per-conversation slots: the live state and the lock that orders its messages.
#[derive(Default)]
pub struct Conversations {
    slots: std::sync::Mutex<
        std::collections::HashMap<String, Arc<tokio::sync::Mutex<Option<LiveConversation>>>>,
    >,
}

/// Most conversations kept in memory; idle ones beyond it are dropped and replayed on next use.
const MAX_LIVE: usize = 100_000;

impl Conversations {
    pub fn slot(&self, id: &str) -> Arc<tokio::sync::Mutex<Option<LiveConversation>>> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.len() >= MAX_LIVE && !slots.contains_key(id) {
            slots.retain(|_, s| Arc::strong_count(s) > 1);
        }
        slots.entry(id.to_string()).or_default().clone()
    }

    async fn update_customer(&self, customer: &Customer) {
        let all: Vec<_> = {
            let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.values().cloned().collect()
        };
        for slot in all {
            let mut g = slot.lock().await;
            if let Some(live) = g.as_mut() {
                if live.customer.id == customer.id {
                    live.customer = customer.clone();
                }
            }
        }
    }
}
