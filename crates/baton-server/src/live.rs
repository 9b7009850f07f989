//! The live-conversation cache: each conversation's folded engine state and what the checks on
//! its next message need, kept in memory and rebuilt from the store after a restart (or when
//! another instance wrote to the conversation).

use std::collections::HashMap;
use std::sync::Arc;

use baton_core::model::Customer;
use baton_core::ConversationState;
use baton_store::StoredConversation;
use jiff::Timestamp;

use crate::error::ApiResult;
use crate::wire::HandoffRef;
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

impl LiveConversation {
    /// A conversation with no message yet.
    pub fn new(customer: Customer) -> Self {
        Self {
            state: ConversationState::new(),
            customer,
            count: 0,
            last_at: None,
            handoff: None,
        }
    }
}

/// One conversation's slot: its live state (`None` until loaded) behind the lock that orders
/// its messages.
pub type Slot = Arc<tokio::sync::Mutex<Option<LiveConversation>>>;

/// Shared per-conversation slots: the live state and the lock that orders its messages.
#[derive(Default)]
pub struct Conversations {
    slots: std::sync::Mutex<HashMap<String, Slot>>,
}

/// Most conversations kept in memory; idle ones beyond it are dropped and replayed on next use.
const MAX_LIVE: usize = 100_000;

impl Conversations {
    /// The slot of conversation `id`, made empty on first use. Past `MAX_LIVE` slots, the idle
    /// ones are dropped first (their conversations are replayed on next use).
    pub fn slot(&self, id: &str) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if slots.len() >= MAX_LIVE && !slots.contains_key(id) {
            slots.retain(|_, s| Arc::strong_count(s) > 1);
        }
        slots.entry(id.to_string()).or_default().clone()
    }

    /// Later messages of cached conversations of `customer` use its new tier and value.
    pub(crate) async fn update_customer(&self, customer: &Customer) {
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

/// Loads a conversation's live state by replaying its stored messages once; `None` if it has
/// none stored.
pub(crate) async fn load(state: &AppState, id: &str) -> ApiResult<Option<LiveConversation>> {
    let Some(stored) = state.store.conversation(id).await? else {
        return Ok(None);
    };
    Ok(Some(replay(state, stored).await?))
}

async fn replay(state: &AppState, stored: StoredConversation) -> ApiResult<LiveConversation> {
    let mut live = LiveConversation::new(stored.customer);
    for m in &stored.messages {
        live.state.push(&state.policy, &live.customer, m);
        live.count += 1;
        live.last_at = Some(m.at);
    }
    if live.state.escalated() {
        if let Some(h) = state.store.handoff_of_conversation(&stored.id).await? {
            if let Some(p) = state
                .store
                .placement(&h.id, state.now(), state.routing())
                .await?
            {
                live.handoff = Some(HandoffRef::from(&p));
            }
        }
    }
    Ok(live)
}
