//! The conversation model: customers, messages and conversations as the engine sees them, and
//! the parser of the conversation file format (one JSON conversation per line).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Who wrote a message.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Ai,
    Agent,
}

/// The customer's account tier.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Free,
    Standard,
    Premium,
    Enterprise,
    Vip,
}

impl Tier {
    pub const ALL: [Tier; 5] = [
        Tier::Free,
        Tier::Standard,
        Tier::Premium,
        Tier::Enterprise,
        Tier::Vip,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Standard => "standard",
            Tier::Premium => "premium",
            Tier::Enterprise => "enterprise",
            Tier::Vip => "vip",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// An ISO 4217 currency code: three upper-case ASCII letters ("EUR", "USD", "JPY").
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    /// The code, if and only if `code` is three upper-case ASCII letters. Whether ISO 4217
    /// assigns it is not checked: a new or private code still shows as written.
    pub fn parse(code: &str) -> Result<Currency, CurrencyError> {
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Currency(code.to_string()))
        } else {
            Err(CurrencyError(code.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A currency code that is not three upper-case letters (the code as written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not an ISO 4217 currency code: expected three upper-case letters, e.g. USD, EUR, JPY"
)]
pub struct CurrencyError(pub String);

impl TryFrom<String> for Currency {
    type Error = CurrencyError;
    fn try_from(code: String) -> Result<Self, CurrencyError> {
        Currency::parse(&code)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.0
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub tier: Tier,
    /// In `currency` when given; a plain number otherwise. The policy's thresholds
    /// (`vip.min_lifetime_value`, `priority.high_value_above`) compare the number as given.
    #[serde(default)]
    pub lifetime_value: f64,
    /// ISO 4217 code of `lifetime_value` (three upper-case letters), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<String>, pattern = "^[A-Z]{3}$", example = "EUR")
    )]
    pub currency: Option<Currency>,
    #[serde(default)]
    pub timezone: Option<String>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    pub role: Role,
    pub text: String,
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kb_articles: Vec<String>,
}

impl Message {
    /// A message of `role` with `text` at `at`, without confidence or KB articles.
    pub fn new(role: Role, text: impl Into<String>, at: Timestamp) -> Message {
        Message {
            role,
            text: text.into(),
            at,
            confidence: None,
            kb_articles: Vec::new(),
        }
    }
}

/// The label of a conversation in an evaluation file (ignored by `analyze`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expected {
    pub escalate: bool,
    #[serde(default)]
    pub at: Option<usize>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub skill: Option<String>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: String,
    pub customer: Customer,
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expected>,
}

/// Limits applied to untrusted input.
#[derive(Debug, Clone, Copy)]
pub struct InputLimits {
    /// Longest accepted message text, in bytes.
    pub max_text_bytes: usize,
    /// Most messages in one conversation.
    pub max_messages: usize,
}

impl Default for InputLimits {
    fn default() -> Self {
        Self {
            max_text_bytes: 64 * 1024,
            max_messages: 10_000,
        }
    }
}

/// Why one input record was rejected: the field (a JSON path such as `messages[2].role`, empty
/// for the record as a whole) and what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if field.is_empty() { String::new() } else { format!("field `{field}`: ") })]
pub struct InputError {
    pub field: String,
    pub message: String,
}

impl InputError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Parses and validates one line of a conversation file.
///
/// Returns an error naming the offending field when the JSON is malformed, a field is missing or
/// of the wrong type or value, a confidence is outside 0..=1, a text is over the limit, or
/// timestamps go backwards.
pub fn parse_conversation(line: &str, limits: &InputLimits) -> Result<Conversation, InputError> {
    let conversation: Conversation = match serde_json::from_str(line) {
        Ok(c) => c,
        Err(_) => {
            // Parse again, slowly, only to name the field that failed.
            let de = &mut serde_json::Deserializer::from_str(line);
            return Err(
                match serde_path_to_error::deserialize::<_, Conversation>(de) {
                    Ok(_) => InputError::new("", "invalid record"),
                    Err(e) => {
                        let path = e.path().to_string();
                        let field = if path == "." { String::new() } else { path };
                        InputError::new(field, without_position(&e.into_inner()))
                    }
                },
            );
        }
    };
    validate_conversation(&conversation, limits)?;
    Ok(conversation)
}

/// The JSON error without serde_json's "at line 1 column N": a record is one line of a file, so
/// the reader names the file's line and the column is enough here.
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&position) {
        Some(message) if e.line() == 1 => format!("{message} (column {})", e.column()),
        _ => text,
    }
}

/// Checks the invariants serde cannot: non-empty ids, ranges, limits and time order.
pub fn validate_conversation(c: &Conversation, limits: &InputLimits) -> Result<(), InputError> {
    if c.id.trim().is_empty() {
        return Err(InputError::new("id", "must not be empty"));
    }
    validate_customer(&c.customer, "customer")?;
    if c.messages.len() > limits.max_messages {
        return Err(InputError::new(
            "messages",
            format!(
                "{} messages, more than the limit of {}",
                c.messages.len(),
                limits.max_messages
            ),
        ));
    }
    let mut previous: Option<Timestamp> = None;
    for (i, m) in c.messages.iter().enumerate() {
        validate_message(m, &format!("messages[{i}]"), limits)?;
        if let Some(p) = previous {
            if m.at < p {
                return Err(InputError::new(
                    format!("messages[{i}].at"),
                    format!("{} is earlier than the previous message ({p})", m.at),
                ));
            }
        }
        previous = Some(m.at);
    }
    Ok(())
}

