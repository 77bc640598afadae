//! "Not me": every device mail carries a link that, once confirmed on its page, forgets the
//! device, ends every session of the account and starts a password reset.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::Utc;
use portico::auth::keys::HashPurpose;
use portico::auth::secret;
use portico::domain::challenge::{self, NOT_ME_TTL};
use portico::http::page::{
    LinkKind, invalid_link_page, is_well_formed_token, locale_of, outcome_page, prompt_page,
};
use portico::http::{ApiForm, ApiQuery};
use portico::routes;
use portico::store::confirmations::NotMe;
use portico::{ApiError, AppState};
use serde::Deserialize;
use ulid::Ulid;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show, submit))
}

/// Stores a "not me" link for `device_hash` of `account_id` and returns its URL.
pub(crate) async fn issue_link(
    state: &AppState,
    account_id: Ulid,
    device_hash: &str,
    confirmation_id: Option<Ulid>,
) -> Result<String, ApiError> {
    let id = Ulid::generate();
    let token = challenge::link_token(id, &secret::random_token());
    let not_me = NotMe {
        id,
        account_id,
        device_hash: device_hash.to_owned(),
        confirmation_id,
        token_hash: state.keys.keyed_hash(HashPurpose::NotMe, &token),
        expires_at: Utc::now() + NOT_ME_TTL,
    };
    state.store.put_not_me(&not_me).await?;
    Ok(state.link(&format!("{}?token={token}", LinkKind::NotMe.path())))
}

#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TokenForm {
    /// The token of the mailed link.
    pub token: String,
}

/// Secures the account the link names; `false` when the link is invalid, spent or expired.
async fn secure_account(state: &AppState, token: &str) -> Result<bool, ApiError> {
    let Some(id) = challenge::link_token_id(token) else { return Ok(false) };
    let Some(not_me) = state.store.not_me(id).await? else { return Ok(false) };
    let now = Utc::now();
    if !state.keys.verify_keyed_hash(HashPurpose::NotMe, token, &not_me.token_hash)
        || !state.store.spend_not_me(&not_me, now).await?
    {
        return Ok(false);
    }
    // The password may be known to whoever signed in: it stops working (and every trusted
    // device with it) until the owner sets a new one through the reset mailed below.
    if let Some(account) = state.store.account(not_me.account_id).await? {
        state.store.distrust_credentials(&account, now).await?;
    }
    state.store.revoke_device(not_me.account_id, &not_me.device_hash).await?;
    if let Some(confirmation) = not_me.confirmation_id {
        state.store.delete_device_confirmation(confirmation).await?;
    }
    state.store.end_sessions_except(not_me.account_id, None).await?;
    // Read again: the reset link is bound to the raised trust version.
    if let Some(account) = state.store.account(not_me.account_id).await? {
        crate::credentials::mail_password_reset(state, &account, now).await?;
    }
    tracing::warn!(account_id = %not_me.account_id, "owner reported a sign-in that was not theirs: device revoked, sessions ended");
    Ok(true)
}

#[utoipa::path(get, path = "/links/not-me", tag = "links", params(TokenForm),
    responses((status = 200, content_type = "text/html", description = "What the button will do; changes nothing")))]
async fn show(headers: HeaderMap, ApiQuery(TokenForm { token }): ApiQuery<TokenForm>) -> Response {
    prompt_page(LinkKind::NotMe, locale_of(&headers), &token)
}

#[utoipa::path(post, path = "/links/not-me", tag = "links",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, content_type = "text/html", description = "The outcome, as a page")))]
async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiForm(form): ApiForm<TokenForm>,
) -> Response {
    let locale = locale_of(&headers);
    if !is_well_formed_token(&form.token) {
        return invalid_link_page(locale);
    }
    let outcome = match secure_account(&state, &form.token).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(ApiError::bad_request("invalid_token", "The link is invalid or no longer valid.")),
        Err(error) => Err(error),
    };
    outcome_page(LinkKind::NotMe, locale, outcome)
}
