//! The transformer's sentence vectors in the static table's space: what
//! `--semantic full` judges a sentence on when its static vector comes near a threshold.
//!
//! `scripts/tune_table.py` fits the table so that a sentence's static vector imitates the
//! transformer's vector projected on the top 128 principal components of the corpus's
//! transformer vectors; it writes that projection as `crates/baton-embed/data/minilm-l6-sentence.bin`. Projecting
//! the transformer's own vector the same way gives a vector that heads and banks built on the
//! static table read directly, with nothing refitted.

use std::path::Path;

use crate::distill::{Projection, DIMS};
use baton_embed::EmbedError;

use crate::{Transformer, ALL_MINILM_L6_V2_SHA256};

/// The projection the compiled-in table was tuned to (see the module docs).
const SENTENCE_PROJECTION: &[u8] = include_bytes!("../../baton-embed/data/minilm-l6-sentence.bin");

/// all-MiniLM-L6-v2 with the projection into the compiled-in table's space.
pub struct FullModel {
    transformer: Transformer,
    projection: Projection,
}

impl FullModel {
    /// Loads the sentence-transformers folder `dir` (checking `model.safetensors` against
    /// [`ALL_MINILM_L6_V2_SHA256`]: the projection belongs to that model and no other).
    pub fn load(dir: &Path) -> Result<FullModel, EmbedError> {
        let transformer = Transformer::load_verified(dir, ALL_MINILM_L6_V2_SHA256)?;
        let projection = sentence_projection()?;
        if projection.input != transformer.dims() {
            return Err(EmbedError::Table {
                field: "input",
                problem: format!(
                    "the sentence projection takes {} dims, the model gives {}",
                    projection.input,
                    transformer.dims()
                ),
            });
        }
        Ok(FullModel {
            transformer,
            projection,
        })
    }

    /// The number of dimensions of [`embed`](Self::embed)'s vectors (the table's).
    pub fn dims(&self) -> usize {
        DIMS
    }

    /// `text`'s transformer vector in the table's space, L2-normalised, into `out` (`dims()`).
    pub fn embed(&self, text: &str, out: &mut [f32]) -> Result<(), EmbedError> {
        let v = self.transformer.embed(text)?;
        self.projection.sentence(&v, out);
        Ok(())
    }
}

/// The compiled-in sentence projection.
pub fn sentence_projection() -> Result<Projection, EmbedError> {
    Projection::from_bytes(SENTENCE_PROJECTION)
}
