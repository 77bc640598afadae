//! Planning a record list: `where` criteria and `<field>=<value>` equalities, the one index that
//! answers them (a Query, never a Scan), the order, the caller's scope — and reading a page.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as JsonValue;
use ulid::Ulid;

use super::{RecordError, View};
use crate::criteria::{
    self, CompiledCriteria, Criteria, EvalContext, FieldSchema, FieldType, Leaf, Op, PushdownOptions,
    ValidationContext, Value,
};
use crate::domain::modules::{CrmRecord, field_json, parse_field};
use crate::error::FieldError;
use crate::store::records::{DATES, RecordIndex, RecordQuery, UniqueValue, field_attribute};
use crate::store::{Page, PageKey, Store};

/// The parameters of a list besides `<field>=<value>`.
pub const PARAMETERS: [&str; 5] = crate::domain::contact_fields::LIST_PARAMETERS;

/// A list request, validated and planned.
#[derive(Debug)]
pub struct ListPlan {
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    criteria: Option<CompiledCriteria>,
    index: RecordIndex,
    descending: bool,
    /// An equality on a unique contact field: at most one record, found through its guard.
    unique: Option<UniqueValue>,
    /// The owner every record must have (an `owner_id` list, or a caller limited to their own).
    owner: Option<Ulid>,
}

/// The orders records are indexed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortKey {
    Created,
    Changed,
    /// The module's sort field.
    Field,
}

fn masked(field: &str, verb: &'static str) -> RecordError {
    RecordError::MaskedField { field: field.to_owned(), verb }
}

fn invalid(field: &str, message: impl Into<String>) -> RecordError {
    RecordError::Invalid(vec![FieldError::new(field, message)])
}

fn parse_sort(text: &str, view: &View<'_>) -> Result<(SortKey, bool), RecordError> {
    let (name, descending) = match text.strip_prefix('-') {
        Some(name) => (name, true),
        None => (text, false),
    };
    let sort_field = view.module().sort_field;
    match name {
        "created_at" | "id" => Ok((SortKey::Created, descending)),
        "updated_at" => Ok((SortKey::Changed, descending)),
        field if field == sort_field => Ok((SortKey::Field, descending)),
        // Refused before anything else, so the order of hidden values can't be probed.
        field if view.hides(field) => Err(masked(field, "sort by")),
        _ => Err(invalid(
            "sort",
            format!(
                "{} records are ordered by created_at, updated_at or {sort_field} (a leading - reverses)",
                view.module().name
            ),
        )),
    }
}

/// The criterion `?<field>=<text>` stands for: equality with the parsed value, or emptiness
/// for an empty text.
pub(super) fn equality(
    field: &str,
    field_type: &FieldType,
    text: &str,
) -> Result<(Leaf, Option<Value>), String> {
    if text.is_empty() {
        return Ok((Leaf::unary(field, Op::IsEmpty), None));
    }
    let json = match field_type {
        FieldType::List => return Err("is a list: match it with `where` and `contains`".into()),
        FieldType::Bool if text == "true" || text == "false" => JsonValue::Bool(text == "true"),
        _ => JsonValue::String(text.to_owned()),
    };
    let value = parse_field(field_type, &json)?;
    Ok((Leaf::value(field, Op::Eq, field_json(field_type, &value)), Some(value)))
}

fn criteria_errors(prefix: &str, errors: Vec<criteria::CriteriaError>) -> RecordError {
    RecordError::Invalid(
        errors
            .into_iter()
            .map(|e| FieldError::new(format!("{prefix}{}", e.path), e.kind.to_string()))
            .collect(),
    )
}

