//! Issuing access and refresh tokens, and rotating refresh tokens.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Duration, Utc};
use portico::auth::Grants;
use portico::auth::keys::HashPurpose;
use portico::auth::secret;
use portico::domain::account::Login;
use portico::domain::signin::RefreshToken;
use portico::domain::{Account, AccountKind};
use portico::error::Problem;
use portico::http::ApiJson;
use portico::store::sessions::Session;
use portico::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::ToSchema;

/// A session (and its refresh token) lasts 30 days from sign-in.
const SESSION_TTL: Duration = Duration::days(30);

#[derive(Debug, Serialize, ToSchema)]
pub struct Tokens {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires (at most 15 minutes).
    pub expires_in: i64,
    /// Opaque; exchange at `POST /sessions/refresh`. Each use returns a new one; reusing a
    /// spent one ends the session.
    pub refresh_token: String,
}

/// What an access token says about its holder.
pub(crate) struct Holder<'a> {
    pub account_id: Ulid,
    pub kind: AccountKind,
    pub roles: &'a [String],
    pub projects: &'a [Ulid],
}

impl<'a> From<&'a Login> for Holder<'a> {
    fn from(login: &'a Login) -> Self {
        Self {
            account_id: login.account_id,
            kind: login.kind,
            roles: &login.roles,
            projects: &login.projects,
        }
    }
}

fn refresh_token(state: &AppState, account_id: Ulid, session_id: Ulid, generation: u64) -> (String, String) {
    let token = RefreshToken { account_id, session_id, generation, secret: secret::random_token() }.encode();
    let hash = state.keys.keyed_hash(HashPurpose::RefreshToken, &token);
    (token, hash)
}

/// Staff rights come from their roles as they are now: a changed role reaches its holders
/// with their next token.
async fn access_token(
    state: &AppState,
    holder: &Holder<'_>,
    session_id: Ulid,
    now: DateTime<Utc>,
) -> Result<(String, i64), ApiError> {
    let grants = match holder.kind {
        AccountKind::Staff => {
            let roles = state.store.grants_of_roles(holder.roles).await?;
            Grants {
                permissions: roles.permissions,
                modules: roles.modules,
                projects: holder.projects.to_vec(),
            }
        }
        AccountKind::Customer => Grants::default(),
    };
    state
        .keys
        .jwt
        .issue_access(holder.account_id, holder.kind, grants, session_id, now)
        .map_err(ApiError::internal)
}

/// A new session on `device` for `login`, and the tokens to hand out once it is stored.
pub(crate) async fn new_session(
    state: &AppState,
    login: &Login,
    device: &str,
    now: DateTime<Utc>,
) -> Result<(Session, Tokens), ApiError> {
    let session_id = Ulid::generate();
    let (refresh_token, refresh_hash) = refresh_token(state, login.account_id, session_id, 0);
    let (access_token, expires_in) = access_token(state, &Holder::from(login), session_id, now).await?;
    let session = Session {
        account_id: login.account_id,
        session_id,
        device_hash: state.keys.device_hash(login.account_id, device),
        refresh_hash,
        spent_hashes: Vec::new(),
        generation: 0,
        trust_version: login.trust_version,
        created_at: now,
        expires_at: now + SESSION_TTL,
    };
    Ok((session, Tokens { access_token, token_type: "Bearer", expires_in, refresh_token }))
}

/// The sign-in facts of `account`, for paths that read the account rather than the login item.
pub(crate) fn login_of(account: &Account) -> Login {
    Login {
        account_id: account.id,
        kind: account.kind,
        status: account.status,
        password_hash: account.password_hash.clone(),
        roles: account.roles.clone(),
        projects: account.projects.clone(),
        trust_version: account.trust_version,
        // Kept on the login item, which only sign-in reads; these paths follow a sign-in.
        password_reset_required: false,
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

fn invalid_refresh() -> ApiError {
    ApiError::unauthorized("invalid_refresh_token", "The refresh token is invalid or expired; sign in again.")
}

#[utoipa::path(post, path = "/sessions/refresh", tag = "sessions", request_body = RefreshRequest,
    responses(
        (status = 200, body = Tokens, description = "New tokens; the presented refresh token is spent"),
        (status = 401, body = Problem, description = "`invalid_refresh_token`, or `refresh_token_reused` (the session is ended)")))]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<Json<Tokens>, ApiError> {
    let presented = RefreshToken::parse(&request.refresh_token).ok_or_else(invalid_refresh)?;
    let Some((session, account)) =
        state.store.session_with_account(presented.account_id, presented.session_id).await?
    else {
        return Err(invalid_refresh());
    };
    let now = Utc::now();
    let verifies =
        |hash: &str| state.keys.verify_keyed_hash(HashPurpose::RefreshToken, &request.refresh_token, hash);
    if presented.generation < session.generation {
        // Only a token that was really issued proves a copy exists; anything else merely
        // shaped like one is refused without ending the session.
        if !session.spent_hashes.iter().any(|hash| verifies(hash)) {
            return Err(invalid_refresh());
        }
        // A spent token came back: someone holds a copy. End the whole session (RFC 9700 §4.14.2).
        state.store.end_session(session.account_id, session.session_id).await?;
        tracing::warn!(account_id = %session.account_id, session_id = %session.session_id, "refresh token reused; session ended");
        return Err(ApiError::unauthorized(
            "refresh_token_reused",
            "This refresh token was already used; the session has ended.",
        ));
    }
    let current = presented.generation == session.generation && verifies(&session.refresh_hash);
    if !current || now >= session.expires_at {
        return Err(invalid_refresh());
    }
    if account.status.sign_in_refusal().is_some() || account.trust_version != session.trust_version {
        state.store.end_session(session.account_id, session.session_id).await?;
        return Err(invalid_refresh());
    }

    let (refresh_token, refresh_hash) =
        refresh_token(&state, account.id, session.session_id, session.generation + 1);
    if !state.store.rotate_refresh(&session, &refresh_hash, now).await? {
        // Another request rotated this very token first: one of the two is a copy.
        state.store.end_session(session.account_id, session.session_id).await?;
        return Err(ApiError::unauthorized(
            "refresh_token_reused",
            "This refresh token was already used; the session has ended.",
        ));
    }
    let holder = Holder {
        account_id: account.id,
        kind: account.kind,
        roles: &account.roles,
        projects: &account.projects,
    };
    let (access_token, expires_in) = access_token(&state, &holder, session.session_id, now).await?;
    Ok(Json(Tokens { access_token, token_type: "Bearer", expires_in, refresh_token }))
}
