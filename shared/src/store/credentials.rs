//! Credential changes: password reset tokens, new passwords, e-mail changes. Every credential change
//! raises the account's trust version in the same transaction, so refresh tokens, trusted
//! devices and device confirmations of the older version stop working.

use aws_sdk_dynamodb::types::builders::UpdateBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::accounts::LoginItem;
use super::challenges::{ChallengeAt, SPEND, decode_challenge};
use super::keys::{self, PK, SK, TTL};
use super::sessions::{Session, TrustedDevice};
use super::{Store, StoreError, Stored, WriteSet, n, s, stored_value};
use crate::domain::account::PasswordHash;
use crate::domain::challenge::{Answered, Challenge};
use crate::domain::{Account, Email};

/// A pending password reset: only the keyed hash of its token is stored. It is bound to the
/// credentials it was issued for (trust version and address): a new password or address made
/// meanwhile kills it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordReset {
    pub token_hash: String,
    #[serde(with = "crate::time::rfc3339")]
    pub expires_at: DateTime<Utc>,
    /// The credentials it was issued for (absent on resets from before the binding: refused).
    #[serde(default)]
    pub trust_version: Option<u64>,
    #[serde(default)]
    pub email: Option<Email>,
}

impl PasswordReset {
    /// Whether the reset still belongs to `account` as it is now.
    pub fn binds(&self, account: &Account) -> bool {
        self.trust_version == Some(account.trust_version) && self.email.as_ref() == Some(&account.email)
    }
}

/// How a new password is authorised.
#[derive(Debug, Clone)]
pub enum PasswordProof<'a> {
    /// A reset token, spent by this write.
    ResetToken { hash: &'a str },
    /// The current password was checked; the account must still be at this trust version.
    CurrentPassword,
}

impl Store {
    /// Replaces any pending reset of the account (a new mail invalidates the older link).
    pub async fn put_password_reset(
        &self,
        account_id: Ulid,
        reset: &PasswordReset,
    ) -> Result<(), StoreError> {
        let key = keys::password_reset(account_id);
        self.put(Stored::item(key, "password_reset", reset).expiring(reset.expires_at)).await?;
        Ok(())
    }

    /// The account and its pending reset, in one BatchGetItem.
    pub async fn account_with_password_reset(
        &self,
        account_id: Ulid,
    ) -> Result<(Option<Account>, Option<PasswordReset>), StoreError> {
        let (account, reset) = self.account_with_item(account_id, keys::password_reset(account_id)).await?;
        Ok((account, reset.map(stored_value).transpose()?))
    }

