//! Device confirmation (SPEC §2): a correct password from an unknown device, with the policy on,
//! mails a code (typed on that device) and a link (opened anywhere). E-mail is not an
//! authenticator here: this is a step on top of the password, never instead of it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{DateTime, Utc};
use portico::auth::challenge::ChallengeKind;
use portico::domain::Account;
use portico::domain::account::Login;
use portico::domain::challenge::{self, Answered, ChallengeState};
use portico::error::Problem;
use portico::http::page::{
    LinkKind, invalid_link_page, is_well_formed_token, locale_of, outcome_page, prompt_page,
};
use portico::http::{ApiForm, ApiJson, ApiQuery, DeviceId};
use portico::notify::MailTemplate;
use portico::routes;
use portico::store::WriteSet;
use portico::store::challenges::ChallengeAt;
use portico::store::confirmations::DeviceConfirmation;
use portico::store::rate_limit::{Cooldown, RateDecision, RateLimit};
use portico::store::sessions::TrustedDevice;
use portico::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::tokens::{self, Tokens, login_of};
use crate::{ConfirmationRequired, ensure_active, sign_in_activity};

/// At most one new-device mail a minute per account…
const DEVICE_MAIL_COOLDOWN: Cooldown = Cooldown { scope: "device-mail", secs: 60 };
/// …and thirty an hour per source IP.
const DEVICE_MAILS_PER_IP: RateLimit = RateLimit { scope: "device-mail-ip", max: 30, window_secs: 3600 };

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(confirm_by_code))
        .routes(routes!(confirm_by_link))
        .routes(routes!(show_link, submit_link))
}

/// Codes are hashed with their confirmation's id, which the link names too.
const CONFIRMATION: ChallengeKind = ChallengeKind::DEVICE_CONFIRMATION;

fn limited(decision: RateDecision, what: &str) -> Result<(), ApiError> {
    match decision {
        RateDecision::Allowed => Ok(()),
        RateDecision::Limited { retry_after_secs } => {
            Err(ApiError::too_many_requests(what, retry_after_secs))
        }
    }
}

/// Stores a confirmation for `device` and mails its code and link.
pub(crate) async fn request(
    state: &AppState,
    login: &Login,
    device: &str,
    label: String,
    ip: &str,
) -> Result<ConfirmationRequired, ApiError> {
    let now = Utc::now();
    // One mail a minute per account and trust version: a new password (a reset drops trusted
    // devices) lets the owner's own device ask again at once.
    let subject = format!("{}:{}", login.account_id, login.trust_version);
    let cooldown = state.store.start_cooldown(DEVICE_MAIL_COOLDOWN, &subject, now).await?;
    limited(cooldown, "new-device confirmation mails to this account")?;
    limited(
        state.store.hit_rate_limit(DEVICE_MAILS_PER_IP, ip, now).await?,
        "new-device confirmation mails from your network",
    )?;
    let account = state
        .store
        .account(login.account_id)
        .await?
        .ok_or_else(|| ApiError::internal("login without account"))?;

    let id = Ulid::generate();
    let issued = CONFIRMATION.issue(&state.keys, &id.to_string(), id, now);
    let confirmation = DeviceConfirmation {
        id,
        account_id: login.account_id,
        device_hash: state.keys.device_hash(login.account_id, device),
        label,
        trust_version: login.trust_version,
        challenge: issued.challenge,
    };
    state.store.create_device_confirmation(&confirmation).await?;
    let link_token = issued.link_token.unwrap_or_default();
    let link = state.link(&format!("{}?token={link_token}", LinkKind::ConfirmDevice.path()));
    let not_me_link =
        crate::not_me::issue_link(state, account.id, &confirmation.device_hash, Some(id)).await?;
    let mail = MailTemplate::ConfirmDevice {
        name: &account.name,
        device: &confirmation.label,
        code: &issued.code,
        link: &link,
        not_me_link: &not_me_link,
    };
    state.notifier.send_mail_logged(&account.email, &mail.render(account.locale)).await;
    tracing::info!(account_id = %login.account_id, confirmation_id = %id, "device confirmation requested");
    Ok(ConfirmationRequired {
        status: "device_confirmation_required",
        confirmation_id: id.to_string(),
        expires_at: confirmation.challenge.expires_at,
    })
}

