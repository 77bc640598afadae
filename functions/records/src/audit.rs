//! `GET /records/{module}/{id}/audit`: a record's history as the stream consumer wrote it, seen
//! through the caller's view: the same record-level access as the record, masked fields shown
//! as changed without their values, fields of other projects left out.

use axum::Json;
use axum::extract::{Path, State};
use portico::domain::modules::Origin;
use portico::error::Problem;
use portico::http::{ApiQuery, PageQuery, PagedResponse, Staff};
use portico::records::{Caller, Need, View, custom_fields};
use portico::store::audit::AuditEntry;
use portico::{ApiError, AppState};
use serde::Serialize;
use serde_json::Value as JsonValue;
use utoipa::ToSchema;

/// One change of a record.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryView {
    /// `created`, `edited` or `deleted`.
    pub event: String,
    /// The staff account that made the change, or `system` (a rule, an import's automation).
    pub by: String,
    /// `api`, `import`, `otp:<challenge>`, `workflow:<rule>/<depth>`, `portal:<account>` …
    pub origin: String,
    pub at: chrono::DateTime<chrono::Utc>,
    /// The version the change made.
    pub version: u64,
    pub changes: Vec<FieldChangeView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FieldChangeView {
    pub field: String,
    /// Absent for a masked field the caller may not see (its change is shown, not its values).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub old: Option<JsonValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub new: Option<JsonValue>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub masked: bool,
}

fn entry_view(view: &View<'_>, entry: AuditEntry) -> AuditEntryView {
    use portico::criteria::FieldSchema;
    let changes = entry
        .changes
        .into_iter()
        .filter(|change| view.schema.field_type(&change.field).is_some())
        .map(|change| {
            let masked = view.hides(&change.field);
            FieldChangeView {
                old: (!masked).then_some(change.old),
                new: (!masked).then_some(change.new),
                field: change.field,
                masked,
            }
        })
        .collect();
    AuditEntryView {
        event: entry.event,
        by: entry.by,
        origin: entry.origin,
        at: entry.at,
        version: entry.version,
        changes,
    }
}

#[utoipa::path(get, path = "/records/{module}/{id}/audit", tag = "records", security(("bearer" = [])),
    params(("module" = String, Path), ("id" = String, Path), PageQuery),
    responses((status = 200, body = inline(PagedResponse<AuditEntryView>), description = "The record's changes, newest first (written from the table's stream within seconds of each change). For a deletion `by` is who changed the record last: the stream does not say who deleted it"),
        (status = 400, body = Problem), (status = 404, body = Problem, description = "No such record, or one the caller may not read")))]
pub(crate) async fn record_audit(
    State(state): State<AppState>,
    Staff(claims, _): Staff,
    Path((module, id)): Path<(String, String)>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<PagedResponse<AuditEntryView>>, ApiError> {
    let caller = Caller::staff(&claims, Origin::Api);
    let module = caller.module(&module, Need::Read)?;
    let custom = custom_fields(&state.store, module).await?;
    let view = View::new(&caller, module, &custom);
    let record = view.read(&state.store, crate::parse_record_id(&id)?).await?;
    let (limit, start) = page.resolve(&state.keys)?;
    let entries = state.store.audit_entries(module.name, record.id, limit, start).await?;
    Ok(Json(PagedResponse::from_page(&state.keys, entries, |entry| entry_view(&view, entry))))
}
