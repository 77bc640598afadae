//! Sign-in and sessions (SPEC §2): e-mail and password from a device the client names, device
//! confirmation by mailed code or link when the policy asks for it, rotating refresh tokens,
//! sign-out, and the signed-in user's profile and trusted devices.

mod confirmations;
mod credentials;
mod me;
mod not_me;
mod tokens;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use portico::auth::keys::HashPurpose;
use portico::domain::account::Login;
use portico::domain::signin::{FAILURE_WINDOW_SECS, FailureRecord, MAX_FAILURES_PER_IP_PER_HOUR, Throttle};
use portico::domain::{AccountKind, AccountStatus, Email};
use portico::error::Problem;
use portico::http::device::device_label;
use portico::http::{ApiJson, Authenticated, ClientIp, DeviceId};
use portico::routes;
use portico::store::WriteSet;
use portico::store::rate_limit::RateLimit;
use portico::store::sessions::SessionStart;
use portico::store::sign_in_attempts::{IpWindow, Reservation};
use portico::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

pub use tokens::Tokens;

/// Failed sign-ins counted per source IP (reserved before each attempt, given back after the
/// right password).
pub(crate) const FAILURES_PER_IP: RateLimit = RateLimit {
    scope: "sign-in-failures-ip",
    max: MAX_FAILURES_PER_IP_PER_HOUR,
    window_secs: FAILURE_WINDOW_SECS,
};

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_in))
        .routes(routes!(tokens::refresh))
        .routes(routes!(sign_out))
        .merge(confirmations::api())
        .merge(credentials::api())
        .merge(me::api())
        .merge(not_me::api())
}

/// The routes, waiting for their state: a cold start builds them while it reads the state.
pub fn routes() -> Router<AppState> {
    portico::http::with_defaults(api().split_for_parts().0)
}

pub fn router(state: AppState) -> Router {
    routes().with_state(state)
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    pub password: String,
}

/// 202: the password was right, but this device must be confirmed first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfirmationRequired {
    /// Always `device_confirmation_required`.
    pub status: &'static str,
    /// Post the mailed code to `/sessions/device-confirmations/{confirmation_id}` from this device.
    pub confirmation_id: String,
    pub expires_at: chrono::DateTime<Utc>,
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("invalid_credentials", "The e-mail address or password is wrong.")
}

pub(crate) fn throttled(throttle: Throttle) -> Result<(), ApiError> {
    match throttle {
        Throttle::Allowed => Ok(()),
        Throttle::Wait { retry_after_secs } => {
            Err(ApiError::too_many_requests("failed sign-ins", retry_after_secs))
        }
    }
}

#[utoipa::path(post, path = "/sessions", tag = "sessions", request_body = SignInRequest,
    params(("X-Device-Id" = String, Header, description = "The client's stable random device id (22–64 URL-safe characters)")),
    responses(
        (status = 200, body = Tokens),
        (status = 202, body = ConfirmationRequired, description = "A code and a link were mailed; the device is not trusted yet"),
        (status = 400, body = Problem),
        (status = 401, body = Problem, description = "`invalid_credentials`, for an unknown address and a wrong password alike"),
        (status = 403, body = Problem, description = "Correct password, but `email_not_verified`, `approval_pending`, `account_rejected`, `account_disabled`, or `password_reset_required` (\"not me\" was reported)"),
        (status = 429, body = Problem, description = "Too many failed sign-ins or confirmation mails; see Retry-After")))]
