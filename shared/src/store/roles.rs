//! Custom roles. Built-in roles live in code (`domain::permission`); custom ones are items
//! under one partition, each counting the staff users who hold it in `users`. That count
//! changes in the same transaction as the users' role lists, so a role in use is never deleted
//! and a role deleted meanwhile is never assigned.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::keys::{self, PK, ROLE_SK_PREFIX, ROLES_PK, SK};
use super::{Item, Store, StoreError, WriteSet, condition_held, n, s};
use crate::domain::Account;
use crate::domain::permission::{BuiltinRole, ModuleAccess, Permission, Role, RoleGrants, builtin_role};

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
    /// The role is gone or changed since it was read.
    Stale,
    /// The granter's own roles changed since they were read.
    GranterChanged,
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

    /// Every custom role, by id. Roles are few (an installation has tens), so this reads them
    /// all, page after page.
    pub async fn roles(&self) -> Result<Vec<StoredRole>, StoreError> {
        let items = self
            .client()
            .query()
            .table_name(self.table())
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

    /// Replaces the name, permissions and modules of custom role `read` with those of `role`,
    /// if it is unchanged since it was read and `granter` still holds the roles it was read
    /// with. Holders get the new rights with their next token.
    #[tracing::instrument(skip_all, fields(role_id = %role.id, by = %granter.id))]
    pub async fn update_role(
        &self,
        read: &StoredRole,
        role: &Role,
        granter: &Account,
        now: DateTime<Utc>,
    ) -> Result<RoleUpdate, StoreError> {
        let (pk, sk) = keys::role(&role.id);
        let update = Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression(
                "SET #name = :name, #permissions = :permissions, #modules = :modules, updated_at = :now",
            )
            .condition_expression("updated_at = :read")
            .expression_attribute_names("#name", "name")
            .expression_attribute_names("#permissions", "permissions")
            .expression_attribute_names("#modules", "modules")
            .expression_attribute_values(":name", s(role.name.as_str()))
            .expression_attribute_values(":permissions", serde_dynamo::to_attribute_value(&role.permissions)?)
            .expression_attribute_values(":modules", serde_dynamo::to_attribute_value(&role.modules)?)
            .expression_attribute_values(":now", s(crate::time::format(now)))
            .expression_attribute_values(":read", s(crate::time::format(read.updated_at)))
            .build()?;
        let items = WriteSet::new()
            .with("granter", self.granter_unchanged(granter)?)
            .with("role", TransactWriteItem::builder().update(update).build());
        match self.commit(items).await {
            Ok(()) => Ok(RoleUpdate::Updated),
            Err(error) if error.failed("granter") => Ok(RoleUpdate::GranterChanged),
            Err(error) if error.failed("role") => Ok(RoleUpdate::Stale),
            Err(error) => Err(error),
        }
    }

    /// Deletes custom role `id` unless a user holds it.
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

    /// A transaction item counting one more (`+1`) or one fewer (`-1`) holder of custom role
    /// `id`; it fails when the role does not exist.
    pub(super) fn role_usage(&self, id: &str, delta: i64) -> Result<TransactWriteItem, StoreError> {
        let (pk, sk) = keys::role(id);
        let update = Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression("ADD #users :delta")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#users", "users")
            .expression_attribute_values(":delta", AttributeValue::N(delta.to_string()))
            .build()?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}
