//! The portal's configuration (`/admin/portal/modules`), its preview for one customer
//! (`/admin/portal/preview`) and a customer's contact link (`/admin/customers/{id}/contact`):
//! staff who manage settings, checked against their rights as stored now.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use portico::domain::Permission;
use portico::domain::portal::{KeySource, PortalModuleDefinition, PortalRead};
use portico::error::Problem;
use portico::http::{ApiJson, ApiQuery, Staff, if_match};
use portico::records::RecordError;
use portico::records::portal::{
    Customer, PortalConfig, PortalList, PortalRecordView, RecordExposure, relink_customer, render,
};
use portico::routes;
use portico::store::portal::StoredPortalModule;
use portico::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

/// Most candidates one preview explains.
const MAX_PREVIEW_RECORDS: u32 = 50;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_portal_modules))
        .routes(routes!(get_portal_module, put_portal_module, delete_portal_module))
        .routes(routes!(preview))
        .routes(routes!(link_contact, unlink_contact))
}

/// A module's exposure as configured, with how customers' lists read it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortalModuleConfigView {
    pub module: String,
    /// Send it as `If-Match` when replacing the module's exposure.
    pub version: u64,
    #[serde(flatten)]
    pub definition: PortalModuleDefinition,
    /// How a customer's page is read: `own_contact`, `contact_index` (the customer's records),
    /// `key_index` (records whose key field equals a value: `read_key`), or `module_filtered`
    /// (the module's index with the criteria as a filter: a page may read many records to
    /// find a few — add an equality on the module's key field to avoid it).
    pub read: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_key: Option<String>,
    /// Why a stored exposure no longer holds (a field masked or removed since): it shows
    /// nothing until it is saved again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<portico::error::FieldError>,
    pub updated_at: DateTime<Utc>,
}

fn config_view(
    stored: StoredPortalModule,
    custom: &[portico::domain::contact_fields::ContactField],
) -> PortalModuleConfigView {
    let (read, read_key, errors) = match stored.definition.clone().validate(&stored.module, custom) {
        Ok(valid) => {
            let key = |source: &KeySource| {
                let field = valid.module.key_field.unwrap_or_default();
                match source {
                    KeySource::Text(text) => format!("{field} = {text:?}"),
                    KeySource::User(user) => format!("{field} = $user.{user}"),
                }
            };
            match &valid.read {
                PortalRead::OwnContact => ("own_contact", None, Vec::new()),
                PortalRead::ContactRecords => ("contact_index", None, Vec::new()),
                PortalRead::Key(source) => ("key_index", Some(key(source)), Vec::new()),
                PortalRead::Module => ("module_filtered", None, Vec::new()),
            }
        }
        Err(errors) => ("none", None, errors),
    };
    PortalModuleConfigView {
        module: stored.module,
        version: stored.version,
        definition: stored.definition,
        read: read.to_owned(),
        read_key,
        errors,
        updated_at: stored.updated_at,
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PortalModuleConfigs {
    pub items: Vec<PortalModuleConfigView>,
}

#[utoipa::path(get, path = "/admin/portal/modules", tag = "portal admin", security(("bearer" = [])),
    responses((status = 200, body = PortalModuleConfigs), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_portal_modules(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<PortalModuleConfigs>, ApiError> {
    staff.require(Permission::SettingsManage)?;
    let (stored, custom) = tokio::try_join!(state.store.portal_modules(), state.store.contact_fields())?;
    Ok(Json(PortalModuleConfigs {
        items: stored.into_iter().map(|stored| config_view(stored, &custom)).collect(),
    }))
}

#[utoipa::path(get, path = "/admin/portal/modules/{module}", tag = "portal admin", security(("bearer" = [])),
    params(("module" = String, Path)),
    responses((status = 200, body = PortalModuleConfigView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "The portal does not show this module")))]
async fn get_portal_module(
    State(state): State<AppState>,
    staff: Staff,
    Path(module): Path<String>,
) -> Result<Json<PortalModuleConfigView>, ApiError> {
    staff.require(Permission::SettingsManage)?;
    let (stored, custom) =
        tokio::try_join!(state.store.portal_module(&module), state.store.contact_fields())?;
    let stored = stored.ok_or_else(|| ApiError::not_found("The portal does not show this module."))?;
    Ok(Json(config_view(stored, &custom)))
}

#[utoipa::path(put, path = "/admin/portal/modules/{module}", tag = "portal admin", security(("bearer" = [])),
    params(("module" = String, Path), ("If-Match" = Option<String>, Header, nullable = false, pattern = "^(W/)?\"?[1-9][0-9]{0,18}\"?$", description = "The version read, to replace an existing exposure; without it the module must not be in the portal yet")),
    request_body = PortalModuleDefinition,
    responses((status = 200, body = PortalModuleConfigView),
        (status = 400, body = Problem, description = "`validation_failed`, each error naming its path (`criteria.all[1].value`, `fields[2]`)"),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "`exists`: the module is in the portal already (send If-Match)"),
        (status = 412, body = Problem, description = "`version_mismatch`: it changed since it was read")))]
