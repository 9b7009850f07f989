//! The decision engine: conversation state folded message by message, and the decision it yields.
//!
//! Deciding on message N costs the same whether the conversation has 3 messages or 300: the
//! state keeps only bounded summaries (counters, the last answered questions, a capped set of
//! the AI's words), never the transcript.

use serde::Serialize;

use crate::detectors::{Detector, Detectors, Found, Observation, Said};
use crate::model::{Conversation, Customer, Message, Role};
use crate::policy::{Policy, Priority};
use crate::reason::{Reason, ReasonKind};
use crate::text;

/// What Baton decided about a conversation (the contract of DESIGN.md).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Decision {
    pub id: String,
    pub escalate: bool,
    /// Index of the message on whose arrival the conversation escalated.
    pub at: Option<usize>,
    /// Reasons that hold at `at`, primary first.
    pub reasons: Vec<Reason>,
    pub skill: Option<String>,
    pub priority: Priority,
    pub topic: String,
}

/// When and how a conversation escalated, for the metrics: kept with the handoff so that reports
/// never re-read transcripts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct EscalationFacts {
    /// Index of the message that escalated.
    pub at: usize,
    /// Customer messages up to and including that message (a proxy for the complexity).
    pub customer_messages: usize,
    /// Seconds from the first message to the one that escalated.
    pub seconds_to_handoff: f64,
    /// The customer was already clearly upset (red) at an earlier message: the trigger fired late.
    pub late: bool,
}

impl EscalationFacts {
    /// The facts of a conversation that escalated at message `at`, from its transcript (the same
    /// figures [`ConversationState`] keeps as it folds messages under `policy`, whose sentiment
    /// analyser says which messages were red).
    pub fn of(policy: &Policy, messages: &[Message], at: usize) -> Option<EscalationFacts> {
        let analyzer = policy.sentiment_drop.analyzer();
        let trigger = messages.get(at)?;
        let first = messages.first()?;
        let before = &messages[..at];
        Some(EscalationFacts {
            at,
            customer_messages: messages[..=at]
                .iter()
                .filter(|m| m.role == Role::Customer)
                .count(),
            seconds_to_handoff: trigger.at.duration_since(first.at).as_secs_f64().max(0.0),
            late: before
                .iter()
                .any(|m| m.role == Role::Customer && is_red(analyzer, &m.text)),
        })
    }
}

/// Compound sentiment at or below which a customer message counts as clearly upset (red).
pub const RED_AT: f64 = -0.3;

fn is_red(analyzer: &crate::sentiment::Analyzer, text: &str) -> bool {
    analyzer.polarity_scores(text).compound <= RED_AT
}

/// Everything the engine remembers about one conversation between messages: what the whole
/// conversation shares (counts, the topic, the last sentiment, the escalation) and each
/// detector's own state.
#[derive(Debug, Clone, Default)]
pub struct ConversationState {
    next_index: usize,
    customer_messages: usize,
    topic: TopicScores,
    last_sentiment: f64,
    urgency: Option<String>,
    escalation: Option<Escalation>,
    started_at: Option<jiff::Timestamp>,
    /// A customer message so far was red.
    red_seen: bool,
    detectors: Detectors,
}

#[derive(Debug, Clone, PartialEq)]
struct Escalation {
    at: usize,
    reasons: Vec<(ReasonKind, Reason)>,
    skill: String,
    priority_override: Option<Priority>,
    facts: EscalationFacts,
}

/// The conversation's topic so far: keyword hits per topic of the policy, the semantic topic
/// head's scores per skill of `Semantic::topics`, and the weighted sum of the messages' vectors
/// (for the conversation topic head), each weighted by where the message stood.
#[derive(Debug, Clone, Default)]
pub(crate) struct TopicScores {
    keywords: Vec<f64>,
    meaning: Vec<f64>,
    vector: Vec<f32>,
}

impl TopicScores {
    fn add_keywords(&mut self, policy: &Policy, norm: &str, weight: f64) {
        if self.keywords.len() != policy.topics.list.len() {
            self.keywords = vec![0.0; policy.topics.list.len()];
        }
        for (score, topic) in self.keywords.iter_mut().zip(&policy.topics.list) {
            let hits = topic.keywords.count(norm);
            *score += hits as f64 * weight;
        }
    }

