//! The JSON body extractor, which names the offending field of a bad body, and the other checks
//! made at the edge: ids, string lengths, the NUL character, the media type.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::AppState;

/// A JSON body parsed with field-level errors: malformed JSON and wrong types are 400 with the
/// JSON path of the field; a body over the configured limit is 413.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request<Body>, state: &AppState) -> Result<Self, ApiError> {
        let limit = state.settings.max_body_bytes;
        let ct = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        if !ct.as_deref().is_some_and(is_json_media_type) {
            let got = ct.map_or("none".to_string(), |c| format!("`{c}`"));
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                format!("expected Content-Type: application/json, got {got}"),
            )
            .with_field("Content-Type"));
        }
        let bytes = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|e| body_error(e, limit))?;
        if has_escaped_nul(&bytes) {
            // No database stores U+0000 in text (PostgreSQL refuses it): say where it is.
            let field = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| nul_path(&v, String::new()))
                .unwrap_or_default();
            return Err(ApiError::invalid(
                &field,
                "text must not contain the NUL character (U+0000)",
            ));
        }
        if bytes.len() > MAX_SHORT_BYTES {
            // Only a body this long can hold a string over a limit.
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                check_lengths(&v, String::new(), "", state.settings.max_text_bytes)?;
            }
        }
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize(de) {
            Ok(v) => Ok(JsonBody(v)),
            Err(e) => {
                let path = e.path().to_string();
                let field = if path == "." { String::new() } else { path };
                Err(
                    ApiError::bad_request(format!("invalid JSON body: {}", e.into_inner()))
                        .with_field(field),
                )
            }
        }
    }
}

/// `Ok` if `id` (a path id or `customer.id`, named `field`) is 1 to 200 characters without
/// control characters; 422 naming `field` otherwise.
pub fn check_id(field: &str, id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.len() > 200 || id.chars().any(|c| c.is_control()) {
        return Err(ApiError::invalid(
            field,
            "an id must be 1 to 200 characters without control characters",
        ));
    }
    Ok(())
}

/// Longest id, name, team, skill, time zone or other short string in a body, in bytes.
pub const MAX_SHORT_BYTES: usize = 200;
/// Longest URL (webhook endpoints, KB article links), in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// Longest note an agent writes (transfer note, resolution, what the AI lacked), in bytes.
pub const MAX_NOTE_BYTES: usize = 4096;
/// Longest KB article title, in bytes.
pub const MAX_TITLE_BYTES: usize = 500;

/// The longest string a body field may hold, by the field's name: every string the API stores
/// has a limit (message and reply texts: `max_text_bytes`).
fn max_len(key: &str, max_text_bytes: usize) -> usize {
    match key {
        "text" | "replies" => max_text_bytes,
        "resolution" | "note" | "missing" => MAX_NOTE_BYTES,
        "url" => MAX_URL_BYTES,
        "title" => MAX_TITLE_BYTES,
        _ => MAX_SHORT_BYTES,
    }
}

/// 422 naming the first string (or key) of `v` longer than its field allows.
fn check_lengths(
    v: &serde_json::Value,
    at: String,
    key: &str,
    max_text_bytes: usize,
) -> Result<(), ApiError> {
    match v {
        serde_json::Value::String(s) => {
            let max = max_len(key, max_text_bytes);
            if s.len() > max {
                return Err(ApiError::invalid(
                    &at,
                    format!(
                        "`{at}` is {} bytes long; at most {max} are accepted",
                        s.len()
                    ),
                ));
            }
        }
        serde_json::Value::Array(items) => {
            for (i, x) in items.iter().enumerate() {
                check_lengths(x, format!("{at}[{i}]"), key, max_text_bytes)?;
            }
        }
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                if k.len() > MAX_SHORT_BYTES {
                    return Err(ApiError::invalid(
                        &path,
                        format!("a key is at most {MAX_SHORT_BYTES} bytes long"),
                    ));
                }
                check_lengths(x, path, k, max_text_bytes)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Whether a `Content-Type` value is JSON: exactly `application/json`, with optional
/// parameters (`; charset=utf-8`), in any case.
pub fn is_json_media_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// What went wrong reading a body: over the limit (413), too slow (408), or cut short (400).
fn body_error(e: axum::Error, limit: usize) -> ApiError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body is larger than the limit of {limit} bytes"),
            );
        }
        if err.is::<tower_http::timeout::TimeoutError>() {
            return ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the request body did not arrive in time",
            );
        }
        source = err.source();
    }
    ApiError::bad_request(format!(
        "the request body could not be read (shorter than its Content-Length?): {e}"
    ))
}

/// Whether a JSON text holds the escape `\u0000` (a raw NUL is not valid JSON anyway); an
/// escaped backslash before `u0000` does not count.
fn has_escaped_nul(json: &[u8]) -> bool {
    json.windows(6).enumerate().any(|(i, w)| {
        w == b"\\u0000" && json[..i].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 0
    })
}

/// The JSON path (`message.text`, `skills[1]`) of the first string or key holding a NUL.
fn nul_path(v: &serde_json::Value, at: String) -> Option<String> {
    let join = |k: &str| {
        if at.is_empty() {
            k.to_string()
        } else {
            format!("{at}.{k}")
        }
    };
    match v {
        serde_json::Value::String(s) if s.contains('\0') => Some(at),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| nul_path(x, format!("{at}[{i}]"))),
        serde_json::Value::Object(m) => m.iter().find_map(|(k, x)| {
            if k.contains('\0') {
                Some(join(k))
            } else {
                nul_path(x, join(k))
            }
        }),
        _ => None,
    }
}

/// Rejects a path or query holding an encoded NUL (`%00`): nothing stored can match it, and
/// PostgreSQL refuses it as a parameter.
pub async fn reject_nul_in_uri(
    req: Request<Body>,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let uri = req.uri();
    let bad = |s: &str| s.contains("%00");
    if bad(uri.path()) || uri.query().is_some_and(bad) {
        let field = if bad(uri.path()) { "path" } else { "query" };
        return axum::response::IntoResponse::into_response(
            ApiError::bad_request("the request must not contain the NUL character (%00)")
                .with_field(field),
        );
    }
    next.run(req).await
}
