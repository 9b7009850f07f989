//! Why a conversation escalates: the reason kinds of the decision contract, and one reason with
//! its evidence.

use serde::Serialize;

/// A kind of escalation reason. Custom rules from the policy file are numbered in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ReasonKind {
    ExplicitRequest,
    Cancellation,
    LegalCompliance,
    Vip,
    SensitiveTopic,
    TransactionDispute,
    LowConfidence,
    SentimentDrop,
    Frustration,
    RepeatedQuestion,
    MessageLength,
    Custom(u16),
}

impl ReasonKind {
    pub const BUILT_IN: [ReasonKind; 11] = [
        ReasonKind::ExplicitRequest,
        ReasonKind::Cancellation,
        ReasonKind::LegalCompliance,
        ReasonKind::Vip,
        ReasonKind::SensitiveTopic,
        ReasonKind::TransactionDispute,
        ReasonKind::LowConfidence,
        ReasonKind::SentimentDrop,
        ReasonKind::Frustration,
        ReasonKind::RepeatedQuestion,
        ReasonKind::MessageLength,
    ];

    /// The contract name of a built-in kind (`"custom"` for custom rules: use
    /// [`crate::policy::Policy::reason_name`] for their own name).
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonKind::ExplicitRequest => "explicit_request",
            ReasonKind::Cancellation => "cancellation",
            ReasonKind::LegalCompliance => "legal_compliance",
            ReasonKind::Vip => "vip",
            ReasonKind::SensitiveTopic => "sensitive_topic",
            ReasonKind::TransactionDispute => "transaction_dispute",
            ReasonKind::LowConfidence => "low_confidence",
            ReasonKind::SentimentDrop => "sentiment_drop",
            ReasonKind::Frustration => "frustration",
            ReasonKind::RepeatedQuestion => "repeated_question",
            ReasonKind::MessageLength => "message_length",
            ReasonKind::Custom(_) => "custom",
        }
    }

    /// Parses a built-in name or one of `custom` (the policy's custom rule names).
    pub fn parse(name: &str, custom: &[String]) -> Option<ReasonKind> {
        ReasonKind::BUILT_IN
            .into_iter()
            .find(|k| k.as_str() == name)
            .or_else(|| {
                custom
                    .iter()
                    .position(|c| c == name)
                    .map(|i| ReasonKind::Custom(i as u16))
            })
    }

    /// Business rules override confidence and customer-state triggers.
    pub fn is_business_rule(self) -> bool {
        matches!(
            self,
            ReasonKind::Cancellation
                | ReasonKind::LegalCompliance
                | ReasonKind::Vip
                | ReasonKind::SensitiveTopic
                | ReasonKind::TransactionDispute
                | ReasonKind::Custom(_)
        )
    }
}

/// One reason to escalate, as it appears in a decision.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Reason {
    pub kind: String,
    pub detail: String,
    /// Index of the message that triggered it.
    pub message: usize,
    /// The words that triggered it.
    pub evidence: String,
}
