//! Handoffs over real HTTP: routing, the context package, the lifecycle, queue times, business
//! hours, live events, webhooks and concurrency.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use baton_core::Policy;
use baton_server::Settings;
use baton_store::Store;
use serde_json::{json, Value};

fn dispute(name: &str, tier: &str) -> Value {
    json!({"customer": {"id": format!("cust-{name}"), "name": name, "tier": tier, "lifetime_value": 500.0, "timezone": "Europe/Rome"},
           "message": {"role": "customer", "text": "There's a charge of €87.40 on my bill for order HO-IT-55120. I was never in Switzerland, this charge is wrong and I want it removed."}})
}

#[tokio::test]
async fn an_escalation_is_routed_with_its_context_and_goes_through_its_lifecycle() {
    let app = spawn_app().await;
    app.agent_on_shift("junior", &["billing"], 3, "junior")
        .await;
    app.agent_on_shift("senior", &["billing"], 3, "senior")
        .await;
    app.agent_on_shift("tech", &["technical"], 2, "regular")
        .await;

    let (s, r) = app
        .post_message("c1", &dispute("Chiara Conti", "premium"))
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["action"], "handoff");
    assert_eq!(r["decision"]["reasons"][0]["kind"], "transaction_dispute");
    let h = &r["handoff"];
    assert_eq!(h["status"], "assigned", "{r}");
    assert_eq!(h["team"], "Billing");
    // High priority goes to the senior agent even though both are free.
    assert_eq!(r["decision"]["priority"], "high", "{r}");
    assert_eq!(h["agent_id"], "senior");
    assert!(
        r["customer_text"]
            .as_str()
            .unwrap()
            .contains("Agent senior from our Billing team"),
        "{r}"
    );
    let id = h["id"].as_str().unwrap().to_string();

    // The context package a human reads in 10 seconds.
    let (s, full) = app.get(&format!("/v1/handoffs/{id}"), &app.lead).await;
    assert_eq!(s, 200, "{full}");
    let ctx = &full["context"];
    let summary = ctx["summary"].as_str().unwrap();
    assert!(
        summary.contains("Chiara Conti") && summary.contains("disputing a charge"),
        "{summary}"
    );
    assert!(
        ctx["facts"]["references"]
            .to_string()
            .contains("HO-IT-55120"),
        "{ctx}"
    );
    assert!(
        ctx["facts"]["amounts"].to_string().contains("87.40"),
        "{ctx}"
    );
    assert!(
        ctx["greeting"]
            .as_str()
            .unwrap()
            .starts_with("Hi Chiara, I'm Agent"),
        "{ctx}"
    );
    assert!(
        ctx["warm_transfer"]
            .as_str()
            .unwrap()
            .contains("from our Billing team"),
        "{ctx}"
    );
    assert_eq!(ctx["sentiment"][0]["colour"], "red", "{ctx}");
    assert!(!ctx["recommended_actions"].as_array().unwrap().is_empty());

    // Lifecycle, with the transitions that make no sense refused.
    let post = |path: String, body: Value| {
        let app = &app;
        async move { app.post(&path, &app.lead, body).await }
    };
    let (s, e) = post(
        format!("/v1/handoffs/{id}/accept"),
        json!({"agent_id": "junior"}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["code"].clone()),
        (409, json!("conflict")),
        "{e}"
    );
    let (s, r) = post(
        format!("/v1/handoffs/{id}/accept"),
        json!({"agent_id": "senior"}),
    )
    .await;
    assert_eq!((s, r["status"].clone()), (200, json!("accepted")), "{r}");
    let (s, e) = post(
        format!("/v1/handoffs/{id}/transfer"),
        json!({"to_skill": "astrology", "note": "x"}),
    )
    .await;
    assert_eq!(
        (s, e["error"]["field"].clone()),
        (422, json!("to_skill")),
        "{e}"
    );
    let (s, r) = post(
        format!("/v1/handoffs/{id}/transfer"),
        json!({"to_skill": "technical", "note": "Roaming data came from a Swiss tower: check the network logs"}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (
            r["status"].clone(),
            r["agent_id"].clone(),
            r["transfers"].clone()
        ),
        (json!("assigned"), json!("tech"), json!(1))
    );
    let agents: Value = app.get("/v1/agents", &app.lead).await.1;
    let load = |id: &str| {
        agents
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["id"] == id)
            .unwrap()["active"]
            .clone()
    };
    assert_eq!((load("senior"), load("tech")), (json!(0), json!(1)));
    let (s, r) = post(
        format!("/v1/handoffs/{id}/resolve"),
        json!({"resolution": "charge reversed", "necessary": true, "missing": "authority to reverse charges"}),
    )
    .await;
    assert_eq!((s, r["status"].clone()), (200, json!("resolved")), "{r}");
    // The resolve kept the escalation's facts and the final quality score for the reports.
    let kept = app
        .store
        .metrics(baton_store::MetricsQuery::default())
        .await
        .unwrap();
    let h = kept.handoffs.iter().find(|h| h.id == id).unwrap();
    assert!(h.facts.is_some(), "{h:?}");
    let (score, _) = h.quality.clone().expect("quality saved at resolve");
    assert!((0.0..=100.0).contains(&score), "{score}");
    let (s, _) = post(
        format!("/v1/handoffs/{id}/resolve"),
        json!({"resolution": "again", "necessary": true}),
    )
    .await;
    assert_eq!(s, 409);
    let (s, _) = post(
        format!("/v1/handoffs/{id}/accept"),
        json!({"agent_id": "tech"}),
    )
    .await;
    assert_eq!(s, 409);
    let (s, e) = app
        .post(
            &format!("/v1/handoffs/{id}/csat"),
            &app.integrator,
            json!({"score": 9}),
        )
        .await;
    assert_eq!((s, e["error"]["field"].clone()), (422, json!("score")));
    let (s, r) = app
        .post(
            &format!("/v1/handoffs/{id}/csat"),
            &app.integrator,
            json!({"score": 5}),
        )
        .await;
    assert_eq!((s, r["csat"].clone()), (200, json!(5)), "{r}");
    let agents: Value = app.get("/v1/agents", &app.lead).await.1;
    assert!(
        agents.as_array().unwrap().iter().all(|a| a["active"] == 0),
        "{agents}"
    );
    let (s, _) = app
        .post(
            "/v1/handoffs/nope/accept",
            &app.lead,
            json!({"agent_id": "x"}),
        )
        .await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn without_a_free_agent_the_customer_is_queued_with_an_honest_wait() {
    let app = spawn_app().await;
    app.agent_on_shift("busy", &["billing"], 1, "regular").await;
    let (_, first) = app.post_message("c1", &dispute("Ana", "standard")).await;
    assert_eq!(first["handoff"]["status"], "assigned");
    let (s, r) = app.post_message("c2", &dispute("Ben", "standard")).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["handoff"]["status"], "queued", "{r}");
    assert_eq!(r["handoff"]["queue_position"], 0);
    // One agent, one slot, 420 s default handle time: the next slot is ~7 minutes away.
    assert_eq!(r["handoff"]["eta_seconds"], 420.0, "{r}");
    let text = r["customer_text"].as_str().unwrap();
    assert!(
        text.contains("Expected wait time is about 7 minutes"),
        "{text}"
    );
    assert_eq!(r["ai_may_continue"], true);

    // An explicit request is acknowledged at once, with the wait.
    let (_, r) = app
        .post_message("c3", &json!({"customer": {"id": "cz", "name": "Zoe", "tier": "free"}, "message": {"role": "customer", "text": "I need a human about my bill, now"}}))
        .await;
    let text = r["customer_text"].as_str().unwrap();
    assert!(text.starts_with("Of course, Zoe."), "{text}");

    // When the busy agent resolves, the queue moves: the first queued handoff gets the agent.
    let h1 = first["handoff"]["id"].as_str().unwrap();
    app.post(
        &format!("/v1/handoffs/{h1}/resolve"),
        &app.lead,
        json!({"resolution": "done", "necessary": true}),
    )
    .await;
    let (_, q) = app.get("/v1/handoffs?status=assigned", &app.lead).await;
    assert_eq!(q[0]["conversation_id"], "c2", "{q}");
}

