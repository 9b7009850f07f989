//! Distilling the static table from the transformer (feature `transformer`), as the crate docs
//! describe. Deterministic: the same model gives the same bytes on the same machine (fixed batch
//! order, f64 statistics, Jacobi eigen-decomposition, signed eigenvectors).

use tokenizers::{NormalizedString, Normalizer};

use baton_embed::table::{HEADER_LEN, MAGIC, NO_ROW, VERSION};
use baton_embed::{fnv1a, EmbedError, SPECIAL_TOKENS};

use crate::Transformer;

/// Dimensions of the static table.
pub const DIMS: usize = 128;
/// `a` of the SIF weight `a / (a + p)`.
pub const SIF_COEFFICIENT: f64 = 1e-5;
const BATCH: usize = 256;
const PROJECTION_MAGIC: &[u8; 8] = b"BATONPRJ";

/// What distillation produced: the table, and the projection that maps a token's transformer
/// output to its row (kept to check rows again without redoing the whole vocabulary).
pub struct Distillation {
    /// The table, in the format of [`baton_embed::table`].
    pub table: Vec<u8>,
    pub projection: Projection,
}

/// The linear map from a token's mean-pooled transformer output to its table row before
/// quantisation: `row = (w(id) · (x − mean) · basis) − common component`.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    /// Input dimensions (the transformer's hidden size).
    pub input: usize,
    pub mean: Vec<f32>,
    /// `input × DIMS`, row-major.
    pub basis: Vec<f32>,
    /// The unit common component, `DIMS` long.
    pub common: Vec<f32>,
    pub vocab_size: usize,
}

/// The Zipf probability of the token with `id` in a vocabulary of `vocab_size`: `∝ 1 / (id + 2)`.
fn zipf(vocab_size: usize) -> Vec<f64> {
    let p: Vec<f64> = (0..vocab_size).map(|i| 1.0 / (i as f64 + 2.0)).collect();
    let total: f64 = p.iter().sum();
    p.into_iter().map(|x| x / total).collect()
}

fn sif_weight(p: f64) -> f64 {
    SIF_COEFFICIENT / (SIF_COEFFICIENT + p)
}

impl Projection {
    /// The rows before quantisation of the tokens `ids` whose transformer outputs are `outputs`.
    pub fn rows(&self, ids: &[u32], outputs: &[Vec<f32>]) -> Vec<Vec<f64>> {
        let p = zipf(self.vocab_size);
        ids.iter()
            .zip(outputs)
            .map(|(&id, x)| {
                let weight = sif_weight(p[id as usize]);
                let mut row = self.project(x);
                row.iter_mut().for_each(|v| *v *= weight);
                remove_component(&mut row, &self.common);
                row
            })
            .collect()
    }

    /// `(x − mean) · basis`, `DIMS` long.
    fn project(&self, x: &[f32]) -> Vec<f64> {
        let centred: Vec<f64> = x
            .iter()
            .zip(&self.mean)
            .map(|(&a, &m)| f64::from(a) - f64::from(m))
            .collect();
        (0..DIMS)
            .map(|k| {
                centred
                    .iter()
                    .enumerate()
                    .map(|(i, c)| c * f64::from(self.basis[i * DIMS + k]))
                    .sum()
            })
            .collect()
    }

    /// A sentence vector `x` of the transformer in the table's space: `(x − mean) · basis`, less
    /// the common component, L2-normalised, into `out` (`DIMS` long). No frequency weight: that
    /// belongs to tokens.
    pub fn sentence(&self, x: &[f32], out: &mut [f32]) {
        let mut row = self.project(x);
        remove_component(&mut row, &self.common);
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
        for (o, v) in out.iter_mut().zip(&row) {
            *o = if norm > 0.0 { (v / norm) as f32 } else { 0.0 };
        }
    }

