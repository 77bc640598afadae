//! OTP rules: a small configuration set in one partition, read whole (every record write of a
//! guarded module checks its rules) and changed with a version condition.

use ulid::Ulid;

use super::keys::{self, OTP_RULES_PK};
use super::{Store, StoreError, Stored, stored_value};
use crate::domain::otp::OtpRuleDefinition;

/// A rule as stored: its definition, id and version.
pub type StoredOtpRule = super::Versioned<OtpRuleDefinition>;

impl Store {
    /// Stores a new rule (its id is fresh: the condition only guards against a collision).
    pub async fn create_otp_rule(&self, rule: &StoredOtpRule) -> Result<(), StoreError> {
        self.put_new(Stored::item(keys::otp_rule(rule.id), "otp_rule", rule)).await
    }

    pub async fn otp_rule(&self, id: Ulid) -> Result<Option<StoredOtpRule>, StoreError> {
        self.get_item(keys::otp_rule(id)).await?.map(stored_value).transpose()
    }

    /// Every rule, oldest first (ids are ULIDs).
    pub async fn otp_rules(&self) -> Result<Vec<StoredOtpRule>, StoreError> {
        self.partition(OTP_RULES_PK).await?.into_iter().map(stored_value).collect()
    }

    /// Replaces rule `rule.id` if it is still at `rule.version - 1`; `false` when it is gone or
    /// changed meanwhile.
    pub async fn replace_otp_rule(&self, rule: &StoredOtpRule) -> Result<bool, StoreError> {
        self.replace_versioned(keys::otp_rule(rule.id), "otp_rule", rule, rule.version.max(2)).await
    }

    /// Deletes rule `id`; `false` when there was none.
    pub async fn delete_otp_rule(&self, id: Ulid) -> Result<bool, StoreError> {
        self.delete_existing(keys::otp_rule(id)).await
    }
}
