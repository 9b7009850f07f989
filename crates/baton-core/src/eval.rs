//! Scoring decisions against labelled conversations (`baton eval`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::engine::Decision;
use crate::model::Expected;

/// Label used in the confusion table for "no escalation".
pub const NONE: &str = "none";

/// One conversation the engine got wrong in some way.
#[derive(Debug, Clone, Serialize)]
pub struct Miss {
    pub id: String,
    /// What was wrong: `false_positive`, `false_negative`, `early`, `late`, `reason`, `skill`.
    pub kinds: Vec<&'static str>,
    pub expected: Expected,
    pub decision: Decision,
}

/// The scores of one evaluation run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub conversations: usize,
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
    pub true_negatives: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Shares of true positives decided at, before and after the labelled message.
    pub timing_exact: f64,
    pub timing_early: f64,
    pub timing_late: f64,
    /// Shares of true positives with the labelled primary reason and skill.
    pub reason_accuracy: f64,
    pub skill_accuracy: f64,
    /// expected reason -> predicted primary reason -> count ("none" for no escalation).
    pub confusion: BTreeMap<String, BTreeMap<String, usize>>,
    pub misses: Vec<Miss>,
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 {
        0.0
    } else {
        n as f64 / d as f64
    }
}

/// Accumulates decisions and labels into a [`Report`].
#[derive(Debug, Default)]
pub struct Evaluator {
    report: Report,
    exact: usize,
    early: usize,
    late: usize,
    reason_ok: usize,
    skill_ok: usize,
}

impl Evaluator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, expected: &Expected, decision: &Decision) {
        let r = &mut self.report;
        r.conversations += 1;
        let predicted_reason = decision
            .reasons
            .first()
            .map_or(NONE.to_string(), |r| r.kind.to_string());
        let expected_reason = if expected.escalate {
            expected
                .reason
                .clone()
                .unwrap_or_else(|| "unlabelled".into())
        } else {
            NONE.to_string()
        };
        *r.confusion
            .entry(expected_reason.clone())
            .or_default()
            .entry(predicted_reason.clone())
            .or_default() += 1;

        let mut kinds = Vec::new();
        match (expected.escalate, decision.escalate) {
            (true, true) => {
                r.true_positives += 1;
                match (decision.at, expected.at) {
                    (Some(a), Some(e)) if a == e => self.exact += 1,
                    (Some(a), Some(e)) if a < e => {
                        self.early += 1;
                        kinds.push("early");
                    }
                    _ => {
                        self.late += 1;
                        kinds.push("late");
                    }
                }
                if predicted_reason == expected_reason {
                    self.reason_ok += 1;
                } else {
                    kinds.push("reason");
                }
                if decision.skill == expected.skill {
                    self.skill_ok += 1;
                } else {
                    kinds.push("skill");
                }
            }
            (false, true) => {
                r.false_positives += 1;
                kinds.push("false_positive");
            }
            (true, false) => {
                r.false_negatives += 1;
                kinds.push("false_negative");
            }
            (false, false) => r.true_negatives += 1,
        }
        if !kinds.is_empty() {
            r.misses.push(Miss {
                id: decision.id.clone(),
                kinds,
                expected: expected.clone(),
                decision: decision.clone(),
            });
        }
    }

    pub fn finish(mut self) -> Report {
        let r = &mut self.report;
        let tp = r.true_positives;
        r.precision = ratio(tp, tp + r.false_positives);
        r.recall = ratio(tp, tp + r.false_negatives);
        r.f1 = if r.precision + r.recall == 0.0 {
            0.0
        } else {
            2.0 * r.precision * r.recall / (r.precision + r.recall)
        };
        r.timing_exact = ratio(self.exact, tp);
        r.timing_early = ratio(self.early, tp);
        r.timing_late = ratio(self.late, tp);
        r.reason_accuracy = ratio(self.reason_ok, tp);
        r.skill_accuracy = ratio(self.skill_ok, tp);
        self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Priority;
    use crate::reason::Reason;

    fn decision(escalate: bool, at: Option<usize>, reason: &str, skill: &str) -> Decision {
        Decision {
            id: "c".into(),
            escalate,
            at,
            reasons: if escalate {
                vec![Reason {
                    kind: reason.into(),
                    detail: String::new(),
                    message: at.unwrap(),
                    evidence: String::new(),
                }]
            } else {
                vec![]
            },
            skill: escalate.then(|| skill.to_string()),
            priority: Priority::Medium,
            topic: "general".into(),
        }
    }

    fn label(escalate: bool, at: Option<usize>, reason: &str, skill: &str) -> Expected {
        Expected {
            escalate,
            at,
            reason: escalate.then(|| reason.to_string()),
            skill: escalate.then(|| skill.to_string()),
            note: None,
        }
    }

    #[test]
    fn hand_computed_scores() {
        let mut e = Evaluator::new();
        e.add(
            &label(true, Some(2), "vip", "enterprise"),
            &decision(true, Some(2), "vip", "enterprise"),
        );
        e.add(
            &label(true, Some(4), "frustration", "general"),
            &decision(true, Some(2), "sentiment_drop", "general"),
        );
        e.add(
            &label(true, Some(1), "cancellation", "retention"),
            &decision(false, None, "", ""),
        );
        e.add(
            &label(false, None, "", ""),
            &decision(true, Some(0), "frustration", "technical"),
        );
        e.add(&label(false, None, "", ""), &decision(false, None, "", ""));
        let r = e.finish();
        assert_eq!(
            (
                r.true_positives,
                r.false_positives,
                r.false_negatives,
                r.true_negatives
            ),
            (2, 1, 1, 1)
        );
        assert!((r.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.recall - 2.0 / 3.0).abs() < 1e-12);
        assert!((r.f1 - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(r.timing_exact, 0.5);
        assert_eq!(r.timing_early, 0.5);
        assert_eq!(r.reason_accuracy, 0.5);
        assert_eq!(r.skill_accuracy, 1.0);
        assert_eq!(r.confusion["frustration"]["sentiment_drop"], 1);
        assert_eq!(r.confusion[NONE]["frustration"], 1);
        assert_eq!(r.misses.len(), 3);
    }
}
