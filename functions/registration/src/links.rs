//! The page behind the mailed verification link. Mail scanners open every link in a mail, so a
//! GET only shows a button; only the button's POST spends the token.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use portico::AppState;
use portico::http::page::{
    LinkKind, invalid_link_page, is_well_formed_token, locale_of, outcome_page, prompt_page,
};
use portico::http::{ApiForm, ApiQuery};
use portico::routes;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show_verify_email, confirm_verify_email))
}

#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct TokenParam {
    /// The token from the mailed link.
    pub token: String,
}

#[utoipa::path(get, path = "/links/verify-email", tag = "links", params(TokenParam),
    responses((status = 200, content_type = "text/html", description = "A page with a confirm button; changes nothing")))]
async fn show_verify_email(
    headers: HeaderMap,
    ApiQuery(TokenParam { token }): ApiQuery<TokenParam>,
) -> Response {
    prompt_page(LinkKind::VerifyEmail, locale_of(&headers), &token)
}

#[utoipa::path(post, path = "/links/verify-email", tag = "links",
    request_body(content = TokenParam, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, content_type = "text/html", description = "The outcome, as a page")))]
async fn confirm_verify_email(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiForm(form): ApiForm<TokenParam>,
) -> Response {
    let locale = locale_of(&headers);
    if !is_well_formed_token(&form.token) {
        return invalid_link_page(locale);
    }
    let outcome = super::verify_link(&state, &form.token).await.map(|_| ());
    outcome_page(LinkKind::VerifyEmail, locale, outcome)
}