/// Checks one customer record; `field` prefixes the names in errors.
pub fn validate_customer(c: &Customer, field: &str) -> Result<(), InputError> {
    if c.id.trim().is_empty() {
        return Err(InputError::new(format!("{field}.id"), "must not be empty"));
    }
    if !c.lifetime_value.is_finite() || c.lifetime_value < 0.0 {
        return Err(InputError::new(
            format!("{field}.lifetime_value"),
            format!("{} is not a non-negative number", c.lifetime_value),
        ));
    }
    Ok(())
}

/// Checks one message; `field` prefixes the names in errors.
pub fn validate_message(m: &Message, field: &str, limits: &InputLimits) -> Result<(), InputError> {
    if m.text.len() > limits.max_text_bytes {
        return Err(InputError::new(
            format!("{field}.text"),
            format!(
                "{} bytes, more than the limit of {}",
                m.text.len(),
                limits.max_text_bytes
            ),
        ));
    }
    if let Some(conf) = m.confidence {
        if !(0.0..=1.0).contains(&conf) {
            return Err(InputError::new(
                format!("{field}.confidence"),
                format!("{conf} is outside 0..=1"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"id":"c1","customer":{"id":"u1","name":"A","tier":"vip","lifetime_value":10,"timezone":"Europe/Paris"},"messages":[{"role":"customer","text":"hi","at":"2026-01-01T00:00:00Z"},{"role":"ai","text":"hello","at":"2026-01-01T00:00:01Z","confidence":0.9}]}"#;

    fn err(line: &str) -> InputError {
        parse_conversation(line, &InputLimits::default()).unwrap_err()
    }

    #[test]
    fn parses_a_good_record() {
        let c = parse_conversation(GOOD, &InputLimits::default()).unwrap();
        assert_eq!(c.messages.len(), 2);
        assert_eq!(c.customer.tier, Tier::Vip);
    }

    #[test]
    fn names_the_bad_field() {
        assert_eq!(
            err(&GOOD.replace("\"ai\"", "\"bot\"")).field,
            "messages[1].role"
        );
        assert_eq!(
            err(&GOOD.replace("0.9", "1.5")).field,
            "messages[1].confidence"
        );
        assert_eq!(
            err(&GOOD.replace("2026-01-01T00:00:01Z", "yesterday")).field,
            "messages[1].at"
        );
        assert_eq!(
            err(&GOOD.replace("2026-01-01T00:00:01Z", "2025-01-01T00:00:01Z")).field,
            "messages[1].at"
        );
        assert_eq!(
            err(&GOOD.replace("\"tier\":\"vip\",", "")).field,
            "customer"
        );
        assert!(err("{not json").message.contains("key must be a string"));
        // The file's reader names the line; the JSON's own "line 1" would mislead.
        let missing = err(&GOOD.replace("\"tier\":\"vip\",", ""));
        assert!(!missing.message.contains("line 1"), "{missing:?}");
        assert!(
            missing.message.contains("missing field `tier` (column "),
            "{missing:?}"
        );
    }

    #[test]
    fn a_currency_is_an_iso_4217_code_and_optional() {
        let plain = parse_conversation(GOOD, &InputLimits::default()).unwrap();
        assert_eq!(plain.customer.currency, None);
        // Absent stays absent when written back.
        assert!(!serde_json::to_string(&plain.customer)
            .unwrap()
            .contains("currency"));
        let with = |code: &str| {
            GOOD.replace(
                "\"lifetime_value\":10",
                &format!("\"lifetime_value\":10,\"currency\":{code}"),
            )
        };
        let eur = parse_conversation(&with("\"EUR\""), &InputLimits::default()).unwrap();
        assert_eq!(
            eur.customer.currency.as_ref().map(Currency::as_str),
            Some("EUR")
        );
        assert!(serde_json::to_string(&eur.customer)
            .unwrap()
            .contains("\"currency\":\"EUR\""));
        assert_eq!(
            parse_conversation(&with("null"), &InputLimits::default())
                .unwrap()
                .customer
                .currency,
            None
        );
        for bad in ["\"eur\"", "\"EURO\"", "\"E1R\"", "\"\"", "\"€\"", "978"] {
            let e = err(&with(bad));
            assert_eq!(e.field, "customer.currency", "{bad}: {e:?}");
        }
        let e = err(&with("\"usd\""));
        assert!(
            e.message.contains("`usd` is not an ISO 4217 currency code"),
            "{e:?}"
        );
    }
}

/// Builders the crate's unit tests share.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Message, Role};

    /// A message of `role` with `text`, at a fixed time, without confidence or KB articles.
    pub(crate) fn message(role: Role, text: &str) -> Message {
        Message::new(role, text, "2026-01-01T00:00:00Z".parse().unwrap())
    }
}
