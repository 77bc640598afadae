//! The customer portal: the exposure configuration (one item per module in the `PORTAL`
//! partition, changed with a version condition) and the link between a customer account and
//! its contact — `contact_id` on the account, a `PORTAL_ACCOUNT` item beside the contact
//! record naming the account — always written together.

use aws_sdk_dynamodb::types::{ConditionCheck, KeysAndAttributes, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::keys::{self, GSI8, GSI8PK, PK, PORTAL_PK, SK};
use super::{Item, Store, StoreError, WriteSet, s, stored_value};
use crate::domain::portal::PortalModuleDefinition;
use crate::domain::{AccountKind, AccountStatus, Email};

/// Write-set names of a link: the account's side, the contact's side, the contact given up.
pub const LINK_ACCOUNT: &str = "link:account";
pub const LINK_CONTACT: &str = "link:contact";
pub const LINK_RELEASED: &str = "link:released";
/// The check that the contact exists (and, when linked by address, still has it).
pub const LINK_RECORD: &str = "link:record";
/// The check, in a contact's deletion, that no customer is linked to it.
pub const PORTAL_LINK: &str = "portal_link";

/// Most contacts read for one address when linking a new account: more are "several".
const MAX_CONTACTS_PER_ADDRESS: i32 = 10;

/// A module's exposure as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredPortalModule {
    pub module: String,
    /// Raised by every change; a change names the version it read.
    pub version: u64,
    #[serde(flatten)]
    pub definition: PortalModuleDefinition,
    #[serde(with = "crate::time::rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// A contact found by its address, and whether a customer is linked to it already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactByAddress {
    pub id: Ulid,
    pub linked: bool,
}

impl Store {
    /// Every module's exposure, in module-name order.
    pub async fn portal_modules(&self) -> Result<Vec<StoredPortalModule>, StoreError> {
        self.partition(PORTAL_PK).await?.into_iter().map(stored_value).collect()
    }

    pub async fn portal_module(&self, module: &str) -> Result<Option<StoredPortalModule>, StoreError> {
        self.get_item(keys::portal_module(module)).await?.map(stored_value).transpose()
    }

    /// Stores `stored` if the module's exposure is still at `stored.version - 1` (absent for
    /// version 1); `false` when it changed meanwhile.
    pub async fn put_portal_module(&self, stored: &StoredPortalModule) -> Result<bool, StoreError> {
        self.replace_versioned(keys::portal_module(&stored.module), "portal_module", stored, stored.version)
            .await
    }

    /// Removes a module from the portal; `false` when it was not in it.
    pub async fn delete_portal_module(&self, module: &str) -> Result<bool, StoreError> {
        self.delete_existing(keys::portal_module(module)).await
    }

