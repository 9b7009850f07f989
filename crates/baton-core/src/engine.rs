//! The decision engine: conversation state folded message by message, and the decision it yields.
//!
//! Deciding on message N costs the same whether the conversation has 3 messages or 300: the
//! state keeps only bounded summaries (counters, the last answered questions, a capped set of
//! the AI's words), never the transcript.

use std::collections::VecDeque;

use rustc_hash::FxHashSet;
use serde::Serialize;

use crate::model::{Conversation, Customer, Message, Role};
use crate::policy::{Policy, Priority};
use crate::reason::{Reason, ReasonKind};
use crate::semantic::Semantic;
use crate::signals::{self, Evidence, Question};
use crate::text;

/// Most AI word stems remembered for restatement checks.
const AI_WORDS_CAP: usize = 512;
/// Yes/no answers of the AI remembered for contradiction checks.
const ANSWERS_KEPT: usize = 8;

/// Whether an AI reply opens with a yes (true) or a no (false), and the opening words.
fn answer_polarity<'t>(
    norm: &'t str,
    rule: &crate::policy::LowConfidenceRule,
) -> Option<(bool, &'t str)> {
    if let Some(m) = rule.negative_openers.find(norm) {
        return Some((false, m.as_str()));
    }
    rule.affirmative_openers
        .find(norm)
        .map(|m| (true, m.as_str()))
}

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
    /// figures [`ConversationState`] keeps as it folds messages).
    pub fn of(messages: &[Message], at: usize) -> Option<EscalationFacts> {
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
                .any(|m| m.role == Role::Customer && is_red(&m.text)),
        })
    }
}

/// Compound sentiment at or below which a customer message counts as clearly upset (red).
pub const RED_AT: f64 = -0.3;

fn is_red(text: &str) -> bool {
    crate::sentiment::polarity_scores(text).compound <= RED_AT
}

#[derive(Debug, Clone)]
struct AskedQuestion {
    question: Question,
    message: usize,
    answered: bool,
}

/// Everything the engine remembers about one conversation between messages.
#[derive(Debug, Clone, Default)]
pub struct ConversationState {
    next_index: usize,
    customer_messages: usize,
    max_customer_words: usize,
    prior_negative: bool,
    substantive_messages: usize,
    low_confidence_run: usize,
    low_confidence_evidence: Vec<String>,
    ai_words: FxHashSet<String>,
    /// The last AI replies that opened with a yes (true) or a no (false), with their words.
    ai_answers: VecDeque<(bool, FxHashSet<String>)>,
    last_customer_norm: String,
    questions: VecDeque<AskedQuestion>,
    topic_scores: Vec<f64>,
    /// Sum of the semantic topic head's scores per skill of `Semantic::topics`.
    semantic_topic: Vec<f64>,
    last_sentiment: f64,
    urgency: Option<String>,
    escalation: Option<Escalation>,
    started_at: Option<jiff::Timestamp>,
    /// A customer message so far was red.
    red_seen: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct Escalation {
    at: usize,
    reasons: Vec<(ReasonKind, Reason)>,
    skill: String,
    priority_override: Option<Priority>,
    facts: EscalationFacts,
}

struct Found {
    kind: ReasonKind,
    detail: String,
    evidence: String,
    skill: Option<String>,
    priority: Option<Priority>,
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
        match message.role {
            Role::Customer => self.customer_message(policy, customer, message, &norm, &mut found),
            Role::Ai => self.ai_message(policy, message, &norm, &mut found),
            Role::Agent => {
                // A human answering resets the AI's confidence run; nothing to decide.
                self.low_confidence_run = 0;
                self.low_confidence_evidence.clear();
                self.mark_answered();
            }
        }
        if self.escalation.is_some() || found.is_empty() {
            return false;
        }
        found.sort_by_key(|f| policy.order.iter().position(|k| *k == f.kind));
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

