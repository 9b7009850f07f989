//! A policy file: loading never panics (errors name line and key), and a policy that loads
//! decides a conversation without panicking.
#![no_main]

use baton_core::model::{parse_conversation, InputLimits};
use baton_core::{decide, Policy};
use libfuzzer_sys::fuzz_target;

const CONVERSATION: &str = r#"{"id":"f","customer":{"id":"c","name":"Ann","tier":"vip","lifetime_value":5000},"messages":[{"role":"customer","text":"I was charged twice, this is ridiculous!!","at":"2026-01-01T10:00:00Z"},{"role":"ai","text":"I think it might be a hold.","at":"2026-01-01T10:00:10Z","confidence":0.4},{"role":"customer","text":"Let me talk to a human, I want to cancel my account","at":"2026-01-01T10:01:00Z"}]}"#;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Policy::from_toml(text) {
        Ok(policy) => {
            let conv = parse_conversation(CONVERSATION, &InputLimits::default()).unwrap();
            let d = decide(&policy, &conv);
            assert_eq!(d.escalate, d.at.is_some());
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
        }
    }
});
