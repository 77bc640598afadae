//! Lifecycle stages of customers: the three built-in labels, moving a customer between stages
//! (stage, label and the labels' usage counts in one transaction), the customer's last activity,
//! and the customers of a stage inactive since a time, read from an index, never a scan.
//!
//! A customer with a stage is in GSI2 under `LIFECYCLE#<stage>`, sorted by its last activity
//! (`GSI2SK`, the stored timestamp format), so "Prospects with no activity for 90 days" is one
//! range query.

use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::keys::{self, GSI2, GSI2PK, GSI2SK, PK, SK};
use super::labels::LabelWrite;
use super::{
    Page, PageKey, Store, StoreError, Stored, WriteSet, condition_held, n, page_key_from_item,
    page_key_to_item, s, stored_value,
};
use crate::domain::lifecycle::{MoveFrom, Stage};
use crate::domain::{Account, AccountKind, Label};

/// The ids of the built-in labels, by stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleLabels {
    lead: Ulid,
    prospect: Ulid,
    customer: Ulid,
}

impl LifecycleLabels {
    pub fn of(&self, stage: Stage) -> Ulid {
        match stage {
            Stage::Lead => self.lead,
            Stage::Prospect => self.prospect,
            Stage::Customer => self.customer,
        }
    }

    /// The stage whose built-in label is `label`.
    pub fn stage_of(&self, label: Ulid) -> Option<Stage> {
        Stage::ALL.into_iter().find(|stage| self.of(*stage) == label)
    }
}

/// What became of a move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleMove {
    Moved {
        from: Option<Stage>,
    },
    /// Already at the target.
    Unchanged,
    /// The customer is at a stage the move does not start from.
    NotAllowed {
        current: Option<Stage>,
    },
    NoSuchCustomer,
}

/// Write-set name of the account's part of a move.
const CUSTOMER: &str = "customer";
/// Attempts at a move whose account changed between the read and the write.
const MOVE_ATTEMPTS: usize = 5;

impl Store {
    /// The built-in labels: made at first need (a label of a stage's name that exists is adopted
    /// as the built-in one), then remembered in one item and by the process — they are never
    /// deleted or renamed, so the ids never change.
    pub async fn lifecycle_labels(&self) -> Result<LifecycleLabels, StoreError> {
        self.lifecycle_labels
            .get_or_try_init(|| async {
                if let Some(item) = self.get_item(keys::lifecycle_labels()).await? {
                    return stored_value(item);
                }
                let (lead, prospect, customer) = tokio::try_join!(
                    self.builtin_label(Stage::Lead),
                    self.builtin_label(Stage::Prospect),
                    self.builtin_label(Stage::Customer),
                )?;
                let labels = LifecycleLabels { lead, prospect, customer };
                // Racing first needs put the same ids: each adopts the label the other made.
                self.put(Stored::item(keys::lifecycle_labels(), "lifecycle_labels", labels)).await?;
                Ok(labels)
            })
            .await
            .copied()
    }

