//! Custom roles. Built-in roles live in code (`domain::permission`); custom ones are items
//! under one partition, each counting the staff users who hold it in `users`. That count
//! changes in the same transaction as the users' role lists, so a role in use is never deleted
//! and a role deleted meanwhile is never assigned. Changing whether a held role grants
//! `users.manage` or `settings.manage` moves the administrator count (`administrators.rs`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, KeysAndAttributes, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::administrators::{COUNT_ITEM, CountRefusal};
use super::keys::{self, PK, ROLE_SK_PREFIX, ROLES_PK, SK};
use super::{Item, Store, StoreError, WriteSet, condition_held, n, s};
use crate::domain::administrators::{self, Share, StaffState};
use crate::domain::permission::{BuiltinRole, ModuleAccess, Permission, Role, RoleGrants, builtin_role};
use crate::domain::{Account, AccountKind};

/// Most roles one user may hold; also bounds the BatchGetItem that resolves them.
pub const MAX_ROLES_PER_USER: usize = 20;

#[derive(Serialize, Deserialize)]
struct RoleItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    entity: String,
    id: String,
    name: String,
    permissions: Vec<Permission>,
    modules: BTreeMap<String, ModuleAccess>,
    #[serde(default)]
    users: u64,
    #[serde(with = "crate::time::rfc3339")]
    created_at: DateTime<Utc>,
    #[serde(with = "crate::time::rfc3339")]
    updated_at: DateTime<Utc>,
}