    /// A customer message's vector: the semantic topic head's scores, and the vector itself.
    fn add_customer_vector(&mut self, policy: &Policy, v: &[f32], weight: f64) {
        let Some(sem) = &policy.semantic else {
            return;
        };
        if policy.topics.semantic_weight > 0.0 {
            let mut scores = vec![0.0f32; sem.topics().len()];
            sem.topic_scores(v, &mut scores);
            self.meaning.resize(scores.len(), 0.0);
            for (acc, s) in self.meaning.iter_mut().zip(&scores) {
                *acc += f64::from(s.max(0.0)) * weight;
            }
        }
        self.add_vector(policy, v, weight);
    }

    /// A message's vector into the conversation's, when the conversation topic head is weighed.
    fn add_vector(&mut self, policy: &Policy, v: &[f32], weight: f64) {
        if policy.topics.conversation_weight <= 0.0 {
            return;
        }
        if self.vector.len() != v.len() {
            self.vector = vec![0.0; v.len()];
        }
        for (acc, x) in self.vector.iter_mut().zip(v) {
            *acc += weight as f32 * x;
        }
    }

    /// The conversation topic head's probability of each of [`TOPIC_HEAD_SKILLS`] for the
    /// conversation so far; `None` when it is not weighed or no message had a vector.
    ///
    /// [`TOPIC_HEAD_SKILLS`]: crate::semantic::head::TOPIC_HEAD_SKILLS
    fn conversation_head(&self, policy: &Policy) -> Option<[f32; 3]> {
        let head = crate::semantic::head::Mlp::builtin_topic();
        let norm = self.vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        if policy.topics.conversation_weight <= 0.0
            || norm <= 0.0
            || head.dims() != self.vector.len()
        {
            return None;
        }
        let v: Vec<f32> = self.vector.iter().map(|x| x / norm).collect();
        let mut p = [0.0f32; 3];
        head.probabilities(&v, &mut p);
        Some(p)
    }

    /// The topic and its skill: the skill with the most keyword hits (over its topics) plus the
    /// semantic topic head's weighted scores and the conversation topic head's weighted
    /// probability, then that skill's topic with the most hits (ties go to the one listed first).
    pub(crate) fn best<'p>(&self, policy: &'p Policy) -> (&'p str, &'p str) {
        let topics = &policy.topics;
        let semantic_topics = policy.semantic.as_ref().map_or(&[][..], |s| s.topics());
        let head = self.conversation_head(policy);
        let skill_score = |skill: &str| -> f64 {
            let keywords: f64 = self
                .keywords
                .iter()
                .zip(&topics.list)
                .filter(|(_, t)| t.skill == skill)
                .map(|(s, _)| *s)
                .sum();
            let meaning = semantic_topics
                .iter()
                .position(|t| t == skill)
                .and_then(|i| self.meaning.get(i))
                .copied()
                .unwrap_or(0.0);
            let conversation = crate::semantic::head::TOPIC_HEAD_SKILLS
                .iter()
                .position(|t| *t == skill)
                .zip(head)
                .map_or(0.0, |(i, p)| f64::from(p[i]));
            keywords + topics.semantic_weight * meaning + topics.conversation_weight * conversation
        };
        let mut best: Option<(&str, f64)> = None;
        for skill in topics
            .list
            .iter()
            .map(|t| t.skill.as_str())
            .chain(std::iter::once(topics.default_skill.as_str()))
        {
            let s = skill_score(skill);
            if s > 0.0 && best.is_none_or(|(_, b)| s > b) {
                best = Some((skill, s));
            }
        }
        let Some((skill, _)) = best else {
            return (&topics.default_topic, &topics.default_skill);
        };
        let mut topic: Option<(usize, f64)> = None;
        for (i, (&s, t)) in self.keywords.iter().zip(&topics.list).enumerate() {
            if t.skill == skill && s > 0.0 && topic.is_none_or(|(_, b)| s > b) {
                topic = Some((i, s));
            }
        }
        match topic {
            Some((i, _)) => (&topics.list[i].name, &topics.list[i].skill),
            None => match topics.list.iter().find(|t| t.skill == skill) {
                Some(t) if skill != topics.default_skill => (&t.name, &t.skill),
                _ => (&topics.default_topic, &topics.default_skill),
            },
        }
    }
}

