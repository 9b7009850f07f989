//! The customer's state as the agent sees it: the polarity of their latest words, raised by what
//! the engine found (a person asked for after the AI failed, frustration, a threat to leave, a
//! legal threat), so that a polite "is anybody actually working there I can talk to?" after two
//! failed fixes never shows as calm.

use serde::Serialize;

use super::Colour;
use crate::engine::Decision;
use crate::reason::ReasonKind;

/// How the customer feels now, mildest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Mood {
    Calm,
    Neutral,
    /// Wants out or wants action: a cancellation, a dispute, a legal request, a repeated
    /// question; not (yet) angry.
    Concerned,
    /// Let down by the AI: frustration, a sharp drop, a person asked for after failed help.
    Frustrated,
    /// Clearly negative words.
    Upset,
}

impl Mood {
    pub fn as_str(self) -> &'static str {
        match self {
            Mood::Calm => "calm",
            Mood::Neutral => "neutral",
            Mood::Concerned => "concerned",
            Mood::Frustrated => "frustrated",
            Mood::Upset => "upset",
        }
    }

    /// The colour of the top bar's indicator.
    pub fn colour(self) -> Colour {
        match self {
            Mood::Calm => Colour::Green,
            Mood::Neutral | Mood::Concerned => Colour::Yellow,
            Mood::Frustrated | Mood::Upset => Colour::Red,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerState {
    pub mood: Mood,
    /// What the mood rests on: the engine's findings with their words, and the polarity of the
    /// latest customer message.
    pub because: Vec<String>,
}

/// The customer's state from the polarity of their latest message (`latest`, `None` when they
/// have not written) and what the engine found in `decision`; `ai_replies_before` counts the AI
/// replies before the message that escalated, `failed` those the customer judged as not working.
pub(super) fn customer_state(
    latest: Option<(Colour, f64)>,
    decision: &Decision,
    ai_replies_before: usize,
    failed: usize,
) -> CustomerState {
    let mut mood = match latest.map(|(c, _)| c) {
        Some(Colour::Green) => Mood::Calm,
        Some(Colour::Red) => Mood::Upset,
        _ => Mood::Neutral,
    };
    let mut because = Vec::new();
    if let Some((_, compound)) = latest {
        because.push(format!(
            "latest message's words score {compound:+.2} ({})",
            match mood {
                Mood::Calm => "positive",
                Mood::Upset => "negative",
                _ => "neutral",
            }
        ));
    }
    for r in &decision.reasons {
        let Some(kind) = r.kind.kind() else { continue };
        let (floor, why) = match kind {
            ReasonKind::ExplicitRequest if ai_replies_before > 0 => (
                Mood::Frustrated,
                format!(
                    "asked for a person after {ai_replies_before} AI repl{}{}: {}",
                    if ai_replies_before == 1 { "y" } else { "ies" },
                    if failed > 0 {
                        format!(" ({failed} did not help)")
                    } else {
                        String::new()
                    },
                    quote(&r.evidence)
                ),
            ),
            ReasonKind::ExplicitRequest => (
                Mood::Neutral,
                format!("asked for a person straight away: {}", quote(&r.evidence)),
            ),
            ReasonKind::Frustration => (
                Mood::Frustrated,
                format!("frustrated: {}", quote(&r.evidence)),
            ),
            ReasonKind::SentimentDrop => (
                Mood::Frustrated,
                format!("mood dropped sharply: {}", quote(&r.evidence)),
            ),
            ReasonKind::MessageLength => (
                Mood::Frustrated,
                "wrote a much longer message than before".to_string(),
            ),
            ReasonKind::Cancellation => (
                Mood::Concerned,
                format!(
                    "wants to cancel or leave (churn risk): {}",
                    quote(&r.evidence)
                ),
            ),
            ReasonKind::LegalCompliance => (
                Mood::Concerned,
                format!("legal threat or request: {}", quote(&r.evidence)),
            ),
            ReasonKind::TransactionDispute => (
                Mood::Concerned,
                format!("disputes a charge: {}", quote(&r.evidence)),
            ),
            ReasonKind::RepeatedQuestion => (
                Mood::Concerned,
                format!("had to ask again: {}", quote(&r.evidence)),
            ),
            ReasonKind::SensitiveTopic => (
                Mood::Concerned,
                format!("in a difficult situation: {}", quote(&r.evidence)),
            ),
            _ => continue,
        };
        mood = mood.max(floor);
        because.push(why);
    }
    CustomerState { mood, because }
}

/// Evidence in quotes, unless it quotes the customer itself.
fn quote(evidence: &str) -> String {
    if evidence.contains('"') {
        evidence.to_string()
    } else {
        format!("\"{evidence}\"")
    }
}