impl ListPlan {
    /// Plans the list the query `pairs` ask `view`'s caller for.
    pub fn parse(pairs: Vec<(String, String)>, view: &View<'_>) -> Result<Self, RecordError> {
        let mut seen = BTreeSet::new();
        let (mut limit, mut cursor, mut filter, mut sort, mut owner_text) = (None, None, None, None, None);
        let mut leaves: Vec<Criteria> = Vec::new();
        let mut errors = Vec::new();
        let mut unique = None;
        let mut contact = None;
        for (name, text) in pairs {
            if !seen.insert(name.clone()) {
                errors.push(FieldError::new(name, "is given more than once"));
                continue;
            }
            match name.as_str() {
                "limit" => match text.parse() {
                    Ok(number) => limit = Some(number),
                    Err(_) => errors.push(FieldError::new("limit", "must be a whole number")),
                },
                "cursor" => cursor = Some(text),
                "where" => filter = Some(text),
                "sort" => sort = Some(text),
                "owner_id" => owner_text = Some(text),
                field => {
                    let Some(field_type) = view.schema.field_type(field) else {
                        errors.push(FieldError::new(field, "is neither a list parameter nor a field"));
                        continue;
                    };
                    if view.hides(field) {
                        return Err(masked(field, "filter on"));
                    }
                    match equality(field, field_type, &text) {
                        Ok((leaf, value)) => {
                            if let Some(value) = value {
                                let mut one = BTreeMap::from([(field.to_owned(), value)]);
                                view.normalize(&mut one);
                                unique = unique.or(view.unique_values(&one).pop());
                                if let Some(normalized) = one.remove(field) {
                                    leaves.push(
                                        Leaf::value(field, Op::Eq, field_json(field_type, &normalized))
                                            .into(),
                                    );
                                }
                                if field == "contact_id" {
                                    contact = Some(text);
                                }
                            } else {
                                leaves.push(leaf.into());
                            }
                        }
                        Err(message) => errors.push(FieldError::new(field, message)),
                    }
                }
            }
        }
        let caller = view.caller.account_id();
        let mut owner = match owner_text.as_deref() {
            None => None,
            Some("me") => caller,
            Some(text) => match Ulid::from_string(text) {
                Ok(owner) => Some(owner),
                Err(_) => {
                    errors.push(FieldError::new("owner_id", "must be a user id or `me`"));
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(RecordError::Invalid(errors));
        }
        // Callers limited to their own records list only those, from the owner index.
        if let Some(own) = view.read_owner()? {
            if owner.is_some_and(|owner| owner != own) {
                return Err(RecordError::Forbidden(format!(
                    "You may list only your own {} records.",
                    view.module().name
                )));
            }
            owner = Some(own);
        }
        if let Some(text) = &filter {
            let written: Criteria = serde_json::from_str(text)
                .map_err(|error| invalid("where", format!("is not valid criteria: {error}")))?;
            // Validated alone first, so errors carry the paths the caller wrote.
            criteria::compile(&written, &view.schema, &ValidationContext::plain())
                .map_err(|errors| criteria_errors("where.", errors))?;
            leaves.insert(0, written);
        }
        let criteria = match leaves.len() {
            0 => None,
            1 => leaves.pop(),
            _ => Some(Criteria::All(leaves)),
        };
        let criteria = criteria
            .map(|criteria| criteria::compile(&criteria, &view.schema, &ValidationContext::plain()))
            .transpose()
            .map_err(|errors| criteria_errors("", errors))?;
        // Filtering on a value one may not see would reveal it.
        if let Some(field) =
            criteria.as_ref().and_then(|c| c.record_fields().into_iter().find(|field| view.hides(field)))
        {
            return Err(masked(field, "filter on"));
        }
        let (sort, descending) = match sort.as_deref() {
            None => (SortKey::Created, false),
            Some(text) => parse_sort(text, view)?,
        };
        let index = match (owner, contact, sort) {
            (None, None, SortKey::Created) => RecordIndex::Module,
            (None, None, SortKey::Changed) => RecordIndex::ModuleByChange,
            (None, None, SortKey::Field) => RecordIndex::ModuleBySortField,
            (Some(owner), _, SortKey::Created) => RecordIndex::Owner(owner),
            (Some(owner), _, SortKey::Changed) => RecordIndex::OwnerByChange(owner),
            (Some(owner), _, SortKey::Field) => RecordIndex::OwnerBySortField(owner),
            (None, Some(contact), SortKey::Created) => RecordIndex::Contact(contact),
            (None, Some(_), SortKey::Changed | SortKey::Field) => {
                return Err(invalid("sort", "lists of a contact come by created_at only"));
            }
        };
        Ok(Self { limit, cursor, criteria, index, descending, unique, owner })
    }

    /// One page of the list, up to `limit` records read from `start`.
    pub async fn read_page(
        &self,
        store: &Store,
        view: &View<'_>,
        limit: i32,
        start: Option<PageKey>,
    ) -> Result<Page<CrmRecord>, RecordError> {
        let module = view.module();
        let now = chrono::Utc::now();
        let holds = |record: &CrmRecord| {
            self.criteria
                .as_ref()
                .is_none_or(|criteria| criteria.evaluate(&EvalContext::new(&record.fields, now)))
        };
        if let (Some(guard), None) = (&self.unique, &start) {
            // One GetItem for the guard and one for the record, however many contacts there are.
            let record = match store.record_id_by_unique(guard).await? {
                Some(id) => store.record(module, id, &view.schema).await?,
                None => None,
            };
            let items = record
                .filter(|record| self.owner.is_none_or(|owner| owner == record.owner_id))
                .filter(|record| holds(record))
                .into_iter()
                .collect();
            return Ok(Page { items, next: None });
        }
        let pushdown = self.criteria.as_ref().map(|compiled| {
            let options = PushdownOptions { now: Some(now), user: None, dates: Some(DATES) };
            criteria::pushdown_with(compiled, &options, |field| Some(field_attribute(field)))
        });
        let query = RecordQuery {
            module,
            index: self.index.clone(),
            descending: self.descending,
            limit,
            start,
            filter: pushdown.as_ref().and_then(|pushdown| pushdown.filter.as_ref()),
        };
        let mut page = store.records(query, &view.schema).await?;
        if let Some(pushdown) = &pushdown {
            page.items.retain(|record| pushdown.residual_holds(&EvalContext::new(&record.fields, now)));
        }
        Ok(page)
    }
}
