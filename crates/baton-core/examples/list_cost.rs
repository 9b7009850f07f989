//! What each pattern list of the default policy costs over the messages of a file, searched the
//! way the engine searches it: a list the screen reads by its lines the screen lets through
//! (plus the screen's own pass), any other list whole. Finds the list to rewrite when `baton
//! analyze` slows down (BENCHMARKS.md, session 30):
//!
//! `cargo run --release -p baton-core --example list_cost -- CONVERSATIONS.jsonl`
use baton_core::policy::Matcher;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: list_cost CONVERSATIONS.jsonl")?;
    let p = baton_core::Policy::default();
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let mut norms = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let c = baton_core::model::parse_conversation(line, &Default::default())
            .map_err(|e| format!("{path}:{}: {e}", i + 1))?;
        norms.extend(
            c.messages
                .iter()
                .map(|m| baton_core::text::normalize(&m.text)),
        );
    }
    let bytes: usize = norms.iter().map(String::len).sum();
    println!("{} messages, {bytes} bytes (every role)", norms.len());
    let t = Instant::now();
    let hits: Vec<_> = norms.iter().map(|n| p.screen.matches(n)).collect();
    println!("{:>8.1} ms  the screen", t.elapsed().as_secs_f64() * 1e3);
    let (rq, lc, vip) = (&p.repeated_question, &p.low_confidence, &p.vip);
    let mut lists: Vec<(String, &Matcher)> = vec![
        ("explicit_request".into(), &p.explicit_request.patterns),
        ("cancellation".into(), &p.cancellation.patterns),
        ("cancellation.whole".into(), &p.cancellation.whole_patterns),
        ("legal_compliance".into(), &p.legal_compliance.patterns),
        (
            "transaction_dispute".into(),
            &p.transaction_dispute.patterns,
        ),
        ("frustration".into(), &p.frustration.patterns),
        ("emotion_terms".into(), &p.sentiment_drop.emotion_terms),
        ("restatement_markers".into(), &rq.restatement_markers),
        ("question_openers".into(), &rq.question_openers),
        ("followup_markers".into(), &rq.followup_markers),
        ("accepted_openers".into(), &rq.accepted_openers),
        ("hedges".into(), &lc.hedges),
        ("weak_hedges".into(), &lc.weak_hedges),
        ("pleasantries".into(), &vip.pleasantries),
        ("closings".into(), &vip.closings),
        ("still_open".into(), &vip.still_open),
        ("urgency".into(), &p.priority.urgency),
        ("cancellation.not_meant".into(), &p.cancellation.not_meant),
    ];
    for c in &p.sensitive_topic.categories {
        lists.push((format!("sensitive_topic.{}", c.name), &c.patterns));
    }
    for t in &p.topics.list {
        lists.push((format!("topics.{}", t.name), &t.keywords));
    }
    // Twice: the first round fills the lazy DFAs' caches.
    for round in 0..2 {
        for (name, m) in &lists {
            let t = Instant::now();
            let mut found = 0;
            for (n, h) in norms.iter().zip(&hits) {
                found += m.screened(h).map_or(0, |s| s.find_iter(n).count());
            }
            if round == 1 {
                let ms = t.elapsed().as_secs_f64() * 1e3;
                println!("{ms:>8.1} ms {found:>8} matches  {name}");
            }
        }
    }
    Ok(())
}
