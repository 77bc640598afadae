//! `GET /admin/`: the approval and settings page. Static files compiled into the function; the
//! page talks to the same HTTP API as every client, with the signed-in admin's token.

use axum::http::header;
use axum::response::{IntoResponse, Response};
use portico::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

const INDEX: &str = include_str!("../page/index.html");
const SCRIPT: &str = include_str!("../page/app.js");
const STYLE: &str = include_str!("../page/app.css");

/// Only our own script and style, only calls back to this API.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(index)).routes(routes!(script)).routes(routes!(style))
}

fn with_headers(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

#[utoipa::path(get, path = "/admin/", tag = "admin",
    responses((status = 200, content_type = "text/html", description = "The admin page (sign in, approval queue, registration settings)")))]
async fn index() -> Response {
    with_headers("text/html; charset=utf-8", INDEX)
}

#[utoipa::path(get, path = "/admin/app.js", tag = "admin",
    responses((status = 200, content_type = "text/javascript", description = "The admin page's script")))]
async fn script() -> Response {
    with_headers("text/javascript; charset=utf-8", SCRIPT)
}

#[utoipa::path(get, path = "/admin/app.css", tag = "admin",
    responses((status = 200, content_type = "text/css", description = "The admin page's style")))]
async fn style() -> Response {
    with_headers("text/css; charset=utf-8", STYLE)
}
