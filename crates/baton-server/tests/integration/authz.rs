//! The authorization matrix: every route of the API x every caller (no key, integrator, an agent
//! on its own object, an agent on another agent's object, lead, admin), over real HTTP, each cell
//! on a fresh server so that one cell's change cannot decide another's answer.
//!
//! Adding a route to `baton_server::ROUTES` without a row here fails
//! `every_route_has_a_row`.

use std::collections::BTreeSet;

use crate::common::{self, spawn_app, TestApp};
use baton_store::Store;
use serde_json::{json, Value};

/// Who calls. `AgentOwn` acts on agent a1's objects with a1's key; `AgentOther` on agent a2's
/// objects with a1's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Nobody,
    Integrator,
    AgentOwn,
    AgentOther,
    Lead,
    Admin,
}

const CALLERS: [Caller; 6] = [
    Caller::Nobody,
    Caller::Integrator,
    Caller::AgentOwn,
    Caller::AgentOther,
    Caller::Lead,
    Caller::Admin,
];

/// One route: method, path (placeholders `{conversation}`, `{handoff}`, `{agent}`,
/// `{customer}`, `{suggestion}`, `{webhook}`), body, and the expected status for integrator,
/// agent on its own object, agent on another's, lead and admin (no key is always 401, but
/// for `/healthz`).
struct Row {
    method: &'static str,
    route: &'static str,
    path: &'static str,
    body: fn() -> Value,
    expect: [u16; 5],
}

fn none() -> Value {
    Value::Null
}

