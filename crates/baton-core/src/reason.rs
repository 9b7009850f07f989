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

/// A reason's kind as a decision names it: a built-in [`ReasonKind`], or a custom rule by its
/// name in the policy. Written as that name (`"explicit_request"`, `"outage"`), so the decision
/// JSON is the contract's. The policy refuses a custom rule named like a built-in kind, so the
/// name alone says which one it is, with or without the policy at hand (a stored decision).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReasonName(Name);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Name {
    /// Never [`ReasonKind::Custom`].
    BuiltIn(ReasonKind),
    Custom(String),
}

impl ReasonName {
    /// The built-in kind of that name, else the custom rule of that name.
    pub fn new(name: &str) -> ReasonName {
        ReasonName(
            match ReasonKind::BUILT_IN
                .into_iter()
                .find(|k| k.as_str() == name)
            {
                Some(k) => Name::BuiltIn(k),
                None => Name::Custom(name.to_string()),
            },
        )
    }

    /// The built-in kind, or `None` for a custom rule.
    pub fn kind(&self) -> Option<ReasonKind> {
        match &self.0 {
            Name::BuiltIn(k) => Some(*k),
            Name::Custom(_) => None,
        }
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            Name::BuiltIn(k) => k.as_str(),
            Name::Custom(name) => name,
        }
    }
}

impl From<&str> for ReasonName {
    fn from(name: &str) -> Self {
        ReasonName::new(name)
    }
}

impl PartialEq<ReasonKind> for ReasonName {
    fn eq(&self, kind: &ReasonKind) -> bool {
        self.kind() == Some(*kind)
    }
}

impl std::fmt::Display for ReasonName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ReasonName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ReasonName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ReasonName::new(&String::deserialize(d)?))
    }
}

/// One reason to escalate, as it appears in a decision.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Reason {
    /// A built-in reason kind or a custom rule's name.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub kind: ReasonName,
    pub detail: String,
    /// Index of the message that triggered it.
    pub message: usize,
    /// The words that triggered it.
    pub evidence: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_name_is_written_as_the_name_it_was_read_from() {
        for name in ["explicit_request", "message_length", "outage", "custom"] {
            let json = format!("\"{name}\"");
            let read: ReasonName = serde_json::from_str(&json).unwrap();
            assert_eq!(read.as_str(), name);
            assert_eq!(serde_json::to_string(&read).unwrap(), json);
        }
        assert_eq!(ReasonName::new("vip").kind(), Some(ReasonKind::Vip));
        assert_eq!(ReasonName::new("vip"), ReasonKind::Vip);
        assert_eq!(ReasonName::new("outage").kind(), None);
        assert_eq!(
            ReasonName::new("custom").kind(),
            None,
            "custom rules have their own names"
        );
    }
}
