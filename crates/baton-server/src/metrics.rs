//! Prometheus metrics: requests and latencies by route and status, decisions by primary reason,
//! handoffs created.

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
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
    let method = req.method().clone();
    let path = req.extensions().get::<MatchedPath>().cloned();
    let response = next.run(req).await;
    let path = path.as_ref().map_or("unmatched", |p| p.as_str());
    let route = route(&method, path, response.status().as_u16());
    route.requests.increment(1);
    route.latency.record(start.elapsed().as_secs_f64());
    response
}

/// The request counter and latency histogram of one method, route and status.
#[derive(Clone)]
struct RouteMetrics {
    requests: metrics::Counter,
    latency: metrics::Histogram,
}

/// The metrics of (`method`, `path`, `status`), registered on first use and kept: a request then
/// costs two atomic updates, where building its three label strings and looking them up in the
/// recorder's registry cost allocations and hashing on every request. Bounded: `path` is a
/// route's pattern (or "unmatched"), never the request's own path.
fn route(method: &Method, path: &str, status: u16) -> RouteMetrics {
    type Routes = HashMap<Box<str>, Vec<(Method, u16, RouteMetrics)>>;
    static ROUTES: OnceLock<RwLock<Routes>> = OnceLock::new();
    let routes = ROUTES.get_or_init(Default::default);
    let find = |r: &Routes| {
        let (_, _, found) = r
            .get(path)?
            .iter()
            .find(|(m, s, _)| m == method && *s == status)?;
        Some(found.clone())
    };
    if let Some(found) = find(&routes.read().unwrap_or_else(|e| e.into_inner())) {
        return found;
    }
    let mut routes = routes.write().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = find(&routes) {
        return found;
    }
    let labels = [
        ("method", method.to_string()),
        ("path", path.to_string()),
        ("status", status.to_string()),
    ];
    let made = RouteMetrics {
        requests: metrics::counter!("baton_http_requests_total", &labels),
        latency: metrics::histogram!("baton_http_request_duration_seconds", &labels),
    };
    let kept = (method.clone(), status, made.clone());
    routes.entry(path.into()).or_default().push(kept);
    made
}

/// Prometheus metrics (admin key).
#[utoipa::path(get, path = "/metrics", responses((status = 200, body = String, content_type = "text/plain")), security(("bearer" = [])))]
pub async fn metrics(State(state): State<AppState>, caller: Caller) -> ApiResult<String> {
    caller.require(ADMINS)?;
    metrics::gauge!("baton_live_conversations").set(state.conversations.len() as f64);
    Ok(state.metrics.render())
}

/// Records one decision (and the handoff it created, if any).
pub fn decision(d: &Decision, handoff_created: bool) {
    let reason = d.reasons.first().map_or("none", |r| r.kind.as_str());
    // The counter of each reason, registered on first use and kept (as `route` does).
    static DECISIONS: OnceLock<RwLock<HashMap<Box<str>, metrics::Counter>>> = OnceLock::new();
    let decisions = DECISIONS.get_or_init(Default::default);
    let known = decisions
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .get(reason)
        .cloned();
    let counter = known.unwrap_or_else(|| {
        decisions
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .entry(reason.into())
            .or_insert_with(
                || metrics::counter!("baton_decisions_total", "reason" => reason.to_string()),
            )
            .clone()
    });
    counter.increment(1);
    if handoff_created {
        metrics::counter!("baton_handoffs_total", "reason" => reason.to_string(), "skill" => d.skill.clone().unwrap_or_default())
            .increment(1);
    }
}
