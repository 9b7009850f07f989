//! Webhooks: integrators register endpoints; every event is written to an outbox in the same
//! transaction as the event itself, then delivered with Standard Webhooks signatures
//! (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`), in order per
//! endpoint, retried with exponential backoff until the endpoint answers 2xx. A restart loses
//! nothing: the outbox is in the database.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use base64::Engine;
use baton_store::{Delivery, WebhookEndpoint};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::auth::Caller;
use crate::auth::BOT;
use crate::error::{ApiError, ApiResult};
use crate::wire::{JsonBody, WebhookIn, WebhookOut};
use crate::AppState;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
/// Longest wait between two attempts.
const MAX_BACKOFF_SECONDS: u64 = 3600;

/// Why a webhook payload could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("webhook secret is not base64: {0}")]
    NotBase64(#[from] base64::DecodeError),
    #[error("{0}")]
    Key(#[from] hmac::digest::InvalidLength),
}

/// The Standard Webhooks signature of `body` for message `id` sent at `timestamp`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Result<String, SignError> {
    let key = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = B64.decode(key)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key)?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Ok(format!("v1,{}", B64.encode(mac.finalize().into_bytes())))
}

fn new_secret() -> String {
    use rand::RngCore;
    let mut b = [0u8; 24];
    rand::rng().fill_bytes(&mut b);
    format!("whsec_{}", B64.encode(b))
}

/// Registers an endpoint; the answer carries its signing secret, shown only this once.
#[utoipa::path(
    post, path = "/v1/webhooks",
    request_body = WebhookIn,
    responses((status = 201, body = WebhookOut), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<WebhookIn>,
) -> ApiResult<(StatusCode, Json<WebhookOut>)> {
    caller.require(BOT)?;
    let url = reqwest::Url::parse(&body.url)
        .map_err(|e| ApiError::invalid("url", format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(ApiError::invalid(
            "url",
            "an http:// or https:// URL with a host is needed",
        ));
    }
    let endpoint = WebhookEndpoint {
        id: format!("wh-{}", &state.new_id()[..16]),
        url: url.to_string(),
        secret: new_secret(),
        created_at: state.now(),
    };
    state.store.add_webhook(endpoint.clone()).await?;
    Ok((
        StatusCode::CREATED,
        Json(WebhookOut {
            id: endpoint.id,
            url: endpoint.url,
            secret: Some(endpoint.secret),
            created_at: endpoint.created_at.to_string(),
        }),
    ))
}

#[utoipa::path(get, path = "/v1/webhooks", responses((status = 200, body = [WebhookOut])), security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<WebhookOut>>> {
    caller.require(BOT)?;
    Ok(Json(
        state
            .store
            .webhooks()
            .await?
            .into_iter()
            .map(|w| WebhookOut {
                id: w.id,
                url: w.url,
                secret: None,
                created_at: w.created_at.to_string(),
            })
            .collect(),
    ))
}

#[utoipa::path(
    delete, path = "/v1/webhooks/{id}",
    params(("id" = String, Path, description = "webhook id")),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(BOT)?;
    state.store.remove_webhook(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Delivers due outbox entries forever: each endpoint's oldest undelivered event first.
pub async fn delivery_loop(state: AppState) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("a default HTTP client builds");
    loop {
        let due = match state.store.due_deliveries(state.now(), 64).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "webhook outbox read failed");
                Vec::new()
            }
        };
        if due.is_empty() {
            tokio::select! {
                _ = state.events.notified() => {},
                _ = tokio::time::sleep(Duration::from_millis(250)) => {},
            }
            continue;
        }
        // One at a time: an endpoint's next event is only due once this one is delivered.
        for d in due {
            deliver(&state, &client, d).await;
        }
    }
}

async fn deliver(state: &AppState, client: &reqwest::Client, d: Delivery) {
    let id = format!("evt_{}", d.event.seq);
    let timestamp = state.now().as_second();
    let body = serde_json::json!({
        "type": d.event.kind,
        "timestamp": d.event.at,
        "data": d.event.payload,
    })
    .to_string();
    let result = match sign(&d.endpoint.secret, &id, timestamp, &body) {
        Err(e) => Err(e.to_string()),
        Ok(signature) => client
            .post(&d.endpoint.url)
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await
            .map_err(|e| e.to_string())
            .and_then(|r| {
                if r.status().is_success() {
                    Ok(())
                } else {
                    Err(format!("endpoint answered {}", r.status()))
                }
            }),
    };
    let now = state.now();
    let outcome = match result {
        Ok(()) => {
            metrics::counter!("baton_webhook_deliveries_total", "result" => "delivered")
                .increment(1);
            state
                .store
                .delivery_result(&d.endpoint.id, d.event.seq, Some(now), None, None)
                .await
        }
        Err(e) => {
            metrics::counter!("baton_webhook_deliveries_total", "result" => "failed").increment(1);
            let backoff = 2u64
                .saturating_pow(d.attempts.min(12))
                .min(MAX_BACKOFF_SECONDS);
            let next = now + jiff::SignedDuration::from_secs(backoff as i64);
            state
                .store
                .delivery_result(&d.endpoint.id, d.event.seq, None, Some(next), Some(e))
                .await
        }
    };
    if let Err(e) = outcome {
        tracing::warn!(error = %e, "recording a webhook delivery failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the Standard Webhooks specification.
    #[test]
    fn signature_matches_the_specification_example() {
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }
}