/// A custom role as stored, with how many staff users hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRole {
    pub role: Role,
    pub users: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn decode_role(item: Item) -> Result<StoredRole, StoreError> {
    let item: RoleItem = serde_dynamo::from_item(item)?;
    Ok(StoredRole {
        role: Role {
            id: item.id,
            name: item.name,
            permissions: item.permissions,
            modules: item.modules,
            builtin: false,
        },
        users: item.users,
        created_at: item.created_at,
        updated_at: item.updated_at,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleCreation {
    Created,
    /// A role with this id exists.
    Exists,
    /// The granter's own roles changed since they were read.
    GranterChanged,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleUpdate {
    Updated,
    /// The role, or who holds it, is gone or changed since it was read.
    Stale,
    /// A holder, or another role of a holder, changed since it was read.
    HoldersChanged,
    /// The granter's own roles changed since they were read.
    GranterChanged,
    /// The change would leave no active staff user holding `users.manage` and `settings.manage`.
    LastAdministrator,
    /// The table has no administrator count yet (see `administrators.rs`).
    AdministratorsUncounted,
    /// The role has too many holders to recount them in one transaction.
    TooManyHolders,
}

/// Who holds a custom role, and the other custom roles, as a change of its grants reads them.
#[derive(Debug, Clone, Default)]
struct RoleHolders {
    accounts: Vec<Account>,
    custom: Vec<Role>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleDeletion {
    Deleted,
    NotFound,
    InUse,
}

/// The custom roles among `role_ids`: built-in ones need no item.
pub(crate) fn custom_role_ids(role_ids: &[String]) -> impl Iterator<Item = &str> {
    role_ids.iter().map(String::as_str).filter(|id| BuiltinRole::from_id(id).is_none())
}

impl Store {
    /// Stores new custom role `role` while `granter` still holds the roles it was read with.
    #[tracing::instrument(skip_all, fields(role_id = %role.id, by = %granter.id))]
    pub async fn create_role(
        &self,
        role: &Role,
        granter: &Account,
        now: DateTime<Utc>,
    ) -> Result<RoleCreation, StoreError> {
        let (pk, sk) = keys::role(&role.id);
        let item = RoleItem {
            pk,
            sk,
            entity: "role".into(),
            id: role.id.clone(),
            name: role.name.clone(),
            permissions: role.permissions.clone(),
            modules: role.modules.clone(),
            users: 0,
            created_at: now,
            updated_at: now,
        };
        let items = WriteSet::new()
            .with("granter", self.granter_unchanged(granter)?)
            .with("role", self.put_if_absent(serde_dynamo::to_item(item)?)?);
        match self.commit(items).await {
            Ok(()) => Ok(RoleCreation::Created),
            Err(error) if error.failed("granter") => Ok(RoleCreation::GranterChanged),
            Err(error) if error.failed("role") => Ok(RoleCreation::Exists),
            Err(error) => Err(error),
        }
    }

    pub async fn role(&self, id: &str) -> Result<Option<StoredRole>, StoreError> {
        self.get_item(keys::role(id)).await?.map(decode_role).transpose()
    }

    /// Every custom role, by id, strongly consistent. Roles are few (an installation has tens),
    /// so this reads them all, page after page.
    pub async fn roles(&self) -> Result<Vec<StoredRole>, StoreError> {
        let items = self
            .client()
            .query()
            .table_name(self.table())
            .consistent_read(true)
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(ROLES_PK))
            .expression_attribute_values(":prefix", s(ROLE_SK_PREFIX))
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await?;
        items.into_iter().map(decode_role).collect()
    }

    /// The roles among `role_ids` that exist: built-in ones from code, custom ones in one
    /// BatchGetItem (none when every id is built in).
    pub async fn roles_by_id(&self, role_ids: &[String]) -> Result<Vec<Role>, StoreError> {
        let mut roles: Vec<Role> = role_ids.iter().filter_map(|id| builtin_role(id)).collect();
        let custom: BTreeSet<&str> = custom_role_ids(role_ids).take(MAX_ROLES_PER_USER).collect();
        if custom.is_empty() {
            return Ok(roles);
        }
        // Strongly consistent: a role narrowed a moment ago must not grant its old rights.
        let mut wanted = KeysAndAttributes::builder().consistent_read(true);
        for id in &custom {
            let (pk, sk) = keys::role(id);
            wanted = wanted.keys(Item::from([(PK.into(), s(pk)), (SK.into(), s(sk))]));
        }
        for item in self.batch_get(wanted.build()?).await? {
            roles.push(decode_role(item)?.role);
        }
        Ok(roles)
    }

    /// What `role_ids` allow together; ids of roles that do not exist allow nothing.
    pub async fn grants_of_roles(&self, role_ids: &[String]) -> Result<RoleGrants, StoreError> {
        Ok(RoleGrants::of(&self.roles_by_id(role_ids).await?))
    }

    /// Who holds custom role `id` and what the other custom roles grant, for a change of what it
    /// grants: the staff index and the roles, read together. `granter`, as read, stands for
    /// their own entry (the index may lag behind it).
    async fn role_holders(&self, id: &str, granter: &Account) -> Result<RoleHolders, StoreError> {
        let (mut accounts, roles) = tokio::try_join!(self.staff_holding(id), self.roles())?;
        accounts.retain(|holder| holder.id != granter.id);
        if granter.roles.iter().any(|role| role == id) {
            accounts.push(granter.clone());
        }
        Ok(RoleHolders { accounts, custom: roles.into_iter().map(|stored| stored.role).collect() })
    }

    /// Replaces the name, permissions and modules of custom role `read` with those of `role`,
    /// if it is unchanged since it was read and `granter` still holds the roles it was read
    /// with. Holders get the new rights with their next token.
    ///
    /// When the change adds or takes away `users.manage` or `settings.manage`, it reads who holds
    /// the role and what the other roles grant (one more round trip: two queries at once), and
    /// moves the administrator count by what the change does to the holders. The holders come
    /// from an eventually consistent index, so the write holds only while the role still counts
    /// exactly as many holders as were found and each of them still has the status and roles
    /// read: those found are then all there are, and a holder joining, leaving, or being
    /// disabled or enabled meanwhile cancels the write rather than miscounting it. So does a
    /// change to what another role of a holder grants, where the recount read it. (Writes to a
    /// user hold the grants of the roles their own recount read, so whichever of the two
    /// commits second fails.)
    #[tracing::instrument(skip_all, fields(role_id = %role.id, by = %granter.id))]
    pub async fn update_role(
        &self,
        read: &StoredRole,
        role: &Role,
        granter: &Account,
        now: DateTime<Utc>,
    ) -> Result<RoleUpdate, StoreError> {
        let recounted = Share::of(&read.role) != Share::of(role);
        let holders =
            if recounted { self.role_holders(&role.id, granter).await? } else { RoleHolders::default() };
        let (pk, sk) = keys::role(&role.id);
        let update = Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression(
                "SET #name = :name, #permissions = :permissions, #modules = :modules, updated_at = :now",
            )
            .expression_attribute_names("#name", "name")
            .expression_attribute_names("#permissions", "permissions")
            .expression_attribute_names("#modules", "modules")
            .expression_attribute_values(":name", s(role.name.as_str()))
            .expression_attribute_values(":permissions", serde_dynamo::to_attribute_value(&role.permissions)?)
            .expression_attribute_values(":modules", serde_dynamo::to_attribute_value(&role.modules)?)
            .expression_attribute_values(":now", s(crate::time::format(now)))
            .expression_attribute_values(":read", s(crate::time::format(read.updated_at)));
        let mut items = WriteSet::new().with("granter", self.granter_unchanged(granter)?);
        let update = if recounted {
            let accounts: Vec<&Account> =
                holders.accounts.iter().filter(|holder| holder.kind == AccountKind::Staff).collect();
            let states: Vec<StaffState<'_>> = accounts
                .iter()
                .map(|holder| StaffState { status: holder.status, roles: &holder.roles })
                .collect();
            let recount = administrators::role_change(&read.role, role, &states, &holders.custom);
            // The granter's own item already holds their status and roles.
            for holder in accounts.iter().filter(|holder| holder.id != granter.id) {
                items.add(format!("{HOLDER}{}", holder.id), self.holder_unchanged(holder)?);
            }
            for (other, share) in &recount.relies_on {
                items.add(role_item_name(other), self.role_item(other, None, Some(*share))?);
            }
            if let Some(item) = self.administrator_count_move(&recount)? {
                items.add(COUNT_ITEM, item);
            }
            update
                .condition_expression("updated_at = :read AND #users = :holders")
                .expression_attribute_names("#users", "users")
                .expression_attribute_values(":holders", n(accounts.len()))
        } else {
            update.condition_expression("updated_at = :read")
        };
        items.add("role", TransactWriteItem::builder().update(update.build()?).build());
        if items.len() > WriteSet::MAX_ITEMS {
            return Ok(RoleUpdate::TooManyHolders);
        }
        match self.commit(items).await {
            Ok(()) => Ok(RoleUpdate::Updated),
            Err(error) if error.failed("granter") => Ok(RoleUpdate::GranterChanged),
            Err(error) if error.failed("role") => Ok(RoleUpdate::Stale),
            Err(error) => match error.cancellation() {
                Some(cancelled)
                    if cancelled.failed_under(HOLDER).next().is_some()
                        || cancelled.failed_under(ROLE_ITEM).next().is_some() =>
                {
                    Ok(RoleUpdate::HoldersChanged)
                }
                Some(cancelled) if cancelled.failed(COUNT_ITEM) => Ok(match self.count_refusal().await? {
                    CountRefusal::LastAdministrator => RoleUpdate::LastAdministrator,
                    CountRefusal::Uncounted => RoleUpdate::AdministratorsUncounted,
                }),
                _ => Err(error),
            },
        }
    }

    /// Deletes custom role `id` unless a user holds it (so the administrator count never moves).
    #[tracing::instrument(skip(self))]
    pub async fn delete_role(&self, id: &str) -> Result<RoleDeletion, StoreError> {
        let result = self
            .delete_at(keys::role(id))
            .condition_expression("attribute_exists(PK) AND #users = :none")
            .expression_attribute_names("#users", "users")
            .expression_attribute_values(":none", n(0))
            .send()
            .await;
        if condition_held(result)? {
            return Ok(RoleDeletion::Deleted);
        }
        // Only to tell the two failures apart: the delete itself was conditional.
        Ok(if self.role(id).await?.is_some() { RoleDeletion::InUse } else { RoleDeletion::NotFound })
    }

    /// A transaction item on custom role `id`: counting one more (`+1`) or one fewer (`-1`)
    /// holder (`usage`), and holding only while the role gives `share` towards administering
    /// (what a recount read). It fails when the role does not exist.
    pub(super) fn role_item(
        &self,
        id: &str,
        usage: Option<i64>,
        share: Option<Share>,
    ) -> Result<TransactWriteItem, StoreError> {
        let (pk, sk) = keys::role(id);
        let mut condition = "attribute_exists(PK)".to_owned();
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        if let Some(share) = share {
            condition = format!("{condition} AND {}", share_condition(share));
            names.insert("#permissions".to_owned(), "permissions".to_owned());
            values.insert(":users_manage".to_owned(), s(Permission::UsersManage.as_str()));
            values.insert(":settings_manage".to_owned(), s(Permission::SettingsManage.as_str()));
        }
        let Some(delta) = usage else {
            let check = ConditionCheck::builder()
                .table_name(self.table())
                .key(PK, s(pk))
                .key(SK, s(sk))
                .condition_expression(condition)
                .set_expression_attribute_names((!names.is_empty()).then_some(names))
                .set_expression_attribute_values((!values.is_empty()).then_some(values))
                .build()?;
            return Ok(TransactWriteItem::builder().condition_check(check).build());
        };
        names.insert("#users".to_owned(), "users".to_owned());
        values.insert(":delta".to_owned(), AttributeValue::N(delta.to_string()));
        let update = Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression("ADD #users :delta")
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

/// The write-set name of the item on custom role `role`.
pub(super) fn role_item_name(role: &str) -> String {
    format!("{ROLE_ITEM}{role}")
}

pub(super) const ROLE_ITEM: &str = "role:";
const HOLDER: &str = "holder:";

/// A condition that the role's `permissions` give `share`: each of the two permissions there
/// or not, as read.
fn share_condition(share: Share) -> String {
    let term = |held: bool, value: &str| {
        if held {
            format!("contains(#permissions, {value})")
        } else {
            format!("NOT contains(#permissions, {value})")
        }
    };
    format!(
        "{} AND {}",
        term(share.users_manage, ":users_manage"),
        term(share.settings_manage, ":settings_manage")
    )
}
