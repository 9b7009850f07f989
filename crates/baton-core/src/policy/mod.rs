//! The escalation policy: the TOML file a support lead edits (`policy/default.toml`), its
//! validation with errors that name the key and line, and the compiled form the engine runs.

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use crate::model::Tier;
use crate::semantic::Semantic;

mod semantic;
use crate::reason::ReasonKind;
pub use semantic::{BankLoader, BUILTIN_BANK};

/// The shipped default policy, the one the labelled development data assumes.
/// Lazy-DFA cache of the one-pass screen over all rare pattern lists. On varied text the
/// default (2 MiB) fills and is cleared again and again, and the search falls back to the NFA:
/// most of the rules' time went to re-building DFA states. Memory is taken only as states are
/// built, once per thread.
const SCREEN_DFA_CACHE: usize = 24 << 20;
/// The same for each pattern list.
const MATCHER_DFA_CACHE: usize = 4 << 20;

pub const DEFAULT_POLICY: &str = include_str!("../../../../policy/default.toml");

/// A policy that failed to load: where (line, key) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{key}: {message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct PolicyError {
    /// 1-based line in the policy file, when known.
    pub line: Option<usize>,
    /// The dotted key, e.g. `low_confidence.threshold` or `custom_rules[1].patterns`.
    pub key: String,
    pub message: String,
}

type Patterns = Vec<Spanned<String>>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    skills: Vec<Spanned<String>>,
    order: Vec<Spanned<String>>,
    negation_window: usize,
    explicit_request: PhraseRuleFile,
    cancellation: BusinessRuleFile,
    legal_compliance: BusinessRuleFile,
    sensitive_topic: SensitiveFile,
    transaction_dispute: BusinessRuleFile,
    vip: VipFile,
    low_confidence: LowConfidenceFile,
    frustration: PhraseRuleFile,
    repeated_question: RepeatedQuestionFile,
    sentiment_drop: SentimentDropFile,
    message_length: MessageLengthFile,
    topics: TopicsFile,
    priority: PriorityFile,
    #[serde(default)]
    custom_rules: Vec<CustomRuleFile>,
    routing: RoutingFile,
    teams: Vec<TeamFile>,
    texts: Texts,
    quality: QualityFile,
    /// Absent: no meaning detectors (rules only).
    #[serde(default)]
    semantic: Option<semantic::SemanticFile>,
    /// Absent (older policy files): the shipped default's section.
    #[serde(default)]
    churn_risk: Option<ChurnRiskFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChurnRiskFile {
    patterns: Patterns,
    #[serde(default)]
    negations: Patterns,
    #[serde(default)]
    exclusions: Patterns,
}

/// The shipped default's `[churn_risk]`, for policy files written before the section existed.
#[derive(Deserialize)]
struct ShippedChurnRisk {
    churn_risk: ChurnRiskFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QualityFile {
    context_weight: Spanned<f64>,
    routing_weight: Spanned<f64>,
    smoothness_weight: Spanned<f64>,
    efficiency_weight: Spanned<f64>,
    target_resolution_minutes: Spanned<f64>,
    repeat_overlap: Spanned<f64>,
    repeat_contact_days: Spanned<u64>,
}

/// Weights and targets of the Handoff Quality Score.
#[derive(Debug, Clone)]
pub struct QualityRules {
    /// context, routing, smoothness, efficiency; sum to 1.
    pub weights: [f64; 4],
    pub target_resolution_minutes: f64,
    pub repeat_overlap: f64,
    pub repeat_contact_days: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoutingFile {
    accept_timeout_seconds: Spanned<u64>,
    ageing_seconds: Spanned<u64>,
    default_handle_seconds: Spanned<f64>,
    handle_time_sample: Spanned<usize>,
    no_agent_callback_minutes: Spanned<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamFile {
    name: String,
    skill: Spanned<String>,
    timezone: Spanned<String>,
    hours: Vec<Spanned<String>>,
    target_seconds: Spanned<u64>,
}

/// Customer-facing texts, with `{placeholders}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Texts {
    pub explicit_request: String,
    pub assigned: String,
    pub queued: String,
    pub callback: String,
    /// An explicit request that has to wait in the queue (older policy files: the shipped text).
    #[serde(default = "Texts::default_explicit_request_queued")]
    pub explicit_request_queued: String,
    /// A callback while the team is open but nobody with the skill is free (older policy files:
    /// the shipped text).
    #[serde(default = "Texts::default_no_agent")]
    pub no_agent: String,
}

impl Texts {
    fn default_explicit_request_queued() -> String {
        "Of course, {first_name}. I've asked our {team} team to take over and shared our conversation, so you won't need to repeat anything. Expected wait time is {eta}; I'm happy to keep helping while you wait.".to_string()
    }

    fn default_no_agent() -> String {
        "Nobody from our {team} team is free to take this right now. I can schedule a callback for you on {callback_time}, and they'll have all the context from our conversation. Would that work?".to_string()
    }

