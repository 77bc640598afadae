//! Credentials: password reset by mailed link (scanner-safe page), password change, and e-mail
//! change confirmed from the new address. Each raises the account's trust version in the same
//! write, so older refresh tokens, trusted devices and device confirmations stop working.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use portico::auth::challenge::ChallengeKind;
use portico::auth::keys::HashPurpose;
use portico::auth::secret;
use portico::domain::account::Login;
use portico::domain::account::PasswordHash;
use portico::domain::challenge::{self, ChallengeState, PASSWORD_RESET_TTL};
use portico::domain::password::check_new_password;
use portico::domain::{Account, AccountStatus, Email};
use portico::error::Problem;
use portico::http::device::device_label;
use portico::http::page::{
    LinkKind, invalid_link_page, is_well_formed_token, locale_of, outcome_page, password_refused_page,
    prompt_page,
};
use portico::http::{ApiForm, ApiJson, ApiQuery, Authenticated, DeviceId, SignedIn, pad_to};
use portico::notify::MailTemplate;
use portico::routes;
use portico::store::challenges::ChallengeAt;
use portico::store::credentials::{EmailChange, EmailChangeOutcome, PasswordProof, PasswordReset};
use portico::store::rate_limit::{Cooldown, RateDecision};
use portico::store::sessions::{Session, TrustedDevice};
use portico::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::tokens::{self, Tokens, login_of};

/// At most one reset mail a minute per account.
const RESET_MAIL_COOLDOWN: Cooldown = Cooldown { scope: "password-reset-mail", secs: 60 };

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_reset))
        .routes(routes!(confirm_reset))
        .routes(routes!(change_password))
        .routes(routes!(request_email_change))
        .routes(routes!(confirm_email_change))
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
    let started = tokio::time::Instant::now();
    let result = start_reset(&state, &request.email).await;
    pad_to(started, state.config.enumeration_floor).await;
    result.map(|()| (StatusCode::ACCEPTED, Json(Accepted { status: "accepted" })))
}

/// Mails a reset link if `address` names an account that may have one.
async fn start_reset(state: &AppState, address: &str) -> Result<(), ApiError> {
    let Ok(email) = Email::parse(address) else { return Ok(()) };
    let Some(account) = state.store.account_by_email(&email).await? else { return Ok(()) };
    if account.status == AccountStatus::Rejected {
        return Ok(());
    }
    let now = Utc::now();
    let subject = account.id.to_string();
    if state.store.start_cooldown(RESET_MAIL_COOLDOWN, &subject, now).await? != RateDecision::Allowed {
        tracing::info!(account_id = %account.id, "reset mail suppressed by cooldown");
        return Ok(());
    }
    mail_password_reset(state, &account, now).await
}

/// Stores a new reset token for `account` (replacing any older one) and mails its link.
pub(crate) async fn mail_password_reset(
    state: &AppState,
    account: &Account,
    now: chrono::DateTime<Utc>,
) -> Result<(), ApiError> {
    let token = challenge::link_token(account.id, &secret::random_token());
    let reset = PasswordReset {
        token_hash: state.keys.keyed_hash(HashPurpose::PasswordReset, &token),
        expires_at: now + PASSWORD_RESET_TTL,
        trust_version: Some(account.trust_version),
        email: Some(account.email.clone()),
    };
    state.store.put_password_reset(account.id, &reset).await?;
    let link = state.link(&format!("{}?token={token}", LinkKind::ResetPassword.path()));
    let mail = MailTemplate::PasswordReset { name: &account.name, link: &link };
    state.notifier.send_mail_logged(&account.email, &mail.render(account.locale)).await;
    tracing::info!(account_id = %account.id, "password reset mailed");
    Ok(())
}

#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
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

async fn hash(state: &AppState, new_password: String) -> Result<PasswordHash, ApiError> {
    state.passwords.hash_blocking(new_password).await.map_err(ApiError::internal)
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
    let (account, pending) = state.store.account_with_password_reset(account_id).await?;
    let account = account.filter(|a| a.status != AccountStatus::Rejected).ok_or_else(invalid)?;
    let pending = pending.ok_or_else(invalid)?;
    let now = Utc::now();
    if now >= pending.expires_at
        || !pending.binds(&account)
        || !state.keys.verify_keyed_hash(HashPurpose::PasswordReset, token, &pending.token_hash)
    {
        return Err(invalid());
    }
    check_rules(&new_password, &account)?;
    let new_hash = hash(state, new_password).await?;
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
    SignedIn(_, account): SignedIn,
    device: Option<DeviceId>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<PasswordChange>,
) -> Result<Response, ApiError> {
    verify_current_password(&state, &account, request.current_password).await?;
    check_rules(&request.new_password, &account)?;
    let new_hash = hash(&state, request.new_password).await?;
    let now = Utc::now();

    let continued = continue_here(&state, &account, device.as_ref(), &headers, now).await?;
    let continue_on = continued.as_ref().map(|(trusted, session, _)| (trusted, session));
    if !state
        .store
        .set_password(&account, &new_hash, PasswordProof::CurrentPassword, continue_on, now)
        .await?
    {
        return Err(ApiError::conflict("conflict", "The account changed meanwhile; try again."));
    }
    notify_changed(&state, &account).await;
    tracing::info!(account_id = %account.id, "password changed");
    finish_on_this_device(&state, account.id, continued).await
}

