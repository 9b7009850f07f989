//! The message pipeline: a message for a conversation is checked against the conversation's
//! live state, folded into it, decided on, committed with its decision (and a new handoff,
//! routed in the same transaction), and answered. Shared by the integrator's messages
//! (`POST /v1/conversations/{id}/messages`) and the agents' replies
//! (`POST /v1/handoffs/{id}/messages`).

use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use baton_core::model::{Customer, Message};
use baton_store::{AppendEvent, HandoffStatus, NewHandoff, Placement};
use jiff::Timestamp;

use crate::error::{ApiError, ApiResult};
use crate::live::{self, LiveConversation};
use crate::wire::{Action, HandoffRef, JsonText, PostMessageResponse};
use crate::AppState;

/// An `Idempotency-Key` with what it applies to.
pub(crate) struct IdempotencyKey {
    key: String,
    /// Unique per key, conversation and caller.
    scope: String,
    /// The request's fingerprint: the same key with another body is refused.
    request: String,
}

impl IdempotencyKey {
    /// The request's `Idempotency-Key` for conversation `conversation_id` and the caller's key
    /// `key_id`, if it has one; 400 unless it is 1 to 255 printable ASCII characters without
    /// spaces.
    pub(crate) fn of_request(
        headers: &HeaderMap,
        key_id: &str,
        conversation_id: &str,
        body: &impl serde::Serialize,
    ) -> ApiResult<Option<Self>> {
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
        Ok(Some(Self {
            scope: format!("{key_id}:{conversation_id}:{s}"),
            request: fingerprint(body),
            key: s.to_string(),
        }))
    }

    /// The answer stored for this key, as it was stored, if the request was made before; 422
    /// when the key was used with another body.
    async fn stored_answer(&self, state: &AppState) -> ApiResult<Option<JsonText>> {
        let Some(stored) = state.store.idempotent_response(&self.scope).await? else {
            return Ok(None);
        };
        if stored.request.as_deref().is_some_and(|r| r != self.request) {
            return Err(ApiError::invalid(
                "Idempotency-Key",
                format!(
                    "Idempotency-Key `{}` was first used with a different request; use a new key for a new request",
                    self.key
                ),
            ));
        }
        serde_json::from_str::<serde::de::IgnoredAny>(&stored.response)
            .map_err(|e| ApiError::internal(format!("stored response is not JSON: {e}")))?;
        Ok(Some(JsonText::from(stored.response)))
    }
}

/// A fingerprint of a request body: SHA-256 of its canonical JSON (so spacing and field order
/// in what the client sent do not matter).
fn fingerprint(body: &impl serde::Serialize) -> String {
    use sha2::Digest;
    let json = serde_json::to_vec(body).unwrap_or_default();
    hex::encode(sha2::Sha256::digest(&json))
}

/// Appends `message` to conversation `id` (applying messages of one conversation in order),
/// decides, routes a new handoff, and answers with the `PostMessageResponse` as JSON.
/// `customer` is the customer the request gave (required on a conversation's first message
/// unless stored); `extra_event` is written with the message instead of the event a message on
/// a handed-off conversation writes.
pub(crate) async fn ingest(
    state: &AppState,
    id: &str,
    customer: Option<Customer>,
    message: Message,
    idem: Option<IdempotencyKey>,
    extra_event: Option<AppendEvent>,
) -> ApiResult<JsonText> {
    let now = state.now();
    let id = id.to_string();
    let body_customer = customer;
    // One request at a time per conversation, so messages apply in order.
    let slot = state.conversations.slot(&id);
    let mut guard = slot.lock().await;
    if let Some(idem) = &idem {
        if let Some(answer) = idem.stored_answer(state).await? {
            return Ok(answer);
        }
    }
    // `fresh`: the state was read from the store in this request. A conversation this instance
    // has not cached is taken to be new when the request names its customer (no read: a new
    // conversation's first message is most uncached ones); if the store has it after all, the
    // append says so (a conflict) and the conversation is read and the message decided again.
    let mut fresh = false;
    let mut presume_new = body_customer.is_some();
    loop {
        if guard.is_none() && !presume_new {
            *guard = live::load(state, &id).await?;
            fresh = true;
        }
        // Checks first, so that a refused message leaves the cached state as it was.
        if let Some(l) = guard.as_ref() {
            check(l, &id, body_customer.as_ref(), &message)?;
        }
        // The message is folded into the state in place (no copy per message): the state goes
        // back into the slot only after the store committed; on any failure the slot stays empty
        // and the next message replays the conversation from the store.
        let mut live = match guard.take() {
            Some(l) => l,
            None => match &body_customer {
                Some(c) => LiveConversation::new(c.clone()),
                None => return Err(ApiError::invalid(
                    "customer",
                    "the first message of a conversation needs `customer` (or store it first with PUT /v1/customers/{id})",
                )),
            },
        };
        if let Some(c) = &body_customer {
            live.customer = c.clone();
        }
        let index = live.count;
        // The store names the handoff as it stands when the message commits.
        let event = match (&extra_event, &live.handoff) {
            (None, Some(handoff)) => Some(AppendEvent::OnHandoff(handoff.id.clone())),
            _ => extra_event.clone(),
        };
        let (decision, new_handoff) = fold(state, &mut live, &id, &message, now);
        let handoff_created = new_handoff.is_some();
        let stored_decision =
            serde_json::to_string(&decision).map_err(|e| ApiError::internal(e.to_string()))?;
        let topic = Some(decision.topic.clone());
        let answer = Arc::new(Answer {
            conversation_id: id.clone(),
            index,
            decision,
            customer: live.customer.clone(),
            previous: live.handoff.clone(),
            policy: state.policy.clone(),
        });
        let built = Arc::new(Mutex::new(None));
        let placement = state
            .store
            .append(baton_store::Append {
                conversation_id: id.clone(),
                // Uncached, the request named the customer (else there was nothing to decide on).
                customer: body_customer.as_ref().map(|_| live.customer.clone()),
                customer_id: live.customer.id.clone(),
                index,
                message: message.clone(),
                decision: stored_decision,
                topic,
                handoff: new_handoff,
                routing: state.routing(),
                extra_event: event,
                idempotency: idem.as_ref().map(|i| baton_store::Idempotency {
                    scope: i.scope.clone(),
                    request: i.request.clone(),
                    respond: answer.clone().stored(built.clone()),
                }),
                now,
            })
            .await;
        let placement = match placement {
            // Another instance wrote to this conversation since this one cached it, or it was
            // taken to be new and is stored: read it and decide on the stored messages.
            Err(baton_store::StoreError::Conflict(_)) if !fresh => {
                *guard = None;
                presume_new = false;
                continue;
            }
            other => other?,
        };
        // Built inside the transaction when it was stored for replays; built here otherwise.
        let kept = built.lock().unwrap_or_else(|e| e.into_inner()).take();
        let text = match kept {
            Some(text) => JsonText::from(text),
            None => JsonText::of(&answer.build(placement.as_ref()))?,
        };
        live.handoff = answer.handoff(placement.as_ref());
        live.count += 1;
        live.last_at = Some(message.at);
        *guard = Some(live);
        drop(guard);
        crate::metrics::decision(&answer.decision, handoff_created);
        state.events.notify_waiters();
        return Ok(text);
    }
}