    /// The contacts whose e-mail is `email` (from the key index, never the module), with
    /// whether each is linked; at most ten.
    pub async fn contacts_by_address(&self, email: &Email) -> Result<Vec<ContactByAddress>, StoreError> {
        let output = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(GSI8)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", GSI8PK)
            .expression_attribute_values(
                ":pk",
                s(keys::key_value_records("contacts", "email", email.as_str())),
            )
            .projection_expression("id")
            .limit(MAX_CONTACTS_PER_ADDRESS)
            .send()
            .await?;
        let ids: Vec<Ulid> = output
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| item.get("id").and_then(|id| id.as_s().ok()))
            .filter_map(|id| Ulid::from_string(id).ok())
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut wanted = KeysAndAttributes::builder().consistent_read(true);
        for id in &ids {
            let (pk, sk) = keys::portal_link(*id);
            wanted = wanted.keys(Item::from([(PK.into(), s(pk)), (SK.into(), s(sk))]));
        }
        let links = self.batch_get(wanted.build()?).await?;
        Ok(ids
            .into_iter()
            .map(|id| ContactByAddress {
                id,
                linked: links.iter().any(|link| link.get(PK) == Some(&s(keys::portal_link(id).0))),
            })
            .collect())
    }

    /// The account linked to contact `contact_id`, if any.
    pub async fn portal_account_of(&self, contact_id: Ulid) -> Result<Option<Ulid>, StoreError> {
        let Some(item) = self.get_item(keys::portal_link(contact_id)).await? else { return Ok(None) };
        let id = item
            .get("account_id")
            .and_then(|id| id.as_s().ok())
            .ok_or(StoreError::Malformed("account_id"))?;
        Ulid::from_string(id).map(Some).map_err(|_| StoreError::Malformed("account_id"))
    }

    /// The items that link active customer `account_id` to `contact_id`: the account's side
    /// (`link:account`, holding while the account is an active customer linked to `previous`,
    /// or to nothing), the contact's (`link:contact`, holding while no one else is linked to
    /// it) and, when the account moves, the release of `previous` (`link:released`). Add a
    /// check of the contact (`contact_check`) unless the same write creates it.
    pub fn link_items(
        &self,
        account_id: Ulid,
        contact_id: Ulid,
        previous: Option<Ulid>,
        now: DateTime<Utc>,
    ) -> Result<WriteSet, StoreError> {
        let (pk, sk) = keys::account(account_id);
        let mut account = Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression("SET contact_id = :contact, updated_at = :now")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":contact", s(contact_id.to_string()))
            .expression_attribute_values(":now", s(crate::time::format(now)))
            .expression_attribute_values(":customer", s(AccountKind::Customer.as_str()))
            .expression_attribute_values(":active", s(AccountStatus::Active.as_str()));
        let active = "kind = :customer AND #status = :active";
        account = match previous {
            None => account.condition_expression(format!("{active} AND attribute_not_exists(contact_id)")),
            Some(previous) => account
                .condition_expression(format!("{active} AND contact_id = :previous"))
                .expression_attribute_values(":previous", s(previous.to_string())),
        };
        let (link_pk, link_sk) = keys::portal_link(contact_id);
        let link = self.put_if_absent(Item::from([
            (PK.into(), s(link_pk)),
            (SK.into(), s(link_sk)),
            ("entity".into(), s("portal_link")),
            ("account_id".into(), s(account_id.to_string())),
            ("contact_id".into(), s(contact_id.to_string())),
            ("linked_at".into(), s(crate::time::format(now))),
        ]))?;
        let mut items = WriteSet::new()
            .with(LINK_ACCOUNT, TransactWriteItem::builder().update(account.build()?).build())
            .with(LINK_CONTACT, link);
        if let Some(previous) = previous {
            let (pk, sk) = keys::portal_link(previous);
            let release = aws_sdk_dynamodb::types::Delete::builder()
                .table_name(self.table())
                .key(PK, s(pk))
                .key(SK, s(sk))
                .condition_expression("attribute_not_exists(PK) OR account_id = :account")
                .expression_attribute_values(":account", s(account_id.to_string()))
                .build()?;
            items.add(LINK_RELEASED, TransactWriteItem::builder().delete(release).build());
        }
        Ok(items)
    }

    /// Unlinks customer `account_id` from contact `contact_id` (both sides, if still linked to
    /// each other); `false` when they were not.
    pub async fn unlink_contact(
        &self,
        account_id: Ulid,
        contact_id: Ulid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (pk, sk) = keys::account(account_id);
        let account = Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression("REMOVE contact_id SET updated_at = :now")
            .condition_expression("contact_id = :contact")
            .expression_attribute_values(":contact", s(contact_id.to_string()))
            .expression_attribute_values(":now", s(crate::time::format(now)))
            .build()?;
        let (link_pk, link_sk) = keys::portal_link(contact_id);
        let link = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(self.table())
            .key(PK, s(link_pk))
            .key(SK, s(link_sk))
            .condition_expression("account_id = :account")
            .expression_attribute_values(":account", s(account_id.to_string()))
            .build()?;
        let items = WriteSet::new()
            .with(LINK_ACCOUNT, TransactWriteItem::builder().update(account).build())
            .with(LINK_RELEASED, TransactWriteItem::builder().delete(link).build());
        match self.commit(items).await {
            Ok(()) => Ok(true),
            Err(StoreError::Cancelled(cancellation)) if cancellation.conflicted.is_empty() => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// A check that contact `contact_id` exists and, when given, still has address `email`.
    pub fn contact_check(
        &self,
        contact_id: Ulid,
        email: Option<&Email>,
    ) -> Result<TransactWriteItem, StoreError> {
        let (pk, sk) = keys::record("contacts", contact_id);
        let check = ConditionCheck::builder().table_name(self.table()).key(PK, s(pk)).key(SK, s(sk));
        let check = match email {
            None => check.condition_expression("attribute_exists(PK)"),
            Some(email) => check
                .condition_expression("#f.#email = :email")
                .expression_attribute_names("#f", "f")
                .expression_attribute_names("#email", "email")
                .expression_attribute_values(":email", s(email.as_str())),
        };
        Ok(TransactWriteItem::builder().condition_check(check.build()?).build())
    }

    /// A check that no customer is linked to contact `contact_id` (`portal_link`, in its
    /// deletion: a linked contact is re-linked first).
    pub(super) fn unlinked_check(&self, contact_id: Ulid) -> Result<TransactWriteItem, StoreError> {
        let (pk, sk) = keys::portal_link(contact_id);
        let check = ConditionCheck::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .condition_expression("attribute_not_exists(PK)")
            .build()?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }
}
