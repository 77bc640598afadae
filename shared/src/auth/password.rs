//! argon2id password hashing at the configured cost. Hashing is CPU-bound (tens of ms at the
//! default cost), so the async helpers run it with `spawn_blocking` to keep the workers free.

use std::sync::{Arc, OnceLock};

use argon2::{Algorithm, Argon2, PasswordHasher, PasswordVerifier, Version};

use crate::config::PasswordCost;
use crate::domain::account::PasswordHash;

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes new passwords at one cost and verifies stored hashes at theirs.
#[derive(Debug)]
pub struct Passwords {
    argon2: Argon2<'static>,
    /// Hashed at this cost on first use: an unknown account is checked against it.
    dummy: OnceLock<PasswordHash>,
}

impl Passwords {
    pub fn new(cost: PasswordCost) -> Self {
        Self {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, cost.params()),
            dummy: OnceLock::new(),
        }
    }

    /// Hashes with argon2id at this cost; the PHC string records the cost.
    pub fn hash(&self, password: &str) -> Result<PasswordHash, HashError> {
        PasswordHasher::<argon2::PasswordHash>::hash_password(&self.argon2, password.as_bytes())
            .map(|phc| PasswordHash::new(phc.to_string()))
            .map_err(|error| HashError(error.to_string()))
    }

    /// Checks `password` against `stored`, at the cost `stored` was made with. Without a stored
    /// hash (unknown account) it verifies against a dummy hash of this cost, so both answers take
    /// the same time and reveal nothing.
    pub fn verify(&self, password: &str, stored: Option<&PasswordHash>) -> bool {
        let (phc, is_real) = match stored {
            Some(hash) => (hash.as_str(), true),
            None => (self.dummy().as_str(), false),
        };
        self.argon2.verify_password(password.as_bytes(), phc).is_ok() && is_real
    }

    /// [`Self::hash`] on a blocking thread.
    pub async fn hash_blocking(self: &Arc<Self>, password: String) -> Result<PasswordHash, HashError> {
        let passwords = Arc::clone(self);
        tokio::task::spawn_blocking(move || passwords.hash(&password))
            .await
            .map_err(|error| HashError(error.to_string()))?
    }

    /// [`Self::verify`] on a blocking thread.
    pub async fn verify_blocking(
        self: &Arc<Self>,
        password: String,
        stored: Option<PasswordHash>,
    ) -> Result<bool, HashError> {
        let passwords = Arc::clone(self);
        tokio::task::spawn_blocking(move || passwords.verify(&password, stored.as_ref()))
            .await
            .map_err(|error| HashError(error.to_string()))
    }

    fn dummy(&self) -> &PasswordHash {
        self.dummy.get_or_init(|| {
            self.hash("portico-dummy-password-for-timing")
                .unwrap_or_else(|_| PasswordHash::new(String::new()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cheap() -> Passwords {
        Passwords::new(PasswordCost::new(8, 1, 1).expect("valid cost"))
    }

    #[test]
    fn hash_then_verify() {
        let passwords = Passwords::new(PasswordCost::default());
        let hash = passwords.hash("correct horse battery").expect("hash");
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", hash.as_str());
        assert!(passwords.verify("correct horse battery", Some(&hash)));
        assert!(!passwords.verify("wrong horse battery", Some(&hash)));
    }

    #[test]
    fn hashes_of_any_cost_stay_verifiable() {
        let (strong, weak) = (Passwords::new(PasswordCost::default()), cheap());
        let weak_hash = weak.hash("correct horse battery").expect("hash");
        assert!(weak_hash.as_str().starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{}", weak_hash.as_str());
        assert!(strong.verify("correct horse battery", Some(&weak_hash)));
        assert!(!strong.verify("wrong horse battery", Some(&weak_hash)));
        let strong_hash = strong.hash("correct horse battery").expect("hash");
        assert!(weak.verify("correct horse battery", Some(&strong_hash)));
        assert!(!weak.verify("wrong horse battery", Some(&strong_hash)));
    }

    #[test]
    fn unknown_account_never_verifies() {
        let passwords = cheap();
        assert!(!passwords.verify("portico-dummy-password-for-timing", None));
        assert!(passwords.dummy().as_str().starts_with("$argon2id$v=19$m=8,t=1,p=1$"));
    }
}
