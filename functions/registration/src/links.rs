//! The page behind the mailed verification link. Mail scanners open every link in a mail, so a
//! GET only shows a button; only the button's POST spends the token.

use axum::Form;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use portico::AppState;
use portico::http::ApiQuery;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show_verify_email, confirm_verify_email))
}

/// No script, no external resources, forms only back to us.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

#[derive(Debug, Deserialize, IntoParams)]
pub struct TokenParam {
    /// The token from the mailed link.
    pub token: String,
}

/// Tokens are `<ulid>.<base64url>`; anything else is not echoed into the page.
fn well_formed(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 128
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

fn page(title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{title}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}button{{font-size:1.1rem;padding:.6rem 1.2rem}}</style>\
         </head><body><h1>{title}</h1>{body}</body></html>"
    );
    (
        [
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        Html(html),
    )
        .into_response()
}

#[utoipa::path(get, path = "/links/verify-email", tag = "links", params(TokenParam),
    responses((status = 200, content_type = "text/html", description = "A page with a confirm button; changes nothing")))]
async fn show_verify_email(ApiQuery(TokenParam { token }): ApiQuery<TokenParam>) -> Response {
    if !well_formed(&token) {
        return page("Link not valid", "<p>This link is not valid. Ask for a new confirmation mail.</p>");
    }
    page(
        "Confirm your e-mail address",
        &format!(
            "<p>Press the button to confirm this e-mail address for your account.</p>\
             <form method=\"post\" action=\"/links/verify-email\"><input type=\"hidden\" name=\"token\" value=\"{token}\">\
             <button type=\"submit\">Confirm e-mail address</button></form>"
        ),
    )
}

#[utoipa::path(post, path = "/links/verify-email", tag = "links",
    request_body(content = inline(TokenForm), content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, content_type = "text/html", description = "The outcome, as a page")))]
async fn confirm_verify_email(State(state): State<AppState>, Form(form): Form<TokenForm>) -> Response {
    if !well_formed(&form.token) {
        return page("Link not valid", "<p>This link is not valid. Ask for a new confirmation mail.</p>");
    }
    match super::verify_link(&state, &form.token).await {
        Ok(_) => page("E-mail address confirmed", "<p>Thank you. You can close this page and sign in.</p>"),
        Err(error) if error.status().is_client_error() => page(
            "Link not valid",
            "<p>This link was already used or has expired. Ask for a new confirmation mail.</p>",
        ),
        Err(error) => error.into_response(),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct TokenForm {
    pub token: String,
}
