//! Projects and the custom contact fields admins define for them (SPEC §6, seed 004): a field
//! belongs to projects, may be unique across contacts, and may be masked from staff without
//! the permission to see masked values.

use serde::{Deserialize, Serialize};
use thiserror::Error;
use ulid::Ulid;

use crate::criteria::{FieldSchema, FieldType};
use crate::domain::modules::Module;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub id: Ulid,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactField {
    /// Case-sensitive, unique among contact fields.
    pub name: String,
    pub field_type: FieldType,
    /// The projects whose staff see the field.
    pub projects: Vec<Ulid>,
    /// No two contacts share a value (enforced with guard items in the same transaction).
    pub unique: bool,
    /// Hidden from staff without `contacts.view_masked`.
    pub masked: bool,
}

pub const MAX_FIELD_NAME_CHARS: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FieldNameError {
    #[error("must be 1 to {MAX_FIELD_NAME_CHARS} characters without leading or trailing spaces")]
    Length,
    #[error("must not contain a dot")]
    Dot,
    #[error("is a built-in contact field")]
    BuiltIn,
    #[error("is reserved: list queries use it as a parameter")]
    Reserved,
}

/// Query parameters of record lists; every other parameter is a field to match, so no field
/// may be named like these.
pub const LIST_PARAMETERS: [&str; 5] = ["limit", "cursor", "where", "sort", "owner_id"];

/// Checks a new custom field's name against the `contacts` module's own fields.
pub fn check_field_name(name: &str, contacts: &Module) -> Result<(), FieldNameError> {
    if name.is_empty() || name.trim() != name || name.chars().count() > MAX_FIELD_NAME_CHARS {
        return Err(FieldNameError::Length);
    }
    if name.contains('.') {
        return Err(FieldNameError::Dot);
    }
    if contacts.fields.field_type(name).is_some() {
        return Err(FieldNameError::BuiltIn);
    }
    if LIST_PARAMETERS.contains(&name) {
        return Err(FieldNameError::Reserved);
    }
    Ok(())
}

/// The fields of a module one staff member works with: the built-in ones and, for contacts,
/// the custom fields of their projects (all custom fields for those who manage settings).
#[derive(Debug, Clone)]
pub struct ModuleSchema<'a> {
    pub builtin: &'static Module,
    pub custom: Vec<&'a ContactField>,
}

impl<'a> ModuleSchema<'a> {
    /// A module without custom fields.
    pub fn builtin(module: &'static Module) -> Self {
        Self { builtin: module, custom: Vec::new() }
    }

    /// The custom fields visible to a member of `projects` (`all`: every field).
    pub fn for_staff(
        builtin: &'static Module,
        fields: &'a [ContactField],
        projects: &[Ulid],
        all: bool,
    ) -> Self {
        let custom = fields
            .iter()
            .filter(|field| all || field.projects.iter().any(|project| projects.contains(project)))
            .collect();
        Self { builtin, custom }
    }

    pub fn custom_field(&self, name: &str) -> Option<&'a ContactField> {
        self.custom.iter().copied().find(|field| field.name == name)
    }
}

impl FieldSchema for ModuleSchema<'_> {
    fn field_type(&self, field: &str) -> Option<&FieldType> {
        self.builtin
            .fields
            .field_type(field)
            .or_else(|| self.custom_field(field).map(|custom| &custom.field_type))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::modules::module;

    fn field(name: &str, projects: Vec<Ulid>) -> ContactField {
        ContactField {
            name: name.into(),
            field_type: FieldType::Text,
            projects,
            unique: false,
            masked: false,
        }
    }

    #[test]
    fn names() {
        let contacts = module("contacts").expect("contacts");
        assert_eq!(check_field_name("Loyalty ID", contacts), Ok(()));
        assert_eq!(check_field_name("email", contacts), Err(FieldNameError::BuiltIn));
        assert_eq!(check_field_name("a.b", contacts), Err(FieldNameError::Dot));
        assert_eq!(check_field_name("sort", contacts), Err(FieldNameError::Reserved));
        assert!(crate::domain::modules::modules().iter().all(|module| {
            LIST_PARAMETERS.iter().all(|parameter| module.fields.field_type(parameter).is_none())
        }));
        assert_eq!(check_field_name(" padded", contacts), Err(FieldNameError::Length));
    }

    #[test]
    fn staff_see_their_projects_fields() {
        let (sales, support) = (Ulid::generate(), Ulid::generate());
        let fields = vec![field("Campaign", vec![sales]), field("Ticket", vec![support])];
        let contacts = module("contacts").expect("contacts");
        let schema = ModuleSchema::for_staff(contacts, &fields, &[sales], false);
        assert!(schema.field_type("Campaign").is_some());
        assert!(schema.field_type("Ticket").is_none());
        assert!(schema.field_type("email").is_some(), "built-in fields are always there");
        assert!(ModuleSchema::for_staff(contacts, &fields, &[], true).field_type("Ticket").is_some());
        assert!(schema.field_type("campaign").is_none(), "names are case-sensitive");
    }
}
