//! Example banks: labelled customer utterances, one JSON object per line, as in `data/intents/`.
//!
//! ```json
//! {"text": "is there a number I can ring?", "intent": "explicit_request", "topic": "billing", "domain": "parcel-courier"}
//! ```
//!
//! `intent` names the detector the line is an example of (`none`: a neutral line); with
//! `"counter": true` the line is a counter-example of that detector instead (it must not fire
//! on it: the way a false alarm is taught). `topic` is the team the line is about; `domain`
//! the kind of business (used by the leave-one-domain-out evaluation); `sensitive` the kind of
//! sensitive topic. Other keys (`style`, `note`) are allowed and ignored.

use serde::Deserialize;

use crate::reason::ReasonKind;

/// The corpus shipped in `data/intents/`, compiled in: the bank the default policy names
/// `builtin`.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "furniture-rental.jsonl",
        include_str!("../../../../data/intents/furniture-rental.jsonl"),
    ),
    (
        "photo-printing.jsonl",
        include_str!("../../../../data/intents/photo-printing.jsonl"),
    ),
    (
        "wedding-venue.jsonl",
        include_str!("../../../../data/intents/wedding-venue.jsonl"),
    ),
    (
        "saas-web-app.jsonl",
        include_str!("../../../../data/intents/saas-web-app.jsonl"),
    ),
    (
        "home-insurance.jsonl",
        include_str!("../../../../data/intents/home-insurance.jsonl"),
    ),
    (
        "car-insurance.jsonl",
        include_str!("../../../../data/intents/car-insurance.jsonl"),
    ),
    (
        "energy-utility.jsonl",
        include_str!("../../../../data/intents/energy-utility.jsonl"),
    ),
    (
        "clinic-booking.jsonl",
        include_str!("../../../../data/intents/clinic-booking.jsonl"),
    ),
    (
        "game-store.jsonl",
        include_str!("../../../../data/intents/game-store.jsonl"),
    ),
    (
        "retail-banking.jsonl",
        include_str!("../../../../data/intents/retail-banking.jsonl"),
    ),
    (
        "broadband-mobile.jsonl",
        include_str!("../../../../data/intents/broadband-mobile.jsonl"),
    ),
    (
        "hotel-booking.jsonl",
        include_str!("../../../../data/intents/hotel-booking.jsonl"),
    ),
    (
        "bike-sharing.jsonl",
        include_str!("../../../../data/intents/bike-sharing.jsonl"),
    ),
    (
        "coworking-space.jsonl",
        include_str!("../../../../data/intents/coworking-space.jsonl"),
    ),
    (
        "online-pharmacy.jsonl",
        include_str!("../../../../data/intents/online-pharmacy.jsonl"),
    ),
    (
        "ev-charging.jsonl",
        include_str!("../../../../data/intents/ev-charging.jsonl"),
    ),
    (
        "event-ticketing.jsonl",
        include_str!("../../../../data/intents/event-ticketing.jsonl"),
    ),
    (
        "fitness-club.jsonl",
        include_str!("../../../../data/intents/fitness-club.jsonl"),
    ),
    (
        "food-delivery.jsonl",
        include_str!("../../../../data/intents/food-delivery.jsonl"),
    ),
    (
        "home-security.jsonl",
        include_str!("../../../../data/intents/home-security.jsonl"),
    ),
    (
        "language-learning.jsonl",
        include_str!("../../../../data/intents/language-learning.jsonl"),
    ),
    (
        "meal-kit.jsonl",
        include_str!("../../../../data/intents/meal-kit.jsonl"),
    ),
    (
        "mortgage-lending.jsonl",
        include_str!("../../../../data/intents/mortgage-lending.jsonl"),
    ),
    (
        "moving-storage.jsonl",
        include_str!("../../../../data/intents/moving-storage.jsonl"),
    ),
    (
        "parcel-courier.jsonl",
        include_str!("../../../../data/intents/parcel-courier.jsonl"),
    ),
    (
        "property-rental.jsonl",
        include_str!("../../../../data/intents/property-rental.jsonl"),
    ),
    (
        "ride-hailing.jsonl",
        include_str!("../../../../data/intents/ride-hailing.jsonl"),
    ),
    (
        "solar-energy.jsonl",
        include_str!("../../../../data/intents/solar-energy.jsonl"),
    ),
    (
        "tax-preparation.jsonl",
        include_str!("../../../../data/intents/tax-preparation.jsonl"),
    ),
    (
        "veterinary-petcare.jsonl",
        include_str!("../../../../data/intents/veterinary-petcare.jsonl"),
    ),
    (
        "video-streaming.jsonl",
        include_str!("../../../../data/intents/video-streaming.jsonl"),
    ),
    (
        "garden-centre.jsonl",
        include_str!("../../../../data/intents/garden-centre.jsonl"),
    ),
    (
        "airline.jsonl",
        include_str!("../../../../data/intents/airline.jsonl"),
    ),
    (
        "cloud-storage.jsonl",
        include_str!("../../../../data/intents/cloud-storage.jsonl"),
    ),
    (
        "baby-products-subscription.jsonl",
        include_str!("../../../../data/intents/baby-products-subscription.jsonl"),
    ),
    (
        "hair-salon.jsonl",
        include_str!("../../../../data/intents/hair-salon.jsonl"),
    ),
    (
        "phone-insurance.jsonl",
        include_str!("../../../../data/intents/phone-insurance.jsonl"),
    ),
    (
        "car-wash-subscription.jsonl",
        include_str!("../../../../data/intents/car-wash-subscription.jsonl"),
    ),
    (
        "toy-store-online.jsonl",
        include_str!("../../../../data/intents/toy-store-online.jsonl"),
    ),
    // Counter-examples, taught the way a deployment teaches its false alarms.
    (
        "../counter-examples/questions-about-charges.jsonl",
        include_str!("../../../../data/counter-examples/questions-about-charges.jsonl"),
    ),
    (
        "../counter-examples/talking-to-the-assistant.jsonl",
        include_str!("../../../../data/counter-examples/talking-to-the-assistant.jsonl"),
    ),
    (
        "../counter-examples/mobile-data-allowance.jsonl",
        include_str!("../../../../data/counter-examples/mobile-data-allowance.jsonl"),
    ),
    (
        "../counter-examples/amounts-stated-or-accepted.jsonl",
        include_str!("../../../../data/counter-examples/amounts-stated-or-accepted.jsonl"),
    ),
    // What the labelled conversation sets the team has read teach (scripts/learn_from_sets.py):
    // each escalation's trigger message as an example, each meaning-tier false alarm's message as
    // a counter-example of the detector that fired.
    (
        "../learned/evaluation-sets.jsonl",
        include_str!("../../../../data/learned/evaluation-sets.jsonl"),
    ),
];

