//! Device confirmations: a sign-in from an unknown device waits for the mailed code (typed on
//! that device) or link (opened anywhere) before the device is trusted.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::challenges::{ChallengeAt, SPEND};
use super::keys::{self, TTL};
use super::sessions::{Session, TrustedDevice};
use super::{Store, StoreError, Stored, WriteSet, condition_held, n, s, stored_value};
use crate::domain::challenge::{Answered, Challenge};

#[derive(Debug, Clone, PartialEq)]
pub struct DeviceConfirmation {
    pub id: Ulid,
    pub account_id: Ulid,
    pub device_hash: String,
    pub label: String,
    /// The account's trust version when the confirmation was asked for.
    pub trust_version: u64,
    pub challenge: Challenge,
}

/// What a device confirmation is about, stored beside its challenge.
#[derive(Serialize, Deserialize)]
struct ConfirmationAbout {
    id: Ulid,
    account_id: Ulid,
    device_hash: String,
    label: String,
    trust_version: u64,
}

impl Store {
    #[tracing::instrument(skip_all, fields(confirmation_id = %confirmation.id))]
    pub async fn create_device_confirmation(
        &self,
        confirmation: &DeviceConfirmation,
    ) -> Result<(), StoreError> {
        let about = ConfirmationAbout {
            id: confirmation.id,
            account_id: confirmation.account_id,
            device_hash: confirmation.device_hash.clone(),
            label: confirmation.label.clone(),
            trust_version: confirmation.trust_version,
        };
        let at = ChallengeAt::DeviceConfirmation(confirmation.id);
        self.put_new(Self::challenge_item(at, &confirmation.challenge, about)).await
    }

    pub async fn device_confirmation(&self, id: Ulid) -> Result<Option<DeviceConfirmation>, StoreError> {
        let read = self.read_challenge::<ConfirmationAbout>(ChallengeAt::DeviceConfirmation(id)).await?;
        Ok(read.map(|(challenge, about)| DeviceConfirmation {
            id: about.id,
            account_id: about.account_id,
            device_hash: about.device_hash,
            label: about.label,
            trust_version: about.trust_version,
            challenge,
        }))
    }

    /// Spends the confirmation and trusts its device (and, when confirmed by code on that
    /// device, starts `session`) in one transaction: of concurrent confirmations exactly one
    /// succeeds. `false` when the proof no longer holds (spent, locked, expired).
    #[tracing::instrument(skip_all, fields(confirmation_id = %confirmation.id))]
    pub async fn confirm_device(
        &self,
        confirmation: &DeviceConfirmation,
        answered: Answered,
        device: &TrustedDevice,
        session: Option<&Session>,
        also: WriteSet,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let at = ChallengeAt::DeviceConfirmation(confirmation.id);
        let mut items = WriteSet::new()
            .with(SPEND, self.challenge_spend(at, &confirmation.challenge, answered, now)?)
            .with("device", self.device_put(confirmation.account_id, device)?);
        if let Some(session) = session {
            items.add("session", self.session_put(session)?);
        }
        items.append(also);
        match self.commit(items).await {
            Ok(()) => Ok(true),
            Err(error) if error.failed(SPEND) => Ok(false),
            Err(error) => Err(error),
        }
    }
}

/// A "not me" link from a device mail: once confirmed, it revokes the device and every
/// session, and starts a password reset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotMe {
    pub id: Ulid,
    pub account_id: Ulid,
    pub device_hash: String,
    /// The device confirmation the mail asked for, if any (it is withdrawn too).
    pub confirmation_id: Option<Ulid>,
    pub token_hash: String,
    #[serde(with = "crate::time::rfc3339")]
    pub expires_at: DateTime<Utc>,
}

impl Store {
    pub async fn put_not_me(&self, not_me: &NotMe) -> Result<(), StoreError> {
        self.put_new(Stored::item(keys::not_me(not_me.id), "not_me", not_me).expiring(not_me.expires_at))
            .await?;
        Ok(())
    }

    pub async fn not_me(&self, id: Ulid) -> Result<Option<NotMe>, StoreError> {
        self.get_item(keys::not_me(id)).await?.map(stored_value).transpose()
    }

    /// Spends the link (single use); `false` if it was spent or expired meanwhile.
    pub async fn spend_not_me(&self, not_me: &NotMe, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let result = self
            .delete_at(keys::not_me(not_me.id))
            .condition_expression("token_hash = :hash AND #ttl > :now")
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":hash", s(not_me.token_hash.as_str()))
            .expression_attribute_values(":now", n(now.timestamp()))
            .send()
            .await;
        condition_held(result)
    }

    /// Withdraws a pending device confirmation.
    pub async fn delete_device_confirmation(&self, id: Ulid) -> Result<(), StoreError> {
        self.delete_item(keys::device_confirmation(id)).await
    }
}