const ROWS: &[Row] = &[
    Row {
        method: "post",
        route: "/v1/conversations/{id}/messages",
        path: "/v1/conversations/{conversation}/messages",
        body: || json!({"message": {"role": "customer", "text": "thanks, one more thing"}}),
        expect: [200, 403, 403, 403, 200],
    },
    Row {
        method: "get",
        route: "/v1/conversations/{id}",
        path: "/v1/conversations/{conversation}",
        body: none,
        expect: [200, 200, 403, 200, 200],
    },
    Row {
        method: "post",
        route: "/v1/conversations/{id}/csat",
        path: "/v1/conversations/{conversation}/csat",
        body: || json!({"score": 4}),
        expect: [204, 403, 403, 403, 204],
    },
    Row {
        method: "put",
        route: "/v1/customers/{id}",
        path: "/v1/customers/{customer}",
        body: || json!({"name": "Dana Reyes", "tier": "premium", "lifetime_value": 900.0}),
        expect: [200, 403, 403, 403, 200],
    },
    Row {
        method: "get",
        route: "/v1/customers/{id}",
        path: "/v1/customers/{customer}",
        body: none,
        expect: [200, 403, 403, 200, 200],
    },
    Row {
        method: "put",
        route: "/v1/agents/{id}",
        path: "/v1/agents/{agent}",
        body: || json!({"name": "Renamed", "skills": ["billing"], "capacity": 2, "seniority": "senior", "team": "billing"}),
        expect: [403, 403, 403, 403, 200],
    },
    Row {
        method: "put",
        route: "/v1/agents/{id}/status",
        path: "/v1/agents/{agent}/status",
        body: || json!({"status": "away"}),
        expect: [403, 200, 403, 200, 200],
    },
    Row {
        method: "get",
        route: "/v1/agents",
        path: "/v1/agents",
        body: none,
        expect: [403, 200, 200, 200, 200],
    },
    Row {
        method: "get",
        route: "/v1/handoffs",
        path: "/v1/handoffs",
        body: none,
        expect: [403, 200, 200, 200, 200],
    },
    Row {
        method: "get",
        route: "/v1/handoffs/{id}",
        path: "/v1/handoffs/{handoff}",
        body: none,
        expect: [200, 200, 403, 200, 200],
    },
    Row {
        method: "post",
        route: "/v1/handoffs/{id}/accept",
        path: "/v1/handoffs/{handoff}/accept",
        body: || json!({}),
        expect: [403, 200, 403, 200, 200],
    },
    Row {
        method: "post",
        route: "/v1/handoffs/{id}/transfer",
        path: "/v1/handoffs/{handoff}/transfer",
        body: || json!({"to_skill": "general", "note": "customer asked about a delivery"}),
        expect: [403, 200, 403, 200, 200],
    },
    Row {
        method: "post",
        route: "/v1/handoffs/{id}/resolve",
        path: "/v1/handoffs/{handoff}/resolve",
        body: || json!({"resolution": "refunded the duplicate charge", "necessary": true}),
        expect: [403, 200, 403, 200, 200],
    },
    Row {
        method: "post",
        route: "/v1/handoffs/{id}/callback",
        path: "/v1/handoffs/{handoff}/callback",
        body: || json!({"at": "2099-01-01T10:00:00Z"}),
        // The bot may schedule a callback only while the customer waits in the queue; this
        // handoff is with an agent.
        expect: [403, 200, 403, 200, 200],
    },
    Row {
        method: "post",
        route: "/v1/handoffs/{id}/csat",
        path: "/v1/handoffs/{handoff}/csat",
        body: || json!({"score": 5}),
        // Allowed to the bot, but the handoff is not resolved yet: 409.
        expect: [409, 403, 403, 403, 409],
    },
    Row {
        method: "get",
        route: "/v1/events",
        path: "/v1/events",
        body: none,
        expect: [200, 200, 200, 200, 200],
    },
    Row {
        method: "get",
        route: "/v1/me",
        path: "/v1/me",
        body: none,
        expect: [200, 200, 200, 200, 200],
    },
    Row {
        method: "post",
        route: "/v1/handoffs/{id}/messages",
        path: "/v1/handoffs/{handoff}/messages",
        body: || json!({"text": "Hi, I'm looking at the charge now."}),
        expect: [403, 200, 403, 200, 200],
    },
    Row {
        method: "post",
        route: "/v1/handoffs/{id}/suggestions",
        path: "/v1/handoffs/{handoff}/suggestions",
        body: || json!({"replies": ["I can refund the duplicate charge."]}),
        expect: [201, 403, 403, 403, 201],
    },
    Row {
        method: "get",
        route: "/v1/handoffs/{id}/suggestions",
        path: "/v1/handoffs/{handoff}/suggestions",
        body: none,
        expect: [200, 200, 403, 200, 200],
    },
    Row {
        method: "post",
        route: "/v1/handoffs/{id}/suggestions/{sid}",
        path: "/v1/handoffs/{handoff}/suggestions/{suggestion}",
        body: || json!({"status": "dismissed"}),
        expect: [403, 200, 403, 200, 200],
    },
    Row {
        method: "get",
        route: "/v1/summary",
        path: "/v1/summary",
        body: none,
        expect: [403, 403, 403, 200, 200],
    },
    Row {
        method: "get",
        route: "/v1/report",
        path: "/v1/report",
        body: none,
        expect: [403, 403, 403, 200, 200],
    },
    Row {
        method: "post",
        route: "/v1/webhooks",
        path: "/v1/webhooks",
        body: || json!({"url": "http://127.0.0.1:9/hook"}),
        expect: [201, 403, 403, 403, 201],
    },
    Row {
        method: "get",
        route: "/v1/webhooks",
        path: "/v1/webhooks",
        body: none,
        expect: [200, 403, 403, 403, 200],
    },
    Row {
        method: "delete",
        route: "/v1/webhooks/{id}",
        path: "/v1/webhooks/{webhook}",
        body: none,
        expect: [204, 403, 403, 403, 204],
    },
    Row {
        method: "get",
        route: "/healthz",
        path: "/healthz",
        body: none,
        expect: [200, 200, 200, 200, 200],
    },
    Row {
        method: "get",
        route: "/metrics",
        path: "/metrics",
        body: none,
        expect: [403, 403, 403, 403, 200],
    },
    Row {
        method: "get",
        route: "/openapi.json",
        path: "/openapi.json",
        body: none,
        expect: [200, 200, 200, 200, 200],
    },
];

/// A server with two billing agents, a1 and a2, each holding one handoff (with an integrator
/// suggestion), and one webhook.
struct Fixture {
    app: TestApp,
    a1_key: String,
    /// Conversation, handoff and suggestion of a1 and of a2.
    own: (String, String, String),
    other: (String, String, String),
    webhook: String,
}

async fn fixture() -> Fixture {
    let app = spawn_app().await;
    app.agent_on_shift("a1", &["billing", "general"], 1, "senior")
        .await;
    app.agent_on_shift("a2", &["billing", "general"], 1, "senior")
        .await;
    let mut held = Vec::new();
    for conv in ["c-one", "c-two"] {
        let (s, r) = app
            .post_message(
                conv,
                &json!({"customer": common::customer(), "message": {"role": "customer", "text": "I was charged twice, can I talk to a real person please?"}}),
            )
            .await;
        assert_eq!(s, 200, "{r}");
        let h = &r["handoff"];
        assert_eq!(h["status"], "assigned", "{r}");
        let hid = h["id"].as_str().unwrap().to_string();
        let (s, r) = app
            .post(
                &format!("/v1/handoffs/{hid}/suggestions"),
                &app.integrator,
                json!({"replies": ["Sorry about that, I can refund it."]}),
            )
            .await;
        assert_eq!(s, 201, "{r}");
        let sid = app.store.suggestions(&hid).await.unwrap()[0].id.clone();
        let agent = h["agent_id"].as_str().unwrap().to_string();
        held.push((agent, (conv.to_string(), hid, sid)));
    }
    held.sort();
    assert_eq!(held[0].0, "a1");
    assert_eq!(held[1].0, "a2");
    let (s, w) = app
        .post(
            "/v1/webhooks",
            &app.admin,
            json!({"url": "http://127.0.0.1:9/existing"}),
        )
        .await;
    assert_eq!(s, 201, "{w}");
    let a1_key = app.agent_key("a1").await;
    Fixture {
        a1_key,
        own: held[0].1.clone(),
        other: held[1].1.clone(),
        webhook: w["id"].as_str().unwrap().to_string(),
        app,
    }
}

