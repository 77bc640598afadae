//! Fixed-window rate limits kept by atomic, capped counters.

use chrono::{DateTime, Utc};

use super::keys;
use super::{Store, StoreError, n, s};

/// A limit: at most `max` events per `window_secs` for one subject.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// Names the limit in the key, e.g. `verification-mail`.
    pub scope: &'static str,
    pub max: u32,
    pub window_secs: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    /// Over the limit; the window ends in this many seconds.
    Limited {
        retry_after_secs: u64,
    },
}

impl Store {
    /// Counts one event for `subject` and says whether it is within `limit`. The counter only
    /// grows while under the limit (conditional `ADD`), so concurrent callers can't overshoot.
    #[tracing::instrument(skip(self, subject), fields(scope = limit.scope))]
    pub async fn hit_rate_limit(
        &self,
        limit: RateLimit,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<RateDecision, StoreError> {
        let now_secs = now.timestamp();
        let (pk, sk, window_end) = window_key(limit, subject, now);
        let result = self
            .update_at((pk, sk))
            .update_expression("ADD hits :one SET #ttl = :ttl, entity = :entity")
            .expression_attribute_values(":entity", s("rate_window"))
            .condition_expression("attribute_not_exists(hits) OR hits < :max")
            .expression_attribute_names("#ttl", keys::TTL)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(limit.max))
            .expression_attribute_values(":ttl", n(window_end))
            .send()
            .await;
        match result.map_err(StoreError::from) {
            Ok(_) => Ok(RateDecision::Allowed),
            Err(StoreError::ConditionFailed) => Ok(RateDecision::Limited {
                retry_after_secs: u64::try_from(window_end - now_secs).unwrap_or(1),
            }),
            Err(error) => Err(error),
        }
    }
}

/// At most one event per `secs` for a subject, measured from the last allowed event (not
/// aligned to clock windows, so "once a minute" holds exactly).
#[derive(Debug, Clone, Copy)]
pub struct Cooldown {
    pub scope: &'static str,
    pub secs: i64,
}

impl Store {
    /// Starts the cooldown for `subject` unless one is running; `Limited` while it runs.
    #[tracing::instrument(skip(self, subject), fields(scope = cooldown.scope))]
    pub async fn start_cooldown(
        &self,
        cooldown: Cooldown,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<RateDecision, StoreError> {
        let now_millis = now.timestamp_millis();
        let until_millis = now_millis + cooldown.secs * 1000;
        let (pk, sk) = keys::cooldown(cooldown.scope, subject);
        let result = self
            .update_at((pk, sk))
            .update_expression("SET until_ms = :until, #ttl = :ttl, entity = :entity")
            .expression_attribute_values(":entity", s("cooldown"))
            .condition_expression("attribute_not_exists(until_ms) OR until_ms <= :now")
            .expression_attribute_names("#ttl", keys::TTL)
            .expression_attribute_values(":until", n(until_millis))
            .expression_attribute_values(":now", n(now_millis))
            .expression_attribute_values(":ttl", n(until_millis / 1000 + 1))
            .send()
            .await;
        match result.map_err(StoreError::from) {
            Ok(_) => Ok(RateDecision::Allowed),
            Err(StoreError::ConditionFailed) => {
                Ok(RateDecision::Limited { retry_after_secs: cooldown.secs.unsigned_abs() })
            }
            Err(error) => Err(error),
        }
    }
}

/// The key of the window `limit` is counting in at `now` for `subject`.
pub(super) fn window_key(limit: RateLimit, subject: &str, now: DateTime<Utc>) -> (String, String, i64) {
    let now_secs = now.timestamp();
    let window_start = now_secs - now_secs.rem_euclid(limit.window_secs);
    let (pk, sk) = keys::rate_window(limit.scope, subject, window_start);
    (pk, sk, window_start + limit.window_secs)
}

impl Store {
    /// Counts an event in `limit`'s current window without refusing it (for counters that are
    /// read before an attempt, such as failed sign-ins per source IP).
    #[tracing::instrument(skip(self, subject), fields(scope = limit.scope))]
    pub async fn count_event(
        &self,
        limit: RateLimit,
        subject: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (pk, sk, window_end) = window_key(limit, subject, now);
        self.update_at((pk, sk))
            .update_expression("ADD hits :one SET #ttl = :ttl, entity = :entity")
            .expression_attribute_values(":entity", s("rate_window"))
            .expression_attribute_names("#ttl", keys::TTL)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":ttl", n(window_end))
            .send()
            .await?;
        Ok(())
    }
}
