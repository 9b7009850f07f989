//! A line of a conversation file: parsing never panics, and whatever parses goes through the
//! whole engine (decision, context package, quality score) without panicking.
#![no_main]

use baton_core::model::{parse_conversation, InputLimits};
use baton_core::{context, decide, quality, EscalationFacts, Policy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    static POLICY: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
    let policy = POLICY.get_or_init(Policy::default);
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(conv) = parse_conversation(line, &InputLimits::default()) else {
        return;
    };
    let d = decide(policy, &conv);
    let package = context::build(&conv, &d, policy, Some("Sam"), "Billing");
    if let Some(at) = d.at {
        let facts =
            EscalationFacts::of(policy, &conv.messages, at).expect("escalated at a message");
        assert_eq!(facts.at, at);
        let q = quality::score(
            policy,
            &package,
            &conv.messages,
            &quality::HandoffFacts {
                at,
                transfers: 0,
                accepted_at: None,
                resolved_at: None,
            },
        );
        assert!((0.0..=100.0).contains(&q.score), "{}", q.score);
    }
});
