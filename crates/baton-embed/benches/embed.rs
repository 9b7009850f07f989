//! Tokenize and embed per message on varied text: the VADER tweets and Amazon review snippets
//! (about 7,900 different sentences) when the shared data folder sits beside the repository (or
//! BATON_EMBED_CORPUS names a folder holding them), else the tokenizer fixture's 471 texts.
//! Throughput is in messages. The transformer's bench is baton-transformer's.

use std::hint::black_box;
use std::time::Duration;

use baton_embed::StaticModel;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn corpus() -> Vec<String> {
    let folder = std::env::var("BATON_EMBED_CORPUS").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/vader-icwsm2014"
        )
        .into()
    });
    let mut texts: Vec<String> = [
        "tweets_GroundTruth.txt",
        "amazonReviewSnippets_GroundTruth.txt",
    ]
    .iter()
    .filter_map(|name| std::fs::read_to_string(format!("{folder}/{name}")).ok())
    .flat_map(|raw| {
        raw.lines()
            .filter_map(|l| {
                l.trim_end_matches('\r')
                    .splitn(3, '\t')
                    .nth(2)
                    .map(str::to_string)
            })
            .collect::<Vec<_>>()
    })
    .collect();
    if texts.is_empty() {
        let fixture = include_str!("../tests/fixtures/tokenizer.jsonl");
        texts = fixture
            .lines()
            .filter_map(|l| {
                let start = l.find("\"text\": \"")? + 9;
                let end = l.find("\", \"ids\"")?;
                Some(l[start..end].to_string())
            })
            .collect();
    }
    texts
}

fn static_tier(c: &mut Criterion) {
    let texts = corpus();
    let model = StaticModel::embedded();
    let mut ids = Vec::new();
    let tokens: usize = texts
        .iter()
        .map(|t| {
            model.tokenize_ids(t, &mut ids);
            ids.len()
        })
        .sum();
    let words: usize = texts.iter().map(|t| t.split_whitespace().count()).sum();
    eprintln!(
        "corpus: {} messages, {:.1} words and {:.1} tokens per message",
        texts.len(),
        words as f64 / texts.len() as f64,
        tokens as f64 / texts.len() as f64
    );
    let mut group = c.benchmark_group("static");
    group.throughput(Throughput::Elements(texts.len() as u64));
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(5));
    group.bench_function("tokenize", |b| {
        b.iter(|| {
            for t in &texts {
                model.tokenize_ids(black_box(t), &mut ids);
                black_box(&ids);
            }
        })
    });
    let mut out = vec![0.0; model.dims()];
    group.bench_function("embed", |b| {
        b.iter(|| {
            for t in &texts {
                model.embed(black_box(t), &mut out);
                black_box(&out);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, static_tier);
criterion_main!(benches);
