//! OTP challenges (issue 14): the one-time password that unlocks one guarded record change.
//!
//! Two items: the challenge (`OTP_CHALLENGE#<id>`), which holds the pending change, the code's
//! keyed hash and its counters, and stays as the evidence once verified; and the open-challenge
//! pointer in the record's partition (`RECORD#<module>#<id>` / `OTP#<agent>`), by which the same
//! change asked again by the same agent finds its challenge instead of sending a new code.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_dynamodb::types::{Delete, Put, ReturnValue, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as JsonValue};
use ulid::Ulid;

use super::challenges::ChallengeAt;
use super::keys::{self, PK, SK, TTL};
use super::{Store, StoreError, Stored, WriteSet, condition_held, n, s, stored_value};
use crate::domain::Locale;
use crate::domain::challenge::Challenge;
use crate::domain::otp::{Channel, CodeOptions, SendMode};

/// Write-set names of the verify transaction's OTP items.
pub const SPEND: &str = "challenge";
pub const POINTER: &str = "otp_pointer";

/// Whether the challenge still waits for its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OtpStatus {
    Pending,
    /// Spent: the change was applied. The item stays as the evidence.
    Verified,
}

/// The last attempt to deliver a code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendRecord {
    pub channel: Channel,
    pub recipient_hint: String,
    #[serde(with = "crate::time::rfc3339")]
    pub at: DateTime<Utc>,
    /// `true` when the provider accepted it.
    pub delivered: bool,
}

/// What an OTP challenge is about, beside the code's hash and counters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OtpChallenge {
    pub id: Ulid,
    /// The rule whose settings the challenge follows.
    pub rule_id: Ulid,
    /// Every rule the change tripped (`rule_id` among them), all unlocked by the code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unlocks: Vec<Ulid>,
    pub module: String,
    pub record_id: Ulid,
    /// The staff member who asked for the change: the only one the code works for.
    pub agent_id: Ulid,
    /// The record version the change applies to.
    pub version: u64,
    /// The pending change, field → value as the API writes it (normalized).
    pub change: Map<String, JsonValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<Ulid>,
    /// The code's shape, limits and lifetime, copied from the rule when the change was asked.
    pub otp: CodeOptions,
    /// Each usable channel's recipient, in the rule's order of preference.
    pub recipients: Vec<(Channel, String)>,
    pub locale: Locale,
    pub send_mode: SendMode,
    pub status: OtpStatus,
    /// Codes issued (the first send included); resends are `issued - 1`.
    pub issued: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_send: Option<SendRecord>,
    #[serde(with = "crate::time::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::time::rfc3339_option")]
    pub verified_at: Option<DateTime<Utc>>,
}

impl OtpChallenge {
    /// The rules a right code unlocks.
    pub fn unlocked_rules(&self) -> Vec<Ulid> {
        if self.unlocks.is_empty() { vec![self.rule_id] } else { self.unlocks.clone() }
    }

    pub fn resends_left(&self) -> u32 {
        (self.otp.max_resends + 1).saturating_sub(self.issued.max(1))
    }
}

/// The open-challenge pointer: which challenge a change of the agent's is waiting on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenChallenge {
    pub challenge_id: Ulid,
    #[serde(with = "crate::time::rfc3339")]
    pub expires_at: DateTime<Utc>,
}

fn pointer_key(module: &str, record_id: Ulid, agent_id: Ulid) -> keys::Key {
    (keys::record(module, record_id).0, format!("OTP#{agent_id}"))
}

/// How long DynamoDB keeps a challenge past its expiry (and a pointer past its opening): an
/// expired challenge answers 410 and can be given a new code for that long, not 404.
const KEPT_AFTER_EXPIRY: chrono::Duration = chrono::Duration::days(1);

fn challenge_at(id: Ulid) -> ChallengeAt {
    ChallengeAt::Otp(id)
}

