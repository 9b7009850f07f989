//! The OpenAPI description, generated from the handlers' annotations.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::auth::Caller;

#[derive(OpenApi)]
#[openapi(
    info(title = "Baton", description = "Decides when an AI support conversation goes to a human."),
    paths(
        crate::conversations::post_message,
        crate::conversations::get_conversation,
        crate::conversations::conversation_csat,
        crate::customers::put_customer,
        crate::customers::get_customer,
        crate::agents::put_agent,
        crate::agents::put_agent_status,
        crate::agents::list_agents,
        crate::handoffs::list_handoffs,
        crate::handoffs::get_handoff,
        crate::handoffs::accept,
        crate::handoffs::transfer,
        crate::handoffs::resolve,
        crate::handoffs::callback,
        crate::handoffs::csat,
        crate::events::events,
        crate::desk::me,
        crate::desk::reply,
        crate::suggestions::add_suggestions,
        crate::suggestions::suggestions,
        crate::suggestions::suggestion_status,
        crate::desk::summary,
        crate::desk::report,
        crate::webhooks::create,
        crate::webhooks::list,
        crate::webhooks::delete,
        crate::health::healthz,
        crate::metrics::metrics,
        crate::openapi::openapi,
    ),
    modifiers(&Bearer, &ErrorResponses)
)]
pub struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The errors any operation can answer with, documented on every operation that can meet them
/// (the handlers' annotations list only their own outcomes): the same JSON error body each time.
struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let body = op.request_body.is_some();
                let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let mut add = |code: &str, why: &str| {
                    op.responses
                        .responses
                        .entry(code.to_string())
                        .or_insert_with(|| error(why).into());
                };
                // Any request can carry a path or query that cannot be read (`%00`).
                add(
                    "400",
                    "Malformed request: body, header, path or query that cannot be read",
                );
                if secured {
                    add("401", "Missing, unknown or revoked API key");
                    add("403", "The key's role may not do this");
                    add("429", "Rate limit of the key exceeded; see Retry-After");
                }
                if path.contains('{') {
                    add("404", "No such resource");
                }
                if body {
                    add("413", "Body too large");
                    add("415", "Body is not application/json");
                    add("422", "A field is invalid; `field` names it");
                }
                if has_params {
                    add("422", "A parameter is invalid; `field` names it");
                }
                add("503", "Storage unavailable for a moment; see Retry-After");
            }
        }
    }
}

pub fn spec() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// This API's OpenAPI description (any key).
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, body = Object)), security(("bearer" = [])))]
pub async fn openapi(_caller: Caller) -> Json<utoipa::openapi::OpenApi> {
    Json(spec())
}
