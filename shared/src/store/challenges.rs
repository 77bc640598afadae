//! Challenges (see `domain::challenge`) as items: one codec for every kind, the capped
//! wrong-try counter, and the write-set item that spends a challenge in the write it authorises.

use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::keys::{self, PK, SK, TTL};
use super::{Item, Store, StoreError, Stored, condition_held, n, s, stored_value};
use crate::domain::challenge::{Answered, Challenge, MAX_CODE_ATTEMPTS};

/// The name of a challenge's item in a write set: `error.failed(SPEND)` says the challenge was
/// spent, replaced, locked or expired meanwhile.
pub const SPEND: &str = "challenge";

/// Where a challenge is stored: one item per pending challenge, keyed by what it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChallengeAt {
    /// The account's e-mail verification (a new one replaces the older).
    EmailVerification(Ulid),
    /// A device confirmation, by its own id.
    DeviceConfirmation(Ulid),
    /// The account's pending e-mail change (a new one replaces the older).
    EmailChange(Ulid),
    /// An OTP-guarded record change, by the challenge's id.
    Otp(Ulid),
}

impl ChallengeAt {
    fn key(self) -> keys::Key {
        match self {
            Self::EmailVerification(account_id) => keys::email_verification(account_id),
            Self::DeviceConfirmation(id) => keys::device_confirmation(id),
            Self::EmailChange(account_id) => keys::email_change(account_id),
            Self::Otp(id) => keys::otp_challenge(id),
        }
    }

    fn entity(self) -> &'static str {
        match self {
            Self::EmailVerification(_) => "email_verification",
            Self::DeviceConfirmation(_) => "device_confirmation",
            Self::EmailChange(_) => "email_change",
            Self::Otp(_) => "otp_challenge",
        }
    }
}

/// A challenge's stored fields, beside the fields of what it is about (`T`).
#[derive(Serialize, Deserialize)]
struct Pending<T> {
    code_hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    link_hash: Option<String>,
    #[serde(with = "crate::time::rfc3339")]
    expires_at: DateTime<Utc>,
    attempts: u32,
    /// Items written before the limit was stored had the one limit there was.
    #[serde(default = "default_max_attempts")]
    max_attempts: u32,
    #[serde(flatten)]
    about: T,
}

fn default_max_attempts() -> u32 {
    MAX_CODE_ATTEMPTS
}

/// The challenge stored in `item` and what it is about (a challenge item read in a batch).
pub(super) fn decode_challenge<T: DeserializeOwned>(item: Item) -> Result<(Challenge, T), StoreError> {
    let pending: Pending<T> = stored_value(item)?;
    let challenge = Challenge {
        code_hash: pending.code_hash,
        link_hash: pending.link_hash,
        expires_at: pending.expires_at,
        attempts: pending.attempts,
        max_attempts: pending.max_attempts,
    };
    Ok((challenge, pending.about))
}

/// Nothing beside the challenge (`T` of a challenge that is about its key alone).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct Bare {}

impl Store {
    /// `challenge` at `at` as an item (for `put`, `put_new`), with `about`'s fields beside it;
    /// DynamoDB may drop it once expired (code checks expiry itself).
    pub(super) fn challenge_item<T: Serialize>(
        at: ChallengeAt,
        challenge: &Challenge,
        about: T,
    ) -> impl Serialize {
        let pending = Pending {
            code_hash: challenge.code_hash.clone(),
            link_hash: challenge.link_hash.clone(),
            expires_at: challenge.expires_at,
            attempts: challenge.attempts,
            max_attempts: challenge.max_attempts,
            about,
        };
        Stored::item(at.key(), at.entity(), pending).expiring(challenge.expires_at)
    }

    /// A write-set put of `challenge` at `at`, replacing any challenge there (a new code
    /// invalidates the older one).
    pub(super) fn challenge_put<T: Serialize>(
        &self,
        at: ChallengeAt,
        challenge: &Challenge,
        about: T,
    ) -> Result<TransactWriteItem, StoreError> {
        let item = serde_dynamo::to_item(Self::challenge_item(at, challenge, about))?;
        let put = Put::builder().table_name(self.table()).set_item(Some(item)).build()?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// The challenge at `at` and what it is about (strongly consistent).
    pub(super) async fn read_challenge<T: DeserializeOwned>(
        &self,
        at: ChallengeAt,
    ) -> Result<Option<(Challenge, T)>, StoreError> {
        self.get_item(at.key()).await?.map(decode_challenge).transpose()
    }

    /// Counts a wrong try at `challenge` (as read) at `at`. The condition caps the counter at
    /// the limit, so concurrent guesses can't pass it, and counts only against the challenge
    /// that was judged: a spent or replaced one is left alone.
    #[tracing::instrument(skip_all, fields(entity = at.entity()))]
    pub async fn count_wrong_try(&self, at: ChallengeAt, challenge: &Challenge) -> Result<(), StoreError> {
        let result = self
            .update_at(at.key())
            .update_expression("ADD attempts :one")
            .condition_expression("code_hash = :hash AND attempts < :max")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":hash", s(challenge.code_hash.as_str()))
            .expression_attribute_values(":max", n(challenge.max_attempts))
            .send()
            .await;
        condition_held(result).map(|_| ())
    }

