//! What the customer portal exposes (SPEC §4, seed 001): per module, whether it is the
//! customer's own contact (`primary`), records tied to that contact by a lookup (`related`) or
//! records every customer may see (`public`); the exposure criteria, in the criteria language
//! with `$user.<field>` for the customer's contact; the fields shown; the order. Pure: the
//! configuration is validated here and turned into a read plan, without I/O.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::criteria::{
    self, CompiledCriteria, Criteria, EqualityOperand, FieldSchema, FieldType, ValidationContext,
};
use crate::domain::contact_fields::{ContactField, ModuleSchema};
use crate::domain::modules::{self, Module};
use crate::error::FieldError;

/// Most fields one module may show.
pub const MAX_SHOWN_FIELDS: usize = 50;

/// How a module's records reach a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Exposure {
    /// The customer's own record (`contacts`).
    Primary,
    /// Records whose lookup (`contact_id`) names the customer's contact.
    Related,
    /// Records every customer may see, within the criteria.
    Public,
}

/// A module's exposure as an administrator configures it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalModuleDefinition {
    pub exposure: Exposure,
    /// For related modules: the field that names the customer's contact (`contact_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookup: Option<String>,
    /// Which records are exposed, in the criteria language; `$user.<field>` reads the
    /// customer's contact. Without criteria every record the exposure reaches is shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub criteria: Option<Criteria>,
    /// The fields customers see; nothing else of a record ever leaves the server.
    pub fields: Vec<String>,
    /// The default order: `created_at` or the module's sort field, `-` for descending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
}

/// How the records of an exposed module are read: always one index, never the whole table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortalRead {
    /// The customer's contact, by its id.
    OwnContact,
    /// The records of the customer's contact (the contact index), by creation.
    ContactRecords,
    /// The records whose key field (`Module::key_field`) equals this, from the key index, in
    /// sort-field order.
    Key(KeySource),
    /// The module's records with the criteria as a filter: without an equality on the key
    /// field nothing narrows the read, so a page may read many records to find a few.
    Module,
}

/// The value a key-index read looks up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    Text(String),
    /// A field of the customer's contact.
    User(String),
}

/// An order of a portal list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortalSort {
    pub by: SortBy,
    pub descending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortBy {
    Created,
    /// The module's sort field.
    Field,
}

impl PortalSort {
    pub fn to_text(self, module: &Module) -> String {
        let name = match self.by {
            SortBy::Created => "created_at",
            SortBy::Field => module.sort_field,
        };
        if self.descending { format!("-{name}") } else { name.to_owned() }
    }
}

/// A module's exposure, validated: what to read, how to filter, what to show.
#[derive(Debug, Clone)]
pub struct ValidPortalModule {
    pub module: &'static Module,
    pub definition: PortalModuleDefinition,
    pub criteria: Option<CompiledCriteria>,
    pub read: PortalRead,
    pub sort: PortalSort,
}

/// The fields of `module` the portal can know: the built-in ones and, for contacts, the custom
/// fields that are not masked (a masked value never reaches a customer, even their own).
pub fn portal_schema<'a>(module: &'static Module, custom: &'a [ContactField]) -> ModuleSchema<'a> {
    let custom = if module.name == "contacts" {
        custom.iter().filter(|field| !field.masked).collect()
    } else {
        Vec::new()
    };
    ModuleSchema { builtin: module, custom }
}

impl ValidPortalModule {
    /// Whether customers see `field`.
    pub fn shows(&self, field: &str) -> bool {
        self.definition.fields.iter().any(|shown| shown == field)
    }

    /// The orders this module's read can give, as `sort` text allows them.
    pub fn parse_sort(&self, text: &str) -> Result<PortalSort, String> {
        parse_sort(self.module, &self.read, &self.definition.fields, text)
    }
}