#[tokio::test]
async fn outside_business_hours_the_customer_is_offered_a_callback_in_their_time() {
    // Billing opens only one minute a week in this policy: closed almost always.
    let source = baton_core::policy::DEFAULT_POLICY.replacen(
        "name = \"Billing\"\nskill = \"billing\"\ntimezone = \"UTC\"\nhours = [\"daily 00:00-24:00\"]",
        "name = \"Billing\"\nskill = \"billing\"\ntimezone = \"Europe/London\"\nhours = [\"sun 03:00-03:01\"]",
        1,
    );
    let policy = Policy::from_toml(&source).unwrap();
    let app = spawn_app_full(Settings::default(), policy, false).await;
    app.agent_on_shift("a", &["billing"], 3, "senior").await;
    let (s, r) = app.post_message("c1", &dispute("Chiara", "standard")).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["handoff"]["status"], "callback", "{r}");
    let at: jiff::Timestamp = r["handoff"]["callback_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let local = at.to_zoned(jiff::tz::TimeZone::get("Europe/London").unwrap());
    assert_eq!(
        (local.weekday(), local.hour(), local.minute()),
        (jiff::civil::Weekday::Sunday, 3, 0)
    );
    let text = r["customer_text"].as_str().unwrap();
    assert!(
        text.contains("callback") && text.contains("(Europe/Rome)"),
        "{text}"
    );
}

