//! The AI assessment of a context package: what the AI tried (answers, steps, KB articles,
//! questions) and how each attempt landed, judged by the customer's next message and by what
//! the engine found there.

use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;

use super::{Colour, SentimentPoint};
use crate::engine::Decision;
use crate::model::{Message, Role};
use crate::reason::ReasonKind;

/// What one AI reply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AttemptKind {
    /// Told the customer what to do (update, clear the cache, go to Settings...).
    Steps,
    /// Gave an answer or information.
    Answer,
    /// Asked the customer for something.
    Question,
    /// Said a person or another team takes over.
    Handover,
    /// Only pleasantries.
    Pleasantry,
}

/// How an AI reply landed with the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Worked,
    DidNotWork,
    /// The customer answered without saying either way.
    Unclear,
    /// The customer has not written since.
    NoReply,
}

/// One AI reply, as the agent needs to know it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AiAttempt {
    /// Index of the AI message.
    pub message: usize,
    pub kind: AttemptKind,
    /// The substance of the reply (pleasantries left out), shortened.
    pub text: String,
    pub kb_articles: Vec<String>,
    pub confidence: Option<f64>,
    pub outcome: Outcome,
    /// Why the outcome: what the customer said or did next.
    pub why: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AiAssessment {
    /// What the AI tried: one line per AI reply ("#1 suggested steps: ... [kb-app-logout]").
    pub attempted: Vec<String>,
    /// What failed and how we know: one line per reply that did not work or was unsure.
    pub failed: Vec<String>,
    /// The same, structured, one entry per AI reply.
    pub attempts: Vec<AiAttempt>,
    /// AI replies after which the customer was satisfied.
    pub worked: Vec<usize>,
    /// AI replies after which the customer said it did not work, repeated the question, was
    /// frustrated or unhappy, or asked for a person.
    pub did_not_work: Vec<usize>,
    /// AI replies with a confidence below the policy threshold.
    pub low_confidence: Vec<usize>,
}

struct Patterns {
    /// A sentence that is only courtesy ("Sorry about that, Tom.", "Thanks!", "Hi Ana!").
    pleasantry: Regex,
    /// A sentence that tells the customer what to do.
    step: Regex,
    /// A sentence that brings in a person or another team.
    handover: Regex,
    /// The customer saying the suggestion did not help.
    did_not_work: Regex,
}

// These lists describe the AI's replies for the agent; they decide nothing about escalation,
// which is why they live here and not in the policy file.
fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        pleasantry: Regex::new(r"^(?:(?:i'?m |i am |we'?re |so )?(?:very |really |so )?(?:sorry|apologies|thanks|thank you|hi|hello|hey|good (?:morning|afternoon|evening)|of course|sure|certainly|no problem|great|happy to help|avec plaisir|you'?re welcome|my pleasure)\b[^.!?]*[.!?]*)$").unwrap(),
        step: Regex::new(r"^(?:please |try |you (?:can|could|should|may|will need to|need to|'ll need to) |first,? |then,? |next,? |just )?(?:update|upgrade|install|reinstall|restart|reboot|clear|delete|remove|open|close|go to|tap|click|select|choose|press|enter|type|sign (?:in|out)|log (?:in|out)|reset|check|confirm|turn|switch|enable|disable|follow|use|send|reply|contact|visit|make sure|wait|unplug|plug|re-?enter|verify|download|upload|attach|fill|complete|call)\b").unwrap(),
        handover: Regex::new(r"\b(?:bringing in|passing (?:this|you)|handing (?:this|you)|connecting you|transferring you|put you through|a colleague|our (?:\w+ )?(?:team|specialists?|agents?) (?:will|can|who)|escalat(?:e|ed|ing) (?:this|it|your))\b").unwrap(),
        did_not_work: Regex::new(r"\b(?:did(?:n'?t| not) (?:work|help|fix|change)|does(?:n'?t| not) (?:work|help)|not working|still (?:happening|the same|broken|not|doesn'?t|isn'?t|can'?t|won'?t|no)|did that|done that|tried (?:that|it|this|both|everything)|already (?:did|done|tried|on|have|checked)|same (?:problem|issue|error|thing)|no (?:change|difference|luck)|that'?s not (?:what|my|the)|not what i (?:asked|meant)|you(?:'ve| have)? already (?:said|told))\b").unwrap(),
    })
}

