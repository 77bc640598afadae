//! `POST /imports/contacts`: rows (JSON or CSV) mapped to contact fields by templates —
//! `{{Column}}` takes a column (case-sensitive), other text is a constant, and the two mix
//! (`{{First}} {{Last}}`). Each row is validated and written on its own; the answer reports
//! every failed row. Nothing is written before the mapping is known to be sound.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use futures::stream::{self, StreamExt};
use portico::criteria::{FieldSchema, FieldType, Value};
use portico::domain::Permission;
use portico::domain::contact_fields::ModuleSchema;
use portico::domain::modules::{Module, parse_fields};
use portico::error::{FieldError, Problem};
use portico::http::{ApiQuery, Staff};
use portico::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as JsonValue};
use ulid::Ulid;
use utoipa::{IntoParams, ToSchema};

use crate::{Need, View, custom_fields, module_for, store_changes, store_new_record};

/// Imports may be larger than other requests.
pub const IMPORT_BODY_LIMIT: usize = 6 * 1024 * 1024;
pub const MAX_ROWS: usize = 10_000;
/// Rows written at once: enough to hide DynamoDB's latency, few enough not to be throttled.
const CONCURRENT_ROWS: usize = 16;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// The project whose contact fields the import may fill.
    pub project_id: String,
    /// Contact field → template.
    pub mapping: BTreeMap<String, String>,
    #[schema(value_type = Vec<Object>)]
    pub rows: Vec<Map<String, JsonValue>>,
    /// A unique field: rows whose value exists update that contact instead of creating one.
    pub match_on: Option<String>,
}

/// For `text/csv` bodies (the first line names the columns).
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct CsvParams {
    pub project_id: Option<String>,
    /// The mapping as JSON: `{"first_name": "{{First}}"}`.
    pub mapping: Option<String>,
    pub match_on: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RowFailure {
    /// 1-based number of the data row.
    pub row: usize,
    pub errors: Vec<FieldError>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub failed: Vec<RowFailure>,
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Column(String),
}

/// Splits a template into constant text and `{{Column}}` references.
fn parse_template(template: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            parts.push(Part::Text(rest[..start].to_owned()));
        }
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or("has `{{` without `}}`")?;
        let column = &after[..end];
        if column.is_empty() {
            return Err("has an empty `{{}}`".into());
        }
        parts.push(Part::Column(column.to_owned()));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_owned()));
    }
    Ok(parts)
}

/// The value a template gives for `row`: a lone `{{Column}}` keeps the column's JSON value;
/// anything else is text. `None` when it comes out empty (the field is left alone).
fn render(parts: &[Part], row: &Map<String, JsonValue>) -> Option<JsonValue> {
    if let [Part::Column(column)] = parts {
        return row.get(column).filter(|value| !value.is_null() && value.as_str() != Some("")).cloned();
    }
    let text: String = parts
        .iter()
        .map(|part| match part {
            Part::Text(text) => text.clone(),
            Part::Column(column) => match row.get(column) {
                Some(JsonValue::String(text)) => text.clone(),
                Some(JsonValue::Null) | None => String::new(),
                Some(other) => other.to_string(),
            },
        })
        .collect();
    (!text.trim().is_empty()).then_some(JsonValue::String(text))
}

/// CSV cells are text; booleans are written `true`/`false`.
fn coerce(field_type: &FieldType, value: JsonValue) -> JsonValue {
    match (field_type, &value) {
        (FieldType::Bool, JsonValue::String(text)) if text.eq_ignore_ascii_case("true") => {
            JsonValue::Bool(true)
        }
        (FieldType::Bool, JsonValue::String(text)) if text.eq_ignore_ascii_case("false") => {
            JsonValue::Bool(false)
        }
        _ => value,
    }
}

/// One row: column → cell.
type Row = Map<String, JsonValue>;

/// The header's column names and the rows of a CSV body.
fn read_csv(body: &[u8]) -> Result<(Vec<String>, Vec<Row>), ApiError> {
    let bad =
        |error: csv::Error| ApiError::bad_request("invalid_csv", format!("The CSV is malformed: {error}."));
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(body);
    let headers: Vec<String> = reader.headers().map_err(bad)?.iter().map(str::to_owned).collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(bad)?;
        rows.push(
            headers
                .iter()
                .cloned()
                .zip(record.iter().map(|cell| JsonValue::String(cell.to_owned())))
                .collect(),
        );
    }
    Ok((headers, rows))
}

