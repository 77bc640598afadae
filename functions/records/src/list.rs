//! Record lists: `?where=` criteria and `?field=value` equality, the index that answers them
//! (a Query, never a Scan), the order, and signed cursors.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use portico::criteria::{
    self, CompiledCriteria, Criteria, EvalContext, FieldSchema, FieldType, Leaf, Op, PushdownOptions,
    ValidationContext, Value,
};
use portico::domain::modules::CrmRecord;
use portico::domain::modules::{field_json, parse_field};
use portico::error::{FieldError, Problem};
use portico::http::cursor::MAX_PAGE_SIZE;
use portico::http::{ApiQuery, PageQuery, PagedResponse, Staff};
use portico::store::records::{DATES, RecordIndex, RecordQuery, UniqueValue, field_attribute};
use portico::store::{Page, PageKey};
use portico::{ApiError, AppState};
use serde_json::Value as JsonValue;
use ulid::Ulid;
use utoipa::IntoParams;

use crate::{Need, RecordView, View, custom_fields, export, module_for};

/// The parameters a list takes besides `?<field>=<value>`.
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Items per page, 1–100 (default 25); CSV pages up to 1000.
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page; send the same parameters with it.
    pub cursor: Option<String>,
    /// Criteria (JSON, SPEC §7) the records must match, e.g.
    /// `{"field":"stage","op":"eq","value":"Negotiation"}`.
    #[param(rename = "where")]
    pub filter: Option<String>,
    /// `created_at` (default), `updated_at`, or the module's sort field (contacts `last_name`,
    /// accounts and products `name`, deals `close_date`, quotes `valid_until`, invoices and
    /// tasks `due_date`, cases `subject`, meetings `starts_at`, deliveries `scheduled_for`:
    /// texts ignoring case, records without a value last); a leading `-` reverses (records
    /// without a value first). Lists of an owner or a contact come by `created_at`.
    pub sort: Option<String>,
    /// Only the records this user owns (`me`: the caller), read from the owner index.
    pub owner_id: Option<String>,
}

/// What a list request asks for, validated.
struct ListRequest {
    page: PageQuery,
    criteria: Option<CompiledCriteria>,
    index: RecordIndex,
    descending: bool,
    /// An equality on a unique contact field: at most one record, found through its guard.
    unique: Option<UniqueValue>,
    /// Lists of a contact or an owner must still belong to them when read through a guard.
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

fn parse_sort(text: &str, view: &View<'_>) -> Result<(SortKey, bool), ApiError> {
    let (name, descending) = match text.strip_prefix('-') {
        Some(name) => (name, true),
        None => (text, false),
    };
    let sort_field = view.schema.builtin.sort_field;
    match name {
        "created_at" | "id" => Ok((SortKey::Created, descending)),
        "updated_at" => Ok((SortKey::Changed, descending)),
        field if field == sort_field => Ok((SortKey::Field, descending)),
        // Refused before anything else, so the order of hidden values can't be probed.
        field if view.hides(field) => Err(masked(field, "sort by")),
        _ => Err(ApiError::invalid_field(
            "sort",
            format!(
                "{} records are ordered by created_at, updated_at or {sort_field} (a leading - reverses)",
                view.schema.builtin.name
            ),
        )),
    }
}

fn masked(field: &str, verb: &str) -> ApiError {
    ApiError::forbidden("masked_field", format!("You may not {verb} the masked field {field}."))
}

/// The criterion `?<field>=<text>` stands for: equality with the parsed value, or emptiness
/// for an empty text.
fn equality(field: &str, field_type: &FieldType, text: &str) -> Result<(Leaf, Option<Value>), String> {
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

fn criteria_errors(prefix: &str, errors: Vec<criteria::CriteriaError>) -> ApiError {
    ApiError::validation(
        errors
            .into_iter()
            .map(|e| FieldError::new(format!("{prefix}{}", e.path), e.kind.to_string()))
            .collect(),
    )
}

impl ListRequest {
    fn parse(pairs: Vec<(String, String)>, view: &View<'_>, staff: &Staff) -> Result<Self, ApiError> {
        let mut seen = BTreeSet::new();
        let mut query = ListQuery::default();
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
                    Ok(limit) => query.limit = Some(limit),
                    Err(_) => errors.push(FieldError::new("limit", "must be a whole number")),
                },
                "cursor" => query.cursor = Some(text),
                "where" => query.filter = Some(text),
                "sort" => query.sort = Some(text),
                "owner_id" => query.owner_id = Some(text),
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
                                let one = BTreeMap::from([(field.to_owned(), value)]);
                                unique = unique.or(view.unique_values(&one).pop());
                                if field == "contact_id" {
                                    contact = Some(text);
                                }
                            }
                            leaves.push(leaf.into());
                        }
                        Err(message) => errors.push(FieldError::new(field, message)),
                    }
                }
            }
        }
        let owner = match query.owner_id.as_deref() {
            None => None,
            Some("me") => Some(staff.0.sub),
            Some(text) => match Ulid::from_string(text) {
                Ok(owner) => Some(owner),
                Err(_) => {
                    errors.push(FieldError::new("owner_id", "must be a user id or `me`"));
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        if let Some(text) = &query.filter {
            let written: Criteria = serde_json::from_str(text).map_err(|error| {
                ApiError::invalid_field("where", format!("is not valid criteria: {error}"))
            })?;
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
        let (sort, descending) = match query.sort.as_deref() {
            None => (SortKey::Created, false),
            Some(text) => parse_sort(text, view)?,
        };
        let index = match (owner, contact, sort) {
            (None, None, SortKey::Created) => RecordIndex::Module,
            (None, None, SortKey::Changed) => RecordIndex::ModuleByChange,
            (None, None, SortKey::Field) => RecordIndex::ModuleBySortField,
            (Some(owner), _, SortKey::Created) => RecordIndex::Owner(owner),
            (None, Some(contact), SortKey::Created) => RecordIndex::Contact(contact),
            (_, _, SortKey::Changed | SortKey::Field) => {
                return Err(ApiError::invalid_field(
                    "sort",
                    "lists of an owner or a contact come by created_at only",
                ));
            }
        };
        Ok(Self {
            page: PageQuery { limit: query.limit, cursor: query.cursor },
            criteria,
            index,
            descending,
            unique,
            owner,
        })
    }
}

#[utoipa::path(get, path = "/records/{module}", tag = "records", security(("bearer" = [])),
    description = "Any other parameter `<field>=<value>` keeps the records whose field equals the value \
        (an empty value: whose field is empty). Lists read one index: the owner's with `owner_id`, \
        the contact's with `contact_id`, a unique contact field's guard when matching one, else the \
        module's, in the order `sort` names.",
    params(("module" = String, Path), ListQuery),
    responses((status = 200, content(
            (inline(PagedResponse<RecordView>) = "application/json"),
            (String = "text/csv")
        ), description = "A page of records. With `Accept: text/csv`, the page as CSV (up to 1000 rows) with \
            the next page's cursor in the `Next-Cursor` header; masked columns are left out for callers \
            who may not see them"), (status = 400, body = Problem),
        (status = 403, body = Problem, description = "`forbidden`, or `masked_field`: filtering or sorting on a field hidden from the caller"),
        (status = 404, body = Problem)))]
