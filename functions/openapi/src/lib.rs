//! `GET /openapi.json`: the OpenAPI 3.1 document of every Portico route, generated from the
//! routers' own handler annotations and types.
//!
//! The function serves `openapi.json`, the document as committed, and a contract test fails when
//! it differs from what `document()` generates now (the `generate` feature) (`make openapi` writes it again). Generating
//! it in the Lambda linked every function's schema code into one binary (23 MiB) and cost the
//! first request about 10 ms; the committed file also shows each change of the API in review.

#[cfg(feature = "generate")]
mod document;
#[cfg(feature = "generate")]
mod errors;

#[cfg(feature = "generate")]
pub use document::{clashing_schema_names, document, parts};

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use portico::AppState;
use portico::routes;
use utoipa_axum::router::OpenApiRouter;

pub fn api() -> OpenApiRouter<AppState> {
    document_route()
}

/// The route, on any state: the document needs none.
fn document_route<S: Clone + Send + Sync + 'static>() -> OpenApiRouter<S> {
    OpenApiRouter::new().routes(routes!(openapi_json))
}

/// The function's router. It needs no `AppState`, so the function reads no settings and no
/// master secret at its cold start.
pub fn router() -> Router {
    let (router, _) = document_route::<()>().split_for_parts();
    portico::http::with_defaults(router)
}

#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, content_type = "application/json", description = "This OpenAPI 3.1 document")))]
async fn openapi_json() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}

/// The document as committed: what `document()` generated at the last `make openapi`.
pub const DOCUMENT: &str = include_str!("../openapi.json");
