//! CRM records for staff (SPEC §6, §8): list, create, read, change and delete the records of
//! the built-in modules, within what the staff member's roles allow.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use portico::criteria::{self, FieldSchema};
use portico::domain::Permission;
use portico::domain::contact_fields::{ContactField, ModuleSchema};
use portico::domain::modules::{self, CrmRecord, Module, field_json, parse_fields};
use portico::error::{FieldError, Problem};
use portico::http::{ApiJson, Staff};
use portico::store::records::{RecordChanges, RecordWrite, UniqueValue};
use portico::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as JsonValue};
use ulid::Ulid;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

mod export;
mod import;
mod list;

pub fn api() -> OpenApiRouter<AppState> {
    // Imports may carry up to 6 MiB; every other route keeps the default cap.
    let (schemas, paths, import) = routes!(import::import_contacts);
    let import = import.layer(axum::extract::DefaultBodyLimit::max(import::IMPORT_BODY_LIMIT));
    OpenApiRouter::new()
        .routes((schemas, paths, import))
        .routes(routes!(list::list_records, create_record))
        .routes(routes!(get_record, patch_record, delete_record))
}

pub fn router(state: AppState) -> Router {
    let (router, _) = api().split_for_parts();
    portico::http::with_defaults(router).with_state(state)
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

/// What a request wants to do with a module's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    List,
    Read,
    Write,
    Delete,
}

/// The module, if the staff member may do `need` with it. A module they can't read answers 404
/// for its records (they do not exist for them) and 403 for its list.
pub(crate) fn module_for(staff: &Staff, name: &str, need: Need) -> Result<&'static Module, ApiError> {
    let no_record = || ApiError::not_found("No such record.");
    let module = modules::module(name).ok_or_else(|| ApiError::not_found("No such module."))?;
    let access = staff.0.access(module.name);
    let forbidden =
        || ApiError::forbidden("forbidden", format!("Your role does not allow this on {}.", module.name));
    match need {
        Need::List if !access.read => Err(forbidden()),
        Need::Read | Need::Write | Need::Delete if !access.read => Err(no_record()),
        Need::Write if !access.write => Err(forbidden()),
        Need::Delete if !access.delete => Err(forbidden()),
        _ => Ok(module),
    }
}

fn parse_record_id(id: &str) -> Result<Ulid, ApiError> {
    Ulid::from_string(id).map_err(|_| ApiError::not_found("No such record."))
}

/// A record as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordView {
    pub id: String,
    pub module: String,
    /// Send it back as `If-Match` (or `version`) when changing the record.
    pub version: u64,
    pub owner_id: String,
    /// Field name → value (dates `YYYY-MM-DD`, date-times RFC 3339, numbers as JSON numbers).
    /// Masked fields are `null` for staff without `contacts.view_masked`.
    #[schema(value_type = Object)]
    pub fields: Map<String, JsonValue>,
    /// The fields whose values are hidden from the caller.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub masked: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The fields of a module one staff member works with, and whether they see masked values.
pub(crate) struct View<'a> {
    schema: ModuleSchema<'a>,
    sees_masked: bool,
}

impl<'a> View<'a> {
    fn new(staff: &Staff, module: &'static Module, custom: &'a [ContactField]) -> Self {
        let all = staff.0.has(Permission::SettingsManage);
        Self {
            schema: ModuleSchema::for_staff(module, custom, &staff.0.projects, all),
            sees_masked: staff.0.has(Permission::ContactsViewMasked),
        }
    }

    pub(crate) fn hides(&self, field: &str) -> bool {
        !self.sees_masked && self.schema.custom_field(field).is_some_and(|custom| custom.masked)
    }

    /// The record as this caller may see it: masked values never leave the server.
    pub(crate) fn render(&self, record: &CrmRecord) -> RecordView {
        let mut masked = Vec::new();
        let mut fields = Map::new();
        for (name, value) in &record.fields {
            let Some(field_type) = self.schema.field_type(name) else { continue };
            if self.hides(name) {
                masked.push(name.clone());
                fields.insert(name.clone(), JsonValue::Null);
            } else {
                fields.insert(name.clone(), field_json(field_type, value));
            }
        }
        RecordView {
            id: record.id.to_string(),
            module: record.module.name.to_owned(),
            version: record.version,
            owner_id: record.owner_id.to_string(),
            fields,
            masked,
            created_at: record.created_at,
            updated_at: record.updated_at,
        }
    }

    /// The guards of the unique custom fields among `fields`.
    pub(crate) fn unique_values(&self, fields: &BTreeMap<String, criteria::Value>) -> Vec<UniqueValue> {
        fields
            .iter()
            .filter(|(_, value)| **value != criteria::Value::Null)
            .filter_map(|(name, value)| {
                let custom = self.schema.custom_field(name).filter(|custom| custom.unique)?;
                let value = match field_json(&custom.field_type, value) {
                    JsonValue::String(text) => text,
                    other => other.to_string(),
                };
                Some(UniqueValue { field: name.clone(), value })
            })
            .collect()
    }
}

