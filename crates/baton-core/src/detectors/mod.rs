//! One detector per signal. Each owns the state its signal needs between messages and, for every
//! message, adds what it found to the message's findings; the engine runs them in a fixed order
//! and the policy's `order` picks the primary reason among what they found.
//!
//! Rules (exact, negation-aware) and the meaning detector sit side by side: the meaning detector
//! runs after the rules and adds a reason only when no rule found it already.

mod conversation;
mod low_confidence;
mod meaning;
mod rules;

use crate::engine::TopicScores;
use crate::model::{Customer, Message};
use crate::policy::{Policy, Priority};
use crate::reason::ReasonKind;
use crate::signals::Evidence;

pub(crate) use conversation::{MessageLength, RepeatedQuestion, SentimentDrop, Vip};
pub(crate) use low_confidence::LowConfidence;
pub(crate) use meaning::Meaning;
pub(crate) use rules::{BusinessRules, CustomRules, ExplicitRequest, Frustration, SensitiveTopic};

/// A reason one detector found on one message.
pub(crate) struct Found {
    pub kind: ReasonKind,
    pub detail: String,
    pub evidence: String,
    /// The reason's own team, when it has one (else the conversation's topic decides).
    pub skill: Option<String>,
    pub priority: Option<Priority>,
}

impl Found {
    fn rule(kind: ReasonKind, detail: &str, e: Evidence, skill: Option<String>) -> Found {
        Found {
            kind,
            detail: detail.to_string(),
            evidence: e.text,
            skill,
            priority: None,
        }
    }
}

/// One message as every detector sees it: the message and what the engine computed once for all
/// of them.
pub(crate) struct Observation<'a> {
    pub policy: &'a Policy,
    pub customer: &'a Customer,
    pub message: &'a Message,
    /// The message's index in the conversation.
    pub index: usize,
    /// The message's text, normalised (`text::normalize`).
    pub norm: &'a str,
    /// Customer messages before this one.
    pub customer_messages: usize,
    /// The conversation's topic scores before the meaning detector folds this message in.
    pub topic: &'a TopicScores,
    /// What only customer messages carry (None for AI and agent messages).
    pub said: Option<Said<'a>>,
}

/// What the engine computes once from a customer message for the detectors that read it.
pub(crate) struct Said<'a> {
    /// The policy's regex screen over the normalised text: which phrase lists may match.
    pub hits: &'a crate::policy::ScreenHits,
    /// VADER compound of the whole message.
    pub compound: f64,
    pub words: usize,
    /// Compound of the customer's previous message (0 before the first).
    pub last_sentiment: f64,
}

/// A signal with its own state: observes every message in order and adds what it finds.
pub(crate) trait Detector {
    /// Folds `obs` into the detector's state; pushes a [`Found`] onto `found` if and only if the
    /// detector's signal holds at this message. `found` holds what earlier detectors found on the
    /// same message.
    fn observe(&mut self, obs: &Observation<'_>, found: &mut Vec<Found>);
}

/// Every detector of a conversation, in the order they run (which is the order of reasons
/// between kinds the policy's `order` leaves tied).
#[derive(Debug, Clone, Default)]
pub(crate) struct Detectors {
    explicit_request: ExplicitRequest,
    business_rules: BusinessRules,
    sensitive_topic: SensitiveTopic,
    vip: Vip,
    custom_rules: CustomRules,
    frustration: Frustration,
    meaning: Meaning,
    repeated_question: RepeatedQuestion,
    sentiment_drop: SentimentDrop,
    message_length: MessageLength,
    low_confidence: LowConfidence,
}

impl Detector for Detectors {
    fn observe(&mut self, obs: &Observation<'_>, found: &mut Vec<Found>) {
        self.explicit_request.observe(obs, found);
        self.business_rules.observe(obs, found);
        self.sensitive_topic.observe(obs, found);
        self.vip.observe(obs, found);
        self.custom_rules.observe(obs, found);
        self.frustration.observe(obs, found);
        self.meaning.observe(obs, found);
        self.repeated_question.observe(obs, found);
        self.sentiment_drop.observe(obs, found);
        self.message_length.observe(obs, found);
        self.low_confidence.observe(obs, found);
    }
}

impl Detectors {
    /// The meaning detector's topic scores for the message just observed, once.
    pub(crate) fn take_meaning_topic(&mut self) -> Option<Vec<f32>> {
        self.meaning.take_topic()
    }

    #[cfg(test)]
    pub(crate) fn low_confidence(&self) -> &LowConfidence {
        &self.low_confidence
    }
}