fn trusted(hash: String, label: String, trust_version: u64, now: DateTime<Utc>) -> TrustedDevice {
    TrustedDevice { device_hash: hash, label, trust_version, first_seen: now, last_seen: now }
}

/// Tells the owner a device became trusted, with a "not me" link for it.
async fn notify_new_device(
    state: &AppState,
    account: &Account,
    device: &TrustedDevice,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let when = now.format("%Y-%m-%d %H:%M UTC").to_string();
    let not_me_link = crate::not_me::issue_link(state, account.id, &device.device_hash, None).await?;
    let mail = MailTemplate::NewDeviceSignIn {
        name: &account.name,
        device: &device.label,
        when: &when,
        not_me_link: &not_me_link,
    };
    state.notifier.send_mail_logged(&account.email, &mail.render(account.locale)).await;
    Ok(())
}

/// With device confirmation off: trust the device at once, sign in, and tell the owner.
pub(crate) async fn trust_and_sign_in(
    state: &AppState,
    login: &Login,
    device: &str,
    label: String,
    now: DateTime<Utc>,
) -> Result<Tokens, ApiError> {
    let (session, tokens) = tokens::new_session(state, login, device, now).await?;
    let trusted = trusted(session.device_hash.clone(), label, login.trust_version, now);
    state
        .store
        .trust_device_and_start_session(
            &trusted,
            &session,
            sign_in_activity(state, login.kind, login.account_id, now)?,
        )
        .await?;
    if let Some(account) = state.store.account(login.account_id).await? {
        notify_new_device(state, &account, &trusted, now).await?;
    }
    tracing::info!(account_id = %login.account_id, "new device trusted on sign-in");
    Ok(tokens)
}

fn wrong_code() -> ApiError {
    ApiError::bad_request("invalid_code", "The code is wrong or no longer valid.")
}

/// The confirmation if it can still be answered, and its account if that may still sign in at
/// the same trust version.
async fn open_confirmation(state: &AppState, id: Ulid) -> Result<(DeviceConfirmation, Account), ApiError> {
    let confirmation = state
        .store
        .device_confirmation(id)
        .await?
        .ok_or_else(|| ApiError::not_found("No such confirmation."))?;
    match confirmation.challenge.state(Utc::now()) {
        ChallengeState::Open => {}
        ChallengeState::Spent => return Err(ApiError::not_found("No such confirmation.")),
        ChallengeState::Expired => {
            return Err(ApiError::bad_request(
                "code_expired",
                "The confirmation has expired; sign in again.",
            ));
        }
        ChallengeState::Locked => {
            return Err(ApiError::bad_request(
                "code_locked",
                "Too many wrong codes; sign in again for a new one.",
            ));
        }
    }
    let account = state.store.account(confirmation.account_id).await?.ok_or_else(wrong_code)?;
    ensure_active(account.status)?;
    if account.trust_version != confirmation.trust_version {
        return Err(wrong_code());
    }
    Ok((confirmation, account))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// The six digits of the mailed code.
    #[schema(pattern = "^[0-9]{6}$")]
    pub code: String,
}

#[utoipa::path(post, path = "/sessions/device-confirmations/{id}", tag = "sessions", request_body = CodeRequest,
    params(("id" = String, Path, description = "The `confirmation_id` of the 202 answer"),
           ("X-Device-Id" = String, Header, description = "The device that signed in")),
    responses(
        (status = 200, body = Tokens, description = "The device is trusted and signed in"),
        (status = 400, body = Problem, description = "`invalid_code`, `device_mismatch`, `code_expired`, `code_locked`"),
        (status = 404, body = Problem)))]
