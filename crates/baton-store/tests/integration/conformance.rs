//! The store conformance suite: every implementation of `Store` must pass it. It runs on a fresh
//! SQLite file and on a fresh PostgreSQL database (see `pg_common`).

use crate::pg_common;

use baton_core::model::{Currency, Customer, Message, Role as MessageRole, Tier};
use baton_core::{EscalationFacts, Priority};
use baton_store::postgres::PostgresStore;
use baton_store::sqlite::SqliteStore;
use baton_store::{
    Actor, Agent, AgentStatus, ApiKey, Append, AppendEvent, HandoffScore, HandoffStatus,
    Idempotency, IdempotentReply, KeyRole, MetricsQuery, NewHandoff, RoutingParams, Seniority,
    Store, StoreError, Transition, WebhookEndpoint,
};

const ROUTING: RoutingParams = RoutingParams {
    ageing_seconds: 600,
    default_handle_seconds: 300.0,
    handle_time_sample: 50,
};

const NOW: &str = "2026-11-27T10:00:00Z";

/// The key the lifecycle changes of these tests are made with.
fn by() -> Actor {
    Actor {
        key_id: "k-lead".into(),
        role: KeyRole::Lead,
    }
}

fn customer(id: &str) -> Customer {
    Customer {
        id: id.into(),
        name: "Dana".into(),
        tier: Tier::Premium,
        lifetime_value: 1200.0,
        currency: Some(Currency::parse("EUR").unwrap()),
        timezone: Some("Europe/Paris".into()),
    }
}

fn append(conv: &str, index: usize, customer: Option<Customer>) -> Append {
    Append {
        conversation_id: conv.into(),
        customer,
        customer_id: "cust-1".into(),
        index,
        message: Message {
            role: MessageRole::Customer,
            text: format!("message {index}"),
            at: NOW.parse().unwrap(),
            confidence: None,
            kb_articles: vec!["kb-1".into()],
        },
        decision: serde_json::json!({"escalate": false, "index": index}).to_string(),
        topic: None,
        handoff: None,
        routing: ROUTING,
        extra_event: None,
        idempotency: None,
        now: NOW.parse().unwrap(),
    }
}