pub(crate) async fn list_records(
    State(state): State<AppState>,
    staff: Staff,
    Path(module): Path<String>,
    headers: HeaderMap,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let module = module_for(&staff, &module, Need::List)?;
    let custom = custom_fields(&state, module).await?;
    let view = View::new(&staff, module, &custom);
    let request = ListRequest::parse(pairs, &view, &staff)?;
    let csv = export::wants_csv(&headers);
    let max_page = if csv { export::MAX_CSV_PAGE } else { MAX_PAGE_SIZE };
    let (limit, start) = request.page.resolve_up_to(&state.keys, max_page)?;
    let page = read_page(&state, &view, &request, limit, start).await?;
    if csv {
        let page = PagedResponse::from_page(&state.keys, page, |record| record);
        return export::csv_response(&view, &page.items, page.next_cursor);
    }
    Ok(Json(PagedResponse::from_page(&state.keys, page, |record| view.render(&record))).into_response())
}

/// One page of the list `request` describes.
async fn read_page(
    state: &AppState,
    view: &View<'_>,
    request: &ListRequest,
    limit: i32,
    start: Option<PageKey>,
) -> Result<Page<CrmRecord>, ApiError> {
    let module = view.schema.builtin;
    let now = Utc::now();
    let holds = |record: &CrmRecord| {
        request
            .criteria
            .as_ref()
            .is_none_or(|criteria| criteria.evaluate(&EvalContext::new(&record.fields, now)))
    };
    if let (Some(guard), None) = (&request.unique, &start) {
        // One GetItem for the guard and one for the record, however many contacts there are.
        let record = match state.store.record_id_by_unique(guard).await? {
            Some(id) => state.store.record(module, id, &view.schema).await?,
            None => None,
        };
        let items = record
            .filter(|record| request.owner.is_none_or(|owner| owner == record.owner_id))
            .filter(|record| holds(record))
            .into_iter()
            .collect();
        return Ok(Page { items, next: None });
    }
    let pushdown = request.criteria.as_ref().map(|compiled| {
        let options = PushdownOptions { now: Some(now), user: None, dates: Some(DATES) };
        criteria::pushdown_with(compiled, &options, |field| Some(field_attribute(field)))
    });
    let query = RecordQuery {
        module,
        index: request.index.clone(),
        descending: request.descending,
        limit,
        start,
        filter: pushdown.as_ref().and_then(|pushdown| pushdown.filter.as_ref()),
    };
    let mut page = state.store.records(query, &view.schema).await?;
    if let Some(pushdown) = &pushdown {
        page.items.retain(|record| pushdown.residual_holds(&EvalContext::new(&record.fields, now)));
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_list_documents_its_parameters_by_their_query_names() {
        let document = serde_json::to_value(crate::openapi()).unwrap_or_default();
        let parameters = &document["paths"]["/records/{module}"]["get"]["parameters"];
        let names: Vec<&str> =
            parameters.as_array().into_iter().flatten().filter_map(|p| p["name"].as_str()).collect();
        assert_eq!(names, ["module", "limit", "cursor", "where", "sort", "owner_id"]);
    }
}
