//! The detectors that read the conversation so far, not one message alone: a VIP's issue that
//! needs more than one exchange, a question asked again after the AI answered it, sentiment that
//! falls, a message much longer than the customer's earlier ones.

use std::collections::VecDeque;

use super::{Detector, Found, Observation};
use crate::engine::excerpt;
use crate::model::Role;
use crate::reason::ReasonKind;
use crate::signals::{self, Question};
use crate::text;

/// A VIP customer's `substantive_message`-th message on the issue (pleasantries not counted).
#[derive(Debug, Clone, Default)]
pub(crate) struct Vip {
    substantive_messages: usize,
}

impl Detector for Vip {
    fn observe(&mut self, obs: &Observation<'_>, found: &mut Vec<Found>) {
        let (vip, customer) = (&obs.policy.vip, obs.customer);
        if obs.said.is_some()
            && vip.enabled
            && (vip.tiers.contains(&customer.tier)
                || (vip.min_lifetime_value > 0.0
                    && customer.lifetime_value >= vip.min_lifetime_value))
            && signals::is_substantive(obs.norm, vip)
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
                    evidence: excerpt(&obs.message.text, 80),
                    skill: Some(vip.skill.clone()),
                    priority: None,
                    heard: false,
                });
            }
        }
    }
}

#[derive(Debug, Clone)]
struct AskedQuestion {
    question: Question,
    message: usize,
    answered: bool,
}

/// The customer asks again what they asked before the AI (or an agent) answered; remembers the
/// last `repeated_question.memory` questions. A reply the low-confidence rule judges a hedge is
/// no answer ([`RepeatedQuestion::not_an_answer`]): the customer asking again after "I think it
/// might, but I'm not sure" gives the AI its next reply, and a second hedge is low confidence.
#[derive(Debug, Clone, Default)]
pub(crate) struct RepeatedQuestion {
    questions: VecDeque<AskedQuestion>,
    /// Questions the message just observed marked answered (positions in `questions`).
    just_answered: Vec<usize>,
}

impl RepeatedQuestion {
    /// The reply just observed did not answer: the questions it marked answered are open again.
    pub(crate) fn not_an_answer(&mut self) {
        for &i in &self.just_answered {
            if let Some(q) = self.questions.get_mut(i) {
                q.answered = false;
            }
        }
        self.just_answered.clear();
    }
}