    fn customer_message(
        &mut self,
        policy: &Policy,
        customer: &Customer,
        message: &Message,
        norm: &str,
        found: &mut Vec<Found>,
    ) {
        let index = self.next_index - 1;
        let window = policy.negation_window;
        let words = text::word_count(&message.text);
        let compound = crate::sentiment::polarity_scores(&message.text).compound;
        let weight = if self.customer_messages == 0 {
            policy.topics.first_message_weight
        } else {
            1.0
        };
        self.add_topic_scores(policy, norm, weight);
        if self.urgency.is_none() {
            self.urgency = policy
                .priority
                .urgency
                .find(norm)
                .map(|m| m.as_str().to_string());
        }

        let hits = policy.screen.matches(norm);
        let may = |m: &crate::policy::Matcher| m.screened(&hits).is_some();
        if policy.explicit_request.enabled && may(&policy.explicit_request.patterns) {
            if let Some(e) = signals::phrase_rule(norm, &policy.explicit_request, window) {
                found.push(found_reason(
                    ReasonKind::ExplicitRequest,
                    "customer asked for a human",
                    e,
                    None,
                ));
            }
        }
        for (kind, rule, detail) in [
            (
                ReasonKind::Cancellation,
                &policy.cancellation,
                "customer wants to cancel or close the account or subscription",
            ),
            (
                ReasonKind::LegalCompliance,
                &policy.legal_compliance,
                "legal or compliance matter",
            ),
            (
                ReasonKind::TransactionDispute,
                &policy.transaction_dispute,
                "customer disputes a charge",
            ),
        ] {
            if rule.enabled && may(&rule.patterns) {
                if let Some(e) = signals::business_rule(norm, rule, window) {
                    found.push(found_reason(kind, detail, e, Some(rule.skill.clone())));
                }
            }
        }
        if policy.sensitive_topic.enabled {
            if let Some((i, e)) = signals::sensitive_topic(norm, policy, &hits) {
                let cat = &policy.sensitive_topic.categories[i];
                found.push(found_reason(
                    ReasonKind::SensitiveTopic,
                    &format!("sensitive topic: {}", cat.name.replace('_', " ")),
                    e,
                    Some(cat.skill.clone()),
                ));
            }
        }
        let vip = &policy.vip;
        if vip.enabled
            && (vip.tiers.contains(&customer.tier)
                || (vip.min_lifetime_value > 0.0
                    && customer.lifetime_value >= vip.min_lifetime_value))
            && signals::is_substantive(norm, &vip.pleasantries, vip.min_content_words)
        {
            self.substantive_messages += 1;
            if self.substantive_messages == vip.substantive_message {
                found.push(Found {
                    kind: ReasonKind::Vip,
                    detail: format!(
                        "{} customer's message {} on the issue needs more than one exchange",
                        customer.tier.as_str(),
                        vip.substantive_message
                    ),
                    evidence: excerpt(&message.text, 80),
                    skill: Some(vip.skill.clone()),
                    priority: None,
                });
            }
        }
        for (i, rule) in policy.custom_rules.iter().enumerate() {
            if !rule.tiers.is_empty() && !rule.tiers.contains(&customer.tier) {
                continue;
            }
            if !rule.topics.is_empty() && !rule.topics.iter().any(|t| t == self.topic(policy).0) {
                continue;
            }
            if let Some(m) = rule.patterns.find(norm) {
                found.push(Found {
                    kind: ReasonKind::Custom(i as u16),
                    detail: rule.detail.clone(),
                    evidence: m.as_str().trim().to_string(),
                    skill: Some(rule.skill.clone()),
                    priority: rule.priority,
                });
            }
        }
        if policy.frustration.enabled && may(&policy.frustration.patterns) {
            if let Some(e) = signals::phrase_rule(norm, &policy.frustration, window) {
                found.push(found_reason(
                    ReasonKind::Frustration,
                    "customer uses frustration language",
                    e,
                    None,
                ));
            }
        }
        if let Some(sem) = &policy.semantic {
            self.meaning(policy, sem, norm, weight, found);
        }

        let rq = &policy.repeated_question;
        if rq.enabled {
            let asked = signals::questions(norm, rq);
            if let Some((q, before)) = asked.iter().find_map(|q| {
                self.questions
                    .iter()
                    .find(|b| {
                        b.answered
                            && b.message < index
                            && signals::same_question(q, &b.question, rq)
                    })
                    .map(|b| (q, b))
            }) {
                found.push(Found {
                    kind: ReasonKind::RepeatedQuestion,
                    detail: format!(
                        "customer asks again what they asked at message {} after the AI answered",
                        before.message
                    ),
                    evidence: q.text.clone(),
                    skill: None,
                    priority: None,
                });
            }
            for question in asked {
                if self.questions.len() == rq.memory {
                    self.questions.pop_front();
                }
                self.questions.push_back(AskedQuestion {
                    question,
                    message: index,
                    answered: false,
                });
            }
        }

        let sd = &policy.sentiment_drop;
        if sd.enabled && self.customer_messages > 0 && !self.prior_negative {
            let emotion = sd.emotion_terms.screened(&hits).and_then(|m| m.find(norm));
            // Sentences are scored only when an emotion term makes a negative one matter.
            let worst = emotion.map(|_| signals::most_negative_sentence(&message.text));
            let by_sentence = worst.filter(|(c, _)| *c < sd.sentence_below);
            if compound < sd.message_below || by_sentence.is_some() {
                let evidence = match (emotion, by_sentence) {
                    (Some(m), Some((c, sentence))) if compound >= sd.message_below => format!(
                        "{}: \"{}\" (sentence sentiment {c:.2})",
                        m.as_str(),
                        excerpt(sentence, 80)
                    ),
                    _ => format!("{} (sentiment {compound:.2})", excerpt(&message.text, 80)),
                };
                found.push(Found {
                    kind: ReasonKind::SentimentDrop,
                    detail: format!(
                        "sentiment fell from neutral or positive (last {:.2}) to clearly negative",
                        self.last_sentiment
                    ),
                    evidence,
                    skill: None,
                    priority: None,
                });
            }
        }

        let ml = &policy.message_length;
        if ml.enabled
            && self.customer_messages > 0
            && words > ml.min_words
            && words as f64 >= ml.ratio * self.max_customer_words as f64
        {
            found.push(Found {
                kind: ReasonKind::MessageLength,
                detail: format!(
                    "message of {words} words, at least {}x the customer's earlier ones (at most {})",
                    ml.ratio, self.max_customer_words
                ),
                evidence: excerpt(&message.text, 80),
                skill: None,
                priority: None,
            });
        }

        // Fold this message into the state for the next ones.
        if compound < sd.prior_negative_below || sd.prior_complaints.is_match(norm) {
            self.prior_negative = true;
        }
        self.last_sentiment = compound;
        self.red_seen |= compound <= RED_AT;
        self.customer_messages += 1;
        self.max_customer_words = self.max_customer_words.max(words);
        self.last_customer_norm.clear();
        self.last_customer_norm.push_str(norm);
    }

