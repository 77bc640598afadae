//! CRM records for staff (SPEC §6, §8): list, create, read, change and delete the records of
//! the built-in modules, within what the staff member's roles allow. The rules live in the
//! shared records core (`portico::records`); this crate is its HTTP face: extractors, status
//! codes, ETags and CSV.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use portico::domain::modules::Origin;
use portico::error::Problem;
use portico::http::{ApiJson, Staff, if_match, required_version};
use portico::records::{Caller, Need, RecordError, RecordView, View, custom_fields, otp};
use portico::routes;
use portico::store::WriteSet;
use portico::{ApiError, AppState};
use serde::Deserialize;
use serde_json::{Map, Value as JsonValue};
use ulid::Ulid;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

mod audit;
mod export;
mod forms;
mod import;
mod list;

pub use import::MAX_ROWS as MAX_IMPORT_ROWS;

pub fn api() -> OpenApiRouter<AppState> {
    // Imports may carry up to 6 MiB; every other route keeps the default cap.
    let (schemas, paths, import) = routes!(import::import_contacts);
    let import = import.layer(axum::extract::DefaultBodyLimit::max(import::IMPORT_BODY_LIMIT));
    OpenApiRouter::new()
        .routes((schemas, paths, import))
        .routes(routes!(list::list_records, create_record))
        .routes(routes!(get_record, patch_record, delete_record))
        .routes(routes!(audit::record_audit))
        .merge(forms::api())
}

/// The routes, waiting for their state: a cold start builds them while it reads the state.
pub fn routes() -> Router<AppState> {
    portico::http::with_defaults(api().split_for_parts().0)
}

pub fn router(state: AppState) -> Router {
    routes().with_state(state)
}

pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

fn parse_record_id(id: &str) -> Result<Ulid, ApiError> {
    Ulid::from_string(id).map_err(|_| ApiError::not_found("No such record."))
}

fn parse_owner(owner: Option<&str>) -> Result<Option<Ulid>, ApiError> {
    owner
        .map(|owner| {
            Ulid::from_string(owner).map_err(|_| ApiError::invalid_field("owner_id", "must be a user id"))
        })
        .transpose()
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRecord {
    #[schema(value_type = Object)]
    pub fields: Map<String, JsonValue>,
    /// An active staff user; defaults to the caller. Someone else needs `records.assign`.
    pub owner_id: Option<String>,
}

#[utoipa::path(post, path = "/records/{module}", tag = "records", security(("bearer" = [])),
    params(("module" = String, Path)), request_body = NewRecord,
    responses((status = 201, body = RecordView), (status = 400, body = Problem),
        (status = 403, body = Problem, description = "`forbidden` (no write access, or assigning without `records.assign`), or `masked_field`: writing a unique field hidden from the caller"),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "`value_taken`, or `conflict`: a concurrent write; retry")))]
async fn create_record(
    State(state): State<AppState>,
    Staff(claims, _): Staff,
    Path(module): Path<String>,
    ApiJson(request): ApiJson<NewRecord>,
) -> Result<Response, ApiError> {
    let caller = Caller::staff(&claims, Origin::Api);
    let module = caller.module(&module, Need::Write)?;
    let custom = custom_fields(&state.store, module).await?;
    let view = View::new(&caller, module, &custom);
    let values = view.parse_write(&request.fields)?;
    let owner = parse_owner(request.owner_id.as_deref())?;
    let record = view.create(&state.store, values, owner, WriteSet::new()).await?;
    tracing::info!(module = module.name, record_id = %record.id, by = %claims.sub, "record created");
    Ok(record_response(StatusCode::CREATED, view.render(&record)))
}

#[utoipa::path(get, path = "/records/{module}/{id}", tag = "records", security(("bearer" = [])),
    params(("module" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = RecordView), (status = 404, body = Problem, description = "No such record, or one the caller may not read")))]
