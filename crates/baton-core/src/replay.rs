//! Policy replay: run a candidate policy over stored (or labelled) conversations next to the
//! current one and report what would change, before anyone adopts it.

use serde::Serialize;

use crate::engine::{decide, Decision};
use crate::model::Conversation;
use crate::policy::Policy;
use crate::reason::ReasonName;

/// One conversation whose decision the candidate changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Flip {
    pub id: String,
    /// "escalate -> continue", "continue -> escalate", or "reason a -> reason b", "at 2 -> at 4".
    pub change: String,
    pub current_reason: Option<ReasonName>,
    pub candidate_reason: Option<ReasonName>,
    /// The human's judgement of the stored handoff, or the file's label, when there is one.
    pub label: Option<bool>,
}

/// Precision and recall of escalation against the labels that exist.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Scores {
    pub labelled: usize,
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
}

impl Scores {
    fn add(&mut self, predicted: bool, label: Option<bool>) {
        let Some(actual) = label else { return };
        self.labelled += 1;
        match (predicted, actual) {
            (true, true) => self.true_positives += 1,
            (true, false) => self.false_positives += 1,
            (false, true) => self.false_negatives += 1,
            (false, false) => {}
        }
    }

    fn finish(&mut self) {
        let tp = self.true_positives as f64;
        let p = self.true_positives + self.false_positives;
        let r = self.true_positives + self.false_negatives;
        self.precision = (p > 0).then(|| tp / p as f64);
        self.recall = (r > 0).then(|| tp / r as f64);
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReplayReport {
    pub conversations: usize,
    pub current_handoffs: usize,
    pub candidate_handoffs: usize,
    pub current_handoff_rate: f64,
    pub candidate_handoff_rate: f64,
    pub would_escalate_now: usize,
    pub would_no_longer_escalate: usize,
    pub other_changes: usize,
    pub current_scores: Scores,
    pub candidate_scores: Scores,
    /// Every conversation the candidate decides differently (the first `max_flips`).
    pub flips: Vec<Flip>,
}

/// Accumulates conversations replayed under both policies.
pub struct Replay<'p> {
    current: &'p Policy,
    candidate: &'p Policy,
    max_flips: usize,
    report: ReplayReport,
}

impl<'p> Replay<'p> {
    pub fn new(current: &'p Policy, candidate: &'p Policy, max_flips: usize) -> Self {
        Self {
            current,
            candidate,
            max_flips,
            report: ReplayReport::default(),
        }
    }

    /// Replays one conversation; `label` is whether escalating it was right, when known.
    pub fn add(&mut self, c: &Conversation, label: Option<bool>) -> (Decision, Decision) {
        let before = decide(self.current, c);
        self.add_decided(c, before, label)
    }

    /// [`Replay::add`] with the current policy's decision already made (it is the same for every
    /// candidate tried on the same conversations).
    pub fn add_decided(
        &mut self,
        c: &Conversation,
        before: Decision,
        label: Option<bool>,
    ) -> (Decision, Decision) {
        let after = decide(self.candidate, c);
        let r = &mut self.report;
        r.conversations += 1;
        r.current_handoffs += before.escalate as usize;
        r.candidate_handoffs += after.escalate as usize;
        r.current_scores.add(before.escalate, label);
        r.candidate_scores.add(after.escalate, label);
        let reason = |d: &Decision| d.reasons.first().map(|r| r.kind.clone());
        let change = match (before.escalate, after.escalate) {
            (false, true) => {
                r.would_escalate_now += 1;
                Some("continue -> escalate".to_string())
            }
            (true, false) => {
                r.would_no_longer_escalate += 1;
                Some("escalate -> continue".to_string())
            }
            (true, true) if reason(&before) != reason(&after) || before.at != after.at => {
                r.other_changes += 1;
                let at = |d: &Decision| d.at.map_or("-".to_string(), |a| a.to_string());
                let name = |d: &Decision| d.reasons.first().map(|r| r.kind.to_string());
                Some(format!(
                    "{} at {} -> {} at {}",
                    name(&before).unwrap_or_default(),
                    at(&before),
                    name(&after).unwrap_or_default(),
                    at(&after)
                ))
            }
            _ => None,
        };
        if let Some(change) = change {
            if r.flips.len() < self.max_flips {
                r.flips.push(Flip {
                    id: c.id.clone(),
                    change,
                    current_reason: reason(&before),
                    candidate_reason: reason(&after),
                    label,
                });
            }
        }
        (before, after)
    }

    pub fn finish(mut self) -> ReplayReport {
        let r = &mut self.report;
        let n = r.conversations.max(1) as f64;
        r.current_handoff_rate = r.current_handoffs as f64 / n;
        r.candidate_handoff_rate = r.candidate_handoffs as f64 / n;
        r.current_scores.finish();
        r.candidate_scores.finish();
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Customer, Message, Role, Tier};

    fn conv(id: &str, text: &str) -> Conversation {
        Conversation {
            id: id.into(),
            customer: Customer {
                id: "c".into(),
                name: "N".into(),
                tier: Tier::Standard,
                lifetime_value: 0.0,
                currency: None,
                timezone: None,
            },
            messages: vec![Message {
                role: Role::Customer,
                text: text.into(),
                at: "2026-01-01T00:00:00Z".parse().unwrap(),
                confidence: None,
                kb_articles: vec![],
            }],
            expected: None,
        }
    }

    #[test]
    fn a_disabled_rule_shows_up_as_flips_with_scores() {
        let current = Policy::default();
        let source = crate::policy::DEFAULT_POLICY.replacen(
            "[frustration]\nenabled = true",
            "[frustration]\nenabled = false",
            1,
        );
        let candidate = Policy::from_toml(&source).unwrap();
        let mut replay = Replay::new(&current, &candidate, 10);
        // Frustration is heard once the AI has answered (`after_reply`); the customer was
        // unhappy from the start, so the last message is no sentiment drop either.
        let mut a = conv("a", "still not happy, my parcel is late again");
        for (role, text) in [
            (Role::Ai, "It is on its way."),
            (Role::Customer, "this is useless, a waste of my time"),
        ] {
            let mut m = a.messages[0].clone();
            m.role = role;
            m.text = text.into();
            a.messages.push(m);
        }
        replay.add(&a, Some(true));
        replay.add(&conv("b", "where is my parcel?"), Some(false));
        replay.add(&conv("c", "I want to cancel my subscription"), Some(true));
        let r = replay.finish();
        assert_eq!((r.current_handoffs, r.candidate_handoffs), (2, 1));
        assert_eq!(r.would_no_longer_escalate, 1);
        assert_eq!(r.flips[0].id, "a");
        assert_eq!(r.current_scores.recall, Some(1.0));
        assert_eq!(r.candidate_scores.recall, Some(0.5));
    }
}
