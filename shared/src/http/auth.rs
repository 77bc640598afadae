//! Bearer-token extractors. A missing or invalid token is 401; a valid token without the
//! needed permission is 403.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::AppState;
use crate::auth::AccessClaims;
use crate::domain::{AccountKind, Permission};
use crate::error::ApiError;

/// Any signed-in account (customer or staff).
#[derive(Debug, Clone)]
pub struct Authenticated(pub AccessClaims);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "missing_token",
                    "Sign in and send the access token as a Bearer token.",
                )
            })?;
        state.keys.jwt.verify_access(token.trim()).map(Self).map_err(|error| {
            tracing::debug!(%error, "access token refused");
            ApiError::unauthorized("invalid_token", "The access token is invalid or expired.")
        })
    }
}

/// A signed-in staff member.
#[derive(Debug, Clone)]
pub struct Staff(pub AccessClaims);

impl Staff {
    /// 403 unless the staff member holds `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.0.has(permission) { Ok(()) } else { Err(ApiError::not_permitted()) }
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Authenticated(claims) = Authenticated::from_request_parts(parts, state).await?;
        if claims.kind == AccountKind::Staff {
            Ok(Self(claims))
        } else {
            Err(ApiError::forbidden("forbidden", "This is for staff only."))
        }
    }
}
