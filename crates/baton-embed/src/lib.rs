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
//! `a / (a + p)` with `a = 1e-5` and `p` the Zipf probability of the token's rank in the
//! vocabulary (`p ∝ 1 / (id + 2)`; BERT's vocabulary is roughly in frequency order; model2vec's
//! `a = 1e-4` did worse: on 600 customer messages of the dev set, the transformer's nearest
//! neighbour was among the static tier's 5 nearest for 37% of messages, 42% with `1e-5`); the common
//! component (the top direction of the rows weighted by `p`, which every sentence's sum shares) is
//! projected out; each row is quantised to int8 with its own f32 scale. The file format is
//! documented in [`table`].
//!
//! `baton model distill` (feature `transformer` of baton; module `distill` of baton-transformer) made the distilled table
//! (`data/minilm-l6-base.bin`), the same bytes on each run; `scripts/distill_reference.py` is an
//! independent numpy version of the whole process (its rows agree with the committed ones to a
//! cosine above 0.9998). `data/minilm-l6-projection.bin` keeps the fitted projection so that a
//! test re-distils a sample of rows without the whole vocabulary.
//!
//! # How the table is tuned on sentences
//! Rows of tokens seen alone add up to sentence vectors far from what the transformer says about
//! the sentence (a linear head over them found 22% of the corpus lines that need a person, on
//! domains it never saw, where the same head over the transformer's vectors found 64%). So the
//! compiled-in table (`data/minilm-l6-static.bin`) is the distilled one fitted to whole sentences,
//! as model2vec's "tokenlearn" does: `scripts/tune_table.py` runs every line of the intent corpus
//! (`data/intents/`) through the transformer, projects those vectors on their top 128 principal
//! components, and solves for the rows whose mean over a sentence's tokens comes closest to its
//! projected vector, with a penalty (`lam` = 0.02) on moving away from the distilled row mapped
//! into the same space. A sentence's embedding is still the normalised sum of its tokens' rows.
//! Tuned and with the heads refitted without each of the corpus's domains in turn, the detectors
//! alone find 54% at precision 0.92 (`python3 scripts/tune_table.py --lodo`).

//! # The model itself
//! all-MiniLM-L6-v2 with candle on the CPU (the optional full tier, and the distillation) is the
//! crate `baton-transformer`, a crate of its own so that turning it on (feature `transformer` of
//! `baton`) rebuilds only it and the CLI, not every crate that embeds.

pub mod table;
mod wordpiece;

pub use table::StaticModel;
/// What a writer of tables (the distillation in `baton-transformer`) needs of the tokenizer: the
/// special tokens in their fixed order and the hash the table's vocabulary index uses.
pub use wordpiece::{fnv1a, SPECIAL_TOKENS};

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
    /// A model file (or folder) that is missing, unreadable, malformed or has the wrong checksum.
    #[error("{}: {problem}", path.display())]
    File {
        path: std::path::PathBuf,
        problem: String,
    },
    /// The transformer failed while running.
    #[error("transformer: {0}")]
    Inference(String),
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
