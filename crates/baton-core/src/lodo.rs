//! Leave-one-domain-out: how the engine does on a kind of business it has no examples of. For
//! each domain of the banks, the meaning detectors are rebuilt without that domain's lines and
//! the whole engine (rules and meaning) judges each of its lines as the customer's reply to the
//! AI's first answer ([`after_a_reply`]; before session 27, as a one-message conversation).
//! That figure, not the score on the banks themselves, says whether a change generalises.

use std::sync::Arc;

use serde::Serialize;

use crate::engine::decide;
use crate::model::{Conversation, Customer, Message, Role, Tier};
use crate::policy::Policy;
use crate::semantic::{Example, Semantic, DETECTORS};

/// Per-utterance scores of one held-out domain.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DomainScore {
    pub domain: String,
    pub lines: usize,
    /// Lines labelled with a detector's intent, and those the engine found (with any reason).
    pub positives: usize,
    pub true_positives: usize,
    /// `none` lines on which a detector fired.
    pub false_positives: usize,
    /// True positives whose primary reason is the labelled intent.
    pub right_reason: usize,
    /// Lines with a topic the topic head knows, and those it named.
    pub topic_lines: usize,
    pub right_topic: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub reason_accuracy: f64,
    pub topic_accuracy: f64,
}

impl DomainScore {
    fn finish(&mut self) {
        let ratio = |n: usize, d: usize| if d == 0 { 0.0 } else { n as f64 / d as f64 };
        self.precision = ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        );
        self.recall = ratio(self.true_positives, self.positives);
        self.f1 = if self.precision + self.recall == 0.0 {
            0.0
        } else {
            2.0 * self.precision * self.recall / (self.precision + self.recall)
        };
        self.reason_accuracy = ratio(self.right_reason, self.true_positives);
        self.topic_accuracy = ratio(self.right_topic, self.topic_lines);
    }

    fn add(&mut self, other: &DomainScore) {
        self.lines += other.lines;
        self.positives += other.positives;
        self.true_positives += other.true_positives;
        self.false_positives += other.false_positives;
        self.right_reason += other.right_reason;
        self.topic_lines += other.topic_lines;
        self.right_topic += other.right_topic;
    }
}

/// Scores every domain of the policy's banks with the detectors rebuilt without it, and the
/// total over all lines (last, domain `all`). Empty when the policy has no `[semantic]`.
pub fn leave_one_domain_out(policy: &Policy) -> Vec<DomainScore> {
    let Some(sem) = &policy.semantic else {
        return Vec::new();
    };
    let examples = sem.examples();
    let mut domains: Vec<&str> = examples
        .iter()
        .filter_map(|e| e.domain.as_deref())
        .collect();
    domains.sort_unstable();
    domains.dedup();
    let mut out = Vec::new();
    let mut total = DomainScore {
        domain: "all".into(),
        ..DomainScore::default()
    };
    for domain in domains {
        let kept: Vec<Example> = examples
            .iter()
            .filter(|e| e.domain.as_deref() != Some(domain))
            .cloned()
            .collect();
        let mut held_out = policy.clone();
        held_out.semantic = Some(Arc::new(Semantic::build(
            kept,
            sem.topics(),
            sem.config().clone(),
        )));
        let mut score = DomainScore {
            domain: domain.to_string(),
            ..DomainScore::default()
        };
        for e in examples
            .iter()
            .filter(|e| e.domain.as_deref() == Some(domain))
        {
            score_line(&held_out, e, &mut score);
        }
        total.add(&score);
        score.finish();
        out.push(score);
    }
    total.finish();
    out.push(total);
    out
}

/// A line as a one-message conversation of a standard customer.
pub fn one_message(text: &str) -> Conversation {
    Conversation {
        id: "line".into(),
        customer: Customer {
            id: "c".into(),
            name: "C".into(),
            tier: Tier::Standard,
            lifetime_value: 0.0,
            currency: None,
            timezone: None,
        },
        messages: vec![Message::new(
            Role::Customer,
            text,
            jiff::Timestamp::UNIX_EPOCH,
        )],
        expected: None,
    }
}

/// A line as the customer's reply to the AI's first answer: how the corpus lines are said (a
/// frustrated line is frustrated with answers already given, and a section that waits for the
/// AI's reply, like `[frustration] after_reply`, would never hear it as an opening message).
pub fn after_a_reply(text: &str) -> Conversation {
    let mut c = one_message("Hi, I have a question.");
    let at = jiff::Timestamp::UNIX_EPOCH;
    c.messages.push(Message::new(
        Role::Ai,
        "Hello! Of course, what can I help you with?",
        at,
    ));
    c.messages.push(Message::new(Role::Customer, text, at));
    c
}

fn score_line(policy: &Policy, e: &Example, score: &mut DomainScore) {
    score.lines += 1;
    let decision = decide(policy, &after_a_reply(&e.text));
    let found = decision
        .reasons
        .iter()
        .find(|r| DETECTORS.iter().any(|k| r.kind == *k));
    let positive = e.class > 0 && !e.counter;
    match (positive, found) {
        (true, Some(r)) => {
            score.true_positives += 1;
            if r.kind == DETECTORS[e.class - 1] {
                score.right_reason += 1;
            }
        }
        (false, Some(_)) => score.false_positives += 1,
        _ => {}
    }
    score.positives += usize::from(positive);
    let topics = policy.semantic.as_ref().map_or(&[][..], |s| s.topics());
    if let Some(t) = e.topic.as_deref().filter(|t| topics.iter().any(|s| s == t)) {
        if e.class == 0 || e.counter {
            score.topic_lines += 1;
            if decision_skill(policy, &e.text) == t {
                score.right_topic += 1;
            }
        }
    }
}

/// The skill the engine would route a conversation of this one line to when no trigger names one.
fn decision_skill(policy: &Policy, text: &str) -> String {
    let conversation = one_message(text);
    let mut state = crate::engine::ConversationState::new();
    state.push(policy, &conversation.customer, &conversation.messages[0]);
    state.topic(policy).1.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reason::ReasonKind;

    #[test]
    fn a_corpus_line_is_scored_as_the_reply_to_an_answer() {
        let policy = Policy::default();
        let line = "Honestly this chat is useless, you keep sending me the same link.";
        let frustrated = |c: &Conversation| {
            decide(&policy, c)
                .reasons
                .iter()
                .any(|r| r.kind == ReasonKind::Frustration)
        };
        // Frustration waits for the AI's answer: as an opening message the line is not heard,
        // after a reply it is, as the corpus means it.
        assert!(!frustrated(&one_message(line)));
        assert!(frustrated(&after_a_reply(line)));
        // The opening and the answer are neutral: they find nothing themselves.
        let plain = after_a_reply("What time do you open on Saturday?");
        assert!(decide(&policy, &plain).reasons.is_empty());
    }
}