/// Regression: a polite request for a person after two failed fixes showed as a calm (green)
/// customer, in the queue and in the handoff's top bar.
#[tokio::test]
async fn the_queue_and_the_package_show_the_customer_state_the_engine_found() {
    let app = spawn_app().await;
    app.agent_on_shift("tech", &["technical"], 2, "regular")
        .await;
    let turns = [
        ("customer", "The app keeps logging me out every few minutes since the update."),
        ("ai", "Sorry about that, Tom. Please update to version 8.2.1 and sign in again."),
        ("customer", "Already on 8.2.1. Still happening."),
        ("ai", "Thanks. Please clear the app cache under Settings > Storage and sign in again."),
        ("customer", "Did that too. Honestly this is getting me nowhere, is there anybody actually working there I can talk to?"),
    ];
    let mut last = Value::Null;
    for (i, (role, text)) in turns.iter().enumerate() {
        let mut body = json!({"message": {"role": role, "text": text}});
        if i == 0 {
            body["customer"] = json!({"id": "tom", "name": "Tom Becker", "tier": "premium"});
        }
        let (s, r) = app.post_message("c-tom", &body).await;
        assert_eq!(s, 200, "{r}");
        last = r;
    }
    assert_eq!(
        last["decision"]["reasons"][0]["kind"], "explicit_request",
        "{last}"
    );
    let id = last["handoff"]["id"].as_str().unwrap();
    let (_, h) = app.get(&format!("/v1/handoffs/{id}"), &app.lead).await;
    let c = &h["context"];
    assert_eq!(c["customer_state"]["mood"], "frustrated", "{c}");
    assert_eq!(c["sentiment_now"], "red", "{c}");
    assert_eq!(c["ai_assessment"]["did_not_work"], json!([1, 3]), "{c}");
    let (_, list) = app.get("/v1/handoffs", &app.lead).await;
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap();
    assert_eq!(row["sentiment"], "red", "{row}");
}

/// Regression: with the team open (the default hours are round the clock) and nobody with the
/// skill on shift, the customer was told "Our Billing team is available daily 00:00-24:00" next
/// to a callback offer.
#[tokio::test]
async fn with_the_team_open_but_nobody_free_the_callback_text_does_not_quote_the_hours() {
    let app = spawn_app().await;
    app.agent_on_shift("tech", &["technical"], 2, "regular")
        .await;
    let (s, r) = app.post_message("c1", &dispute("Chiara", "standard")).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["handoff"]["status"], "callback", "{r}");
    let text = r["customer_text"].as_str().unwrap();
    assert!(
        text.starts_with("Nobody from our Billing team is free to take this right now.")
            && text.contains("(Europe/Rome)")
            && !text.contains("daily 00:00-24:00"),
        "{text}"
    );
}