#[utoipa::path(post, path = "/imports/contacts", tag = "records", security(("bearer" = [])), params(CsvParams),
    request_body(content(
        (ImportRequest = "application/json"),
        (String = "text/csv")
    )),
    responses((status = 200, body = ImportReport, description = "Per-row outcome; rows fail on their own"),
        (status = 400, body = Problem, description = "The mapping, project or body is unsound; nothing was written"),
        (status = 403, body = Problem), (status = 413, body = Problem)))]
pub async fn import_contacts(
    State(state): State<AppState>,
    staff: Staff,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<CsvParams>,
    body: Bytes,
) -> Result<Json<ImportReport>, ApiError> {
    let contacts = module_for(&staff, "contacts", Need::Write)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (request, columns) = if content_type.starts_with("text/csv") {
        let (columns, rows) = read_csv(&body)?;
        let mapping =
            params.mapping.as_deref().ok_or_else(|| ApiError::invalid_field("mapping", "is required"))?;
        let mapping = serde_json::from_str(mapping)
            .map_err(|_| ApiError::invalid_field("mapping", "must be a JSON object of templates"))?;
        let project_id =
            params.project_id.ok_or_else(|| ApiError::invalid_field("project_id", "is required"))?;
        (
            ImportRequest { project_id, mapping, rows, match_on: params.match_on },
            columns.into_iter().collect::<BTreeSet<_>>(),
        )
    } else if content_type.starts_with("application/json") {
        let request: ImportRequest = portico::http::json::parse_json(&body)?;
        let columns = request.rows.iter().flat_map(|row| row.keys().cloned()).collect();
        (request, columns)
    } else {
        return Err(ApiError::new(
            axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send application/json or text/csv.",
        ));
    };
    if request.rows.len() > MAX_ROWS {
        return Err(ApiError::invalid_field("rows", format!("at most {MAX_ROWS} rows per import")));
    }

    let project = Ulid::from_string(&request.project_id)
        .ok()
        .filter(|id| staff.0.projects.contains(id) || staff.0.has(Permission::SettingsManage))
        .ok_or_else(|| ApiError::invalid_field("project_id", "is not a project of yours"))?;
    let custom = custom_fields(&state, contacts).await?;
    let view =
        View { schema: ModuleSchema::for_staff(contacts, &custom, &[project], false), sees_masked: true };

    // The whole mapping is checked before any row is written.
    let mut errors = Vec::new();
    let mut templates = Vec::new();
    for (field, template) in &request.mapping {
        let Some(field_type) = view.schema.field_type(field) else {
            errors
                .push(FieldError::new(format!("mapping.{field}"), "is not a contact field of this project"));
            continue;
        };
        match parse_template(template) {
            Err(message) => errors.push(FieldError::new(format!("mapping.{field}"), message)),
            Ok(parts) => {
                for part in &parts {
                    if let Part::Column(column) = part
                        && !columns.contains(column)
                    {
                        errors.push(FieldError::new(
                            format!("mapping.{field}"),
                            format!("names the unknown column `{column}`"),
                        ));
                    }
                }
                templates.push((field.clone(), field_type.clone(), parts));
            }
        }
    }
    if let Some(key) = &request.match_on {
        let unique = view.schema.custom_field(key).is_some_and(|field| field.unique);
        if !unique || !request.mapping.contains_key(key) {
            errors.push(FieldError::new("match_on", "must be a unique contact field the mapping fills"));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }

    let prepared = prepare_rows(&view, contacts, &templates, &request.rows);
    let (view, owner) = (&view, staff.0.sub);
    let (state, match_on) = (&state, request.match_on.as_deref());
    let outcomes: Vec<(usize, Result<bool, ApiError>)> = stream::iter(prepared)
        .map(|(row, values)| async move {
            let outcome = match values {
                Ok(values) => write_row(state, view, contacts, match_on, values, owner).await,
                Err(error) => Err(error),
            };
            (row, outcome)
        })
        .buffer_unordered(CONCURRENT_ROWS)
        .collect()
        .await;

    let mut report = ImportReport { created: 0, updated: 0, failed: Vec::new() };
    for (row, outcome) in outcomes {
        match outcome {
            Ok(true) => report.updated += 1,
            Ok(false) => report.created += 1,
            Err(error) if error.status().is_client_error() => {
                let errors = if error.fields().is_empty() {
                    vec![FieldError::new("row", error.to_string().split(": ").last().unwrap_or_default())]
                } else {
                    error.fields().to_vec()
                };
                report.failed.push(RowFailure { row, errors });
            }
            Err(error) => return Err(error),
        }
    }
    report.failed.sort_by_key(|failure| failure.row);
    tracing::info!(by = %staff.0.sub, created = report.created, updated = report.updated, failed = report.failed.len(), "contacts imported");
    Ok(Json(report))
}

/// A row's field values, ready to write.
type RowValues = BTreeMap<String, Value>;

/// Each row's values, rendered from the templates and validated, numbered from 1. A row
/// repeating a unique value of an earlier valid row fails, so which of them is written does not
/// depend on the order concurrent writes land in.
fn prepare_rows(
    view: &View<'_>,
    contacts: &'static Module,
    templates: &[(String, FieldType, Vec<Part>)],
    rows: &[Map<String, JsonValue>],
) -> Vec<(usize, Result<RowValues, ApiError>)> {
    let mut first_rows: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut prepared = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        let number = index + 1;
        let input: Map<String, JsonValue> = templates
            .iter()
            .filter_map(|(field, field_type, parts)| {
                render(parts, row).map(|value| (field.clone(), coerce(field_type, value)))
            })
            .collect();
        let values = parse_fields(&view.schema, contacts.name, &input).map_err(|errors| {
            ApiError::validation(errors.into_iter().map(|(f, m)| FieldError::new(f, m)).collect())
        });
        let values = values.and_then(|values| {
            let held: Vec<(String, String)> =
                view.unique_values(&values).into_iter().map(|guard| (guard.field, guard.value)).collect();
            let repeats: Vec<FieldError> = held
                .iter()
                .filter_map(|key| {
                    let first = first_rows.get(key)?;
                    Some(FieldError::new(
                        format!("fields.{}", key.0),
                        format!("repeats the value of row {first}"),
                    ))
                })
                .collect();
            if !repeats.is_empty() {
                return Err(ApiError::validation(repeats));
            }
            first_rows.extend(held.into_iter().map(|key| (key, number)));
            Ok(values)
        });
        prepared.push((number, values));
    }
    prepared
}

