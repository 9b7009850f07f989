//! HTTP API tests: a real server on 127.0.0.1 with a fresh SQLite file per test (`spawn_app`),
//! driven with a real HTTP client.

use std::sync::Arc;

use crate::common::*;
use baton_server::auth::generate_key;
use baton_server::Settings;
use baton_store::{KeyRole, Store};
use serde_json::{json, Value};

#[tokio::test]
async fn a_conversation_continues_then_hands_off_with_a_stored_handoff() {
    let app = spawn_app().await;
    let (s, r) = app
        .post_message("c1", &first("Hi, where is my parcel? Order BX-1."))
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["action"], "continue");
    assert_eq!(r["index"], 0);
    let (s, r) = app
        .post_message(
            "c1",
            &next("ai", "It arrives today before 6pm.", "2026-11-02T10:00:05Z"),
        )
        .await;
    assert_eq!((s, r["index"].clone()), (200, json!(1)), "{r}");
    let (s, r) = app
        .post_message(
            "c1",
            &next(
                "customer",
                "I want to speak to a real person please",
                "2026-11-02T10:01:00Z",
            ),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["action"], "handoff");
    assert_eq!(r["decision"]["reasons"][0]["kind"], "explicit_request");
    assert_eq!(r["decision"]["at"], 2);
    let handoff_id = r["handoff"]["id"].as_str().unwrap().to_string();

    let (s, c) = app.get("/v1/conversations/c1", &app.lead).await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["messages"].as_array().unwrap().len(), 3);
    assert_eq!(c["decision"]["escalate"], true);
    // Nobody is on shift: the customer is offered a callback instead of an endless queue.
    assert_eq!(r["handoff"]["status"], "callback", "{r}");
    let (s, h) = app.get("/v1/handoffs?status=callback", &app.lead).await;
    assert_eq!(s, 200, "{h}");
    assert_eq!(h[0]["id"], handoff_id.as_str());
    let (s, h) = app
        .get(&format!("/v1/handoffs/{handoff_id}"), &app.integrator)
        .await;
    assert_eq!((s, h["reason"].clone()), (200, json!("explicit_request")));

    // A later message keeps the handoff and creates no second one.
    let (s, r) = app
        .post_message("c1", &next("customer", "thanks", "2026-11-02T10:02:00Z"))
        .await;
    assert_eq!((s, r["handoff"]["id"].clone()), (200, json!(handoff_id)));
    assert_eq!(app.store.handoffs(None).await.unwrap().len(), 1);
}

#[tokio::test]
async fn keys_and_roles_are_enforced() {
    let app = spawn_app().await;
    let url = format!("{}/v1/conversations/c1/messages", app.base);
    let (s, r) = app.send(app.client.post(&url).json(&first("hi"))).await;
    assert_eq!(
        (s, r["error"]["code"].clone()),
        (401, json!("unauthorized")),
        "{r}"
    );
    let (s, _) = app
        .send(
            app.client
                .post(&url)
                .bearer_auth("baton_00_11")
                .json(&first("hi")),
        )
        .await;
    assert_eq!(s, 401);
    let (s, r) = app
        .send(
            app.client
                .post(&url)
                .bearer_auth(&app.lead)
                .json(&first("hi")),
        )
        .await;
    assert_eq!(
        (s, r["error"]["code"].clone()),
        (403, json!("forbidden")),
        "{r}"
    );
    let (s, _) = app.get("/metrics", &app.integrator).await;
    assert_eq!(s, 403);
    let (s, _) = app
        .send(app.client.get(format!("{}/healthz", app.base)))
        .await;
    assert_eq!(s, 200);

    // A revoked key stops working (a fresh key is not cached yet).
    let k = generate_key(
        "temp",
        KeyRole::Integrator,
        "2026-01-01T00:00:00Z".parse().unwrap(),
    );
    app.store.create_key(k.record.clone()).await.unwrap();
    app.store
        .revoke_key(&k.record.id, "2026-01-02T00:00:00Z".parse().unwrap())
        .await
        .unwrap();
    let (s, r) = app
        .send(app.client.post(&url).bearer_auth(&k.key).json(&first("hi")))
        .await;
    assert_eq!(s, 401, "{r}");
    assert!(r["error"]["message"].as_str().unwrap().contains("revoked"));
    assert_eq!(app.message_count("c1").await, 0);
}

