//! A handoff's escalation facts and quality score, computed from its transcript when the store
//! does not hold them yet: no I/O.

use baton_core::context;
use baton_core::model::Conversation;
use baton_core::quality::{self, HandoffFacts};
use baton_core::{decide, Decision, EscalationFacts, Policy};
use baton_store::{Handoff, HandoffMetrics, StoredConversation};

/// The conversation of a stored transcript and the decision stored with it (if it still reads).
pub(crate) fn conversation_of(c: StoredConversation) -> (Conversation, Option<Decision>) {
    let d = c
        .decision
        .and_then(|d| serde_json::from_value::<Decision>(d).ok());
    (
        Conversation {
            id: c.id,
            customer: c.customer,
            messages: c.messages,
            expected: None,
        },
        d,
    )
}

/// The escalation facts and the quality score of a handoff, from its transcript.
pub fn score_handoff(
    policy: &Policy,
    conv: &Conversation,
    stored: Option<Decision>,
    h: &HandoffMetrics,
) -> Option<(EscalationFacts, f64, String)> {
    let d = stored
        .filter(|d| d.escalate)
        .unwrap_or_else(|| decide(policy, conv));
    let at = d.at.unwrap_or(conv.messages.len().checked_sub(1)?);
    let facts = EscalationFacts::of(policy, &conv.messages, at)?;
    let package = context::build(conv, &d, policy, None, &h.team);
    let q = quality::score(
        policy,
        &package,
        &conv.messages,
        &HandoffFacts {
            at,
            transfers: h.transfers,
            accepted_at: h.accepted_at,
            resolved_at: h.resolved_at,
        },
    );
    Some((facts, q.score, q.why_low()))
}

/// A handoff as the metrics see it.
pub fn metrics_of(h: &Handoff) -> HandoffMetrics {
    HandoffMetrics {
        id: h.id.clone(),
        conversation_id: h.conversation_id.clone(),
        status: h.status,
        skill: h.skill.clone(),
        team: h.team.clone(),
        reason: h.reason.clone(),
        created_at: h.created_at,
        accepted_at: h.accepted_at,
        resolved_at: h.resolved_at,
        necessary: h.necessary,
        missing: h.missing.clone(),
        csat: h.csat,
        transfers: h.transfers,
        facts: None,
        quality: None,
        repeat_contact: false,
    }
}
