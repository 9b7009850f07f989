//! The liveness check load balancers and orchestrators poll.

use axum::extract::State;
use axum::Json;

use crate::error::ApiResult;
use crate::wire::Health;
use crate::AppState;

/// Liveness and database check; needs no key.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health), (status = 503, body = crate::error::ErrorBody)))]
pub async fn healthz(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    state.store.ping().await?;
    Ok(Json(Health {
        status: "ok".into(),
    }))
}