/// The substance of an AI reply: its sentences without courtesy, and what kind of attempt it is.
fn substance(text: &str) -> (AttemptKind, String) {
    let p = patterns();
    let mut kind = AttemptKind::Pleasantry;
    let mut kept: Vec<&str> = Vec::new();
    for r in crate::text::sentences(text) {
        let sentence = text[r].trim();
        let norm = crate::text::normalize(sentence);
        let norm = norm.trim_start_matches(|c: char| !c.is_alphanumeric());
        let this = if p.step.is_match(norm) {
            AttemptKind::Steps
        } else if p.handover.is_match(norm) {
            AttemptKind::Handover
        } else if p.pleasantry.is_match(norm) && crate::text::word_count(sentence) <= 8 {
            continue;
        } else if sentence.ends_with('?') {
            AttemptKind::Question
        } else {
            AttemptKind::Answer
        };
        kind = stronger(kind, this);
        kept.push(sentence);
    }
    let joined = kept.join(" ");
    (kind, gist_all(&joined, 160))
}

/// Which kind describes a reply with sentences of both kinds: steps over a handover over an
/// answer over a question.
fn stronger(a: AttemptKind, b: AttemptKind) -> AttemptKind {
    let rank = |k| match k {
        AttemptKind::Steps => 4,
        AttemptKind::Handover => 3,
        AttemptKind::Answer => 2,
        AttemptKind::Question => 1,
        AttemptKind::Pleasantry => 0,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// `text` cut at a word boundary to at most `max` characters.
pub(super) fn gist_all(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let cut: String = text.chars().take(max).collect();
    format!(
        "{}...",
        cut.rsplit_once(' ').map_or(cut.as_str(), |(a, _)| a)
    )
}

fn verb(kind: AttemptKind) -> &'static str {
    match kind {
        AttemptKind::Steps => "suggested steps",
        AttemptKind::Answer => "answered",
        AttemptKind::Question => "asked",
        AttemptKind::Handover => "handed over",
        AttemptKind::Pleasantry => "only pleasantries",
    }
}

/// Kinds of reasons that say the customer was let down by the AI (not business rules).
const LET_DOWN: [ReasonKind; 5] = [
    ReasonKind::ExplicitRequest,
    ReasonKind::Frustration,
    ReasonKind::RepeatedQuestion,
    ReasonKind::SentimentDrop,
    ReasonKind::MessageLength,
];

/// How the customer's message `n` judges the AI reply before it: what the engine found there
/// first, then the customer's words and their polarity.
fn judge(
    decision: &Decision,
    n: usize,
    message: &Message,
    point: Option<&SentimentPoint>,
) -> (Outcome, Option<String>) {
    let quoted = format!("\"{}\"", gist_all(&message.text, 90));
    if decision.at == Some(n) {
        if let Some(kind) = decision
            .reasons
            .iter()
            .filter_map(|r| r.kind.kind())
            .find(|k| LET_DOWN.contains(k))
        {
            let why = match kind {
                ReasonKind::ExplicitRequest => {
                    format!("the customer then asked for a person: {quoted}")
                }
                ReasonKind::RepeatedQuestion => {
                    format!("the customer asked the same again: {quoted}")
                }
                ReasonKind::MessageLength => "the customer wrote a much longer message".to_string(),
                ReasonKind::SentimentDrop => format!("the customer's mood dropped: {quoted}"),
                _ => format!("the customer was frustrated: {quoted}"),
            };
            return (Outcome::DidNotWork, Some(why));
        }
    }
    let norm = crate::text::normalize(&message.text);
    if patterns().did_not_work.is_match(&norm) {
        return (
            Outcome::DidNotWork,
            Some(format!("the customer said it did not help: {quoted}")),
        );
    }
    match point.map(|p| p.colour) {
        Some(Colour::Red) => (
            Outcome::DidNotWork,
            Some(format!("the customer was unhappy: {quoted}")),
        ),
        Some(Colour::Green) => (
            Outcome::Worked,
            Some(format!("the customer was satisfied: {quoted}")),
        ),
        _ => (Outcome::Unclear, None),
    }
}

/// Judges each AI reply of `messages` by the customer's next message and what the engine found.
pub(super) fn assess(
    messages: &[Message],
    decision: &Decision,
    points: &[SentimentPoint],
    low_confidence_below: f64,
) -> AiAssessment {
    let mut a = AiAssessment {
        attempted: Vec::new(),
        failed: Vec::new(),
        attempts: Vec::new(),
        worked: Vec::new(),
        did_not_work: Vec::new(),
        low_confidence: Vec::new(),
    };
    // The engine's own finding of an unsure AI (hedging or low confidence), at the message it
    // escalated on.
    let unsure = decision
        .reasons
        .iter()
        .find(|r| r.kind == ReasonKind::LowConfidence)
        .map(|r| (r.message, r.evidence.as_str()));
    for (i, m) in messages.iter().enumerate() {
        if m.role != Role::Ai {
            continue;
        }
        let (kind, text) = substance(&m.text);
        let next = messages[i + 1..]
            .iter()
            .position(|n| n.role == Role::Customer)
            .map(|p| i + 1 + p);
        let (outcome, why) = match next {
            Some(n) => judge(
                decision,
                n,
                &messages[n],
                points.iter().find(|p| p.message == n),
            ),
            None => (Outcome::NoReply, None),
        };
        let kb = if m.kb_articles.is_empty() {
            String::new()
        } else {
            format!(" [{}]", m.kb_articles.join(", "))
        };
        a.attempted.push(if kind == AttemptKind::Pleasantry {
            format!("#{i} {}", verb(kind))
        } else {
            format!("#{i} {}: {text}{kb}", verb(kind))
        });
        let low = m.confidence.filter(|c| *c < low_confidence_below);
        if let Some(c) = low {
            a.low_confidence.push(i);
            a.failed
                .push(format!("#{i} was unsure (confidence {c:.2}): {text}"));
        } else if let Some((_, evidence)) = unsure.filter(|(at, _)| *at == i) {
            a.failed
                .push(format!("#{i} was unsure ({evidence}): {text}"));
        }
        match outcome {
            Outcome::Worked => a.worked.push(i),
            Outcome::DidNotWork => {
                a.did_not_work.push(i);
                a.failed.push(format!(
                    "#{i} ({}) did not work: {}",
                    verb(kind),
                    why.as_deref().unwrap_or_default()
                ));
            }
            Outcome::Unclear | Outcome::NoReply => {}
        }
        a.attempts.push(AiAttempt {
            message: i,
            kind,
            text,
            kb_articles: m.kb_articles.clone(),
            confidence: m.confidence,
            outcome,
            why,
        });
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substance_drops_courtesy_and_names_the_kind() {
        let (k, t) =
            substance("Sorry about that, Tom. Please update to version 8.2.1 and sign in again.");
        assert_eq!(k, AttemptKind::Steps);
        assert_eq!(t, "Please update to version 8.2.1 and sign in again.");
        let (k, t) = substance(
            "Thanks. Please clear the app cache under Settings > Storage and sign in again.",
        );
        assert_eq!(k, AttemptKind::Steps);
        assert!(t.starts_with("Please clear the app cache"), "{t}");
        let (k, _) = substance("Hi Ana! Go to Profile > Account details > Email.");
        assert_eq!(k, AttemptKind::Steps);
        let (k, t) = substance("Good morning. Yes, suite 804 at the Marina Grand faces the sea.");
        assert_eq!(
            (k, t.as_str()),
            (
                AttemptKind::Answer,
                "Yes, suite 804 at the Marina Grand faces the sea."
            )
        );
        let (k, _) = substance("Which plan are you on?");
        assert_eq!(k, AttemptKind::Question);
        let (k, _) = substance("I'm sorry, Lee. I'm passing this to our disputes team.");
        assert_eq!(k, AttemptKind::Handover);
        assert_eq!(substance("Avec plaisir.").0, AttemptKind::Pleasantry);
    }

    #[test]
    fn the_customer_saying_it_did_not_work_is_a_failure() {
        for said in [
            "Already on 8.2.1. Still happening.",
            "Did that too, no change",
            "that didn't work",
            "I tried that already",
        ] {
            assert!(
                patterns()
                    .did_not_work
                    .is_match(&crate::text::normalize(said)),
                "{said}"
            );
        }
        for said in ["ok thanks, that's fine", "that worked, thank you"] {
            assert!(
                !patterns()
                    .did_not_work
                    .is_match(&crate::text::normalize(said)),
                "{said}"
            );
        }
    }
}
