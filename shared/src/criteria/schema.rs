//! Field definitions that criteria are validated against.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::BuildHasher;

use serde::{Deserialize, Serialize};

/// The type of a module field, which decides the operators and values a condition on it
/// may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FieldType {
    /// Free text.
    Text,
    /// An exact decimal.
    Number,
    /// True or false.
    Bool,
    /// A calendar day (values are midnight UTC).
    Date,
    /// An instant.
    DateTime,
    /// An e-mail address (compared as text).
    Email,
    /// A phone number (compared as text).
    Phone,
    /// One of a fixed set of texts.
    Select {
        /// The allowed values.
        options: Vec<String>,
    },
    /// The id of a record in another module.
    Lookup {
        /// The module the id points into.
        module: String,
    },
    /// A list of texts (tags, multi-select).
    List,
}

/// What a field's values are compared as; field types of one kind compare with each other
/// (a select field can be matched against a text field of the portal user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Number,
    Bool,
    Date,
    List,
}

impl FieldType {
    /// A select field with the given options.
    pub fn select<I: IntoIterator<Item = S>, S: Into<String>>(options: I) -> FieldType {
        FieldType::Select { options: options.into_iter().map(Into::into).collect() }
    }

    /// A lookup field into `module`.
    pub fn lookup(module: impl Into<String>) -> FieldType {
        FieldType::Lookup { module: module.into() }
    }

    pub(crate) fn kind(&self) -> Kind {
        match self {
            FieldType::Text
            | FieldType::Email
            | FieldType::Phone
            | FieldType::Select { .. }
            | FieldType::Lookup { .. } => Kind::Text,
            FieldType::Number => Kind::Number,
            FieldType::Bool => Kind::Bool,
            FieldType::Date | FieldType::DateTime => Kind::Date,
            FieldType::List => Kind::List,
        }
    }

    /// The type's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            FieldType::Text => "text",
            FieldType::Number => "number",
            FieldType::Bool => "bool",
            FieldType::Date => "date",
            FieldType::DateTime => "date-time",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
            FieldType::Select { .. } => "select",
            FieldType::Lookup { .. } => "lookup",
            FieldType::List => "list",
        }
    }
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A module's field definitions: name → type. Implemented for plain maps and [`Fields`] so
/// callers can validate against whatever holds their module definitions.
pub trait FieldSchema {
    /// The type of `field` (case-sensitive), or `None` if the module has no such field.
    fn field_type(&self, field: &str) -> Option<&FieldType>;
}

impl<S: BuildHasher> FieldSchema for HashMap<String, FieldType, S> {
    fn field_type(&self, field: &str) -> Option<&FieldType> {
        self.get(field)
    }
}

impl FieldSchema for BTreeMap<String, FieldType> {
    fn field_type(&self, field: &str) -> Option<&FieldType> {
        self.get(field)
    }
}

/// A simple, ordered field map with a builder.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fields(BTreeMap<String, FieldType>);

impl Fields {
    /// No fields.
    pub fn new() -> Fields {
        Fields::default()
    }

    /// Adds (or replaces) a field.
    pub fn with(mut self, name: impl Into<String>, field_type: FieldType) -> Fields {
        self.0.insert(name.into(), field_type);
        self
    }

    /// The fields, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &FieldType)> {
        self.0.iter().map(|(name, field_type)| (name.as_str(), field_type))
    }
}

impl FieldSchema for Fields {
    fn field_type(&self, field: &str) -> Option<&FieldType> {
        self.0.get(field)
    }
}

impl<N: Into<String>> FromIterator<(N, FieldType)> for Fields {
    fn from_iter<I: IntoIterator<Item = (N, FieldType)>>(fields: I) -> Fields {
        Fields(fields.into_iter().map(|(name, field_type)| (name.into(), field_type)).collect())
    }
}