/// The challenge an UpdateItem returned (`ALL_NEW`), or `None` when its condition did not hold.
fn updated_challenge<E, R>(
    result: Result<UpdateItemOutput, SdkError<E, R>>,
) -> Result<Option<(Challenge, OtpChallenge)>, StoreError>
where
    StoreError: From<SdkError<E, R>>,
{
    match result.map_err(StoreError::from) {
        Ok(output) => {
            let item = output.attributes.ok_or(StoreError::Malformed("no attributes returned"))?;
            Ok(Some(super::challenges::decode_challenge(item)?))
        }
        Err(StoreError::ConditionFailed) => Ok(None),
        Err(error) => Err(error),
    }
}

impl Store {
    /// The challenge `id` with its code state, strongly consistent.
    pub async fn otp_challenge(&self, id: Ulid) -> Result<Option<(Challenge, OtpChallenge)>, StoreError> {
        self.read_challenge(challenge_at(id)).await
    }

    /// The challenge the agent's change of record `record_id` waits on, if any.
    pub async fn open_otp_challenge(
        &self,
        module: &str,
        record_id: Ulid,
        agent_id: Ulid,
    ) -> Result<Option<OpenChallenge>, StoreError> {
        self.get_item(pointer_key(module, record_id, agent_id)).await?.map(stored_value).transpose()
    }

