//! CRM modules and their typed fields (SPEC §6), and the conversion of field values between
//! JSON (the API), criteria values (evaluation) — pure, no I/O.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value as Json;

use crate::criteria::{FieldSchema, FieldType, Fields, Number, Value};
use crate::domain::contact::{Email, Phone};

/// A built-in module: its name and field definitions.
#[derive(Debug)]
pub struct Module {
    pub name: &'static str,
    /// The field records are indexed by besides creation and last change (`?sort=`): a text
    /// (ordered ignoring case), a date or a date-time.
    pub sort_field: &'static str,
    /// The field records are also found by through their value (GSI8, `KEY#<module>#<field>#<folded
    /// value>`): contacts by e-mail (a new portal account links to its contact), products by
    /// region and meetings by location (public portal exposure compares them with the
    /// customer's contact). Fixed in code like the fields, so no index ever needs rebuilding.
    pub key_field: Option<&'static str>,
    pub fields: Fields,
}

impl Module {
    /// Whether records of this module link to a contact through `contact_id`.
    pub fn has_contact(&self) -> bool {
        self.fields.field_type("contact_id").is_some()
    }
}

fn select(options: &[&str]) -> FieldType {
    FieldType::select(options.iter().copied())
}

fn contact() -> FieldType {
    FieldType::lookup("contacts")
}

fn build() -> Vec<Module> {
    use FieldType::*;
    let module = |name, sort_field, fields: Vec<(&str, FieldType)>| Module {
        name,
        sort_field,
        key_field: match name {
            "contacts" => Some("email"),
            "products" => Some("region"),
            "meetings" => Some("location"),
            _ => None,
        },
        fields: fields.into_iter().collect(),
    };
    vec![
        module(
            "contacts",
            "last_name",
            vec![
                ("first_name", Text),
                ("last_name", Text),
                ("email", Email),
                ("phone", Phone),
                ("mobile", Phone),
                ("billing_country", Text),
                ("billing_city", Text),
                ("account_id", FieldType::lookup("accounts")),
                ("lifecycle", select(&["Lead", "Prospect", "Customer"])),
            ],
        ),
        module(
            "accounts",
            "name",
            vec![
                ("name", Text),
                ("industry", Text),
                ("billing_country", Text),
                ("billing_city", Text),
                ("website", Text),
            ],
        ),
        module(
            "deals",
            "close_date",
            vec![
                ("name", Text),
                ("amount", Number),
                ("probability", Number),
                ("stage", select(&["Qualification", "Negotiation", "Closed Won", "Closed Lost"])),
                ("close_date", Date),
                ("contact_id", contact()),
                ("account_id", FieldType::lookup("accounts")),
            ],
        ),
        module(
            "quotes",
            "valid_until",
            vec![
                ("subject", Text),
                ("stage", select(&["Draft", "Negotiation", "Approved", "Rejected"])),
                ("total", Number),
                ("valid_until", Date),
                ("contact_id", contact()),
            ],
        ),
        module(
            "products",
            "name",
            vec![("name", Text), ("code", Text), ("price", Number), ("region", Text), ("active", Bool)],
        ),
        module(
            "invoices",
            "due_date",
            vec![
                ("number", Text),
                ("status", select(&["Draft", "Sent", "Paid", "Overdue"])),
                ("total", Number),
                ("due_date", Date),
                ("contact_id", contact()),
            ],
        ),
        module(
            "cases",
            "subject",
            vec![
                ("subject", Text),
                ("status", select(&["New", "Open", "Escalated", "Closed"])),
                ("priority", select(&["Low", "Medium", "High"])),
                ("contact_id", contact()),
            ],
        ),
        module(
            "meetings",
            "starts_at",
            vec![
                ("title", Text),
                ("starts_at", DateTime),
                ("ends_at", DateTime),
                ("location", Text),
                ("contact_id", contact()),
            ],
        ),
        module(
            "deliveries",
            "scheduled_for",
            vec![
                ("reference", Text),
                ("status", select(&["Scheduled", "Out for delivery", "Delivered", "Failed"])),
                ("address", Text),
                ("scheduled_for", DateTime),
                ("contact_id", contact()),
            ],
        ),
        module(
            "tasks",
            "due_date",
            vec![
                ("subject", Text),
                ("status", select(&["Open", "In progress", "Done"])),
                ("due_date", Date),
                ("contact_id", contact()),
                ("tags", List),
            ],
        ),
    ]
}

