//! Sentence embeddings for Baton, so that the engine compares what a customer means with
//! examples rather than matching words.
//!
//! The default tier is [`StaticModel`]: a table of one int8 vector per WordPiece token, distilled
//! from [all-MiniLM-L6-v2](https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2)
//! (BERT, 6 layers, 384 dimensions, Apache-2.0) and compiled into the binary. Embedding a message
//! tokenizes it and sums table rows: a few microseconds, no model files, no I/O.
//!
//! ```
//! use baton_embed::{cosine, StaticModel};
//! let model = StaticModel::embedded();
//! let a = model.embed_vec("can I speak to a real person");
//! let b = model.embed_vec("is there a number I can ring to talk to someone");
//! let c = model.embed_vec("my parcel arrived damaged");
//! assert!(cosine(&a, &b) > cosine(&a, &c));
//! ```
//!
//! # How the table is distilled
//! The way model2vec does it: every vocabulary token the tokenizer can produce goes through the
//! transformer alone (`[CLS] token [SEP]`) and its output is mean-pooled; the 384-dimensional
//! vectors are centred and projected on their top principal components (eigenvectors of the
//! covariance, each signed so that its largest component is positive); each row is weighted by
//! `a / (a + p)` with `a = 1e-4` and `p` the Zipf probability of the token's rank in the
//! vocabulary (`p ∝ 1 / (id + 2)`; BERT's vocabulary is roughly in frequency order); the common
//! component (the top direction of the rows weighted by `p`, which every sentence's sum shares) is
//! projected out; each row is quantised to int8 with its own f32 scale. The file format is
//! documented in [`table`]. `scripts/distill_reference.py` is the numpy reference of this
//! process.

pub mod table;
mod wordpiece;

pub use table::StaticModel;

/// Why a table or model could not be used. Each error names the field or file at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    /// An embedding table whose `field` is wrong.
    #[error("embedding table: field `{field}`: {problem}")]
    Table {
        field: &'static str,
        problem: String,
    },
}

/// Cosine similarity of two L2-normalised vectors (as [`StaticModel::embed`] writes them): their
/// dot product. An all-zero vector is similar to nothing (0).
///
/// # Panics
/// If the lengths differ.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "cosine: vectors of different lengths");
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
