//! The transformer, one message at a time, on the 200 first texts of three words or more of
//! baton-embed's tokenizer fixture (when the model is there: `scripts/fetch-model.sh`, or BATON_MODEL_DIR). Throughput is
//! in messages.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn transformer_tier(c: &mut Criterion) {
    let dir = std::env::var("BATON_MODEL_DIR").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../models/all-MiniLM-L6-v2").into()
    });
    let model = match baton_transformer::Transformer::load(std::path::Path::new(&dir)) {
        Ok(model) => model,
        Err(e) => panic!("transformer bench: {e} (run scripts/fetch-model.sh)"),
    };
    let texts: Vec<String> = include_str!("../../baton-embed/tests/fixtures/tokenizer.jsonl")
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .filter(|t| t.split_whitespace().count() >= 3)
        .take(200)
        .collect();
    let mut group = c.benchmark_group("transformer");
    group.throughput(Throughput::Elements(texts.len() as u64));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20));
    group.bench_function("embed", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(model.embed(black_box(t)).unwrap());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, transformer_tier);
criterion_main!(benches);
