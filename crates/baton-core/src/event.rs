//! The kinds of entry in the event log. Each kind is written as a fixed string (`handoff.created`,
//! ...): the stored events, the SSE stream and the webhooks all carry it, so the strings never
//! change.

use crate::model::Role;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What an event of the log says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    HandoffCreated,
    HandoffAssigned,
    HandoffAccepted,
    HandoffTransferred,
    HandoffResolved,
    /// A callback was scheduled (by someone, or because nobody with the skill is on shift).
    HandoffCallback,
    /// A scheduled callback came due: the handoff is queued again.
    HandoffCallbackDue,
    /// The agent did not accept in time: the handoff is queued again.
    HandoffTimedOut,
    HandoffCsat,
    /// A queued handoff's position and expected wait.
    QueueChanged,
    AgentUpdated,
    AgentStatus,
    SuggestionAdded,
    SuggestionStatus,
    ConversationCsat,
    MessageCustomer,
    MessageAi,
    MessageAgent,
}

impl EventKind {
    pub const ALL: [EventKind; 18] = [
        EventKind::HandoffCreated,
        EventKind::HandoffAssigned,
        EventKind::HandoffAccepted,
        EventKind::HandoffTransferred,
        EventKind::HandoffResolved,
        EventKind::HandoffCallback,
        EventKind::HandoffCallbackDue,
        EventKind::HandoffTimedOut,
        EventKind::HandoffCsat,
        EventKind::QueueChanged,
        EventKind::AgentUpdated,
        EventKind::AgentStatus,
        EventKind::SuggestionAdded,
        EventKind::SuggestionStatus,
        EventKind::ConversationCsat,
        EventKind::MessageCustomer,
        EventKind::MessageAi,
        EventKind::MessageAgent,
    ];

    /// The string stored, streamed and sent to webhooks.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::HandoffCreated => "handoff.created",
            EventKind::HandoffAssigned => "handoff.assigned",
            EventKind::HandoffAccepted => "handoff.accepted",
            EventKind::HandoffTransferred => "handoff.transferred",
            EventKind::HandoffResolved => "handoff.resolved",
            EventKind::HandoffCallback => "handoff.callback",
            EventKind::HandoffCallbackDue => "handoff.callback_due",
            EventKind::HandoffTimedOut => "handoff.timed_out",
            EventKind::HandoffCsat => "handoff.csat",
            EventKind::QueueChanged => "queue.changed",
            EventKind::AgentUpdated => "agent.updated",
            EventKind::AgentStatus => "agent.status",
            EventKind::SuggestionAdded => "suggestion.added",
            EventKind::SuggestionStatus => "suggestion.status",
            EventKind::ConversationCsat => "conversation.csat",
            EventKind::MessageCustomer => "message.customer",
            EventKind::MessageAi => "message.ai",
            EventKind::MessageAgent => "message.agent",
        }
    }

    /// Returns the kind written as `s`, if and only if `s` is one of [`EventKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// A message of `role` was added to a conversation with a handoff.
    pub fn message(role: Role) -> Self {
        match role {
            Role::Customer => EventKind::MessageCustomer,
            Role::Ai => EventKind::MessageAi,
            Role::Agent => EventKind::MessageAgent,
        }
    }

    /// Queue events go to every desk.
    pub fn is_queue(self) -> bool {
        matches!(self, EventKind::QueueChanged)
    }

    /// Events about an agent (its subject is the agent's id).
    pub fn is_agent(self) -> bool {
        matches!(self, EventKind::AgentUpdated | EventKind::AgentStatus)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for EventKind {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for EventKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        EventKind::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "unknown event kind `{s}`; expected one of {}",
                EventKind::ALL.map(EventKind::as_str).join(", ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_written_as_before_and_read_back() {
        let written: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            written,
            [
                "handoff.created",
                "handoff.assigned",
                "handoff.accepted",
                "handoff.transferred",
                "handoff.resolved",
                "handoff.callback",
                "handoff.callback_due",
                "handoff.timed_out",
                "handoff.csat",
                "queue.changed",
                "agent.updated",
                "agent.status",
                "suggestion.added",
                "suggestion.status",
                "conversation.csat",
                "message.customer",
                "message.ai",
                "message.agent",
            ]
        );
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{k}\""));
            assert_eq!(serde_json::from_str::<EventKind>(&json).unwrap(), k);
        }
        assert_eq!(EventKind::parse("handoff.unknown"), None);
        assert!(serde_json::from_str::<EventKind>("\"handoff\"").is_err());
    }

    #[test]
    fn message_kinds_follow_the_role() {
        assert_eq!(EventKind::message(Role::Customer), "message.customer");
        assert_eq!(EventKind::message(Role::Ai), "message.ai");
        assert_eq!(EventKind::message(Role::Agent), "message.agent");
    }

    #[test]
    fn queue_and_agent_kinds_are_those_of_their_prefix() {
        for k in EventKind::ALL {
            assert_eq!(k.is_queue(), k.as_str().starts_with("queue."), "{k}");
            assert_eq!(k.is_agent(), k.as_str().starts_with("agent."), "{k}");
        }
    }
}
