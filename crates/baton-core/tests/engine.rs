//! Engine properties (proptest) and decision snapshots (insta) over the shipped examples.

use baton_core::model::{
    parse_conversation, Conversation, Customer, InputLimits, Message, Role, Tier,
};
use baton_core::policy::DEFAULT_POLICY;
use baton_core::{decide, sentiment, ConversationState, EscalationFacts, Policy};
use proptest::prelude::*;

fn policy() -> &'static Policy {
    static POLICY: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
    POLICY.get_or_init(Policy::default)
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Customer), Just(Role::Ai), Just(Role::Agent)]
}

fn tier() -> impl Strategy<Value = Tier> {
    prop::sample::select(Tier::ALL.to_vec())
}

/// Text mixing arbitrary Unicode with words the signals look for, so branches are reached.
fn text() -> impl Strategy<Value = String> {
    let words = prop::sample::select(vec![
        "cancel",
        "my",
        "account",
        "human",
        "agent",
        "please",
        "not",
        "no need",
        "fraud",
        "gdpr",
        "useless",
        "when",
        "does",
        "data",
        "renew",
        "?",
        "!!!",
        "I think",
        "might",
        "laid off",
        "can't pay",
        "😢",
        "upset",
        "but",
        "kind of",
        "VERY",
        "ridiculous",
        "the",
        "bomb",
        ",",
        ".",
    ]);
    prop_oneof![
        ".{0,300}",
        prop::collection::vec(words, 0..60).prop_map(|w| w.join(" ")),
    ]
}

fn message() -> impl Strategy<Value = Message> {
    (role(), text(), proptest::option::of(0.0f64..=1.0)).prop_map(|(role, text, confidence)| {
        Message {
            role,
            text,
            at: "2026-01-01T00:00:00Z".parse().unwrap(),
            confidence,
            kb_articles: vec![],
        }
    })
}