async fn get_record(
    State(state): State<AppState>,
    Staff(claims, _): Staff,
    Path((module, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let caller = Caller::staff(&claims, Origin::Api);
    let module = caller.module(&module, Need::Read)?;
    let custom = custom_fields(&state.store, module).await?;
    let view = View::new(&caller, module, &custom);
    let record = view.read(&state.store, parse_record_id(&id)?).await?;
    Ok(record_response(StatusCode::OK, view.render(&record)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordPatch {
    /// Fields to change; `null` clears a field.
    #[schema(value_type = Object)]
    #[serde(default)]
    pub fields: Map<String, JsonValue>,
    /// A new owner: an active staff user; someone other than the caller needs `records.assign`.
    pub owner_id: Option<String>,
    /// The version the change is based on (or send `If-Match`).
    pub version: Option<u64>,
}

#[utoipa::path(patch, path = "/records/{module}/{id}", tag = "records", security(("bearer" = [])),
    params(("module" = String, Path), ("id" = String, Path), ("If-Match" = Option<String>, Header, nullable = false, pattern = "^(W/)?\"?[1-9][0-9]{0,18}\"?$", description = "The record's version")),
    request_body = RecordPatch,
    responses((status = 200, body = RecordView), (status = 400, body = Problem),
        (status = 403, body = Problem, description = "`forbidden`, or `masked_field`: writing a unique field hidden from the caller"),
        (status = 404, body = Problem, description = "No such record, or one the caller may not change"),
        (status = 409, body = Problem, description = "`value_taken`, or `conflict`: a concurrent write; retry"),
        (status = 412, body = Problem, description = "`version_mismatch`: the record changed since it was read"),
        (status = 422, body = Problem, description = "`otp_no_recipient`: an OTP rule guards the change, and the record has no recipient for its channels"),
        (status = 428, body = Problem, description = "`version_required`; or `otp_required`: an OTP rule holds the change back, and the problem carries the challenge (`challenge_id`, `channel`, `recipient_hint`, `expires_at`, `send_mode`, `resends_left`, `attempts_left`); verify it at `/otp/challenges/{id}/verify`"),
        (status = 429, body = Problem, description = "`rate_limited`: too many codes to this recipient"),
        (status = 502, body = Problem, description = "`otp_delivery_failed`: the challenge is open (`challenge_id`) but its code could not be sent")))]
async fn patch_record(
    State(state): State<AppState>,
    Staff(claims, _): Staff,
    Path((module, id)): Path<(String, String)>,
    headers: HeaderMap,
    ApiJson(patch): ApiJson<RecordPatch>,
) -> Result<Response, ApiError> {
    let caller = Caller::staff(&claims, Origin::Api);
    let module = caller.module(&module, Need::Write)?;
    let id = parse_record_id(&id)?;
    let expected = required_version(&headers, patch.version)?;
    let custom = custom_fields(&state.store, module).await?;
    let view = View::new(&caller, module, &custom);
    let values = view.parse_write(&patch.fields)?;
    let owner = parse_owner(patch.owner_id.as_deref())?;
    let record = match view.change(&state.store, id, expected, &values, owner, WriteSet::new()).await {
        Ok(record) => record,
        Err(RecordError::OtpRequired(guarded)) => return Err(otp::open(&state, &view, *guarded).await),
        Err(error) => return Err(error.into()),
    };
    tracing::info!(module = module.name, record_id = %id, version = record.version, by = %claims.sub, "record changed");
    Ok(record_response(StatusCode::OK, view.render(&record)))
}

#[utoipa::path(delete, path = "/records/{module}/{id}", tag = "records", security(("bearer" = [])),
    params(("module" = String, Path), ("id" = String, Path), ("If-Match" = Option<String>, Header, nullable = false, pattern = "^(W/)?\"?[1-9][0-9]{0,18}\"?$", description = "Delete only at this version")),
    responses((status = 204), (status = 400, body = Problem, description = "`invalid_if_match`"),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "`conflict`: changed concurrently again and again; retry"),
        (status = 412, body = Problem, description = "`version_mismatch`: the record changed since it was read")))]
async fn delete_record(
    State(state): State<AppState>,
    Staff(claims, _): Staff,
    Path((module, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let caller = Caller::staff(&claims, Origin::Api);
    let module = caller.module(&module, Need::Delete)?;
    let id = parse_record_id(&id)?;
    let view = View::new(&caller, module, &[]);
    view.delete(&state.store, id, if_match(&headers)?).await?;
    tracing::info!(module = module.name, record_id = %id, by = %claims.sub, "record deleted");
    Ok(StatusCode::NO_CONTENT)
}