impl Detector for RepeatedQuestion {
    fn observe(&mut self, obs: &Observation<'_>, found: &mut Vec<Found>) {
        self.just_answered.clear();
        if obs.message.role != Role::Customer {
            for (i, q) in self.questions.iter_mut().enumerate() {
                if !q.answered {
                    q.answered = true;
                    self.just_answered.push(i);
                }
            }
            return;
        }
        let rq = &obs.policy.repeated_question;
        if !rq.enabled {
            return;
        }
        let asked = signals::questions(obs.norm, rq, obs.said.as_ref().map(|s| s.hits));
        // The customer's previous message that asked something.
        let latest = self.questions.back().map(|b| b.message);
        if let Some((q, before)) = asked.iter().find_map(|q| {
            self.questions
                .iter()
                .find(|b| {
                    b.answered
                        && b.message < obs.index
                        && (signals::same_question(q, &b.question, rq)
                            // Said to be asked again, right after the answer: "what I'm asking
                            // is, from what date ..." after "when does my term end?" (the kind
                            // may change with the words: in the read sets and the dev set, a
                            // restated question never followed the answer to another one).
                            || (q.restated && Some(b.message) == latest))
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
                heard: false,
            });
        }
        for mut question in asked {
            // Only the question being asked is quoted as evidence: the kept ones need no text.
            question.text = String::new();
            if self.questions.len() == rq.memory {
                self.questions.pop_front();
            }
            self.questions.push_back(AskedQuestion {
                question,
                message: obs.index,
                answered: false,
            });
        }
    }
}

/// Sentiment falls from neutral or positive to clearly negative (the whole message, or one
/// sentence when an emotion term makes it matter); once the customer was negative or complained,
/// a further drop says nothing new.
#[derive(Debug, Clone, Default)]
pub(crate) struct SentimentDrop {
    prior_negative: bool,
}

impl Detector for SentimentDrop {
    fn observe(&mut self, obs: &Observation<'_>, found: &mut Vec<Found>) {
        let Some(said) = &obs.said else {
            return;
        };
        let (sd, norm, compound) = (&obs.policy.sentiment_drop, obs.norm, said.compound);
        if sd.enabled && obs.customer_messages > 0 && !self.prior_negative {
            let terms = sd.emotion_terms.screened(said.hits);
            let emotion = terms.and_then(|m| m.find(norm));
            // Sentences are scored only when an emotion term makes a negative one matter: the
            // message's most negative sentence, or else the sentences that name the emotion
            // themselves ("honestly that's really disappointing" is judged by itself, not by a
            // neutral sentence beside it).
            let by_sentence = emotion.and_then(|_| {
                // One pass: the most negative sentence, and the most negative of those that
                // name the emotion.
                let mut worst: Option<(f64, &str)> = None;
                let mut named: Option<(f64, &str)> = None;
                for (c, s) in signals::scored_sentences(sd.analyzer(), &obs.message.text) {
                    if worst.is_none_or(|w| c < w.0) {
                        worst = Some((c, s));
                    }
                    if sd.emotion_sentence_below.is_some()
                        && named.is_none_or(|w| c < w.0)
                        && sd.emotion_terms.is_match(&text::normalize(s))
                    {
                        named = Some((c, s));
                    }
                }
                worst.filter(|w| w.0 < sd.sentence_below).or_else(|| {
                    named.filter(|w| sd.emotion_sentence_below.is_some_and(|b| w.0 < b))
                })
            });
            if compound < sd.message_below || by_sentence.is_some() {
                let evidence = match (emotion, by_sentence) {
                    (Some(m), Some((c, sentence))) if compound >= sd.message_below => format!(
                        "{}: \"{}\" (sentence sentiment {c:.2})",
                        m.as_str(),
                        excerpt(sentence, 80)
                    ),
                    _ => format!(
                        "{} (sentiment {compound:.2})",
                        excerpt(&obs.message.text, 80)
                    ),
                };
                found.push(Found {
                    kind: ReasonKind::SentimentDrop,
                    detail: format!(
                        "sentiment fell from neutral or positive (last {:.2}) to clearly negative",
                        said.last_sentiment
                    ),
                    evidence,
                    skill: None,
                    priority: None,
                    heard: false,
                });
            }
        }
        if compound < sd.prior_negative_below || sd.prior_complaints.is_match(norm) {
            self.prior_negative = true;
        }
    }
}

/// A message of more than `min_words` words, at least `ratio` times the customer's longest
/// earlier one.
#[derive(Debug, Clone, Default)]
pub(crate) struct MessageLength {
    max_customer_words: usize,
}

impl Detector for MessageLength {
    fn observe(&mut self, obs: &Observation<'_>, found: &mut Vec<Found>) {
        let Some(said) = &obs.said else {
            return;
        };
        let (ml, words) = (&obs.policy.message_length, said.words);
        if ml.enabled
            && obs.customer_messages > 0
            && words > ml.min_words
            && words as f64 >= ml.ratio * self.max_customer_words as f64
        {
            found.push(Found {
                kind: ReasonKind::MessageLength,
                detail: format!(
                    "message of {words} words, at least {}x the customer's earlier ones (at most {})",
                    ml.ratio, self.max_customer_words
                ),
                evidence: excerpt(&obs.message.text, 80),
                skill: None,
                priority: None,
                heard: false,
            });
        }
        self.max_customer_words = self.max_customer_words.max(words);
    }
}