/// What keeps the device making a credential change signed in: the device trusted at the
/// account's next trust version, a new session on it, and that session's tokens.
type Continuation = (TrustedDevice, Session, Tokens);

async fn continue_here(
    state: &AppState,
    account: &Account,
    device: Option<&DeviceId>,
    headers: &HeaderMap,
    now: chrono::DateTime<Utc>,
) -> Result<Option<Continuation>, ApiError> {
    let Some(DeviceId(device)) = device else { return Ok(None) };
    let login = Login { trust_version: account.trust_version + 1, ..login_of(account) };
    let (session, tokens) = tokens::new_session(state, &login, device, now).await?;
    let trusted = TrustedDevice {
        device_hash: session.device_hash.clone(),
        label: device_label(headers),
        trust_version: login.trust_version,
        first_seen: now,
        last_seen: now,
    };
    Ok(Some((trusted, session, tokens)))
}

/// Ends every other session and answers with the continuing session's tokens (204 without one).
async fn finish_on_this_device(
    state: &AppState,
    account_id: ulid::Ulid,
    continued: Option<Continuation>,
) -> Result<Response, ApiError> {
    let keep = continued.as_ref().map(|(_, session, _)| session.session_id);
    state.store.end_sessions_except(account_id, keep).await?;
    Ok(match continued {
        Some((_, _, tokens)) => Json(tokens).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}

/// At most one e-mail change mail a minute per account.
const EMAIL_CHANGE_COOLDOWN: Cooldown = Cooldown { scope: "email-change-mail", secs: 60 };

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChangeRequest {
    #[schema(format = Email, max_length = 254)]
    pub new_email: String,
    pub current_password: String,
}

async fn verify_current_password(
    state: &AppState,
    account: &Account,
    candidate: String,
) -> Result<(), ApiError> {
    // The account's password attempts, shared with sign-in: a stolen session can't guess on.
    let subject = crate::attempts_subject(state, account.email.as_str());
    let now = chrono::Utc::now();
    let attempts = state.store.sign_in_attempts(&subject).await?;
    crate::throttled(attempts.throttle(now.timestamp()))?;
    crate::reserve(state, &subject, &attempts, None, now).await?;
    let stored = Some(account.password_hash.clone());
    let matches = state.passwords.verify_blocking(candidate, stored).await.map_err(ApiError::internal)?;
    if matches {
        state.store.clear_password_attempts(&subject, None).await?;
        Ok(())
    } else {
        Err(ApiError::bad_request("invalid_current_password", "The current password is wrong."))
    }
}

fn account_gone() -> ApiError {
    ApiError::unauthorized("invalid_token", "The account no longer exists.")
}

const EMAIL_CHANGE: ChallengeKind = ChallengeKind::EMAIL_CHANGE;

/// Codes are hashed with the account and the new address: a code answers only the change it
/// was mailed for.
fn email_change_subject(account_id: ulid::Ulid, new_email: &Email) -> String {
    format!("{account_id}:{new_email}")
}

#[utoipa::path(post, path = "/me/email", tag = "me", security(("bearer" = [])), request_body = EmailChangeRequest,
    responses(
        (status = 202, body = Accepted, description = "A code went to the new address (unless it already has an account: the answer is the same) and a notice to the current one"),
        (status = 400, body = Problem, description = "`invalid_current_password` or `validation_failed`"),
        (status = 429, body = Problem)))]