/// The custom fields of `module` (only contacts have them).
pub(crate) async fn custom_fields(state: &AppState, module: &Module) -> Result<Vec<ContactField>, ApiError> {
    if module.name == "contacts" { Ok(state.store.contact_fields().await?) } else { Ok(Vec::new()) }
}

/// The record with its version as an ETag.
fn record_response(status: StatusCode, view: RecordView) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", view.version)).ok();
    let mut response = (status, Json(view)).into_response();
    if let Some(etag) = etag {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

/// Stores a new record of `module` with `fields` (nulls dropped), claiming its unique values.
async fn store_new_record(
    state: &AppState,
    view: &View<'_>,
    module: &'static Module,
    fields: BTreeMap<String, criteria::Value>,
    owner_id: Ulid,
) -> Result<CrmRecord, ApiError> {
    let now = Utc::now();
    let fields: BTreeMap<_, _> =
        fields.into_iter().filter(|(_, value)| *value != criteria::Value::Null).collect();
    let record = CrmRecord {
        id: Ulid::generate(),
        module,
        owner_id,
        version: 1,
        fields,
        created_at: now,
        updated_at: now,
    };
    match state.store.create_record(&record, &view.schema, &view.unique_values(&record.fields)).await? {
        RecordWrite::Done => Ok(record),
        RecordWrite::ValueTaken(field) => Err(ApiError::value_taken(&field)),
        RecordWrite::Stale => Err(ApiError::conflict("conflict", "The record exists already.")),
    }
}

/// Applies `values` to record `id` if it is still at `expected`; unique values that change
/// move their guards (the ones held now are read first; the version condition makes sure they
/// still are when the write lands).
async fn store_changes(
    state: &AppState,
    view: &View<'_>,
    module: &'static Module,
    id: Ulid,
    expected: u64,
    values: &BTreeMap<String, criteria::Value>,
) -> Result<CrmRecord, ApiError> {
    let claim = view.unique_values(values);
    let release = if values.keys().any(|field| view.schema.custom_field(field).is_some_and(|c| c.unique)) {
        let current = state
            .store
            .record(module, id, &view.schema)
            .await?
            .ok_or_else(|| ApiError::not_found("No such record."))?;
        let held: BTreeMap<_, _> = current
            .fields
            .iter()
            .filter(|(field, _)| values.contains_key(*field))
            .map(|(f, v)| (f.clone(), v.clone()))
            .collect();
        view.unique_values(&held)
    } else {
        Vec::new()
    };
    let changes = RecordChanges {
        set: values
            .iter()
            .filter(|(_, value)| **value != criteria::Value::Null)
            .map(|(field, value)| (field.as_str(), value))
            .collect(),
        remove: values
            .iter()
            .filter(|(_, value)| **value == criteria::Value::Null)
            .map(|(field, _)| field.as_str())
            .collect(),
        claim: claim.iter().filter(|guard| !release.contains(guard)).cloned().collect(),
        release: release.iter().filter(|guard| !claim.contains(guard)).cloned().collect(),
    };
    match state.store.update_record(module, id, expected, &changes, &view.schema, Utc::now()).await {
        Ok(Some(record)) => Ok(record),
        Ok(None) => match state.store.record(module, id, &view.schema).await? {
            None => Err(ApiError::not_found("No such record.")),
            Some(current) => Err(ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "version_mismatch",
                format!("The record is at version {}; read it again and retry.", current.version),
            )),
        },
        Err(portico::store::StoreError::ValueTaken(field)) => Err(ApiError::value_taken(&field)),
        Err(error) => Err(error.into()),
    }
}

