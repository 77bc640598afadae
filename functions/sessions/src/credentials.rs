//! Passwords: reset by mailed link (scanner-safe page), and change by the signed-in user. A new
//! password raises the account's trust version in the same write, so older refresh tokens,
//! trusted devices and device confirmations stop working.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use chrono::Utc;
use portico::auth::keys::HashPurpose;
use portico::auth::{password, secret};
use portico::domain::account::PasswordHash;
use portico::domain::challenge::{self, PASSWORD_RESET_TTL};
use portico::domain::password::check_new_password;
use portico::domain::{Account, AccountStatus, Email};
use portico::error::Problem;
use portico::http::device::device_label;
use portico::http::page::{invalid_link_page, is_well_formed_token, page};
use portico::http::{ApiJson, ApiQuery, Authenticated, DeviceId};
use portico::notify::MailTemplate;
use portico::store::credentials::{PasswordProof, PasswordReset};
use portico::store::rate_limit::{Cooldown, RateDecision};
use portico::store::sessions::TrustedDevice;
use portico::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::tokens::{self, Tokens, login_of};

/// At most one reset mail a minute per account.
const RESET_MAIL_COOLDOWN: Cooldown = Cooldown { scope: "password-reset-mail", secs: 60 };

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_reset))
        .routes(routes!(confirm_reset))
        .routes(routes!(change_password))
        .routes(routes!(show_reset_page, submit_reset_page))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub email: String,
}

/// The same answer for every address.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Always `accepted`.
    pub status: &'static str,
}

#[utoipa::path(post, path = "/passwords/reset", tag = "passwords", request_body = ResetRequest,
    responses((status = 202, body = Accepted, description = "Always; a mail goes only to an existing, non-rejected account, at most once a minute")))]
async fn request_reset(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ResetRequest>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let accepted = (StatusCode::ACCEPTED, Json(Accepted { status: "accepted" }));
    let Ok(email) = Email::parse(&request.email) else { return Ok(accepted) };
    let Some(account) = state.store.account_by_email(&email).await? else { return Ok(accepted) };
    if account.status == AccountStatus::Rejected {
        return Ok(accepted);
    }
    let now = Utc::now();
    let subject = account.id.to_string();
    if state.store.start_cooldown(RESET_MAIL_COOLDOWN, &subject, now).await? != RateDecision::Allowed {
        tracing::info!(account_id = %account.id, "reset mail suppressed by cooldown");
        return Ok(accepted);
    }
    let token = challenge::link_token(account.id, &secret::random_token());
    let reset = PasswordReset {
        token_hash: state.keys.keyed_hash(HashPurpose::PasswordReset, &token),
        expires_at: now + PASSWORD_RESET_TTL,
    };
    state.store.put_password_reset(account.id, &reset).await?;
    let link = state.link(&format!("/links/reset-password?token={token}"));
    let mail = MailTemplate::PasswordReset { name: &account.name, link: &link };
    state.notifier.send_mail_logged(&account.email, &mail.render(account.locale)).await;
    tracing::info!(account_id = %account.id, "password reset mailed");
    Ok(accepted)
}

#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ResetConfirmation {
    /// The token of the mailed link.
    pub token: String,
    /// 12 to 128 characters.
    pub new_password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordChanged {
    /// Always `password_changed`: sign in with the new password.
    pub status: &'static str,
}

async fn hash(new_password: String) -> Result<PasswordHash, ApiError> {
    tokio::task::spawn_blocking(move || password::hash_password(&new_password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

fn check_rules(new_password: &str, account: &Account) -> Result<(), ApiError> {
    check_new_password(new_password, account.email.as_str())
        .map_err(|rule| ApiError::invalid_field("new_password", rule.to_string()))
}

async fn notify_changed(state: &AppState, account: &Account) {
    let mail = MailTemplate::PasswordChanged { name: &account.name };
    state.notifier.send_mail_logged(&account.email, &mail.render(account.locale)).await;
}

async fn reset(state: &AppState, token: &str, new_password: String) -> Result<PasswordChanged, ApiError> {
    let invalid = || ApiError::bad_request("invalid_token", "The link is invalid or no longer valid.");
    let account_id = challenge::link_token_id(token).ok_or_else(invalid)?;
    let account = state
        .store
        .account(account_id)
        .await?
        .filter(|a| a.status != AccountStatus::Rejected)
        .ok_or_else(invalid)?;
    let pending = state.store.password_reset(account_id).await?.ok_or_else(invalid)?;
    let now = Utc::now();
    if now >= pending.expires_at
        || !state.keys.verify_keyed_hash(HashPurpose::PasswordReset, token, &pending.token_hash)
    {
        return Err(invalid());
    }
    check_rules(&new_password, &account)?;
    let new_hash = hash(new_password).await?;
    let proof = PasswordProof::ResetToken { hash: &pending.token_hash };
    if !state.store.set_password(&account, &new_hash, proof, None, now).await? {
        return Err(invalid());
    }
    state.store.end_sessions_except(account.id, None).await?;
    if state.registration_policy().await?.keep_devices_on_password_reset {
        state.store.keep_devices(account.id, account.trust_version + 1).await?;
    }
    notify_changed(state, &account).await;
    tracing::info!(account_id = %account.id, "password reset");
    Ok(PasswordChanged { status: "password_changed" })
}

#[utoipa::path(post, path = "/passwords/reset/confirm", tag = "passwords", request_body = ResetConfirmation,
    responses((status = 200, body = PasswordChanged, description = "Set; every session of the account is ended"),
        (status = 400, body = Problem, description = "`invalid_token` or `validation_failed`")))]
async fn confirm_reset(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ResetConfirmation>,
) -> Result<Json<PasswordChanged>, ApiError> {
    reset(&state, &request.token, request.new_password).await.map(Json)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    /// 12 to 128 characters.
    pub new_password: String,
}

#[utoipa::path(put, path = "/me/password", tag = "me", security(("bearer" = [])), request_body = PasswordChange,
    params(("X-Device-Id" = Option<String>, Header, description = "This device stays trusted and signed in")),
    responses(
        (status = 200, body = Tokens, description = "Changed; other sessions and devices must sign in (and confirm) again; these tokens continue on this device"),
        (status = 204, description = "Changed (no X-Device-Id: sign in again)"),
        (status = 400, body = Problem, description = "`invalid_current_password` or `validation_failed`")))]