/// A CRM record: typed field values of its module, plus ownership, version and who changed it
/// last through what.
#[derive(Debug, Clone, PartialEq)]
pub struct CrmRecord {
    pub id: ulid::Ulid,
    pub module: &'static Module,
    pub owner_id: ulid::Ulid,
    /// Raised by every write; PATCH must name the version it read (optimistic concurrency).
    pub version: u64,
    pub fields: BTreeMap<String, Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Who made the last write: a staff account, or Portico itself.
    pub updated_by: Actor,
    /// Through what the last write came.
    pub origin: Origin,
}

/// Who changed a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Account(ulid::Ulid),
    /// Automation (workflow rules, housekeeping).
    System,
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Account(id) => write!(f, "{id}"),
            Self::System => f.write_str("system"),
        }
    }
}

impl std::str::FromStr for Actor {
    type Err = ();
    fn from_str(text: &str) -> Result<Self, ()> {
        match text {
            "system" => Ok(Self::System),
            id => ulid::Ulid::from_string(id).map(Self::Account).map_err(|_| ()),
        }
    }
}

/// Through what a record was changed, stored as `api`, `import`, `otp:<challenge>`,
/// `form:<form>`, `workflow:<rule>` or `portal:<account>`, so a stream consumer can tell a
/// rule's own writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Api,
    Import,
    Otp(ulid::Ulid),
    Form(ulid::Ulid),
    Workflow(String),
    /// The contact (and company) made for a new portal account.
    Portal(ulid::Ulid),
    /// A contact's `lifecycle` field following its customer's stage (the account's id).
    Lifecycle(ulid::Ulid),
    /// An origin this version does not know (written by a newer one): kept, not refused.
    Other(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Api => f.write_str("api"),
            Self::Import => f.write_str("import"),
            Self::Otp(id) => write!(f, "otp:{id}"),
            Self::Form(id) => write!(f, "form:{id}"),
            Self::Workflow(rule) => write!(f, "workflow:{rule}"),
            Self::Portal(account) => write!(f, "portal:{account}"),
            Self::Lifecycle(account) => write!(f, "lifecycle:{account}"),
            Self::Other(text) => f.write_str(text),
        }
    }
}

impl std::str::FromStr for Origin {
    type Err = ();
    fn from_str(text: &str) -> Result<Self, ()> {
        let id = |id: &str| ulid::Ulid::from_string(id).map_err(|_| ());
        match text.split_once(':') {
            None if text == "api" => Ok(Self::Api),
            None if text == "import" => Ok(Self::Import),
            Some(("otp", challenge)) => id(challenge).map(Self::Otp),
            Some(("form", form)) => id(form).map(Self::Form),
            Some(("portal", account)) => id(account).map(Self::Portal),
            Some(("lifecycle", account)) => id(account).map(Self::Lifecycle),
            Some(("workflow", rule)) if !rule.is_empty() => Ok(Self::Workflow(rule.to_owned())),
            Some(("workflow", _)) | None => Err(()),
            Some(_) => Ok(Self::Other(text.to_owned())),
        }
    }
}

impl Origin {
    /// Whether a person made the change (staff through the API, an import or a form, a
    /// customer through the portal or an OTP) rather than automation: only those count as a
    /// customer's activity.
    pub fn is_by_person(&self) -> bool {
        matches!(self, Self::Api | Self::Import | Self::Otp(_) | Self::Form(_) | Self::Portal(_))
    }
}

impl CrmRecord {
    /// The contact the record belongs to, if its module has a `contact_id` and it is set.
    pub fn contact_id(&self) -> Option<&str> {
        match self.fields.get("contact_id") {
            Some(Value::String(id)) => Some(id),
            _ => None,
        }
    }
}

impl PartialEq for Module {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// Every built-in module.
pub fn modules() -> &'static [Module] {
    static MODULES: OnceLock<Vec<Module>> = OnceLock::new();
    MODULES.get_or_init(build)
}