fn conversation() -> impl Strategy<Value = Conversation> {
    (
        tier(),
        0.0f64..1e6,
        prop::collection::vec((message(), 0i64..4000), 0..12),
    )
        .prop_map(|(tier, ltv, timed)| {
            // Non-decreasing times, a few seconds to an hour apart.
            let mut at: jiff::Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
            let messages = timed
                .into_iter()
                .map(|(mut m, gap)| {
                    at += jiff::SignedDuration::from_secs(gap);
                    m.at = at;
                    m
                })
                .collect();
            (tier, ltv, messages)
        })
        .prop_map(|(tier, ltv, messages)| Conversation {
            id: "p".into(),
            customer: Customer {
                id: "c".into(),
                name: "N".into(),
                tier,
                lifetime_value: ltv,
                currency: None,
                timezone: None,
            },
            messages,
            expected: None,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decisions_are_well_formed(c in conversation()) {
        let d = decide(policy(), &c);
        prop_assert_eq!(d.escalate, d.at.is_some());
        prop_assert_eq!(d.escalate, !d.reasons.is_empty());
        prop_assert_eq!(d.escalate, d.skill.is_some());
        if let Some(at) = d.at {
            prop_assert!(at < c.messages.len());
            for r in &d.reasons {
                prop_assert_eq!(r.message, at);
            }
            prop_assert!(policy().skills.contains(d.skill.as_ref().unwrap()));
        }
    }

    #[test]
    fn folding_is_incremental(c in conversation()) {
        // Deciding message by message gives the same answer as deciding on the whole.
        let whole = decide(policy(), &c);
        let mut state = ConversationState::new();
        let mut at = None;
        for (i, m) in c.messages.iter().enumerate() {
            if state.push(policy(), &c.customer, m) {
                at = Some(i);
                break;
            }
        }
        prop_assert_eq!(at, whole.at);
        // The escalation facts kept while folding equal those read off the transcript.
        let from_transcript = at.and_then(|at| EscalationFacts::of(policy(), &c.messages, at));
        prop_assert_eq!(state.escalation_facts(), from_transcript);
    }

    #[test]
    fn sentiment_is_bounded(t in text()) {
        let s = sentiment::polarity_scores(&t);
        prop_assert!((-1.0..=1.0).contains(&s.compound));
        let total = s.pos + s.neu + s.neg;
        prop_assert!(total == 0.0 || (total - 1.0).abs() < 1e-9);
    }

    #[test]
    fn parser_never_panics(line in ".{0,400}") {
        let _ = parse_conversation(&line, &InputLimits::default());
    }

    #[test]
    fn parser_never_panics_on_json_like_input(
        id in ".{0,10}", tier in ".{0,10}", role in ".{0,10}", at in ".{0,30}", conf in any::<f64>()
    ) {
        let line = serde_json::json!({
            "id": id, "customer": {"id": "c", "tier": tier},
            "messages": [{"role": role, "text": "x", "at": at, "confidence": conf}]
        }).to_string();
        let _ = parse_conversation(&line, &InputLimits::default());
    }
}

#[test]
fn example_decisions_snapshot() {
    let decisions: Vec<_> = include_str!("../../../examples/conversations.jsonl")
        .lines()
        .map(|l| {
            decide(
                policy(),
                &parse_conversation(l, &InputLimits::default()).unwrap(),
            )
        })
        .collect();
    insta::assert_json_snapshot!(decisions);
}

/// Phrasings written after the engine was built (regression: each was a miss or a near miss).
#[test]
fn other_phrasings_of_each_trigger() {
    let mut wrong = Vec::new();
    for line in include_str!("data/phrasings.jsonl").lines() {
        let c = parse_conversation(line, &InputLimits::default()).unwrap();
        let e = c.expected.clone().unwrap();
        let d = decide(policy(), &c);
        let reason = d.reasons.first().map(|r| r.kind.to_string());
        if d.escalate != e.escalate || d.at != e.at || reason != e.reason {
            wrong.push(format!(
                "{}: expected {:?} at {:?}, got {:?} at {:?}",
                c.id, e.reason, e.at, reason, d.at
            ));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// The reasons `p` finds in a conversation of one customer message, in order.
fn reason_kinds(p: &Policy, text: &str) -> Vec<String> {
    decide(p, &baton_core::lodo::one_message(text))
        .reasons
        .iter()
        .map(|r| r.kind.to_string())
        .collect()
}

#[test]
fn a_reason_a_rule_found_comes_before_one_the_meaning_tier_only_heard() {
    use baton_core::lodo::one_message;
    // The story sounds like a night-time danger to the static meaning tier (sensitive_topic,
    // earlier in the order); the rule reads the demand for the money back (transaction_dispute).
    let text =
        "Hello. You charged me 140 pounds as a no-show for the Leeds hotel on 3 March. I was \
                there! My coach was late so I arrived after midnight, and the night man gave me \
                room 12. I want this money back.";
    let d = decide(policy(), &one_message(text));
    let said: Vec<(String, bool)> = d
        .reasons
        .iter()
        .map(|r| (r.kind.to_string(), r.evidence.starts_with("means:")))
        .collect();
    assert_eq!(
        said,
        [
            ("transaction_dispute".to_string(), false),
            ("sensitive_topic".to_string(), true)
        ],
        "both found, the rule's first"
    );
    assert_eq!(d.skill.as_deref(), Some("billing"));
}

#[test]
fn the_intent_mlp_hears_what_the_linear_head_lets_pass_and_a_counter_example_vetoes_it() {
    // The linear head's threshold out of reach, so that only the MLP can hear it.
    let semantic = DEFAULT_POLICY.find("[semantic]").unwrap();
    let (head, tail) = DEFAULT_POLICY.split_at(semantic);
    let strict = format!(
        "{head}{}",
        tail.replacen("\nthreshold = 0.55\n", "\nthreshold = 0.97\n", 1)
    );
    assert_ne!(strict, DEFAULT_POLICY, "the [semantic] threshold moved");
    let source = strict.clone();
    let without = strict.replacen("\nmlp = true\n", "\nmlp = false\n", 1);
    assert_ne!(without, strict, "the default policy has the MLP on");
    let without_mlp = Policy::from_toml(&without).unwrap();
    let with_mlp = Policy::from_toml(&source).unwrap();
    let text = "I never authorized that payment";
    let kinds = |p: &Policy| reason_kinds(p, text);
    assert!(
        kinds(&without_mlp).is_empty(),
        "the linear head alone cannot reach 0.97"
    );
    assert_eq!(kinds(&with_mlp), ["transaction_dispute"]);
    // A counter-example in the policy's own banks stops the MLP too (the agreement check).
    let mine = format!(
        "{{\"text\": \"{text}\", \"intent\": \"transaction_dispute\", \"counter\": true}}\n"
    );
    let taught = source.replacen(
        "banks = [\"builtin\"]",
        "banks = [\"builtin\", \"mine.jsonl\"]",
        1,
    );
    let taught = Policy::from_toml_with(&taught, &mut |name: &str| {
        assert_eq!(name, "mine.jsonl");
        Ok(mine.clone())
    })
    .unwrap();
    assert!(kinds(&taught).is_empty(), "{:?}", kinds(&taught));
}

#[test]
fn a_customer_who_says_what_they_keep_is_not_heard_as_leaving() {
    use baton_core::lodo::one_message;
    // The meaning tier hears "cancel" and "subscription" together; the customer says the
    // subscription stays.
    let text = "Can you cancel the duplicate order I placed this morning? \
                I'd like to keep my subscription.";
    let kinds = |p: &Policy| reason_kinds(p, text);
    let start = DEFAULT_POLICY.find("\nnot_meant = [").unwrap();
    let end = start + DEFAULT_POLICY[start..].find("\n]\n").unwrap() + 3;
    let without = format!("{}\n{}", &DEFAULT_POLICY[..start], &DEFAULT_POLICY[end..]);
    let without = Policy::from_toml(&without).unwrap();
    assert!(
        without.cancellation.not_meant.is_empty(),
        "the cancellation list was the one removed"
    );
    assert_eq!(kinds(&without), ["cancellation"], "heard without the list");
    assert!(kinds(policy()).is_empty(), "silenced by `not_meant`");
    // The rules still apply: an account closed in so many words is a cancellation.
    let closed = decide(
        policy(),
        &one_message("Please close my account, but keep my Gold plan details on file."),
    );
    assert_eq!(closed.reasons[0].kind.to_string(), "cancellation");
}

/// A standard-tier customer.
fn dana() -> Customer {
    Customer {
        id: "c".into(),
        name: "Dana".into(),
        tier: Tier::Standard,
        lifetime_value: 10.0,
        currency: None,
        timezone: None,
    }
}

#[test]
fn after_the_escalation_later_messages_still_move_the_topic_and_priority_not_the_reasons() {
    let p = policy();
    let customer = dana();
    let say = |role, text: &str| Message {
        role,
        text: text.into(),
        at: "2026-01-01T00:00:00Z".parse().unwrap(),
        confidence: None,
        kb_articles: vec![],
    };
    let mut state = ConversationState::new();
    assert!(state.push(
        p,
        &customer,
        &say(Role::Customer, "Can I talk to a real person?")
    ));
    let first = state.decision(p, "c1", &customer);
    // Later messages find nothing new (a cancellation is not added), but the topic and the
    // sentiment the priority reads are still folded.
    for text in [
        "I was charged twice on my invoice, I want a refund of the double payment.",
        "Also cancel my account. It is urgent, I am furious and need this sorted today!!",
    ] {
        assert!(!state.push(p, &customer, &say(Role::Customer, text)));
        state.push(
            p,
            &customer,
            &say(Role::Ai, "I'm passing you to a colleague now."),
        );
    }
    let later = state.decision(p, "c1", &customer);
    assert_eq!(later.reasons, first.reasons);
    assert_eq!(
        (later.at, later.skill.clone()),
        (first.at, first.skill.clone())
    );
    assert_eq!(later.topic, "billing", "{later:?}");
    assert!(later.priority > first.priority, "{first:?} then {later:?}");
}

/// The skill of a conversation that escalates at its first message, `text`.
fn first_message_skill(p: &Policy, text: &str) -> Option<String> {
    let customer = dana();
    let mut state = ConversationState::new();
    let message = Message {
        role: Role::Customer,
        text: text.into(),
        at: "2026-01-01T00:00:00Z".parse().unwrap(),
        confidence: None,
        kb_articles: vec![],
    };
    assert!(state.push(p, &customer, &message), "{text}");
    state.decision(p, "c1", &customer).skill
}

/// A first message only the policy's valences make clearly upset ("honestly" out, "gutted" in):
/// the facts kept while folding and those read off the transcript both count it, so the
/// escalation after it is late either way.
#[test]
fn the_facts_read_off_a_transcript_use_the_policys_sentiment_as_the_fold_does() {
    let p = policy();
    let customer = dana();
    let at = |s: u32| format!("2026-01-01T00:00:{s:02}Z").parse().unwrap();
    let msg = |role, text: &str, s| Message {
        role,
        text: text.into(),
        at: at(s),
        confidence: None,
        kb_articles: vec![],
    };
    let messages = vec![
        msg(Role::Customer, "I'm honestly gutted.", 0),
        msg(Role::Ai, "I'm sorry to hear that. What happened?", 1),
        msg(Role::Customer, "I want to speak to a person.", 2),
    ];
    assert!(sentiment::polarity_scores("I'm honestly gutted.").compound > 0.0);
    let mut state = ConversationState::new();
    let mut escalated = None;
    for (i, m) in messages.iter().enumerate() {
        if state.push(p, &customer, m) {
            escalated = Some(i);
            break;
        }
    }
    let i = escalated.expect("the conversation escalates");
    assert_eq!(i, 2);
    let facts = EscalationFacts::of(p, &messages, i).unwrap();
    assert!(facts.late, "{facts:?}");
    assert_eq!(state.escalation_facts(), Some(facts));
}

#[test]
fn a_rate_to_negotiate_goes_to_billing_and_colour_profiles_to_technical() {
    let p = policy();
    let skill = |text: &str| first_message_skill(p, text);
    assert_eq!(
        skill("Is our corporate rate valid at the new branch? I want to speak to a person.")
            .as_deref(),
        Some("billing")
    );
    assert_eq!(
        skill("Will Adobe RGB photos print right, or should I convert to sRGB? Can I talk to a person please?")
            .as_deref(),
        Some("technical")
    );
    // A group booking's price is the general team's (as the labelled sets have it).
    assert_eq!(
        skill("Is there a group rate for 22 of us? Can I talk to a person please?").as_deref(),
        Some("general")
    );
}

/// The default policy with the conversation topic head off: what the keywords and the
/// per-message topic head decide alone.
fn keywords_policy() -> &'static Policy {
    static POLICY: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
    POLICY.get_or_init(|| {
        let mut p = Policy::default();
        assert!(
            p.topics.conversation_weight > 0.0,
            "the default weighs the head"
        );
        p.topics.conversation_weight = 0.0;
        p
    })
}

/// What the keywords cover (session 31 and 33 rules). The conversation topic head, on by
/// default, calls two of these one-line probes "general" (it learnt "can somebody come out" as
/// a visit, and knows "sso" poorly): it is right on more of the sets nobody read (skill accuracy
/// 0.900 -> 0.910 over 40 sets), not on every line.
#[test]
fn a_fault_told_without_the_technical_words_still_goes_to_technical() {
    let p = keywords_policy();
    let skill = |text: &str| first_message_skill(p, text);
    for text in [
        "The Save button stays greyed out on my profile. Can I talk to a person please?",
        "The snack machine stopped taking contactless on Monday. Can somebody come out?",
        "My membership tag keeps flashing red at the door. I want to speak to someone.",
        // session 33: signing in through the company's identity provider
        "Our SSO stopped letting staff in this morning. Can I talk to a person please?",
    ] {
        assert_eq!(skill(text).as_deref(), Some("technical"), "{text}");
    }
    // The same request about a delivery stays with the general team.
    assert_eq!(
        skill("I'd like to move my delivery to Friday. Can I talk to a person please?").as_deref(),
        Some("general")
    );
}

/// A conversation's skill from all of it: an invoice number quoted as a reference is no billing
/// matter when the customer wants to talk the wheels through with the mechanic who built them
/// (fresh-eval-88, cv-060). The keywords alone hear "invoice"; the conversation topic head,
/// the AI's reply included, hears a question for the workshop.
#[test]
fn the_conversation_topic_head_reads_the_whole_conversation() {
    let customer = dana();
    let at = |s: &str| -> jiff::Timestamp { s.parse().unwrap() };
    let message = |role, text: &str, t: &str| Message {
        role,
        text: text.into(),
        at: at(t),
        confidence: None,
        kb_articles: vec![],
    };
    let messages = [
        message(Role::Customer, "Which of your mechanics built my wheelset last spring? Invoice CC-4107.", "2026-01-01T10:00:00Z"),
        message(Role::Ai, "That build was done by Marek, our wheel specialist. Is there something about the wheels I can help with?", "2026-01-01T10:00:05Z"),
        message(Role::Customer, "I'd like to talk it through with Marek himself before I order a second set. Could he give me a call one lunchtime? 01632 960733.", "2026-01-01T10:01:00Z"),
    ];
    let skill = |p: &Policy| {
        let mut state = ConversationState::new();
        let escalated = messages.iter().any(|m| state.push(p, &customer, m));
        assert!(escalated);
        state.decision(p, "c1", &customer).skill
    };
    assert_eq!(skill(keywords_policy()).as_deref(), Some("billing"));
    assert_eq!(skill(policy()).as_deref(), Some("general"));
}
