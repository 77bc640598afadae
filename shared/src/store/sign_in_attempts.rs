//! Password attempts per address (sign-in, and the current-password checks of a signed-in
//! account), counted under a keyed hash of the normalized address whether or not an account has
//! it, so the throttle answers alike for both. An attempt is reserved by one conditional write
//! before the password is checked, so parallel guesses are counted one by one.

use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::keys::{self, PK, SK, TTL};
use super::rate_limit::{RateLimit, window_key};
use super::{Item, Store, StoreError, WriteSet, n, s};
use crate::domain::signin::{FAILURE_WINDOW_SECS, FailureRecord};

/// Write-set names of a reservation.
const ATTEMPTS: &str = "attempts";
const IP: &str = "ip";

/// How a reservation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    Granted,
    /// Another attempt on the address was reserved since the record was read.
    Busy,
    /// The source IP used up its attempts of the window.
    IpLimited,
}

/// Where an IP's attempt was counted, to give it back when the password was right.
#[derive(Debug, Clone)]
pub struct IpWindow {
    key: keys::Key,
    /// When the window's counter expires.
    ends: i64,
}

pub(super) fn decode_attempts(item: &Item) -> FailureRecord {
    let number =
        |name: &str| item.get(name).and_then(|value| value.as_n().ok()).and_then(|value| value.parse().ok());
    FailureRecord {
        window_start: number("window_start").unwrap_or(0),
        count: number("attempts").and_then(|count: i64| u32::try_from(count).ok()).unwrap_or(0),
        last_at: number("last_at").unwrap_or(0),
    }
}

impl Store {
    /// The attempts of `subject` (a keyed hash of an address), as a throttle reads them.
    pub async fn sign_in_attempts(&self, subject: &str) -> Result<FailureRecord, StoreError> {
        Ok(self
            .get_item(keys::sign_in_attempts(subject))
            .await?
            .as_ref()
            .map(decode_attempts)
            .unwrap_or_default())
    }

    /// Reserves one attempt for `subject`, moving its record from `seen` (as read) on by one, and,
    /// with `ip`, one of the IP's attempts in `ip_limit`'s window, in one transaction: a record
    /// changed since it was read, or an IP at its limit, refuses it.
    pub async fn reserve_password_attempt(
        &self,
        subject: &str,
        seen: &FailureRecord,
        ip: Option<(RateLimit, &str)>,
        now: DateTime<Utc>,
    ) -> Result<(Reservation, Option<IpWindow>), StoreError> {
        let after = seen.after_failure(now.timestamp());
        let (pk, sk) = keys::sign_in_attempts(subject);
        let item = Item::from([
            (PK.into(), s(pk)),
            (SK.into(), s(sk)),
            ("entity".into(), s("password_attempts")),
            ("window_start".into(), n(after.window_start)),
            ("attempts".into(), n(after.count)),
            ("last_at".into(), n(after.last_at)),
            (TTL.into(), n(after.window_start + 2 * FAILURE_WINDOW_SECS)),
        ]);
        let put = Put::builder().table_name(self.table()).set_item(Some(item));
        let put = if *seen == FailureRecord::default() {
            put.condition_expression("attribute_not_exists(PK)")
        } else {
            put.condition_expression("window_start = :start AND attempts = :count")
                .expression_attribute_values(":start", n(seen.window_start))
                .expression_attribute_values(":count", n(seen.count))
        };
        let mut items =
            WriteSet::new().with(ATTEMPTS, TransactWriteItem::builder().put(put.build()?).build());
        let mut window = None;
        if let Some((limit, ip)) = ip {
            let (pk, sk, window_end) = window_key(limit, ip, now);
            let count = Update::builder()
                .table_name(self.table())
                .key(PK, s(pk.clone()))
                .key(SK, s(sk.clone()))
                .update_expression("ADD hits :one SET #ttl = :ttl, entity = :entity")
                .condition_expression("attribute_not_exists(hits) OR hits < :max")
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":max", n(limit.max))
                .expression_attribute_values(":ttl", n(window_end))
                .expression_attribute_values(":entity", s("rate_window"))
                .build()?;
            items.add(IP, TransactWriteItem::builder().update(count).build());
            window = Some(IpWindow { key: (pk, sk), ends: window_end });
        }
        match self.commit(items).await {
            Ok(()) => Ok((Reservation::Granted, window)),
            Err(StoreError::Cancelled(cancellation)) if cancellation.failed(IP) => {
                Ok((Reservation::IpLimited, None))
            }
            Err(StoreError::Cancelled(_)) => Ok((Reservation::Busy, None)),
            Err(error) => Err(error),
        }
    }

    /// The items that clear `subject`'s attempts after the right password and give the IP its
    /// attempt back (the IP limit counts failures), for the caller's transaction.
    pub fn password_attempts_cleared(
        &self,
        subject: &str,
        ip: Option<&IpWindow>,
    ) -> Result<WriteSet, StoreError> {
        let (pk, sk) = keys::sign_in_attempts(subject);
        let delete = Delete::builder().table_name(self.table()).key(PK, s(pk)).key(SK, s(sk)).build()?;
        let mut items = WriteSet::new().with(ATTEMPTS, TransactWriteItem::builder().delete(delete).build());
        if let Some(IpWindow { key: (pk, sk), ends }) = ip {
            // Unconditional: a session must never fail on this (the window's item may be gone).
            let refund = Update::builder()
                .table_name(self.table())
                .key(PK, s(pk.clone()))
                .key(SK, s(sk.clone()))
                .update_expression("ADD hits :minus_one SET #ttl = :ttl")
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_values(":minus_one", n(-1))
                .expression_attribute_values(":ttl", n(*ends))
                .build()?;
            items.add(IP, TransactWriteItem::builder().update(refund).build());
        }
        Ok(items)
    }

    /// Clears `subject`'s attempts (and gives `ip` its attempt back) on its own.
    pub async fn clear_password_attempts(
        &self,
        subject: &str,
        ip: Option<&IpWindow>,
    ) -> Result<(), StoreError> {
        self.commit(self.password_attempts_cleared(subject, ip)?).await
    }
}