pub fn module(name: &str) -> Option<&'static Module> {
    modules().iter().find(|module| module.name == name)
}

/// The `contacts` module: the customer's record, the one custom fields belong to.
pub fn contacts() -> &'static Module {
    module("contacts").unwrap_or_else(|| unreachable!("contacts is a built-in module"))
}

/// Longest text a field accepts.
pub const MAX_TEXT_CHARS: usize = 2000;
pub const MAX_LIST_ITEMS: usize = 100;

/// Parses the JSON given for a field of `field_type`; `null` clears the field. The error says
/// what was expected.
pub fn parse_field(field_type: &FieldType, json: &Json) -> Result<Value, String> {
    if json.is_null() {
        return Ok(Value::Null);
    }
    let text = || json.as_str().ok_or_else(|| "must be a text".to_owned());
    match field_type {
        FieldType::Text => {
            let text = text()?;
            if text.chars().count() > MAX_TEXT_CHARS {
                return Err(format!("must be at most {MAX_TEXT_CHARS} characters"));
            }
            Ok(Value::String(text.to_owned()))
        }
        FieldType::Email => {
            Email::parse(text()?).map(|email| Value::String(email.into())).map_err(|e| e.to_string())
        }
        FieldType::Phone => {
            Phone::parse(text()?).map(|phone| Value::String(phone.into())).map_err(|e| e.to_string())
        }
        FieldType::Select { options } => {
            let choice = text()?;
            if options.iter().any(|option| option == choice) {
                Ok(Value::String(choice.to_owned()))
            } else {
                Err(format!("must be one of: {}", options.join(", ")))
            }
        }
        FieldType::Lookup { module } => {
            let id = text()?;
            ulid::Ulid::from_string(id)
                .map(|_| Value::String(id.to_owned()))
                .map_err(|_| format!("must be the id of a record in {module}"))
        }
        FieldType::Number => {
            let decimal = match json {
                Json::Number(number) => number.to_string(),
                Json::String(text) => text.clone(),
                _ => return Err("must be a number".into()),
            };
            decimal.parse::<Number>().map(Value::Number).map_err(|e| e.to_string())
        }
        FieldType::Bool => json.as_bool().map(Value::Bool).ok_or_else(|| "must be true or false".into()),
        FieldType::Date => NaiveDate::parse_from_str(text()?, "%Y-%m-%d")
            .map(|day| Value::DateTime(day.and_time(chrono::NaiveTime::MIN).and_utc()))
            .map_err(|_| "must be a date YYYY-MM-DD".into()),
        // Stored to the millisecond, as the table's ISO 8601 encoding keeps them.
        FieldType::DateTime => DateTime::parse_from_rfc3339(text()?)
            .ok()
            .and_then(|instant| DateTime::from_timestamp_millis(instant.timestamp_millis()))
            .map(Value::DateTime)
            .ok_or_else(|| "must be an RFC 3339 date-time".into()),
        FieldType::List => {
            let items = json.as_array().ok_or("must be a list of texts")?;
            if items.len() > MAX_LIST_ITEMS {
                return Err(format!("must have at most {MAX_LIST_ITEMS} items"));
            }
            items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(|text| Value::String(text.to_owned()))
                        .ok_or_else(|| "must be a list of texts".to_owned())
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::List)
        }
    }
}

