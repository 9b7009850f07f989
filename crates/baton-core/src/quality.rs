//! The Handoff Quality Score: context completeness, routing accuracy, transition smoothness and
//! resolution efficiency, each explained, weighted by the policy.

use jiff::Timestamp;
use serde::Serialize;

use crate::context::ContextPackage;
use crate::model::{Message, Role};
use crate::policy::Policy;
use crate::signals::content_stems;
use crate::text;

/// What the score needs to know about a handoff besides its conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct HandoffFacts {
    /// Index of the message at which the conversation was handed off.
    pub at: usize,
    pub transfers: u32,
    pub accepted_at: Option<Timestamp>,
    pub resolved_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Part {
    /// 0 (worst) to 1 (best).
    pub score: f64,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QualityScore {
    /// 0 to 100.
    pub score: f64,
    pub context: Part,
    pub routing: Part,
    pub smoothness: Part,
    pub efficiency: Part,
}

impl QualityScore {
    /// The parts that pulled the score down, worst first, as one line.
    pub fn why_low(&self) -> String {
        let mut parts = [
            ("context", &self.context),
            ("routing", &self.routing),
            ("smoothness", &self.smoothness),
            ("efficiency", &self.efficiency),
        ];
        parts.sort_by(|a, b| a.1.score.total_cmp(&b.1.score));
        parts
            .iter()
            .filter(|(_, p)| p.score < 0.8)
            .map(|(n, p)| format!("{n} {:.0}%: {}", p.score * 100.0, p.why))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Share of the context package's sections that were filled. Facts and KB articles are not
/// counted: the package carries all the conversation has of them.
pub fn context_completeness(p: &ContextPackage, default_topic: &str) -> Part {
    let mut missing = Vec::new();
    let mut total = 0;
    let mut check = |name: &str, ok: bool| {
        total += 1;
        if !ok {
            missing.push(name.to_string());
        }
    };
    check("summary", !p.summary.is_empty());
    check(
        "issue classification (topic)",
        p.issue.reason.is_some() && p.issue.topic != default_topic,
    );
    check("AI assessment", !p.ai_assessment.attempted.is_empty());
    check("sentiment trajectory", !p.sentiment.is_empty());
    check("recommended actions", !p.recommended_actions.is_empty());
    check("greeting", !p.greeting.is_empty());
    let score = (total - missing.len()) as f64 / total as f64;
    let why = if missing.is_empty() {
        "every section filled".to_string()
    } else {
        format!("missing: {}", missing.join(", "))
    };
    Part { score, why }
}

/// 1 when the first team resolved it; each transfer halves it.
pub fn routing_accuracy(transfers: u32) -> Part {
    let score = 0.5f64.powi(transfers as i32);
    let why = match transfers {
        0 => "resolved by the team it was routed to".to_string(),
        1 => "transferred once: the first routing missed".to_string(),
        n => format!("transferred {n} times"),
    };
    Part { score, why }
}

/// Did the customer have to repeat, after the handoff, what they had told the AI? The worst
/// post-handoff customer message decides: its share of content words already said before.
pub fn transition_smoothness(messages: &[Message], at: usize, repeat_overlap: f64) -> Part {
    let before: std::collections::HashSet<String> = messages
        [..=at.min(messages.len().saturating_sub(1))]
        .iter()
        .filter(|m| m.role == Role::Customer)
        .flat_map(|m| content_stems(&text::normalize(&m.text)))
        .collect();
    let mut worst: Option<(f64, &str)> = None;
    for m in messages
        .iter()
        .skip(at + 1)
        .filter(|m| m.role == Role::Customer)
    {
        let words = content_stems(&text::normalize(&m.text));
        if words.len() < 3 {
            continue;
        }
        let shared =
            words.iter().filter(|w| before.contains(*w)).count() as f64 / words.len() as f64;
        if worst.is_none_or(|(s, _)| shared > s) {
            worst = Some((shared, &m.text));
        }
    }
    match worst {
        Some((shared, text)) if shared >= repeat_overlap => Part {
            score: 1.0 - shared,
            why: format!(
                "the customer repeated themselves ({:.0}% already said): \"{}\"",
                shared * 100.0,
                text.chars().take(80).collect::<String>()
            ),
        },
        Some((shared, _)) => Part {
            score: 1.0,
            why: format!(
                "no repetition after the handoff (at most {:.0}% overlap)",
                shared * 100.0
            ),
        },
        None => Part {
            score: 1.0,
            why: "no customer message after the handoff to compare".into(),
        },
    }
}

/// Full score at or under the target time from acceptance to resolution, less beyond it.
pub fn resolution_efficiency(facts: &HandoffFacts, target_minutes: f64) -> Part {
    match (facts.accepted_at, facts.resolved_at) {
        (Some(a), Some(r)) => {
            let minutes = r.duration_since(a).as_secs_f64().max(0.0) / 60.0;
            let score = if minutes <= target_minutes {
                1.0
            } else {
                target_minutes / minutes
            };
            Part {
                score,
                why: format!(
                    "resolved {minutes:.1} min after acceptance (target {target_minutes} min)"
                ),
            }
        }
        (_, None) => Part {
            score: 0.0,
            why: "not resolved".into(),
        },
        (None, Some(_)) => Part {
            score: 0.5,
            why: "resolved without being accepted first".into(),
        },
    }
}

/// The Handoff Quality Score of one handoff.
pub fn score(
    policy: &Policy,
    package: &ContextPackage,
    messages: &[Message],
    facts: &HandoffFacts,
) -> QualityScore {
    let q = &policy.quality;
    let context = context_completeness(package, &policy.topics.default_topic);
    let routing = routing_accuracy(facts.transfers);
    let smoothness = transition_smoothness(messages, facts.at, q.repeat_overlap);
    let efficiency = resolution_efficiency(facts, q.target_resolution_minutes);
    let total = q.weights[0] * context.score
        + q.weights[1] * routing.score
        + q.weights[2] * smoothness.score
        + q.weights[3] * efficiency.score;
    QualityScore {
        score: (total * 1000.0).round() / 10.0,
        context,
        routing,
        smoothness,
        efficiency,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::model::testing::message as m;

    #[test]
    fn repeating_after_the_handoff_is_caught() {
        let msgs = [
            m(
                Role::Customer,
                "My router RX-200 keeps dropping the wifi every evening since Monday",
            ),
            m(Role::Ai, "Please restart it."),
            m(Role::Customer, "I want a human"),
            m(Role::Agent, "Hi, what is the problem?"),
            m(
                Role::Customer,
                "As I said, the router keeps dropping the wifi every evening",
            ),
        ];
        let p = transition_smoothness(&msgs, 2, 0.5);
        assert!(p.score < 0.5, "{p:?}");
        assert!(p.why.contains("repeated"));
        let fine = transition_smoothness(&msgs[..4], 2, 0.5);
        assert_eq!(fine.score, 1.0);
    }

    #[test]
    fn hand_computed_parts() {
        assert_eq!(routing_accuracy(0).score, 1.0);
        assert_eq!(routing_accuracy(2).score, 0.25);
        let f = |a: &str, r: &str| HandoffFacts {
            at: 0,
            transfers: 0,
            accepted_at: Some(a.parse().unwrap()),
            resolved_at: Some(r.parse().unwrap()),
        };
        assert_eq!(
            resolution_efficiency(&f("2026-01-01T10:00:00Z", "2026-01-01T10:10:00Z"), 15.0).score,
            1.0
        );
        assert_eq!(
            resolution_efficiency(&f("2026-01-01T10:00:00Z", "2026-01-01T10:30:00Z"), 15.0).score,
            0.5
        );
    }
}
