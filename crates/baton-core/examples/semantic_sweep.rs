//! Sweeps the semantic thresholds on leave-one-domain-out scores of the shipped corpus: for
//! each domain the detectors are rebuilt without it, each of its lines is scored once, and
//! every (threshold, margin) pair is then evaluated together with the rules.
//!
//! `cargo run --release -p baton-core --example semantic_sweep -- [linear|nearest] [ridge] [counter_weight]`

use baton_core::lodo::one_message;
use baton_core::semantic::{bank, Method, Semantic, SemanticConfig, CLASSES, DETECTORS};
use baton_core::{decide, Policy};

/// Linear scores, linear none, nearest scores, nearest none.
type Part = (
    [f32; CLASSES],
    [f32; CLASSES],
    [f32; CLASSES],
    [f32; CLASSES],
);

struct Scored {
    class: usize,
    rule: Option<usize>,
    /// Per sentence (and whole message): per class score and none score.
    parts: Vec<Part>,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let method = match args.get(1).map(String::as_str) {
        Some("nearest") => Method::Nearest,
        _ => Method::Linear,
    };
    let ridge: f32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1.0);
    let counter_weight: f32 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let config = SemanticConfig {
        method,
        ridge,
        counter_weight,
        neighbours: args.get(4).and_then(|s| s.parse().ok()).unwrap_or(2),
        example_weight: args.get(5).and_then(|s| s.parse().ok()).unwrap_or(1.0),
        ..SemanticConfig::default()
    };
    let rules = Policy {
        semantic: None,
        ..Policy::default()
    };
    let topics: Vec<String> = ["billing", "technical", "general"]
        .map(String::from)
        .to_vec();
    let all = bank::builtin();
    let mut domains: Vec<String> = all.iter().filter_map(|e| e.domain.clone()).collect();
    domains.sort();
    domains.dedup();
    let mut scored = Vec::new();
    for d in &domains {
        let kept: Vec<_> = all
            .iter()
            .filter(|e| e.domain.as_ref() != Some(d))
            .cloned()
            .collect();
        let sem = Semantic::build(kept, &topics, config.clone());
        let mut v = vec![0.0; sem.dims()];
        for e in all.iter().filter(|e| e.domain.as_ref() == Some(d)) {
            let dec = decide(&rules, &one_message(&e.text));
            let rule = dec
                .reasons
                .iter()
                .find_map(|r| DETECTORS.iter().position(|k| r.kind == *k).map(|p| p + 1));
            let norm = baton_core::text::normalize(&e.text);
            let mut parts = Vec::new();
            for r in sem.chunks(&norm) {
                sem.embed(&norm[r], &mut v);
                let (a, b) = sem.class_scores(&v);
                let (c, d) = sem.nearest_scores(&v);
                parts.push((a, b, c, d));
            }
            if parts.len() > 1 {
                sem.embed(&norm, &mut v);
                let (a, b) = sem.class_scores(&v);
                let (c, d) = sem.nearest_scores(&v);
                parts.push((a, b, c, d));
            }
            scored.push(Scored {
                class: if e.counter { 0 } else { e.class },
                rule,
                parts,
            });
        }
    }
    println!("method {method:?} ridge {ridge} counter_weight {counter_weight}");
    let (mut tp, mut fp, mut pos) = (0, 0, 0);
    for s in &scored {
        pos += usize::from(s.class > 0);
        if s.rule.is_some() {
            if s.class > 0 {
                tp += 1
            } else {
                fp += 1
            }
        }
    }
    println!(
        "rules only: P {:.3} R {:.3}",
        tp as f64 / (tp + fp) as f64,
        tp as f64 / pos as f64
    );
    let thresholds: Vec<f32> = match method {
        Method::Linear => vec![0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5],
        Method::Nearest => vec![0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7],
    };
    let margins = [0.0f32, 0.01, 0.02, 0.03, 0.05, 0.1, 0.2];
    let agreements: Vec<f32> = std::env::var("AGREE")
        .ok()
        .map(|a| a.split(',').map(|x| x.parse().unwrap()).collect())
        .unwrap_or(vec![-9.0]);
    for g in &agreements {
        for t in &thresholds {
            for m in &margins {
                let (mut tp, mut fp, mut right) = (0, 0, 0);
                for s in &scored {
                    let mut pred = s.rule;
                    if pred.is_none() {
                        let mut best: Option<(usize, f32)> = None;
                        for (sc, none, near, near_none) in &s.parts {
                            let (c, v) = (1..CLASSES)
                                .map(|c| (c, sc[c]))
                                .max_by(|a, b| a.1.total_cmp(&b.1))
                                .unwrap();
                            if v >= *t
                                && v - none[c] >= *m
                                && near[c] - near_none[c] >= *g
                                && best.is_none_or(|(_, b)| v > b)
                            {
                                best = Some((c, v));
                            }
                        }
                        pred = best.map(|(c, _)| c);
                    }
                    if let Some(c) = pred {
                        if s.class > 0 {
                            tp += 1;
                            right += usize::from(c == s.class);
                        } else {
                            fp += 1;
                        }
                    }
                }
                let p = tp as f64 / (tp + fp).max(1) as f64;
                let r = tp as f64 / pos as f64;
                println!(
                    "g {g:.2} t {t:.2} m {m:.2}: P {p:.3} R {r:.3} F1 {:.3} reason {:.3} FP {fp}",
                    2.0 * p * r / (p + r),
                    right as f64 / tp.max(1) as f64
                );
            }
        }
    }
}
