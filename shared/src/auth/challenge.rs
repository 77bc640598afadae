//! Issuing and checking challenges (see `domain::challenge`): codes and link tokens from the
//! CSPRNG, stored as keyed hashes whose purpose is the challenge's kind, compared in constant
//! time.

use chrono::{DateTime, Utc};
use ulid::Ulid;

use super::keys::{HashPurpose, Keys};
use super::secret;
use crate::domain::challenge::{self, Challenge, ChallengeRules};

/// A kind of challenge: its rules and what its hashes are for (so a code of one kind never
/// answers another).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChallengeKind {
    pub rules: ChallengeRules,
    pub code: HashPurpose,
    /// Kinds that mail a link as well as a code.
    pub link: Option<HashPurpose>,
}

impl ChallengeKind {
    pub const EMAIL_VERIFICATION: Self = Self {
        rules: ChallengeRules::EMAIL_VERIFICATION,
        code: HashPurpose::EmailVerificationCode,
        link: Some(HashPurpose::EmailVerificationLink),
    };
    pub const DEVICE_CONFIRMATION: Self = Self {
        rules: ChallengeRules::DEVICE_CONFIRMATION,
        code: HashPurpose::DeviceConfirmationCode,
        link: Some(HashPurpose::DeviceConfirmationLink),
    };
    pub const EMAIL_CHANGE: Self =
        Self { rules: ChallengeRules::EMAIL_CHANGE, code: HashPurpose::EmailChangeCode, link: None };

    /// A fresh challenge. The code is hashed with `subject` (what it is for: an account, a
    /// confirmation, an account and its new address), so equal codes hash differently per
    /// subject; a kind with links gets a link token naming `link_id`.
    pub fn issue(&self, keys: &Keys, subject: &str, link_id: Ulid, now: DateTime<Utc>) -> Issued {
        let code = secret::code(self.rules.code);
        let link_token = self.link.map(|_| challenge::link_token(link_id, &secret::random_token()));
        let link_hash =
            self.link.zip(link_token.as_deref()).map(|(purpose, token)| keys.keyed_hash(purpose, token));
        let code_hash = keys.keyed_hash(self.code, &code_subject(subject, &code));
        Issued { challenge: Challenge::new(self.rules, code_hash, link_hash, now), code, link_token }
    }

    /// The typed code in its issued form, or the field error's message.
    pub fn read_code(&self, typed: &str) -> Result<String, String> {
        self.rules.code.read(typed).ok_or_else(|| self.rules.code.requirement())
    }

    /// Whether `code` (as read) is the challenge's code for `subject`; constant time.
    pub fn code_matches(&self, keys: &Keys, subject: &str, code: &str, challenge: &Challenge) -> bool {
        keys.verify_keyed_hash(self.code, &code_subject(subject, code), &challenge.code_hash)
    }

    /// Whether `token` is the challenge's link token; constant time.
    pub fn link_matches(&self, keys: &Keys, token: &str, challenge: &Challenge) -> bool {
        match (self.link, &challenge.link_hash) {
            (Some(purpose), Some(stored)) => keys.verify_keyed_hash(purpose, token, stored),
            _ => false,
        }
    }
}

/// A new challenge and the secrets to send (never stored).
#[derive(Debug, Clone)]
pub struct Issued {
    pub challenge: Challenge,
    pub code: String,
    pub link_token: Option<String>,
}

fn code_subject(subject: &str, code: &str) -> String {
    format!("{subject}:{code}")
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::domain::challenge::{Answered, ChallengeState, link_token_id};

    fn keys() -> Keys {
        Keys::derive(b"0123456789abcdef0123456789abcdef", "portico", "portico-api")
    }

    #[test]
    fn an_issued_challenge_answers_to_its_code_and_link_only() {
        let keys = keys();
        let now = Utc::now();
        let id = Ulid::generate();
        let kind = ChallengeKind::DEVICE_CONFIRMATION;
        let issued = kind.issue(&keys, &id.to_string(), id, now);
        let challenge = &issued.challenge;
        assert_eq!((challenge.attempts, challenge.max_attempts), (0, 5));
        assert_eq!(challenge.expires_at, now + Duration::minutes(15));
        assert_eq!(challenge.state(now), ChallengeState::Open);
        assert_eq!(issued.code.len(), 6);
        assert!(kind.code_matches(&keys, &id.to_string(), &issued.code, challenge));
        assert!(!kind.code_matches(&keys, &Ulid::generate().to_string(), &issued.code, challenge));
        let other = if issued.code == "000000" { "111111" } else { "000000" };
        assert!(!kind.code_matches(&keys, &id.to_string(), other, challenge));
        let token = issued.link_token.as_deref().expect("a link");
        assert_eq!(link_token_id(token), Some(id));
        assert!(kind.link_matches(&keys, token, challenge));
        assert!(!kind.link_matches(&keys, &format!("{token}x"), challenge));
        // A code of one kind never answers another.
        assert!(!ChallengeKind::EMAIL_VERIFICATION.code_matches(
            &keys,
            &id.to_string(),
            &issued.code,
            challenge
        ));
        assert!(!ChallengeKind::EMAIL_VERIFICATION.link_matches(&keys, token, challenge));
        assert_eq!(challenge.proof(Answered::Link), challenge.link_hash.as_deref());
    }

    #[test]
    fn a_code_only_kind_has_no_link() {
        let keys = keys();
        let issued = ChallengeKind::EMAIL_CHANGE.issue(&keys, "subject", Ulid::generate(), Utc::now());
        assert_eq!((issued.link_token, issued.challenge.link_hash.as_deref()), (None, None));
        assert!(!ChallengeKind::EMAIL_CHANGE.link_matches(&keys, "anything", &issued.challenge));
    }

    #[test]
    fn typed_codes_are_checked_for_shape() {
        let kind = ChallengeKind::EMAIL_CHANGE;
        assert_eq!(kind.read_code("012345"), Ok("012345".to_owned()));
        assert_eq!(kind.read_code("01234"), Err("must be 6 digits".to_owned()));
    }

    #[test]
    fn hashes_stay_compatible_with_challenges_already_issued() {
        // Stored before the module existed: keyed_hash(purpose, "<subject>:<code>").
        let keys = keys();
        let stored = keys.keyed_hash(HashPurpose::EmailChangeCode, "A:b@example.com:123456");
        let challenge = Challenge::new(ChallengeRules::EMAIL_CHANGE, stored, None, Utc::now());
        assert!(ChallengeKind::EMAIL_CHANGE.code_matches(&keys, "A:b@example.com", "123456", &challenge));
    }
}