#[tokio::test]
async fn an_assignment_not_accepted_in_time_goes_to_the_next_agent() {
    let source = baton_core::policy::DEFAULT_POLICY.replacen(
        "accept_timeout_seconds = 120",
        "accept_timeout_seconds = 1",
        1,
    );
    let app = spawn_app_full(
        Settings::default(),
        Policy::from_toml(&source).unwrap(),
        true,
    )
    .await;
    app.agent_on_shift("first", &["billing"], 2, "senior").await;
    let (_, r) = app.post_message("c1", &dispute("Ana", "standard")).await;
    let assigned_to = r["handoff"]["agent_id"].as_str().unwrap().to_string();
    app.agent_on_shift("second", &["billing"], 2, "regular")
        .await;
    let id = r["handoff"]["id"].as_str().unwrap().to_string();
    let mut moved = Value::Null;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, h) = app.get(&format!("/v1/handoffs/{id}"), &app.lead).await;
        if h["agent_id"].is_string() && h["agent_id"] != assigned_to.as_str() {
            moved = h;
            break;
        }
    }
    assert_eq!(moved["agent_id"], "second", "{moved}");
    let (_, agents) = app.get("/v1/agents", &app.lead).await;
    let first = agents
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == assigned_to.as_str())
        .unwrap();
    assert_eq!(
        (first["status"].clone(), first["active"].clone()),
        (json!("away"), json!(0)),
        "{agents}"
    );
}

#[tokio::test]
async fn concurrent_escalations_never_double_assign_or_exceed_capacity() {
    let app = Arc::new(spawn_app().await);
    for i in 0..5 {
        app.agent_on_shift(&format!("a{i}"), &["billing"], 2, "regular")
            .await;
    }
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move {
                app.post_message(&format!("c{i}"), &dispute(&format!("N{i}"), "standard"))
                    .await
            })
        })
        .collect();
    for t in tasks {
        let (s, r) = t.await.unwrap();
        assert_eq!(s, 200, "{r}");
    }
    let all = app.store.handoffs(None).await.unwrap();
    assert_eq!(all.len(), 64);
    let assigned: Vec<_> = all.iter().filter(|h| h.agent_id.is_some()).collect();
    assert_eq!(assigned.len(), 10, "5 agents x capacity 2");
    for a in app.store.agents().await.unwrap() {
        let mine = assigned
            .iter()
            .filter(|h| h.agent_id.as_deref() == Some(&a.id))
            .count();
        assert_eq!(mine as u32, a.active, "{}", a.id);
        assert!(a.active <= a.capacity);
    }
    let mut conversations: Vec<_> = all.iter().map(|h| h.conversation_id.clone()).collect();
    conversations.sort();
    conversations.dedup();
    assert_eq!(conversations.len(), 64, "one handoff per conversation");
}

/// Reads SSE events until `want` events arrived or the time is up.
async fn read_events(resp: reqwest::Response, want: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut buf = String::new();
    let mut resp = resp;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while out.len() < want {
        let chunk = match tokio::time::timeout_at(deadline, resp.chunk()).await {
            Ok(Ok(Some(c))) => c,
            _ => break,
        };
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let (mut id, mut kind) = (String::new(), String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().to_string();
                }
                if let Some(v) = line.strip_prefix("event:") {
                    kind = v.trim().to_string();
                }
            }
            if !id.is_empty() {
                out.push((id, kind));
            }
        }
    }
    out
}

