//! Customer endpoints: the integrator stores a customer ahead of its conversations (tier,
//! lifetime value, time zone) and reads it back.

use axum::extract::{Path, State};
use axum::Json;
use baton_core::model::{validate_customer, Customer};

use crate::auth::{Caller, BOT, READERS};
use crate::error::{ApiError, ApiResult};
use crate::wire::*;
use crate::AppState;

/// Creates or replaces a customer.
#[utoipa::path(
    put, path = "/v1/customers/{id}",
    params(("id" = String, Path, description = "customer id")),
    request_body = CustomerIn,
    responses((status = 200, body = Customer), (status = 400, body = crate::error::ErrorBody), (status = 422, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn put_customer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<CustomerIn>,
) -> ApiResult<Json<Customer>> {
    caller.require(BOT)?;
    check_id("id", &id)?;
    let customer = Customer {
        id: id.clone(),
        name: body.name,
        tier: body.tier,
        lifetime_value: body.lifetime_value,
        currency: body.currency,
        timezone: body.timezone,
    };
    validate_customer(&customer, "")
        .map_err(|e| ApiError::invalid(e.field.trim_start_matches('.').to_string(), e.message))?;
    state
        .store
        .put_customer(customer.clone(), state.now())
        .await?;
    // Later messages of cached conversations use the new tier and value.
    state.conversations.update_customer(&customer).await;
    Ok(Json(customer))
}

#[utoipa::path(
    get, path = "/v1/customers/{id}",
    params(("id" = String, Path, description = "customer id")),
    responses((status = 200, body = Customer), (status = 404, body = crate::error::ErrorBody)),
    security(("bearer" = []))
)]
pub async fn get_customer(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Customer>> {
    caller.require(READERS)?;
    state
        .store
        .customer(&id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("customer {id} not found")))
}
