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

    // Varied text: conversations recombined from the intent corpus and the dev set's messages, so
    // that no two are alike (cycling a few examples keeps the regex engine's DFA cache warm and
    // flatters it). The same messages, rules only (the engine before meaning) and with meaning.
    let varied = varied_conversations(2_000);
    let varied_messages: u64 = varied.iter().map(|c| c.messages.len() as u64).sum();
    let rules_only = Policy {
        semantic: None,
        ..Policy::default()
    };
    let mut group = c.benchmark_group("varied");
    group.throughput(Throughput::Elements(varied_messages));
    group.sample_size(10);
    for (name, p) in [("rules_only", &rules_only), ("with_meaning", &policy)] {
        // As `baton analyze` does: each conversation stops at the message that escalates.
        group.bench_function(name, |b| {
            b.iter(|| {
                for conv in &varied {
                    black_box(baton_core::decide(p, conv));
                }
            })
        });
    }
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

/// `n` conversations of 2 to 5 exchanges: customer messages drawn from the intent corpus (and
/// the dev set's customer messages when `../shared/data/escalation-dev` is beside the
/// repository), AI replies from the dev set or a few stock replies, numbers varied.
fn varied_conversations(n: usize) -> Vec<baton_core::Conversation> {
    use baton_core::{Conversation, Message, Role};
    use rand::{Rng, SeedableRng};
    let mut customer_texts: Vec<String> = baton_core::semantic::bank::builtin()
        .into_iter()
        .map(|e| e.text)
        .collect();
    let mut ai_texts: Vec<String> = vec![
        "I can help with that. Could you share your order number?".into(),
        "Thanks, I've checked your account and everything looks fine on our side.".into(),
        "I'm not sure, but it might be a temporary issue. I think it should resolve itself.".into(),
    ];
    let dev = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/escalation-dev/conversations.jsonl"
    );
    if let Ok(raw) = std::fs::read_to_string(dev) {
        for line in raw.lines().filter(|l| !l.trim().is_empty()) {
            if let Ok(c) = parse_conversation(line, &InputLimits::default()) {
                for m in c.messages {
                    match m.role {
                        Role::Customer => customer_texts.push(m.text),
                        _ => ai_texts.push(m.text),
                    }
                }
            }
        }
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let template =
        parse_conversation(EXAMPLES.lines().next().unwrap(), &InputLimits::default()).unwrap();
    (0..n)
        .map(|i| {
            let exchanges = rng.random_range(2..=5);
            let mut messages = Vec::new();
            for _ in 0..exchanges {
                for (role, pool) in [(Role::Customer, &customer_texts), (Role::Ai, &ai_texts)] {
                    let text = pool[rng.random_range(0..pool.len())]
                        .replace('2', &rng.random_range(0..10).to_string());
                    messages.push(Message {
                        role,
                        text,
                        at: template.messages[0].at,
                        confidence: None,
                        kb_articles: Vec::new(),
                    });
                }
            }
            Conversation {
                id: format!("varied-{i}"),
                customer: template.customer.clone(),
                messages,
                expected: None,
            }
        })
        .collect()
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