    /// Sets `account`'s password and raises its trust version, on the account and its login
    /// item, spending the reset token in the same transaction when that is the proof. With
    /// `device` and `session`, the current device is trusted at the new version and a new
    /// session starts on it. `false` when the proof no longer holds (token spent or expired,
    /// or the account changed meanwhile).
    #[tracing::instrument(skip_all, fields(account_id = %account.id))]
    pub async fn set_password(
        &self,
        account: &Account,
        new_hash: &PasswordHash,
        proof: PasswordProof<'_>,
        continue_on: Option<(&TrustedDevice, &Session)>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let next_version = account.trust_version + 1;
        let mut items = WriteSet::new();
        if let PasswordProof::ResetToken { hash } = proof {
            let (pk, sk) = keys::password_reset(account.id);
            let spend = Delete::builder()
                .table_name(self.table())
                .key(PK, s(pk))
                .key(SK, s(sk))
                .condition_expression("token_hash = :hash AND #ttl > :now")
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_values(":hash", s(hash))
                .expression_attribute_values(":now", n(now.timestamp()))
                .build()?;
            items.add("reset", TransactWriteItem::builder().delete(spend).build());
        }
        let account_update = self
            .trust_raise(account, "password_hash = :hash, ", now)
            .expression_attribute_values(":hash", s(new_hash.as_str()))
            .build()?;
        let login_update = self
            .login_copy_update(account)
            .update_expression(
                "SET password_hash = :hash, trust_version = :next, fail_count = :zero REMOVE password_reset_required",
            )
            .expression_attribute_values(":hash", s(new_hash.as_str()))
            .expression_attribute_values(":next", n(next_version))
            .expression_attribute_values(":zero", n(0))
            .build()?;
        items
            .add("account", TransactWriteItem::builder().update(account_update).build())
            .add("login", TransactWriteItem::builder().update(login_update).build());
        if let Some((device, session)) = continue_on {
            items
                .add("device", self.device_put(account.id, device)?)
                .add("session", self.session_put(session)?);
        }
        match self.commit(items).await {
            Ok(()) => Ok(true),
            Err(StoreError::Cancelled(_)) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// "Not me": raises `account`'s trust version (its trusted devices, refresh tokens and
    /// mailed links stop working) and refuses its password until a reset sets a new one, on the
    /// account and its login item together. `false` when the account changed meanwhile.
    #[tracing::instrument(skip_all, fields(account_id = %account.id))]
    pub async fn distrust_credentials(
        &self,
        account: &Account,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let next_version = account.trust_version + 1;
        let account_update = self.trust_raise(account, "", now).build()?;
        let login_update = self
            .login_copy_update(account)
            .update_expression("SET trust_version = :next, password_reset_required = :yes")
            .expression_attribute_values(":next", n(next_version))
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .build()?;
        let items = WriteSet::new()
            .with("account", TransactWriteItem::builder().update(account_update).build())
            .with("login", TransactWriteItem::builder().update(login_update).build());
        match self.commit(items).await {
            Ok(()) => Ok(true),
            Err(StoreError::Cancelled(_)) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// An update of `account` that raises its trust version by one (`:next`) if it is still the
    /// one read, stamps `updated_at` and sets `set` too (`"password_hash = :hash, "`).
    fn trust_raise(&self, account: &Account, set: &str, now: DateTime<Utc>) -> UpdateBuilder {
        let (pk, sk) = keys::account(account.id);
        Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression(format!("SET {set}trust_version = :next, updated_at = :now"))
            .condition_expression(
                "attribute_exists(PK) AND (attribute_not_exists(trust_version) OR trust_version = :current)",
            )
            .expression_attribute_values(":next", n(account.trust_version + 1))
            .expression_attribute_values(":current", n(account.trust_version))
            .expression_attribute_values(":now", s(crate::time::format(now)))
    }

    /// Ends every session of the account except `keep`.
    pub async fn end_sessions_except(
        &self,
        account_id: Ulid,
        keep: Option<Ulid>,
    ) -> Result<usize, StoreError> {
        let mut ended = 0;
        for session in self.sessions(account_id).await? {
            if Some(session.session_id) != keep {
                self.end_session(account_id, session.session_id).await?;
                ended += 1;
            }
        }
        Ok(ended)
    }

    /// Re-stamps every trusted device of the account with `trust_version` (kept across a reset
    /// when the policy says so).
    pub async fn keep_devices(&self, account_id: Ulid, trust_version: u64) -> Result<(), StoreError> {
        for device in self.devices(account_id).await? {
            let (pk, sk) = keys::device(account_id, &device.device_hash);
            self.update_at((pk, sk))
                .update_expression("SET trust_version = :version")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_values(":version", n(trust_version))
                .send()
                .await?;
        }
        Ok(())
    }
}

/// A requested e-mail change, waiting for the code mailed to the new address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailChange {
    pub new_email: Email,
    pub challenge: Challenge,
}

/// What an e-mail change is about, stored beside its challenge.
#[derive(Serialize, Deserialize)]
struct EmailChangeAbout {
    new_email: Email,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailChangeOutcome {
    Changed,
    /// Another account holds the new address now; nothing was written.
    AddressTaken,
    /// The code was spent, locked or expired, or the account changed meanwhile.
    Stale,
}

impl Store {
    /// Replaces any pending e-mail change of the account.
    pub async fn put_email_change(&self, account_id: Ulid, change: &EmailChange) -> Result<(), StoreError> {
        let about = EmailChangeAbout { new_email: change.new_email.clone() };
        self.put(Self::challenge_item(ChallengeAt::EmailChange(account_id), &change.challenge, about)).await
    }

    /// The account and its pending e-mail change, in one BatchGetItem.
    pub async fn account_with_email_change(
        &self,
        account_id: Ulid,
    ) -> Result<(Option<Account>, Option<EmailChange>), StoreError> {
        let (account, item) = self.account_with_item(account_id, keys::email_change(account_id)).await?;
        let change = item
            .map(decode_challenge::<EmailChangeAbout>)
            .transpose()?
            .map(|(challenge, about)| EmailChange { new_email: about.new_email, challenge });
        Ok((account, change))
    }

    /// Moves `account` to the pending change's address in one transaction: the code is spent,
    /// the login item (the uniqueness guard) moves to the new address — which must be free —
    /// and the account takes the new address and a raised trust version. With `continue_on`,
    /// the current device stays trusted at the new version with a new session.
    #[tracing::instrument(skip_all, fields(account_id = %account.id))]
    pub async fn change_email(
        &self,
        account: &Account,
        change: &EmailChange,
        continue_on: Option<(&TrustedDevice, &Session)>,
        now: DateTime<Utc>,
    ) -> Result<EmailChangeOutcome, StoreError> {
        let next_version = account.trust_version + 1;
        let at = ChallengeAt::EmailChange(account.id);
        let spend = self.challenge_spend(at, &change.challenge, Answered::Code, now)?;
        let moved =
            Account { email: change.new_email.clone(), trust_version: next_version, ..account.clone() };
        let new_login = self.put_if_absent(serde_dynamo::to_item(LoginItem::from(&moved))?)?;
        let (pk, sk) = keys::login(&account.email);
        let old_login = Delete::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .condition_expression("account_id = :account")
            .expression_attribute_values(":account", s(account.id.to_string()))
            .build()?;
        let (pk, sk) = keys::account(account.id);
        let account_update = Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression("SET email = :new, GSI4SK = :search, trust_version = :next, updated_at = :now")
            .condition_expression(
                "email = :old AND (attribute_not_exists(trust_version) OR trust_version = :current)",
            )
            .expression_attribute_values(":new", s(change.new_email.as_str()))
            .expression_attribute_values(":search", s(keys::account_by_email(&change.new_email)))
            .expression_attribute_values(":old", s(account.email.as_str()))
            .expression_attribute_values(":next", n(next_version))
            .expression_attribute_values(":current", n(account.trust_version))
            .expression_attribute_values(":now", s(crate::time::format(now)))
            .build()?;
        let mut items = WriteSet::new()
            .with(SPEND, spend)
            .with("new_login", new_login)
            .with("old_login", TransactWriteItem::builder().delete(old_login).build())
            .with("account", TransactWriteItem::builder().update(account_update).build());
        if let Some((device, session)) = continue_on {
            items
                .add("device", self.device_put(account.id, device)?)
                .add("session", self.session_put(session)?);
        }
        match self.commit(items).await {
            Ok(()) => Ok(EmailChangeOutcome::Changed),
            Err(error) if error.failed("new_login") => Ok(EmailChangeOutcome::AddressTaken),
            Err(StoreError::Cancelled(_)) => Ok(EmailChangeOutcome::Stale),
            Err(error) => Err(error),
        }
    }
}
