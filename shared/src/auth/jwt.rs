//! Access tokens: HS256 JWTs (RFC 9068 `typ: at+jwt`), algorithm pinned and `iss`, `aud`, `exp`,
//! `nbf` and `typ` checked, so no other kind of token (or `alg: none`) passes as an access token.

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use std::collections::BTreeMap;

use crate::domain::{AccountKind, ModuleAccess, Permission};

/// Access tokens live 15 minutes; refresh tokens bridge the rest.
pub const ACCESS_TOKEN_TTL_SECS: i64 = 15 * 60;
const ACCESS_TOKEN_TYPE: &str = "at+jwt";
/// Tolerated clock skew between Lambda hosts.
const LEEWAY_SECS: u64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum JwtError {
    #[error("token is invalid: {0}")]
    Invalid(#[from] jsonwebtoken::errors::Error),
    #[error("token is not an access token")]
    WrongType,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Account id.
    pub sub: Ulid,
    pub iss: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    /// Session id: ties the token to its refresh-token family.
    pub sid: Ulid,
    pub kind: AccountKind,
    #[serde(default)]
    pub perms: Vec<Permission>,
    /// Module access of staff: module name → letters `rwd`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub modules: BTreeMap<String, ModuleAccess>,
    /// Projects of staff (which custom contact fields they see).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<Ulid>,
}

impl AccessClaims {
    pub fn has(&self, permission: Permission) -> bool {
        self.perms.contains(&permission)
    }

    /// What the holder may do with records of `module`.
    pub fn access(&self, module: &str) -> ModuleAccess {
        self.modules.get(module).copied().unwrap_or_default()
    }
}

/// What a token says its holder may do.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grants {
    pub permissions: Vec<Permission>,
    pub modules: BTreeMap<String, ModuleAccess>,
    pub projects: Vec<Ulid>,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    audience: String,
    validation: Validation,
}

impl JwtKeys {
    pub fn new(secret: &[u8; 32], issuer: &str, audience: &str) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            validation,
        }
    }

    /// Issues an access token; returns it with its lifetime in seconds.
    pub fn issue_access(
        &self,
        account: Ulid,
        kind: AccountKind,
        grants: Grants,
        session: Ulid,
        now: DateTime<Utc>,
    ) -> Result<(String, i64), JwtError> {
        let iat = now.timestamp();
        let claims = AccessClaims {
            sub: account,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: iat + ACCESS_TOKEN_TTL_SECS,
            nbf: iat,
            iat,
            sid: session,
            kind,
            perms: grants.permissions,
            modules: grants.modules,
            projects: grants.projects,
        };
        let header = Header { typ: Some(ACCESS_TOKEN_TYPE.into()), ..Header::new(Algorithm::HS256) };
        Ok((encode(&header, &claims, &self.encoding)?, ACCESS_TOKEN_TTL_SECS))
    }

    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, JwtError> {
        let data = decode::<AccessClaims>(token, &self.decoding, &self.validation)?;
        if data.header.typ.as_deref() != Some(ACCESS_TOKEN_TYPE) {
            return Err(JwtError::WrongType);
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    const SECRET: [u8; 32] = [7; 32];

    fn keys() -> JwtKeys {
        JwtKeys::new(&SECRET, "portico", "portico-api")
    }

    fn issue(keys: &JwtKeys, at: DateTime<Utc>) -> String {
        keys.issue_access(
            Ulid::generate(),
            AccountKind::Staff,
            Grants { permissions: vec![Permission::SettingsManage], ..Grants::default() },
            Ulid::generate(),
            at,
        )
        .map(|(token, _)| token)
        .expect("issue")
    }

    #[test]
    fn round_trip() {
        let keys = keys();
        let claims = keys.verify_access(&issue(&keys, Utc::now())).expect("valid");
        assert_eq!(claims.kind, AccountKind::Staff);
        assert!(claims.has(Permission::SettingsManage));
        assert!(!claims.has(Permission::UsersManage));
    }

    #[test]
    fn expired_token_is_refused() {
        let keys = keys();
        let token = issue(&keys, Utc::now() - chrono::Duration::hours(1));
        assert!(keys.verify_access(&token).is_err());
    }

    #[test]
    fn not_yet_valid_token_is_refused() {
        let keys = keys();
        let token = issue(&keys, Utc::now() + chrono::Duration::hours(1));
        assert!(keys.verify_access(&token).is_err());
    }

    #[test]
    fn other_audience_issuer_or_key_is_refused() {
        let token = issue(&keys(), Utc::now());
        assert!(JwtKeys::new(&SECRET, "portico", "other-api").verify_access(&token).is_err());
        assert!(JwtKeys::new(&SECRET, "someone-else", "portico-api").verify_access(&token).is_err());
        assert!(JwtKeys::new(&[8; 32], "portico", "portico-api").verify_access(&token).is_err());
    }

    #[test]
    fn wrong_typ_and_alg_none_are_refused() {
        let keys = keys();
        let now = Utc::now().timestamp();
        let claims = serde_json::json!({
            "sub": Ulid::generate(), "iss": "portico", "aud": "portico-api", "exp": now + 60, "nbf": now,
            "iat": now, "sid": Ulid::generate(), "kind": "staff", "perms": ["settings.manage"]
        });
        let plain_jwt = encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(&SECRET))
            .expect("encode");
        assert!(matches!(keys.verify_access(&plain_jwt), Err(JwtError::WrongType)));

        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims.to_string());
        assert!(keys.verify_access(&format!("{header}.{body}.")).is_err());
    }
}
