//! Labels, their name guards, and attaching labels to customers.
//!
//! A customer's labels are a string set on the account (`ADD`/`DELETE`), and each label counts
//! its customers in `usage`, both changed in one transaction, so a label in use is never deleted.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, KeysAndAttributes, TransactWriteItem, Update};
use serde::{Deserialize, Serialize};
use ulid::Ulid;

use super::keys::{self, LABEL_SK_PREFIX, LABELS_PK, PK, SK};
use super::{Item, Page, PageKey, Store, StoreError, WriteSet, n, page_key_from_item, page_key_to_item, s};
use crate::domain::lifecycle::Stage;
use crate::domain::{Colour, Label};

#[derive(Serialize, Deserialize)]
struct LabelItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(default)]
    entity: String,
    id: Ulid,
    name: String,
    description: String,
    colour: Colour,
    #[serde(default)]
    usage: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stage: Option<Stage>,
}

impl From<LabelItem> for Label {
    fn from(item: LabelItem) -> Self {
        Self {
            id: item.id,
            name: item.name,
            description: item.description,
            colour: item.colour,
            usage: item.usage,
            stage: item.stage,
        }
    }
}

fn decode_label(item: Item) -> Result<Label, StoreError> {
    Ok(serde_dynamo::from_item::<_, LabelItem>(item)?.into())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelWrite {
    Done,
    NameTaken,
    /// The label changed or vanished since it was read.
    Stale,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelDeletion {
    Deleted,
    NotFound,
    InUse,
    /// A lifecycle stage's label.
    BuiltIn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelLink {
    Changed,
    /// Already attached (attach) or not attached (detach): nothing to do.
    Unchanged,
    NoSuchCustomer,
    NoSuchLabel,
}

impl Store {
    fn name_guard(&self, label: &Label) -> Result<TransactWriteItem, StoreError> {
        let (pk, sk) = keys::label_name_guard(&label.name);
        let guard = Item::from([
            (PK.into(), s(pk)),
            (SK.into(), s(sk)),
            ("entity".into(), s("label_name_guard")),
            ("label_id".into(), s(label.id.to_string())),
        ]);
        self.put_if_absent(guard)
    }

    fn release_name_guard(&self, label: &Label) -> Result<TransactWriteItem, StoreError> {
        let (pk, sk) = keys::label_name_guard(&label.name);
        let delete = Delete::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .condition_expression("label_id = :id")
            .expression_attribute_values(":id", s(label.id.to_string()))
            .build()?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    #[tracing::instrument(skip_all, fields(label_id = %label.id))]
    pub async fn create_label(&self, label: &Label) -> Result<LabelWrite, StoreError> {
        let (pk, sk) = keys::label(label.id);
        let item = LabelItem {
            pk,
            sk,
            entity: "label".into(),
            id: label.id,
            name: label.name.clone(),
            description: label.description.clone(),
            colour: label.colour.clone(),
            usage: 0,
            stage: label.stage,
        };
        let items = WriteSet::new()
            .with("name_guard", self.name_guard(label)?)
            .with("label", self.put_if_absent(serde_dynamo::to_item(item)?)?);
        match self.commit(items).await {
            Ok(()) => Ok(LabelWrite::Done),
            Err(error) if error.failed("name_guard") => Ok(LabelWrite::NameTaken),
            Err(error) => Err(error),
        }
    }

    pub async fn label(&self, id: Ulid) -> Result<Option<Label>, StoreError> {
        self.get_item(keys::label(id)).await?.map(decode_label).transpose()
    }

    /// The labels of `ids` (a customer's: at most a few dozen), in one BatchGetItem; gone ones
    /// left out.
    pub async fn labels_by_id(&self, ids: &[Ulid]) -> Result<Vec<Label>, StoreError> {
        let ids: std::collections::BTreeSet<&Ulid> = ids.iter().collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut wanted = KeysAndAttributes::builder();
        for id in ids {
            let (pk, sk) = keys::label(*id);
            wanted = wanted.keys(Item::from([(PK.into(), s(pk)), (SK.into(), s(sk))]));
        }
        let mut labels: Vec<Label> =
            self.batch_get(wanted.build()?).await?.into_iter().map(decode_label).collect::<Result<_, _>>()?;
        labels.sort_by_key(|label| label.name.to_lowercase());
        Ok(labels)
    }

    pub async fn labels(&self, limit: i32, start: Option<PageKey>) -> Result<Page<Label>, StoreError> {
        super::check_start(start.as_ref(), (PK, LABELS_PK), SK, Some(LABEL_SK_PREFIX))?;
        let output = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
            .expression_attribute_values(":pk", s(LABELS_PK))
            .expression_attribute_values(":prefix", s(LABEL_SK_PREFIX))
            .limit(limit)
            .set_exclusive_start_key(start.map(page_key_to_item))
            .send()
            .await?;
        let items =
            output.items.unwrap_or_default().into_iter().map(decode_label).collect::<Result<_, _>>()?;
        Ok(Page { items, next: page_key_from_item(output.last_evaluated_key)? })
    }

    /// Saves `updated` over `current` (as read); a new name moves the name guard in the same transaction.
    #[tracing::instrument(skip_all, fields(label_id = %current.id))]
    pub async fn update_label(&self, current: &Label, updated: &Label) -> Result<LabelWrite, StoreError> {
        let (pk, sk) = keys::label(current.id);
        let update = Update::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression("SET #name = :name, description = :description, colour = :colour")
            .condition_expression("#name = :current_name")
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":name", s(updated.name.as_str()))
            .expression_attribute_values(":description", s(updated.description.as_str()))
            .expression_attribute_values(":colour", s(String::from(updated.colour.clone())))
            .expression_attribute_values(":current_name", s(current.name.as_str()))
            .build()?;
        let renamed = current.name.to_lowercase() != updated.name.to_lowercase();
        let mut items = WriteSet::new();
        if renamed {
            items.add("name_guard", self.name_guard(updated)?);
            items.add("old_name_guard", self.release_name_guard(current)?);
        }
        items.add("label", TransactWriteItem::builder().update(update).build());
        match self.commit(items).await {
            Ok(()) => Ok(LabelWrite::Done),
            Err(error) if error.failed("name_guard") => Ok(LabelWrite::NameTaken),
            Err(StoreError::Cancelled(_)) => Ok(LabelWrite::Stale),
            Err(error) => Err(error),
        }
    }

    #[tracing::instrument(skip(self), fields(label_id = %id))]
    pub async fn delete_label(&self, id: Ulid) -> Result<LabelDeletion, StoreError> {
        let Some(label) = self.label(id).await? else { return Ok(LabelDeletion::NotFound) };
        if label.stage.is_some() {
            return Ok(LabelDeletion::BuiltIn);
        }
        if label.usage > 0 {
            return Ok(LabelDeletion::InUse);
        }
        let (pk, sk) = keys::label(id);
        let delete = Delete::builder()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .condition_expression(
                "attribute_exists(PK) AND attribute_not_exists(stage) AND (attribute_not_exists(#usage) OR #usage = :zero)",
            )
            .expression_attribute_names("#usage", "usage")
            .expression_attribute_values(":zero", n(0))
            .build()?;
        let items = WriteSet::new()
            .with("label", TransactWriteItem::builder().delete(delete).build())
            .with("name_guard", self.release_name_guard(&label)?);
        match self.commit(items).await {
            Ok(()) => Ok(LabelDeletion::Deleted),
            // Attached (or deleted) between the read and the write: report what is true now.
            Err(StoreError::Cancelled(_)) => match self.label(id).await? {
                Some(label) if label.stage.is_some() => Ok(LabelDeletion::BuiltIn),
                Some(_) => Ok(LabelDeletion::InUse),
                None => Ok(LabelDeletion::NotFound),
            },
            Err(error) => Err(error),
        }
    }

    /// Attaches (`attach = true`) or detaches a label, keeping the label's usage count in step.
    #[tracing::instrument(skip(self), fields(account_id = %account_id, label_id = %label_id))]
    pub async fn link_label(
        &self,
        account_id: Ulid,
        label_id: Ulid,
        attach: bool,
    ) -> Result<LabelLink, StoreError> {
        let (account_pk, account_sk) = keys::account(account_id);
        let set = AttributeValue::Ss(vec![label_id.to_string()]);
        let label_value = s(label_id.to_string());
        let account_update = if attach {
            Update::builder()
                .update_expression("ADD labels :set")
                .condition_expression(
                    "attribute_exists(PK) AND kind = :customer AND NOT contains(labels, :label)",
                )
                .expression_attribute_values(":customer", s(crate::domain::AccountKind::Customer.as_str()))
        } else {
            Update::builder()
                .update_expression("DELETE labels :set")
                .condition_expression("attribute_exists(PK) AND contains(labels, :label)")
        }
        .table_name(self.table())
        .key(PK, s(account_pk))
        .key(SK, s(account_sk))
        .expression_attribute_values(":set", set)
        .expression_attribute_values(":label", label_value)
        .build()?;

        let (label_pk, label_sk) = keys::label(label_id);
        let mut usage_update = Update::builder()
            .table_name(self.table())
            .key(PK, s(label_pk))
            .key(SK, s(label_sk))
            .update_expression("ADD #usage :delta")
            .expression_attribute_names("#usage", "usage");
        usage_update = if attach {
            usage_update
                // A lifecycle label moves through `move_lifecycle` (one stage at a time).
                .condition_expression("attribute_exists(PK) AND attribute_not_exists(stage)")
                .expression_attribute_values(":delta", n(1))
        } else {
            // A plain link to a label adopted as a stage's since can still be taken off.
            usage_update
                .condition_expression("attribute_exists(PK) AND #usage > :zero")
                .expression_attribute_values(":delta", n(-1))
                .expression_attribute_values(":zero", n(0))
        };
        let usage_update = usage_update.build()?;
        let items = WriteSet::new()
            .with("customer", TransactWriteItem::builder().update(account_update).build())
            .with("usage", TransactWriteItem::builder().update(usage_update).build());
        match self.commit(items).await {
            Ok(()) => Ok(LabelLink::Changed),
            Err(error @ StoreError::Cancelled(_)) => {
                self.explain_failed_link(account_id, label_id, &error).await
            }
            Err(error) => Err(error),
        }
    }

    /// Tells why an attach/detach transaction was cancelled, from what is stored now.
    async fn explain_failed_link(
        &self,
        account_id: Ulid,
        label_id: Ulid,
        error: &StoreError,
    ) -> Result<LabelLink, StoreError> {
        let customer = self
            .account(account_id)
            .await?
            .filter(|account| account.kind == crate::domain::AccountKind::Customer);
        if customer.is_none() {
            return Ok(LabelLink::NoSuchCustomer);
        }
        if self.label(label_id).await?.is_none() {
            return Ok(LabelLink::NoSuchLabel);
        }
        if error.failed("customer") {
            return Ok(LabelLink::Unchanged);
        }
        Err(StoreError::ConditionFailed)
    }
}