async fn request_email_change(
    State(state): State<AppState>,
    SignedIn(_, account): SignedIn,
    ApiJson(request): ApiJson<EmailChangeRequest>,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    let new_email =
        Email::parse(&request.new_email).map_err(|e| ApiError::invalid_field("new_email", e.to_string()))?;
    if new_email == account.email {
        return Err(ApiError::invalid_field("new_email", "is your current address"));
    }
    verify_current_password(&state, &account, request.current_password).await?;
    let now = Utc::now();
    match state.store.start_cooldown(EMAIL_CHANGE_COOLDOWN, &account.id.to_string(), now).await? {
        RateDecision::Allowed => {}
        RateDecision::Limited { retry_after_secs } => {
            return Err(ApiError::too_many_requests("address changes for this account", retry_after_secs));
        }
    }
    // Tell nobody whether the new address has an account: its owner is notified instead.
    if state.store.login(&new_email).await?.is_some() {
        state.notifier.send_mail_logged(&new_email, &MailTemplate::EmailInUse.render(account.locale)).await;
    } else {
        let subject = email_change_subject(account.id, &new_email);
        let issued = EMAIL_CHANGE.issue(&state.keys, &subject, account.id, now);
        let change = EmailChange { new_email: new_email.clone(), challenge: issued.challenge };
        state.store.put_email_change(account.id, &change).await?;
        let mail = MailTemplate::EmailChangeCode { name: &account.name, code: &issued.code };
        state.notifier.send_mail_logged(&new_email, &mail.render(account.locale)).await;
    }
    let notice = MailTemplate::EmailChangeNotice {
        name: &account.name,
        new_address: &new_email.masked(),
        completed: false,
    };
    state.notifier.send_mail_logged(&account.email, &notice.render(account.locale)).await;
    tracing::info!(account_id = %account.id, "e-mail change requested");
    Ok((StatusCode::ACCEPTED, Json(Accepted { status: "accepted" })))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChangeConfirmation {
    /// The code mailed to the new address.
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: String,
}

#[utoipa::path(post, path = "/me/email/confirm", tag = "me", security(("bearer" = [])), request_body = EmailChangeConfirmation,
    params(("X-Device-Id" = Option<String>, Header, description = "This device stays trusted and signed in")),
    responses(
        (status = 200, body = Tokens, description = "Changed; other sessions and devices must sign in (and confirm) again"),
        (status = 204, description = "Changed (no X-Device-Id: sign in again)"),
        (status = 400, body = Problem, description = "`invalid_code`, `code_expired`, `code_locked`"),
        (status = 409, body = Problem, description = "`email_taken`: another account took the address meanwhile")))]
async fn confirm_email_change(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    device: Option<DeviceId>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<EmailChangeConfirmation>,
) -> Result<Response, ApiError> {
    let wrong = || ApiError::bad_request("invalid_code", "The code is wrong or no longer valid.");
    let code =
        EMAIL_CHANGE.read_code(&request.code).map_err(|message| ApiError::invalid_field("code", message))?;
    let (account, change) = state.store.account_with_email_change(claims.sub).await?;
    let account = account.ok_or_else(account_gone)?;
    let now = Utc::now();
    let change = match ChallengeState::of(change.as_ref().map(|change| &change.challenge), now) {
        ChallengeState::Open => change.ok_or_else(wrong)?,
        ChallengeState::Spent => return Err(wrong()),
        ChallengeState::Expired => {
            return Err(ApiError::bad_request("code_expired", "The code has expired; ask for a new one."));
        }
        ChallengeState::Locked => {
            return Err(ApiError::bad_request("code_locked", "Too many wrong codes; ask for a new one."));
        }
    };
    let subject = email_change_subject(account.id, &change.new_email);
    if !EMAIL_CHANGE.code_matches(&state.keys, &subject, &code, &change.challenge) {
        state.store.count_wrong_try(ChallengeAt::EmailChange(account.id), &change.challenge).await?;
        return Err(wrong());
    }
    let continued = continue_here(&state, &account, device.as_ref(), &headers, now).await?;
    let continue_on = continued.as_ref().map(|(trusted, session, _)| (trusted, session));
    match state.store.change_email(&account, &change, continue_on, now).await? {
        EmailChangeOutcome::Changed => {}
        EmailChangeOutcome::AddressTaken => {
            return Err(ApiError::conflict("email_taken", "Another account uses this address now."));
        }
        EmailChangeOutcome::Stale => return Err(wrong()),
    }
    let notice = MailTemplate::EmailChangeNotice {
        name: &account.name,
        new_address: change.new_email.as_str(),
        completed: true,
    };
    state.notifier.send_mail_logged(&account.email, &notice.render(account.locale)).await;
    tracing::info!(account_id = %account.id, "e-mail changed");
    finish_on_this_device(&state, account.id, continued).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenParam {
    /// The token of the mailed link.
    pub token: String,
}

#[utoipa::path(get, path = "/links/reset-password", tag = "links", params(TokenParam),
    responses((status = 200, content_type = "text/html", description = "A form for the new password; changes nothing")))]
async fn show_reset_page(
    headers: HeaderMap,
    ApiQuery(TokenParam { token }): ApiQuery<TokenParam>,
) -> Response {
    prompt_page(LinkKind::ResetPassword, locale_of(&headers), &token)
}

#[utoipa::path(post, path = "/links/reset-password", tag = "links",
    request_body(content = ResetConfirmation, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, content_type = "text/html", description = "The outcome, as a page")))]
async fn submit_reset_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiForm(form): ApiForm<ResetConfirmation>,
) -> Response {
    let locale = locale_of(&headers);
    if !is_well_formed_token(&form.token) {
        return invalid_link_page(locale);
    }
    match reset(&state, &form.token, form.new_password).await {
        Err(error) if error.code() == "validation_failed" => {
            let reason = error.fields().first().map(|f| f.message.clone()).unwrap_or_default();
            password_refused_page(locale, &format!("new password: {reason}"))
        }
        outcome => outcome_page(LinkKind::ResetPassword, locale, outcome.map(|_| ())),
    }
}
