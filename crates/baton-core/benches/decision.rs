//! Per-message cost of the engine and of sentiment scoring.
//!
//! `cargo bench -p baton-core --bench decision`. Figures and their reference runs are recorded
//! in BENCHMARKS.md.

use baton_core::model::{parse_conversation, InputLimits};
use baton_core::routing::{choose_agent, AgentSlot, Need, Seniority};
use baton_core::{sentiment, ConversationState, Policy, Priority};
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

const EXAMPLES: &str = include_str!("../../../examples/conversations.jsonl");

fn bench(c: &mut Criterion) {
    let policy = Policy::default();
    let conversations: Vec<_> = EXAMPLES
        .lines()
        .map(|l| parse_conversation(l, &InputLimits::default()).unwrap())
        .collect();
    let messages: u64 = conversations.iter().map(|c| c.messages.len() as u64).sum();

    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(messages));
    // Every message of every example folded into fresh state (no early stop), so each message
    // pays for all signals.
    group.bench_function("fold_all_messages", |b| {
        b.iter(|| {
            for conv in &conversations {
                let mut state = ConversationState::new();
                for m in &conv.messages {
                    black_box(state.push(&policy, &conv.customer, m));
                }
                black_box(state.decision(&policy, &conv.id, &conv.customer));
            }
        })
    });
    group.finish();

    let texts: Vec<&str> = conversations
        .iter()
        .flat_map(|c| c.messages.iter().map(|m| m.text.as_str()))
        .collect();
    let mut group = c.benchmark_group("sentiment");
    group.throughput(Throughput::Elements(texts.len() as u64));
    let analyzer = sentiment::analyzer();
    group.bench_function("polarity_scores", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(analyzer.polarity_scores(t));
            }
        })
    });
    // The VADER tweets corpus, when the shared data folder sits beside the repository (or
    // BATON_VADER_TWEETS names the file): the same texts scripts/vader_compare.py times in Python.
    let corpus = std::env::var("BATON_VADER_TWEETS").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/data/vader-icwsm2014/tweets_GroundTruth.txt"
        )
        .into()
    });
    {
        let raw = std::fs::read_to_string(&corpus).unwrap_or_else(|e| {
            panic!(
                "the sentiment bench needs the VADER tweets corpus: cannot read {corpus}: {e}; \
                 put the shared data folder beside the repository or set BATON_VADER_TWEETS"
            )
        });
        let tweets: Vec<String> = raw
            .lines()
            .filter_map(|l| {
                l.trim_end_matches('\r')
                    .splitn(3, '\t')
                    .nth(2)
                    .map(str::to_string)
            })
            .collect();
        group.throughput(Throughput::Elements(tweets.len() as u64));
        group.bench_function("vader_tweets_corpus", |b| {
            b.iter(|| {
                for t in &tweets {
                    black_box(analyzer.polarity_scores(t));
                }
            })
        });
    }
    group.finish();
}

/// One routing decision among 200 agents with mixed skills, loads and seniority.
fn routing(c: &mut Criterion) {
    let skills = [
        "billing",
        "technical",
        "retention",
        "legal",
        "enterprise",
        "general",
    ];
    let ids: Vec<String> = (0..200).map(|i| format!("agent-{i}")).collect();
    let lists: Vec<Vec<String>> = (0..200)
        .map(|i| vec![skills[i % 6].to_string(), skills[(i / 6) % 6].to_string()])
        .collect();
    let agents: Vec<AgentSlot> = (0..200)
        .map(|i| AgentSlot {
            id: &ids[i],
            skills: &lists[i],
            capacity: 4,
            active: (i % 5) as u32,
            seniority: [Seniority::Junior, Seniority::Regular, Seniority::Senior][i % 3],
            available: i % 7 != 0,
        })
        .collect();
    let need = Need {
        skill: "billing",
        priority: Priority::High,
        vip: false,
        exclude: &[],
    };
    c.bench_function("routing/choose_agent_200_agents", |b| {
        b.iter(|| black_box(choose_agent(black_box(&need), black_box(&agents))))
    });
}

criterion_group!(benches, bench, routing);
criterion_main!(benches);
