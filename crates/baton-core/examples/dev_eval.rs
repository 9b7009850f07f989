//! Scores a labelled conversation file with a policy, without building the CLI (for sweeps):
//! `cargo run --release -p baton-core --example dev_eval -- FILE [POLICY] [-v]`.
//! `baton eval` is the command users run; this prints the same summary lines.

use baton_core::eval::Evaluator;
use baton_core::model::{parse_conversation, InputLimits};
use baton_core::{decide, Policy};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let data = std::fs::read_to_string(&args[1]).expect("conversation file");
    let policy = match args.get(2).filter(|a| !a.starts_with('-')) {
        Some(p) => {
            Policy::from_toml(&std::fs::read_to_string(p).expect("policy")).expect("valid policy")
        }
        None => Policy::default(),
    };
    let verbose = args.iter().any(|a| a == "-v");
    if args.iter().any(|a| a == "--lodo") {
        for d in baton_core::lodo::leave_one_domain_out(&policy) {
            println!(
                "  {:<20} P {:.3} R {:.3} F1 {:.3} reason {:.3} topic {:.3} FP {}",
                d.domain,
                d.precision,
                d.recall,
                d.f1,
                d.reason_accuracy,
                d.topic_accuracy,
                d.false_positives
            );
        }
    }
    let mut e = Evaluator::new();
    for line in data.lines().filter(|l| !l.trim().is_empty()) {
        let c = parse_conversation(line, &InputLimits::default()).expect("conversation");
        let d = decide(&policy, &c);
        if let Some(x) = &c.expected {
            e.add(x, &d);
        }
    }
    let r = e.finish();
    println!(
        "P {:.3} R {:.3} F1 {:.3} (TP {} FP {} FN {}) exact {:.3} reason {:.3} skill {:.3}",
        r.precision,
        r.recall,
        r.f1,
        r.true_positives,
        r.false_positives,
        r.false_negatives,
        r.timing_exact,
        r.reason_accuracy,
        r.skill_accuracy
    );
    if verbose {
        for m in &r.misses {
            let first = m.decision.reasons.first();
            println!(
                "  {} [{}] expected {:?}@{:?} {:?} | got @{:?} {} skill {:?} | {}",
                m.id,
                m.kinds.join(","),
                m.expected.reason,
                m.expected.at,
                m.expected.skill,
                m.decision.at,
                first.map_or("-", |r| r.kind.as_str()),
                m.decision.skill,
                first.map_or("", |r| r.evidence.as_str())
            );
        }
    }
}
