//! Prometheus metrics: requests and latencies by route and status, decisions by primary reason,
//! handoffs created.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use baton_core::Decision;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::auth::{Caller, ADMINS};
use crate::error::ApiResult;
use crate::AppState;

/// The process-wide recorder (installed once; every app in the process shares it).
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                ])
                .expect("static buckets are valid")
                .build_recorder();
            let handle = recorder.handle();
            // Another recorder may already be installed (tests embedding several apps).
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Middleware: counts requests and records their latency, labelled by the matched route.
pub async fn track(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().to_string();
    let path = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("path", path), ("status", status)];
    metrics::counter!("baton_http_requests_total", &labels).increment(1);
    metrics::histogram!("baton_http_request_duration_seconds", &labels)
        .record(start.elapsed().as_secs_f64());
    response
}

/// Prometheus metrics (admin key).
#[utoipa::path(get, path = "/metrics", responses((status = 200, body = String, content_type = "text/plain")), security(("bearer" = [])))]
pub async fn metrics(State(state): State<AppState>, caller: Caller) -> ApiResult<String> {
    caller.require(ADMINS)?;
    Ok(state.metrics.render())
}

/// Records one decision (and the handoff it created, if any).
pub fn decision(d: &Decision, handoff_created: bool) {
    let reason = d
        .reasons
        .first()
        .map(|r| r.kind.to_string())
        .unwrap_or_else(|| "none".into());
    metrics::counter!("baton_decisions_total", "reason" => reason.clone()).increment(1);
    if handoff_created {
        metrics::counter!("baton_handoffs_total", "reason" => reason, "skill" => d.skill.clone().unwrap_or_default())
            .increment(1);
    }
}