async fn suite(store: &dyn Store) {
    // Customers.
    assert_eq!(store.customer("cust-1").await.unwrap(), None);
    store
        .put_customer(customer("cust-1"), NOW.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(
        store.customer("cust-1").await.unwrap(),
        Some(customer("cust-1"))
    );
    // The currency is optional: a record without one reads back without one.
    let plain = Customer {
        currency: None,
        ..customer("cust-plain")
    };
    store
        .put_customer(plain.clone(), NOW.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(store.customer("cust-plain").await.unwrap(), Some(plain));

    // Messages are appended in order; a wrong index is a conflict that changes nothing.
    store.append(append("c1", 0, None)).await.unwrap();
    store.append(append("c1", 1, None)).await.unwrap();
    let err = store.append(append("c1", 1, None)).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    let err = store
        .append(append("c2", 3, Some(customer("cust-1"))))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    let c = store.conversation("c1").await.unwrap().unwrap();
    assert_eq!(c.messages.len(), 2);
    assert_eq!(c.messages[1].text, "message 1");
    assert_eq!(c.messages[1].kb_articles, vec!["kb-1".to_string()]);
    assert_eq!(c.decision.unwrap()["index"], 1);
    assert!(store.conversation("c2").await.unwrap().is_none());

    // A new conversation's new customer is written with its first message (on PostgreSQL in
    // one statement: the foreign key is checked at its end); an append refused as a conflict
    // changes nothing, the customer it names included.
    let fresh = customer("cust-new");
    let mut first = append("c-new", 0, Some(fresh.clone()));
    first.customer_id = "cust-new".into();
    first.topic = Some("billing".into());
    store.append(first).await.unwrap();
    assert_eq!(
        store.customer("cust-new").await.unwrap(),
        Some(fresh.clone())
    );
    let renamed = Customer {
        name: "Someone Else".into(),
        ..fresh.clone()
    };
    for index in [0, 2] {
        let err = store
            .append(append("c-new", index, Some(renamed.clone())))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    }
    assert_eq!(store.customer("cust-new").await.unwrap(), Some(fresh));
    let mut second = append("c-new", 1, Some(renamed.clone()));
    second.customer_id = "cust-new".into();
    store.append(second).await.unwrap();
    assert_eq!(store.customer("cust-new").await.unwrap(), Some(renamed));
    let c = store.conversation("c-new").await.unwrap().unwrap();
    assert_eq!(c.messages.len(), 2);
    assert_eq!(c.decision.unwrap()["index"], 1);

    // Idempotent responses and handoffs are written with their message.
    let mut a = append("c1", 2, None);
    a.idempotency = Some(Idempotency {
        scope: "key-1:c1:abc".into(),
        request: "fingerprint-1".into(),
        respond: Box::new(|p| {
            format!(
                "{{\"handoff\":\"{}\"}}",
                p.map_or("-", |p| p.handoff.id.as_str())
            )
        }),
    });
    a.handoff = Some(NewHandoff {
        id: "h1".into(),
        skill: "billing".into(),
        team: "Billing".into(),
        priority: Priority::High,
        reason: "explicit_request".into(),
        vip: false,
        callback_at: None,
        callback_if_nobody: None,
        facts: None,
    });
    let placed = store.append(a).await.unwrap().unwrap();
    assert_eq!(placed.handoff.status, HandoffStatus::Queued);
    assert_eq!(placed.position, Some(0));
    assert_eq!(placed.agents_on_shift, 0);
    assert_eq!(
        store.idempotent_response("key-1:c1:abc").await.unwrap(),
        Some(IdempotentReply {
            request: Some("fingerprint-1".into()),
            response: "{\"handoff\":\"h1\"}".into()
        })
    );
    assert_eq!(
        store
            .handoffs(Some(HandoffStatus::Queued))
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .handoffs(Some(HandoffStatus::Resolved))
            .await
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        store.handoff("h1").await.unwrap().unwrap(),
        placed.handoff,
        "the placement answered shows the handoff as stored"
    );
    let events = store.events_after(0, 10).await.unwrap();
    // One write's events in the order it added them, numbered in that order.
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["handoff.created", "queue.changed"]);
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));

    // Agents.
    let agent = Agent {
        id: "a1".into(),
        name: "Sarah".into(),
        skills: vec!["billing".into()],
        capacity: 3,
        seniority: Seniority::Senior,
        team: "billing".into(),
        status: AgentStatus::Offline,
        active: 0,
    };
    assert_eq!(
        store
            .put_agent(agent.clone(), NOW.parse().unwrap())
            .await
            .unwrap(),
        agent
    );
    let a = store
        .set_agent_status(
            "a1",
            AgentStatus::Available,
            by(),
            NOW.parse().unwrap(),
            ROUTING,
        )
        .await
        .unwrap();
    assert_eq!(a.status, AgentStatus::Available);
    assert!(matches!(
        store
            .set_agent_status(
                "nobody",
                AgentStatus::Away,
                by(),
                NOW.parse().unwrap(),
                ROUTING
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
    // The agent who became available took the queued billing handoff.
    let h = store.handoff("h1").await.unwrap().unwrap();
    assert_eq!(
        (h.status, h.agent_id.as_deref()),
        (HandoffStatus::Assigned, Some("a1"))
    );
    assert_eq!(store.agent("a1").await.unwrap().unwrap().active, 1);
    // Lifecycle: accept by someone else is a conflict; accept, resolve, CSAT once.
    let t = |t| store.transition("h1", t, by(), NOW.parse().unwrap(), ROUTING);
    assert!(matches!(
        t(Transition::Accept {
            agent_id: "a9".into()
        })
        .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        t(Transition::Accept {
            agent_id: "a1".into()
        })
        .await
        .unwrap()
        .handoff
        .status,
        HandoffStatus::Accepted
    );
    // A message on the handed-off conversation names the handoff as it stands at its commit.
    let mut m = append("c1", 3, None);
    m.extra_event = Some(AppendEvent::OnHandoff("h1".into()));
    store.append(m).await.unwrap();
    let last = store.events_after(0, 1000).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.kind, last.subject.as_str()),
        (baton_store::EventKind::MessageCustomer, "c1")
    );
    assert_eq!(
        last.payload,
        serde_json::json!({"handoff_id": "h1", "conversation_id": "c1", "index": 3,
                           "role": "customer", "status": "accepted", "agent_id": "a1"})
    );
    // The customer rates a handoff once it is resolved, not before.
    assert!(matches!(
        t(Transition::Csat { score: 5 }).await,
        Err(StoreError::Conflict(_))
    ));
    let done = t(Transition::Resolve {
        resolution: "refunded".into(),
        necessary: true,
        missing: Some("refund authority".into()),
    })
    .await
    .unwrap();
    assert_eq!(done.handoff.status, HandoffStatus::Resolved);
    // Once the handoff is resolved, a message writes no event.
    let seq = store
        .events_after(0, 1000)
        .await
        .unwrap()
        .pop()
        .unwrap()
        .seq;
    let mut m = append("c1", 4, None);
    m.extra_event = Some(AppendEvent::OnHandoff("h1".into()));
    store.append(m).await.unwrap();
    assert!(store.events_after(seq, 10).await.unwrap().is_empty());
    assert_eq!(store.agent("a1").await.unwrap().unwrap().active, 0);
    assert!(matches!(
        t(Transition::Accept {
            agent_id: "a1".into()
        })
        .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        t(Transition::Resolve {
            resolution: "x".into(),
            necessary: true,
            missing: None
        })
        .await,
        Err(StoreError::Conflict(_))
    ));
    t(Transition::Csat { score: 5 }).await.unwrap();
    assert!(matches!(
        t(Transition::Csat { score: 4 }).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .transition(
                "nope",
                Transition::Csat { score: 4 },
                by(),
                NOW.parse().unwrap(),
                ROUTING
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.agents().await.unwrap().len(), 1);
    // The audit trail: every event of the handoff, with who made the lifecycle changes.
    let trail = store.handoff_events("h1").await.unwrap();
    let kinds: Vec<&str> = trail.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "handoff.created",
            "handoff.assigned",
            "handoff.accepted",
            "handoff.resolved",
            "handoff.csat"
        ]
    );
    assert_eq!(trail[1].payload["by"], serde_json::Value::Null);
    for e in &trail[2..] {
        assert_eq!(e.payload["by"]["key_id"], "k-lead", "{}", e.kind);
        assert_eq!(e.payload["by"]["role"], "lead", "{}", e.kind);
    }

    // A callback that is due joins the queue on the sweep and goes to a free agent.
    let mut a = append("c3", 0, Some(customer("cust-1")));
    a.handoff = Some(NewHandoff {
        id: "h3".into(),
        skill: "billing".into(),
        team: "Billing".into(),
        priority: Priority::Medium,
        reason: "cancellation".into(),
        vip: false,
        callback_at: Some("2026-11-27T09:00:00Z".parse().unwrap()),
        callback_if_nobody: None,
        facts: None,
    });
    let placed = store.append(a).await.unwrap().unwrap();
    assert_eq!(placed.handoff.status, HandoffStatus::Callback);
    assert_eq!(
        store
            .sweep("2026-11-27T08:59:00Z".parse().unwrap(), 120, ROUTING)
            .await
            .unwrap(),
        0
    );
    assert!(
        store
            .sweep("2026-11-27T09:00:30Z".parse().unwrap(), 120, ROUTING)
            .await
            .unwrap()
            >= 1
    );
    let h3 = store.handoff("h3").await.unwrap().unwrap();
    assert_eq!(
        (h3.status, h3.agent_id.as_deref()),
        (HandoffStatus::Assigned, Some("a1"))
    );
    // Not accepted within the timeout: back to the queue, the agent set away.
    store
        .sweep("2026-11-27T09:05:00Z".parse().unwrap(), 120, ROUTING)
        .await
        .unwrap();
    let h3 = store.handoff("h3").await.unwrap().unwrap();
    assert_eq!((h3.status, h3.agent_id), (HandoffStatus::Queued, None));
    let a1 = store.agent("a1").await.unwrap().unwrap();
    assert_eq!((a1.status, a1.active), (AgentStatus::Away, 0));

    // Keys.
    let key = ApiKey {
        id: "k1".into(),
        name: "bot".into(),
        role: KeyRole::Integrator,
        secret_hash: vec![1, 2, 3],
        created_at: NOW.parse().unwrap(),
        revoked_at: None,
        agent_id: Some("a1".into()),
    };
    store.create_key(key.clone()).await.unwrap();
    assert_eq!(store.key("k1").await.unwrap(), Some(key));
    store.revoke_key("k1", NOW.parse().unwrap()).await.unwrap();
    assert_eq!(
        store.key("k1").await.unwrap().unwrap().revoked_at,
        Some(NOW.parse().unwrap())
    );
    assert!(matches!(
        store.revoke_key("k9", NOW.parse().unwrap()).await,
        Err(StoreError::NotFound(_))
    ));
    metrics_suite(store).await;
    deliveries_suite(store).await;
    store.ping().await.unwrap();
}

/// Webhook deliveries: in order per endpoint, claimed by one caller at a time, taken over when
/// the claim runs out.
async fn deliveries_suite(store: &dyn Store) {
    store
        .add_webhook(WebhookEndpoint {
            id: "w1".into(),
            url: "http://127.0.0.1:9/hook".into(),
            secret: "whsec_x".into(),
            created_at: NOW.parse().unwrap(),
        })
        .await
        .unwrap();
    // Two events after the endpoint exists.
    for (conv, score) in [("d1", 3), ("d2", 4)] {
        store
            .append(timed(conv, 0, "2025-04-01T10:00:00Z", "general"))
            .await
            .unwrap();
        store
            .conversation_csat(conv, score, NOW.parse().unwrap())
            .await
            .unwrap();
    }
    let at =
        |secs: i64| NOW.parse::<jiff::Timestamp>().unwrap() + jiff::SignedDuration::from_secs(secs);
    let first = store.due_deliveries(at(1), 10).await.unwrap();
    assert_eq!(first.len(), 1, "only the endpoint's oldest event");
    assert_eq!(first[0].event.payload["score"], 3);
    // Claimed: nobody else gets it while the claim holds, and not the next one either.
    assert!(store.due_deliveries(at(2), 10).await.unwrap().is_empty());
    // The claimant died: after the lease it is due again.
    let again = store
        .due_deliveries(at(2 + baton_store::DELIVERY_LEASE_SECONDS), 10)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].event.seq, first[0].event.seq);
    store
        .delivery_result("w1", first[0].event.seq, Some(at(40)), None, None)
        .await
        .unwrap();
    let next = store.due_deliveries(at(41), 10).await.unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].event.payload["score"], 4);
    store.remove_webhook("w1").await.unwrap();
}

