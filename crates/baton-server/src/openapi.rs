//! The OpenAPI description, generated from the handlers' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Baton", description = "Decides when an AI support conversation goes to a human."),
    paths(
        crate::api::post_message,
        crate::api::get_conversation,
        crate::api::conversation_csat,
        crate::api::put_customer,
        crate::api::get_customer,
        crate::api::put_agent,
        crate::api::put_agent_status,
        crate::api::list_agents,
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
        crate::desk::add_suggestions,
        crate::desk::suggestions,
        crate::desk::suggestion_status,
        crate::desk::summary,
        crate::desk::report,
        crate::webhooks::create,
        crate::webhooks::list,
        crate::webhooks::delete,
        crate::api::healthz,
        crate::api::metrics,
        crate::api::openapi,
    ),
    modifiers(&Bearer)
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

pub fn spec() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
