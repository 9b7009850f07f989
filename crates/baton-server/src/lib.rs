//! Baton's HTTP API: axum handlers over a [`baton_store::Store`], with API keys, metrics and an
//! OpenAPI description generated from the code.
//!
//! [`router`] builds the whole app from its state, so tests run it without `main`.

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod metrics;
pub mod openapi;
pub mod wire;

use std::sync::Arc;

use axum::routing::{get, post, put};
use axum::Router;
use baton_core::Policy;
use baton_store::Store;

pub use config::Settings;

/// Everything a handler needs.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub policy: Arc<Policy>,
    pub settings: Arc<Settings>,
    pub conversations: Arc<api::Conversations>,
    pub keys: Arc<auth::KeyCache>,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, policy: Policy, settings: Settings) -> Self {
        Self {
            store,
            policy: Arc::new(policy),
            settings: Arc::new(settings),
            conversations: Arc::default(),
            keys: Arc::default(),
            metrics: metrics::handle(),
        }
    }
}

/// Every route of the API, as (method, path) — kept equal to the OpenAPI paths by a test.
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/conversations/{id}/messages"),
    ("get", "/v1/conversations/{id}"),
    ("put", "/v1/customers/{id}"),
    ("get", "/v1/customers/{id}"),
    ("put", "/v1/agents/{id}"),
    ("put", "/v1/agents/{id}/status"),
    ("get", "/v1/agents"),
    ("get", "/v1/handoffs"),
    ("get", "/v1/handoffs/{id}"),
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

/// The application: all routes, metrics middleware, and JSON errors for unknown routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/conversations/{id}/messages", post(api::post_message))
        .route("/v1/conversations/{id}", get(api::get_conversation))
        .route(
            "/v1/customers/{id}",
            put(api::put_customer).get(api::get_customer),
        )
        .route("/v1/agents/{id}", put(api::put_agent))
        .route("/v1/agents/{id}/status", put(api::put_agent_status))
        .route("/v1/agents", get(api::list_agents))
        .route("/v1/handoffs", get(api::list_handoffs))
        .route("/v1/handoffs/{id}", get(api::get_handoff))
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(api::metrics))
        .route("/openapi.json", get(api::openapi))
        .fallback(|| async { error::ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            error::ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(error::ApiError::internal("internal error"))
        }))
        .with_state(state)
}

/// Serves `app` on `listener` until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Resolves on SIGTERM or ctrl-c.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