#[tokio::test]
async fn idempotency_key_replays_the_first_answer_without_a_second_append() {
    let app = spawn_app().await;
    let url = format!("{}/v1/conversations/c1/messages", app.base);
    let send = || {
        app.client
            .post(&url)
            .bearer_auth(&app.integrator)
            .header("Idempotency-Key", "req-42")
            .json(&first("hello there"))
    };
    let (s1, r1) = app.send(send()).await;
    let (s2, r2) = app.send(send()).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(r1, r2);
    assert_eq!(app.message_count("c1").await, 1);
    // The same key with another body is refused, naming the key; nothing is appended.
    let (s, r) = app
        .send(
            app.client
                .post(&url)
                .bearer_auth(&app.integrator)
                .header("Idempotency-Key", "req-42")
                .json(&first("a different message")),
        )
        .await;
    assert_eq!(
        (s, r["error"]["field"].clone()),
        (422, json!("Idempotency-Key")),
        "{r}"
    );
    assert!(
        r["error"]["message"].as_str().unwrap().contains("req-42"),
        "{r}"
    );
    assert_eq!(app.message_count("c1").await, 1);
    let (s, r) = app
        .send(
            app.client
                .post(&url)
                .bearer_auth(&app.integrator)
                .header("Idempotency-Key", "has space")
                .json(&first("x")),
        )
        .await;
    assert_eq!(
        (s, r["error"]["field"].clone()),
        (400, json!("Idempotency-Key"))
    );
}

// The answer to a message with an `Idempotency-Key` is built once, inside the store's
// transaction: the first answer and its replay are the same bytes, handoff and customer text
// included.
#[tokio::test]
async fn an_idempotent_escalation_replays_the_same_bytes() {
    let app = spawn_app().await;
    let url = format!("{}/v1/conversations/c1/messages", app.base);
    let body = json!({"customer": customer(), "message": {"role": "customer", "text": "I want to talk to a human, please."}});
    let send = || async {
        let resp = app
            .client
            .post(&url)
            .bearer_auth(&app.integrator)
            .header("Idempotency-Key", "escalate-1")
            .json(&body)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    };
    let (s1, first) = send().await;
    let (s2, replay) = send().await;
    assert_eq!((s1, s2), (200, 200), "{first}");
    let r: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(r["action"], "handoff", "{first}");
    assert!(r["customer_text"].is_string(), "{first}");
    assert_eq!(first, replay);
    assert_eq!(app.message_count("c1").await, 1);
}