/// Writes one prepared row; `Ok(true)` when it updated the contact its `match_on` value named.
async fn write_row(
    state: &AppState,
    view: &View<'_>,
    contacts: &'static Module,
    match_on: Option<&str>,
    values: RowValues,
    owner: Ulid,
) -> Result<bool, ApiError> {
    let existing = match match_on {
        Some(key) => match view.unique_values(&values).into_iter().find(|guard| guard.field == key) {
            Some(guard) => state.store.record_id_by_unique(&guard).await?,
            None => None,
        },
        None => None,
    };
    match existing {
        Some(id) => {
            let current = state
                .store
                .record(contacts, id, &view.schema)
                .await?
                .ok_or_else(|| ApiError::not_found("The matched contact vanished."))?;
            store_changes(state, view, contacts, id, current.version, &values).await?;
            Ok(true)
        }
        None => {
            store_new_record(state, view, contacts, values, owner).await?;
            Ok(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn templates_split_into_text_and_columns() {
        assert_eq!(
            parse_template("{{First}} {{Last}}").unwrap(),
            vec![Part::Column("First".into()), Part::Text(" ".into()), Part::Column("Last".into())]
        );
        assert_eq!(parse_template("CZ").unwrap(), vec![Part::Text("CZ".into())]);
        assert!(parse_template("{{Open").is_err());
        assert!(parse_template("{{}}").is_err());
    }

    #[test]
    fn rendering_keeps_lone_values_and_skips_empty_ones() {
        let row = json!({"Age": 42, "First": "Ann", "Last": "", "Blank": ""});
        let row = row.as_object().unwrap();
        assert_eq!(render(&parse_template("{{Age}}").unwrap(), row), Some(json!(42)));
        assert_eq!(render(&parse_template("{{First}} {{Last}}").unwrap(), row), Some(json!("Ann ")));
        assert_eq!(render(&parse_template("{{Blank}}").unwrap(), row), None);
        assert_eq!(render(&parse_template("{{Missing}}").unwrap(), row), None);
        assert_eq!(render(&parse_template("Lead").unwrap(), row), Some(json!("Lead")));
    }
}
