//! `POST /imports/contacts`: rows (JSON or CSV) mapped to contact fields by templates —
//! `{{Column}}` takes a column (case-sensitive), other text is a constant, and the two mix
//! (`{{First}} {{Last}}`). Each row is validated and written on its own through the records
//! core; the answer reports every failed row. Nothing is written before the mapping is known to
//! be sound, and a body over the row cap is refused while it is read.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use futures::stream::{self, StreamExt};
use portico::criteria::{FieldSchema, FieldType, Value};
use portico::domain::Permission;
use portico::domain::modules::Origin;
use portico::error::{FieldError, Problem};
use portico::http::{ApiQuery, Staff};
use portico::records::template::Template;
use portico::records::{Caller, Need, RecordError, View, custom_fields};
use portico::store::WriteSet;
use portico::{ApiError, AppState};
use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as JsonValue};
use ulid::Ulid;
use utoipa::{IntoParams, ToSchema};

/// Imports may be larger than other requests.
pub const IMPORT_BODY_LIMIT: usize = 6 * 1024 * 1024;
pub const MAX_ROWS: usize = 10_000;
/// Rows written at once: enough to hide DynamoDB's latency, few enough not to be throttled.
const CONCURRENT_ROWS: usize = 16;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// The project whose contact fields the import may fill.
    #[schema(pattern = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub project_id: String,
    /// Contact field → template.
    pub mapping: BTreeMap<String, String>,
    /// At most 10 000 rows.
    #[schema(value_type = Vec<Object>)]
    #[serde(deserialize_with = "capped_rows")]
    pub rows: Vec<Row>,
    /// A unique field: rows whose value exists update that contact instead of creating one.
    pub match_on: Option<String>,
}

/// Reads a JSON array of rows, failing as soon as it holds more than `MAX_ROWS`: the rest of
/// the body is never parsed into rows.
fn capped_rows<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Row>, D::Error> {
    struct Capped;
    impl<'de> Visitor<'de> for Capped {
        type Value = Vec<Row>;
        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            write!(formatter, "a list of at most {MAX_ROWS} rows")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Row>, A::Error> {
            let mut rows = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_ROWS));
            while let Some(row) = seq.next_element()? {
                if rows.len() == MAX_ROWS {
                    return Err(serde::de::Error::custom(format!("at most {MAX_ROWS} rows per import")));
                }
                rows.push(row);
            }
            Ok(rows)
        }
    }
    deserializer.deserialize_seq(Capped)
}

/// For `text/csv` bodies (the first line names the columns).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
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
    /// The problem code the row would have got alone: `validation_failed`, `value_taken`,
    /// `otp_required` (a change only the customer's one-time password unlocks),
    /// `otp_guarded_value` …
    pub code: String,
    pub errors: Vec<FieldError>,
    /// The row failed on a passing condition (throttling, an outage, a concurrent change of the
    /// same contact): sending it again may work. Other failures need the row fixed.
    pub retryable: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub failed: Vec<RowFailure>,
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

/// The header's column names and the rows of a CSV body; more than `MAX_ROWS` rows are refused
/// as soon as the first one too many is read.
fn read_csv(body: &[u8]) -> Result<(Vec<String>, Vec<Row>), ApiError> {
    let bad =
        |error: csv::Error| ApiError::bad_request("invalid_csv", format!("The CSV is malformed: {error}."));
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(body);
    let headers: Vec<String> = reader.headers().map_err(bad)?.iter().map(str::to_owned).collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        if rows.len() == MAX_ROWS {
            return Err(too_many_rows());
        }
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

fn too_many_rows() -> ApiError {
    ApiError::invalid_field("rows", format!("at most {MAX_ROWS} rows per import"))
}

#[utoipa::path(post, path = "/imports/contacts", tag = "records", security(("bearer" = [])), params(CsvParams),
    request_body(content(
        (ImportRequest = "application/json"),
        (String = "text/csv")
    )),
    responses((status = 200, body = ImportReport, description = "Per-row outcome; rows fail on their own"),
        (status = 400, body = Problem, description = "The mapping, project or body is unsound, or it has over 10 000 rows; nothing was written"),
        (status = 403, body = Problem, description = "`forbidden`, or `masked_field`: matching on, or filling a unique, field hidden from the caller"),
        (status = 413, body = Problem)))]
