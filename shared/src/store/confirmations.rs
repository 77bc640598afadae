//! Device confirmations: a sign-in from an unknown device waits for the mailed code (typed on
//! that device) or link (opened anywhere) before the device is trusted.

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::accounts::ChallengeProof;
use super::keys::{self, PK, SK, TTL};
use super::sessions::{Session, TrustedDevice};
use super::{Store, StoreError, Stored, WriteSet, condition_held, n, s, stored_value};
use crate::domain::challenge::{Challenge, MAX_CODE_ATTEMPTS};

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

#[derive(Serialize, Deserialize)]
struct ConfirmationItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity: String,
    id: Ulid,
    account_id: Ulid,
    device_hash: String,
    label: String,
    trust_version: u64,
    code_hash: String,
    link_hash: String,
    #[serde(with = "crate::time::rfc3339")]
    expires_at: DateTime<Utc>,
    attempts: u32,
    ttl: i64,
}

impl Store {
    #[tracing::instrument(skip_all, fields(confirmation_id = %confirmation.id))]
    pub async fn create_device_confirmation(
        &self,
        confirmation: &DeviceConfirmation,
    ) -> Result<(), StoreError> {
        let (pk, sk) = keys::device_confirmation(confirmation.id);
        let item = ConfirmationItem {
            pk,
            sk,
            entity: "device_confirmation".into(),
            id: confirmation.id,
            account_id: confirmation.account_id,
            device_hash: confirmation.device_hash.clone(),
            label: confirmation.label.clone(),
            trust_version: confirmation.trust_version,
            code_hash: confirmation.challenge.code_hash.clone(),
            link_hash: confirmation.challenge.link_hash.clone(),
            expires_at: confirmation.challenge.expires_at,
            attempts: confirmation.challenge.attempts,
            ttl: confirmation.challenge.expires_at.timestamp(),
        };
        self.put_new(item).await?;
        Ok(())
    }

    pub async fn device_confirmation(&self, id: Ulid) -> Result<Option<DeviceConfirmation>, StoreError> {
        let Some(item) = self.get_item(keys::device_confirmation(id)).await? else { return Ok(None) };
        let item: ConfirmationItem = serde_dynamo::from_item(item)?;
        Ok(Some(DeviceConfirmation {
            id: item.id,
            account_id: item.account_id,
            device_hash: item.device_hash,
            label: item.label,
            trust_version: item.trust_version,
            challenge: Challenge {
                code_hash: item.code_hash,
                link_hash: item.link_hash,
                expires_at: item.expires_at,
                attempts: item.attempts,
            },
        }))
    }

    /// Counts a wrong code, capped at the maximum.
    pub async fn count_failed_confirmation_code(&self, id: Ulid) -> Result<(), StoreError> {
        self.count_failed_attempt(keys::device_confirmation(id)).await
    }

    /// Spends the confirmation and trusts its device (and, when confirmed by code on that
    /// device, starts `session`) in one transaction: of concurrent confirmations exactly one
    /// succeeds. `false` when the proof no longer holds (spent, locked, expired).
    #[tracing::instrument(skip_all, fields(confirmation_id = %confirmation.id))]
    pub async fn confirm_device(
        &self,
        confirmation: &DeviceConfirmation,
        proof: &ChallengeProof,
        device: &TrustedDevice,
        session: Option<&Session>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (pk, sk) = keys::device_confirmation(confirmation.id);
        let (attribute, hash) = match proof {
            ChallengeProof::Code { hash } => ("code_hash", hash),
            ChallengeProof::Link { hash } => ("link_hash", hash),
        };
        let spend = Delete::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .condition_expression("#proof = :hash AND attempts < :max AND #ttl > :now")
            .expression_attribute_names("#proof", attribute)
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":hash", s(hash.as_str()))
            .expression_attribute_values(":max", n(MAX_CODE_ATTEMPTS))
            .expression_attribute_values(":now", n(now.timestamp()))
            .build()?;
        let mut items = WriteSet::new()
            .with("confirmation", TransactWriteItem::builder().delete(spend).build())
            .with("device", self.device_put(confirmation.account_id, device)?);
        if let Some(session) = session {
            items.add("session", self.session_put(session)?);
        }
        match self.commit(items).await {
            Ok(()) => Ok(true),
            Err(error) if error.failed("confirmation") => Ok(false),
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
