//! `GET /admin/`: the admin console. Static files compiled into the function; the page talks to
//! the same HTTP API as every client, with the signed-in staff member's token. Its script is a
//! set of ES modules (no build step), one per screen.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use portico::error::Problem;
use portico::routes;
use portico::{ApiError, AppState};
use utoipa_axum::router::OpenApiRouter;

const INDEX: &str = include_str!("../page/index.html");

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// The page's scripts and style, by the name `/admin/assets/{name}` serves them under.
const ASSETS: [(&str, &str, &str); 12] = [
    ("app.css", CSS, include_str!("../page/app.css")),
    ("main.js", JS, include_str!("../page/main.js")),
    ("api.js", JS, include_str!("../page/api.js")),
    ("registrations.js", JS, include_str!("../page/registrations.js")),
    ("customers.js", JS, include_str!("../page/customers.js")),
    ("labels.js", JS, include_str!("../page/labels.js")),
    ("settings.js", JS, include_str!("../page/settings.js")),
    ("users.js", JS, include_str!("../page/users.js")),
    ("roles.js", JS, include_str!("../page/roles.js")),
    ("projects.js", JS, include_str!("../page/projects.js")),
    ("fields.js", JS, include_str!("../page/fields.js")),
    ("ui.js", JS, include_str!("../page/ui.js")),
];

/// Only our own scripts and style, only calls back to this API.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; \
                   form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(index)).routes(routes!(asset))
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
    responses((status = 200, content_type = "text/html", description = "The admin console (sign in, approvals, customers, labels, staff, roles, projects, contact fields, registration settings)")))]
async fn index() -> Response {
    with_headers("text/html; charset=utf-8", INDEX)
}

#[utoipa::path(get, path = "/admin/assets/{name}", tag = "admin",
    params(("name" = String, Path, description = "A file of the page, e.g. `main.js` or `app.css`")),
    responses((status = 200, description = "A script module or the style sheet of the admin console",
            content((String = "text/javascript"), (String = "text/css"))),
        (status = 404, body = Problem, description = "No such file")))]
async fn asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    ASSETS
        .iter()
        .find(|(asset, _, _)| *asset == name)
        .map(|(_, content_type, body)| with_headers(content_type, body))
        .ok_or_else(|| ApiError::not_found("No such file."))
}
