//! One-time challenges sent by mail (e-mail verification now; device confirmation later): a
//! short code to type and a link token, both stored only as keyed hashes.

use chrono::{DateTime, Duration, Utc};

/// Wrong codes allowed before the challenge locks and a new one must be requested.
pub const MAX_CODE_ATTEMPTS: u32 = 5;
pub const EMAIL_VERIFICATION_TTL: Duration = Duration::hours(24);
pub const EMAIL_CODE_DIGITS: usize = 6;
pub const DEVICE_CONFIRMATION_TTL: Duration = Duration::minutes(15);
pub const PASSWORD_RESET_TTL: Duration = Duration::minutes(30);
pub const EMAIL_CHANGE_TTL: Duration = Duration::hours(1);
/// A "not me" link works for a week: people read mail late.
pub const NOT_ME_TTL: Duration = Duration::days(7);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub code_hash: String,
    pub link_hash: String,
    pub expires_at: DateTime<Utc>,
    pub attempts: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeState {
    Open,
    Expired,
    Locked,
}

impl Challenge {
    pub fn state(&self, now: DateTime<Utc>) -> ChallengeState {
        if now >= self.expires_at {
            ChallengeState::Expired
        } else if self.attempts >= MAX_CODE_ATTEMPTS {
            ChallengeState::Locked
        } else {
            ChallengeState::Open
        }
    }
}

/// A link token names what it confirms (an account, a device confirmation) so it can be looked
/// up without an index: `<id>.<random>`.
pub fn link_token(id: ulid::Ulid, random: &str) -> String {
    format!("{id}.{random}")
}

/// The id a link token names, if it has the right shape.
pub fn link_token_id(token: &str) -> Option<ulid::Ulid> {
    let (account, random) = token.split_once('.')?;
    if random.is_empty() {
        return None;
    }
    ulid::Ulid::from_string(account).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(attempts: u32, expires_in: Duration) -> Challenge {
        Challenge {
            code_hash: "c".into(),
            link_hash: "l".into(),
            expires_at: Utc::now() + expires_in,
            attempts,
        }
    }

    #[test]
    fn states() {
        let now = Utc::now();
        assert_eq!(challenge(0, Duration::minutes(5)).state(now), ChallengeState::Open);
        assert_eq!(challenge(4, Duration::minutes(5)).state(now), ChallengeState::Open);
        assert_eq!(challenge(5, Duration::minutes(5)).state(now), ChallengeState::Locked);
        assert_eq!(challenge(0, Duration::minutes(-1)).state(now), ChallengeState::Expired);
    }

    #[test]
    fn link_tokens_name_their_account() {
        let id = ulid::Ulid::generate();
        assert_eq!(link_token_id(&link_token(id, "abc")), Some(id));
        assert_eq!(link_token_id("nonsense"), None);
        assert_eq!(link_token_id(&format!("{id}.")), None);
        assert_eq!(link_token_id("01ARZ3NDEKTSV4RRFFQ69G5FA?.abc"), None);
    }
}
