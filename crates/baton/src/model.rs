//! `baton model`: work with the embedding model (distil the static table from the transformer).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

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
    use baton_embed::{distill, Transformer};

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
