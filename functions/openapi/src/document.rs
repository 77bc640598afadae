//! The generator of the OpenAPI document (the `generate` feature): every function's part,
//! merged, with the errors every operation can send (`errors`).

use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api;

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

/// Each function's part of the document, this one's included.
pub fn parts() -> [Document; 7] {
    [
        portico_registration::openapi(),
        portico_sessions::openapi(),
        portico_admin::openapi(),
        portico_records::openapi(),
        portico_otp::openapi(),
        portico_portal::openapi(),
        api().into_openapi(),
    ]
}

/// Schema names two parts give different schemas: merging keeps one of them, so the other
/// part's operations would be documented with a stranger's type.
pub fn clashing_schema_names() -> Vec<String> {
    let mut seen: std::collections::BTreeMap<String, serde_json::Value> = Default::default();
    let mut clashes = Vec::new();
    for part in parts() {
        for (name, schema) in part.components.map(|c| c.schemas).unwrap_or_default() {
            let schema = serde_json::to_value(schema).unwrap_or_default();
            match seen.get(&name) {
                Some(earlier) if *earlier != schema => clashes.push(name),
                Some(_) => {}
                None => {
                    seen.insert(name, schema);
                }
            }
        }
    }
    clashes
}

/// The whole document: every function's routes, this one's included.
pub fn document() -> Document {
    let mut document = Base::openapi();
    document.info.version = env!("CARGO_PKG_VERSION").to_owned();
    for part in parts() {
        document.merge(part);
    }
    crate::errors::document_errors(&mut document);
    document
}