    /// Stores a new challenge and points the agent's record at it, in one transaction; a
    /// challenge the pointer named before (another change of the same agent) is deleted, so its
    /// code dies. `false` when another request of the agent replaced the pointer meanwhile.
    pub async fn open_otp(
        &self,
        challenge: &Challenge,
        otp: &OtpChallenge,
        replaces: Option<Ulid>,
    ) -> Result<bool, StoreError> {
        let mut item: super::Item =
            serde_dynamo::to_item(Self::challenge_item(challenge_at(otp.id), challenge, otp))?;
        item.insert(TTL.into(), n((challenge.expires_at + KEPT_AFTER_EXPIRY).timestamp()));
        let mut set = WriteSet::new();
        set.add(SPEND, self.put_if_absent(item)?);
        let pointer = OpenChallenge { challenge_id: otp.id, expires_at: challenge.expires_at };
        let pointer = serde_dynamo::to_item(
            Stored::item(pointer_key(&otp.module, otp.record_id, otp.agent_id), "otp_pointer", pointer)
                .expiring(otp.created_at + KEPT_AFTER_EXPIRY),
        )?;
        // The pointer moves only from what was read: two racing requests can't both open.
        let mut put = Put::builder().table_name(self.table()).set_item(Some(pointer));
        put = match replaces {
            None => put.condition_expression("attribute_not_exists(PK)"),
            Some(old) => put
                .condition_expression("challenge_id = :old")
                .expression_attribute_values(":old", s(old.to_string())),
        };
        set.add(POINTER, TransactWriteItem::builder().put(put.build()?).build());
        if let Some(old) = replaces {
            let (pk, sk) = keys::otp_challenge(old);
            let delete = Delete::builder().table_name(self.table()).key(PK, s(pk)).key(SK, s(sk)).build()?;
            set.add("replaced", TransactWriteItem::builder().delete(delete).build());
        }
        match self.commit(set).await {
            Ok(()) => Ok(true),
            Err(error) if error.failed(POINTER) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Puts a new code on pending challenge `otp` whose code hash was `read_hash` (none yet:
    /// `""`), with its attempts reset, one more code issued and `send` as its last send (about
    /// to go out), if the rule's resends allow it; returns the challenge as stored, or `None`
    /// if it was answered, given another code or out of resends meanwhile.
    pub async fn reissue_otp(
        &self,
        otp: &OtpChallenge,
        read_hash: &str,
        fresh: &Challenge,
        send: &SendRecord,
    ) -> Result<Option<OtpChallenge>, StoreError> {
        let (pk, sk) = keys::otp_challenge(otp.id);
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression(
                "SET code_hash = :hash, expires_at = :expires, #ttl = :ttl, attempts = :zero, last_send = :send ADD issued :one",
            )
            .condition_expression("#status = :pending AND code_hash = :read AND issued <= :max_resends")
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":hash", s(fresh.code_hash.as_str()))
            .expression_attribute_values(":expires", s(crate::time::format(fresh.expires_at)))
            .expression_attribute_values(":ttl", n((fresh.expires_at + KEPT_AFTER_EXPIRY).timestamp()))
            .expression_attribute_values(":send", serde_dynamo::to_attribute_value(send)?)
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":read", s(read_hash))
            .expression_attribute_values(":max_resends", n(otp.otp.max_resends))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        Ok(updated_challenge(result)?.map(|(_, otp)| otp))
    }

    /// Records how the send of the code hashed to `code_hash` went, while that code is the
    /// challenge's and it is pending: a slow send never overwrites a newer one's record.
    pub async fn record_otp_send(
        &self,
        id: Ulid,
        code_hash: &str,
        send: &SendRecord,
    ) -> Result<(), StoreError> {
        let value = serde_dynamo::to_attribute_value(send)?;
        let result = self
            .update_at(keys::otp_challenge(id))
            .update_expression("SET last_send = :send")
            .condition_expression("#status = :pending AND code_hash = :hash")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":send", value)
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":hash", s(code_hash))
            .send()
            .await;
        condition_held(result).map(|_| ())
    }

    /// Counts one try at challenge `id` before its code is compared, so parallel guesses never
    /// check more codes than the limit allows: the counter grows only while under the limit,
    /// the challenge is pending and unexpired, and only for its agent. Returns the challenge as
    /// counted, or `None` when a condition failed (the caller reads it to say which).
    pub async fn count_otp_try(
        &self,
        id: Ulid,
        agent_id: Ulid,
        now: DateTime<Utc>,
    ) -> Result<Option<(Challenge, OtpChallenge)>, StoreError> {
        let (pk, sk) = keys::otp_challenge(id);
        let result = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression("ADD attempts :one")
            .condition_expression(
                "#status = :pending AND agent_id = :agent AND attempts < max_attempts AND expires_at > :now AND code_hash <> :none",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":agent", s(agent_id.to_string()))
            // Fixed-width UTC instants compare as text in time order.
            .expression_attribute_values(":now", s(crate::time::format(now)))
            .expression_attribute_values(":none", s(""))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        updated_challenge(result)
    }

    /// The write-set items that spend challenge `otp` (answered with the code hashed to
    /// `code_hash`) in the write it authorises: the challenge becomes `verified` and stays, as
    /// the evidence, only while its hash is the one answered and it is pending and unexpired;
    /// its recipients are cut to their hints (the evidence keeps no number or address); the
    /// agent's pointer goes.
    pub fn otp_spend(
        &self,
        otp: &OtpChallenge,
        code_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<WriteSet, StoreError> {
        let hints: Vec<(Channel, String)> = otp
            .recipients
            .iter()
            .map(|(channel, recipient)| (*channel, crate::domain::otp::recipient_hint(*channel, recipient)))
            .collect();
        let (pk, sk) = keys::otp_challenge(otp.id);
        let spend = Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression(
                "SET #status = :verified, verified_at = :now, code_hash = :none, recipients = :hints REMOVE #ttl",
            )
            .condition_expression("#status = :pending AND code_hash = :hash AND expires_at > :now")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#ttl", TTL)
            .expression_attribute_values(":verified", s("verified"))
            .expression_attribute_values(":pending", s("pending"))
            .expression_attribute_values(":now", s(crate::time::format(now)))
            .expression_attribute_values(":none", s(""))
            .expression_attribute_values(":hash", s(code_hash))
            .expression_attribute_values(":hints", serde_dynamo::to_attribute_value(&hints)?)
            .build()?;
        let (pk, sk) = pointer_key(&otp.module, otp.record_id, otp.agent_id);
        let pointer = Delete::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .condition_expression("attribute_not_exists(PK) OR challenge_id = :id")
            .expression_attribute_values(":id", s(otp.id.to_string()))
            .build()?;
        let mut set = WriteSet::new();
        set.add(SPEND, TransactWriteItem::builder().update(spend).build());
        set.add(POINTER, TransactWriteItem::builder().delete(pointer).build());
        Ok(set)
    }
}