fn field_errors(errors: Vec<(String, String)>) -> ApiError {
    ApiError::validation(errors.into_iter().map(|(field, message)| FieldError::new(field, message)).collect())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRecord {
    #[schema(value_type = Object)]
    pub fields: Map<String, JsonValue>,
    /// Defaults to the caller.
    pub owner_id: Option<String>,
}

#[utoipa::path(post, path = "/records/{module}", tag = "records", security(("bearer" = [])),
    params(("module" = String, Path)), request_body = NewRecord,
    responses((status = 201, body = RecordView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn create_record(
    State(state): State<AppState>,
    staff: Staff,
    Path(module): Path<String>,
    ApiJson(request): ApiJson<NewRecord>,
) -> Result<Response, ApiError> {
    let module = module_for(&staff, &module, Need::Write)?;
    let custom = custom_fields(&state, module).await?;
    let view = View::new(&staff, module, &custom);
    let fields = parse_fields(&view.schema, module.name, &request.fields).map_err(field_errors)?;
    let owner_id = match request.owner_id.as_deref() {
        Some(owner) => {
            Ulid::from_string(owner).map_err(|_| ApiError::invalid_field("owner_id", "must be a user id"))?
        }
        None => staff.0.sub,
    };
    let record = store_new_record(&state, &view, module, fields, owner_id).await?;
    tracing::info!(module = module.name, record_id = %record.id, by = %staff.0.sub, "record created");
    Ok(record_response(StatusCode::CREATED, view.render(&record)))
}

#[utoipa::path(get, path = "/records/{module}/{id}", tag = "records", security(("bearer" = [])),
    params(("module" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = RecordView), (status = 404, body = Problem, description = "No such record, or one the caller may not read")))]
async fn get_record(
    State(state): State<AppState>,
    staff: Staff,
    Path((module, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let module = module_for(&staff, &module, Need::Read)?;
    let custom = custom_fields(&state, module).await?;
    let view = View::new(&staff, module, &custom);
    let record = state
        .store
        .record(module, parse_record_id(&id)?, &view.schema)
        .await?
        .ok_or_else(|| ApiError::not_found("No such record."))?;
    Ok(record_response(StatusCode::OK, view.render(&record)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordPatch {
    /// Fields to change; `null` clears a field.
    #[schema(value_type = Object)]
    pub fields: Map<String, JsonValue>,
    /// The version the change is based on (or send `If-Match`).
    pub version: Option<u64>,
}

/// The version a change is based on: `If-Match: "3"` (or `3`), else the body's `version`.
fn expected_version(headers: &HeaderMap, body: Option<u64>) -> Result<u64, ApiError> {
    if let Some(value) = headers.get(header::IF_MATCH) {
        let text = value.to_str().unwrap_or_default().trim().trim_start_matches("W/").trim_matches('"');
        return text.parse().map_err(|_| {
            ApiError::bad_request("invalid_if_match", "If-Match must be the record's version.")
        });
    }
    body.ok_or_else(|| {
        ApiError::new(
            StatusCode::PRECONDITION_REQUIRED,
            "version_required",
            "Send the version you read, as If-Match or `version`.",
        )
    })
}

#[utoipa::path(patch, path = "/records/{module}/{id}", tag = "records", security(("bearer" = [])),
    params(("module" = String, Path), ("id" = String, Path), ("If-Match" = Option<String>, Header, description = "The record's version")),
    request_body = RecordPatch,
    responses((status = 200, body = RecordView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 412, body = Problem, description = "`version_mismatch`: the record changed since it was read"),
        (status = 428, body = Problem, description = "`version_required`")))]
async fn patch_record(
    State(state): State<AppState>,
    staff: Staff,
    Path((module, id)): Path<(String, String)>,
    headers: HeaderMap,
    ApiJson(patch): ApiJson<RecordPatch>,
) -> Result<Response, ApiError> {
    let module = module_for(&staff, &module, Need::Write)?;
    let id = parse_record_id(&id)?;
    let expected = expected_version(&headers, patch.version)?;
    let custom = custom_fields(&state, module).await?;
    let view = View::new(&staff, module, &custom);
    let values = parse_fields(&view.schema, module.name, &patch.fields).map_err(field_errors)?;
    let record = store_changes(&state, &view, module, id, expected, &values).await?;
    tracing::info!(module = module.name, record_id = %id, version = record.version, by = %staff.0.sub, "record changed");
    Ok(record_response(StatusCode::OK, view.render(&record)))
}

#[utoipa::path(delete, path = "/records/{module}/{id}", tag = "records", security(("bearer" = [])),
    params(("module" = String, Path), ("id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn delete_record(
    State(state): State<AppState>,
    staff: Staff,
    Path((module, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let module = module_for(&staff, &module, Need::Delete)?;
    let id = parse_record_id(&id)?;
    // Every unique value the record holds is freed, also of fields the caller does not see.
    let custom = custom_fields(&state, module).await?;
    let guards = if custom.iter().any(|field| field.unique) {
        let everything = ModuleSchema::for_staff(module, &custom, &[], true);
        match state.store.record(module, id, &everything).await? {
            Some(record) => View { schema: everything, sees_masked: true }.unique_values(&record.fields),
            None => return Err(ApiError::not_found("No such record.")),
        }
    } else {
        Vec::new()
    };
    if !state.store.delete_record(module, id, &guards).await? {
        return Err(ApiError::not_found("No such record."));
    }
    tracing::info!(module = module.name, record_id = %id, by = %staff.0.sub, "record deleted");
    Ok(StatusCode::NO_CONTENT)
}
