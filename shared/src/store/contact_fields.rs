//! Projects and custom contact fields: small configuration sets, each in one partition.

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use ulid::Ulid;

use super::keys::{self, CONTACT_FIELDS_PK, PROJECTS_PK};
use super::{Item, Store, StoreError, Stored, s, stored_value};
use crate::domain::contact_fields::{ContactField, Project};

impl Store {
    /// Every item of a configuration partition.
    pub(super) async fn partition(&self, pk: &str) -> Result<Vec<Item>, StoreError> {
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
        self.put_new(Stored::item(keys::project(project.id), "project", project)).await
    }

    pub async fn projects(&self) -> Result<Vec<Project>, StoreError> {
        self.partition(PROJECTS_PK).await?.into_iter().map(stored_value).collect()
    }

    /// Creates a custom contact field; `ConditionFailed` when the name is taken.
    pub async fn create_contact_field(&self, field: &ContactField) -> Result<(), StoreError> {
        self.put_new(Stored::item(keys::contact_field(&field.name), "contact_field", field)).await
    }

    /// Changes which projects use custom field `name` and whether it is masked, setting only
    /// what is given (so two admins changing different things don't undo each other); `None`
    /// when there is no such field. Takes effect with the next request: definitions are not
    /// cached, so a field masked now is masked everywhere at once.
    #[tracing::instrument(skip(self, projects))]
    pub async fn update_contact_field(
        &self,
        name: &str,
        projects: Option<&[Ulid]>,
        masked: Option<bool>,
    ) -> Result<Option<ContactField>, StoreError> {
        let mut request = self
            .update_at(keys::contact_field(name))
            .condition_expression("attribute_exists(PK)")
            .return_values(ReturnValue::AllNew);
        let mut sets = Vec::new();
        if let Some(projects) = projects {
            request =
                request.expression_attribute_values(":projects", serde_dynamo::to_attribute_value(projects)?);
            sets.push("projects = :projects");
        }
        if let Some(masked) = masked {
            request = request.expression_attribute_values(":masked", AttributeValue::Bool(masked));
            sets.push("masked = :masked");
        }
        if sets.is_empty() {
            return Err(StoreError::Malformed("a contact field change without changes"));
        }
        let result = request.update_expression(format!("SET {}", sets.join(", "))).send().await;
        match result.map_err(StoreError::from) {
            Ok(output) => output.attributes.map(stored_value).transpose(),
            Err(StoreError::ConditionFailed) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Renames project `id`; `None` when there is no such project.
    #[tracing::instrument(skip(self))]
    pub async fn rename_project(&self, id: Ulid, name: &str) -> Result<Option<Project>, StoreError> {
        let result = self
            .update_at(keys::project(id))
            .update_expression("SET #name = :name")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#name", "name")
            .expression_attribute_values(":name", s(name))
            .send()
            .await;
        match result.map_err(StoreError::from) {
            Ok(_) => Ok(Some(Project { id, name: name.to_owned() })),
            Err(StoreError::ConditionFailed) => Ok(None),
            Err(error) => Err(error),
        }
    }

    pub async fn contact_fields(&self) -> Result<Vec<ContactField>, StoreError> {
        self.partition(CONTACT_FIELDS_PK).await?.into_iter().map(stored_value).collect()
    }
}