async fn confirm_by_code(
    State(state): State<AppState>,
    Path(id): Path<String>,
    DeviceId(device): DeviceId,
    ApiJson(request): ApiJson<CodeRequest>,
) -> Result<Json<Tokens>, ApiError> {
    let id = Ulid::from_string(&id).map_err(|_| ApiError::not_found("No such confirmation."))?;
    let code =
        CONFIRMATION.read_code(&request.code).map_err(|message| ApiError::invalid_field("code", message))?;
    let (confirmation, account) = open_confirmation(&state, id).await?;
    let now = Utc::now();
    let at = ChallengeAt::DeviceConfirmation(id);
    // The code is typed on the device that signed in; from any other it counts as a wrong try.
    if state.keys.device_hash(account.id, &device) != confirmation.device_hash {
        state.store.count_wrong_try(at, &confirmation.challenge).await?;
        return Err(ApiError::bad_request("device_mismatch", "Enter the code on the device that signed in."));
    }
    if !CONFIRMATION.code_matches(&state.keys, &id.to_string(), &code, &confirmation.challenge) {
        state.store.count_wrong_try(at, &confirmation.challenge).await?;
        return Err(wrong_code());
    }
    let login = login_of(&account);
    let (session, tokens) = tokens::new_session(&state, &login, &device, now).await?;
    let device = trusted(
        confirmation.device_hash.clone(),
        confirmation.label.clone(),
        confirmation.trust_version,
        now,
    );
    if !state
        .store
        .confirm_device(
            &confirmation,
            Answered::Code,
            &device,
            Some(&session),
            sign_in_activity(&state, account.kind, account.id, now)?,
            now,
        )
        .await?
    {
        return Err(wrong_code());
    }
    notify_new_device(&state, &account, &device, now).await?;
    tracing::info!(account_id = %account.id, confirmation_id = %id, "device confirmed by code");
    Ok(Json(tokens))
}

#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// The token of the mailed link.
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceTrusted {
    /// Always `device_trusted`: the device that signed in can now sign in again without a mail.
    pub status: &'static str,
}

async fn confirm_link(state: &AppState, token: &str) -> Result<DeviceTrusted, ApiError> {
    let invalid = || ApiError::bad_request("invalid_token", "The link is invalid or no longer valid.");
    let id = challenge::link_token_id(token).ok_or_else(invalid)?;
    let (confirmation, account) =
        open_confirmation(state, id).await.map_err(|error| match error.status().as_u16() {
            400..=499 => invalid(),
            _ => error,
        })?;
    if !CONFIRMATION.link_matches(&state.keys, token, &confirmation.challenge) {
        return Err(invalid());
    }
    let now = Utc::now();
    let device = trusted(
        confirmation.device_hash.clone(),
        confirmation.label.clone(),
        confirmation.trust_version,
        now,
    );
    if !state.store.confirm_device(&confirmation, Answered::Link, &device, None, WriteSet::new(), now).await?
    {
        return Err(invalid());
    }
    notify_new_device(state, &account, &device, now).await?;
    tracing::info!(account_id = %account.id, confirmation_id = %id, "device confirmed by link");
    Ok(DeviceTrusted { status: "device_trusted" })
}

#[utoipa::path(post, path = "/sessions/device-confirmations/link", tag = "sessions", request_body = LinkRequest,
    responses((status = 200, body = DeviceTrusted), (status = 400, body = Problem, description = "`invalid_token`")))]
async fn confirm_by_link(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<LinkRequest>,
) -> Result<Json<DeviceTrusted>, ApiError> {
    confirm_link(&state, &request.token).await.map(Json)
}

#[utoipa::path(get, path = "/links/confirm-device", tag = "links", params(LinkRequest),
    responses((status = 200, content_type = "text/html", description = "A page with a confirm button; changes nothing")))]
async fn show_link(headers: HeaderMap, ApiQuery(LinkRequest { token }): ApiQuery<LinkRequest>) -> Response {
    prompt_page(LinkKind::ConfirmDevice, locale_of(&headers), &token)
}

#[utoipa::path(post, path = "/links/confirm-device", tag = "links",
    request_body(content = LinkRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, content_type = "text/html", description = "The outcome, as a page")))]
async fn submit_link(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiForm(form): ApiForm<LinkRequest>,
) -> Response {
    let locale = locale_of(&headers);
    if !is_well_formed_token(&form.token) {
        return invalid_link_page(locale);
    }
    let outcome = confirm_link(&state, &form.token).await.map(|_| ());
    outcome_page(LinkKind::ConfirmDevice, locale, outcome)
}
