//! Checks shared by every section of the policy: patterns that compile, skills and tiers that
//! exist, numbers in range; each error names the key and the line.

use regex::Regex;
use toml::Spanned;

use super::file::{BusinessRuleFile, ChurnRiskFile, Patterns, PhraseRuleFile};
use super::{BusinessRule, ChurnRiskRule, Matcher, PhraseRule, PolicyError, MATCHER_DFA_CACHE};
use crate::model::Tier;

/// Compiles policy pieces while remembering the source, to turn byte spans into line numbers.
pub(super) struct Compiler<'a> {
    pub(super) source: &'a str,
    pub(super) skills: Vec<String>,
}

impl Compiler<'_> {
    pub(super) fn line_of(&self, offset: usize) -> usize {
        self.source[..offset.min(self.source.len())]
            .bytes()
            .filter(|&b| b == b'\n')
            .count()
            + 1
    }

    pub(super) fn err(
        &self,
        span: Option<std::ops::Range<usize>>,
        key: &str,
        message: String,
    ) -> PolicyError {
        PolicyError {
            line: span.map(|s| self.line_of(s.start)),
            key: key.to_string(),
            message,
        }
    }

    /// Line of `key = ` inside `[table]`, for values without a span.
    pub(super) fn line_of_key(&self, table: &str, key: &str) -> Option<usize> {
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
    pub(super) fn patterns(&self, key: &str, list: &Patterns) -> Result<Matcher, PolicyError> {
        self.compile(key, list, false)
    }

    /// Compiles literal phrases (matched at word boundaries) into one alternation.
    pub(super) fn phrases(&self, key: &str, list: &Patterns) -> Result<Matcher, PolicyError> {
        self.compile(key, list, true)
    }

    pub(super) fn compile(
        &self,
        key: &str,
        list: &Patterns,
        literal: bool,
    ) -> Result<Matcher, PolicyError> {
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

    pub(super) fn skill(&self, key: &str, skill: &Spanned<String>) -> Result<String, PolicyError> {
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

    pub(super) fn tiers(
        &self,
        key: &str,
        list: &[Spanned<String>],
    ) -> Result<Vec<Tier>, PolicyError> {
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

    pub(super) fn fraction(&self, key: &str, v: &Spanned<f64>) -> Result<f64, PolicyError> {
        let x = *v.get_ref();
        if (0.0..=1.0).contains(&x) {
            Ok(x)
        } else {
            Err(self.err(Some(v.span()), key, format!("{x} is outside 0..=1")))
        }
    }

    pub(super) fn compound(&self, key: &str, v: &Spanned<f64>) -> Result<f64, PolicyError> {
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

    pub(super) fn nonnegative(&self, key: &str, v: &Spanned<f64>) -> Result<f64, PolicyError> {
        let x = *v.get_ref();
        if x >= 0.0 {
            Ok(x)
        } else {
            Err(self.err(Some(v.span()), key, format!("{x} must be 0 or above")))
        }
    }

    pub(super) fn positive<T: PartialOrd + Default + Copy + std::fmt::Display>(
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

    pub(super) fn business(
        &self,
        key: &str,
        f: &BusinessRuleFile,
    ) -> Result<BusinessRule, PolicyError> {
        Ok(BusinessRule {
            enabled: f.enabled,
            skill: self.skill(&format!("{key}.skill"), &f.skill)?,
            patterns: self.patterns(&format!("{key}.patterns"), &f.patterns)?,
            negations: self.patterns(&format!("{key}.negations"), &f.negations)?,
            exclusions: self.patterns(&format!("{key}.exclusions"), &f.exclusions)?,
            whole_patterns: self.patterns(&format!("{key}.whole_patterns"), &f.whole_patterns)?,
            not_meant: self.patterns(&format!("{key}.not_meant"), &f.not_meant)?,
        })
    }

    pub(super) fn churn_risk(&self, f: &ChurnRiskFile) -> Result<ChurnRiskRule, PolicyError> {
        Ok(ChurnRiskRule {
            patterns: self.patterns("churn_risk.patterns", &f.patterns)?,
            negations: self.patterns("churn_risk.negations", &f.negations)?,
            exclusions: self.patterns("churn_risk.exclusions", &f.exclusions)?,
        })
    }

    pub(super) fn phrase_rule(
        &self,
        key: &str,
        f: &PhraseRuleFile,
    ) -> Result<PhraseRule, PolicyError> {
        Ok(PhraseRule {
            enabled: f.enabled,
            patterns: self.patterns(&format!("{key}.patterns"), &f.patterns)?,
            negations: self.patterns(&format!("{key}.negations"), &f.negations)?,
            after_reply: f.after_reply,
        })
    }
}
