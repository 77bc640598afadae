//! The administrator count (see `domain::administrators`): one item whose `administrators`
//! attribute moves by `ADD`, inside the transaction of every write that can change who
//! administers (creating staff, changing their roles, disabling or enabling them, changing what a
//! held custom role grants). Each such transaction also holds every fact its move was computed
//! from (the user's status and roles as read, the grants of the custom roles the recount read,
//! a role's holders), so the count equals the number of administrators after every commit, and a
//! decrement holds only while it leaves one: two administrators demoting each other at once
//! leave one of them.
//!
//! Creating or deleting a custom role moves nothing: a new role has no holders, and a role is
//! deleted only while nobody holds it.
//!
//! A table that predates the count has no count item. Every move is conditioned on the item
//! existing, so until it is counted no write can change who administers (such writes answer
//! 503 `administrators_uncounted`); the seeding paths (`portico-local`, `create-admin`,
//! `count-admins`) count the administrators once and create the item.

use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::{ConditionCheck, KeysAndAttributes, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::accounts::{decode_account, role_list};
use super::keys::{self, GSI1, GSI1PK, PK, SK};
use super::{Item, Store, StoreError, Stored, n, s, stored_value};
use crate::domain::administrators::{self, Recount, StaffState};
use crate::domain::permission::Role;
use crate::domain::{Account, AccountKind};

/// The write-set name of the count's item.
pub(super) const COUNT_ITEM: &str = "administrators";
const COUNT: &str = "administrators";

#[derive(Serialize, Deserialize)]
struct AdministratorCount {
    administrators: u64,
}

/// Why the count refused its move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CountRefusal {
    /// The write would leave no administrator.
    LastAdministrator,
    /// The table has no count yet.
    Uncounted,
}

impl Store {
    /// A transaction item moving the count by the recount's delta, or none when it does not move.
    /// A decrement holds only while it leaves at least one administrator; every move only while
    /// the count exists (an increment must not start a count that misses the administrators
    /// already there).
    pub(super) fn administrator_count_move(
        &self,
        recount: &Recount,
    ) -> Result<Option<TransactWriteItem>, StoreError> {
        if recount.delta == 0 {
            return Ok(None);
        }
        let (pk, sk) = keys::administrator_count();
        let update = Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression("ADD #count :delta")
            .expression_attribute_names("#count", COUNT)
            .expression_attribute_values(":delta", n(recount.delta));
        let update = match recount.least_before() {
            Some(least) => update
                .condition_expression("#count >= :least")
                .expression_attribute_values(":least", n(least)),
            None => update.condition_expression("attribute_exists(#count)"),
        };
        Ok(Some(TransactWriteItem::builder().update(update.build()?).build()))
    }

    /// The number of administrators; `None` on a table that has not been counted.
    pub async fn administrator_count(&self) -> Result<Option<u64>, StoreError> {
        let item = self.get_item(keys::administrator_count()).await?;
        Ok(item.map(stored_value::<AdministratorCount>).transpose()?.map(|count| count.administrators))
    }

    /// Why the count's item failed its condition. Only read after a cancellation, to tell the
    /// two apart: the move itself was conditional.
    pub(super) async fn count_refusal(&self) -> Result<CountRefusal, StoreError> {
        Ok(match self.administrator_count().await? {
            Some(_) => CountRefusal::LastAdministrator,
            None => CountRefusal::Uncounted,
        })
    }

    /// The number of administrators, counting them first if the table has no count (a new table,
    /// or one from before the count). For the seeding paths, never a request path: it reads every
    /// staff account. The staff index only says who is staff; their accounts are read again
    /// consistently, so a user demoted a moment ago is not counted. While the count is missing
    /// no write can change who administers (every move needs the item), so nothing changes
    /// between this read and the conditional put that creates the item.
    #[tracing::instrument(skip(self))]
    pub async fn count_administrators(&self) -> Result<u64, StoreError> {
        if let Some(count) = self.administrator_count().await? {
            return Ok(count);
        }
        let (staff, roles) = tokio::try_join!(self.staff(), self.roles())?;
        let ids: Vec<Ulid> = staff.iter().map(|account| account.id).collect();
        let staff = self.accounts_read_again(&ids).await?;
        let custom: Vec<Role> = roles.into_iter().map(|stored| stored.role).collect();
        let states = staff.iter().map(|account| StaffState { status: account.status, roles: &account.roles });
        let count = administrators::count(states, &custom);
        let item = Stored::item(
            keys::administrator_count(),
            "administrator_count",
            AdministratorCount { administrators: count },
        );
        match self.put_new(item).await {
            Ok(()) => {
                tracing::info!(count, "administrators counted");
                Ok(count)
            }
            // Counted by someone else meanwhile.
            Err(StoreError::ConditionFailed) => {
                self.administrator_count().await?.ok_or(StoreError::Malformed("administrator count vanished"))
            }
            Err(error) => Err(error),
        }
    }

    /// Staff accounts `ids`, strongly consistent, in BatchGetItems of 100.
    async fn accounts_read_again(&self, ids: &[Ulid]) -> Result<Vec<Account>, StoreError> {
        let mut accounts = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(100) {
            let mut wanted = KeysAndAttributes::builder().consistent_read(true);
            for id in chunk {
                let (pk, sk) = keys::account(*id);
                wanted = wanted.keys(Item::from([(PK.into(), s(pk)), (SK.into(), s(sk))]));
            }
            for item in self.batch_get(wanted.build()?).await? {
                accounts.push(decode_account(item)?);
            }
        }
        accounts.retain(|account| account.kind == AccountKind::Staff);
        Ok(accounts)
    }

    /// A Query of the staff partition of GSI1, for the caller to complete.
    pub(super) fn staff_query(&self) -> QueryFluentBuilder {
        self.client()
            .query()
            .table_name(self.table())
            .index_name(GSI1)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", GSI1PK)
            .expression_attribute_values(":pk", s(keys::STAFF_PARTITION))
    }

    /// The staff accounts holding custom role `role`, from the staff index. The index is
    /// eventually consistent: a write relying on this list holds each holder unchanged and the
    /// role's holder count equal to its length (`holder_unchanged`, `update_role`).
    #[tracing::instrument(skip(self))]
    pub async fn staff_holding(&self, role: &str) -> Result<Vec<Account>, StoreError> {
        let mut pages = self
            .staff_query()
            .filter_expression("contains(#roles, :role)")
            .expression_attribute_names("#roles", "roles")
            .expression_attribute_values(":role", s(role))
            .into_paginator()
            .items()
            .send();
        let mut holders = Vec::new();
        while let Some(item) = pages.next().await {
            holders.push(decode_account(item?)?);
        }
        Ok(holders)
    }

    /// A transaction item that holds only while staff user `holder` has the status and roles it
    /// was read with.
    pub(super) fn holder_unchanged(&self, holder: &Account) -> Result<TransactWriteItem, StoreError> {
        let (pk, sk) = keys::account(holder.id);
        let check = ConditionCheck::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .condition_expression("kind = :staff AND #status = :status AND #roles = :roles")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#roles", "roles")
            .expression_attribute_values(":staff", s(AccountKind::Staff.as_str()))
            .expression_attribute_values(":status", s(holder.status.as_str()))
            .expression_attribute_values(":roles", role_list(&holder.roles))
            .build()?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }
}