    /// Little-endian: magic `BATONPRJ`, u32 version 1, input, dims, vocab size, then the f32
    /// mean, basis and common component.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = PROJECTION_MAGIC.to_vec();
        for n in [1, self.input, DIMS, self.vocab_size] {
            out.extend((n as u32).to_le_bytes());
        }
        for x in self.mean.iter().chain(&self.basis).chain(&self.common) {
            out.extend(x.to_le_bytes());
        }
        out
    }

    /// Parses [`to_bytes`](Self::to_bytes); errors name the field.
    pub fn from_bytes(bytes: &[u8]) -> Result<Projection, EmbedError> {
        let bad = |field, problem: String| EmbedError::Table { field, problem };
        if bytes.len() < 24 || &bytes[..8] != PROJECTION_MAGIC {
            return Err(bad(
                "magic",
                "not a Baton projection (expected `BATONPRJ`)".into(),
            ));
        }
        let n = |i: usize| {
            u32::from_le_bytes(bytes[8 + 4 * i..12 + 4 * i].try_into().unwrap()) as usize
        };
        let (version, input, dims, vocab_size) = (n(0), n(1), n(2), n(3));
        if version != 1 || dims != DIMS {
            return Err(bad(
                "version",
                format!("version {version} with {dims} dims, expected 1 with {DIMS}"),
            ));
        }
        let expected = 24 + 4 * (input + input * DIMS + DIMS);
        if bytes.len() != expected {
            return Err(bad(
                "length",
                format!(
                    "{} bytes, input {input} and dims {DIMS} need {expected}",
                    bytes.len()
                ),
            ));
        }
        let floats: Vec<f32> = bytes[24..]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        Ok(Projection {
            input,
            mean: floats[..input].to_vec(),
            basis: floats[input..input + input * DIMS].to_vec(),
            common: floats[input + input * DIMS..].to_vec(),
            vocab_size,
        })
    }
}

/// The tokens that get a row: those the tokenizer can produce from text (normalising the token,
/// without its `##`, leaves it unchanged), less the special and `[unusedN]` tokens.
pub fn kept_tokens(transformer: &Transformer) -> Result<Vec<u32>, EmbedError> {
    let tokens = vocabulary(transformer);
    let normalizer = transformer.tokenizer().get_normalizer();
    let mut keep = Vec::new();
    for (id, token) in tokens.iter().enumerate() {
        let body = token
            .strip_prefix("##")
            .filter(|b| !b.is_empty())
            .unwrap_or(token);
        if SPECIAL_TOKENS.contains(&token.as_str()) || token.starts_with("[unused") {
            continue;
        }
        let mut normalized = NormalizedString::from(body);
        if let Some(n) = normalizer {
            n.normalize(&mut normalized)
                .map_err(|e| EmbedError::Inference(e.to_string()))?;
        }
        if normalized.get() == body {
            keep.push(id as u32);
        }
    }
    Ok(keep)
}

/// The vocabulary in id order.
fn vocabulary(transformer: &Transformer) -> Vec<String> {
    let vocab = transformer.tokenizer().get_vocab(true);
    let mut tokens = vec![String::new(); vocab.len()];
    for (token, id) in vocab {
        tokens[id as usize] = token;
    }
    tokens
}

