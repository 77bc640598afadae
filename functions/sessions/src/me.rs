//! The signed-in account: its profile and its trusted devices.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use portico::domain::{AccountKind, AccountStatus, AccountType, Locale, Permission};
use portico::error::Problem;
use portico::http::{Authenticated, DeviceId, SignedIn};
use portico::routes;
use portico::{ApiError, AppState};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(profile, change_profile))
        .routes(routes!(devices))
        .routes(routes!(revoke_device))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Profile {
    pub id: String,
    pub kind: AccountKind,
    pub email: String,
    pub name: String,
    pub account_type: AccountType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub locale: Locale,
    pub status: AccountStatus,
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
    /// Staff: the rights this session carries (they change with the next sign-in or refresh).
    /// Clients use them to offer only what the API will allow; the API checks them anyway.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<Permission>,
}

#[utoipa::path(get, path = "/me", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = Profile), (status = 401, body = Problem)))]
async fn profile(SignedIn(claims, account): SignedIn) -> Json<Profile> {
    Json(Profile {
        id: account.id.to_string(),
        kind: account.kind,
        email: account.email.into(),
        name: account.name,
        account_type: account.account_type,
        company_name: account.company_name,
        phone: account.phone.map(String::from),
        locale: account.locale,
        status: account.status,
        email_verified: account.email_verified,
        created_at: account.created_at,
        permissions: claims.perms,
    })
}

/// What an account may change of itself here.
#[derive(Debug, serde::Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    /// The language of the mails Portico sends this account (`en`, `de`, `cs`, `tr`).
    pub locale: Locale,
}

#[utoipa::path(patch, path = "/me", tag = "me", security(("bearer" = [])), request_body = ProfileChange,
    responses((status = 200, body = Profile), (status = 400, body = Problem), (status = 401, body = Problem)))]
async fn change_profile(
    State(state): State<AppState>,
    SignedIn(claims, mut account): SignedIn,
    portico::http::ApiJson(change): portico::http::ApiJson<ProfileChange>,
) -> Result<Json<Profile>, ApiError> {
    if !state.store.set_locale(claims.sub, change.locale, Utc::now()).await? {
        return Err(ApiError::unauthorized("invalid_token", "The account no longer exists."));
    }
    tracing::info!(account_id = %claims.sub, locale = ?change.locale, "locale changed");
    // The account as read with the session, with the one field this request changed.
    account.locale = change.locale;
    Ok(profile(SignedIn(claims, account)).await)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceView {
    /// Pass to `DELETE /me/devices/{id}` to revoke it.
    pub id: String,
    pub label: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Whether this is the device making the request (by its `X-Device-Id`).
    pub current: bool,
}

#[utoipa::path(get, path = "/me/devices", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = Vec<DeviceView>), (status = 401, body = Problem)))]
async fn devices(
    State(state): State<AppState>,
    SignedIn(claims, account): SignedIn,
    device: Option<DeviceId>,
) -> Result<Json<Vec<DeviceView>>, ApiError> {
    let current = device.map(|DeviceId(id)| state.keys.device_hash(claims.sub, &id));
    let trust_version = account.trust_version;
    let devices = state
        .store
        .devices(claims.sub)
        .await?
        .into_iter()
        .filter(|device| device.trust_version == trust_version)
        .map(|device| DeviceView {
            current: current.as_deref() == Some(device.device_hash.as_str()),
            id: device.device_hash,
            label: device.label,
            first_seen: device.first_seen,
            last_seen: device.last_seen,
        })
        .collect();
    Ok(Json(devices))
}

#[utoipa::path(delete, path = "/me/devices/{id}", tag = "me", security(("bearer" = [])),
    params(("id" = String, Path, description = "A device `id` from `GET /me/devices`")),
    responses((status = 204, description = "Revoked; its sessions are ended"), (status = 404, body = Problem)))]
async fn revoke_device(
    State(state): State<AppState>,
    Authenticated(claims): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let well_formed =
        id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed || !state.store.revoke_device(claims.sub, &id).await? {
        return Err(ApiError::not_found("No such device."));
    }
    tracing::info!(account_id = %claims.sub, "device revoked");
    Ok(StatusCode::NO_CONTENT)
}
