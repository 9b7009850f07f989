//! The transformer tier (feature `transformer`) against its references. Tests that need
//! models/all-MiniLM-L6-v2 (scripts/fetch-model.sh; or BATON_MODEL_DIR) print why they are
//! skipped when it is absent.
#![cfg(feature = "transformer")]

use std::path::{Path, PathBuf};

use baton_embed::{cosine, EmbedError, StaticModel};
use baton_transformer::distill::{kept_tokens, quantise, token_outputs, Projection};
use baton_transformer::{Transformer, ALL_MINILM_L6_V2_SHA256};

fn model_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("BATON_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/all-MiniLM-L6-v2")
        });
    if dir.join("model.safetensors").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: no model at {} (run scripts/fetch-model.sh)",
            dir.display()
        );
        None
    }
}

fn transformer() -> Option<Transformer> {
    model_dir().map(|dir| Transformer::load_verified(&dir, ALL_MINILM_L6_V2_SHA256).unwrap())
}

#[test]
fn candle_matches_the_numpy_reference_vectors() {
    let Some(model) = transformer() else { return };
    // float64 numpy forward pass of the same weights (scripts/distill_reference.py vectors)
    let fixture = include_str!("../../baton-embed/tests/fixtures/reference_vectors.jsonl");
    let mut count = 0;
    for line in fixture.lines() {
        let case: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = case["text"].as_str().unwrap();
        let want: Vec<f32> = serde_json::from_value(case["embedding"].clone()).unwrap();
        let got = model.embed(text).unwrap();
        let similarity = cosine(&got, &want);
        assert!(similarity > 0.999, "{text:?}: cosine {similarity}");
        count += 1;
    }
    assert!(count >= 30);
    let batch = model
        .embed_batch(&["ok", "can I speak to a real person"])
        .unwrap();
    assert!(
        cosine(&batch[0], &model.embed("ok").unwrap()) > 0.9999,
        "padding changes nothing"
    );
}

#[test]
fn wordpiece_matches_the_tokenizers_crate() {
    let Some(dir) = model_dir() else { return };
    let mut reference = tokenizers::Tokenizer::from_file(dir.join("tokenizer.json")).unwrap();
    reference.with_padding(None);
    reference.with_truncation(None).unwrap();
    let texts: Vec<String> = include_str!("../../baton-embed/tests/fixtures/tokenizer.jsonl")
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["text"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let model = StaticModel::embedded();
    let mut ids = Vec::new();
    // the fixture's texts and every pair of them joined, which mixes scripts and edge cases
    let joined = texts
        .iter()
        .zip(texts.iter().rev())
        .map(|(a, b)| format!("{a}{b}"));
    for text in texts.iter().cloned().chain(joined) {
        let want = reference.encode(text.as_str(), false).unwrap();
        model.tokenize_ids(&text, &mut ids);
        assert_eq!(ids, want.get_ids(), "{text:?}");
    }
}

#[test]
fn redistilled_sample_rows_match_the_committed_table() {
    let Some(model) = transformer() else { return };
    let projection = Projection::from_bytes(include_bytes!(
        "../../baton-embed/data/minilm-l6-projection.bin"
    ))
    .unwrap();
    // the distilled table, before scripts/tune_table.py fitted it to whole sentences
    let table =
        StaticModel::from_bytes(include_bytes!("../../baton-embed/data/minilm-l6-base.bin"))
            .unwrap();
    let keep = kept_tokens(&model).unwrap();
    for id in 0..table.vocab_size() as u32 {
        assert_eq!(
            table.row(id).is_some(),
            keep.binary_search(&id).is_ok(),
            "token {id} {:?}",
            table.token(id)
        );
    }
    let sample: Vec<u32> = keep.iter().copied().step_by(keep.len() / 200).collect();
    let outputs = token_outputs(&model, &sample, &mut |_, _| {}).unwrap();
    for (id, row) in sample.iter().zip(projection.rows(&sample, &outputs)) {
        let (scale, q) = quantise(&row);
        let committed = table.row(*id).unwrap();
        let redistilled: Vec<f32> = q.iter().map(|&q| scale * f32::from(q)).collect();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        let similarity = cosine(&committed, &redistilled) / (norm(&committed) * norm(&redistilled));
        assert!(
            similarity > 0.999,
            "token {id} {:?}: cosine {similarity}",
            table.token(*id)
        );
        let worst = committed
            .iter()
            .zip(&redistilled)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(
            worst <= 1.01 * scale,
            "token {id}: a component moved by {worst} (scale {scale})"
        );
    }
}

fn scratch_folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("baton-embed-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn file_error(result: Result<Transformer, EmbedError>) -> (PathBuf, String) {
    match result {
        Err(EmbedError::File { path, problem }) => (path, problem),
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a bad model folder was accepted"),
    }
}

const CONFIG: &str = r#"{"vocab_size": 2, "hidden_size": 4, "num_hidden_layers": 1, "num_attention_heads": 1,
 "intermediate_size": 4, "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "max_position_embeddings": 8,
 "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0}"#;
const TOKENIZER: &str = r###"{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
 "normalizer": null, "pre_tokenizer": null, "post_processor": null, "decoder": null,
 "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
 "max_input_chars_per_word": 100, "vocab": {"[UNK]": 0, "a": 1}}}"###;