fn parse_sort(
    module: &Module,
    read: &PortalRead,
    shown: &[String],
    text: &str,
) -> Result<PortalSort, String> {
    let (name, descending) = match text.strip_prefix('-') {
        Some(name) => (name, true),
        None => (text, false),
    };
    let by = if name == "created_at" {
        SortBy::Created
    } else if name == module.sort_field && shown.iter().any(|field| field == name) {
        SortBy::Field
    } else {
        return Err(format!("must be {}", orders(module, read, shown)));
    };
    let possible = match read {
        PortalRead::OwnContact | PortalRead::ContactRecords => by == SortBy::Created,
        PortalRead::Key(_) => by == SortBy::Field,
        PortalRead::Module => true,
    };
    if possible {
        Ok(PortalSort { by, descending })
    } else {
        Err(format!("must be {}", orders(module, read, shown)))
    }
}

fn orders(module: &Module, read: &PortalRead, shown: &[String]) -> String {
    let field = module.sort_field;
    let field_shown = shown.iter().any(|name| name == field);
    match read {
        PortalRead::OwnContact | PortalRead::ContactRecords => "created_at or -created_at".into(),
        PortalRead::Key(_) => format!("{field} or -{field}"),
        PortalRead::Module if field_shown => format!("created_at or {field}, a leading - reverses"),
        PortalRead::Module => "created_at or -created_at".into(),
    }
}

