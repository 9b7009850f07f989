//! Request bodies to every endpoint that takes one, through the real router and a real SQLite
//! file: never a 5xx, and never a panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::Request;
use baton_core::Policy;
use baton_server::auth::generate_key;
use baton_server::{router, AppState, Settings};
use baton_store::sqlite::SqliteStore;
use baton_store::{KeyRole, Store};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

const ROUTES: &[(&str, &str)] = &[
    ("POST", "/v1/conversations/c1/messages"),
    ("POST", "/v1/conversations/c2/messages"),
    ("PUT", "/v1/customers/u1"),
    ("PUT", "/v1/agents/a1"),
    ("PUT", "/v1/agents/a1/status"),
    ("POST", "/v1/handoffs/h-x/accept"),
    ("POST", "/v1/handoffs/h-x/transfer"),
    ("POST", "/v1/handoffs/h-x/resolve"),
    ("POST", "/v1/handoffs/h-x/callback"),
    ("POST", "/v1/handoffs/h-x/csat"),
    ("POST", "/v1/handoffs/h-x/messages"),
    ("POST", "/v1/handoffs/h-x/suggestions"),
    ("POST", "/v1/conversations/c1/csat"),
    ("POST", "/v1/webhooks"),
];

struct Fixture {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
    key: String,
    _dir: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(dir.path().join("fuzz.db")).unwrap());
        let key = generate_key(
            "admin",
            KeyRole::Admin,
            "2026-01-01T00:00:00Z".parse().unwrap(),
        );
        rt.block_on(store.create_key(key.record.clone())).unwrap();
        let app = router(AppState::new(
            store,
            Policy::default(),
            Settings {
                rate_limit_per_second: 0,
                ..Settings::default()
            },
        ));
        Fixture {
            rt,
            app,
            key: key.key,
            _dir: dir,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let (method, path) = ROUTES[pick as usize % ROUTES.len()];
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {}", f.key))
        .header("content-type", "application/json")
        .body(Body::from(body.to_vec()))
        .unwrap();
    let status = f.rt.block_on(f.app.clone().oneshot(req)).unwrap().status();
    assert!(!status.is_server_error(), "{method} {path} -> {status}");
});
