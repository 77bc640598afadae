//! `GET /openapi.json`: the OpenAPI 3.1 document of every Portico route, generated from the
//! routers' own handler annotations and types, so it cannot drift from the code.

use std::sync::OnceLock;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use portico::AppState;
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Portico",
        description = "The customer side of a CRM: registration with admin approval, sign-in with device confirmation, \
                       OTP-guarded changes, a criteria-driven portal and workflow automation. Errors are \
                       application/problem+json (RFC 9457) with a stable `code`."
    ),
    modifiers(&BearerAuth),
    components(schemas(portico::error::Problem, portico::error::FieldError))
)]
struct Base;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build(),
            ),
        );
    }
}

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(openapi_json))
}

/// The whole document: every function's routes, this one's included.
pub fn document() -> Document {
    let mut document = Base::openapi();
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    for part in [
        portico_registration::openapi(),
        portico_sessions::openapi(),
        portico_admin::openapi(),
        portico_records::openapi(),
        portico_otp::openapi(),
        portico_portal::openapi(),
        api().into_openapi(),
    ] {
        document.merge(part);
    }
    describe_every_response(&mut document);
    document
}

/// OpenAPI requires a description on every response; the handlers' annotations give one where
/// there is more to say than the status, and the status's own phrase stands in elsewhere.
fn describe_every_response(document: &mut Document) {
    use utoipa::openapi::RefOr;
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, response) in operation.responses.responses.iter_mut() {
                if let RefOr::T(response) = response
                    && response.description.is_empty()
                {
                    let phrase = status
                        .parse::<u16>()
                        .ok()
                        .and_then(|code| axum::http::StatusCode::from_u16(code).ok())
                        .and_then(|code| code.canonical_reason());
                    response.description = phrase.unwrap_or("Response").to_owned();
                }
            }
        }
    }
}

pub fn router(state: AppState) -> Router {
    let (router, _) = api().split_for_parts();
    portico::http::with_defaults(router).with_state(state)
}

#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, content_type = "application/json", description = "This OpenAPI 3.1 document")))]
async fn openapi_json() -> impl IntoResponse {
    static JSON: OnceLock<String> = OnceLock::new();
    let json = JSON.get_or_init(|| document().to_json().unwrap_or_default());
    ([(header::CONTENT_TYPE, "application/json")], json.as_str())
}