    /// The meaning detectors on a customer message: each adds its reason when its rule did not
    /// already find it. Also folds the message into the semantic topic scores.
    fn meaning(
        &mut self,
        policy: &Policy,
        sem: &Semantic,
        norm: &str,
        topic_weight: f64,
        found: &mut Vec<Found>,
    ) {
        let mut whole = vec![0.0f32; sem.dims()];
        let meanings = sem.judge(norm, &mut whole);
        if policy.topics.semantic_weight > 0.0 && whole.iter().any(|x| *x != 0.0) {
            let mut scores = vec![0.0f32; sem.topics().len()];
            sem.topic_scores(&whole, &mut scores);
            self.semantic_topic.resize(scores.len(), 0.0);
            for (acc, s) in self.semantic_topic.iter_mut().zip(scores) {
                *acc += f64::from(s.max(0.0)) * topic_weight;
            }
        }
        for m in meanings {
            if found.iter().any(|f| f.kind == m.kind) {
                continue;
            }
            // Frustration with the service needs an answer to be frustrated with: an annoyed
            // opening message is a problem report, and the AI gets its chance.
            if m.kind == ReasonKind::Frustration
                && sem.config().frustration_after_reply
                && self.customer_messages == 0
            {
                continue;
            }
            let evidence = sem.evidence(&m);
            let (enabled, detail, skill) = match m.kind {
                ReasonKind::ExplicitRequest => (
                    policy.explicit_request.enabled,
                    "customer asked for a human".to_string(),
                    None,
                ),
                ReasonKind::Frustration => (
                    policy.frustration.enabled,
                    "customer is frustrated with the service".to_string(),
                    None,
                ),
                ReasonKind::Cancellation => (
                    policy.cancellation.enabled,
                    "customer wants to cancel or close the account or subscription".to_string(),
                    Some(policy.cancellation.skill.clone()),
                ),
                ReasonKind::LegalCompliance => (
                    policy.legal_compliance.enabled,
                    "legal or compliance matter".to_string(),
                    Some(policy.legal_compliance.skill.clone()),
                ),
                ReasonKind::TransactionDispute => (
                    policy.transaction_dispute.enabled,
                    "customer disputes a charge".to_string(),
                    Some(policy.transaction_dispute.skill.clone()),
                ),
                ReasonKind::SensitiveTopic => {
                    let rule = &policy.sensitive_topic;
                    // The kind of sensitive topic of the nearest example names the category.
                    let wanted = match sem.examples()[m.nearest].sensitive.as_deref() {
                        Some("hardship") => "financial_hardship",
                        Some(other) => other,
                        None => "",
                    };
                    let category = rule.categories.iter().find(|c| c.name == wanted);
                    let skill = category
                        .map_or_else(|| policy.topics.default_skill.clone(), |c| c.skill.clone());
                    let name = category.map_or("sensitive matter", |c| c.name.as_str());
                    (
                        rule.enabled,
                        format!("sensitive topic: {}", name.replace('_', " ")),
                        Some(skill),
                    )
                }
                _ => continue,
            };
            if enabled {
                found.push(Found {
                    kind: m.kind,
                    detail,
                    evidence,
                    skill,
                    priority: None,
                });
            }
        }
    }

