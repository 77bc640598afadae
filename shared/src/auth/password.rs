//! argon2id password hashing. Hashing is CPU-bound (tens of ms), so callers run it with
//! `spawn_blocking` to keep the async workers free.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use std::sync::OnceLock;

use crate::domain::account::PasswordHash;

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes with argon2id and the crate's defaults (m = 19 MiB, t = 2, p = 1: OWASP's minimum).
pub fn hash_password(password: &str) -> Result<PasswordHash, HashError> {
    PasswordHasher::<argon2::PasswordHash>::hash_password(&Argon2::default(), password.as_bytes())
        .map(|phc| PasswordHash::new(phc.to_string()))
        .map_err(|error| HashError(error.to_string()))
}

/// Checks `password` against `stored`. Without a stored hash (unknown account) it verifies
/// against a fixed dummy hash, so both answers take the same time and reveal nothing.
pub fn verify_password(password: &str, stored: Option<&PasswordHash>) -> bool {
    let dummy = dummy_hash();
    let (phc, is_real) = match stored {
        Some(hash) => (hash.as_str(), true),
        None => (dummy.as_str(), false),
    };
    Argon2::default().verify_password(password.as_bytes(), phc).is_ok() && is_real
}

fn dummy_hash() -> &'static PasswordHash {
    static DUMMY: OnceLock<PasswordHash> = OnceLock::new();
    DUMMY.get_or_init(|| {
        hash_password("portico-dummy-password-for-timing")
            .unwrap_or_else(|_| PasswordHash::new(String::new()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(hash.as_str().starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", Some(&hash)));
        assert!(!verify_password("wrong horse battery", Some(&hash)));
    }

    #[test]
    fn unknown_account_never_verifies() {
        assert!(!verify_password("portico-dummy-password-for-timing", None));
    }
}
