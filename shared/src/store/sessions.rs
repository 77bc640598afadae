//! Sessions (one per sign-in, holding the keyed hash of the current refresh token and its
//! generation) and trusted devices (keyed hashes of client device ids, per account).

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::accounts::{decode_account, decode_login};
use super::keys::{self, DEVICE_SK_PREFIX, PK, SESSION_SK_PREFIX, SK};
use super::rate_limit::{RateLimit, window_key};
use super::{Item, Store, StoreError, Stored, WriteSet, condition_held, n, s, stored_value};
use crate::domain::account::Login;
use crate::domain::signin::FailureRecord;
use crate::domain::{Account, Email};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub account_id: Ulid,
    pub session_id: Ulid,
    pub device_hash: String,
    pub refresh_hash: String,
    /// Keyed hashes of the last refresh tokens spent, newest last: a spent token that comes
    /// back is recognised (and ends the session) only if it verifies against one of them, so
    /// a token merely shaped like an old one (`<account>.<session>.0.<anything>`, ids from any
    /// old access token) ends nothing.
    #[serde(default)]
    pub spent_hashes: Vec<String>,
    pub generation: u64,
    /// The account's trust version when the session began.
    pub trust_version: u64,
    #[serde(with = "crate::time::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::time::rfc3339")]
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrustedDevice {
    /// Keyed hash of the client's device id: the id never stored or shown.
    pub device_hash: String,
    /// The browser and system it signed in with ("Firefox 128 on Windows", parsed from its
    /// User-Agent): for people to recognise it.
    pub label: String,
    pub trust_version: u64,
    #[serde(with = "crate::time::rfc3339")]
    pub first_seen: DateTime<Utc>,
    #[serde(with = "crate::time::rfc3339")]
    pub last_seen: DateTime<Utc>,
}

/// The outcome of starting a session on a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStart {
    Started,
    /// The device is not trusted at the account's trust version; nothing was written.
    UntrustedDevice,
}

/// How many spent refresh tokens a session remembers.
pub const SPENT_TOKENS_KEPT: usize = 8;

/// The spent hashes after rotating `session`: its current hash joins, the oldest beyond
/// `SPENT_TOKENS_KEPT` drop out. Exact, since the rotation is conditioned on the hash read.
fn spent_after(session: &Session) -> aws_sdk_dynamodb::types::AttributeValue {
    let keep = session.spent_hashes.len().saturating_sub(SPENT_TOKENS_KEPT - 1);
    let spent = session.spent_hashes[keep..].iter().chain([&session.refresh_hash]);
    aws_sdk_dynamodb::types::AttributeValue::L(spent.map(|hash| s(hash.as_str())).collect())
}

