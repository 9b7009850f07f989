//! The policy file as written: the shape `toml` reads, with spans for error lines. Nothing
//! here is checked; [`super::Compiler`] turns it into the [`super::Policy`] the engine runs.

use serde::Deserialize;
use toml::Spanned;

use super::Texts;

pub(super) type Patterns = Vec<Spanned<String>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PolicyFile {
    pub(super) skills: Vec<Spanned<String>>,
    pub(super) order: Vec<Spanned<String>>,
    pub(super) negation_window: usize,
    pub(super) explicit_request: PhraseRuleFile,
    pub(super) cancellation: BusinessRuleFile,
    pub(super) legal_compliance: BusinessRuleFile,
    pub(super) sensitive_topic: SensitiveFile,
    pub(super) transaction_dispute: BusinessRuleFile,
    pub(super) vip: VipFile,
    pub(super) low_confidence: LowConfidenceFile,
    pub(super) frustration: PhraseRuleFile,
    pub(super) repeated_question: RepeatedQuestionFile,
    pub(super) sentiment_drop: SentimentDropFile,
    pub(super) message_length: MessageLengthFile,
    pub(super) topics: TopicsFile,
    pub(super) priority: PriorityFile,
    #[serde(default)]
    pub(super) custom_rules: Vec<CustomRuleFile>,
    pub(super) routing: RoutingFile,
    pub(super) teams: Vec<TeamFile>,
    pub(super) texts: Texts,
    pub(super) quality: QualityFile,
    /// Absent: no meaning detectors (rules only).
    #[serde(default)]
    pub(super) semantic: Option<super::semantic::SemanticFile>,
    /// Absent (older policy files): the shipped default's section.
    #[serde(default)]
    pub(super) churn_risk: Option<ChurnRiskFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ChurnRiskFile {
    pub(super) patterns: Patterns,
    #[serde(default)]
    pub(super) negations: Patterns,
    #[serde(default)]
    pub(super) exclusions: Patterns,
}

/// The shipped default's `[churn_risk]`, for policy files written before the section existed.
#[derive(Deserialize)]
pub(super) struct ShippedChurnRisk {
    pub(super) churn_risk: ChurnRiskFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct QualityFile {
    pub(super) context_weight: Spanned<f64>,
    pub(super) routing_weight: Spanned<f64>,
    pub(super) smoothness_weight: Spanned<f64>,
    pub(super) efficiency_weight: Spanned<f64>,
    pub(super) target_resolution_minutes: Spanned<f64>,
    pub(super) repeat_overlap: Spanned<f64>,
    pub(super) repeat_contact_days: Spanned<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RoutingFile {
    pub(super) accept_timeout_seconds: Spanned<u64>,
    pub(super) ageing_seconds: Spanned<u64>,
    pub(super) default_handle_seconds: Spanned<f64>,
    pub(super) handle_time_sample: Spanned<usize>,
    pub(super) no_agent_callback_minutes: Spanned<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TeamFile {
    pub(super) name: String,
    pub(super) skill: Spanned<String>,
    pub(super) timezone: Spanned<String>,
    pub(super) hours: Vec<Spanned<String>>,
    pub(super) target_seconds: Spanned<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PhraseRuleFile {
    pub(super) enabled: bool,
    pub(super) patterns: Patterns,
    #[serde(default)]
    pub(super) negations: Patterns,
    /// Absent (older policy files): false, the rule hears every customer message.
    #[serde(default)]
    pub(super) after_reply: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BusinessRuleFile {
    pub(super) enabled: bool,
    pub(super) skill: Spanned<String>,
    pub(super) patterns: Patterns,
    #[serde(default)]
    pub(super) negations: Patterns,
    #[serde(default)]
    pub(super) exclusions: Patterns,
    #[serde(default)]
    pub(super) whole_patterns: Patterns,
    #[serde(default)]
    pub(super) not_meant: Patterns,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SensitiveFile {
    pub(super) enabled: bool,
    #[serde(default)]
    pub(super) negations: Patterns,
    #[serde(default)]
    pub(super) exclusions: Patterns,
    pub(super) categories: Vec<SensitiveCategoryFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SensitiveCategoryFile {
    pub(super) name: String,
    pub(super) skill: Spanned<String>,
    pub(super) patterns: Patterns,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct VipFile {
    pub(super) enabled: bool,
    pub(super) skill: Spanned<String>,
    pub(super) tiers: Vec<Spanned<String>>,
    pub(super) min_lifetime_value: Spanned<f64>,
    pub(super) substantive_message: Spanned<usize>,
    pub(super) min_content_words: usize,
    pub(super) pleasantries: Patterns,
    /// Optional (policies written before them still load): no closing rule.
    #[serde(default)]
    pub(super) closings: Patterns,
    #[serde(default)]
    pub(super) still_open: Patterns,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LowConfidenceFile {
    pub(super) enabled: bool,
    pub(super) threshold: Spanned<f64>,
    pub(super) consecutive: Spanned<usize>,
    pub(super) hedges: Patterns,
    pub(super) weak_hedges: Patterns,
    pub(super) weak_hedge_weight: Spanned<f64>,
    pub(super) hedge_score: Spanned<f64>,
    pub(super) restatement_overlap: Spanned<f64>,
    pub(super) restatement_min_words: usize,
    pub(super) affirmative_openers: Patterns,
    pub(super) negative_openers: Patterns,
    pub(super) contradiction_min_shared: Spanned<usize>,
    pub(super) contradiction_markers: Patterns,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RepeatedQuestionFile {
    pub(super) enabled: bool,
    pub(super) min_overlap: Spanned<f64>,
    pub(super) min_shared: Spanned<usize>,
    pub(super) memory: Spanned<usize>,
    pub(super) question_openers: Patterns,
    pub(super) followup_markers: Patterns,
    /// Optional (policies written before it still load): no markers, and `min_overlap`.
    #[serde(default)]
    pub(super) restatement_markers: Patterns,
    #[serde(default)]
    pub(super) restated_min_overlap: Option<Spanned<f64>>,
    /// Optional (policies written before it still load): none.
    #[serde(default)]
    pub(super) accepted_openers: Patterns,
    pub(super) question_kinds: Vec<QuestionKindFile>,
    pub(super) synonyms: Vec<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct QuestionKindFile {
    pub(super) name: String,
    pub(super) patterns: Patterns,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SentimentDropFile {
    pub(super) enabled: bool,
    pub(super) prior_negative_below: Spanned<f64>,
    pub(super) sentence_below: Spanned<f64>,
    /// Optional (policies written before it still load): absent, only `sentence_below` counts.
    #[serde(default)]
    pub(super) emotion_sentence_below: Option<Spanned<f64>>,
    pub(super) message_below: Spanned<f64>,
    pub(super) emotion_terms: Patterns,
    pub(super) prior_complaints: Patterns,
    /// Valences added to VADER's lexicon wherever the engine reads sentiment (optional).
    #[serde(default)]
    pub(super) valence: std::collections::BTreeMap<String, Spanned<f64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MessageLengthFile {
    pub(super) enabled: bool,
    pub(super) ratio: Spanned<f64>,
    pub(super) min_words: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TopicsFile {
    pub(super) default_topic: String,
    pub(super) default_label: String,
    pub(super) default_skill: Spanned<String>,
    pub(super) ai_weight: Spanned<f64>,
    pub(super) first_message_weight: Spanned<f64>,
    pub(super) list: Vec<TopicFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TopicFile {
    pub(super) name: String,
    pub(super) label: String,
    pub(super) skill: Spanned<String>,
    pub(super) keywords: Patterns,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PriorityFile {
    pub(super) tier_points: std::collections::BTreeMap<String, Spanned<i32>>,
    pub(super) high_value_above: f64,
    pub(super) high_value_points: i32,
    pub(super) negative_sentiment_below: f64,
    pub(super) negative_sentiment_points: i32,
    pub(super) positive_sentiment_above: f64,
    pub(super) positive_sentiment_points: i32,
    pub(super) urgency_points: i32,
    pub(super) urgency: Patterns,
    pub(super) reason_points: std::collections::BTreeMap<String, Spanned<i32>>,
    pub(super) urgent_at: i32,
    pub(super) high_at: i32,
    pub(super) medium_at: i32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CustomRuleFile {
    pub(super) name: Spanned<String>,
    pub(super) skill: Spanned<String>,
    #[serde(default)]
    pub(super) priority: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) phrases: Patterns,
    #[serde(default)]
    pub(super) patterns: Patterns,
    #[serde(default)]
    pub(super) tiers: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) topics: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) detail: Option<String>,
}