/// The transformer's mean-pooled output for each token of `ids` alone (`[CLS] token [SEP]`).
pub fn token_outputs(
    transformer: &Transformer,
    ids: &[u32],
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Vec<Vec<f32>>, EmbedError> {
    let find = |t: &str| {
        transformer
            .tokenizer()
            .token_to_id(t)
            .ok_or_else(|| EmbedError::Inference(format!("the tokenizer has no {t} token")))
    };
    let (cls, sep) = (find("[CLS]")?, find("[SEP]")?);
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(BATCH) {
        let seqs: Vec<[u32; 3]> = chunk.iter().map(|&id| [cls, id, sep]).collect();
        let seqs: Vec<&[u32]> = seqs.iter().map(|s| &s[..]).collect();
        let masks = vec![&[1u32, 1, 1][..]; seqs.len()];
        out.extend(transformer.mean_pooled(&seqs, &masks)?);
        progress(out.len(), ids.len());
    }
    Ok(out)
}

/// Distils the static table from `transformer` (see the crate docs); `progress(done, total)` is
/// called after each batch of tokens.
pub fn distill(
    transformer: &Transformer,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<Distillation, EmbedError> {
    let tokens = vocabulary(transformer);
    let keep = kept_tokens(transformer)?;
    let outputs = token_outputs(transformer, &keep, progress)?;
    let input = transformer.dims();

    let n = outputs.len() as f64;
    let mut mean = vec![0.0f64; input];
    for x in &outputs {
        mean.iter_mut()
            .zip(x)
            .for_each(|(m, &v)| *m += f64::from(v));
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let centred: Vec<Vec<f64>> = outputs
        .iter()
        .map(|x| {
            x.iter()
                .zip(&mean)
                .map(|(&v, m)| f64::from(v) - m)
                .collect()
        })
        .collect();
    let basis = top_eigenvectors(second_moment(&centred, None, input), input, DIMS);
    let mut projection = Projection {
        input,
        mean: mean.iter().map(|&x| x as f32).collect(),
        basis: basis.iter().map(|&x| x as f32).collect(),
        common: vec![0.0; DIMS],
        vocab_size: tokens.len(),
    };
    let mut rows = projection.rows(&keep, &outputs);
    // the common component: the top direction of the rows as text draws them (Zipf-weighted)
    let p = zipf(tokens.len());
    let pk: Vec<f64> = keep.iter().map(|&id| p[id as usize]).collect();
    let common = top_eigenvectors(second_moment(&rows, Some(&pk), DIMS), DIMS, 1);
    projection.common = common.iter().map(|&x| x as f32).collect();
    rows.iter_mut()
        .for_each(|row| remove_component(row, &projection.common));
    let table = write_table(&tokens, &keep, &rows);
    Ok(Distillation { table, projection })
}

/// `row −= (row · u) u` for a unit (or zero) `u`.
fn remove_component(row: &mut [f64], u: &[f32]) {
    let along: f64 = row.iter().zip(u).map(|(r, &u)| r * f64::from(u)).sum();
    row.iter_mut()
        .zip(u)
        .for_each(|(r, &u)| *r -= along * f64::from(u));
}

/// `Σ w_i x_i x_iᵀ / Σ w_i` (uniform weights when `weights` is `None`), `dims × dims` row-major.
fn second_moment(rows: &[Vec<f64>], weights: Option<&[f64]>, dims: usize) -> Vec<f64> {
    let mut m = vec![0.0; dims * dims];
    let mut total = 0.0;
    for (r, x) in rows.iter().enumerate() {
        let w = weights.map_or(1.0, |w| w[r]);
        total += w;
        for i in 0..dims {
            let wx = w * x[i];
            for j in i..dims {
                m[i * dims + j] += wx * x[j];
            }
        }
    }
    for i in 0..dims {
        for j in i..dims {
            m[i * dims + j] /= total;
            m[j * dims + i] = m[i * dims + j];
        }
    }
    m
}

/// The `k` eigenvectors of the symmetric `n × n` matrix `a` with the largest eigenvalues, as an
/// `n × k` row-major matrix, each signed so that its largest-magnitude component is positive.
/// Cyclic Jacobi rotations: slow for large `n` but simple, accurate and deterministic.
pub(crate) fn top_eigenvectors(mut a: Vec<f64>, n: usize, k: usize) -> Vec<f64> {
    let mut v = vec![0.0; n * n];
    (0..n).for_each(|i| v[i * n + i] = 1.0);
    let scale: f64 = a.iter().map(|x| x * x).sum();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|p| (p + 1..n).map(move |q| (p, q)))
            .map(|(p, q)| a[p * n + q].powi(2))
            .sum();
        if off <= scale * 1e-30 {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for r in 0..n {
                    let (x, y) = (a[r * n + p], a[r * n + q]);
                    a[r * n + p] = c * x - s * y;
                    a[r * n + q] = s * x + c * y;
                }
                for r in 0..n {
                    let (x, y) = (a[p * n + r], a[q * n + r]);
                    a[p * n + r] = c * x - s * y;
                    a[q * n + r] = s * x + c * y;
                }
                for r in 0..n {
                    let (x, y) = (v[r * n + p], v[r * n + q]);
                    v[r * n + p] = c * x - s * y;
                    v[r * n + q] = s * x + c * y;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| a[j * n + j].total_cmp(&a[i * n + i]).then(i.cmp(&j)));
    let mut out = vec![0.0; n * k];
    for (col, &e) in order.iter().take(k).enumerate() {
        let largest = (0..n).fold(0, |best, r| {
            if v[r * n + e].abs() > v[best * n + e].abs() {
                r
            } else {
                best
            }
        });
        let sign = v[largest * n + e].signum();
        for r in 0..n {
            out[r * k + col] = sign * v[r * n + e];
        }
    }
    out
}

/// Quantises `rows` (those of the tokens `keep`) and lays out the table file.
fn write_table(tokens: &[String], keep: &[u32], rows: &[Vec<f64>]) -> Vec<u8> {
    let vocab = tokens.len();
    let slots_len = (2 * vocab).next_power_of_two();
    let mut slots = vec![0u32; slots_len];
    let mut offsets = vec![0u32];
    let mut strings: Vec<u8> = Vec::new();
    for (id, token) in tokens.iter().enumerate() {
        strings.extend(token.as_bytes());
        offsets.push(strings.len() as u32);
        let mut slot = fnv1a(0x811c_9dc5, token.as_bytes()) as usize & (slots_len - 1);
        while slots[slot] != 0 {
            slot = (slot + 1) & (slots_len - 1);
        }
        slots[slot] = id as u32 + 1;
    }
    let mut row_of = vec![NO_ROW; vocab];
    for (row, &id) in keep.iter().enumerate() {
        row_of[id as usize] = row as u32;
    }
    let unk = tokens.iter().position(|t| t == "[UNK]").unwrap_or(0) as u32;
    let mut out = MAGIC.to_vec();
    for n in [
        VERSION,
        vocab as u32,
        DIMS as u32,
        rows.len() as u32,
        slots_len as u32,
        strings.len() as u32,
        unk,
        100,
    ] {
        out.extend(n.to_le_bytes());
    }
    debug_assert_eq!(out.len(), HEADER_LEN);
    for n in offsets.iter().chain(&row_of).chain(&slots) {
        out.extend(n.to_le_bytes());
    }
    let (scales, data): (Vec<f32>, Vec<Vec<i8>>) = rows.iter().map(|r| quantise(r)).unzip();
    for s in scales {
        out.extend(s.to_le_bytes());
    }
    for row in data {
        out.extend(row.iter().map(|&q| q as u8));
    }
    out.extend(strings);
    out
}

/// `(scale, q)` with `q = round(x / scale)` in -127..=127 and `scale = max |x| / 127`.
pub fn quantise(row: &[f64]) -> (f32, Vec<i8>) {
    let scale = row.iter().fold(0.0f64, |m, x| m.max(x.abs())) / 127.0;
    let q = row
        .iter()
        .map(|x| {
            if scale > 0.0 {
                (x / scale).round().clamp(-127.0, 127.0) as i8
            } else {
                0
            }
        })
        .collect();
    (scale as f32, q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_finds_the_top_eigenvectors_in_order() {
        let a = [4.0, 1.0, 0.0, 1.0, 3.0, 1.0, 0.0, 1.0, 2.0];
        let v = top_eigenvectors(a.to_vec(), 3, 2);
        let mut lambdas = Vec::new();
        for k in 0..2 {
            let x: Vec<f64> = (0..3).map(|r| v[r * 2 + k]).collect();
            let ax: Vec<f64> = (0..3)
                .map(|r| (0..3).map(|c| a[r * 3 + c] * x[c]).sum())
                .collect();
            let lambda: f64 = x.iter().zip(&ax).map(|(a, b)| a * b).sum();
            assert!(
                x.iter()
                    .zip(&ax)
                    .all(|(x, ax)| (ax - lambda * x).abs() < 1e-12),
                "{v:?}"
            );
            lambdas.push(lambda);
        }
        // the eigenvalues are 3 + √3, 3 and 3 − √3
        assert!(
            (lambdas[0] - 3.0 - 3f64.sqrt()).abs() < 1e-12 && (lambdas[1] - 3.0).abs() < 1e-12,
            "{lambdas:?}"
        );
    }

    #[test]
    fn quantise_keeps_the_largest_component_exact() {
        let (scale, q) = quantise(&[0.5, -1.0, 0.25]);
        assert_eq!(q, vec![64, -127, 32]);
        assert!((scale * 127.0 - 1.0).abs() < 1e-6);
    }
}