    /// Makes the built-in label of `stage`, or marks the label of that name as it.
    async fn builtin_label(&self, stage: Stage) -> Result<Ulid, StoreError> {
        let label = Label {
            id: Ulid::generate(),
            name: stage.as_str().to_owned(),
            description: stage.default_description().to_owned(),
            colour: stage.default_colour(),
            usage: 0,
            stage: Some(stage),
        };
        match self.create_label(&label).await? {
            LabelWrite::Done => return Ok(label.id),
            LabelWrite::NameTaken | LabelWrite::Stale => {}
        }
        let guard = self.get_item(keys::label_name_guard(stage.as_str())).await?;
        let id = guard
            .as_ref()
            .and_then(|guard| guard.get("label_id"))
            .and_then(|id| id.as_s().ok())
            .and_then(|id| Ulid::from_string(id).ok())
            .ok_or(StoreError::Malformed("label name guard"))?;
        self.update_at(keys::label(id))
            .update_expression("SET stage = :stage")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":stage", s(stage.as_str()))
            .send()
            .await?;
        Ok(id)
    }

    /// Moves customer `account_id` to `to` (`None`: no stage) if its stage is one `from`
    /// allows, with `also` (an effect's marker) in the same transaction. The account is read,
    /// then written on the condition that its stage is still the one read.
    #[tracing::instrument(skip(self, from, also), fields(account_id = %account_id))]
    pub async fn move_lifecycle(
        &self,
        account_id: Ulid,
        to: Option<Stage>,
        from: &MoveFrom,
        also: impl Fn() -> Result<WriteSet, StoreError>,
    ) -> Result<LifecycleMove, StoreError> {
        let labels = self.lifecycle_labels().await?;
        for _ in 0..MOVE_ATTEMPTS {
            let Some(account) =
                self.account(account_id).await?.filter(|account| account.kind == AccountKind::Customer)
            else {
                return Ok(LifecycleMove::NoSuchCustomer);
            };
            let current = account.lifecycle;
            if current == to {
                return Ok(LifecycleMove::Unchanged);
            }
            if !from.allows(current) {
                return Ok(LifecycleMove::NotAllowed { current });
            }
            let mut items = WriteSet::new().with(CUSTOMER, self.stage_update(&account, to, &labels)?);
            for (stage, delta) in [(to, 1), (current, -1)] {
                if let Some(stage) = stage {
                    items.add(
                        format!("usage:{}", stage.as_str()),
                        self.usage_change(labels.of(stage), delta)?,
                    );
                }
            }
            items.append(also()?);
            match self.commit(items).await {
                Ok(()) => return Ok(LifecycleMove::Moved { from: current }),
                // Moved (or gone) since the read: judge again on what is there now.
                Err(error) if error.failed(CUSTOMER) => continue,
                // Another move held a label's count (three items every move touches): a
                // moment later it is free.
                Err(error)
                    if error.cancellation().is_some_and(|cancelled| !cancelled.conflicted.is_empty()) =>
                {
                    let jitter = rand::random_range(10..60);
                    tokio::time::sleep(std::time::Duration::from_millis(jitter)).await;
                    continue;
                }
                Err(error) => return Err(error),
            }
        }
        Err(StoreError::Unavailable("the customer's stage kept changing during a move".into()))
    }

    fn stage_update(
        &self,
        account: &Account,
        to: Option<Stage>,
        labels: &LifecycleLabels,
    ) -> Result<TransactWriteItem, StoreError> {
        let (pk, sk) = keys::account(account.id);
        let mut update = Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .expression_attribute_values(":customer", s(AccountKind::Customer.as_str()));
        update = match to {
            Some(stage) => update
                .update_expression(
                    "SET lifecycle = :stage, lifecycle_label = :label, GSI2PK = :partition, \
                     GSI2SK = if_not_exists(GSI2SK, :since)",
                )
                .expression_attribute_values(":stage", s(stage.as_str()))
                .expression_attribute_values(":label", s(labels.of(stage).to_string()))
                .expression_attribute_values(":partition", s(keys::customers_at(stage)))
                // A customer never active is inactive since registering.
                .expression_attribute_values(":since", s(crate::time::format(account.created_at))),
            None => update.update_expression("REMOVE lifecycle, lifecycle_label, GSI2PK"),
        };
        update = match account.lifecycle {
            Some(current) => update
                .condition_expression("kind = :customer AND lifecycle = :current")
                .expression_attribute_values(":current", s(current.as_str())),
            None => update.condition_expression("kind = :customer AND attribute_not_exists(lifecycle)"),
        };
        Ok(TransactWriteItem::builder().update(update.build()?).build())
    }

    fn usage_change(&self, label: Ulid, delta: i64) -> Result<TransactWriteItem, StoreError> {
        let (pk, sk) = keys::label(label);
        let update = Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression("ADD #usage :delta")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#usage", "usage")
            .expression_attribute_values(":delta", n(delta))
            .build()?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The write that records a customer's sign-in at `at` as activity (joins the sign-in's
    /// transaction: no round trip of its own).
    pub fn sign_in_activity(
        &self,
        account_id: Ulid,
        at: DateTime<Utc>,
    ) -> Result<TransactWriteItem, StoreError> {
        let (pk, sk) = keys::account(account_id);
        let update = Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression("SET last_activity_at = :at, GSI2SK = :at")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_values(":at", s(crate::time::format(at)))
            .build()?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Records activity of customer `account_id` at `at`, unless a later one is recorded (a
    /// redelivered event never moves it back). No customer: nothing.
    pub async fn record_activity(&self, account_id: Ulid, at: DateTime<Utc>) -> Result<(), StoreError> {
        let outcome = self
            .update_at(keys::account(account_id))
            .update_expression("SET last_activity_at = :at, GSI2SK = :at")
            .condition_expression(
                "kind = :customer AND (attribute_not_exists(last_activity_at) OR last_activity_at < :at)",
            )
            .expression_attribute_values(":at", s(crate::time::format(at)))
            .expression_attribute_values(":customer", s(AccountKind::Customer.as_str()))
            .send()
            .await;
        condition_held(outcome).map(|_| ())
    }

    /// Where time rule `rule`'s next run goes on among the customers at `stage` (`None`: from
    /// the least recently active).
    pub async fn time_rule_cursor(&self, rule: Ulid, stage: Stage) -> Result<Option<PageKey>, StoreError> {
        self.get_item(keys::time_rule_cursor(rule, stage)).await?.map(stored_value).transpose()
    }

    /// Saves (or, at the end, clears) time rule `rule`'s place among the customers at `stage`.
    pub async fn set_time_rule_cursor(
        &self,
        rule: Ulid,
        stage: Stage,
        cursor: Option<&PageKey>,
    ) -> Result<(), StoreError> {
        let key = keys::time_rule_cursor(rule, stage);
        match cursor {
            Some(cursor) => self.put(Stored::item(key, "time_rule_cursor", cursor)).await,
            None => self.delete_item(key).await,
        }
    }

    /// Customers at `stage` whose last activity is before `before`, least recently active first.
    pub async fn inactive_customers(
        &self,
        stage: Stage,
        before: DateTime<Utc>,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<Account>, StoreError> {
        let output = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(GSI2)
            .key_condition_expression("#pk = :partition AND #sk < :before")
            .expression_attribute_names("#pk", GSI2PK)
            .expression_attribute_names("#sk", GSI2SK)
            .expression_attribute_values(":partition", s(keys::customers_at(stage)))
            .expression_attribute_values(":before", s(crate::time::format(before)))
            .limit(limit)
            .set_exclusive_start_key(start.map(page_key_to_item))
            .send()
            .await?;
        let items = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(super::accounts::decode_account)
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next: page_key_from_item(output.last_evaluated_key)? })
    }
}