/// Runs one cell on a fresh server; returns the status.
async fn cell(row: &Row, caller: Caller) -> (u16, String) {
    let f = fixture().await;
    let (conversation, handoff, suggestion) = match caller {
        Caller::AgentOther => &f.other,
        _ => &f.own,
    };
    let agent = if caller == Caller::AgentOther {
        "a2"
    } else {
        "a1"
    };
    let path = row
        .path
        .replace("{conversation}", conversation)
        .replace("{handoff}", handoff)
        .replace("{suggestion}", suggestion)
        .replace("{agent}", agent)
        .replace("{customer}", "cust-1")
        .replace("{webhook}", &f.webhook);
    let url = format!("{}{path}", f.app.base);
    let c = &f.app.client;
    let mut req = match row.method {
        "get" => c.get(&url),
        "post" => c.post(&url),
        "put" => c.put(&url),
        "delete" => c.delete(&url),
        m => panic!("no method {m}"),
    };
    let body = (row.body)();
    if !body.is_null() {
        req = req.json(&body);
    }
    let key = match caller {
        Caller::Nobody => None,
        Caller::Integrator => Some(f.app.integrator.clone()),
        Caller::AgentOwn | Caller::AgentOther => Some(f.a1_key.clone()),
        Caller::Lead => Some(f.app.lead.clone()),
        Caller::Admin => Some(f.app.admin.clone()),
    };
    if let Some(k) = key {
        req = req.bearer_auth(k);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    // A stream (SSE) answers at once; its body never ends.
    let text = if row.route == "/v1/events" {
        String::new()
    } else {
        resp.text().await.unwrap_or_default()
    };
    (status, text)
}

#[test]
fn every_route_has_a_row() {
    let routes: BTreeSet<(&str, &str)> = baton_server::ROUTES.iter().copied().collect();
    let rows: BTreeSet<(&str, &str)> = ROWS.iter().map(|r| (r.method, r.route)).collect();
    assert_eq!(
        routes.difference(&rows).collect::<Vec<_>>(),
        Vec::<&(&str, &str)>::new(),
        "routes without a row in the authorization matrix"
    );
    assert_eq!(
        rows.difference(&routes).collect::<Vec<_>>(),
        Vec::<&(&str, &str)>::new(),
        "rows for routes that do not exist"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_route_x_every_role_x_own_or_other_object() {
    // Eight cells at a time, each on its own server.
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(8));
    let mut set = tokio::task::JoinSet::new();
    for row in ROWS {
        for caller in CALLERS {
            let permits = permits.clone();
            set.spawn(async move {
                let _permit = permits.acquire().await.unwrap();
                let expected = match caller {
                    Caller::Nobody if row.route == "/healthz" => 200,
                    Caller::Nobody => 401,
                    Caller::Integrator => row.expect[0],
                    Caller::AgentOwn => row.expect[1],
                    Caller::AgentOther => row.expect[2],
                    Caller::Lead => row.expect[3],
                    Caller::Admin => row.expect[4],
                };
                let (got, body) = cell(row, caller).await;
                (row, caller, expected, got, body)
            });
        }
    }
    let results = set.join_all().await;
    let wrong: Vec<String> = results
        .iter()
        .filter(|(_, _, expected, got, _)| expected != got)
        .map(|(row, caller, expected, got, body)| {
            format!(
                "{} {} as {caller:?}: expected {expected}, got {got} {body}",
                row.method.to_uppercase(),
                row.route
            )
        })
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} cells wrong:\n{}",
        wrong.len(),
        results.len(),
        wrong.join("\n")
    );
    // Denials name what was refused, in the documented error shape.
    for (_, _, _, got, body) in &results {
        if *got == 403 {
            let v: Value = serde_json::from_str(body).unwrap();
            assert_eq!(v["error"]["code"], "forbidden", "{body}");
        }
    }
}