    /// Fills `{name}` placeholders from `values`; unknown placeholders are left as they are.
    pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
        let mut out = template.to_string();
        for (k, v) in values {
            out = out.replace(&format!("{{{k}}}"), v);
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct RoutingRules {
    pub accept_timeout_seconds: u64,
    pub ageing_seconds: u64,
    pub default_handle_seconds: f64,
    pub handle_time_sample: usize,
    pub no_agent_callback_minutes: u64,
}

/// A team: the skill it serves and its hours.
#[derive(Debug, Clone)]
pub struct Team {
    pub name: String,
    pub skill: String,
    pub hours: crate::schedule::Hours,
    /// Seconds within which a handoff should be answered (accepted by a person): the service
    /// level target the lead dashboard measures waits against.
    pub target_seconds: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhraseRuleFile {
    enabled: bool,
    patterns: Patterns,
    #[serde(default)]
    negations: Patterns,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BusinessRuleFile {
    enabled: bool,
    skill: Spanned<String>,
    patterns: Patterns,
    #[serde(default)]
    negations: Patterns,
    #[serde(default)]
    exclusions: Patterns,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SensitiveFile {
    enabled: bool,
    #[serde(default)]
    negations: Patterns,
    #[serde(default)]
    exclusions: Patterns,
    categories: Vec<SensitiveCategoryFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SensitiveCategoryFile {
    name: String,
    skill: Spanned<String>,
    patterns: Patterns,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VipFile {
    enabled: bool,
    skill: Spanned<String>,
    tiers: Vec<Spanned<String>>,
    min_lifetime_value: Spanned<f64>,
    substantive_message: Spanned<usize>,
    min_content_words: usize,
    pleasantries: Patterns,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LowConfidenceFile {
    enabled: bool,
    threshold: Spanned<f64>,
    consecutive: Spanned<usize>,
    hedges: Patterns,
    weak_hedges: Patterns,
    weak_hedge_weight: Spanned<f64>,
    hedge_score: Spanned<f64>,
    restatement_overlap: Spanned<f64>,
    restatement_min_words: usize,
    affirmative_openers: Patterns,
    negative_openers: Patterns,
    contradiction_min_shared: Spanned<usize>,
    contradiction_markers: Patterns,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RepeatedQuestionFile {
    enabled: bool,
    min_overlap: Spanned<f64>,
    min_shared: Spanned<usize>,
    memory: Spanned<usize>,
    question_openers: Patterns,
    followup_markers: Patterns,
    question_kinds: Vec<QuestionKindFile>,
    synonyms: Vec<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuestionKindFile {
    name: String,
    patterns: Patterns,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SentimentDropFile {
    enabled: bool,
    prior_negative_below: Spanned<f64>,
    sentence_below: Spanned<f64>,
    message_below: Spanned<f64>,
    emotion_terms: Patterns,
    prior_complaints: Patterns,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageLengthFile {
    enabled: bool,
    ratio: Spanned<f64>,
    min_words: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicsFile {
    default_topic: String,
    default_label: String,
    default_skill: Spanned<String>,
    ai_weight: Spanned<f64>,
    first_message_weight: Spanned<f64>,
    list: Vec<TopicFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicFile {
    name: String,
    label: String,
    skill: Spanned<String>,
    keywords: Patterns,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriorityFile {
    tier_points: std::collections::BTreeMap<String, Spanned<i32>>,
    high_value_above: f64,
    high_value_points: i32,
    negative_sentiment_below: f64,
    negative_sentiment_points: i32,
    positive_sentiment_above: f64,
    positive_sentiment_points: i32,
    urgency_points: i32,
    urgency: Patterns,
    reason_points: std::collections::BTreeMap<String, Spanned<i32>>,
    urgent_at: i32,
    high_at: i32,
    medium_at: i32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomRuleFile {
    name: Spanned<String>,
    skill: Spanned<String>,
    #[serde(default)]
    priority: Option<Spanned<String>>,
    #[serde(default)]
    phrases: Patterns,
    #[serde(default)]
    patterns: Patterns,
    #[serde(default)]
    tiers: Vec<Spanned<String>>,
    #[serde(default)]
    topics: Vec<Spanned<String>>,
    #[serde(default)]
    detail: Option<String>,
}

/// Handoff priority, most urgent last so that `Ord` ranks them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    Medium,
    High,
    Urgent,
}

impl Priority {
    pub fn parse(s: &str) -> Option<Priority> {
        match s {
            "low" => Some(Priority::Low),
            "medium" => Some(Priority::Medium),
            "high" => Some(Priority::High),
            "urgent" => Some(Priority::Urgent),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }
}

/// A compiled list of phrases or patterns: one regex, so each message is scanned once.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    regex: Option<Regex>,
    /// Index of this matcher in [`Policy::screen`], when it is screened.
    screen_id: Option<usize>,
}

impl Matcher {
    /// The first match in `text` at or after byte `from`.
    pub fn find_at<'t>(&self, text: &'t str, from: usize) -> Option<regex::Match<'t>> {
        self.regex.as_ref()?.find_at(text, from)
    }

    pub fn find<'t>(&self, text: &'t str) -> Option<regex::Match<'t>> {
        self.find_at(text, 0)
    }

    pub fn find_iter<'r, 't>(&'r self, text: &'t str) -> impl Iterator<Item = regex::Match<'t>> + 'r
    where
        't: 'r,
    {
        self.regex.iter().flat_map(move |r| r.find_iter(text))
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.regex.as_ref().is_some_and(|r| r.is_match(text))
    }

    pub fn is_empty(&self) -> bool {
        self.regex.is_none()
    }

    /// The same matcher, switched off unless the screen saw a possible match.
    pub fn screened<'m>(&'m self, hits: &regex::SetMatches) -> Option<&'m Matcher> {
        match self.screen_id {
            Some(i) if !hits.matched(i) => None,
            _ => Some(self),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PhraseRule {
    pub enabled: bool,
    pub patterns: Matcher,
    pub negations: Matcher,
}

#[derive(Debug, Clone)]
pub struct BusinessRule {
    pub enabled: bool,
    pub skill: String,
    pub patterns: Matcher,
    pub negations: Matcher,
    pub exclusions: Matcher,
}

/// A stated intent to leave ("I will cancel all four lines", "unless you fix this I'm leaving"),
/// which the context package flags as churn risk. It does not escalate: the cancellation rule
/// decides that, and reads "will cancel" as hypothetical.
#[derive(Debug, Clone)]
pub struct ChurnRiskRule {
    pub patterns: Matcher,
    pub negations: Matcher,
    pub exclusions: Matcher,
}

#[derive(Debug, Clone)]
pub struct SensitiveCategory {
    pub name: String,
    pub skill: String,
    pub patterns: Matcher,
}

#[derive(Debug, Clone)]
pub struct SensitiveRule {
    pub enabled: bool,
    pub negations: Matcher,
    pub exclusions: Matcher,
    pub categories: Vec<SensitiveCategory>,
}

#[derive(Debug, Clone)]
pub struct VipRule {
    pub enabled: bool,
    pub skill: String,
    pub tiers: Vec<Tier>,
    pub min_lifetime_value: f64,
    pub substantive_message: usize,
    pub min_content_words: usize,
    pub pleasantries: Matcher,
}

#[derive(Debug, Clone)]
pub struct LowConfidenceRule {
    pub enabled: bool,
    pub threshold: f64,
    pub consecutive: usize,
    pub hedges: Matcher,
    pub weak_hedges: Matcher,
    pub weak_hedge_weight: f64,
    pub hedge_score: f64,
    pub restatement_overlap: f64,
    pub restatement_min_words: usize,
    pub affirmative_openers: Matcher,
    pub negative_openers: Matcher,
    pub contradiction_min_shared: usize,
    pub contradiction_markers: Matcher,
}

#[derive(Debug, Clone)]
pub struct QuestionKind {
    pub name: String,
    pub patterns: Matcher,
}

#[derive(Debug, Clone)]
pub struct RepeatedQuestionRule {
    pub enabled: bool,
    pub min_overlap: f64,
    pub min_shared: usize,
    pub memory: usize,
    pub question_openers: Matcher,
    pub followup_markers: Matcher,
    pub question_kinds: Vec<QuestionKind>,
    /// Word stem -> concept id, so that "get back" and "renew" can meet.
    pub synonyms: rustc_hash::FxHashMap<String, u32>,
}

#[derive(Debug, Clone)]
pub struct SentimentDropRule {
    pub enabled: bool,
    pub prior_negative_below: f64,
    pub sentence_below: f64,
    pub message_below: f64,
    pub emotion_terms: Matcher,
    pub prior_complaints: Matcher,
}

#[derive(Debug, Clone)]
pub struct MessageLengthRule {
    pub enabled: bool,
    pub ratio: f64,
    pub min_words: usize,
}

#[derive(Debug, Clone)]
pub struct Topic {
    pub name: String,
    /// How texts name the topic ("a billing question").
    pub label: String,
    pub skill: String,
    pub keywords: Matcher,
}

#[derive(Debug, Clone)]
pub struct Topics {
    pub default_topic: String,
    pub default_label: String,
    pub default_skill: String,
    pub ai_weight: f64,
    pub first_message_weight: f64,
    pub list: Vec<Topic>,
    /// Weight of the semantic topic head's scores next to keyword hits (0 without `[semantic]`).
    pub semantic_weight: f64,
}

#[derive(Debug, Clone)]
pub struct PriorityRules {
    pub tier_points: [i32; 5],
    pub high_value_above: f64,
    pub high_value_points: i32,
    pub negative_sentiment_below: f64,
    pub negative_sentiment_points: i32,
    pub positive_sentiment_above: f64,
    pub positive_sentiment_points: i32,
    pub urgency_points: i32,
    pub urgency: Matcher,
    pub reason_points: Vec<(ReasonKind, i32)>,
    pub urgent_at: i32,
    pub high_at: i32,
    pub medium_at: i32,
}

#[derive(Debug, Clone)]
pub struct CustomRule {
    pub name: String,
    pub detail: String,
    pub skill: String,
    pub priority: Option<Priority>,
    pub patterns: Matcher,
    pub tiers: Vec<Tier>,
    pub topics: Vec<String>,
}

/// A validated, compiled policy. Build it with [`Policy::from_toml`] or [`Policy::default`].
#[derive(Debug, Clone)]
pub struct Policy {
    pub skills: Vec<String>,
    /// Reasons in the order they win when several hold at one message.
    pub order: Vec<ReasonKind>,
    pub negation_window: usize,
    pub explicit_request: PhraseRule,
    pub cancellation: BusinessRule,
    pub legal_compliance: BusinessRule,
    pub sensitive_topic: SensitiveRule,
    pub transaction_dispute: BusinessRule,
    pub vip: VipRule,
    pub low_confidence: LowConfidenceRule,
    pub frustration: PhraseRule,
    pub repeated_question: RepeatedQuestionRule,
    pub sentiment_drop: SentimentDropRule,
    pub message_length: MessageLengthRule,
    pub topics: Topics,
    pub priority: PriorityRules,
    pub custom_rules: Vec<CustomRule>,
    pub routing: RoutingRules,
    pub teams: Vec<Team>,
    pub texts: Texts,
    pub quality: QualityRules,
    /// One pass over a customer message that tells which of the rarely matching pattern lists
    /// could match at all, so that most messages are scanned once instead of once per list.
    pub screen: regex::RegexSet,
    /// The meaning detectors and topic head, when the policy has a `[semantic]` section.
    pub semantic: Option<std::sync::Arc<Semantic>>,
    pub churn_risk: ChurnRiskRule,
}

impl Default for Policy {
    fn default() -> Self {
        Policy::from_toml(DEFAULT_POLICY).expect("the shipped default policy is valid")
    }
}

/// Compiles policy pieces while remembering the source, to turn byte spans into line numbers.
struct Compiler<'a> {
    source: &'a str,
    skills: Vec<String>,
}

impl Compiler<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.source[..offset.min(self.source.len())]
            .bytes()
            .filter(|&b| b == b'\n')
            .count()
            + 1
    }

    fn err(&self, span: Option<std::ops::Range<usize>>, key: &str, message: String) -> PolicyError {
        PolicyError {
            line: span.map(|s| self.line_of(s.start)),
            key: key.to_string(),
            message,
        }
    }

    /// Line of `key = ` inside `[table]`, for values without a span.
    fn line_of_key(&self, table: &str, key: &str) -> Option<usize> {
        let header = format!("[{table}]");
        let mut in_table = table.is_empty();
        for (i, line) in self.source.lines().enumerate() {
            let t = line.trim();
            if t.starts_with('[') {
                in_table = t == header;
                continue;
            }
            if in_table {
                if let Some(rest) = t.strip_prefix(key) {
                    if rest.trim_start().starts_with('=') {
                        return Some(i + 1);
                    }
                }
            }
        }
        None
    }

    /// Compiles regex patterns into one alternation, reporting the first bad one with its line.
    fn patterns(&self, key: &str, list: &Patterns) -> Result<Matcher, PolicyError> {
        self.compile(key, list, false)
    }

    /// Compiles literal phrases (matched at word boundaries) into one alternation.
    fn phrases(&self, key: &str, list: &Patterns) -> Result<Matcher, PolicyError> {
        self.compile(key, list, true)
    }

    fn compile(&self, key: &str, list: &Patterns, literal: bool) -> Result<Matcher, PolicyError> {
        if list.is_empty() {
            return Ok(Matcher::default());
        }
        let mut parts = Vec::with_capacity(list.len());
        // Longest phrases first, so that "thank you" wins over "thank" at the same position.
        let mut items: Vec<(usize, &Spanned<String>)> = list.iter().enumerate().collect();
        if literal {
            items.sort_by_key(|(_, s)| std::cmp::Reverse(s.get_ref().len()));
        }
        for (i, item) in items {
            let text = item.get_ref();
            let item_key = format!("{key}[{i}]");
            if text.trim().is_empty() {
                return Err(self.err(Some(item.span()), &item_key, "empty pattern".into()));
            }
            let part = if literal {
                let phrase = crate::text::normalize(text);
                let mut p = String::new();
                if phrase.starts_with(|c: char| c.is_alphanumeric()) {
                    p.push_str(r"(?-u:\b)");
                }
                p.push_str(&regex::escape(&phrase));
                if phrase.ends_with(|c: char| c.is_alphanumeric()) {
                    p.push_str(r"(?-u:\b)");
                }
                p
            } else {
                if let Err(e) = Regex::new(text) {
                    return Err(self.err(
                        Some(item.span()),
                        &item_key,
                        format!("invalid regular expression: {e}"),
                    ));
                }
                // ASCII word boundaries keep the fast lazy DFA on text with accents and emoji
                // (a Unicode \b makes it fall back to a slower engine).
                format!("(?:{})", text.replace(r"\b", r"(?-u:\b)"))
            };
            parts.push(part);
        }
        let regex = regex::RegexBuilder::new(&parts.join("|"))
            .dfa_size_limit(MATCHER_DFA_CACHE)
            .build()
            .map_err(|e| {
                self.err(
                    list.first().map(|s| s.span()),
                    key,
                    format!("patterns do not compile together: {e}"),
                )
            })?;
        Ok(Matcher {
            regex: Some(regex),
            screen_id: None,
        })
    }

    fn skill(&self, key: &str, skill: &Spanned<String>) -> Result<String, PolicyError> {
        if self.skills.iter().any(|s| s == skill.get_ref()) {
            Ok(skill.get_ref().clone())
        } else {
            Err(self.err(
                Some(skill.span()),
                key,
                format!(
                    "unknown skill `{}`; the skills list has: {}",
                    skill.get_ref(),
                    self.skills.join(", ")
                ),
            ))
        }
    }

    fn tiers(&self, key: &str, list: &[Spanned<String>]) -> Result<Vec<Tier>, PolicyError> {
        list.iter()
            .map(|t| {
                Tier::parse(t.get_ref()).ok_or_else(|| {
                    self.err(
                        Some(t.span()),
                        key,
                        format!(
                            "unknown tier `{}`; expected one of free, standard, premium, enterprise, vip",
                            t.get_ref()
                        ),
                    )
                })
            })
            .collect()
    }

    fn fraction(&self, key: &str, v: &Spanned<f64>) -> Result<f64, PolicyError> {
        let x = *v.get_ref();
        if (0.0..=1.0).contains(&x) {
            Ok(x)
        } else {
            Err(self.err(Some(v.span()), key, format!("{x} is outside 0..=1")))
        }
    }

    fn compound(&self, key: &str, v: &Spanned<f64>) -> Result<f64, PolicyError> {
        let x = *v.get_ref();
        if (-1.0..=1.0).contains(&x) {
            Ok(x)
        } else {
            Err(self.err(
                Some(v.span()),
                key,
                format!("{x} is outside the sentiment scale -1..=1"),
            ))
        }
    }

    fn nonnegative(&self, key: &str, v: &Spanned<f64>) -> Result<f64, PolicyError> {
        let x = *v.get_ref();
        if x >= 0.0 {
            Ok(x)
        } else {
            Err(self.err(Some(v.span()), key, format!("{x} must be 0 or above")))
        }
    }

    fn positive<T: PartialOrd + Default + Copy + std::fmt::Display>(
        &self,
        key: &str,
        v: &Spanned<T>,
    ) -> Result<T, PolicyError> {
        let x = *v.get_ref();
        if x > T::default() {
            Ok(x)
        } else {
            Err(self.err(Some(v.span()), key, format!("{x} must be above 0")))
        }
    }

    fn business(&self, key: &str, f: &BusinessRuleFile) -> Result<BusinessRule, PolicyError> {
        Ok(BusinessRule {
            enabled: f.enabled,
            skill: self.skill(&format!("{key}.skill"), &f.skill)?,
            patterns: self.patterns(&format!("{key}.patterns"), &f.patterns)?,
            negations: self.patterns(&format!("{key}.negations"), &f.negations)?,
            exclusions: self.patterns(&format!("{key}.exclusions"), &f.exclusions)?,
        })
    }

    fn churn_risk(&self, f: &ChurnRiskFile) -> Result<ChurnRiskRule, PolicyError> {
        Ok(ChurnRiskRule {
            patterns: self.patterns("churn_risk.patterns", &f.patterns)?,
            negations: self.patterns("churn_risk.negations", &f.negations)?,
            exclusions: self.patterns("churn_risk.exclusions", &f.exclusions)?,
        })
    }

    fn phrase_rule(&self, key: &str, f: &PhraseRuleFile) -> Result<PhraseRule, PolicyError> {
        Ok(PhraseRule {
            enabled: f.enabled,
            patterns: self.patterns(&format!("{key}.patterns"), &f.patterns)?,
            negations: self.patterns(&format!("{key}.negations"), &f.negations)?,
        })
    }
}

impl Policy {
    /// Parses and validates a policy file.
    ///
    /// Every error names the key and, where the file says it, the line: unknown keys, wrong
    /// types, regexes that do not compile, unknown skills, tiers or reasons, and numbers outside
    /// their range.
    pub fn from_toml(source: &str) -> Result<Policy, PolicyError> {
        Policy::from_toml_with(source, &mut |name: &str| {
            Err(format!(
                "cannot read bank `{name}` here: only `{BUILTIN_BANK}` is known; bank files are read by the baton command"
            ))
        })
    }

    /// [`Policy::from_toml`], reading the example banks the policy names (other than
    /// `builtin`) with `load`.
    pub fn from_toml_with(source: &str, load: &mut BankLoader<'_>) -> Result<Policy, PolicyError> {
        let file: PolicyFile = toml::from_str(source).map_err(|e| {
            let line = e.span().map(|s| {
                source[..s.start.min(source.len())]
                    .bytes()
                    .filter(|&b| b == b'\n')
                    .count()
                    + 1
            });
            PolicyError {
                line,
                key: String::new(),
                message: e.message().to_string(),
            }
        })?;
        let mut c = Compiler {
            source,
            skills: Vec::new(),
        };
        for (i, s) in file.skills.iter().enumerate() {
            let name = s.get_ref();
            if name.is_empty() || !name.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_') {
                return Err(c.err(
                    Some(s.span()),
                    &format!("skills[{i}]"),
                    format!("`{name}` is not a skill name (lower-case letters and _)"),
                ));
            }
            c.skills.push(name.clone());
        }

        let custom_names: Vec<String> = file
            .custom_rules
            .iter()
            .map(|r| r.name.get_ref().clone())
            .collect();
        let mut order = Vec::new();
        for (i, r) in file.order.iter().enumerate() {
            let kind = ReasonKind::parse(r.get_ref(), &custom_names).ok_or_else(|| {
                c.err(
                    Some(r.span()),
                    &format!("order[{i}]"),
                    format!(
                        "unknown reason `{}`; expected a built-in reason ({}) or a custom rule name",
                        r.get_ref(),
                        ReasonKind::BUILT_IN
                            .iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
            if order.contains(&kind) {
                return Err(c.err(
                    Some(r.span()),
                    &format!("order[{i}]"),
                    format!("`{}` is listed twice", r.get_ref()),
                ));
            }
            order.push(kind);
        }
        // Reasons missing from the order still count, after the listed ones.
        for kind in ReasonKind::BUILT_IN {
            if !order.contains(&kind) {
                order.push(kind);
            }
        }
        for i in 0..custom_names.len() {
            if !order.contains(&ReasonKind::Custom(i as u16)) {
                order.push(ReasonKind::Custom(i as u16));
            }
        }

        let mut custom_rules = Vec::new();
        for (i, r) in file.custom_rules.iter().enumerate() {
            let key = format!("custom_rules[{i}]");
            let name = r.name.get_ref();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_')
            {
                return Err(c.err(
                    Some(r.name.span()),
                    &format!("{key}.name"),
                    format!("`{name}` is not a reason name (lower-case letters, digits and _)"),
                ));
            }
            if ReasonKind::BUILT_IN.iter().any(|k| k.as_str() == name)
                || custom_names[..i].contains(name)
            {
                return Err(c.err(
                    Some(r.name.span()),
                    &format!("{key}.name"),
                    format!("`{name}` is already a reason name"),
                ));
            }
            if r.phrases.is_empty() && r.patterns.is_empty() {
                return Err(c.err(
                    Some(r.name.span()),
                    &key,
                    "a custom rule needs `phrases` or `patterns`".into(),
                ));
            }
            let phrases = c.phrases(&format!("{key}.phrases"), &r.phrases)?;
            let patterns = c.patterns(&format!("{key}.patterns"), &r.patterns)?;
            // One matcher: phrases become escaped patterns.
            let mut all: Patterns = Vec::new();
            for m in [&phrases, &patterns] {
                if let Some(re) = &m.regex {
                    all.push(Spanned::new(0..0, re.as_str().to_string()));
                }
            }
            let priority = match &r.priority {
                None => None,
                Some(p) => Some(Priority::parse(p.get_ref()).ok_or_else(|| {
                    c.err(
                        Some(p.span()),
                        &format!("{key}.priority"),
                        format!(
                            "unknown priority `{}`; expected low, medium, high or urgent",
                            p.get_ref()
                        ),
                    )
                })?),
            };
            let topic_names: Vec<&str> = file.topics.list.iter().map(|t| t.name.as_str()).collect();
            let mut topics = Vec::new();
            for t in &r.topics {
                if t.get_ref() != &file.topics.default_topic
                    && !topic_names.contains(&t.get_ref().as_str())
                {
                    return Err(c.err(
                        Some(t.span()),
                        &format!("{key}.topics"),
                        format!("unknown topic `{}`", t.get_ref()),
                    ));
                }
                topics.push(t.get_ref().clone());
            }
            custom_rules.push(CustomRule {
                name: name.clone(),
                detail: r
                    .detail
                    .clone()
                    .unwrap_or_else(|| format!("custom rule {name}")),
                skill: c.skill(&format!("{key}.skill"), &r.skill)?,
                priority,
                patterns: c.patterns(&key, &all)?,
                tiers: c.tiers(&format!("{key}.tiers"), &r.tiers)?,
                topics,
            });
        }

        let s = &file.sensitive_topic;
        let mut categories = Vec::new();
        for (i, cat) in s.categories.iter().enumerate() {
            let key = format!("sensitive_topic.categories[{i}]");
            categories.push(SensitiveCategory {
                name: cat.name.clone(),
                skill: c.skill(&format!("{key}.skill"), &cat.skill)?,
                patterns: c.patterns(&format!("{key}.patterns"), &cat.patterns)?,
            });
        }

        let v = &file.vip;
        let l = &file.low_confidence;
        let rq = &file.repeated_question;
        let mut synonyms = rustc_hash::FxHashMap::default();
        for (group, words) in rq.synonyms.iter().enumerate() {
            for w in words {
                let norm = crate::text::normalize(w);
                synonyms.insert(crate::text::stem(&norm).to_string(), group as u32);
            }
        }
        let mut question_kinds = Vec::new();
        for (i, k) in rq.question_kinds.iter().enumerate() {
            question_kinds.push(QuestionKind {
                name: k.name.clone(),
                patterns: c.patterns(
                    &format!("repeated_question.question_kinds[{i}].patterns"),
                    &k.patterns,
                )?,
            });
        }
        let sd = &file.sentiment_drop;
        let ml = &file.message_length;
        let t = &file.topics;
        let mut topics = Vec::new();
        for (i, topic) in t.list.iter().enumerate() {
            topics.push(Topic {
                name: topic.name.clone(),
                label: topic.label.clone(),
                skill: c.skill(&format!("topics.list[{i}].skill"), &topic.skill)?,
                keywords: c.patterns(&format!("topics.list[{i}].keywords"), &topic.keywords)?,
            });
        }
        // The skills the topic head tells apart: those of the topics, in first-listed order.
        let mut topic_skills: Vec<String> = Vec::new();
        for skill in topics
            .iter()
            .map(|t| &t.skill)
            .chain(std::iter::once(t.default_skill.get_ref()))
        {
            if !topic_skills.contains(skill) {
                topic_skills.push(skill.clone());
            }
        }
        let semantic = match &file.semantic {
            Some(f) => c.semantic(f, &topic_skills, load)?,
            None => None,
        };
        let semantic_weight = match (&file.semantic, &semantic) {
            (Some(f), Some(_)) => c.nonnegative("semantic.topic_weight", &f.topic_weight)?,
            _ => 0.0,
        };
        let p = &file.priority;
        let mut tier_points = [0; 5];
        for (name, points) in &p.tier_points {
            let tier = Tier::parse(name).ok_or_else(|| {
                c.err(
                    Some(points.span()),
                    &format!("priority.tier_points.{name}"),
                    format!("unknown tier `{name}`"),
                )
            })?;
            tier_points[tier as usize] = *points.get_ref();
        }
        let mut reason_points = Vec::new();
        for (name, points) in &p.reason_points {
            let kind = ReasonKind::parse(name, &custom_names).ok_or_else(|| {
                c.err(
                    Some(points.span()),
                    &format!("priority.reason_points.{name}"),
                    format!("unknown reason `{name}`"),
                )
            })?;
            reason_points.push((kind, *points.get_ref()));
        }
        if !(p.urgent_at >= p.high_at && p.high_at >= p.medium_at) {
            return Err(c
                .err(
                    None,
                    "priority.urgent_at",
                    format!(
                    "thresholds must satisfy urgent_at >= high_at >= medium_at (got {}, {}, {})",
                    p.urgent_at, p.high_at, p.medium_at
                ),
                )
                .with_line(c.line_of_key("priority", "urgent_at")));
        }
        if ml.min_words == 0 {
            return Err(c
                .err(None, "message_length.min_words", "must be above 0".into())
                .with_line(c.line_of_key("message_length", "min_words")));
        }

        let r = &file.routing;
        let routing = RoutingRules {
            accept_timeout_seconds: c
                .positive("routing.accept_timeout_seconds", &r.accept_timeout_seconds)?,
            ageing_seconds: c.positive("routing.ageing_seconds", &r.ageing_seconds)?,
            default_handle_seconds: c
                .positive("routing.default_handle_seconds", &r.default_handle_seconds)?,
            handle_time_sample: c.positive("routing.handle_time_sample", &r.handle_time_sample)?,
            no_agent_callback_minutes: c.positive(
                "routing.no_agent_callback_minutes",
                &r.no_agent_callback_minutes,
            )?,
        };
        let mut teams = Vec::new();
        for (i, t) in file.teams.iter().enumerate() {
            let key = format!("teams[{i}]");
            let skill = c.skill(&format!("{key}.skill"), &t.skill)?;
            if teams.iter().any(|x: &Team| x.skill == skill) {
                return Err(c.err(
                    Some(t.skill.span()),
                    &format!("{key}.skill"),
                    format!("skill `{skill}` already has a team"),
                ));
            }
            let rules: Vec<String> = t.hours.iter().map(|h| h.get_ref().clone()).collect();
            let hours = crate::schedule::Hours::new(t.timezone.get_ref(), &rules).map_err(|e| {
                let span = if matches!(e, crate::schedule::ScheduleError::UnknownTimeZone(_)) {
                    t.timezone.span()
                } else {
                    t.hours.first().map_or(t.timezone.span(), |h| h.span())
                };
                c.err(Some(span), &format!("{key}.hours"), e.to_string())
            })?;
            teams.push(Team {
                name: t.name.clone(),
                skill,
                hours,
                target_seconds: c.positive(&format!("{key}.target_seconds"), &t.target_seconds)?,
            });
        }
        for s in &c.skills {
            if !teams.iter().any(|t| &t.skill == s) {
                return Err(c.err(
                    None,
                    "teams",
                    format!("skill `{s}` has no team; add a [[teams]] entry for it"),
                ));
            }
        }
        let q = &file.quality;
        let mut weights = [0.0; 4];
        for (i, (key, w)) in [
            ("quality.context_weight", &q.context_weight),
            ("quality.routing_weight", &q.routing_weight),
            ("quality.smoothness_weight", &q.smoothness_weight),
            ("quality.efficiency_weight", &q.efficiency_weight),
        ]
        .into_iter()
        .enumerate()
        {
            weights[i] = c.fraction(key, w)?;
        }
        let total: f64 = weights.iter().sum();
        if total <= 0.0 {
            return Err(c.err(
                Some(q.context_weight.span()),
                "quality",
                "the weights must not all be 0".into(),
            ));
        }
        let quality = QualityRules {
            weights: weights.map(|w| w / total),
            target_resolution_minutes: c.positive(
                "quality.target_resolution_minutes",
                &q.target_resolution_minutes,
            )?,
            repeat_overlap: c.fraction("quality.repeat_overlap", &q.repeat_overlap)?,
            repeat_contact_days: c
                .positive("quality.repeat_contact_days", &q.repeat_contact_days)?,
        };
        let mut policy = Policy {
            quality,
            routing,
            teams,
            texts: file.texts.clone(),
            screen: regex::RegexSet::empty(),
            semantic,
            order,
            negation_window: file.negation_window,
            explicit_request: c.phrase_rule("explicit_request", &file.explicit_request)?,
            cancellation: c.business("cancellation", &file.cancellation)?,
            legal_compliance: c.business("legal_compliance", &file.legal_compliance)?,
            sensitive_topic: SensitiveRule {
                enabled: s.enabled,
                negations: c.patterns("sensitive_topic.negations", &s.negations)?,
                exclusions: c.patterns("sensitive_topic.exclusions", &s.exclusions)?,
                categories,
            },
            transaction_dispute: c.business("transaction_dispute", &file.transaction_dispute)?,
            vip: VipRule {
                enabled: v.enabled,
                skill: c.skill("vip.skill", &v.skill)?,
                tiers: c.tiers("vip.tiers", &v.tiers)?,
                min_lifetime_value: {
                    let x = *v.min_lifetime_value.get_ref();
                    if !(x >= 0.0 && x.is_finite()) {
                        return Err(c.err(
                            Some(v.min_lifetime_value.span()),
                            "vip.min_lifetime_value",
                            format!("{x} must be 0 (off) or a positive amount"),
                        ));
                    }
                    x
                },
                substantive_message: c
                    .positive("vip.substantive_message", &v.substantive_message)?,
                min_content_words: v.min_content_words,
                pleasantries: c.phrases("vip.pleasantries", &v.pleasantries)?,
            },
            low_confidence: LowConfidenceRule {
                enabled: l.enabled,
                threshold: c.fraction("low_confidence.threshold", &l.threshold)?,
                consecutive: c.positive("low_confidence.consecutive", &l.consecutive)?,
                hedges: c.patterns("low_confidence.hedges", &l.hedges)?,
                weak_hedges: c.patterns("low_confidence.weak_hedges", &l.weak_hedges)?,
                weak_hedge_weight: c
                    .positive("low_confidence.weak_hedge_weight", &l.weak_hedge_weight)?,
                hedge_score: c.positive("low_confidence.hedge_score", &l.hedge_score)?,
                restatement_overlap: c
                    .fraction("low_confidence.restatement_overlap", &l.restatement_overlap)?,
                restatement_min_words: l.restatement_min_words,
                affirmative_openers: c
                    .patterns("low_confidence.affirmative_openers", &l.affirmative_openers)?,
                negative_openers: c
                    .patterns("low_confidence.negative_openers", &l.negative_openers)?,
                contradiction_min_shared: c.positive(
                    "low_confidence.contradiction_min_shared",
                    &l.contradiction_min_shared,
                )?,
                contradiction_markers: c.patterns(
                    "low_confidence.contradiction_markers",
                    &l.contradiction_markers,
                )?,
            },
            frustration: c.phrase_rule("frustration", &file.frustration)?,
            repeated_question: RepeatedQuestionRule {
                enabled: rq.enabled,
                min_overlap: c.fraction("repeated_question.min_overlap", &rq.min_overlap)?,
                min_shared: c.positive("repeated_question.min_shared", &rq.min_shared)?,
                memory: c.positive("repeated_question.memory", &rq.memory)?,
                question_openers: c
                    .patterns("repeated_question.question_openers", &rq.question_openers)?,
                followup_markers: c
                    .patterns("repeated_question.followup_markers", &rq.followup_markers)?,
                question_kinds,
                synonyms,
            },
            sentiment_drop: SentimentDropRule {
                enabled: sd.enabled,
                prior_negative_below: c.compound(
                    "sentiment_drop.prior_negative_below",
                    &sd.prior_negative_below,
                )?,
                sentence_below: c.compound("sentiment_drop.sentence_below", &sd.sentence_below)?,
                message_below: c.compound("sentiment_drop.message_below", &sd.message_below)?,
                emotion_terms: c.patterns("sentiment_drop.emotion_terms", &sd.emotion_terms)?,
                prior_complaints: c
                    .patterns("sentiment_drop.prior_complaints", &sd.prior_complaints)?,
            },
            message_length: MessageLengthRule {
                enabled: ml.enabled,
                ratio: c.positive("message_length.ratio", &ml.ratio)?,
                min_words: ml.min_words,
            },
            topics: Topics {
                default_topic: t.default_topic.clone(),
                default_label: t.default_label.clone(),
                default_skill: c.skill("topics.default_skill", &t.default_skill)?,
                ai_weight: c.fraction("topics.ai_weight", &t.ai_weight)?,
                first_message_weight: c
                    .positive("topics.first_message_weight", &t.first_message_weight)?,
                list: topics,
                semantic_weight,
            },
            priority: PriorityRules {
                tier_points,
                high_value_above: p.high_value_above,
                high_value_points: p.high_value_points,
                negative_sentiment_below: p.negative_sentiment_below,
                negative_sentiment_points: p.negative_sentiment_points,
                positive_sentiment_above: p.positive_sentiment_above,
                positive_sentiment_points: p.positive_sentiment_points,
                urgency_points: p.urgency_points,
                urgency: c.patterns("priority.urgency", &p.urgency)?,
                reason_points,
                urgent_at: p.urgent_at,
                high_at: p.high_at,
                medium_at: p.medium_at,
            },
            custom_rules,
            skills: c.skills.clone(),
            churn_risk: match &file.churn_risk {
                Some(f) => c.churn_risk(f)?,
                None => {
                    let shipped: ShippedChurnRisk = toml::from_str(DEFAULT_POLICY)
                        .expect("the shipped default policy has a [churn_risk] section");
                    Compiler {
                        source: DEFAULT_POLICY,
                        skills: Vec::new(),
                    }
                    .churn_risk(&shipped.churn_risk)?
                }
            },
        };
        policy.build_screen().map_err(|e| PolicyError {
            line: None,
            key: String::new(),
            message: format!("patterns do not compile together: {e}"),
        })?;
        Ok(policy)
    }

    fn build_screen(&mut self) -> Result<(), regex::Error> {
        let mut patterns = Vec::new();
        let mut screened: Vec<&mut Matcher> = vec![
            &mut self.explicit_request.patterns,
            &mut self.cancellation.patterns,
            &mut self.legal_compliance.patterns,
            &mut self.transaction_dispute.patterns,
            &mut self.frustration.patterns,
            &mut self.sentiment_drop.emotion_terms,
        ];
        for c in &mut self.sensitive_topic.categories {
            screened.push(&mut c.patterns);
        }
        for m in screened {
            if let Some(r) = &m.regex {
                m.screen_id = Some(patterns.len());
                patterns.push(r.as_str().to_string());
            }
        }
        self.screen = regex::RegexSetBuilder::new(patterns)
            .dfa_size_limit(SCREEN_DFA_CACHE)
            .build()?;
        Ok(())
    }

    /// The team that serves `skill` (every skill has one: checked on load).
    pub fn team(&self, skill: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.skill == skill)
    }

    /// The name a reason kind has in decisions (custom rules by their own name).
    pub fn reason_name(&self, kind: ReasonKind) -> &str {
        match kind {
            ReasonKind::Custom(i) => &self.custom_rules[i as usize].name,
            k => k.as_str(),
        }
    }
}

impl PolicyError {
    fn with_line(mut self, line: Option<usize>) -> Self {
        self.line = line;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_default_policy_parses() {
        let p = Policy::default();
        assert_eq!(p.order[0], ReasonKind::ExplicitRequest);
        assert!(p.skills.contains(&"retention".to_string()));
    }

    fn error_for(edit: impl Fn(&str) -> String) -> PolicyError {
        Policy::from_toml(&edit(DEFAULT_POLICY)).unwrap_err()
    }

    fn line_containing(needle: &str) -> usize {
        DEFAULT_POLICY
            .lines()
            .position(|l| l.contains(needle))
            .unwrap()
            + 1
    }

    #[test]
    fn errors_name_key_and_line() {
        let e = error_for(|s| s.replacen("threshold = 0.70", "threshold = 1.70", 1));
        assert_eq!(e.key, "low_confidence.threshold");
        assert_eq!(e.line, Some(line_containing("threshold = 0.70")));

        let e = error_for(|s| s.replacen("skill = \"retention\"", "skill = \"retension\"", 1));
        assert_eq!(e.key, "cancellation.skill");
        assert!(e.message.contains("unknown skill `retension`"));

        let e = error_for(|s| s.replacen("negation_window =", "negation_windw =", 1));
        assert!(e.message.contains("unknown field `negation_windw`"), "{e}");
        assert_eq!(e.line, Some(line_containing("negation_window =")));
    }

    #[test]
    fn bad_regex_is_reported_with_its_line() {
        let src = format!(
            "{DEFAULT_POLICY}\n[[custom_rules]]\nname = \"outage\"\nskill = \"technical\"\npatterns = [\"(unclosed\"]\n"
        );
        let e = Policy::from_toml(&src).unwrap_err();
        assert_eq!(e.key, "custom_rules[0].patterns[0]");
        assert_eq!(e.line, Some(src.lines().count()));
    }

    #[test]
    fn custom_rules_join_the_order() {
        let src = format!(
            "{DEFAULT_POLICY}\n[[custom_rules]]\nname = \"outage\"\nskill = \"technical\"\npriority = \"urgent\"\nphrases = [\"outage\"]\n"
        );
        let p = Policy::from_toml(&src).unwrap();
        assert_eq!(p.custom_rules[0].priority, Some(Priority::Urgent));
        assert_eq!(*p.order.last().unwrap(), ReasonKind::Custom(0));
    }

    #[test]
    fn a_policy_without_churn_risk_uses_the_shipped_phrases_and_a_bad_one_is_named() {
        let start = DEFAULT_POLICY.find("[churn_risk]").unwrap();
        let end = DEFAULT_POLICY.find("[legal_compliance]").unwrap();
        let older = format!("{}{}", &DEFAULT_POLICY[..start], &DEFAULT_POLICY[end..]);
        let p = Policy::from_toml(&older).unwrap();
        assert!(p
            .churn_risk
            .patterns
            .is_match("i will cancel all four lines"));

        let bad = DEFAULT_POLICY.replacen(
            "[churn_risk]\npatterns = [\n",
            "[churn_risk]\npatterns = [\n  '(unclosed',\n",
            1,
        );
        let e = Policy::from_toml(&bad).unwrap_err();
        assert_eq!(e.key, "churn_risk.patterns[0]");
        let line = bad.lines().position(|l| l.contains("(unclosed")).unwrap() + 1;
        assert_eq!(e.line, Some(line));
    }
}
