//! Bearer-token extractors. A missing or invalid token is 401; a valid token without the
//! needed permission is 403.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::AppState;
use crate::auth::AccessClaims;
use crate::domain::account::Account;
use crate::domain::{AccountKind, AccountStatus, Permission, RoleGrants};
use crate::error::ApiError;

/// Any signed-in account (customer or staff).
#[derive(Debug, Clone)]
pub struct Authenticated(pub AccessClaims);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let claims = verified_claims(parts, state)?;
        // Revocation takes effect at once: a token of a session that ended (sign-out, password
        // reset, "not me", a disabled account) is refused on every route, though unexpired.
        if !state.store.session_alive(claims.sub, claims.sid).await? {
            return Err(session_ended(&claims));
        }
        Ok(Self(claims))
    }
}

/// The claims of the request's Bearer token, if it is one of ours and unexpired (401 otherwise);
/// its session is not checked yet.
fn verified_claims(parts: &Parts, state: &AppState) -> Result<AccessClaims, ApiError> {
    let token = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
        .ok_or_else(|| {
            ApiError::unauthorized("missing_token", "Sign in and send the access token as a Bearer token.")
        })?;
    state.keys.jwt.verify_access(token.trim()).map_err(|error| {
        tracing::debug!(%error, "access token refused");
        ApiError::unauthorized("invalid_token", "The access token is invalid or expired.")
    })
}

fn session_ended(claims: &AccessClaims) -> ApiError {
    tracing::info!(account_id = %claims.sub, "access token of an ended session refused");
    ApiError::unauthorized(
        "session_ended",
        "This session has ended (signed out, password changed or access removed); sign in again.",
    )
}

/// A signed-in staff member, active in the table now: the extractor reads the token's session
/// and the account together (one BatchGetItem), so the account's status and roles are as fresh
/// as the revocation check, at no extra round trip.
#[derive(Debug, Clone)]
pub struct Staff(pub AccessClaims, pub Account);

impl Staff {
    /// 403 unless the staff member's token grants `permission`.
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if self.0.has(permission) { Ok(()) } else { Err(ApiError::not_permitted()) }
    }

    /// The staff member's account and rights as the table holds them now, if their roles grant
    /// `permission` there too (403 otherwise). For routes that change the organisation's
    /// settings: the access token may be up to 15 minutes old, and a right taken away must stop
    /// at once. Built-in roles cost no read; custom ones one BatchGetItem.
    pub async fn rights_now(
        &self,
        state: &AppState,
        permission: Permission,
    ) -> Result<(Account, RoleGrants), ApiError> {
        self.require(permission)?;
        let grants = state.store.grants_of_roles(&self.1.roles).await?;
        if !grants.permissions.contains(&permission) {
            return Err(ApiError::not_permitted());
        }
        Ok((self.1.clone(), grants))
    }

    /// 403 unless the staff member holds `permission` now (`rights_now`).
    pub async fn require_now(&self, state: &AppState, permission: Permission) -> Result<(), ApiError> {
        self.rights_now(state, permission).await.map(|_| ())
    }
}

/// A signed-in customer (the portal), with their account as the table holds it now (read with
/// the session check): staff tokens never reach customer routes.
#[derive(Debug, Clone)]
pub struct Customer(pub AccessClaims, pub Account);

impl FromRequestParts<AppState> for Customer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let SignedIn(claims, account) = SignedIn::from_request_parts(parts, state).await?;
        if claims.kind == AccountKind::Customer && account.kind == AccountKind::Customer {
            Ok(Self(claims, account))
        } else {
            Err(ApiError::forbidden("forbidden", "This is for customers only."))
        }
    }
}

impl FromRequestParts<AppState> for Staff {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let SignedIn(claims, account) = SignedIn::from_request_parts(parts, state).await?;
        if claims.kind != AccountKind::Staff {
            return Err(ApiError::forbidden("forbidden", "This is for staff only."));
        }
        // Disabling a user changes the account first and ends its sessions after: in between,
        // the status refuses the token.
        if account.kind != AccountKind::Staff || account.status != AccountStatus::Active {
            return Err(ApiError::not_permitted());
        }
        Ok(Self(claims, account))
    }
}

/// Any signed-in account, with the account as the table holds it now: read with the session
/// check in one BatchGetItem, for routes that need the caller's account anyway.
#[derive(Debug, Clone)]
pub struct SignedIn(pub AccessClaims, pub Account);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let claims = verified_claims(parts, state)?;
        let (alive, account) = state.store.session_and_account(claims.sub, claims.sid).await?;
        if !alive {
            return Err(session_ended(&claims));
        }
        let account = account
            .ok_or_else(|| ApiError::unauthorized("invalid_token", "The account no longer exists."))?;
        Ok(Self(claims, account))
    }
}
