//! Agent forms (a small configuration set in one partition) and their submissions, each stored
//! beside its contact in the same transaction as the contact fields it filled.

use aws_sdk_dynamodb::types::TransactWriteItem;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use ulid::Ulid;
use utoipa::ToSchema;

use super::keys::{self, FORMS_PK, PK, SK, SUBMISSION_SK_PREFIX};
use super::{Item, Page, PageKey, Store, StoreError, Stored, s, stored_value};
use crate::domain::forms::FormDefinition;

/// A form as stored.
pub type StoredForm = super::Versioned<FormDefinition>;

/// One filled form: who, when, the answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Submission {
    pub id: String,
    pub form_id: String,
    pub form_name: String,
    /// The form's project: only its staff (and those who manage settings) see the submission.
    pub project_id: String,
    pub contact_id: String,
    /// The staff member who filled it.
    pub by: String,
    #[serde(with = "crate::time::rfc3339")]
    pub at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub answers: Map<String, Json>,
    /// The contact fields each answer filled (question id → fields): an answer is shown only to
    /// staff who may see all of them, as the fields are when it is shown.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fills: BTreeMap<String, Vec<String>>,
}

/// Write-set name of a submission's item.
pub const SUBMISSION: &str = "submission";

impl Store {
    pub async fn create_form(&self, form: &StoredForm) -> Result<(), StoreError> {
        self.put_new(Stored::item(keys::form(form.id), "form", form)).await
    }

    pub async fn form(&self, id: Ulid) -> Result<Option<StoredForm>, StoreError> {
        self.get_item(keys::form(id)).await?.map(stored_value).transpose()
    }

    /// Every form, oldest first.
    pub async fn forms(&self) -> Result<Vec<StoredForm>, StoreError> {
        self.partition(FORMS_PK).await?.into_iter().map(stored_value).collect()
    }

    /// Replaces form `form.id` if it is still at `form.version - 1`; `false` when it is gone or
    /// changed meanwhile.
    pub async fn replace_form(&self, form: &StoredForm) -> Result<bool, StoreError> {
        self.replace_versioned(keys::form(form.id), "form", form, form.version.max(2)).await
    }

    pub async fn delete_form(&self, id: Ulid) -> Result<bool, StoreError> {
        self.delete_existing(keys::form(id)).await
    }

    /// The item of `submission`, for the transaction that writes the fields it filled.
    pub fn submission_put(&self, submission: &Submission) -> Result<TransactWriteItem, StoreError> {
        let contact =
            Ulid::from_string(&submission.contact_id).map_err(|_| StoreError::Malformed("contact id"))?;
        let id = Ulid::from_string(&submission.id).map_err(|_| StoreError::Malformed("submission id"))?;
        let (pk, sk) = keys::submission(contact, id);
        let mut item: Item = serde_dynamo::to_item(submission)?;
        item.insert(PK.into(), s(pk));
        item.insert(SK.into(), s(sk));
        item.insert("entity".into(), s("form_submission"));
        self.put_if_absent(item)
    }

    /// Deletes every submission of contact `contact_id` (the contact is gone: its answers go
    /// with it). Repeatable: a redelivered deletion finds fewer or none.
    pub async fn delete_submissions(&self, contact_id: Ulid) -> Result<usize, StoreError> {
        let (mut deleted, mut start) = (0, None);
        loop {
            let page = self.submissions(contact_id, 100, start).await?;
            for submission in &page.items {
                let id =
                    Ulid::from_string(&submission.id).map_err(|_| StoreError::Malformed("submission id"))?;
                self.delete_item(keys::submission(contact_id, id)).await?;
                deleted += 1;
            }
            start = page.next;
            if start.is_none() {
                return Ok(deleted);
            }
        }
    }

    /// A page of contact `contact_id`'s submissions, newest first.
    pub async fn submissions(
        &self,
        contact_id: Ulid,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<Submission>, StoreError> {
        let page = self
            .newest_in_partition(keys::record("contacts", contact_id).0, SUBMISSION_SK_PREFIX, limit, start)
            .await?;
        let items = page
            .items
            .into_iter()
            .map(|item| serde_dynamo::from_item(item).map_err(StoreError::from))
            .collect::<Result<_, _>>()?;
        Ok(Page { items, next: page.next })
    }
}