/// A message of conversation `conv` at `at` with the decision's `topic`.
fn timed(conv: &str, index: usize, at: &str, topic: &str) -> Append {
    let mut a = append(conv, index, None);
    a.message.at = at.parse().unwrap();
    a.decision = serde_json::json!({"escalate": false, "topic": topic}).to_string();
    a.topic = Some(topic.into());
    a
}

async fn metrics_suite(store: &dyn Store) {
    let facts = EscalationFacts {
        at: 1,
        customer_messages: 1,
        seconds_to_handoff: 30.0,
        late: true,
    };
    store
        .append(timed("m1", 0, "2025-03-01T10:00:00Z", "billing"))
        .await
        .unwrap();
    let mut a = timed("m1", 1, "2025-03-01T10:00:30Z", "billing");
    a.message.role = MessageRole::Ai;
    a.handoff = Some(NewHandoff {
        id: "hm1".into(),
        skill: "billing".into(),
        team: "Billing".into(),
        priority: Priority::Medium,
        reason: "low_confidence".into(),
        vip: false,
        callback_at: None,
        callback_if_nobody: None,
        facts: Some(facts),
    });
    store.append(a).await.unwrap();
    // The same customer about the same topic two days later (a greeting first, so the stored
    // topic changes at the second message); another topic the next day.
    store
        .append(timed("m2", 0, "2025-03-03T10:00:00Z", "general"))
        .await
        .unwrap();
    let mut second = timed("m2", 1, "2025-03-03T10:00:20Z", "billing");
    second.message.role = MessageRole::Ai;
    store.append(second).await.unwrap();
    store
        .append(timed("m3", 0, "2025-03-02T10:00:00Z", "general"))
        .await
        .unwrap();
    store
        .conversation_csat("m1", 4, NOW.parse().unwrap())
        .await
        .unwrap();
    let march = |days: i64| MetricsQuery {
        since_ms: Some(
            "2025-03-01T00:00:00Z"
                .parse::<jiff::Timestamp>()
                .unwrap()
                .as_millisecond(),
        ),
        until_ms: Some(
            "2025-03-02T00:00:00Z"
                .parse::<jiff::Timestamp>()
                .unwrap()
                .as_millisecond(),
        ),
        repeat_window_ms: days * 86_400_000,
        ..Default::default()
    };
    let m = store.metrics(march(3)).await.unwrap();
    assert_eq!(m.conversations, 1);
    assert_eq!(m.csat_by_kind, vec![("handed_off".to_string(), 4.0, 1)]);
    assert_eq!(m.handoffs.len(), 1);
    let h = &m.handoffs[0];
    assert_eq!((h.id.as_str(), h.conversation_id.as_str()), ("hm1", "m1"));
    assert_eq!(h.facts, Some(facts));
    assert_eq!(h.quality, None);
    assert!(h.repeat_contact, "m2 came back within 3 days");
    assert!(!store.metrics(march(1)).await.unwrap().handoffs[0].repeat_contact);
    // Filters keep the conversation count and drop other teams' handoffs.
    let other_team = MetricsQuery {
        team: Some("Retention".into()),
        ..march(3)
    };
    let m = store.metrics(other_team).await.unwrap();
    assert_eq!((m.conversations, m.handoffs.len()), (1, 0));
    let whole = store
        .metrics(MetricsQuery {
            repeat_window_ms: 0,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(whole.conversations >= 3 && whole.handoffs.len() >= 2);

    store
        .save_handoff_scores(vec![HandoffScore {
            handoff_id: "hm1".into(),
            facts,
            quality: Some((42.5, "routing 0%".into())),
        }])
        .await
        .unwrap();
    let m = store.metrics(march(3)).await.unwrap();
    assert_eq!(m.handoffs[0].quality, Some((42.5, "routing 0%".into())));

    assert_eq!(
        store
            .handoff_of_conversation("m1")
            .await
            .unwrap()
            .map(|h| h.id),
        Some("hm1".to_string())
    );
    assert_eq!(store.handoff_of_conversation("m2").await.unwrap(), None);
    let found = store
        .conversations_by_ids(vec!["m2".into(), "nope".into(), "m1".into()])
        .await
        .unwrap();
    let ids: Vec<&str> = found.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["m2", "m1"]);
    assert_eq!(found[1].messages.len(), 2);
}

fn handoff_at(conv: &str, id: &str, skill: &str, priority: Priority, at: &str) -> Append {
    let mut a = append(conv, 0, Some(customer("cust-1")));
    a.now = at.parse().unwrap();
    a.handoff = Some(NewHandoff {
        id: id.into(),
        skill: skill.into(),
        team: skill.into(),
        priority,
        reason: "explicit_request".into(),
        vip: false,
        callback_at: None,
        callback_if_nobody: None,
        facts: None,
    });
    a
}

/// The sweep and the queue at their edges: a callback is released at its time to the
/// nanosecond and not before, an offer times out at exactly the timeout and not before, and a
/// queued handoff no agent can take does not hold back one behind it that an agent can.
async fn sweep_suite(store: &dyn Store) {
    let t = |s: &str| -> jiff::Timestamp { s.parse().unwrap() };
    for (conv, id, skill, priority, at) in [
        (
            "sw-1",
            "q-tech",
            "technical",
            Priority::High,
            "2026-11-27T10:00:00Z",
        ),
        (
            "sw-2",
            "q-bill",
            "billing",
            Priority::Low,
            "2026-11-27T10:00:01Z",
        ),
    ] {
        let placed = store
            .append(handoff_at(conv, id, skill, priority, at))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(placed.handoff.status, HandoffStatus::Queued);
    }
    let mut a = handoff_at(
        "sw-3",
        "cb",
        "billing",
        Priority::Medium,
        "2026-11-27T10:00:02Z",
    );
    a.handoff.as_mut().unwrap().callback_at = Some(t("2026-11-27T10:10:00Z"));
    let placed = store.append(a).await.unwrap().unwrap();
    assert_eq!(placed.handoff.status, HandoffStatus::Callback);

    // Only a billing agent comes on shift: the technical handoff ahead of the billing one in
    // the queue (higher priority, older) stays queued, the billing one is offered.
    let agent = Agent {
        id: "a-bill".into(),
        name: "Ravi".into(),
        skills: vec!["billing".into()],
        capacity: 1,
        seniority: Seniority::Junior,
        team: "billing".into(),
        status: AgentStatus::Offline,
        active: 0,
    };
    store
        .put_agent(agent, t("2026-11-27T10:01:00Z"))
        .await
        .unwrap();
    store
        .set_agent_status(
            "a-bill",
            AgentStatus::Available,
            by(),
            t("2026-11-27T10:01:00Z"),
            ROUTING,
        )
        .await
        .unwrap();
    let status = |h: baton_store::Handoff| (h.status, h.agent_id);
    assert_eq!(
        status(store.handoff("q-bill").await.unwrap().unwrap()),
        (HandoffStatus::Assigned, Some("a-bill".to_string()))
    );
    assert_eq!(
        status(store.handoff("q-tech").await.unwrap().unwrap()),
        (HandoffStatus::Queued, None)
    );

    // One millisecond before the offer's timeout and the callback's time: nothing is due.
    let swept = store
        .sweep(t("2026-11-27T10:02:59.999Z"), 120, ROUTING)
        .await
        .unwrap();
    assert_eq!(swept, 0);
    assert_eq!(
        store.handoff("q-bill").await.unwrap().unwrap().status,
        HandoffStatus::Assigned
    );
    // At exactly the timeout the offer goes back to the queue.
    let swept = store
        .sweep(t("2026-11-27T10:03:00Z"), 120, ROUTING)
        .await
        .unwrap();
    assert!(swept >= 1, "{swept}");
    assert_eq!(
        status(store.handoff("q-bill").await.unwrap().unwrap()),
        (HandoffStatus::Queued, None)
    );
    // The callback: not a nanosecond early, released at its time.
    store
        .sweep(t("2026-11-27T10:09:59.999999999Z"), 120, ROUTING)
        .await
        .unwrap();
    assert_eq!(
        store.handoff("cb").await.unwrap().unwrap().status,
        HandoffStatus::Callback
    );
    store
        .sweep(t("2026-11-27T10:10:00Z"), 120, ROUTING)
        .await
        .unwrap();
    assert_eq!(
        store.handoff("cb").await.unwrap().unwrap().status,
        HandoffStatus::Queued
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("baton.db")).unwrap();
    suite(&store).await;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("baton.db")).unwrap();
    sweep_suite(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_passes_the_conformance_suite() {
    let Some(url) = pg_common::fresh_database_url() else {
        return;
    };
    let store = PostgresStore::connect(&url).await.unwrap();
    suite(&store).await;
    let Some(url) = pg_common::fresh_database_url() else {
        return;
    };
    let store = PostgresStore::connect(&url).await.unwrap();
    sweep_suite(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("baton.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        store
            .put_customer(customer("cust-1"), NOW.parse().unwrap())
            .await
            .unwrap();
        store.append(append("c1", 0, None)).await.unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(
        store
            .conversation("c1")
            .await
            .unwrap()
            .unwrap()
            .messages
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_are_group_committed_and_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(SqliteStore::open(dir.path().join("baton.db")).unwrap());
    store
        .put_customer(customer("cust-1"), NOW.parse().unwrap())
        .await
        .unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                for j in 0..10 {
                    store
                        .append(append(&format!("conv-{i}"), j, None))
                        .await
                        .unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    for i in 0..64 {
        let c = store
            .conversation(&format!("conv-{i}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(c.messages.len(), 10);
    }
    // 641 writes (the customer and 64 x 10 appends) from 64 writers at once: group commit
    // batches them, so there are fewer commits (fsyncs) than writes.
    let (commits, writes) = store.commit_counts();
    assert_eq!(writes, 641);
    assert!(
        commits < writes,
        "{commits} commits for {writes} writes: concurrent writes were not batched"
    );
}

/// Group commit applies a batch's writes without savepoints and, when one fails, rolls back and
/// applies the batch again with a savepoint per write: a failed write leaves nothing (not even
/// the customer it upserted before failing) and the writes batched with it all land.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_write_undoes_only_itself_when_batched_with_others() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(SqliteStore::open(dir.path().join("baton.db")).unwrap());
    let tasks: Vec<_> = (0..48)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                for j in 0..8 {
                    let good = i % 3 != 0;
                    // A bad write upserts its own customer, then fails: its conversation does
                    // not exist, so message 5 cannot be appended.
                    let write = match good {
                        true => append(&format!("conv-{i}"), j, Some(customer("cust-1"))),
                        false => Append {
                            customer: Some(customer(&format!("bad-{i}-{j}"))),
                            customer_id: format!("bad-{i}-{j}"),
                            ..append(&format!("bad-{i}-{j}"), 5, None)
                        },
                    };
                    let result = store.append(write).await;
                    assert_eq!(result.is_ok(), good, "{i}/{j}: {result:?}");
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    for i in 0..48 {
        let good = store.conversation(&format!("conv-{i}")).await.unwrap();
        assert_eq!(good.map(|c| c.messages.len()), (i % 3 != 0).then_some(8));
        for j in 0..8 {
            assert!(store
                .customer(&format!("bad-{i}-{j}"))
                .await
                .unwrap()
                .is_none());
            assert!(store
                .conversation(&format!("bad-{i}-{j}"))
                .await
                .unwrap()
                .is_none());
        }
    }
    let (commits, writes) = store.commit_counts();
    assert_eq!(writes, 48 * 8);
    assert!(
        commits < writes,
        "{commits} commits for {writes} writes: no batch was formed"
    );
}

fn new_handoff(id: &str) -> NewHandoff {
    NewHandoff {
        id: id.into(),
        skill: "billing".into(),
        team: "Billing".into(),
        priority: Priority::High,
        reason: "explicit_request".into(),
        vip: false,
        callback_at: None,
        callback_if_nobody: None,
        facts: None,
    }
}

/// Issue 14: only writes that decide where handoffs go take the routing lock. With the lock held
/// elsewhere (as by another instance mid-routing), a message on a handed-off conversation (with
/// its event), a plain message, accept, CSAT and suggestions go through; an escalation waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_only_routing_writes_take_the_routing_lock() {
    let Some(url) = pg_common::fresh_database_url() else {
        return;
    };
    let store = PostgresStore::connect(&url).await.unwrap();
    store
        .put_customer(customer("cust-1"), NOW.parse().unwrap())
        .await
        .unwrap();
    let agent = Agent {
        id: "a1".into(),
        name: "Sarah".into(),
        skills: vec!["billing".into()],
        capacity: 3,
        seniority: Seniority::Senior,
        team: "billing".into(),
        status: AgentStatus::Offline,
        active: 0,
    };
    store.put_agent(agent, NOW.parse().unwrap()).await.unwrap();
    store
        .set_agent_status(
            "a1",
            AgentStatus::Available,
            by(),
            NOW.parse().unwrap(),
            ROUTING,
        )
        .await
        .unwrap();
    for (conv, h) in [("c1", "h1"), ("c2", "h2")] {
        let mut a = append(conv, 0, None);
        a.handoff = Some(new_handoff(h));
        store.append(a).await.unwrap();
    }
    store
        .transition(
            "h2",
            Transition::Resolve {
                resolution: "done".into(),
                necessary: true,
                missing: None,
            },
            by(),
            NOW.parse().unwrap(),
            ROUTING,
        )
        .await
        .unwrap();

    // Another session holds the routing lock until told to let go.
    let (release, released) = std::sync::mpsc::channel::<()>();
    let (held, is_held) = std::sync::mpsc::channel::<()>();
    let holder = {
        let url = url.clone();
        std::thread::spawn(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            let key = baton_store::postgres::ROUTING_LOCK;
            c.execute("SELECT pg_advisory_lock($1)", &[&key]).unwrap();
            held.send(()).unwrap();
            released.recv().unwrap();
            c.execute("SELECT pg_advisory_unlock($1)", &[&key]).unwrap();
        })
    };
    is_held.recv().unwrap();

    let soon = std::time::Duration::from_secs(5);
    let mut reply = append("c1", 1, None);
    reply.extra_event = Some(baton_store::AppendEvent::Given(
        baton_store::EventKind::MessageCustomer,
        "h1".into(),
        serde_json::json!({"index": 1}),
    ));
    let not_routing = async {
        store.append(reply).await.unwrap();
        store.append(append("c3", 0, None)).await.unwrap();
        store
            .transition(
                "h1",
                Transition::Accept {
                    agent_id: "a1".into(),
                },
                by(),
                NOW.parse().unwrap(),
                ROUTING,
            )
            .await
            .unwrap();
        store
            .transition(
                "h2",
                Transition::Csat { score: 5 },
                by(),
                NOW.parse().unwrap(),
                ROUTING,
            )
            .await
            .unwrap();
        store
            .conversation_csat("c2", 4, NOW.parse().unwrap())
            .await
            .unwrap();
        store
            .add_suggestions(
                vec![baton_store::Suggestion {
                    id: "s1".into(),
                    handoff_id: "h1".into(),
                    kind: baton_store::SuggestionKind::Reply,
                    source: "bot".into(),
                    text: "Try this".into(),
                    url: None,
                    status: baton_store::SuggestionStatus::New,
                    created_at: NOW.parse().unwrap(),
                }],
                NOW.parse().unwrap(),
            )
            .await
            .unwrap();
    };
    tokio::time::timeout(soon, not_routing)
        .await
        .expect("writes that do not route went through while the routing lock was held");

    let mut escalation = append("c4", 0, None);
    escalation.handoff = Some(new_handoff("h4"));
    let routing = tokio::spawn({
        let url = url.clone();
        async move {
            let other = PostgresStore::connect(&url).await.unwrap();
            other.append(escalation).await
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(
        !routing.is_finished(),
        "an escalation routed without the lock"
    );
    // It waits with its message and its handoff written: the lock is held for the routing only.
    let waiting_holds: Vec<String> = {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
            c.query(
                "SELECT DISTINCT r.relname::text FROM pg_locks w
                 JOIN pg_locks h ON h.pid = w.pid AND h.granted AND h.locktype = 'relation'
                 JOIN pg_class r ON r.oid = h.relation
                 WHERE w.locktype = 'advisory' AND NOT w.granted AND h.mode = 'RowExclusiveLock'",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
        })
        .await
        .unwrap()
    };
    for table in ["conversations", "messages", "handoffs"] {
        assert!(
            waiting_holds.iter().any(|t| t == table),
            "the escalation waits for the routing lock before writing {table}: {waiting_holds:?}"
        );
    }
    release.send(()).unwrap();
    holder.join().unwrap();
    let placed = tokio::time::timeout(soon, routing)
        .await
        .expect("the escalation routes once the lock is free")
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(placed.handoff.agent_id.as_deref(), Some("a1"));
}

/// Events written by writes that run side by side (two "instances", several connections each)
/// commit in any order, yet a reader that moves on past the newest event it has seen, as an SSE
/// stream does, misses none: it is only shown events below every number still being written.
/// (Without that bound this test fails: the reader skips events that commit late.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_events_commit_in_sequence_order_across_instances() {
    let Some(url) = pg_common::fresh_database_url() else {
        return;
    };
    let stores = [
        std::sync::Arc::new(PostgresStore::connect(&url).await.unwrap()),
        std::sync::Arc::new(PostgresStore::connect(&url).await.unwrap()),
    ];
    stores[0]
        .put_customer(customer("cust-1"), NOW.parse().unwrap())
        .await
        .unwrap();
    const WRITERS: usize = 12;
    const EACH: usize = 40;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = tokio::spawn({
        let (store, done) = (stores[1].clone(), done.clone());
        async move {
            let (mut after, mut seen) = (0i64, Vec::new());
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                for e in store.events_after(after, 1000).await.unwrap() {
                    after = e.seq;
                    seen.push(e.seq);
                }
                if finished {
                    return seen;
                }
            }
        }
    });
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = stores[w % 2].clone();
            tokio::spawn(async move {
                for i in 0..EACH {
                    let mut a = append(&format!("w{w}"), i, None);
                    a.extra_event = Some(baton_store::AppendEvent::Given(
                        baton_store::EventKind::MessageCustomer,
                        format!("w{w}"),
                        serde_json::json!({"index": i}),
                    ));
                    store.append(a).await.unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = reader.await.unwrap();
    let all = stores[0].events_after(0, 100_000).await.unwrap();
    assert_eq!(all.len(), WRITERS * EACH);
    let missed: Vec<i64> = all
        .iter()
        .map(|e| e.seq)
        .filter(|s| !seen.contains(s))
        .collect();
    assert!(missed.is_empty(), "the reader skipped events {missed:?}");
}