impl Store {
    pub(super) fn session_put(&self, session: &Session) -> Result<TransactWriteItem, StoreError> {
        let key = keys::session(session.account_id, session.session_id);
        let item = Stored::item(key, "session", session).expiring(session.expires_at);
        let put = Put::builder()
            .table_name(self.table())
            .set_item(Some(serde_dynamo::to_item(item)?))
            .condition_expression("attribute_not_exists(PK)")
            .build()?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    pub(super) fn device_put(
        &self,
        account_id: Ulid,
        device: &TrustedDevice,
    ) -> Result<TransactWriteItem, StoreError> {
        let item = Stored::item(keys::device(account_id, &device.device_hash), "device", device);
        let put =
            Put::builder().table_name(self.table()).set_item(Some(serde_dynamo::to_item(item)?)).build()?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Starts `session` if its device is trusted at the account's current trust version, in one
    /// transaction that also marks the device seen and writes `also` (the cleared password
    /// attempts, a customer's activity): the whole write side of a sign-in from a known device
    /// is this one round trip.
    #[tracing::instrument(skip_all, fields(account_id = %session.account_id, session_id = %session.session_id))]
    pub async fn start_session_on_trusted_device(
        &self,
        session: &Session,
        also: WriteSet,
        now: DateTime<Utc>,
    ) -> Result<SessionStart, StoreError> {
        let (pk, sk) = keys::device(session.account_id, &session.device_hash);
        let seen = Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression("SET last_seen = :now")
            .condition_expression("attribute_exists(PK) AND trust_version = :version")
            .expression_attribute_values(":now", s(crate::time::format(now)))
            .expression_attribute_values(":version", n(session.trust_version))
            .build()?;
        let mut items = WriteSet::new()
            .with("device", TransactWriteItem::builder().update(seen).build())
            .with("session", self.session_put(session)?);
        items.append(also);
        match self.commit(items).await {
            Ok(()) => Ok(SessionStart::Started),
            Err(error) if error.failed("device") => Ok(SessionStart::UntrustedDevice),
            Err(error) => Err(error),
        }
    }

    /// Trusts `device` and starts `session` on it, together with `also` (a customer's activity).
    #[tracing::instrument(skip_all, fields(account_id = %session.account_id))]
    pub async fn trust_device_and_start_session(
        &self,
        device: &TrustedDevice,
        session: &Session,
        also: WriteSet,
    ) -> Result<(), StoreError> {
        let mut items = WriteSet::new()
            .with("device", self.device_put(session.account_id, device)?)
            .with("session", self.session_put(session)?);
        items.append(also);
        self.commit(items).await
    }

    /// What a sign-in attempt needs before checking the password, in one round trip: the login
    /// of `email` (none for an address that can't have one), the attempts on the address
    /// (`subject`: its keyed hash) and the failed sign-ins of `ip` counted by `ip_limit` in its
    /// current window.
    #[tracing::instrument(skip_all)]
    pub async fn sign_in_facts(
        &self,
        email: Option<&Email>,
        subject: &str,
        ip_limit: RateLimit,
        ip: &str,
        now: DateTime<Utc>,
    ) -> Result<(Option<Login>, FailureRecord, u32), StoreError> {
        let (window_pk, window_sk, _) = window_key(ip_limit, ip, now);
        let (attempts_pk, attempts_sk) = keys::sign_in_attempts(subject);
        let mut wanted = KeysAndAttributes::builder()
            .keys(Item::from([(PK.into(), s(window_pk)), (SK.into(), s(window_sk))]))
            .keys(Item::from([(PK.into(), s(attempts_pk.clone())), (SK.into(), s(attempts_sk))]))
            .consistent_read(true);
        let login_pk = email.map(|email| {
            let (pk, sk) = keys::login(email);
            wanted = wanted.clone().keys(Item::from([(PK.into(), s(pk.clone())), (SK.into(), s(sk))]));
            pk
        });
        let mut login = None;
        let mut attempts = FailureRecord::default();
        let mut ip_failures = 0;
        for item in self.batch_get(wanted.build()?).await? {
            let pk = item.get(PK).and_then(|pk| pk.as_s().ok()).cloned();
            if pk.is_some() && pk == login_pk {
                login = Some(decode_login(item)?);
            } else if pk.as_deref() == Some(attempts_pk.as_str()) {
                attempts = super::sign_in_attempts::decode_attempts(&item);
            } else if let Some(AttributeValue::N(hits)) = item.get("hits") {
                ip_failures = hits.parse().map_err(|_| StoreError::Malformed("rate window hits"))?;
            }
        }
        Ok((login, attempts, ip_failures))
    }

    /// A session and its account, read together (one round trip).
    #[tracing::instrument(skip(self))]
    pub async fn session_with_account(
        &self,
        account_id: Ulid,
        session_id: Ulid,
    ) -> Result<Option<(Session, Account)>, StoreError> {
        let (session_pk, session_sk) = keys::session(account_id, session_id);
        let (account_pk, account_sk) = keys::account(account_id);
        let keys = KeysAndAttributes::builder()
            .keys(Item::from([(PK.into(), s(session_pk)), (SK.into(), s(session_sk))]))
            .keys(Item::from([(PK.into(), s(account_pk)), (SK.into(), s(account_sk))]))
            .consistent_read(true)
            .build()?;
        let mut session = None;
        let mut account = None;
        for item in self.batch_get(keys).await? {
            match item.get(SK) {
                Some(AttributeValue::S(sk)) if sk.starts_with(SESSION_SK_PREFIX) => {
                    session = Some(stored_value(item)?);
                }
                _ => account = Some(decode_account(item)?),
            }
        }
        Ok(session.zip(account))
    }

    /// Replaces the refresh token of generation `session.generation` by `new_hash`; `false`
    /// when another request rotated it first (its token is then spent).
    #[tracing::instrument(skip_all, fields(session_id = %session.session_id))]
    pub async fn rotate_refresh(
        &self,
        session: &Session,
        new_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (pk, sk) = keys::session(session.account_id, session.session_id);
        let result = self
            .update_at((pk, sk))
            .update_expression(
                "SET refresh_hash = :new, spent_hashes = :spent, generation = :next, last_used_at = :now",
            )
            .condition_expression("refresh_hash = :old AND generation = :generation")
            .expression_attribute_values(":new", s(new_hash))
            .expression_attribute_values(":spent", spent_after(session))
            .expression_attribute_values(":next", n(session.generation + 1))
            .expression_attribute_values(":now", s(crate::time::format(now)))
            .expression_attribute_values(":old", s(session.refresh_hash.as_str()))
            .expression_attribute_values(":generation", n(session.generation))
            .send()
            .await;
        condition_held(result)
    }

    #[tracing::instrument(skip(self))]
    /// Whether session `session_id` of `account_id` still lives: sign-out, a password reset,
    /// "not me" and disabling delete it, and every access token of it stops with it.
    pub async fn session_alive(&self, account_id: Ulid, session_id: Ulid) -> Result<bool, StoreError> {
        let (pk, sk) = keys::session(account_id, session_id);
        let output = self
            .client()
            .get_item()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .projection_expression("PK")
            .consistent_read(true)
            .send()
            .await?;
        Ok(output.item.is_some())
    }

    /// Whether session `session_id` of `account_id` still lives, and the account as the table
    /// holds it now: one consistent BatchGetItem, so a staff route checks revocation and its
    /// caller's status and roles in the round trip the session check alone took.
    pub async fn session_and_account(
        &self,
        account_id: Ulid,
        session_id: Ulid,
    ) -> Result<(bool, Option<Account>), StoreError> {
        let (account, session) =
            self.account_with_item(account_id, keys::session(account_id, session_id)).await?;
        Ok((session.is_some(), account))
    }

    pub async fn end_session(&self, account_id: Ulid, session_id: Ulid) -> Result<(), StoreError> {
        self.delete_item(keys::session(account_id, session_id)).await
    }

    /// Every item of an account's partition whose sort key starts with `prefix`.
    async fn account_items(&self, account_id: Ulid, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut pages = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(keys::account_partition(account_id)))
            .expression_attribute_values(":prefix", s(prefix))
            .into_paginator()
            .items()
            .send();
        let mut items = Vec::new();
        while let Some(item) = pages.next().await {
            items.push(item?);
        }
        Ok(items)
    }

    pub async fn sessions(&self, account_id: Ulid) -> Result<Vec<Session>, StoreError> {
        self.account_items(account_id, SESSION_SK_PREFIX).await?.into_iter().map(stored_value).collect()
    }

    pub async fn devices(&self, account_id: Ulid) -> Result<Vec<TrustedDevice>, StoreError> {
        self.account_items(account_id, DEVICE_SK_PREFIX).await?.into_iter().map(stored_value).collect()
    }

    /// Forgets a trusted device and ends the sessions begun on it. `false` if it was not trusted.
    #[tracing::instrument(skip(self, device_hash), fields(account_id = %account_id))]
    pub async fn revoke_device(&self, account_id: Ulid, device_hash: &str) -> Result<bool, StoreError> {
        let deleted = self
            .delete_at(keys::device(account_id, device_hash))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await?
            .attributes
            .is_some();
        for session in self.sessions(account_id).await? {
            if session.device_hash == device_hash {
                self.end_session(account_id, session.session_id).await?;
            }
        }
        Ok(deleted)
    }

    /// Login and account of `email` (for paths that need both; sign-in itself reads the login only).
    pub async fn login_and_account(&self, email: &Email) -> Result<Option<(Login, Account)>, StoreError> {
        let Some(login) = self.login(email).await? else { return Ok(None) };
        Ok(self.account(login.account_id).await?.map(|account| (login, account)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_remembers_its_last_spent_tokens_only() {
        let now = Utc::now();
        let mut session = Session {
            account_id: Ulid::nil(),
            session_id: Ulid::nil(),
            device_hash: String::new(),
            refresh_hash: "h0".into(),
            spent_hashes: Vec::new(),
            generation: 0,
            trust_version: 0,
            created_at: now,
            expires_at: now,
        };
        for generation in 1..=10 {
            let aws_sdk_dynamodb::types::AttributeValue::L(spent) = spent_after(&session) else {
                panic!("a list");
            };
            session.spent_hashes = spent.iter().filter_map(|hash| hash.as_s().ok().cloned()).collect();
            session.refresh_hash = format!("h{generation}");
        }
        assert_eq!(session.spent_hashes.len(), SPENT_TOKENS_KEPT);
        assert_eq!(session.spent_hashes.first().map(String::as_str), Some("h2"));
        assert_eq!(session.spent_hashes.last().map(String::as_str), Some("h9"));
    }
}
