//! Checks shared by every section of the policy: patterns that compile, skills and tiers that
//! exist, numbers in range; each error names the key and the line.

use regex::Regex;
use toml::Spanned;

use super::file::{BusinessRuleFile, ChurnRiskFile, Patterns, PhraseRuleFile};
use super::{
    BusinessRule, ChurnRiskRule, Line, Matcher, PhraseRule, PolicyError, MATCHER_DFA_CACHE,
};
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
        let lines = self.lines(key, list, false, false)?;
        self.whole(key, list, &lines)
    }

    /// [`Compiler::patterns`] for a list the screen reads: kept line by line, each line its own
    /// regex (see [`Matcher`]), without the whole alternation.
    pub(super) fn screened_patterns(
        &self,
        key: &str,
        list: &Patterns,
    ) -> Result<Matcher, PolicyError> {
        Ok(Matcher {
            regex: None,
            lines: self.lines(key, list, false, true)?,
            screen_from: None,
            forward: None,
        })
    }

    /// Compiles literal phrases (matched at word boundaries) into one alternation.
    pub(super) fn phrases(&self, key: &str, list: &Patterns) -> Result<Matcher, PolicyError> {
        let lines = self.lines(key, list, true, false)?;
        self.whole(key, list, &lines)
    }

    /// One alternation of `lines`, in their order.
    fn whole(&self, key: &str, list: &Patterns, lines: &[Line]) -> Result<Matcher, PolicyError> {
        if lines.is_empty() {
            return Ok(Matcher::default());
        }
        let joined = lines.iter().map(Line::as_str).collect::<Vec<_>>().join("|");
        let regex = regex::RegexBuilder::new(&joined)
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
            lines: Vec::new(),
            screen_from: None,
            forward: None,
        })
    }

    /// Each item of `list` compiled alone, as the engine reads it (ASCII word boundaries and
    /// white space; literal phrases escaped, between word boundaries, longest first); `screened`
    /// for a list the screen reads.
    fn lines(
        &self,
        key: &str,
        list: &Patterns,
        literal: bool,
        screened: bool,
    ) -> Result<Vec<Line>, PolicyError> {
        let mut lines = Vec::with_capacity(list.len());
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
            // The line and its parse (parsed once here: the check and the screen use it).
            let (part, hir) = if literal {
                let phrase = crate::text::normalize(text);
                let mut p = String::new();
                if phrase.starts_with(|c: char| c.is_alphanumeric()) {
                    p.push_str(r"(?-u:\b)");
                }
                p.push_str(&regex::escape(&phrase));
                if phrase.ends_with(|c: char| c.is_alphanumeric()) {
                    p.push_str(r"(?-u:\b)");
                }
                let hir = regex_syntax::Parser::new().parse(&p).ok();
                (p, hir)
            } else {
                // ASCII word boundaries keep the fast lazy DFA on text with accents and emoji
                // (a Unicode \b makes it fall back to a slower engine).
                ascii_white_space(&format!("(?:{})", text.replace(r"\b", r"(?-u:\b)")))
            };
            // The line checked alone (errors name the user's text, not the rewritten one); it
            // serves the screen (`Policy::build_screen`) and is compiled on its first search.
            let line = Line::checked_as(&part, hir.as_ref(), screened).map_err(|e| {
                let e = Regex::new(text).err().unwrap_or(e);
                self.err(
                    Some(item.span()),
                    &item_key,
                    format!("invalid regular expression: {e}"),
                )
            })?;
            lines.push(line);
        }
        Ok(lines)
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

    /// A table of valences for the sentiment analyser: keys of one or two lower-case words,
    /// values on VADER's scale (-4..=4).
    pub(super) fn valences(
        &self,
        key: &str,
        table: &std::collections::BTreeMap<String, Spanned<f64>>,
    ) -> Result<Vec<(String, f64)>, PolicyError> {
        table
            .iter()
            .map(|(word, v)| {
                let x = *v.get_ref();
                let at = format!("{key}.\"{word}\"");
                let n = word.split_whitespace().count();
                if !(1..=2).contains(&n) || word.trim() != word || word.contains("  ") {
                    return Err(self.err(
                        Some(v.span()),
                        &at,
                        "a valence is given to one word or two, separated by one space".into(),
                    ));
                }
                if word.chars().any(|c| c.is_uppercase()) {
                    return Err(self.err(
                        Some(v.span()),
                        &at,
                        "write the word in lower case (text is lower-cased before it is looked up)"
                            .into(),
                    ));
                }
                if !(-4.0..=4.0).contains(&x) {
                    return Err(self.err(
                        Some(v.span()),
                        &at,
                        format!("{x} is outside VADER's valence scale -4..=4"),
                    ));
                }
                Ok((word.clone(), x))
            })
            .collect()
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
            patterns: self.screened_patterns(&format!("{key}.patterns"), &f.patterns)?,
            negations: self.patterns(&format!("{key}.negations"), &f.negations)?,
            exclusions: self.patterns(&format!("{key}.exclusions"), &f.exclusions)?,
            whole_patterns: self
                .screened_patterns(&format!("{key}.whole_patterns"), &f.whole_patterns)?,
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
            patterns: self.screened_patterns(&format!("{key}.patterns"), &f.patterns)?,
            negations: self.patterns(&format!("{key}.negations"), &f.negations)?,
            after_reply: f.after_reply,
        })
    }
}