impl ConversationState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Index the next message will have.
    pub fn next_index(&self) -> usize {
        self.next_index
    }

    /// True once the conversation has escalated.
    pub fn escalated(&self) -> bool {
        self.escalation.is_some()
    }

    /// Folds one message into the state. Returns true if and only if this message made the
    /// conversation escalate (later messages are still folded but never re-decide).
    pub fn push(&mut self, policy: &Policy, customer: &Customer, message: &Message) -> bool {
        let index = self.next_index;
        self.next_index += 1;
        let started = *self.started_at.get_or_insert(message.at);
        let red_before = self.red_seen;
        let norm = text::normalize(&message.text);
        let mut found: Vec<Found> = Vec::new();
        self.observe(policy, customer, message, index, &norm, &mut found);
        if self.escalation.is_some() || found.is_empty() {
            return false;
        }
        // What a rule found (precise, negation-aware) is the primary reason before anything the
        // meaning tier only heard in the same message; the policy's order ranks each group.
        found.sort_by_key(|f| (f.heard, policy.order.iter().position(|k| *k == f.kind)));
        let primary = &found[0];
        let skill = primary
            .skill
            .clone()
            .unwrap_or_else(|| self.topic(policy).1.to_string());
        let priority_override = primary.priority;
        let reasons = found
            .into_iter()
            .map(|f| {
                (
                    f.kind,
                    Reason {
                        kind: policy.reason_name(f.kind).into(),
                        detail: f.detail,
                        message: index,
                        evidence: f.evidence,
                    },
                )
            })
            .collect();
        self.escalation = Some(Escalation {
            at: index,
            reasons,
            skill,
            priority_override,
            facts: EscalationFacts {
                at: index,
                customer_messages: self.customer_messages,
                seconds_to_handoff: message.at.duration_since(started).as_secs_f64().max(0.0),
                late: red_before,
            },
        });
        true
    }

    /// Runs every detector on the message, then folds what the conversation shares: the topic,
    /// the urgency, the last sentiment, the customer's message count.
    fn observe(
        &mut self,
        policy: &Policy,
        customer: &Customer,
        message: &Message,
        index: usize,
        norm: &str,
        found: &mut Vec<Found>,
    ) {
        let obs = |topic, said| Observation {
            policy,
            customer,
            message,
            index,
            norm,
            customer_messages: self.customer_messages,
            topic,
            said,
        };
        match message.role {
            Role::Customer => {
                let words = text::word_count(&message.text);
                let compound = policy
                    .sentiment_drop
                    .analyzer()
                    .polarity_scores(&message.text)
                    .compound;
                let weight = if self.customer_messages == 0 {
                    policy.topics.first_message_weight
                } else {
                    1.0
                };
                self.topic.add_keywords(policy, norm, weight);
                if self.urgency.is_none() {
                    self.urgency = policy
                        .priority
                        .urgency
                        .find(norm)
                        .map(|m| m.as_str().to_string());
                }
                if self.escalation.is_some() {
                    // Decided: what detectors find is dropped (`push`), so only what the
                    // decision still reads is folded: the topic, the sentiment, the urgency.
                    if let Some(v) = crate::detectors::topic_vector(policy, norm) {
                        self.topic.add_customer_vector(policy, &v, weight);
                    }
                } else {
                    let hits = policy.screen.matches(norm);
                    let said = Said {
                        hits: &hits,
                        compound,
                        words,
                        last_sentiment: self.last_sentiment,
                    };
                    self.detectors.observe(&obs(&self.topic, Some(said)), found);
                    if let Some(v) = self.detectors.take_message_vector() {
                        self.topic.add_customer_vector(policy, &v, weight);
                    }
                }
                self.last_sentiment = compound;
                self.red_seen |= compound <= RED_AT;
                self.customer_messages += 1;
            }
            Role::Ai => {
                if policy.topics.ai_weight > 0.0 {
                    self.topic
                        .add_keywords(policy, norm, policy.topics.ai_weight);
                }
                if self.escalation.is_none() {
                    // The AI names the product area the customer only describes; its replies
                    // count for the conversation topic head, not the per-message one.
                    if policy.topics.ai_weight > 0.0 && policy.topics.conversation_weight > 0.0 {
                        if let Some(v) = crate::detectors::topic_vector(policy, norm) {
                            self.topic.add_vector(policy, &v, policy.topics.ai_weight);
                        }
                    }
                    self.detectors.observe(&obs(&self.topic, None), found);
                }
            }
            // A human answering resets the AI's confidence run; nothing to decide.
            Role::Agent if self.escalation.is_none() => {
                self.detectors.observe(&obs(&self.topic, None), found)
            }
            Role::Agent => {}
        }
    }

    #[cfg(test)]
    pub(crate) fn low_confidence(&self) -> &crate::detectors::LowConfidence {
        self.detectors.low_confidence()
    }

    /// The conversation's topic so far and its skill: keyword hits and the semantic topic head
    /// (`TopicScores::best`).
    pub fn topic<'p>(&self, policy: &'p Policy) -> (&'p str, &'p str) {
        self.topic.best(policy)
    }

    /// Priority from tier, lifetime value, sentiment, urgency and the primary reason.
    pub fn priority(&self, policy: &Policy, customer: &Customer) -> Priority {
        if let Some(p) = self.escalation.as_ref().and_then(|e| e.priority_override) {
            return p;
        }
        let rules = &policy.priority;
        let mut points = rules.tier_points[customer.tier as usize];
        if customer.lifetime_value > rules.high_value_above {
            points += rules.high_value_points;
        }
        if self.last_sentiment < rules.negative_sentiment_below {
            points += rules.negative_sentiment_points;
        } else if self.last_sentiment > rules.positive_sentiment_above {
            points += rules.positive_sentiment_points;
        }
        if self.urgency.is_some() {
            points += rules.urgency_points;
        }
        if let Some(e) = &self.escalation {
            if let Some((_, p)) = rules
                .reason_points
                .iter()
                .find(|(k, _)| *k == e.reasons[0].0)
            {
                points += p;
            }
        }
        if points >= rules.urgent_at {
            Priority::Urgent
        } else if points >= rules.high_at {
            Priority::High
        } else if points >= rules.medium_at {
            Priority::Medium
        } else {
            Priority::Low
        }
    }

    /// When and how the conversation escalated, once it has.
    pub fn escalation_facts(&self) -> Option<EscalationFacts> {
        self.escalation.as_ref().map(|e| e.facts)
    }

    /// The decision so far, for conversation `id`.
    pub fn decision(&self, policy: &Policy, id: &str, customer: &Customer) -> Decision {
        let (topic, _) = self.topic(policy);
        let priority = self.priority(policy, customer);
        match &self.escalation {
            Some(e) => Decision {
                id: id.to_string(),
                escalate: true,
                at: Some(e.at),
                reasons: e.reasons.iter().map(|(_, r)| r.clone()).collect(),
                skill: Some(e.skill.clone()),
                priority,
                topic: topic.to_string(),
            },
            None => Decision {
                id: id.to_string(),
                escalate: false,
                at: None,
                reasons: Vec::new(),
                skill: None,
                priority,
                topic: topic.to_string(),
            },
        }
    }
}

/// The first `max` characters of `text`, cut at a word, with "..." when cut.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(a, _)| a);
    format!("{cut}...")
}

/// Runs the engine over a whole conversation, stopping at the first message that escalates.
pub fn decide(policy: &Policy, conversation: &Conversation) -> Decision {
    let mut state = ConversationState::new();
    for m in &conversation.messages {
        if state.push(policy, &conversation.customer, m) {
            break;
        }
    }
    state.decision(policy, &conversation.id, &conversation.customer)
}
