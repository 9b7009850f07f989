//! What a queue row shows of each handoff's context package (its summary and the customer's
//! state), kept per handoff until the conversation it was built from changes.
//!
//! Every desk fetches the queue on every event, so without this each event rebuilt the context
//! of every open handoff once per desk. A row is built from the conversation alone (messages,
//! customer, decision) with the server's fixed policy; messages are only ever appended and the
//! stored decision changes only with a new message, so a conversation's message count and
//! customer tell whether a kept glance still holds. The check needs no event stream, so it holds
//! on every instance sharing a PostgreSQL database, whichever instance wrote the change.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use baton_core::context::Glance;
use baton_core::{Conversation, Customer, Decision, Policy};
use baton_store::StoredConversation;

/// Most glances kept; past it the cache starts again empty (each costs about a kilobyte).
const MAX_KEPT: usize = 4096;

/// What a glance was built from.
#[derive(PartialEq)]
struct Source {
    messages: usize,
    customer: Customer,
}

impl Source {
    fn of(c: &StoredConversation) -> Self {
        Source {
            messages: c.messages.len(),
            customer: c.customer.clone(),
        }
    }
}

#[derive(Default)]
pub struct Glances {
    kept: Mutex<HashMap<String, (Source, Arc<Glance>)>>,
}

impl Glances {
    /// The glance of handoff `handoff_id`, whose conversation is `c`: the kept one if `c` is
    /// unchanged since it was built, otherwise built now (and kept).
    pub fn of(&self, handoff_id: &str, c: &StoredConversation, policy: &Policy) -> Arc<Glance> {
        let source = Source::of(c);
        if let Some((built_from, glance)) = self.lock().get(handoff_id) {
            if *built_from == source {
                return glance.clone();
            }
        }
        let glance = Arc::new(build(c, policy));
        let mut kept = self.lock();
        if kept.len() >= MAX_KEPT && !kept.contains_key(handoff_id) {
            kept.clear();
        }
        kept.insert(handoff_id.to_string(), (source, glance.clone()));
        glance
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Source, Arc<Glance>)>> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The stored decision, or (older stored conversations) the conversation decided again.
pub(crate) fn decision_of(c: &StoredConversation, policy: &Policy) -> Decision {
    match c
        .decision
        .as_ref()
        .map(|d| serde_json::from_value::<Decision>(d.clone()))
    {
        Some(Ok(d)) => d,
        _ => baton_core::decide(policy, &conversation(c)),
    }
}

pub(crate) fn conversation(c: &StoredConversation) -> Conversation {
    Conversation {
        id: c.id.clone(),
        customer: c.customer.clone(),
        messages: c.messages.clone(),
        expected: None,
    }
}

fn build(c: &StoredConversation, policy: &Policy) -> Glance {
    baton_core::context::glance(&conversation(c), &decision_of(c, policy), policy)
}