/// `pattern` with every white-space class (`\s`: Unicode's 25 white-space characters) written
/// as ASCII's. The lists only read normalised text ([`crate::text::normalize`]), where every run
/// of white space is one ' ', so what they match is the same; Unicode's class splits the bytes
/// into more classes and the lazy DFA's states grow with them (1-2 MB less memory in `baton
/// analyze` on varied text, BENCHMARKS.md, session 29). With it, the rewritten parse (`None`
/// when `pattern` does not parse: it is returned as it is, for the caller to report).
fn ascii_white_space(pattern: &str) -> (String, Option<regex_syntax::hir::Hir>) {
    use regex_syntax::hir::{Class, ClassUnicode, ClassUnicodeRange, Hir};
    let ascii = |h: &Hir| {
        super::is_white_class(h).then(|| {
            Hir::class(Class::Unicode(ClassUnicode::new([
                ClassUnicodeRange::new('\t', '\r'),
                ClassUnicodeRange::new(' ', ' '),
            ])))
        })
    };
    match regex_syntax::ParserBuilder::new().build().parse(pattern) {
        Ok(hir) => {
            let hir = super::rewrite_hir(&hir, &ascii);
            (hir.to_string(), Some(hir))
        }
        Err(_) => (pattern.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::ascii_white_space;
    use regex::Regex;

    #[test]
    fn white_space_classes_become_ascii_and_match_normalised_text_as_before() {
        let pattern = r"\bcall\s+me\b|\bring\s*back\b|[^.?!]*\bperson\b|\d+\s?gb";
        let unicode = Regex::new(pattern).unwrap();
        let ascii = Regex::new(&ascii_white_space(pattern).0).unwrap();
        for text in [
            "Could you CALL\u{3000}me back?",
            "please  ring back\tsoon",
            "i want a real\u{a0}person now",
            "20 gb or 20gb, 10\u{2009}gb",
            "nothing here",
        ] {
            let norm = crate::text::normalize(text);
            let spans = |r: &Regex| r.find_iter(&norm).map(|m| m.range()).collect::<Vec<_>>();
            assert_eq!(spans(&unicode), spans(&ascii), "{norm:?}");
        }
        // The class itself changed: raw text with an ideographic space no longer matches.
        assert!(unicode.is_match("call\u{3000}me"));
        assert!(!ascii.is_match("call\u{3000}me"));
        // A pattern regex-syntax cannot parse is left for the caller to report.
        assert_eq!(ascii_white_space("(unclosed").0, "(unclosed");
    }
}
