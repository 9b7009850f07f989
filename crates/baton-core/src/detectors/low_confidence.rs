//! Low confidence: `consecutive` AI replies in a row below the confidence threshold or, without
//! a confidence, hedging, restating the question, or contradicting an earlier answer. A human
//! answering resets the run.

use std::collections::VecDeque;

use super::{Detector, Found, Observation};
use crate::model::Role;
use crate::policy::{LowConfidenceRule, Policy};
use crate::reason::ReasonKind;
use crate::signals;

/// Most AI word stems remembered for restatement checks.
const AI_WORDS_CAP: usize = 512;
/// Yes/no answers of the AI remembered for contradiction checks.
const ANSWERS_KEPT: usize = 8;

#[derive(Debug, Clone, Default)]
pub(crate) struct LowConfidence {
    run: usize,
    evidence: Vec<String>,
    /// The AI's content words so far (`signals::content_stem_ids`: sorted hashes).
    ai_words: Vec<u64>,
    /// The last AI replies that opened with a yes (true) or a no (false), with their words.
    ai_answers: VecDeque<(bool, Vec<u64>)>,
    /// The customer's last message's content words.
    last_customer_words: Vec<u64>,
    /// The message just observed was an AI reply judged low-confidence (with the rule on).
    last_reply_low: bool,
}

impl Detector for LowConfidence {
    fn observe(&mut self, obs: &Observation<'_>, found: &mut Vec<Found>) {
        let (policy, norm) = (obs.policy, obs.norm);
        self.last_reply_low = false;
        match obs.message.role {
            Role::Customer => {
                self.last_customer_words = signals::content_stem_ids(norm);
            }
            Role::Agent => {
                self.run = 0;
                self.evidence.clear();
            }
            Role::Ai => {
                let rule = &policy.low_confidence;
                let low: Option<String> = match obs.message.confidence {
                    Some(c) if c < rule.threshold => Some(format!("confidence {c:.2}")),
                    Some(_) => None,
                    None => self.judge_text(policy, norm),
                };
                if rule.enabled {
                    self.last_reply_low = low.is_some();
                    match low {
                        Some(evidence) => {
                            self.run += 1;
                            self.evidence.push(evidence);
                            if self.run == rule.consecutive {
                                found.push(Found {
                                    kind: ReasonKind::LowConfidence,
                                    detail: format!(
                                        "{} low-confidence AI replies in a row",
                                        rule.consecutive
                                    ),
                                    evidence: self.evidence.join("; "),
                                    skill: None,
                                    priority: None,
                                    heard: false,
                                });
                            }
                        }
                        None => {
                            self.run = 0;
                            self.evidence.clear();
                        }
                    }
                }
                let words = signals::content_stem_ids(norm);
                if self.ai_words.len() < AI_WORDS_CAP {
                    self.ai_words.extend_from_slice(&words);
                    self.ai_words.sort_unstable();
                    self.ai_words.dedup();
                }
                if let Some((yes, _)) = answer_polarity(norm, rule) {
                    if self.ai_answers.len() == ANSWERS_KEPT {
                        self.ai_answers.pop_front();
                    }
                    self.ai_answers.push_back((yes, words));
                }
            }
        }
    }
}

impl LowConfidence {
    /// True when the message just observed was an AI reply this rule judged low-confidence.
    pub(crate) fn last_reply_low(&self) -> bool {
        self.last_reply_low
    }

    /// Judges an AI reply without a confidence from its text: hedging, a restatement of the
    /// question, or a contradiction of an earlier answer.
    fn judge_text(&self, policy: &Policy, norm: &str) -> Option<String> {
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
        let own = signals::content_stem_ids(norm);
        if let Some((yes, opener)) = answer_polarity(norm, rule) {
            let flipped = self.ai_answers.iter().find(|(earlier, words)| {
                *earlier != yes && signals::shared_ids(&own, words) >= rule.contradiction_min_shared
            });
            if flipped.is_some() {
                return Some(format!(
                    "contradicts an earlier answer: now \"{opener}\", before the opposite"
                ));
            }
        }
        if own.len() >= rule.restatement_min_words {
            let asked = &self.last_customer_words;
            let known = own
                .iter()
                .filter(|w| {
                    asked.binary_search(w).is_ok() || self.ai_words.binary_search(w).is_ok()
                })
                .count();
            if known as f64 / own.len() as f64 >= rule.restatement_overlap {
                return Some("restates the question without new information".to_string());
            }
        }
        None
    }
}

/// Whether an AI reply opens with a yes (true) or a no (false), and the opening words.
fn answer_polarity<'t>(norm: &'t str, rule: &LowConfidenceRule) -> Option<(bool, &'t str)> {
    if let Some(m) = rule.negative_openers.find(norm) {
        return Some((false, m.as_str()));
    }
    rule.affirmative_openers
        .find(norm)
        .map(|m| (true, m.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::testing::message;
    use crate::text;
    use crate::ConversationState;

    #[test]
    fn a_reversed_yes_no_answer_is_low_confidence() {
        let policy = Policy::default();
        let customer = crate::lodo::one_message("").customer;
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
        let detector = state.low_confidence();
        let reply = "No, calls to Nigeria are not part of the Flex plan.";
        let verdict = detector.judge_text(&policy, &text::normalize(reply));
        assert!(verdict.unwrap().contains("contradicts"));
        let unrelated = "No, texts abroad cost extra.";
        assert_eq!(
            detector.judge_text(&policy, &text::normalize(unrelated)),
            None
        );
    }
}