    fn ai_message(
        &mut self,
        policy: &Policy,
        message: &Message,
        norm: &str,
        found: &mut Vec<Found>,
    ) {
        let rule = &policy.low_confidence;
        if policy.topics.ai_weight > 0.0 {
            self.add_topic_scores(policy, norm, policy.topics.ai_weight);
        }
        let low: Option<String> = match message.confidence {
            Some(c) if c < rule.threshold => Some(format!("confidence {c:.2}")),
            Some(_) => None,
            None => self.low_confidence_from_text(policy, norm),
        };
        if rule.enabled {
            match low {
                Some(evidence) => {
                    self.low_confidence_run += 1;
                    self.low_confidence_evidence.push(evidence);
                    if self.low_confidence_run == rule.consecutive {
                        found.push(Found {
                            kind: ReasonKind::LowConfidence,
                            detail: format!(
                                "{} low-confidence AI replies in a row",
                                rule.consecutive
                            ),
                            evidence: self.low_confidence_evidence.join("; "),
                            skill: None,
                            priority: None,
                        });
                    }
                }
                None => {
                    self.low_confidence_run = 0;
                    self.low_confidence_evidence.clear();
                }
            }
        }
        self.mark_answered();
        if let Some((yes, _)) = answer_polarity(norm, rule) {
            if self.ai_answers.len() == ANSWERS_KEPT {
                self.ai_answers.pop_front();
            }
            self.ai_answers
                .push_back((yes, signals::content_stems(norm)));
        }
        if self.ai_words.len() < AI_WORDS_CAP {
            self.ai_words.extend(signals::content_stems(norm));
        }
    }