#[tokio::test]
async fn bad_input_names_the_field_and_changes_nothing() {
    let app = spawn_app_with(Settings {
        max_body_bytes: 2048,
        ..Settings::default()
    })
    .await;
    let url = format!("{}/v1/conversations/c1/messages", app.base);
    let raw = |body: &str| {
        app.client
            .post(&url)
            .bearer_auth(&app.integrator)
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    let cases: Vec<(reqwest::RequestBuilder, u16, Option<&str>)> = vec![
        (raw("{\"message\": "), 400, None),
        (raw(r#"{"customer": {"id":"c","tier":"free"}, "message": {"role": "bot", "text": "x"}}"#), 400, Some("message.role")),
        (raw(r#"{"message": {"role": "customer", "text": 5}}"#), 400, Some("message.text")),
        (raw(r#"{"message": {"role": "customer", "text": "x"}, "extra": 1}"#), 400, None),
        (raw(&format!(r#"{{"message": {{"role": "customer", "text": "{}"}}}}"#, "a".repeat(5000))), 413, None),
        (app.client.post(&url).bearer_auth(&app.integrator).json(&json!({"message": {"role": "customer", "text": "hi"}})), 422, Some("customer")),
        (app.client.post(&url).bearer_auth(&app.integrator).json(&json!({"customer": customer(), "message": {"role": "ai", "text": "x", "confidence": 1.5}})), 422, Some("message.confidence")),
        (app.client.post(&url).bearer_auth(&app.integrator).json(&json!({"customer": customer(), "message": {"role": "customer", "text": "x", "at": "2099-01-01T00:00:00Z"}})), 422, Some("message.at")),
        (app.client.post(&url).bearer_auth(&app.integrator).json(&json!({"customer": {"id": "c", "tier": "free", "lifetime_value": -3}, "message": {"role": "customer", "text": "x"}})), 422, Some("customer.lifetime_value")),
    ];
    for (i, (req, status, field)) in cases.into_iter().enumerate() {
        let (s, r) = app.send(req).await;
        assert_eq!(s, status, "case {i}: {r}");
        assert!(r["error"]["code"].is_string(), "case {i}: {r}");
        if let Some(f) = field {
            assert_eq!(r["error"]["field"], f, "case {i}: {r}");
        }
    }
    assert_eq!(app.message_count("c1").await, 0);

    // Out of order after a stored message.
    let (s, _) = app.post_message("c1", &first("hello")).await;
    assert_eq!(s, 200);
    let (s, r) = app
        .post_message("c1", &next("ai", "earlier", "2026-11-01T00:00:00Z"))
        .await;
    assert_eq!(
        (s, r["error"]["field"].clone()),
        (422, json!("message.at")),
        "{r}"
    );
    assert_eq!(app.message_count("c1").await, 1);

    let (s, r) = app.get("/v1/conversations/nope", &app.admin).await;
    assert_eq!((s, r["error"]["code"].clone()), (404, json!("not_found")));
    let (s, r) = app.get("/v1/handoffs?status=lost", &app.admin).await;
    assert_eq!((s, r["error"]["field"].clone()), (422, json!("status")));
    let (s, _) = app.get("/v1/nothing", &app.admin).await;
    assert_eq!(s, 404);
}

/// A server that has not cached a conversation takes a message that names its customer to start
/// a new one (no read first); when the store has the conversation, it reads it and decides on
/// the stored messages, as if it had read it first.
#[tokio::test]
async fn an_uncached_conversation_is_read_when_the_store_has_it() {
    let app = spawn_app().await;
    let (s, r) = app
        .post_message("c1", &first("I want to speak to a real person please"))
        .await;
    assert_eq!((s, r["action"].clone()), (200, json!("handoff")), "{r}");
    let handoff = r["handoff"]["id"].clone();
    let again = app.serve_again().await;
    let post = |conv: &str, body: Value| {
        app.send(
            app.client
                .post(format!("{again}/v1/conversations/{conv}/messages"))
                .bearer_auth(&app.integrator)
                .json(&body),
        )
    };
    let later = |text: &str, at: &str| json!({"customer": customer(), "message": {"role": "customer", "text": text, "at": at}});
    // Another customer's message for the stored conversation is refused, and nothing is written.
    let mut other = later("hello?", "2026-11-02T10:01:00Z");
    other["customer"]["id"] = json!("cust-2");
    let (s, r) = post("c1", other).await;
    assert_eq!(
        (s, r["error"]["field"].clone()),
        (422, json!("customer.id")),
        "{r}"
    );
    assert_eq!(app.message_count("c1").await, 1);
    // The customer's next message continues it: index 1, the same handoff, no second one.
    let (s, r) = post("c1", later("hello? anyone?", "2026-11-02T10:02:00Z")).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["index"], 1, "{r}");
    assert_eq!(r["decision"]["at"], 0, "{r}");
    assert_eq!(r["handoff"]["id"], handoff, "{r}");
    assert_eq!(app.store.handoffs(None).await.unwrap().len(), 1);
    assert_eq!(app.message_count("c1").await, 2);
    // A message earlier than the stored ones is refused as on a cached conversation.
    let again2 = app.serve_again().await;
    let (s, r) = app
        .send(
            app.client
                .post(format!("{again2}/v1/conversations/c1/messages"))
                .bearer_auth(&app.integrator)
                .json(&later("still there?", "2026-11-02T09:00:00Z")),
        )
        .await;
    assert_eq!(
        (s, r["error"]["field"].clone()),
        (422, json!("message.at")),
        "{r}"
    );
    // A new conversation starts at index 0.
    let (s, r) = post("c2", later("where is my parcel?", "2026-11-02T10:03:00Z")).await;
    assert_eq!((s, r["index"].clone()), (200, json!(0)), "{r}");
    assert_eq!(app.message_count("c1").await, 2);
}

/// With room for two conversations' state, conversations dropped from the cache between their
/// messages are replayed from the store: the same decisions as if all had stayed in memory.
#[tokio::test]
async fn conversations_dropped_from_the_cache_are_replayed_on_their_next_message() {
    let app = spawn_app_with(Settings {
        live_conversations: 2,
        ..Settings::default()
    })
    .await;
    let (s, r) = app
        .post_message(
            "wants-a-person",
            &first("I want to speak to a real person please"),
        )
        .await;
    assert_eq!((s, r["action"].clone()), (200, json!("handoff")), "{r}");
    let handoff = r["handoff"]["id"].clone();
    let (s, _) = app
        .post_message("asks", &first("When does my plan renew?"))
        .await;
    assert_eq!(s, 200);
    let ai = next(
        "ai",
        "Plans renew every month on the day you signed up.",
        "2026-11-02T10:00:10Z",
    );
    let (s, _) = app.post_message("asks", &ai).await;
    assert_eq!(s, 200);
    for i in 0..8 {
        let (s, r) = app
            .post_message(&format!("other-{i}"), &first("where is my parcel?"))
            .await;
        assert_eq!((s, r["index"].clone()), (200, json!(0)), "{r}");
    }
    let (_, metrics) = app.get("/metrics", &app.admin).await;
    let metrics = metrics.as_str().unwrap_or_default();
    let live: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("baton_live_conversations "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no baton_live_conversations in {metrics}"));
    assert!(live <= 2.0, "{live} conversations cached");
    // The question asked again after the answer is heard: the replayed state remembers it.
    let again = next(
        "customer",
        "Sure, but when does my plan renew?",
        "2026-11-02T10:01:00Z",
    );
    let (s, r) = app.post_message("asks", &again).await;
    assert_eq!((s, r["index"].clone()), (200, json!(2)), "{r}");
    assert_eq!(
        r["decision"]["reasons"][0]["kind"], "repeated_question",
        "{r}"
    );
    // The escalated conversation goes on with its handoff: no second one.
    let later = next("customer", "hello? anyone?", "2026-11-02T10:02:00Z");
    let (s, r) = app.post_message("wants-a-person", &later).await;
    assert_eq!((s, r["index"].clone()), (200, json!(1)), "{r}");
    assert_eq!(
        (r["decision"]["at"].clone(), r["handoff"]["id"].clone()),
        (json!(0), handoff),
        "{r}"
    );
    assert_eq!(app.store.handoffs(None).await.unwrap().len(), 2);
}

#[tokio::test]
async fn racing_messages_of_one_conversation_all_land_in_order() {
    let app = Arc::new(spawn_app().await);
    let (s, _) = app.post_message("c1", &first("start")).await;
    assert_eq!(s, 200);
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                let body = json!({"message": {"role": "ai", "text": format!("reply {i}")}});
                app.post_message("c1", &body).await
            })
        })
        .collect();
    let mut indexes = Vec::new();
    for t in tasks {
        let (s, r) = t.await.unwrap();
        assert_eq!(s, 200, "{r}");
        indexes.push(r["index"].as_u64().unwrap());
    }
    indexes.sort();
    assert_eq!(indexes, (1..=24).collect::<Vec<u64>>());
    assert_eq!(app.message_count("c1").await, 25);
}

#[tokio::test]
async fn agents_customers_and_status() {
    let app = spawn_app().await;
    let put = |path: &str, key: &str, body: Value| {
        app.client
            .put(format!("{}{path}", app.base))
            .bearer_auth(key)
            .json(&body)
    };
    let agent = json!({"name": "Sarah", "skills": ["billing"], "capacity": 3, "seniority": "senior", "team": "billing"});
    let (s, _) = app
        .send(put("/v1/agents/a1", &app.integrator, agent.clone()))
        .await;
    assert_eq!(s, 403);
    let (s, r) = app.send(put("/v1/agents/a1", &app.admin, agent)).await;
    assert_eq!((s, r["status"].clone()), (200, json!("offline")), "{r}");
    let (s, r) = app
        .send(put("/v1/agents/a2", &app.admin, json!({"name": "X", "skills": ["cooking"], "capacity": 3, "seniority": "senior", "team": "t"})))
        .await;
    assert_eq!((s, r["error"]["field"].clone()), (422, json!("skills[0]")));
    let (s, r) = app
        .send(put(
            "/v1/agents/a2",
            &app.admin,
            json!({"name": "X", "skills": [], "capacity": 0, "seniority": "senior", "team": "t"}),
        ))
        .await;
    assert_eq!((s, r["error"]["field"].clone()), (422, json!("capacity")));
    let (s, r) = app
        .send(put(
            "/v1/agents/a1/status",
            &app.lead,
            json!({"status": "available"}),
        ))
        .await;
    assert_eq!((s, r["status"].clone()), (200, json!("available")), "{r}");
    let (s, _) = app
        .send(put(
            "/v1/agents/zz/status",
            &app.lead,
            json!({"status": "available"}),
        ))
        .await;
    assert_eq!(s, 404);
    let (s, r) = app.get("/v1/agents", &app.lead).await;
    assert_eq!((s, r.as_array().unwrap().len()), (200, 1));

    // A stored customer lets the first message come without one; VIP tier drives the vip rule.
    let (s, _) = app
        .send(put(
            "/v1/customers/vip-1",
            &app.integrator,
            json!({"name": "Ms Vale", "tier": "vip", "lifetime_value": 90000}),
        ))
        .await;
    assert_eq!(s, 200);
    let body = |text: &str| json!({"customer": {"id": "vip-1", "name": "Ms Vale", "tier": "vip", "lifetime_value": 90000}, "message": {"role": "customer", "text": text}});
    let (s, r) = app
        .post_message("v1", &body("Can you book the spa for Friday?"))
        .await;
    assert_eq!((s, r["action"].clone()), (200, json!("continue")), "{r}");
    let (s, r) = app
        .post_message("v1", &json!({"message": {"role": "customer", "text": "Also I need a table for six at eight, can you arrange it?"}}))
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["decision"]["reasons"][0]["kind"], "vip");
}

/// A customer's currency: optional, an ISO 4217 code (a bad one is refused naming the field, on
/// both ways in), stored, shown beside the lifetime value in the context package, described in
/// the OpenAPI document.
#[tokio::test]
async fn a_customers_currency_is_validated_stored_and_shown_with_the_lifetime_value() {
    let app = spawn_app().await;
    let elena = json!({"name": "Elena Ruiz", "tier": "premium", "lifetime_value": 12500.0, "currency": "eur"});
    let (s, r) = app
        .put("/v1/customers/u-eur", &app.integrator, elena.clone())
        .await;
    assert_eq!((s, &r["error"]["field"]), (400, &json!("currency")), "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`eur` is not an ISO 4217 currency code"),
        "{r}"
    );
    let (s, r) = app
        .post_message(
            "c-bad",
            &json!({"customer": {"id": "u-x", "tier": "free", "currency": "EURO"}, "message": {"role": "customer", "text": "hi"}}),
        )
        .await;
    assert_eq!(
        (s, &r["error"]["field"]),
        (400, &json!("customer.currency")),
        "{r}"
    );
    assert_eq!(app.message_count("c-bad").await, 0);

    let mut elena = elena;
    elena["currency"] = json!("EUR");
    let (s, r) = app
        .put("/v1/customers/u-eur", &app.integrator, elena.clone())
        .await;
    assert_eq!((s, &r["currency"]), (200, &json!("EUR")), "{r}");
    let (_, r) = app.get("/v1/customers/u-eur", &app.integrator).await;
    assert_eq!(r["currency"], "EUR", "{r}");

    // In the context package, beside the value; a customer without one has none.
    for (conv, customer, currency) in [
        (
            "c-eur",
            json!({"id": "u-eur", "name": "Elena Ruiz", "tier": "premium", "lifetime_value": 12500.0, "currency": "EUR"}),
            Some("EUR"),
        ),
        (
            "c-plain",
            json!({"id": "u-plain", "name": "Pat Lee", "tier": "premium", "lifetime_value": 900.0}),
            None,
        ),
    ] {
        let (s, r) = app
            .post_message(
                conv,
                &json!({"customer": customer, "message": {"role": "customer", "text": "I want to talk to a human, please."}}),
            )
            .await;
        assert_eq!((s, &r["action"]), (200, &json!("handoff")), "{r}");
        let id = r["handoff"]["id"].as_str().unwrap();
        let (_, h) = app.get(&format!("/v1/handoffs/{id}"), &app.lead).await;
        let card = &h["context"]["customer"];
        assert_eq!(card["lifetime_value"], customer["lifetime_value"], "{card}");
        assert_eq!(
            card.get("currency").and_then(|c| c.as_str()),
            currency,
            "{card}"
        );
    }

    let (_, spec) = app.get("/openapi.json", &app.lead).await;
    for schema in ["CustomerIn", "Customer"] {
        let currency = &spec["components"]["schemas"][schema]["properties"]["currency"];
        assert_eq!(currency["pattern"], "^[A-Z]{3}$", "{schema}: {currency}");
    }
}

#[tokio::test]
async fn openapi_describes_every_route_and_metrics_count_requests() {
    let app = spawn_app().await;
    let (s, spec) = app.get("/openapi.json", &app.lead).await;
    assert_eq!(s, 200);
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.push((method.clone(), path.clone()));
        }
    }
    documented.sort();
    let mut routes: Vec<(String, String)> = baton_server::ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    routes.sort();
    assert_eq!(documented, routes);

    let _ = app
        .post_message("c1", &first("I want to cancel my subscription"))
        .await;
    let (s, text) = app.get("/metrics", &app.admin).await;
    assert_eq!(s, 200);
    let text = text.as_str().unwrap();
    assert!(text.contains("baton_http_requests_total"), "{text}");
    // Each request is counted on its route's line (the handles are registered once and kept).
    let posted = |text: &str| -> u64 {
        text.lines()
            .find(|l| {
                l.starts_with("baton_http_requests_total{")
                    && l.contains("path=\"/v1/conversations/{id}/messages\"")
            })
            .and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("no request line for the messages route: {text}"))
    };
    assert_eq!(posted(text), 1, "{text}");
    let _ = app.post_message("c2", &first("where is my parcel")).await;
    let (_, again) = app.get("/metrics", &app.admin).await;
    assert_eq!(posted(again.as_str().unwrap()), 2);
    assert!(
        text.contains("baton_decisions_total{reason=\"cancellation\"}"),
        "{text}"
    );
    assert!(text.contains("baton_handoffs_total"), "{text}");
}

#[tokio::test]
async fn each_key_is_rate_limited_with_retry_after() {
    let app = spawn_app_with(Settings {
        rate_limit_per_second: 2,
        ..Settings::default()
    })
    .await;
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..8 {
        let resp = app
            .client
            .get(format!("{}/v1/agents", app.base))
            .bearer_auth(&app.lead)
            .send()
            .await
            .unwrap();
        if resp.status() == 429 {
            retry_after = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
        }
        statuses.push(resp.status().as_u16());
    }
    // A burst of twice the rate passes, then 429 with Retry-After.
    assert_eq!(&statuses[..4], &[200, 200, 200, 200], "{statuses:?}");
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(retry_after.is_some());
    // Another key is not affected.
    let (s, _) = app.get("/v1/agents", &app.admin).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn the_nul_character_is_refused_where_it_is() {
    // No database stores U+0000 in text (PostgreSQL refuses it); it is a client error, named.
    let app = spawn_app().await;
    let (s, e) = app
        .post_message(
            "nul",
            &json!({"customer": {"id": "u1", "name": "Ann", "tier": "standard", "lifetime_value": 1.0},
                    "message": {"role": "customer", "text": "hello \u{0} there"}}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["field"].clone()),
        (422, json!("message.text")),
        "{e}"
    );
    // An escaped backslash before `u0000` is plain text.
    let (s, e) = app
        .post_message(
            "nul",
            &json!({"customer": {"id": "u1", "name": "Ann", "tier": "standard", "lifetime_value": 1.0},
                    "message": {"role": "customer", "text": "a path: C:\\u0000dir"}}),
        )
        .await;
    assert_eq!(s, 200, "{e}");
    for path in ["/v1/handoffs/a%00b", "/v1/report?team=%00"] {
        let (s, e) = app.get(path, &app.admin).await;
        assert_eq!(s, 400, "{path}: {e}");
    }
}

/// Regression (issue 14, item 5): what axum answers before a handler runs is the documented JSON
/// too, and the body must be exactly `application/json`.
#[tokio::test]
async fn every_error_is_json_and_bodies_must_be_json() {
    let app = spawn_app().await;
    // A path that is not percent-encoded UTF-8.
    let (s, e) = app.get("/v1/handoffs/%FF", &app.admin).await;
    assert_eq!(
        (s, e["error"]["code"].clone()),
        (400, json!("invalid_request")),
        "{e}"
    );
    assert!(e["error"]["message"].as_str().unwrap().len() > 5, "{e}");
    let url = format!("{}/v1/conversations/c1/messages", app.base);
    let body = first("hi").to_string();
    for (ct, expected) in [
        (None, 415),
        (Some("application/json-patch+json"), 415),
        (Some("text/plain"), 415),
        (Some("application/jsonx"), 415),
        (Some("Application/JSON; charset=utf-8"), 200),
    ] {
        let mut req = app
            .client
            .post(&url)
            .bearer_auth(&app.integrator)
            .body(body.clone());
        if let Some(ct) = ct {
            req = req.header("content-type", ct);
        }
        let (s, e) = app.send(req).await;
        assert_eq!(s, expected, "{ct:?}: {e}");
        if s == 415 {
            assert_eq!(e["error"]["field"], "Content-Type", "{e}");
        }
    }
    assert_eq!(app.message_count("c1").await, 1);
}

/// Regression (issue 14, item 5): every string the API stores has a limit, named in the answer.
#[tokio::test]
async fn stored_strings_have_documented_limits() {
    let app = spawn_app().await;
    let long_url = format!("https://example.com/{}", "a".repeat(3000));
    let (s, e) = app
        .post("/v1/webhooks", &app.admin, json!({"url": long_url}))
        .await;
    assert_eq!((s, e["error"]["field"].clone()), (422, json!("url")), "{e}");
    let (s, e) = app
        .post_message(
            "c1",
            &json!({"customer": {"id": "u1", "name": "n".repeat(201), "tier": "standard"},
                    "message": {"role": "customer", "text": "hi"}}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["field"].clone()),
        (422, json!("customer.name")),
        "{e}"
    );
    assert_eq!(app.message_count("c1").await, 0);
    let (s, e) = app
        .put(
            "/v1/agents/a1",
            &app.admin,
            json!({"name": "Ana", "skills": ["billing"], "capacity": 2, "seniority": "senior", "team": "t".repeat(300)}),
        )
        .await;
    assert_eq!(
        (s, e["error"]["field"].clone()),
        (422, json!("team")),
        "{e}"
    );
    // The limits are in the OpenAPI document.
    let (_, doc) = app.get("/openapi.json", &app.admin).await;
    assert_eq!(
        doc["components"]["schemas"]["WebhookIn"]["properties"]["url"]["maxLength"],
        2048
    );
}

/// Regression (issue 14, item 4): an id beyond the newest event (a reset database) restarts the
/// stream from the newest event with a `reset` event instead of waiting for ever.
#[tokio::test]
async fn last_event_id_beyond_the_newest_event_starts_over_with_a_reset_event() {
    let app = spawn_app().await;
    let mut resp = app
        .client
        .get(format!("{}/v1/events", app.base))
        .bearer_auth(&app.admin)
        .header("Last-Event-ID", "999999")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut seen = String::new();
    let read = async {
        while !seen.contains("event: reset") {
            let chunk = resp.chunk().await.unwrap().expect("the stream ended");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read)
        .await
        .expect("no reset event");
    assert!(seen.contains("beyond the newest event"), "{seen}");
    assert!(seen.contains("id: 0"), "{seen}");
}

/// Regression (issue 14, item 6): revoking through an instance takes effect there at once; a
/// revocation made elsewhere (the CLI, another instance) within `key_cache_ms`.
#[tokio::test]
async fn revoked_keys_stop_at_once_here_and_within_the_cache_time_elsewhere() {
    use tower::ServiceExt;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(baton_store::sqlite::SqliteStore::open(dir.path().join("k.db")).unwrap());
    let settings = Settings {
        key_cache_ms: 300,
        ..Settings::default()
    };
    let state = baton_server::AppState::new(store.clone(), baton_core::Policy::default(), settings);
    let app = baton_server::router(state.clone());
    let call = |key: String| {
        let app = app.clone();
        async move {
            let req = axum::http::Request::get("/v1/agents")
                .header("authorization", format!("Bearer {key}"))
                .body(axum::body::Body::empty())
                .unwrap();
            app.oneshot(req).await.unwrap().status().as_u16()
        }
    };
    let mut keys = Vec::new();
    for name in ["here", "elsewhere"] {
        let k = generate_key(
            name,
            KeyRole::Admin,
            "2026-01-01T00:00:00Z".parse().unwrap(),
        );
        store.create_key(k.record.clone()).await.unwrap();
        assert_eq!(call(k.key.clone()).await, 200); // now cached
        keys.push(k);
    }
    baton_server::auth::revoke_key(
        &state,
        &keys[0].record.id,
        "2026-01-02T00:00:00Z".parse().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(call(keys[0].key.clone()).await, 401);
    store
        .revoke_key(&keys[1].record.id, "2026-01-02T00:00:00Z".parse().unwrap())
        .await
        .unwrap();
    let revoked_at = std::time::Instant::now();
    while call(keys[1].key.clone()).await == 200 {
        assert!(
            revoked_at.elapsed() < std::time::Duration::from_secs(2),
            "still accepted {:?} after the revocation",
            revoked_at.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The server reads the time from its state: a message's `at` defaults to it and may be ahead of
/// it by at most `max_clock_skew_seconds`.
#[tokio::test]
async fn messages_are_timed_and_checked_by_the_server_clock() {
    use tower::ServiceExt;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(baton_store::sqlite::SqliteStore::open(dir.path().join("c.db")).unwrap());
    let now: jiff::Timestamp = "2026-11-02T10:00:00Z".parse().unwrap();
    let state = baton_server::AppState::new(
        store.clone(),
        baton_core::Policy::default(),
        Settings::default(),
    )
    .with_clock(move || now);
    let app = baton_server::router(state);
    let key = generate_key("bot", KeyRole::Integrator, now);
    store.create_key(key.record.clone()).await.unwrap();
    let post = |body: Value| {
        let app = app.clone();
        let key = key.key.clone();
        async move {
            let req = axum::http::Request::post("/v1/conversations/c1/messages")
                .header("authorization", format!("Bearer {key}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap();
            let resp = app.oneshot(req).await.unwrap();
            let status = resp.status().as_u16();
            let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
                .await
                .unwrap();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        }
    };
    let (s, r) = post(json!({"customer": customer(), "message": {"role": "customer", "text": "hello", "at": "2026-11-02T10:05:01Z"}})).await;
    assert_eq!(
        (s, &r["error"]["field"]),
        (422, &json!("message.at")),
        "{r}"
    );
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("server time 2026-11-02T10:00:00Z"),
        "{r}"
    );
    let (s, r) =
        post(json!({"customer": customer(), "message": {"role": "customer", "text": "hello"}}))
            .await;
    assert_eq!(s, 200, "{r}");
    let c = store.conversation("c1").await.unwrap().unwrap();
    assert_eq!(c.messages[0].at, now);
}