pub async fn import_contacts(
    State(state): State<AppState>,
    Staff(claims, _): Staff,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<CsvParams>,
    body: Bytes,
) -> Result<Json<ImportReport>, ApiError> {
    let caller = Caller::staff(&claims, Origin::Import);
    let contacts = caller.module("contacts", Need::Write)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (request, columns) = if content_type.starts_with("text/csv") {
        let mapping =
            params.mapping.as_deref().ok_or_else(|| ApiError::invalid_field("mapping", "is required"))?;
        let mapping = serde_json::from_str(mapping)
            .map_err(|_| ApiError::invalid_field("mapping", "must be a JSON object of templates"))?;
        let project_id =
            params.project_id.ok_or_else(|| ApiError::invalid_field("project_id", "is required"))?;
        let (columns, rows) = read_csv(&body)?;
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

    let project = Ulid::from_string(&request.project_id)
        .ok()
        .filter(|id| claims.projects.contains(id) || caller.has(Permission::SettingsManage))
        .ok_or_else(|| ApiError::invalid_field("project_id", "is not a project of yours"))?;
    let custom = custom_fields(&state.store, contacts).await?;
    let view = View::for_project(&caller, contacts, &custom, project);

    // The whole mapping is checked before any row is written.
    let mut errors = Vec::new();
    let mut templates = Vec::new();
    for (field, template) in &request.mapping {
        let Some(field_type) = view.schema.field_type(field) else {
            errors
                .push(FieldError::new(format!("mapping.{field}"), "is not a contact field of this project"));
            continue;
        };
        match Template::parse(template) {
            Err(message) => errors.push(FieldError::new(format!("mapping.{field}"), message)),
            Ok(template) => {
                for column in template.names().filter(|column| !columns.contains(*column)) {
                    errors.push(FieldError::new(
                        format!("mapping.{field}"),
                        format!("names the unknown column `{column}`"),
                    ));
                }
                templates.push((field.clone(), field_type.clone(), template));
            }
        }
    }
    if let Some(key) = &request.match_on {
        // Matching on a value one may not see would copy the matched contact's data into view.
        if view.hides(key) {
            return Err(RecordError::MaskedField { field: key.clone(), verb: "match on" }.into());
        }
        let unique = view.schema.custom_field(key).is_some_and(|field| field.unique);
        if !unique || !request.mapping.contains_key(key) {
            errors.push(FieldError::new("match_on", "must be a unique contact field the mapping fills"));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    // Filling a hidden unique field would tell, row by row, which values are taken.
    let unique = |field: &String| view.schema.custom_field(field).is_some_and(|custom| custom.unique);
    if let Some(field) = request.mapping.keys().find(|field| view.hides(field) && unique(field)) {
        return Err(RecordError::MaskedField { field: field.clone(), verb: "write" }.into());
    }

    let prepared = prepare_rows(&view, &templates, &request.rows);
    let (view, state, match_on) = (&view, &state, request.match_on.as_deref());
    let outcomes: Vec<(usize, Result<bool, ApiError>)> = stream::iter(prepared)
        .map(|(row, values)| async move {
            let outcome = match values {
                Ok(values) => write_row(state, view, match_on, values).await,
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
            Err(error) => {
                // Passing conditions: throttling or an outage (503), a race with another writer.
                let retryable = error.status() == axum::http::StatusCode::SERVICE_UNAVAILABLE
                    || matches!(error.code(), "conflict" | "version_mismatch");
                let server_side = error.status().is_server_error();
                if server_side {
                    tracing::warn!(row, %error, "import row failed on the server side");
                }
                let errors = if error.fields().is_empty() {
                    let message = if server_side { "could not be written now" } else { error.message() };
                    vec![FieldError::new("row", message)]
                } else {
                    error.fields().to_vec()
                };
                report.failed.push(RowFailure { row, code: error.code().to_owned(), errors, retryable });
            }
        }
    }
    report.failed.sort_by_key(|failure| failure.row);
    tracing::info!(by = %claims.sub, created = report.created, updated = report.updated, failed = report.failed.len(), "contacts imported");
    Ok(Json(report))
}

/// A row's field values, ready to write.
type RowValues = BTreeMap<String, Value>;

/// Each row's values, rendered from the templates and validated, numbered from 1. A row
/// repeating a unique value of an earlier valid row fails, so which of them is written does not
/// depend on the order concurrent writes land in.
fn prepare_rows(
    view: &View<'_>,
    templates: &[(String, FieldType, Template)],
    rows: &[Row],
) -> Vec<(usize, Result<RowValues, ApiError>)> {
    let mut first_rows: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut prepared = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        let number = index + 1;
        let input: Map<String, JsonValue> = templates
            .iter()
            .filter_map(|(field, field_type, template)| {
                template.render(row).map(|value| (field.clone(), coerce(field_type, value)))
            })
            .collect();
        let values = view.parse_write(&input).map_err(ApiError::from).and_then(|values| {
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
    match_on: Option<&str>,
    values: RowValues,
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
            let current = view.read(&state.store, id).await?;
            view.change(&state.store, id, current.version, &values, None, WriteSet::new()).await?;
            Ok(true)
        }
        None => {
            view.create(&state.store, values, None, WriteSet::new()).await?;
            Ok(false)
        }
    }
}
