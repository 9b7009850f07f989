use std::time::Instant;
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let p = baton_core::Policy::default();
    let text = std::fs::read_to_string(&path).unwrap();
    let mut norms = Vec::new();
    for line in text.lines() {
        let c = baton_core::model::parse_conversation(line, &Default::default()).unwrap();
        for m in &c.messages {
            norms.push((
                m.role == baton_core::model::Role::Customer,
                baton_core::text::normalize(&m.text),
            ));
        }
    }
    let bytes: usize = norms.iter().map(|(_, n)| n.len()).sum();
    println!("{} messages, {} bytes", norms.len(), bytes);
    let rq = &p.repeated_question;
    let lc = &p.low_confidence;
    let vip = &p.vip;
    let mut lists: Vec<(String, &baton_core::policy::Matcher)> = p
        .topics
        .list
        .iter()
        .map(|t| (format!("topic {}", t.name), &t.keywords))
        .collect();
    lists.extend([
        ("rq.question_openers".to_string(), &rq.question_openers),
        ("rq.followup".into(), &rq.followup_markers),
        ("rq.restatement".into(), &rq.restatement_markers),
        ("rq.accepted".into(), &rq.accepted_openers),
        ("lc.hedges".into(), &lc.hedges),
        ("lc.weak".into(), &lc.weak_hedges),
        ("lc.aff".into(), &lc.affirmative_openers),
        ("lc.neg".into(), &lc.negative_openers),
        ("lc.contra".into(), &lc.contradiction_markers),
        ("vip.pleas".into(), &vip.pleasantries),
        ("vip.closings".into(), &vip.closings),
        ("vip.still".into(), &vip.still_open),
        ("urgency".into(), &p.priority.urgency),
        ("neg explicit".into(), &p.explicit_request.negations),
        ("not_meant canc".into(), &p.cancellation.not_meant),
    ]);
    for round in 0..2 {
        for (name, m) in &lists {
            let t = Instant::now();
            let mut n = 0;
            for (_, s) in &norms {
                n += m.find_iter(s).count();
            }
            if round == 1 {
                println!(
                    "{:>8.1} ms {:>7} hits {}",
                    t.elapsed().as_secs_f64() * 1e3,
                    n,
                    name
                );
            }
        }
    }
}