    /// Judges an AI reply without a confidence from its text: hedging, a restatement of the
    /// question, or a contradiction of an earlier answer.
    fn low_confidence_from_text(&self, policy: &Policy, norm: &str) -> Option<String> {
        let rule = &policy.low_confidence;
        let (score, hedges) = signals::hedging(norm, policy);
        if score >= rule.hedge_score {
            return Some(format!("hedging: {}", hedges.join(", ")));
        }
        if let Some(m) = rule.contradiction_markers.find(norm) {
            if !self.ai_words.is_empty() {
                return Some(format!("contradicts an earlier answer: {}", m.as_str()));
            }
        }
        let own = signals::content_stems(norm);
        if let Some((yes, opener)) = answer_polarity(norm, rule) {
            let flipped = self.ai_answers.iter().find(|(earlier, words)| {
                *earlier != yes && own.intersection(words).count() >= rule.contradiction_min_shared
            });
            if flipped.is_some() {
                return Some(format!(
                    "contradicts an earlier answer: now \"{opener}\", before the opposite"
                ));
            }
        }
        if own.len() >= rule.restatement_min_words {
            let asked = signals::content_stems(&self.last_customer_norm);
            let known = own
                .iter()
                .filter(|w| asked.contains(*w) || self.ai_words.contains(*w))
                .count();
            if known as f64 / own.len() as f64 >= rule.restatement_overlap {
                return Some("restates the question without new information".to_string());
            }
        }
        None
    }

    fn mark_answered(&mut self) {
        for q in self.questions.iter_mut() {
            q.answered = true;
        }
    }

    fn add_topic_scores(&mut self, policy: &Policy, norm: &str, weight: f64) {
        if self.topic_scores.len() != policy.topics.list.len() {
            self.topic_scores = vec![0.0; policy.topics.list.len()];
        }
        for (score, topic) in self.topic_scores.iter_mut().zip(&policy.topics.list) {
            let hits = topic.keywords.find_iter(norm).count();
            *score += hits as f64 * weight;
        }
    }

    /// The conversation's topic so far and its skill: the skill with the most keyword hits
    /// (over its topics) plus the semantic topic head's weighted scores, then that skill's topic
    /// with the most hits (ties go to the one listed first).
    pub fn topic<'p>(&self, policy: &'p Policy) -> (&'p str, &'p str) {
        let topics = &policy.topics;
        let semantic_topics = policy.semantic.as_ref().map_or(&[][..], |s| s.topics());
        let skill_score = |skill: &str| -> f64 {
            let keywords: f64 = self
                .topic_scores
                .iter()
                .zip(&topics.list)
                .filter(|(_, t)| t.skill == skill)
                .map(|(s, _)| *s)
                .sum();
            let meaning = semantic_topics
                .iter()
                .position(|t| t == skill)
                .and_then(|i| self.semantic_topic.get(i))
                .copied()
                .unwrap_or(0.0);
            keywords + topics.semantic_weight * meaning
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
        for (i, (&s, t)) in self.topic_scores.iter().zip(&topics.list).enumerate() {
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

fn found_reason(kind: ReasonKind, detail: &str, e: Evidence, skill: Option<String>) -> Found {
    Found {
        kind,
        detail: detail.to_string(),
        evidence: e.text,
        skill,
        priority: None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Tier;

    use crate::model::testing::message;

    #[test]
    fn a_reversed_yes_no_answer_is_low_confidence() {
        let policy = Policy::default();
        let customer = Customer {
            id: "c".into(),
            name: "C".into(),
            tier: Tier::Standard,
            lifetime_value: 0.0,
            currency: None,
            timezone: None,
        };
        let mut state = ConversationState::new();
        for (role, text) in [
            (
                Role::Customer,
                "Do calls to Nigeria come with the Flex plan?",
            ),
            (
                Role::Ai,
                "Yes, calls to Nigeria are included in the Flex plan.",
            ),
            (Role::Customer, "Great, and texts?"),
        ] {
            state.push(&policy, &customer, &message(role, text));
        }
        let reply = "No, calls to Nigeria are not part of the Flex plan.";
        let verdict = state.low_confidence_from_text(&policy, &text::normalize(reply));
        assert!(verdict.unwrap().contains("contradicts"));
        let unrelated = "No, texts abroad cost extra.";
        assert_eq!(
            state.low_confidence_from_text(&policy, &text::normalize(unrelated)),
            None
        );
    }
}
