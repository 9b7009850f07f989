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
pub(crate) use meaning::{topic_vector, Meaning};
pub(crate) use rules::{BusinessRules, CustomRules, ExplicitRequest, Frustration, SensitiveTopic};

/// A reason one detector found on one message.
pub(crate) struct Found {
    pub kind: ReasonKind,
    pub detail: String,
    pub evidence: String,
    /// The reason's own team, when it has one (else the conversation's topic decides).
    pub skill: Option<String>,
    pub priority: Option<Priority>,
    /// Heard by the meaning tier only (no rule said it): at the same message, a reason a rule
    /// found is the primary one before any the meaning tier heard.
    pub heard: bool,
}

impl Found {
    fn rule(kind: ReasonKind, detail: &str, e: Evidence, skill: Option<String>) -> Found {
        Found {
            kind,
            detail: detail.to_string(),
            evidence: e.text,
            skill,
            priority: None,
            heard: false,
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
        if self.low_confidence.last_reply_low() {
            self.repeated_question.not_an_answer();
        }
    }
}

impl Detectors {
    /// The meaning detector's vector of the message just observed, once.
    pub(crate) fn take_message_vector(&mut self) -> Option<Vec<f32>> {
        self.meaning.take_vector()
    }

    #[cfg(test)]
    pub(crate) fn low_confidence(&self) -> &LowConfidence {
        &self.low_confidence
    }
}

#[cfg(test)]
mod tests {
    use crate::model::testing::message;
    use crate::model::Role;
    use crate::reason::ReasonKind;
    use crate::{decide, Policy};

    /// The escalating message and primary reason of a conversation of `(role, text)` turns.
    fn decided(turns: &[(Role, &str)]) -> Option<(usize, ReasonKind)> {
        let mut conversation = crate::lodo::one_message("");
        conversation.messages = turns.iter().map(|(r, t)| message(*r, t)).collect();
        let d = decide(&Policy::default(), &conversation);
        d.at.map(|at| (at, d.reasons[0].kind.kind().expect("a built-in reason")))
    }

    #[test]
    fn a_question_asked_again_after_a_hedge_waits_for_the_next_reply() {
        let question = "Do the new pods fit the old bottles with the white trigger?";
        let again = "So should I order new bottles or not?";
        let hedge = "I think they might fit, but the old necks were different, so I'm not sure.";
        // After a hedge the question was not answered: asking again is no repeated question,
        // and a second hedge in the run is low confidence, at that reply.
        let turns = [
            (Role::Customer, question),
            (Role::Ai, hedge),
            (Role::Customer, again),
            (
                Role::Ai,
                "It's possible the pods work with them; you might try one first.",
            ),
        ];
        assert_eq!(decided(&turns[..3]), None);
        assert_eq!(decided(&turns), Some((3, ReasonKind::LowConfidence)));
        // After a plain answer the same question asked again is a repeated question.
        let answered = [
            (Role::Customer, question),
            (
                Role::Ai,
                "Yes, the new pods fit every bottle we have sold since 2019.",
            ),
            (Role::Customer, again),
        ];
        assert_eq!(decided(&answered), Some((2, ReasonKind::RepeatedQuestion)));
    }

    #[test]
    fn frustration_language_in_the_opening_message_gives_the_ai_its_chance() {
        let opening = "Your locksmith was meant to come between 10 and 12, it's 12:40 now. Bit fed up waiting in.";
        assert_eq!(decided(&[(Role::Customer, opening)]), None);
        // The same words once the AI has answered are frustration with the service.
        let turns = [
            (
                Role::Customer,
                "Is the locksmith still coming this morning?",
            ),
            (
                Role::Ai,
                "Yes, he is on his way and should be with you by 12.",
            ),
            (Role::Customer, "It's 12:40 now. I'm so fed up waiting in."),
        ];
        assert_eq!(decided(&turns), Some((2, ReasonKind::Frustration)));
        // A policy without the key (older files) hears the opening message too.
        let mut policy = Policy::default();
        policy.frustration.after_reply = false;
        let conversation = crate::lodo::one_message(opening);
        assert_eq!(decide(&policy, &conversation).at, Some(0));
        // The key means the same on the other phrase rule: a request for a person waits too.
        let mut policy = Policy::default();
        policy.explicit_request.after_reply = true;
        let asks = crate::lodo::one_message("Can I talk to a real person please");
        assert_eq!(decide(&policy, &asks).at, None);
        assert_eq!(decide(&Policy::default(), &asks).at, Some(0));
    }

    #[test]
    fn a_named_negative_emotion_is_a_drop_unless_its_sentence_is_positive() {
        let opening = [
            (
                Role::Customer,
                "Hi! Just got my refurbished tablet and it looks brand new, really impressed!",
            ),
            (
                Role::Ai,
                "Glad you like it! It comes with a 12-month warranty from delivery.",
            ),
        ];
        let then = |text: &'static str| {
            let mut turns = opening.to_vec();
            turns.push((Role::Customer, text));
            decided(&turns)
        };
        // VADER scores the whole message positive ("extra", "excellent"); the sentence that
        // names the emotion is not.
        assert_eq!(
            then(
                "Honestly that's really disappointing. I paid extra for the Excellent grade \
                 and now I have to post it back."
            ),
            Some((2, ReasonKind::SentimentDrop))
        );
        assert_eq!(
            then("I'm not disappointed at all, I just wondered how long the battery lasts."),
            None
        );
        // The emotion term's own sentence decides, not a neutral one beside it.
        assert_eq!(
            then("I was worried I'd be disappointed but it's lovely! Does it come with a case."),
            None
        );
    }

    #[test]
    fn the_direct_debit_for_the_whole_service_stopping_is_a_cancellation() {
        let alone = |text: &str| decided(&[(Role::Customer, text)]);
        // The exclusions tell one direct debit from the account ...
        assert_eq!(
            alone("Can I cancel the direct debit and pay by card from now on?"),
            None
        );
        // ... but not when the customer asks for the whole arrangement's payments to end.
        for text in [
            "Finally emptied the unit this weekend. What do I need to do so the direct debit stops?",
            "We're moving abroad in March, can you make sure the monthly payments stop then?",
            "I won't need it after this month. Please make sure it doesn't take another payment.",
        ] {
            assert_eq!(
                alone(text),
                Some((0, ReasonKind::Cancellation)),
                "{text}"
            );
        }
    }

    #[test]
    fn the_actual_date_asks_when_again() {
        let turns = [
            (Role::Customer, "When will the new array at Hill Farm start generating?"),
            (
                Role::Ai,
                "It is due to be connected in the week of 8 September and starts once the operator signs off.",
            ),
            (Role::Customer, "So what's the actual date it'll be producing power?"),
        ];
        assert_eq!(decided(&turns), Some((2, ReasonKind::RepeatedQuestion)));
    }
}