/// Folds `message` into `live` and decides on the conversation so far; with the handoff to
/// create if and only if this message is the one that escalates it.
fn fold(
    state: &AppState,
    live: &mut LiveConversation,
    id: &str,
    message: &Message,
    now: Timestamp,
) -> (baton_core::Decision, Option<NewHandoff>) {
    let was_escalated = live.state.escalated();
    let escalated_now = live.state.push(&state.policy, &live.customer, message);
    let decision = live.state.decision(&state.policy, id, &live.customer);
    let new_handoff = (escalated_now && !was_escalated).then(|| {
        let facts = live.state.escalation_facts();
        new_handoff(state, &decision, facts, &live.customer, now)
    });
    (decision, new_handoff)
}

/// `Ok` if `message` (with the request's `customer`) may follow conversation `id` as it stands
/// in `live`: same customer, not earlier than the last message.
fn check(
    live: &LiveConversation,
    id: &str,
    customer: Option<&Customer>,
    message: &Message,
) -> ApiResult<()> {
    if let Some(c) = customer {
        if c.id != live.customer.id {
            return Err(ApiError::invalid(
                "customer.id",
                format!("conversation {id} belongs to customer {}", live.customer.id),
            ));
        }
    }
    if let Some(last) = live.last_at {
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
    Ok(())
}

/// Everything the answer to a posted message depends on but where its new handoff was placed,
/// which only the store's transaction knows.
struct Answer {
    conversation_id: String,
    index: usize,
    decision: baton_core::Decision,
    customer: Customer,
    previous: Option<HandoffRef>,
    policy: Arc<baton_core::Policy>,
}

impl Answer {
    /// The conversation's handoff after the message: the one it created, else the one it had.
    fn handoff(&self, placement: Option<&Placement>) -> Option<HandoffRef> {
        placement
            .map(HandoffRef::from)
            .or_else(|| self.previous.clone())
    }

    fn build(&self, placement: Option<&Placement>) -> PostMessageResponse {
        let handoff = self.handoff(placement);
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

    /// The store's hook for an `Idempotency-Key`: builds the answer inside the transaction, so
    /// the answer stored for replays commits with the message, and keeps its text in `built` for
    /// the caller (the last build is the committed one).
    fn stored(self: Arc<Self>, built: Arc<Mutex<Option<String>>>) -> baton_store::Respond {
        Box::new(move |p| {
            let text = serde_json::to_string(&self.build(p)).unwrap_or_default();
            *built.lock().unwrap_or_else(|e| e.into_inner()) = Some(text.clone());
            text
        })
    }
}

/// The handoff an escalation creates: the decision's skill and its team, priority and reason;
/// a callback at the team's next opening when it is closed `now`.
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
        false => t.hours.next_opening(now),
    });
    let later = now
        + jiff::SignedDuration::from_secs(
            state.policy.routing.no_agent_callback_minutes as i64 * 60,
        );
    let callback_if_nobody = match team {
        Some(t) => t.hours.next_opening(later),
        None => Some(later),
    };
    NewHandoff {
        callback_if_nobody,
        id: format!("h-{}", state.new_id()),
        team: team.map_or_else(|| skill.clone(), |t| t.name.clone()),
        skill,
        priority: decision.priority,
        reason: decision
            .reasons
            .first()
            .map(|r| r.kind.clone())
            // A decision to escalate always names a reason; never reached.
            .unwrap_or_else(|| "".into()),
        vip: customer.tier == baton_core::Tier::Vip,
        callback_at,
        facts,
    }
}

/// The customer-facing text for a placed handoff, from the policy's templates.
fn customer_text(
    policy: &baton_core::Policy,
    decision: &baton_core::Decision,
    customer: &Customer,
    p: &Placement,
) -> String {
    use baton_core::customer_text::{Handover, Placed};
    let h = &p.handoff;
    let placed = match h.status {
        HandoffStatus::Callback => Placed::Callback { at: h.callback_at },
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
            at: h.created_at,
            explicit_request: decision
                .reasons
                .first()
                .is_some_and(|r| r.kind == baton_core::reason::ReasonKind::ExplicitRequest),
            placed,
        },
    )
}
