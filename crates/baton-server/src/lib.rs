//! Baton's HTTP API: axum handlers over a [`baton_store::Store`], with API keys, metrics and an
//! OpenAPI description generated from the code.
//!
//! [`router`] builds the whole app from its state, so tests run it without `main`.

pub mod agents;
pub mod auth;
pub mod config;
pub mod conversations;
pub mod customers;
pub mod desk;
pub mod error;
pub mod events;
pub mod glances;
pub mod handoffs;
pub mod health;
mod ingest;
pub mod live;
mod lookup;
pub mod metrics;
pub mod openapi;
pub mod reporting;
pub mod server;
pub mod service_level;
pub mod state;
pub mod suggestions;
pub mod webhooks;
pub mod wire;

use axum::routing::{get, post, put};
use axum::Router;

pub use config::{Database, DatabaseError, Settings, SettingsError};
pub use server::{serve, serve_with, shutdown_signal, ConnectionLimits};
pub use state::AppState;

/// Every route of the API, as (method, path) — kept equal to the OpenAPI paths by a test.
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/v1/conversations/{id}/messages"),
    ("get", "/v1/conversations/{id}"),
    ("post", "/v1/conversations/{id}/csat"),
    ("put", "/v1/customers/{id}"),
    ("get", "/v1/customers/{id}"),
    ("put", "/v1/agents/{id}"),
    ("put", "/v1/agents/{id}/status"),
    ("get", "/v1/agents"),
    ("get", "/v1/handoffs"),
    ("get", "/v1/handoffs/{id}"),
    ("post", "/v1/handoffs/{id}/accept"),
    ("post", "/v1/handoffs/{id}/transfer"),
    ("post", "/v1/handoffs/{id}/resolve"),
    ("post", "/v1/handoffs/{id}/callback"),
    ("post", "/v1/handoffs/{id}/csat"),
    ("get", "/v1/events"),
    ("get", "/v1/me"),
    ("post", "/v1/handoffs/{id}/messages"),
    ("post", "/v1/handoffs/{id}/suggestions"),
    ("get", "/v1/handoffs/{id}/suggestions"),
    ("post", "/v1/handoffs/{id}/suggestions/{sid}"),
    ("get", "/v1/summary"),
    ("get", "/v1/report"),
    ("post", "/v1/webhooks"),
    ("get", "/v1/webhooks"),
    ("delete", "/v1/webhooks/{id}"),
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

/// The application: all routes, metrics middleware, body and handler timeouts, and JSON errors
/// for everything (unknown routes, rejections made before a handler runs, timeouts).
pub fn router(state: AppState) -> Router {
    let body_timeout = std::time::Duration::from_secs(state.settings.body_timeout_seconds.max(1));
    let request_timeout =
        std::time::Duration::from_secs(state.settings.request_timeout_seconds.max(1));
    Router::new()
        .route(
            "/v1/conversations/{id}/messages",
            post(conversations::post_message),
        )
        .route(
            "/v1/conversations/{id}",
            get(conversations::get_conversation),
        )
        .route(
            "/v1/conversations/{id}/csat",
            post(conversations::conversation_csat),
        )
        .route(
            "/v1/customers/{id}",
            put(customers::put_customer).get(customers::get_customer),
        )
        .route("/v1/agents/{id}", put(agents::put_agent))
        .route("/v1/agents/{id}/status", put(agents::put_agent_status))
        .route("/v1/agents", get(agents::list_agents))
        .route("/v1/handoffs", get(handoffs::list_handoffs))
        .route("/v1/handoffs/{id}", get(handoffs::get_handoff))
        .route("/v1/handoffs/{id}/accept", post(handoffs::accept))
        .route("/v1/handoffs/{id}/transfer", post(handoffs::transfer))
        .route("/v1/handoffs/{id}/resolve", post(handoffs::resolve))
        .route("/v1/handoffs/{id}/callback", post(handoffs::callback))
        .route("/v1/handoffs/{id}/csat", post(handoffs::csat))
        .route("/v1/events", get(events::events))
        .route("/v1/me", get(desk::me))
        .route("/v1/handoffs/{id}/messages", post(desk::reply))
        .route(
            "/v1/handoffs/{id}/suggestions",
            post(suggestions::add_suggestions).get(suggestions::suggestions),
        )
        .route(
            "/v1/handoffs/{id}/suggestions/{sid}",
            post(suggestions::suggestion_status),
        )
        .route("/v1/summary", get(desk::summary))
        .route("/v1/report", get(desk::report))
        .route("/", get(|| async { axum::response::Redirect::to("/desk") }))
        .route("/desk", get(desk::desk_page))
        .route("/dashboard", get(desk::dashboard_page))
        .route("/assets/app.js", get(desk::app_js))
        .route("/assets/style.css", get(desk::style_css))
        .route("/v1/webhooks", post(webhooks::create).get(webhooks::list))
        .route("/v1/webhooks/{id}", axum::routing::delete(webhooks::delete))
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(metrics::metrics))
        .route("/openapi.json", get(openapi::openapi))
        .fallback(|| async { error::ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            error::ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(axum::middleware::from_fn(wire::reject_nul_in_uri))
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(tower_http::timeout::RequestBodyDeadlineLayer::new(
            body_timeout,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            request_timeout,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(error::ApiError::internal("internal error"))
        }))
        .layer(axum::middleware::from_fn(error::json_errors))
        .with_state(state)
}