#[tokio::test]
async fn live_events_arrive_and_resume_with_last_event_id() {
    let app = spawn_app().await;
    app.agent_on_shift("a", &["billing"], 2, "senior").await;
    let stream = app
        .client
        .get(format!("{}/v1/events", app.base))
        .bearer_auth(&app.lead)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let (_, r) = app.post_message("c1", &dispute("Ana", "standard")).await;
    assert_eq!(r["handoff"]["status"], "assigned");
    let events = read_events(stream, 2).await;
    let kinds: Vec<&str> = events.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(kinds, ["handoff.created", "handoff.assigned"], "{events:?}");

    // Resume after the first: only what came later.
    let resumed = app
        .client
        .get(format!("{}/v1/events", app.base))
        .bearer_auth(&app.lead)
        .header("Last-Event-ID", &events[0].0)
        .send()
        .await
        .unwrap();
    let again = read_events(resumed, 1).await;
    assert_eq!(again[0], events[1]);
    let bad = app
        .client
        .get(format!("{}/v1/events", app.base))
        .bearer_auth(&app.lead)
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

/// (webhook-id, webhook-timestamp, webhook-signature, body)
type Received = (String, String, String, String);

#[tokio::test]
async fn webhooks_are_signed_retried_and_delivered_in_order() {
    // A receiver on loopback that fails the first two attempts.
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let failures = Arc::new(Mutex::new(2));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    {
        let (received, failures) = (received.clone(), failures.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: String| {
                let (received, failures) = (received.clone(), failures.clone());
                async move {
                    let mut f = failures.lock().unwrap();
                    if *f > 0 {
                        *f -= 1;
                        return axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    let h = |n: &str| headers.get(n).unwrap().to_str().unwrap().to_string();
                    received.lock().unwrap().push((
                        h("webhook-id"),
                        h("webhook-timestamp"),
                        h("webhook-signature"),
                        body,
                    ));
                    axum::http::StatusCode::NO_CONTENT
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
    }

    let app = spawn_app_full(Settings::default(), Policy::default(), true).await;
    let (s, w) = app
        .post("/v1/webhooks", &app.integrator, json!({"url": url}))
        .await;
    assert_eq!(s, 201, "{w}");
    let secret = w["secret"].as_str().unwrap().to_string();
    let (s, e) = app
        .post("/v1/webhooks", &app.integrator, json!({"url": "ftp://x"}))
        .await;
    assert_eq!((s, e["error"]["field"].clone()), (422, json!("url")));
    app.agent_on_shift("a", &["billing"], 2, "senior").await;
    let (_, r) = app.post_message("c1", &dispute("Ana", "standard")).await;
    assert_eq!(r["handoff"]["status"], "assigned");

    let expected = app.store.last_event_seq().await.unwrap();
    let mut got = Vec::new();
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        got = received.lock().unwrap().clone();
        if got
            .last()
            .is_some_and(|(id, ..)| *id == format!("evt_{expected}"))
        {
            break;
        }
    }
    assert!(!got.is_empty(), "nothing delivered");
    let seqs: Vec<i64> = got
        .iter()
        .map(|(id, ..)| id.trim_start_matches("evt_").parse().unwrap())
        .collect();
    let mut sorted = seqs.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seqs, sorted, "in order, once each");
    assert_eq!(
        *seqs.last().unwrap(),
        expected,
        "every event up to the last"
    );
    for (id, ts, sig, body) in &got {
        let expected_sig =
            baton_server::webhooks::sign(&secret, id, ts.parse().unwrap(), body).unwrap();
        assert_eq!(sig, &expected_sig);
    }
    assert!(got
        .iter()
        .any(|(.., body)| body.contains("\"type\":\"handoff.assigned\"")));
}

#[tokio::test]
async fn integrator_suggestions_are_recorded_as_used_edited_or_dismissed() {
    let app = spawn_app().await;
    app.agent_on_shift("a1", &["billing"], 2, "senior").await;
    let (_, r) = app.post_message("c1", &dispute("Ana", "standard")).await;
    let id = r["handoff"]["id"].as_str().unwrap().to_string();
    let (s, e) = app
        .post(
            &format!("/v1/handoffs/{id}/suggestions"),
            &app.integrator,
            json!({}),
        )
        .await;
    assert_eq!((s, e["error"]["field"].clone()), (422, json!("replies")));
    let (s, _) = app
        .post(
            &format!("/v1/handoffs/{id}/suggestions"),
            &app.integrator,
            json!({"replies": ["I've refunded the charge.", "Sorry about the roaming fee."], "kb_articles": [{"id": "kb-roaming", "title": "Roaming near borders"}]}),
        )
        .await;
    assert_eq!(s, 201);
    let (_, list) = app
        .get(&format!("/v1/handoffs/{id}/suggestions"), &app.lead)
        .await;
    // In the order they were given: the two replies, then the KB article.
    let texts = strings(&list["integrator"], "text");
    assert_eq!(
        texts,
        [
            "I've refunded the charge.",
            "Sorry about the roaming fee.",
            "Roaming near borders"
        ]
    );
    let ids = strings(&list["integrator"], "id");
    assert!(list["baton"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["kind"] == "reply"));
    // A wrong suggestion id stores nothing.
    let before = app.message_count("c1").await;
    let (s, _) = app
        .post(
            &format!("/v1/handoffs/{id}/messages"),
            &app.lead,
            json!({"text": "hi", "suggestion_id": "nope"}),
        )
        .await;
    assert_eq!(s, 422);
    assert_eq!(app.message_count("c1").await, before);
    // Used verbatim, edited, dismissed.
    let (s, r) = app
        .post(
            &format!("/v1/handoffs/{id}/messages"),
            &app.lead,
            json!({"text": "I've refunded the charge.", "suggestion_id": ids[0]}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let (s, _) = app
        .post(
            &format!("/v1/handoffs/{id}/messages"),
            &app.lead,
            json!({"text": "Sorry about the roaming fee, Ana.", "suggestion_id": ids[1]}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .post(
            &format!("/v1/handoffs/{id}/suggestions/{}", ids[2]),
            &app.lead,
            json!({"status": "dismissed"}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, list) = app
        .get(&format!("/v1/handoffs/{id}/suggestions"), &app.lead)
        .await;
    let statuses = strings(&list["integrator"], "status");
    assert_eq!(statuses, ["used", "edited", "dismissed"]);
    // The first reply accepted the assigned handoff.
    let (_, h) = app.get(&format!("/v1/handoffs/{id}"), &app.lead).await;
    assert_eq!(h["status"], "accepted");
}

#[tokio::test]
async fn an_agent_key_acts_as_its_own_agent_and_leads_read_the_audit_trail() {
    let app = spawn_app().await;
    app.agent_on_shift("a1", &["billing"], 2, "senior").await;
    let (_, r) = app
        .post_message("c1", &first("I was charged twice, get me a real person"))
        .await;
    let id = r["handoff"]["id"].as_str().unwrap().to_string();
    assert_eq!(r["handoff"]["agent_id"], "a1", "{r}");
    let key = app.agent_key("a1").await;
    // Accepting as another agent is refused; without `agent_id` the key's own agent accepts.
    let (s, e) = app
        .post(
            &format!("/v1/handoffs/{id}/accept"),
            &key,
            json!({"agent_id": "a2"}),
        )
        .await;
    assert_eq!(s, 403, "{e}");
    let (s, h) = app
        .post(&format!("/v1/handoffs/{id}/accept"), &key, json!({}))
        .await;
    assert_eq!((s, h["status"].clone()), (200, json!("accepted")), "{h}");
    // The agent's view has no audit trail; the lead's shows who did what.
    let (_, mine) = app.get(&format!("/v1/handoffs/{id}"), &key).await;
    assert!(mine.get("audit").is_none(), "{mine}");
    let (s, full) = app.get(&format!("/v1/handoffs/{id}"), &app.lead).await;
    assert_eq!(s, 200);
    let trail = full["audit"].as_array().unwrap();
    let kinds: Vec<&str> = trail.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["handoff.created", "handoff.assigned", "handoff.accepted"]
    );
    assert_eq!(trail[1]["by"], Value::Null, "routing assigned it");
    assert_eq!(trail[2]["by"]["role"], "agent");
    assert_eq!(
        trail[2]["by"]["key_id"].as_str().unwrap(),
        key.split('_').nth(1).unwrap()
    );
    assert_eq!(trail[2]["agent_id"], "a1");
    // The customer's rating waits for the resolution.
    let (s, e) = app
        .post(
            &format!("/v1/handoffs/{id}/csat"),
            &app.integrator,
            json!({"score": 5}),
        )
        .await;
    assert_eq!(s, 409, "{e}");
}

#[tokio::test]
async fn queue_rows_tell_customers_apart_and_the_summary_has_each_teams_service_level() {
    let app = spawn_app().await;
    app.agent_on_shift("a", &["billing"], 1, "senior").await;
    let (_, r) = app.post_message("c1", &dispute("Ana", "standard")).await;
    let taken = r["handoff"]["id"].as_str().unwrap().to_string();
    let (_, r) = app.post_message("c2", &dispute("Bea", "vip")).await;
    assert_eq!(r["handoff"]["status"], "queued", "{r}");
    // Open ones only, in one call; every row with customer, summary, target and assignee.
    let (s, rows) = app
        .get(
            "/v1/handoffs?status=queued,assigned,accepted,callback",
            &app.lead,
        )
        .await;
    assert_eq!(s, 200, "{rows}");
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let first = &rows[0];
    assert_eq!(first["id"], taken.as_str());
    assert_eq!(first["customer"]["name"], "Ana");
    assert_eq!(first["agent_name"], "Agent a");
    assert_eq!(first["target_seconds"], 120);
    assert_eq!(first["messages"], 1);
    assert!(
        first["summary"]
            .as_str()
            .unwrap()
            .contains("disputing a charge"),
        "{first}"
    );
    assert_eq!(rows[1]["customer"]["tier"], "vip");
    let (s, e) = app.get("/v1/handoffs?status=queued,lost", &app.lead).await;
    assert_eq!(
        (s, e["error"]["field"].clone()),
        (422, json!("status")),
        "{e}"
    );

    // Billing: one waits (queued), one offered and not accepted yet; nothing answered today.
    let (s, sum) = app.get("/v1/summary", &app.lead).await;
    assert_eq!(s, 200, "{sum}");
    let billing = sum["teams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["skill"] == "billing")
        .unwrap()
        .clone();
    assert_eq!(billing["target_seconds"], 120, "{billing}");
    assert_eq!(billing["waiting"], 2, "{billing}");
    assert_eq!(billing["answered_today"], 0, "{billing}");
    assert!(billing["longest_wait_seconds"].as_f64().unwrap() < 120.0);
    // Accepted at once: answered within the target.
    let (s, _) = app
        .post(
            &format!("/v1/handoffs/{taken}/accept"),
            &app.lead,
            json!({}),
        )
        .await;
    assert_eq!(s, 200);
    let (_, sum) = app.get("/v1/summary", &app.lead).await;
    let billing = sum["teams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["skill"] == "billing")
        .unwrap()
        .clone();
    assert_eq!(
        (
            &billing["answered_today"],
            &billing["answered_within_target"]
        ),
        (&json!(1), &json!(1)),
        "{billing}"
    );
    assert_eq!(billing["service_level"], 1.0);
    assert_eq!(billing["breaches_today"], 0);
}

#[tokio::test]
async fn a_customer_message_on_a_handed_off_conversation_is_a_live_event_for_its_agent() {
    let app = spawn_app().await;
    app.agent_on_shift("a", &["billing"], 2, "senior").await;
    app.agent_on_shift("b", &["billing"], 2, "regular").await;
    let (_, r) = app.post_message("c1", &dispute("Ana", "standard")).await;
    assert_eq!(r["handoff"]["agent_id"], "a", "{r}");
    let stream = |key: String| {
        let app = &app;
        async move {
            app.client
                .get(format!("{}/v1/events", app.base))
                .bearer_auth(key)
                .send()
                .await
                .unwrap()
        }
    };
    let mine = stream(app.agent_key("a").await).await;
    let other = stream(app.agent_key("b").await).await;
    let (s, _) = app
        .post_message(
            "c1",
            &json!({"message": {"role": "customer", "text": "Hello? Anyone there?"}}),
        )
        .await;
    assert_eq!(s, 200);
    let events = read_events(mine, 1).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].1, "message.customer");
    // Not b's handoff: b's stream stays quiet.
    assert!(read_events(other, 1).await.is_empty());
    // It is not a lifecycle change: the audit trail is unchanged.
    let id = r["handoff"]["id"].as_str().unwrap();
    let (_, h) = app.get(&format!("/v1/handoffs/{id}"), &app.lead).await;
    let kinds = strings(&h["audit"], "kind");
    assert_eq!(kinds, ["handoff.created", "handoff.assigned"]);
}

#[tokio::test]
async fn the_weekly_review_lists_resolved_handoffs_only() {
    let app = spawn_app().await;
    app.agent_on_shift("a", &["billing"], 3, "senior").await;
    let mut ids = Vec::new();
    for (c, name) in [("c1", "Ana"), ("c2", "Bea")] {
        let (_, r) = app.post_message(c, &dispute(name, "standard")).await;
        ids.push(r["handoff"]["id"].as_str().unwrap().to_string());
    }
    for path in ["accept", "resolve"] {
        let body = match path {
            "accept" => json!({}),
            _ => json!({"resolution": "Refunded", "necessary": true}),
        };
        let (s, r) = app
            .post(&format!("/v1/handoffs/{}/{path}", ids[0]), &app.lead, body)
            .await;
        assert_eq!(s, 200, "{r}");
    }
    let (s, r) = app.get("/v1/report", &app.lead).await;
    assert_eq!(s, 200, "{r}");
    let review = strings(&r["weekly_review"], "handoff_id");
    assert_eq!(review, [ids[0].as_str()], "the open one is not reviewed");
}

/// The queue keeps each row's summary and state between calls (every desk fetches it on every
/// event); a change to one handoff's conversation shows in that row at the next call, and the
/// other rows stay as they were.
#[tokio::test]
async fn the_queue_follows_a_change_to_one_handoff_and_keeps_the_others() {
    let app = spawn_app().await;
    app.agent_on_shift("a", &["billing"], 2, "senior").await;
    let (_, r) = app.post_message("c1", &dispute("Ana", "standard")).await;
    let ana = r["handoff"]["id"].as_str().unwrap().to_string();
    let (_, r) = app.post_message("c2", &dispute("Bea", "standard")).await;
    let bea = r["handoff"]["id"].as_str().unwrap().to_string();
    // The parts of a row that come from the conversation.
    let rows = || async {
        let (s, list) = app
            .get(
                "/v1/handoffs?status=queued,assigned,accepted,callback",
                &app.lead,
            )
            .await;
        assert_eq!(s, 200, "{list}");
        let row = |id: &str| {
            let r = list.as_array().unwrap().iter().find(|r| r["id"] == id);
            let r = r.unwrap_or_else(|| panic!("no row {id} in {list}"));
            json!([r["summary"], r["sentiment"], r["messages"], r["customer"]])
        };
        (row(&ana), row(&bea))
    };
    let (ana_before, bea_before) = rows().await;
    assert_eq!(rows().await, (ana_before.clone(), bea_before.clone()));

    // The bot answers Ana while she waits: one more message, one more AI reply in the summary.
    let (s, r) = app
        .post_message(
            "c1",
            &json!({"message": {"role": "ai", "text": "I've passed the charge of €87.40 to our billing team; they will review it with you."}}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let (ana_after, bea_after) = rows().await;
    assert_eq!(ana_after[2], 2, "{ana_after}");
    assert!(
        ana_after[0].as_str().unwrap().contains(" 1 AI reply, "),
        "{ana_after}"
    );
    // The summary is the one the context package has now.
    let (_, h) = app.get(&format!("/v1/handoffs/{ana}"), &app.lead).await;
    assert_eq!(ana_after[0], h["context"]["summary"], "{h}");
    assert_eq!(ana_after[1], h["context"]["sentiment_now"], "{h}");
    assert_eq!(bea_after, bea_before);

    // The customer's record changes (no message): the row follows too.
    let (s, r) = app
        .put(
            "/v1/customers/cust-Bea",
            &app.integrator,
            json!({"name": "Beatrice Rossi", "tier": "vip", "lifetime_value": 500.0}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let (ana_last, bea_last) = rows().await;
    assert_eq!(ana_last, ana_after);
    assert!(
        bea_last[0]
            .as_str()
            .unwrap()
            .starts_with("VIP customer Beatrice Rossi is"),
        "{bea_last}"
    );
    assert_eq!(bea_last[3]["tier"], "vip", "{bea_last}");
}
