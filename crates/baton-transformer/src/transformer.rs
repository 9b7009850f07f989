//! The transformer itself: a sentence-transformers folder run with candle
//! on the CPU. About a thousand times the cost of the static tier; used to distil the static
//! table and, optionally, on the few sentences where the last point of accuracy matters.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use sha2::{Digest, Sha256};
use tokenizers::{PaddingParams, Tokenizer, TruncationParams};

use baton_embed::EmbedError;

/// The sha256 of all-MiniLM-L6-v2's `model.safetensors`, as `scripts/fetch-model.sh` checks it.
pub const ALL_MINILM_L6_V2_SHA256: &str =
    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";

/// A BERT sentence-embedding model: mean pooling over the last hidden state, L2-normalised (what
/// sentence-transformers computes for all-MiniLM-L6-v2).
pub struct Transformer {
    model: BertModel,
    tokenizer: Tokenizer,
    dims: usize,
    device: Device,
}

fn file_error(path: &Path, problem: impl std::fmt::Display) -> EmbedError {
    EmbedError::File {
        path: path.to_path_buf(),
        problem: problem.to_string(),
    }
}

fn inference_error(e: candle_core::Error) -> EmbedError {
    EmbedError::Inference(e.to_string())
}

impl Transformer {
    /// Loads a sentence-transformers folder: `config.json` (a BERT config), `tokenizer.json`,
    /// `model.safetensors`, and `sentence_bert_config.json` when present (its `max_seq_length`,
    /// else 512 tokens, bounds the input).
    ///
    /// Returns [`EmbedError::File`] naming the file that is missing, unreadable or malformed.
    pub fn load(dir: &Path) -> Result<Transformer, EmbedError> {
        Self::load_checked(dir, None)
    }

    /// [`load`](Self::load), first checking that the sha256 of `model.safetensors` is `sha256`
    /// (lowercase hex), e.g. [`ALL_MINILM_L6_V2_SHA256`].
    pub fn load_verified(dir: &Path, sha256: &str) -> Result<Transformer, EmbedError> {
        Self::load_checked(dir, Some(sha256))
    }

    fn load_checked(dir: &Path, sha256: Option<&str>) -> Result<Transformer, EmbedError> {
        if !dir.is_dir() {
            return Err(file_error(
                dir,
                "not a model folder (run scripts/fetch-model.sh)",
            ));
        }
        let read = |name: &str| -> Result<(PathBuf, Vec<u8>), EmbedError> {
            let path = dir.join(name);
            let bytes = std::fs::read(&path).map_err(|e| file_error(&path, e))?;
            Ok((path, bytes))
        };
        let (config_path, config) = read("config.json")?;
        let config: Config = serde_json::from_slice(&config)
            .map_err(|e| file_error(&config_path, format!("not a BERT config: {e}")))?;

        let max_tokens = match read("sentence_bert_config.json") {
            Ok((path, bytes)) => serde_json::from_slice::<serde_json::Value>(&bytes)
                .map_err(|e| file_error(&path, e))?
                .get("max_seq_length")
                .and_then(serde_json::Value::as_u64)
                .map_or(512, |n| n as usize),
            Err(_) => 512,
        }
        .min(config.max_position_embeddings);

        let tokenizer_path = dir.join("tokenizer.json");
        let mut tokenizer =
            Tokenizer::from_file(&tokenizer_path).map_err(|e| file_error(&tokenizer_path, e))?;
        tokenizer.with_padding(Some(PaddingParams::default()));
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                ..Default::default()
            }))
            .map_err(|e| file_error(&tokenizer_path, e))?;

        let (weights_path, weights) = read("model.safetensors")?;
        if let Some(want) = sha256 {
            let got: String = Sha256::digest(&weights)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            if got != want {
                return Err(file_error(
                    &weights_path,
                    format!("sha256 is {got}, expected {want}"),
                ));
            }
        }
        let device = Device::Cpu;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)
            .map_err(|e| file_error(&weights_path, e))?;
        let model = BertModel::load(vb, &config).map_err(|e| file_error(&weights_path, e))?;
        Ok(Transformer {
            model,
            tokenizer,
            dims: config.hidden_size,
            device,
        })
    }

    /// The number of dimensions of an embedding (384 for all-MiniLM-L6-v2).
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// The tokenizer, padding a batch to its longest input and truncating to the model's limit.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The L2-normalised sentence embedding of `text`.
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, EmbedError> {
        Ok(self.embed_batch(&[text])?.remove(0))
    }

    /// The L2-normalised sentence embeddings of `texts`, run as one padded batch.
    pub fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| EmbedError::Inference(e.to_string()))?;
        let ids: Vec<&[u32]> = encodings.iter().map(|e| e.get_ids()).collect();
        let masks: Vec<&[u32]> = encodings.iter().map(|e| e.get_attention_mask()).collect();
        let mut pooled = self.mean_pooled(&ids, &masks)?;
        for v in &mut pooled {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                v.iter_mut().for_each(|x| *x /= norm);
            }
        }
        Ok(pooled)
    }

    /// The mean of the last hidden state over the unmasked positions of each sequence, not
    /// normalised. All sequences must have the same length (pad them, with a zero mask).
    pub(crate) fn mean_pooled(
        &self,
        ids: &[&[u32]],
        masks: &[&[u32]],
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let (batch, len) = (ids.len(), ids.first().map_or(0, |s| s.len()));
        if batch == 0 || len == 0 {
            return Ok(vec![vec![0.0; self.dims]; batch]);
        }
        let flat = |rows: &[&[u32]]| {
            rows.iter()
                .flat_map(|r| r.iter().copied())
                .collect::<Vec<_>>()
        };
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let input = Tensor::from_vec(flat(ids), (batch, len), &self.device)?;
            let mask = Tensor::from_vec(flat(masks), (batch, len), &self.device)?;
            let hidden = self
                .model
                .forward(&input, &input.zeros_like()?, Some(&mask))?;
            let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let sum = hidden.broadcast_mul(&mask)?.sum(1)?;
            let count = mask.sum(1)?.clamp(1.0, f64::MAX)?;
            sum.broadcast_div(&count)?.to_vec2()
        };
        run().map_err(inference_error)
    }
}