#[test]
fn a_missing_folder_is_named() {
    let dir = Path::new("/nonexistent/all-MiniLM-L6-v2");
    let (path, problem) = file_error(Transformer::load(dir));
    assert_eq!(path, dir);
    assert!(problem.contains("fetch-model.sh"), "{problem}");
}

#[test]
fn a_missing_or_corrupt_file_is_named() {
    let dir = scratch_folder("corrupt");
    let (path, _) = file_error(Transformer::load(&dir));
    assert_eq!(path, dir.join("config.json"));

    std::fs::write(dir.join("config.json"), "{\"hidden_size\": 4}").unwrap();
    let (path, problem) = file_error(Transformer::load(&dir));
    assert_eq!(path, dir.join("config.json"));
    assert!(problem.contains("not a BERT config"), "{problem}");

    std::fs::write(dir.join("config.json"), CONFIG).unwrap();
    std::fs::write(dir.join("tokenizer.json"), "{").unwrap();
    let (path, _) = file_error(Transformer::load(&dir));
    assert_eq!(path, dir.join("tokenizer.json"));

    std::fs::write(dir.join("tokenizer.json"), TOKENIZER).unwrap();
    std::fs::write(dir.join("model.safetensors"), b"not safetensors").unwrap();
    let (path, _) = file_error(Transformer::load(&dir));
    assert_eq!(path, dir.join("model.safetensors"));

    let (path, problem) = file_error(Transformer::load_verified(&dir, ALL_MINILM_L6_V2_SHA256));
    assert_eq!(path, dir.join("model.safetensors"));
    assert!(
        problem.contains("sha256") && problem.contains(ALL_MINILM_L6_V2_SHA256),
        "{problem}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_full_tier_puts_each_sentence_next_to_its_own_static_vector() {
    let Some(dir) = model_dir() else { return };
    let full = baton_transformer::FullModel::load(&dir).unwrap();
    let table = StaticModel::embedded();
    let texts: Vec<String> =
        include_str!("../../baton-embed/tests/fixtures/reference_vectors.jsonl")
            .lines()
            .map(|l| {
                let case: serde_json::Value = serde_json::from_str(l).unwrap();
                case["text"].as_str().unwrap().to_lowercase()
            })
            .filter(|t| t.split_whitespace().count() >= 4)
            .collect();
    assert!(texts.len() >= 10, "{} sentences", texts.len());
    let statics: Vec<Vec<f32>> = texts.iter().map(|t| table.embed_vec(t)).collect();
    let mut own_nearest = 0;
    for (i, t) in texts.iter().enumerate() {
        let mut v = vec![0.0f32; full.dims()];
        full.embed(t, &mut v).unwrap();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{t:?}: norm {norm}");
        let nearest = (0..texts.len())
            .max_by(|&a, &b| cosine(&v, &statics[a]).total_cmp(&cosine(&v, &statics[b])))
            .unwrap();
        own_nearest += usize::from(nearest == i);
    }
    // The table imitates the projected transformer: most sentences' transformer vectors are
    // nearest to their own static vectors (a wrong or stale projection scatters them).
    assert!(
        own_nearest * 10 >= texts.len() * 8,
        "{own_nearest} of {} sentences nearest to their own static vector",
        texts.len()
    );
}

#[test]
fn the_full_tier_refuses_a_model_other_than_the_one_the_table_was_tuned_to() {
    let Some(dir) = model_dir() else { return };
    let copy = scratch_folder("full-tier-other-model");
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(dir.join(f), copy.join(f)).unwrap();
    }
    let mut weights = std::fs::read(dir.join("model.safetensors")).unwrap();
    let last = weights.len() - 1;
    weights[last] ^= 1;
    std::fs::write(copy.join("model.safetensors"), weights).unwrap();
    let Err(e) = baton_transformer::FullModel::load(&copy) else {
        panic!("a changed model was accepted")
    };
    assert!(e.to_string().contains("sha256"), "{e}");
}