/// The reasons a semantic detector can find, in the order of their class numbers (class 0 is
/// "none").
pub const DETECTORS: [ReasonKind; 6] = [
    ReasonKind::ExplicitRequest,
    ReasonKind::Cancellation,
    ReasonKind::LegalCompliance,
    ReasonKind::SensitiveTopic,
    ReasonKind::TransactionDispute,
    ReasonKind::Frustration,
];

/// Number of classes of the intent head: "none" and the detectors.
pub const CLASSES: usize = DETECTORS.len() + 1;

/// Class number of a detector (1-based; 0 is "none").
pub fn class_of(kind: ReasonKind) -> Option<usize> {
    DETECTORS.iter().position(|k| *k == kind).map(|i| i + 1)
}

/// One line of a bank.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub text: String,
    /// 0 for "none", else 1 + the index in [`DETECTORS`].
    pub class: usize,
    /// A counter-example of `class` (which is then never 0).
    pub counter: bool,
    pub topic: Option<String>,
    pub domain: Option<String>,
    pub sensitive: Option<String>,
}

#[derive(Deserialize)]
struct Line {
    text: String,
    intent: String,
    #[serde(default)]
    topic: Option<String>,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default)]
    sensitive: Option<String>,
    #[serde(default)]
    counter: bool,
}

/// A bank line that could not be read: `line` is 1-based.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct BankError {
    pub line: usize,
    pub message: String,
}

/// Parses a bank (JSON Lines). Blank lines are skipped.
pub fn parse(source: &str) -> Result<Vec<Example>, BankError> {
    let mut out = Vec::new();
    for (i, raw) in source.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        let err = |message: String| BankError {
            line: i + 1,
            message,
        };
        let mut de = serde_json::Deserializer::from_str(raw);
        let line: Line = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            err(if path == "." {
                e.into_inner().to_string()
            } else {
                format!("field `{path}`: {}", e.into_inner())
            })
        })?;
        let class = if line.intent == "none" {
            0
        } else {
            DETECTORS
                .iter()
                .position(|k| k.as_str() == line.intent)
                .map(|p| p + 1)
                .ok_or_else(|| {
                    err(format!(
                        "field `intent`: unknown intent `{}`; expected none or one of {}",
                        line.intent,
                        DETECTORS.map(|k| k.as_str()).join(", ")
                    ))
                })?
        };
        if line.counter && class == 0 {
            return Err(err(
                "field `counter`: a counter-example names the detector it must not fire (intent is none)"
                    .into(),
            ));
        }
        if line.text.trim().is_empty() {
            return Err(err("field `text`: empty".into()));
        }
        out.push(Example {
            text: line.text,
            class,
            counter: line.counter,
            topic: line.topic,
            domain: line.domain,
            sensitive: line.sensitive,
        });
    }
    Ok(out)
}

/// The shipped corpus, parsed.
pub fn builtin() -> Vec<Example> {
    BUILTIN
        .iter()
        .flat_map(|(name, source)| {
            parse(source).unwrap_or_else(|e| panic!("shipped bank data/intents/{name}: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_corpus_parses_and_covers_every_detector() {
        let all = builtin();
        assert!(all.len() > 3000);
        for class in 0..CLASSES {
            assert!(all.iter().filter(|e| e.class == class).count() >= 120);
        }
    }

    #[test]
    fn bad_lines_name_the_line_and_field() {
        let e = parse(
            "{\"text\": \"a\", \"intent\": \"none\"}\n{\"text\": \"b\", \"intent\": \"anger\"}",
        )
        .unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("`intent`"), "{e}");
        let e = parse("{\"text\": 3, \"intent\": \"none\"}").unwrap_err();
        assert!(e.message.contains("`text`"), "{e}");
        let e = parse("{\"text\": \"x\", \"intent\": \"none\", \"counter\": true}").unwrap_err();
        assert!(e.message.contains("`counter`"), "{e}");
    }
}
