//! Projects and custom contact fields: small configuration sets, each in one partition.

use serde::{Deserialize, Serialize};

use super::keys::{self, CONTACT_FIELDS_PK, PROJECTS_PK};
use super::{Item, Store, StoreError, s};
use crate::domain::contact_fields::{ContactField, Project};

#[derive(Serialize, Deserialize)]
struct ProjectItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(flatten)]
    project: Project,
}

#[derive(Serialize, Deserialize)]
struct FieldItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(flatten)]
    field: ContactField,
}

impl Store {
    /// Every item of a configuration partition.
    async fn partition(&self, pk: &str) -> Result<Vec<Item>, StoreError> {
        let mut pages = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", s(pk))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut items = Vec::new();
        while let Some(item) = pages.next().await {
            items.push(item?);
        }
        Ok(items)
    }

    pub async fn create_project(&self, project: &Project) -> Result<(), StoreError> {
        let (pk, sk) = keys::project(project.id);
        self.put_new(ProjectItem { pk, sk, project: project.clone() }).await
    }

    pub async fn projects(&self) -> Result<Vec<Project>, StoreError> {
        self.partition(PROJECTS_PK)
            .await?
            .into_iter()
            .map(|item| Ok(serde_dynamo::from_item::<_, ProjectItem>(item)?.project))
            .collect()
    }

    /// Creates a custom contact field; `ConditionFailed` when the name is taken.
    pub async fn create_contact_field(&self, field: &ContactField) -> Result<(), StoreError> {
        let (pk, sk) = keys::contact_field(&field.name);
        self.put_new(FieldItem { pk, sk, field: field.clone() }).await
    }

    pub async fn contact_fields(&self) -> Result<Vec<ContactField>, StoreError> {
        self.partition(CONTACT_FIELDS_PK)
            .await?
            .into_iter()
            .map(|item| Ok(serde_dynamo::from_item::<_, FieldItem>(item)?.field))
            .collect()
    }
}
