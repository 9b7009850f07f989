//! The `[semantic]` section: example banks and the thresholds of the meaning detectors.

use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use super::{Compiler, PolicyError};
use crate::semantic::{bank, Method, Semantic, SemanticConfig, DETECTORS};

/// Name of the shipped corpus in `semantic.banks`.
pub const BUILTIN_BANK: &str = "builtin";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SemanticFile {
    enabled: bool,
    method: Spanned<String>,
    banks: Vec<Spanned<String>>,
    threshold: Spanned<f32>,
    margin: Spanned<f32>,
    neighbours: Spanned<usize>,
    agreement: Spanned<f32>,
    min_words: Spanned<usize>,
    mlp: bool,
    mlp_threshold: Spanned<f64>,
    mlp_margin: Spanned<f64>,
    /// Optional, like `full_band`: see [`SemanticConfig::nearest_threshold`].
    #[serde(default)]
    nearest_threshold: Option<Spanned<f64>>,
    #[serde(default)]
    nearest_margin: Option<Spanned<f64>>,
    #[serde(default)]
    nearest_gate: Option<Spanned<f64>>,
    ridge: Spanned<f32>,
    counter_weight: Spanned<f32>,
    example_weight: Spanned<f32>,
    pub(super) topic_weight: Spanned<f64>,
    /// Optional (0 when absent): see [`super::Topics::conversation_weight`].
    #[serde(default)]
    pub(super) conversation_topic_weight: Option<Spanned<f64>>,
    frustration_after_reply: bool,
    /// Optional (policies written before it keep working): see [`SemanticConfig::full_band`].
    #[serde(default)]
    full_band: Option<Spanned<f64>>,
    detectors: Vec<Spanned<String>>,
    means: MeansFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MeansFile {
    explicit_request: String,
    cancellation: String,
    legal_compliance: String,
    sensitive_topic: String,
    transaction_dispute: String,
    frustration: String,
}

/// Reads a bank the policy names (other than `builtin`): its text, or why it cannot be read
/// (the policy's error names the key and the bank beside it).
pub type BankLoader<'a> = dyn FnMut(&str) -> std::io::Result<String> + 'a;

impl Compiler<'_> {
    /// Compiles the section; `topics` are the skills the topic head tells apart.
    pub(super) fn semantic(
        &self,
        f: &SemanticFile,
        topics: &[String],
        load: &mut BankLoader<'_>,
    ) -> Result<Option<Arc<Semantic>>, PolicyError> {
        if !f.enabled {
            return Ok(None);
        }
        let method = match f.method.get_ref().as_str() {
            "linear" => Method::Linear,
            "nearest" => Method::Nearest,
            other => {
                return Err(self.err(
                    Some(f.method.span()),
                    "semantic.method",
                    format!("`{other}` is not a method; expected linear or nearest"),
                ))
            }
        };
        let neighbours = self.positive("semantic.neighbours", &f.neighbours)?;
        if neighbours > 8 {
            return Err(self.err(
                Some(f.neighbours.span()),
                "semantic.neighbours",
                format!("{neighbours} is above the largest supported value, 8"),
            ));
        }
        let mut detectors = [false; DETECTORS.len()];
        for (i, d) in f.detectors.iter().enumerate() {
            let Some(p) = DETECTORS.iter().position(|k| k.as_str() == d.get_ref()) else {
                return Err(self.err(
                    Some(d.span()),
                    &format!("semantic.detectors[{i}]"),
                    format!(
                        "`{}` has no meaning detector; expected one of {}",
                        d.get_ref(),
                        DETECTORS.map(|k| k.as_str()).join(", ")
                    ),
                ));
            };
            detectors[p] = true;
        }
        let m = &f.means;
        let config = SemanticConfig {
            method,
            threshold: *f.threshold.get_ref(),
            margin: *f.margin.get_ref(),
            neighbours,
            agreement: *f.agreement.get_ref(),
            min_words: *f.min_words.get_ref(),
            mlp: f.mlp,
            mlp_threshold: self.fraction("semantic.mlp_threshold", &f.mlp_threshold)? as f32,
            mlp_margin: self.fraction("semantic.mlp_margin", &f.mlp_margin)? as f32,
            nearest_threshold: match &f.nearest_threshold {
                Some(t) => Some(self.fraction("semantic.nearest_threshold", t)? as f32),
                None => None,
            },
            nearest_margin: match &f.nearest_margin {
                Some(m) => self.fraction("semantic.nearest_margin", m)? as f32,
                None => SemanticConfig::default().nearest_margin,
            },
            nearest_gate: match &f.nearest_gate {
                Some(g) => self.fraction("semantic.nearest_gate", g)? as f32,
                None => SemanticConfig::default().nearest_gate,
            },
            ridge: self.positive("semantic.ridge", &f.ridge)?,
            counter_weight: self.positive("semantic.counter_weight", &f.counter_weight)?,
            example_weight: self.positive("semantic.example_weight", &f.example_weight)?,
            frustration_after_reply: f.frustration_after_reply,
            full_band: match &f.full_band {
                Some(b) => self.nonnegative("semantic.full_band", b)? as f32,
                None => SemanticConfig::default().full_band,
            },
            detectors,
            means: [
                m.explicit_request.clone(),
                m.cancellation.clone(),
                m.legal_compliance.clone(),
                m.sensitive_topic.clone(),
                m.transaction_dispute.clone(),
                m.frustration.clone(),
            ],
        };
        if f.banks.is_empty() {
            return Err(self
                .err(
                    None,
                    "semantic.banks",
                    "names no bank; use [\"builtin\"] for the shipped corpus or disable the section"
                        .into(),
                )
                .with_line(self.line_of_key("semantic", "banks")));
        }
        if f.banks.len() == 1 && f.banks[0].get_ref() == BUILTIN_BANK {
            return Ok(Some(Semantic::builtin(topics, &config)));
        }
        let mut examples = Vec::new();
        for (i, name) in f.banks.iter().enumerate() {
            let key = format!("semantic.banks[{i}]");
            let name = name.get_ref();
            if name == BUILTIN_BANK {
                examples.extend(bank::builtin());
                continue;
            }
            let source = load(name)
                .map_err(|e| self.err(Some(f.banks[i].span()), &key, format!("{name}: {e}")))?;
            let lines = bank::parse(&source).map_err(|e| {
                self.err(
                    Some(f.banks[i].span()),
                    &key,
                    format!("{name}:{}: {}", e.line, e.message),
                )
            })?;
            examples.extend(lines);
        }
        Ok(Some(Arc::new(Semantic::build(examples, topics, config))))
    }
}
