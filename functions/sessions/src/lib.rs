//! Sign-in (SPEC §2): e-mail and password, from a client-chosen device id, to tokens.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::{Json, Router};
use chrono::{Duration, Utc};
use portico::auth::keys::HashPurpose;
use portico::auth::{password, secret};
use portico::domain::permission::permissions_of;
use portico::domain::{AccountKind, Email};
use portico::error::Problem;
use portico::http::ApiJson;
use portico::store::sessions::NewSession;
use portico::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Refresh tokens (and so sessions) last 30 days.
const SESSION_TTL: Duration = Duration::days(30);
const DEVICE_ID_HEADER: &str = "x-device-id";

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sign_in))
}

pub fn router(state: AppState) -> Router {
    let (router, _) = api().split_for_parts();
    portico::http::with_defaults(router).with_state(state)
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Tokens {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub refresh_token: String,
}

/// The client's stable random device id: 22–64 URL-safe characters.
fn device_id(headers: &HeaderMap) -> Result<&str, ApiError> {
    let invalid = || {
        ApiError::bad_request(
            "invalid_device_id",
            "Send X-Device-Id: a random id of 22 to 64 URL-safe characters.",
        )
    };
    let value = headers.get(DEVICE_ID_HEADER).and_then(|v| v.to_str().ok()).ok_or_else(invalid)?;
    let valid = (22..=64).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid { Ok(value) } else { Err(invalid()) }
}

fn invalid_credentials() -> ApiError {
    ApiError::unauthorized("invalid_credentials", "The e-mail address or password is wrong.")
}

#[utoipa::path(post, path = "/sessions", tag = "sessions", request_body = SignInRequest,
    params(("X-Device-Id" = String, Header, description = "The client's stable random device id (22–64 URL-safe characters)")),
    responses(
        (status = 200, body = Tokens),
        (status = 400, body = Problem),
        (status = 401, body = Problem, description = "`invalid_credentials`, for an unknown address and a wrong password alike"),
        (status = 403, body = Problem, description = "Correct password, but `email_not_verified`, `approval_pending`, `account_rejected` or `account_disabled`")))]
async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<SignInRequest>,
) -> Result<Json<Tokens>, ApiError> {
    let device = device_id(&headers)?.to_owned();
    // A malformed address has no account: answer as for any unknown one.
    let account = match Email::parse(&request.email) {
        Ok(email) => state.store.account_by_email(&email).await?,
        Err(_) => None,
    };
    let stored_hash = account.as_ref().map(|account| account.password_hash.clone());
    let password_matches = tokio::task::spawn_blocking(move || {
        password::verify_password(&request.password, stored_hash.as_ref())
    })
    .await
    .map_err(ApiError::internal)?;
    let Some(account) = account.filter(|_| password_matches) else {
        tracing::info!("sign-in refused: invalid credentials");
        return Err(invalid_credentials());
    };
    if let Some(refusal) = account.status.sign_in_refusal() {
        tracing::info!(account_id = %account.id, code = refusal.code(), "sign-in refused");
        return Err(ApiError::forbidden(refusal.code(), refusal.message()));
    }

    let now = Utc::now();
    let session_id = Ulid::generate();
    let refresh_token = format!("{}.{session_id}.{}", account.id, secret::random_token());
    let refresh_hash = state.keys.keyed_hash(HashPurpose::RefreshToken, &refresh_token);
    let device_hash = state.keys.keyed_hash(HashPurpose::DeviceId, &format!("{}:{device}", account.id));
    state
        .store
        .create_session(&NewSession {
            account_id: account.id,
            session_id,
            refresh_hash: &refresh_hash,
            device_hash: &device_hash,
            created_at: now,
            expires_at: now + SESSION_TTL,
        })
        .await?;
    let permissions = match account.kind {
        AccountKind::Staff => permissions_of(account.roles.iter().map(String::as_str)),
        AccountKind::Customer => Vec::new(),
    };
    let (access_token, expires_in) = state
        .keys
        .jwt
        .issue_access(account.id, account.kind, permissions, session_id, now)
        .map_err(ApiError::internal)?;
    tracing::info!(account_id = %account.id, session_id = %session_id, "signed in");
    Ok(Json(Tokens { access_token, token_type: "Bearer", expires_in, refresh_token }))
}
