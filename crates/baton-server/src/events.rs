//! Live events over Server-Sent Events, resumable with `Last-Event-ID`, and the background
//! workers: the routing sweep (timeouts, due callbacks) and webhook delivery.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_core::Stream;

use crate::auth::{Caller, ANY};
use crate::error::{ApiError, ApiResult};
use crate::AppState;

/// Handoff created / assigned / accepted / transferred / resolved, queue changes and agent status,
/// as they happen. Each event's id is its sequence number; reconnect with `Last-Event-ID` to
/// receive what was missed. A `Last-Event-ID` beyond the newest event (the event log was reset)
/// starts at the newest event with a `reset` event: reload. When the server shuts down the
/// stream ends with a `reconnect` event.
#[utoipa::path(
    get, path = "/v1/events",
    params(("Last-Event-ID" = Option<String>, Header, description = "resume after this event id")),
    responses((status = 200, description = "text/event-stream of events", content_type = "text/event-stream")),
    security(("bearer" = []))
)]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    caller.require(ANY)?;
    // An agent's stream carries the queue and its own work only.
    let mine = match caller.role {
        baton_store::KeyRole::Agent => Some(caller.own_agent()?.to_string()),
        _ => None,
    };
    let newest = latest_seq(&state).await?;
    let mut after: i64 = match headers.get("last-event-id") {
        None => newest,
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .filter(|n: &i64| *n >= 0)
            .ok_or_else(|| {
                ApiError::bad_request("Last-Event-ID must be an event id (a non-negative integer)")
                    .with_field("Last-Event-ID")
            })?,
    };
    // An id beyond the newest event was not issued by this event log (the database was reset or
    // replaced): waiting for it would leave the client deaf. Restart from the newest event and
    // say so, so the client reloads what it shows.
    let reset = (after > newest).then(|| {
        let data = serde_json::json!({
            "seq": newest,
            "kind": "reset",
            "message": format!("Last-Event-ID {after} is beyond the newest event {newest} (the event log was reset); resuming after {newest}: reload your state"),
        });
        after = newest;
        SseEvent::default()
            .id(newest.to_string())
            .event("reset")
            .data(data.to_string())
    });
    let poll = Duration::from_millis(state.settings.event_poll_ms.max(10));
    let stopping = state.stopping.clone();
    let stream = async_stream::stream! {
        if let Some(reset) = reset {
            yield Ok(reset);
        }
        loop {
            if stopping.is_cancelled() {
                yield Ok(reconnect_event(after));
                break;
            }
            let batch = match state.store.events_after(after, 200).await {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(error = %e, "event stream read failed");
                    tokio::select! {
                        _ = tokio::time::sleep(poll) => {},
                        _ = stopping.cancelled() => {},
                    }
                    continue;
                }
            };
            if batch.is_empty() {
                let notified = state.events.notified();
                tokio::select! {
                    _ = notified => {},
                    _ = tokio::time::sleep(poll) => {},
                    _ = stopping.cancelled() => {},
                }
                continue;
            }
            for e in batch {
                after = e.seq;
                if let Some(me) = &mine {
                    if !visible_to_agent(&e, me) {
                        continue;
                    }
                }
                let data = serde_json::json!({"seq": e.seq, "kind": e.kind, "subject": e.subject, "at": e.at, "data": e.payload});
                yield Ok(SseEvent::default().id(e.seq.to_string()).event(e.kind.as_str()).data(data.to_string()));
            }
        }
    };
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The last event of a stream the server ends because it is shutting down: reconnect (to this
/// or another instance) with `Last-Event-ID` = the last id received, after `retry` ms.
fn reconnect_event(after: i64) -> SseEvent {
    let data = serde_json::json!({
        "seq": after,
        "kind": "reconnect",
        "message": "the server is shutting down; reconnect with Last-Event-ID to resume",
    });
    SseEvent::default()
        .event("reconnect")
        .retry(Duration::from_secs(1))
        .data(data.to_string())
}

/// Whether agent `me` may see event `e`: the queue, its own status, and handoffs that are
/// queued, with it, or that it just gave away (a transfer from it, a timeout of its offer).
fn visible_to_agent(e: &baton_store::Event, me: &str) -> bool {
    let field = |k: &str| e.payload.get(k).and_then(|v| v.as_str());
    if e.kind.is_queue() {
        return true;
    }
    if e.kind.is_agent() {
        return e.subject == me;
    }
    field("status") == Some("queued")
        || field("agent_id") == Some(me)
        || field("from_agent") == Some(me)
        || field("agent") == Some(me)
}

/// Without Last-Event-ID the stream starts now: the history is skipped.
async fn latest_seq(state: &AppState) -> ApiResult<i64> {
    Ok(state.store.last_event_seq().await?)
}

/// Runs the routing sweep every second: assignments not accepted in time go back to the queue,
/// due callbacks join it, and the queue is served.
pub async fn sweep_loop(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let timeout = state.policy.routing.accept_timeout_seconds as i64;
        match state
            .store
            .sweep(state.now(), timeout, state.routing())
            .await
        {
            Ok(0) => {}
            Ok(_) => state.events.notify_waiters(),
            Err(e) => tracing::warn!(error = %e, "routing sweep failed"),
        }
    }
}