async fn put_portal_module(
    State(state): State<AppState>,
    staff: Staff,
    Path(module): Path<String>,
    headers: HeaderMap,
    ApiJson(definition): ApiJson<PortalModuleDefinition>,
) -> Result<Json<PortalModuleConfigView>, ApiError> {
    staff.require_now(&state, Permission::SettingsManage).await?;
    let expected = if_match(&headers)?;
    let custom = state.store.contact_fields().await?;
    let valid = definition.validate(&module, &custom).map_err(ApiError::validation)?;
    let stored = StoredPortalModule {
        module: valid.module.name.to_owned(),
        version: expected.map_or(1, |version| version + 1),
        definition: valid.definition,
        updated_at: Utc::now(),
    };
    if !state.store.put_portal_module(&stored).await? {
        return Err(match expected {
            None => ApiError::conflict(
                "exists",
                "The portal shows this module already; send its version as If-Match to replace it.",
            ),
            Some(_) => ApiError::version_mismatch(
                "The module's exposure changed since it was read (or is gone); read it again.",
            ),
        });
    }
    tracing::info!(module = %stored.module, version = stored.version, by = %staff.0.sub, "portal module saved");
    Ok(Json(config_view(stored, &custom)))
}

#[utoipa::path(delete, path = "/admin/portal/modules/{module}", tag = "portal admin", security(("bearer" = [])),
    params(("module" = String, Path)),
    responses((status = 204, description = "Customers no longer see the module"), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn delete_portal_module(
    State(state): State<AppState>,
    staff: Staff,
    Path(module): Path<String>,
) -> Result<StatusCode, ApiError> {
    staff.require_now(&state, Permission::SettingsManage).await?;
    if !state.store.delete_portal_module(&module).await? {
        return Err(ApiError::not_found("The portal does not show this module."));
    }
    tracing::info!(%module, by = %staff.0.sub, "portal module removed");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PreviewQuery {
    /// The customer's account id.
    pub user_id: String,
    pub module: String,
    /// Explain this record only (e.g. one the customer does not see).
    pub record_id: Option<String>,
    /// How many of the candidates to explain, 1–50 (default 25): the customer's records for
    /// primary and related modules, those sharing the key value or the module's for public ones.
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<u32>,
}

/// A record as the customer would see it, and why they see it or not.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewRecord {
    pub record: PortalRecordView,
    pub exposure: RecordExposure,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    pub user_id: String,
    pub contact_id: String,
    pub module: String,
    pub records: Vec<PreviewRecord>,
}

#[utoipa::path(get, path = "/admin/portal/preview", tag = "portal admin", security(("bearer" = [])),
    params(PreviewQuery),
    responses((status = 200, body = Preview, description = "The candidates, each with whether the customer sees it and the criteria's explanation"),
        (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "Without `settings.manage`, or without read access to all the module's records"),
        (status = 404, body = Problem, description = "No such customer, module in the portal, or record"),
        (status = 409, body = Problem, description = "`not_linked`: the customer has no contact yet")))]
