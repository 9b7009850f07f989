//! What the handoff, reply and suggestion handlers look up before they act: a handoff the
//! caller may act on, where a handoff stands now, and its context package.

use baton_core::Conversation;
use baton_store::{Handoff, Placement, StoredConversation};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// Where handoff `id` stands now, or 404.
pub(crate) async fn placement_of(state: &AppState, id: &str) -> ApiResult<Placement> {
    state
        .store
        .placement(id, state.now(), state.routing())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("handoff {id} not found")))
}

/// The context package of the placed handoff `p`, built from its stored conversation.
pub(crate) async fn context_for(
    state: &AppState,
    p: &Placement,
) -> ApiResult<baton_core::context::ContextPackage> {
    let c = state
        .store
        .conversation(&p.handoff.conversation_id)
        .await?
        .ok_or_else(|| ApiError::internal("handoff without its conversation"))?;
    Ok(context_of(state, &p.handoff, p.agent_name.as_deref(), c))
}

/// The context package of handoff `h` from its stored conversation `c`.
fn context_of(
    state: &AppState,
    h: &Handoff,
    agent_name: Option<&str>,
    c: StoredConversation,
) -> baton_core::context::ContextPackage {
    let decision = crate::glances::decision_of(&c, &state.policy);
    let conversation = Conversation {
        id: c.id,
        customer: c.customer,
        messages: c.messages,
        expected: None,
    };
    baton_core::context::build(&conversation, &decision, &state.policy, agent_name, &h.team)
}

/// The handoff, if `caller` may act on it (404 for an unknown one, 403 for another's).
pub(crate) async fn own_handoff(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> ApiResult<baton_store::Handoff> {
    let h = state
        .store
        .handoff(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("handoff {id} not found")))?;
    caller.may_act_on(&h)?;
    Ok(h)
}