impl PortalModuleDefinition {
    /// Checks the definition for `module_name` against the portal's fields of the module and of
    /// the customer's contact (`custom`: every custom contact field), collecting every error
    /// with its path.
    pub fn validate(
        self,
        module_name: &str,
        custom: &[ContactField],
    ) -> Result<ValidPortalModule, Vec<FieldError>> {
        let Some(module) = modules::module(module_name) else {
            return Err(vec![FieldError::new("module", "is not a module")]);
        };
        let schema = portal_schema(module, custom);
        let user_schema = portal_schema(modules::contacts(), custom);
        let mut errors = Vec::new();
        match (self.exposure == Exposure::Primary, module.name == "contacts") {
            (true, false) => {
                errors.push(FieldError::new("exposure", "only contacts are a customer's primary record"));
            }
            (false, true) => errors.push(FieldError::new(
                "exposure",
                "contacts are exposed only as primary: each customer sees their own",
            )),
            _ => {}
        }
        match (self.exposure, self.lookup.as_deref()) {
            (Exposure::Related, None) => {
                errors
                    .push(FieldError::new("lookup", "is required: the field naming the customer's contact"));
            }
            (Exposure::Related, Some(lookup)) => {
                let is_contact_lookup = matches!(
                    module.fields.field_type(lookup),
                    Some(FieldType::Lookup { module }) if module == "contacts"
                );
                // The contact index follows `contact_id`, the one lookup to contacts a module has.
                if !is_contact_lookup || lookup != "contact_id" {
                    errors.push(FieldError::new(
                        "lookup",
                        format!("must be a lookup of {} to contacts (contact_id)", module.name),
                    ));
                }
            }
            (_, Some(_)) => errors.push(FieldError::new("lookup", "is only for related modules")),
            (_, None) => {}
        }
        if self.fields.is_empty() || self.fields.len() > MAX_SHOWN_FIELDS {
            errors.push(FieldError::new("fields", format!("must name 1 to {MAX_SHOWN_FIELDS} fields")));
        }
        for (index, field) in self.fields.iter().enumerate() {
            let path = format!("fields[{index}]");
            if self.fields[..index].contains(field) {
                errors.push(FieldError::new(path, "is named twice"));
            } else if schema.field_type(field).is_none() {
                let masked = custom.iter().any(|custom| custom.masked && custom.name == *field)
                    && module.name == "contacts";
                errors.push(FieldError::new(
                    path,
                    if masked {
                        "is masked: masked values never reach the portal".to_owned()
                    } else {
                        format!("is not a field of {}", module.name)
                    },
                ));
            }
        }
        let criteria = match &self.criteria {
            None => None,
            Some(criteria) => {
                match criteria::compile(criteria, &schema, &ValidationContext::portal(&user_schema)) {
                    Ok(compiled) => Some(compiled),
                    Err(criteria_errors) => {
                        errors.extend(criteria_errors.into_iter().map(|error| {
                            FieldError::new(
                                format!(
                                    "criteria{}{}",
                                    if error.path.is_empty() { "" } else { "." },
                                    error.path
                                ),
                                error.kind.to_string(),
                            )
                        }));
                        None
                    }
                }
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let read = match self.exposure {
            Exposure::Primary => PortalRead::OwnContact,
            Exposure::Related => PortalRead::ContactRecords,
            Exposure::Public => {
                let key = module
                    .key_field
                    .zip(criteria.as_ref())
                    .and_then(|(field, criteria)| criteria.required_equality(field));
                match key {
                    Some(EqualityOperand::Text(text)) => PortalRead::Key(KeySource::Text(text.to_owned())),
                    Some(EqualityOperand::User(field)) => PortalRead::Key(KeySource::User(field.to_owned())),
                    None => PortalRead::Module,
                }
            }
        };
        let sort_field_shown = self.fields.iter().any(|field| field == module.sort_field);
        if matches!(read, PortalRead::Key(_)) && !sort_field_shown {
            return Err(vec![FieldError::new(
                "fields",
                format!(
                    "must include {}: these {} are read in {} order, which would tell its values",
                    module.sort_field, module.name, module.sort_field
                ),
            )]);
        }
        let sort = match &self.sort {
            Some(text) => parse_sort(module, &read, &self.fields, text)
                .map_err(|message| vec![FieldError::new("sort", message)])?,
            None => match read {
                PortalRead::Key(_) => PortalSort { by: SortBy::Field, descending: false },
                PortalRead::Module if sort_field_shown => PortalSort { by: SortBy::Field, descending: false },
                _ => PortalSort { by: SortBy::Created, descending: true },
            },
        };
        Ok(ValidPortalModule { module, definition: self, criteria, read, sort })
    }
}

/// The fields of a contact that a new customer's registration fills: first and last name from
/// the full name (the last word is the last name).
pub fn split_name(name: &str) -> (Option<String>, String) {
    let name = name.trim();
    match name.rsplit_once(char::is_whitespace) {
        Some((first, last)) if !first.trim().is_empty() => (Some(first.trim().to_owned()), last.to_owned()),
        _ => (None, name.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn definition(json: serde_json::Value) -> PortalModuleDefinition {
        serde_json::from_value(json).expect("definition form")
    }

    fn valid(module: &str, json: serde_json::Value) -> ValidPortalModule {
        definition(json).validate(module, &fields()).expect("valid")
    }

    fn errors(module: &str, json: serde_json::Value) -> Vec<String> {
        let errors = definition(json).validate(module, &fields()).expect_err("invalid");
        errors.into_iter().map(|error| error.field).collect()
    }

    fn fields() -> Vec<ContactField> {
        vec![ContactField {
            name: "credit_score".into(),
            field_type: FieldType::Number,
            projects: Vec::new(),
            unique: false,
            masked: true,
        }]
    }

    #[test]
    fn the_seeds_quotes_are_related_and_filtered_by_value() {
        let quotes = valid(
            "quotes",
            json!({"exposure": "related", "lookup": "contact_id", "fields": ["subject", "stage", "total"],
                   "criteria": {"all": [{"field": "stage", "op": "eq", "value": "Approved"},
                                        {"field": "stage", "op": "ne", "value": "Negotiation"}]}}),
        );
        assert_eq!(quotes.read, PortalRead::ContactRecords);
        assert_eq!(quotes.sort, PortalSort { by: SortBy::Created, descending: true });
        assert!(quotes.shows("stage") && !quotes.shows("valid_until"));
    }

    #[test]
    fn public_modules_with_an_equality_on_their_key_field_read_the_key_index() {
        let products = valid(
            "products",
            json!({"exposure": "public", "fields": ["name", "price"],
                   "criteria": {"field": "region", "op": "eq", "field_ref": "$user.billing_country"}}),
        );
        assert_eq!(products.read, PortalRead::Key(KeySource::User("billing_country".into())));
        assert_eq!(products.sort, PortalSort { by: SortBy::Field, descending: false });
        let enterprise = valid(
            "products",
            json!({"exposure": "public", "fields": ["name"], "sort": "-name",
                   "criteria": {"all": [{"field": "active", "op": "eq", "value": true},
                                        {"field": "region", "op": "eq", "value": "Enterprise"}]}}),
        );
        assert_eq!(enterprise.read, PortalRead::Key(KeySource::Text("Enterprise".into())));
        let any_active = valid(
            "products",
            json!({"exposure": "public", "fields": ["code"],
                   "criteria": {"field": "active", "op": "eq", "value": true}}),
        );
        assert_eq!(any_active.read, PortalRead::Module);
        assert_eq!(any_active.sort, PortalSort { by: SortBy::Created, descending: true });
    }

    #[test]
    fn a_key_read_shows_the_field_that_orders_it() {
        let hidden_order = errors(
            "meetings",
            json!({"exposure": "public", "fields": ["title"],
                   "criteria": {"field": "location", "op": "eq", "field_ref": "$user.billing_city"}}),
        );
        assert_eq!(hidden_order, ["fields"]);
    }

    #[test]
    fn every_mistake_is_named_by_its_path() {
        let named = errors(
            "quotes",
            json!({"exposure": "related", "lookup": "subject", "fields": ["subject", "subject", "colour"],
                   "criteria": {"field": "stage", "op": "eq", "field_ref": "$user.credit_score"}}),
        );
        assert_eq!(named, ["lookup", "fields[1]", "fields[2]", "criteria.field_ref"]);
        assert_eq!(errors("contacts", json!({"exposure": "public", "fields": ["email"]})), ["exposure"]);
        assert_eq!(errors("products", json!({"exposure": "primary", "fields": ["name"]})), ["exposure"]);
        assert_eq!(
            errors("products", json!({"exposure": "public", "lookup": "contact_id", "fields": []})),
            ["lookup", "fields"]
        );
        assert_eq!(
            errors("contacts", json!({"exposure": "primary", "fields": ["credit_score"]})),
            ["fields[0]"]
        );
        assert_eq!(errors("quotes", json!({"exposure": "related", "fields": ["total"]})), ["lookup"]);
        assert_eq!(
            errors(
                "quotes",
                json!({"exposure": "related", "lookup": "contact_id", "fields": ["total"], "sort": "total"})
            ),
            ["sort"]
        );
        assert!(
            serde_json::from_value::<PortalModuleDefinition>(
                json!({"exposure": "public", "fields": [], "extra": 1})
            )
            .is_err()
        );
    }

    #[test]
    fn sorts_follow_the_index_and_the_shown_fields() {
        let meetings = valid(
            "meetings",
            json!({"exposure": "public", "fields": ["title", "starts_at"],
                   "criteria": {"field": "location", "op": "eq", "field_ref": "$user.billing_city"}}),
        );
        assert_eq!(meetings.parse_sort("-starts_at"), Ok(PortalSort { by: SortBy::Field, descending: true }));
        assert!(meetings.parse_sort("created_at").is_err() && meetings.parse_sort("title").is_err());
        let cases = valid("cases", json!({"exposure": "public", "fields": ["status"]}));
        // The sort field (subject) is not shown: ordering by it would tell its values.
        assert!(cases.parse_sort("subject").is_err());
        assert_eq!(
            cases.parse_sort("created_at").map(|sort| sort.to_text(cases.module)),
            Ok("created_at".into())
        );
    }

    #[test]
    fn names_split_at_the_last_word() {
        assert_eq!(split_name(" Patricie  Nováková "), (Some("Patricie".into()), "Nováková".into()));
        assert_eq!(split_name("Anna Marie Svobodová"), (Some("Anna Marie".into()), "Svobodová".into()));
        assert_eq!(split_name("Cher"), (None, "Cher".into()));
    }
}
