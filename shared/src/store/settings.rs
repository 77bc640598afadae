//! Configuration documents: the registration policy.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::keys::{self, PK, SK};
use super::{Store, StoreError, s};
use crate::domain::RegistrationPolicy;

#[derive(Serialize, Deserialize)]
struct PolicyItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(default)]
    entity: String,
    #[serde(flatten)]
    policy: RegistrationPolicy,
    #[serde(with = "crate::time::rfc3339")]
    updated_at: DateTime<Utc>,
    updated_by: Ulid,
}

impl Store {
    /// The registration policy; the defaults until an admin saved one.
    #[tracing::instrument(skip(self))]
    pub async fn registration_policy(&self) -> Result<RegistrationPolicy, StoreError> {
        let (pk, sk) = keys::registration_policy();
        let output =
            self.client().get_item().table_name(self.table()).key(PK, s(pk)).key(SK, s(sk)).send().await?;
        match output.item {
            Some(item) => Ok(serde_dynamo::from_item::<_, PolicyItem>(item)?.policy),
            None => Ok(RegistrationPolicy::default()),
        }
    }

    /// Replaces the whole policy document (PUT semantics: the last complete write wins).
    #[tracing::instrument(skip(self, policy))]
    pub async fn put_registration_policy(
        &self,
        policy: &RegistrationPolicy,
        updated_by: Ulid,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let (pk, sk) = keys::registration_policy();
        let item = PolicyItem {
            pk,
            sk,
            entity: "registration_policy".into(),
            policy: *policy,
            updated_at: now,
            updated_by,
        };
        self.put(item).await?;
        Ok(())
    }
}
