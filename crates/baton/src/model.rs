//! `baton model`: work with the embedding model (distil the static table from the transformer).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use baton_core::Policy;
use clap::{Subcommand, ValueEnum};

/// Which embeddings the meaning detectors judge sentences on (`--semantic`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Tier {
    /// The compiled-in static table only.
    Static,
    /// The static table, and the transformer for sentences near a threshold.
    Full,
}

/// Attaches the transformer in `dir` to the policy's meaning detectors for [`Tier::Full`].
/// Errors name the folder and what is wrong with it, or that this build has no transformer.
pub(crate) fn attach(policy: &mut Policy, tier: Tier, dir: &std::path::Path) -> Result<()> {
    if tier == Tier::Static {
        return Ok(());
    }
    let Some(semantic) = &policy.semantic else {
        anyhow::bail!(
            "--semantic full: the policy's [semantic] section is disabled, so nothing would use \
             the transformer (set `enabled = true`, or leave --semantic at static)"
        );
    };
    let encoder = full_encoder(dir)?;
    policy.semantic = Some(std::sync::Arc::new(semantic.with_encoder(encoder)));
    Ok(())
}

#[cfg(feature = "transformer")]
fn full_encoder(
    dir: &std::path::Path,
) -> Result<std::sync::Arc<dyn baton_core::semantic::Encoder>> {
    use anyhow::Context;
    let model = baton_transformer::FullModel::load(dir).with_context(|| {
        format!(
            "--semantic full: cannot load the model in {}",
            dir.display()
        )
    })?;
    Ok(std::sync::Arc::new(FullEncoder(model)))
}

#[cfg(not(feature = "transformer"))]
fn full_encoder(
    dir: &std::path::Path,
) -> Result<std::sync::Arc<dyn baton_core::semantic::Encoder>> {
    anyhow::bail!(
        "--semantic full needs the transformer, and this baton was built without it: build with \
         `cargo build --release --features transformer` (model folder: {}, from \
         scripts/fetch-model.sh)",
        dir.display()
    )
}

/// all-MiniLM-L6-v2 as the meaning detectors' finer encoder.
#[cfg(feature = "transformer")]
struct FullEncoder(baton_transformer::FullModel);

#[cfg(feature = "transformer")]
impl baton_core::semantic::Encoder for FullEncoder {
    fn encode(&self, text: &str, out: &mut [f32]) -> Result<(), baton_core::semantic::EncodeError> {
        self.0
            .embed(text, out)
            .map_err(|e| baton_core::semantic::EncodeError(e.to_string()))
    }
}

#[derive(Subcommand)]
pub(crate) enum ModelCommand {
    /// Distil the static embedding table from a sentence-transformers folder (same bytes on each
    /// run). Needs a build with the `transformer` feature.
    Distill {
        /// The sentence-transformers folder (scripts/fetch-model.sh fetches all-MiniLM-L6-v2).
        #[arg(long, default_value = "models/all-MiniLM-L6-v2")]
        model: PathBuf,
        /// Where to write the table (crates/baton-embed/data/minilm-l6-static.bin is compiled in).
        #[arg(long)]
        out: PathBuf,
        /// Also write the projection from transformer outputs to rows (what the distillation test
        /// re-checks rows with).
        #[arg(long)]
        projection: Option<PathBuf>,
    },
}

pub(crate) fn run(command: ModelCommand) -> Result<ExitCode> {
    match command {
        ModelCommand::Distill {
            model,
            out,
            projection,
        } => distill(model, out, projection),
    }
}

#[cfg(feature = "transformer")]
fn distill(model: PathBuf, out: PathBuf, projection: Option<PathBuf>) -> Result<ExitCode> {
    use anyhow::Context;
    use baton_transformer::{distill, Transformer};

    let transformer = Transformer::load(&model)?;
    let bar = indicatif::ProgressBar::new(0).with_message("tokens through the transformer");
    let distilled = distill::distill(&transformer, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    std::fs::write(&out, &distilled.table)
        .with_context(|| format!("cannot write {}", out.display()))?;
    if let Some(path) = projection {
        std::fs::write(&path, distilled.projection.to_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let table = baton_embed::StaticModel::from_bytes(&distilled.table)?;
    eprintln!(
        "wrote {}: {} tokens, {} dims, {} bytes",
        out.display(),
        table.vocab_size(),
        table.dims(),
        distilled.table.len()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "transformer"))]
fn distill(_: PathBuf, _: PathBuf, _: Option<PathBuf>) -> Result<ExitCode> {
    anyhow::bail!(
        "this baton was built without the transformer; build it with \
         `cargo build --release -p baton --features transformer`"
    )
}