async fn sign_in(
    State(state): State<AppState>,
    DeviceId(device): DeviceId,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(request): ApiJson<SignInRequest>,
) -> Result<Response, ApiError> {
    let now = Utc::now();
    // A malformed address has no account: it is answered like any unknown one, its attempts
    // counted under its own text.
    let email = Email::parse(&request.email).ok();
    let subject = attempts_subject(&state, email.as_ref().map_or(request.email.as_str(), Email::as_str));
    let (login, attempts, ip_failures) =
        state.store.sign_in_facts(email.as_ref(), &subject, FAILURES_PER_IP, &ip, now).await?;
    if ip_failures >= FAILURES_PER_IP.max {
        let window = u64::try_from(FAILURES_PER_IP.window_secs).unwrap_or(3600);
        return Err(ApiError::too_many_requests("failed sign-ins from your network", window));
    }
    // The same for every address, with or without an account: a 429 tells nothing.
    throttled(attempts.throttle(now.timestamp()))?;
    let ip_window = reserve(&state, &subject, &attempts, Some(&ip), now).await?;

    let stored_hash = login.as_ref().map(|login| login.password_hash.clone());
    let password_matches =
        state.passwords.verify_blocking(request.password, stored_hash).await.map_err(ApiError::internal)?;
    let (Some(_), Some(login)) = (email.as_ref(), login.as_ref().filter(|_| password_matches)) else {
        // Counted already, by the reservation.
        tracing::info!("sign-in refused: invalid credentials");
        return Err(invalid_credentials());
    };
    let cleared = state.store.password_attempts_cleared(&subject, ip_window.as_ref())?;
    if let Some(refusal) = login.status.sign_in_refusal() {
        state.store.clear_password_attempts(&subject, ip_window.as_ref()).await?;
        tracing::info!(account_id = %login.account_id, code = refusal.code(), "sign-in refused");
        return Err(ApiError::forbidden(refusal.code(), refusal.message()));
    }
    // Told only after the right password, like the refusals above: nothing leaks to a guesser.
    if login.password_reset_required {
        state.store.clear_password_attempts(&subject, ip_window.as_ref()).await?;
        tracing::info!(account_id = %login.account_id, "sign-in refused: the owner reported a sign-in that was not theirs");
        return Err(ApiError::forbidden(
            "password_reset_required",
            "Your account was secured after a sign-in you did not make: set a new password with the link we mailed.",
        ));
    }

    let (session, tokens) = tokens::new_session(&state, login, &device, now).await?;
    let mut writes = cleared;
    writes.append(sign_in_activity(&state, login.kind, login.account_id, now)?);
    match state.store.start_session_on_trusted_device(&session, writes, now).await? {
        SessionStart::Started => {
            tracing::info!(account_id = %login.account_id, session_id = %session.session_id, "signed in");
            Ok(Json(tokens).into_response())
        }
        SessionStart::UntrustedDevice => {
            state.store.clear_password_attempts(&subject, ip_window.as_ref()).await?;
            new_device(&state, login, &device, device_label(&headers), &ip).await
        }
    }
}

/// A customer's sign-in is activity for the lifecycle time rules: the write joins the
/// session's transaction (no round trip of its own). Staff have no lifecycle.
pub(crate) fn sign_in_activity(
    state: &AppState,
    kind: AccountKind,
    account_id: Ulid,
    now: DateTime<Utc>,
) -> Result<WriteSet, ApiError> {
    let mut writes = WriteSet::new();
    if kind == AccountKind::Customer {
        writes.add("activity", state.store.sign_in_activity(account_id, now)?);
    }
    Ok(writes)
}

/// The subject an address's password attempts are counted under: a keyed hash of the
/// normalized address (or of the text given, when it is no address), account or not.
pub(crate) fn attempts_subject(state: &AppState, address: &str) -> String {
    state.keys.keyed_hash(HashPurpose::PasswordAttempts, &address.trim().to_lowercase())
}

/// Reserves one password attempt for `subject` (and `ip`) before the password is checked:
/// parallel guesses are counted one by one, and the one that loses the race waits.
pub(crate) async fn reserve(
    state: &AppState,
    subject: &str,
    attempts: &FailureRecord,
    ip: Option<&str>,
    now: chrono::DateTime<Utc>,
) -> Result<Option<IpWindow>, ApiError> {
    let ip = ip.map(|ip| (FAILURES_PER_IP, ip));
    match state.store.reserve_password_attempt(subject, attempts, ip, now).await? {
        (Reservation::Granted, window) => Ok(window),
        (Reservation::Busy, _) => Err(ApiError::too_many_requests("parallel sign-ins", 1)),
        (Reservation::IpLimited, _) => {
            let window = u64::try_from(FAILURES_PER_IP.window_secs).unwrap_or(3600);
            Err(ApiError::too_many_requests("failed sign-ins from your network", window))
        }
    }
}

/// A correct password from a device the account does not trust yet: ask for confirmation when
/// the policy says so; otherwise trust it now. Either way the owner is told by mail.
async fn new_device(
    state: &AppState,
    login: &Login,
    device: &str,
    label: String,
    ip: &str,
) -> Result<Response, ApiError> {
    let policy = state.registration_policy().await?;
    if policy.device_confirmation {
        let required = confirmations::request(state, login, device, label, ip).await?;
        return Ok((StatusCode::ACCEPTED, Json(required)).into_response());
    }
    let now = Utc::now();
    let tokens = confirmations::trust_and_sign_in(state, login, device, label, now).await?;
    Ok(Json(tokens).into_response())
}

#[utoipa::path(delete, path = "/sessions/current", tag = "sessions", security(("bearer" = [])),
    responses((status = 204, description = "Signed out: the session's refresh token no longer works"), (status = 401, body = Problem)))]
async fn sign_out(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
) -> Result<StatusCode, ApiError> {
    state.store.end_session(claims.sub, claims.sid).await?;
    tracing::info!(account_id = %claims.sub, session_id = %claims.sid, "signed out");
    Ok(StatusCode::NO_CONTENT)
}

/// Only active accounts get tokens.
pub(crate) fn ensure_active(status: AccountStatus) -> Result<(), ApiError> {
    match status.sign_in_refusal() {
        None => Ok(()),
        Some(refusal) => Err(ApiError::forbidden(refusal.code(), refusal.message())),
    }
}
