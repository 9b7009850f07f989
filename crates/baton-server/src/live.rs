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

/// Shared per-conversation slots: the live state and the lock that orders its messages, at most
/// about `capacity` of them (see [`Conversations::slot`]).
pub struct Conversations {
    slots: std::sync::Mutex<Generations>,
    capacity: usize,
}

/// The slots in two generations: `young` holds those used since the last turn, `old` those used
/// in the turn before. When `young` fills half the capacity, `old`'s idle slots are dropped
/// (their conversations are replayed from the store on next use), its slots in use move to
/// `young`, and `young` becomes `old`: recently used conversations stay, memory stays bounded,
/// and no turn drops everything at once.
#[derive(Default)]
struct Generations {
    young: HashMap<String, Slot>,
    old: HashMap<String, Slot>,
}

impl Conversations {
    /// A cache of about `capacity` conversations (at least 2).
    pub fn new(capacity: usize) -> Self {
        Self {
            slots: std::sync::Mutex::default(),
            capacity: capacity.max(2),
        }
    }

    /// The slot of conversation `id`, made empty on first use.
    ///
    /// A slot in use (held by a request) is never dropped, so two requests for one conversation
    /// always share its lock; an idle slot dropped by a turn is made again, empty, on next use.
    pub fn slot(&self, id: &str) -> Slot {
        let mut g = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = g.young.get(id) {
            return s.clone();
        }
        let slot = g.old.remove(id).unwrap_or_default();
        g.young.insert(id.to_string(), slot.clone());
        if g.young.len() >= self.capacity / 2 {
            let old = std::mem::take(&mut g.old);
            g.old = std::mem::take(&mut g.young);
            g.young = old
                .into_iter()
                .filter(|(_, s)| Arc::strong_count(s) > 1)
                .collect();
        }
        slot
    }

    /// Conversations cached now (with their state or being loaded).
    pub fn len(&self) -> usize {
        let g = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        g.young.len() + g.old.len()
    }

    /// No conversation is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Later messages of cached conversations of `customer` use its new tier and value.
    pub(crate) async fn update_customer(&self, customer: &Customer) {
        let all: Vec<_> = {
            let g = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            g.young.values().chain(g.old.values()).cloned().collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_keeps_recent_and_busy_conversations_and_stays_bounded() {
        let cache = Conversations::new(10);
        let busy = cache.slot("busy");
        let recent = Arc::downgrade(&cache.slot("recent"));
        let idle = Arc::downgrade(&cache.slot("idle"));
        for i in 0..1000 {
            cache.slot(&format!("c-{i}"));
            if i % 3 == 0 {
                cache.slot("recent");
            }
            assert!(cache.len() <= 10 + 1, "{} cached after {i}", cache.len());
        }
        // The slot a request holds is the one the next request gets: its lock orders both.
        assert!(Arc::ptr_eq(&busy, &cache.slot("busy")));
        // A conversation used all along keeps its slot (and its state).
        let again = cache.slot("recent");
        assert!(recent.upgrade().is_some_and(|r| Arc::ptr_eq(&r, &again)));
        // One unused for two turns was dropped: made again, empty, on next use.
        assert!(idle.upgrade().is_none());
        assert!(
            cache.len() >= 5,
            "recent conversations stay: {}",
            cache.len()
        );
    }
}