async fn change_password(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    device: Option<DeviceId>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<PasswordChange>,
) -> Result<Response, ApiError> {
    let account = state
        .store
        .account(claims.sub)
        .await?
        .ok_or_else(|| ApiError::unauthorized("invalid_token", "The account no longer exists."))?;
    let stored = account.password_hash.clone();
    let current = request.current_password;
    let matches = tokio::task::spawn_blocking(move || password::verify_password(&current, Some(&stored)))
        .await
        .map_err(ApiError::internal)?;
    if !matches {
        return Err(ApiError::bad_request("invalid_current_password", "The current password is wrong."));
    }
    check_rules(&request.new_password, &account)?;
    let new_hash = hash(request.new_password).await?;
    let now = Utc::now();

    // The device making the change stays trusted, at the new trust version, with a new session.
    let continued = match &device {
        Some(DeviceId(device)) => {
            let login = portico::domain::account::Login {
                trust_version: account.trust_version + 1,
                ..login_of(&account)
            };
            let (session, tokens) = tokens::new_session(&state, &login, device, now)?;
            let trusted = TrustedDevice {
                device_hash: session.device_hash.clone(),
                label: device_label(&headers),
                trust_version: login.trust_version,
                first_seen: now,
                last_seen: now,
            };
            Some((trusted, session, tokens))
        }
        None => None,
    };
    let continue_on = continued.as_ref().map(|(trusted, session, _)| (trusted, session));
    if !state
        .store
        .set_password(&account, &new_hash, PasswordProof::CurrentPassword, continue_on, now)
        .await?
    {
        return Err(ApiError::conflict("conflict", "The account changed meanwhile; try again."));
    }
    let keep = continued.as_ref().map(|(_, session, _)| session.session_id);
    state.store.end_sessions_except(account.id, keep).await?;
    notify_changed(&state, &account).await;
    tracing::info!(account_id = %account.id, "password changed");
    Ok(match continued {
        Some((_, _, tokens)) => Json(tokens).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TokenParam {
    /// The token of the mailed link.
    pub token: String,
}

#[utoipa::path(get, path = "/links/reset-password", tag = "links", params(TokenParam),
    responses((status = 200, content_type = "text/html", description = "A form for the new password; changes nothing")))]
async fn show_reset_page(ApiQuery(TokenParam { token }): ApiQuery<TokenParam>) -> Response {
    if !is_well_formed_token(&token) {
        return invalid_link_page();
    }
    page(
        "Choose a new password",
        &format!(
            "<form method=\"post\" action=\"/links/reset-password\"><input type=\"hidden\" name=\"token\" value=\"{token}\">\
             <p><label>New password (12 to 128 characters)<br><input type=\"password\" name=\"new_password\" minlength=\"12\" maxlength=\"128\" required autocomplete=\"new-password\"></label></p>\
             <button type=\"submit\">Set password</button></form>"
        ),
    )
}

#[utoipa::path(post, path = "/links/reset-password", tag = "links",
    request_body(content = ResetConfirmation, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, content_type = "text/html", description = "The outcome, as a page")))]
async fn submit_reset_page(State(state): State<AppState>, Form(form): Form<ResetConfirmation>) -> Response {
    if !is_well_formed_token(&form.token) {
        return invalid_link_page();
    }
    match reset(&state, &form.token, form.new_password).await {
        Ok(_) => page(
            "Password changed",
            "<p>Your password is set. Sign in with it; other sessions were signed out.</p>",
        ),
        Err(error) if error.code() == "validation_failed" => {
            let reason = error.fields().first().map(|f| f.message.clone()).unwrap_or_default();
            page(
                "Password not accepted",
                &format!("<p>The new password {reason}. Go back and choose another.</p>"),
            )
        }
        Err(error) if error.status().is_client_error() => invalid_link_page(),
        Err(error) => error.into_response(),
    }
}