/// The JSON form of a stored value of `field_type` (dates as `YYYY-MM-DD`).
pub fn field_json(field_type: &FieldType, value: &Value) -> Json {
    match value {
        Value::Null => Json::Null,
        Value::Bool(flag) => Json::Bool(*flag),
        Value::Number(number) => serde_json::to_value(number).unwrap_or(Json::Null),
        Value::String(text) => Json::String(text.clone()),
        Value::DateTime(instant) if *field_type == FieldType::Date => {
            Json::String(instant.format("%Y-%m-%d").to_string())
        }
        Value::DateTime(instant) => {
            Json::String(instant.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        }
        Value::List(items) => {
            Json::Array(items.iter().map(|item| field_json(&FieldType::Text, item)).collect())
        }
    }
}

/// Validates every field of a write against the fields of `module` in `schema`, collecting
/// `(field, message)` errors.
pub fn parse_fields(
    schema: &dyn FieldSchema,
    module: &str,
    input: &serde_json::Map<String, Json>,
) -> Result<BTreeMap<String, Value>, Vec<(String, String)>> {
    let mut values = BTreeMap::new();
    let mut errors = Vec::new();
    for (name, json) in input {
        match schema.field_type(name) {
            None => errors.push((format!("fields.{name}"), format!("is not a field of {module}"))),
            Some(field_type) => match parse_field(field_type, json) {
                Ok(value) => {
                    values.insert(name.clone(), value);
                }
                Err(message) => errors.push((format!("fields.{name}"), message)),
            },
        }
    }
    if errors.is_empty() { Ok(values) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn origins_and_actors_round_trip_as_text() {
        let id = ulid::Ulid::nil();
        for origin in [
            Origin::Api,
            Origin::Import,
            Origin::Otp(id),
            Origin::Form(id),
            Origin::Workflow("r1".into()),
            Origin::Portal(id),
            Origin::Lifecycle(id),
        ] {
            assert_eq!(origin.to_string().parse::<Origin>(), Ok(origin));
        }
        assert!("workflow:".parse::<Origin>().is_err() && "otp:x".parse::<Origin>().is_err());
        assert_eq!("mobile:x".parse::<Origin>(), Ok(Origin::Other("mobile:x".into())));
        for actor in [Actor::System, Actor::Account(id)] {
            assert_eq!(actor.to_string().parse::<Actor>(), Ok(actor));
        }
    }

    #[test]
    fn ten_modules_with_contact_links_where_expected() {
        let names: Vec<&str> = modules().iter().map(|m| m.name).collect();
        assert_eq!(names.len(), 10);
        assert!(module("deals").is_some_and(Module::has_contact));
        assert!(!module("products").is_some_and(Module::has_contact));
        assert!(module("unicorns").is_none());
    }

    #[test]
    fn key_fields_are_texts_of_their_module() {
        for module in modules() {
            if let Some(field) = module.key_field {
                assert!(
                    matches!(module.fields.field_type(field), Some(FieldType::Text | FieldType::Email)),
                    "{}.{field}",
                    module.name
                );
            }
        }
        assert_eq!(module("products").and_then(|m| m.key_field), Some("region"));
    }

    #[test]
    fn values_are_checked_by_type() {
        let deals = module("deals").unwrap();
        let ok = parse_fields(
            &deals.fields,
            deals.name,
            json!({"amount": 52000.5, "stage": "Negotiation", "close_date": "2026-12-01", "name": null})
                .as_object()
                .unwrap(),
        );
        let values = ok.expect("valid");
        assert_eq!(values["name"], Value::Null);
        assert_eq!(field_json(&FieldType::Date, &values["close_date"]), json!("2026-12-01"));
        let errors = parse_fields(
            &deals.fields,
            deals.name,
            json!({"amount": "lots", "stage": "Won?", "colour": "red", "close_date": "12/01/2026"})
                .as_object()
                .unwrap(),
        )
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, vec!["fields.amount", "fields.close_date", "fields.colour", "fields.stage"]);
    }

    #[test]
    fn emails_phones_lookups_and_lists() {
        let contacts = module("contacts").unwrap();
        assert!(
            parse_fields(
                &contacts.fields,
                contacts.name,
                json!({"email": "Ann@Example.com", "phone": "+420 601 234 567"}).as_object().unwrap()
            )
            .is_ok()
        );
        assert!(
            parse_fields(&contacts.fields, contacts.name, json!({"email": "nope"}).as_object().unwrap())
                .is_err()
        );
        assert!(
            parse_fields(
                &contacts.fields,
                contacts.name,
                json!({"account_id": "not-an-id"}).as_object().unwrap()
            )
            .is_err()
        );
        let tasks = module("tasks").unwrap();
        assert!(
            parse_fields(&tasks.fields, tasks.name, json!({"tags": ["a", "b"]}).as_object().unwrap()).is_ok()
        );
        assert!(
            parse_fields(&tasks.fields, tasks.name, json!({"tags": ["a", 1]}).as_object().unwrap()).is_err()
        );
    }
}
