//! Property test: the router answers generated request bodies, paths and headers with a client
//! error or success, never a 500, and a rejected request changes no stored state.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use baton_core::Policy;
use baton_server::auth::generate_key;
use baton_server::{router, AppState, Settings};
use baton_store::sqlite::SqliteStore;
use baton_store::{KeyRole, Store};
use proptest::prelude::*;
use tower::ServiceExt;

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map_or(serde_json::Value::Null, serde_json::Value::Number)),
        ".{0,20}".prop_map(serde_json::Value::from),
        prop::sample::select(vec![
            "customer",
            "ai",
            "agent",
            "vip",
            "free",
            "2026-11-02T10:00:00Z",
            "available",
            "senior"
        ])
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "customer",
                    "message",
                    "role",
                    "text",
                    "at",
                    "confidence",
                    "id",
                    "tier",
                    "lifetime_value",
                    "name",
                    "skills",
                    "capacity",
                    "seniority",
                    "team",
                    "status",
                    "kb_articles",
                    "x"
                ])
                .prop_map(String::from),
                inner,
                0..5
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        json_value().prop_map(|v| v.to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..64),
    ]
}

fn route() -> impl Strategy<Value = (&'static str, String)> {
    let id = prop_oneof![Just("c1".to_string()), "[a-z0-9%.]{0,12}"];
    (
        prop::sample::select(vec![
            ("POST", "/v1/conversations/{}/messages"),
            ("PUT", "/v1/customers/{}"),
            ("PUT", "/v1/agents/{}"),
            ("PUT", "/v1/agents/{}/status"),
            ("GET", "/v1/handoffs?status={}"),
            ("GET", "/v1/conversations/{}"),
        ]),
        id,
    )
        .prop_map(|((m, p), id)| (m, p.replace("{}", &id)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generated_requests_never_get_a_500(requests in prop::collection::vec((route(), body(), any::<bool>()), 1..8)) {
        let (rt, store, app, key) = fixture();
        rt.block_on(async move {
            for ((method, path), body, with_type) in requests {
                let before = store.conversation("c1").await.unwrap().map(|c| c.messages.len());
                let mut req = Request::builder()
                    .method(method)
                    .uri(&path)
                    .header("authorization", format!("Bearer {key}"));
                if with_type {
                    req = req.header("content-type", "application/json");
                }
                let req = match req.body(Body::from(body)) {
                    Ok(r) => r,
                    Err(_) => continue, // not a valid HTTP request at all
                };
                let resp = app.clone().oneshot(req).await.unwrap();
                let status = resp.status();
                assert!(status != StatusCode::INTERNAL_SERVER_ERROR, "{method} {path} -> 500");
                assert!(status.is_success() || status.is_client_error(), "{method} {path} -> {status}");
                if status.is_client_error() {
                    let after = store.conversation("c1").await.unwrap().map(|c| c.messages.len());
                    assert_eq!(before, after, "{method} {path} -> {status} changed state");
                }
            }
        });
    }
}

type Fixture = (
    tokio::runtime::Runtime,
    Arc<SqliteStore>,
    axum::Router,
    String,
    tempfile::TempDir,
);

/// One runtime, database and app for all cases (opening a database per case is slow).
fn fixture() -> (
    &'static tokio::runtime::Runtime,
    Arc<SqliteStore>,
    axum::Router,
    String,
) {
    static FIXTURE: std::sync::OnceLock<Fixture> = std::sync::OnceLock::new();
    let f = FIXTURE.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path().join("b.db")).unwrap());
        let key = generate_key(
            "admin",
            KeyRole::Admin,
            "2026-01-01T00:00:00Z".parse().unwrap(),
        );
        rt.block_on(store.create_key(key.record.clone())).unwrap();
        let app = router(AppState::new(
            store.clone(),
            Policy::default(),
            Settings {
                rate_limit_per_second: 0,
                ..Settings::default()
            },
        ));
        (rt, store, app, key.key, dir)
    });
    (&f.0, f.1.clone(), f.2.clone(), f.3.clone())
}