    /// The write-set item (name it `SPEND`) that spends `challenge` (as read) at `at`, answered
    /// by `part`: it deletes the item only while the answered part's hash is the one read, the
    /// challenge is under its limit and unexpired, so of concurrent answers exactly one wins.
    pub(super) fn challenge_spend(
        &self,
        at: ChallengeAt,
        challenge: &Challenge,
        part: Answered,
        now: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        let hash = challenge.proof(part).ok_or(StoreError::Malformed("the challenge has no link"))?;
        let attribute = match part {
            Answered::Code => "code_hash",
            Answered::Link => "link_hash",
        };
        let (pk, sk) = at.key();
        let spend = Delete::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .condition_expression("#proof = :hash AND attempts < :max AND #ttl > :now_epoch")
            .expression_attribute_names("#proof", attribute)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":hash", s(hash))
            .expression_attribute_values(":max", n(challenge.max_attempts))
            .expression_attribute_values(":now_epoch", n(now.timestamp()))
            .build()?;
        Ok(TransactWriteItem::builder().delete(spend).build())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::domain::challenge::ChallengeRules;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct About {
        account_id: Ulid,
        trust_version: u64,
    }

    fn challenge() -> Challenge {
        let now = crate::time::now();
        Challenge::new(ChallengeRules::DEVICE_CONFIRMATION, "code".into(), Some("link".into()), now)
    }

    #[test]
    fn items_keep_their_key_entity_attributes_and_ttl() {
        let challenge = challenge();
        let about = About { account_id: Ulid::generate(), trust_version: 7 };
        let at = ChallengeAt::DeviceConfirmation(Ulid::generate());
        let item: super::super::Item =
            serde_dynamo::to_item(Store::challenge_item(at, &challenge, &about)).expect("item");
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        let number = |name: &str| item.get(name).and_then(|v| v.as_n().ok()).cloned();
        assert_eq!((text(PK), text(SK)), (Some(at.key().0), Some(at.key().1)));
        assert_eq!(text("entity").as_deref(), Some("device_confirmation"));
        assert_eq!(text("code_hash").as_deref(), Some("code"));
        assert_eq!(text("link_hash").as_deref(), Some("link"));
        assert_eq!(text("expires_at"), Some(crate::time::format(challenge.expires_at)));
        assert_eq!(number("attempts").as_deref(), Some("0"));
        assert_eq!(number("max_attempts").as_deref(), Some("5"));
        assert_eq!(number(TTL), Some(challenge.expires_at.timestamp().to_string()));
        assert_eq!(number("trust_version").as_deref(), Some("7"));

        let pending: Pending<About> = stored_value(item).expect("decodes");
        assert_eq!(pending.about, about);
        assert_eq!((pending.attempts, pending.max_attempts), (0, 5));
        assert_eq!(pending.expires_at, challenge.expires_at);
    }

    #[test]
    fn items_written_before_the_module_decode() {
        // An e-mail change item as the old codec wrote it: no link, no stored limit.
        let at = ChallengeAt::EmailChange(Ulid::generate());
        let expires = crate::time::now() + Duration::hours(1);
        let (pk, sk) = at.key();
        let item: super::super::Item = [
            (PK, s(pk)),
            (SK, s(sk)),
            ("entity", s("email_change")),
            ("new_email", s("new@example.com")),
            ("code_hash", s("hash")),
            ("expires_at", s(crate::time::format(expires))),
            ("attempts", n(2)),
            (TTL, n(expires.timestamp())),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        #[derive(Deserialize)]
        struct Change {
            new_email: String,
        }
        let pending: Pending<Change> = stored_value(item).expect("decodes");
        assert_eq!(pending.about.new_email, "new@example.com");
        assert_eq!((pending.link_hash, pending.attempts, pending.max_attempts), (None, 2, MAX_CODE_ATTEMPTS));
    }
}