async fn preview(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(query): ApiQuery<PreviewQuery>,
) -> Result<Json<Preview>, ApiError> {
    staff.require_now(&state, Permission::SettingsManage).await?;
    // The preview shows records: only to staff who may read all of the module's.
    let caller = portico::records::Caller::staff(&staff.0, portico::domain::modules::Origin::Api);
    if caller.access(&query.module).read != portico::domain::Scope::All {
        return Err(ApiError::forbidden(
            "forbidden",
            "Previewing a module needs read access to all its records.",
        ));
    }
    let user_id = Ulid::from_string(&query.user_id)
        .map_err(|_| ApiError::invalid_field("user_id", "must be an account id"))?;
    let limit = query.limit.unwrap_or(25);
    if !(1..=MAX_PREVIEW_RECORDS).contains(&limit) {
        return Err(ApiError::invalid_field("limit", format!("must be between 1 and {MAX_PREVIEW_RECORDS}")));
    }
    let (account, config) = tokio::try_join!(state.store.account(user_id), PortalConfig::load(&state.store))?;
    let account = account
        .filter(|account| account.kind == portico::domain::AccountKind::Customer)
        .ok_or_else(|| ApiError::not_found("No such customer."))?;
    let contact_id = account
        .contact_id
        .ok_or_else(|| ApiError::conflict("not_linked", "The customer is not linked to a contact yet."))?;
    let exposed = config.module(&query.module)?;
    let contact = config
        .contact(&state.store, contact_id)
        .await?
        .ok_or_else(|| ApiError::internal("the linked contact is missing"))?;
    let customer = Customer { account_id: account.id, contact };
    let records = match &query.record_id {
        Some(id) => {
            let id = Ulid::from_string(id).map_err(|_| ApiError::from(RecordError::NotFound))?;
            let schema = portico::domain::portal::portal_schema(exposed.module, &config.custom);
            let record =
                state.store.record(exposed.module, id, &schema).await?.ok_or(RecordError::NotFound)?;
            vec![record]
        }
        None => {
            // The candidates: what the exposure's index reaches, before the criteria.
            let candidates = PortalList::unfiltered(exposed);
            candidates.read_page(&state.store, &config, exposed, &customer, limit, None).await?.items
        }
    };
    Ok(Json(Preview {
        user_id: account.id.to_string(),
        contact_id: contact_id.to_string(),
        module: exposed.module.name.to_owned(),
        records: records
            .iter()
            .map(|record| PreviewRecord {
                record: render(exposed, record, &config.custom),
                exposure: customer.explain(exposed, record),
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactLink {
    /// The contact the customer sees as their own from now on; no other customer may be linked
    /// to it.
    #[schema(pattern = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub contact_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactLinkView {
    pub user_id: String,
    pub contact_id: String,
}

#[utoipa::path(put, path = "/admin/customers/{id}/contact", tag = "portal admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's account id")),
    request_body = ContactLink,
    responses((status = 200, body = ContactLinkView, description = "Linked; the previous contact is free for another customer"),
        (status = 400, body = Problem, description = "`validation_failed`: `contact_id` names no contact"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "`contact_linked`: another customer is linked to it; `not_active`")))]
async fn link_contact(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    ApiJson(link): ApiJson<ContactLink>,
) -> Result<Json<ContactLinkView>, ApiError> {
    staff.require_now(&state, Permission::SettingsManage).await?;
    let id = Ulid::from_string(&id).map_err(|_| ApiError::not_found("No such customer."))?;
    let contact_id = Ulid::from_string(&link.contact_id)
        .map_err(|_| ApiError::invalid_field("contact_id", "must be a contact id"))?;
    let account = relink_customer(&state.store, id, contact_id).await?;
    tracing::info!(account_id = %id, %contact_id, by = %staff.0.sub, "customer linked to a contact");
    Ok(Json(ContactLinkView {
        user_id: account.id.to_string(),
        contact_id: account.contact_id.map(|id| id.to_string()).unwrap_or_default(),
    }))
}

#[utoipa::path(delete, path = "/admin/customers/{id}/contact", tag = "portal admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "The customer's account id")),
    responses((status = 204, description = "Unlinked: the contact may be deleted or linked to another customer; an active customer is linked afresh at their next portal request"),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "No such customer, or one not linked")))]
async fn unlink_contact(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    staff.require_now(&state, Permission::SettingsManage).await?;
    let not_linked = || ApiError::not_found("No such customer, or one not linked to a contact.");
    let id = Ulid::from_string(&id).map_err(|_| not_linked())?;
    let account = state
        .store
        .account(id)
        .await?
        .filter(|account| account.kind == portico::domain::AccountKind::Customer)
        .ok_or_else(not_linked)?;
    let contact_id = account.contact_id.ok_or_else(not_linked)?;
    if !state.store.unlink_contact(id, contact_id, portico::time::now()).await? {
        return Err(not_linked());
    }
    tracing::info!(account_id = %id, %contact_id, by = %staff.0.sub, "customer unlinked from its contact");
    Ok(StatusCode::NO_CONTENT)
}
