//! The customer portal (SPEC §4, seed 001): signed-in customers read the records the exposure
//! configuration gives them (`/portal/…`), and staff who manage settings configure it, preview
//! it and fix a customer's contact link (`/admin/portal/…`, `/admin/customers/{id}/contact`).
//! Exposure itself — which records, which fields, read through which index — lives in
//! `portico::records::portal`.

mod admin;

use axum::extract::{Path, State};
use axum::{Json, Router};
use portico::domain::AccountStatus;
use portico::domain::portal::{Exposure, ValidPortalModule};
use portico::error::Problem;
use portico::http::cursor::sealed_cursor;
use portico::http::{ApiQuery, Customer as CustomerToken, PageQuery, PagedResponse};
use portico::records::RecordError;
use portico::records::portal::{Customer, PortalConfig, PortalList, PortalRecordView, link_customer, render};
use portico::routes;
use portico::{ApiError, AppState};
use serde::Serialize;
use ulid::Ulid;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_portal_modules_shown))
        .routes(routes!(list_portal_records))
        .routes(routes!(get_portal_record))
        .merge(admin::api())
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

/// The configuration and the signed-in customer's account and contact ids: the account is
/// read on every request (with the session check), so a customer disabled now stops now,
/// whatever their token says. An active customer not linked yet (active from registration) is
/// linked here.
async fn signed_in(state: &AppState, token: &CustomerToken) -> Result<(PortalConfig, Ulid, Ulid), ApiError> {
    let CustomerToken(_, account) = token;
    if account.status != AccountStatus::Active {
        return Err(ApiError::forbidden("account_not_active", "This account is not active."));
    }
    let config = PortalConfig::load(&state.store).await?;
    let contact_id = match account.contact_id {
        Some(contact_id) => contact_id,
        None => link_customer(&state.store, account, None, Some(&config.custom)).await?,
    };
    Ok((config, account.id, contact_id))
}

/// `signed_in`, with the customer's contact as the portal knows it.
async fn signed_in_customer(
    state: &AppState,
    token: &CustomerToken,
) -> Result<(PortalConfig, Customer), ApiError> {
    let (config, account_id, contact_id) = signed_in(state, token).await?;
    let Some(contact) = config.contact(&state.store, contact_id).await? else {
        // A linked contact can't be deleted; reaching this means the table was edited by hand.
        tracing::error!(%account_id, %contact_id, "the customer's linked contact is missing");
        return Err(ApiError::internal("the linked contact is missing"));
    };
    Ok((config, Customer { account_id, contact }))
}

/// A module the portal shows, and how.
#[derive(Debug, Serialize, ToSchema)]
pub struct PortalModuleView {
    pub module: String,
    pub exposure: Exposure,
    /// The fields records of this module show, in order, with their types.
    pub fields: Vec<PortalFieldView>,
    /// The default order (`created_at` or the sort field, `-` for descending).
    pub sort: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PortalFieldView {
    pub name: String,
    /// `text`, `number`, `date`, `date_time`, `bool`, `select`, `email`, `phone`, `lookup`, `list`.
    /// A select's options are not listed: they name internal stages too.
    #[serde(rename = "type")]
    pub field_type: String,
}

fn module_view(module: &ValidPortalModule, config: &PortalConfig) -> PortalModuleView {
    use portico::criteria::FieldSchema;
    let schema = portico::domain::portal::portal_schema(module.module, &config.custom);
    PortalModuleView {
        module: module.module.name.to_owned(),
        exposure: module.definition.exposure,
        fields: module
            .definition
            .fields
            .iter()
            .filter_map(|name| {
                let field_type = schema.field_type(name)?;
                Some(PortalFieldView { name: name.clone(), field_type: field_type.name().to_owned() })
            })
            .collect(),
        sort: module.sort.to_text(module.module),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PortalModules {
    pub items: Vec<PortalModuleView>,
}

#[utoipa::path(get, path = "/portal/modules", tag = "portal", security(("bearer" = [])),
    responses((status = 200, body = PortalModules, description = "The modules this customer sees, with their fields and types"),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "A staff token, or an account that is not active")))]
async fn list_portal_modules_shown(
    State(state): State<AppState>,
    token: CustomerToken,
) -> Result<Json<PortalModules>, ApiError> {
    let (config, ..) = signed_in(&state, &token).await?;
    Ok(Json(PortalModules {
        items: config.modules().iter().map(|module| module_view(module, &config)).collect(),
    }))
}

/// The parameters a portal list takes besides `?<field>=<value>` (documentation; parsed by
/// `PortalList`).
#[derive(Debug, Default, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PortalListQuery {
    /// Items per page, 1–100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page (it opens only for the same customer and module).
    pub cursor: Option<String>,
    /// `created_at` or the module's sort field where the module's read allows it and shows the
    /// field; a leading `-` reverses. `GET /portal/modules` gives the default.
    pub sort: Option<String>,
}

/// What a portal cursor is sealed for: it opens only for the same customer and module.
fn cursor_context(customer: &Customer, module: &str) -> Vec<u8> {
    format!("portal\0{}\0{module}", customer.account_id).into_bytes()
}

#[utoipa::path(get, path = "/portal/records/{module}", tag = "portal", security(("bearer" = [])),
    description = "The module's records exposed to the signed-in customer. Any other parameter \
        `<field>=<value>` keeps the records whose shown field equals the value.",
    params(("module" = String, Path), PortalListQuery),
    responses((status = 200, body = inline(PagedResponse<PortalRecordView>)),
        (status = 400, body = Problem, description = "A field that is not shown, a sort the module's read can't give, or a cursor of another list"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem, description = "The portal does not show this module")))]
async fn list_portal_records(
    State(state): State<AppState>,
    token: CustomerToken,
    Path(module): Path<String>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<PagedResponse<PortalRecordView>>, ApiError> {
    let (config, customer) = signed_in_customer(&state, &token).await?;
    let exposed = config.module(&module)?;
    let list = PortalList::parse(&pairs, exposed, &config.custom)?;
    let text = |name: &str| pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone());
    let limit = text("limit")
        .map(|limit| limit.parse().map_err(|_| ApiError::invalid_field("limit", "must be a whole number")))
        .transpose()?;
    let context = cursor_context(&customer, exposed.module.name);
    let (limit, start) = PageQuery { limit, cursor: text("cursor") }.resolve_sealed(&state.keys, &context)?;
    let page = list.read_page(&state.store, &config, exposed, &customer, limit, start).await?;
    tracing::info!(
        module = exposed.module.name,
        queries = page.queries,
        scanned = page.scanned,
        returned = page.items.len(),
        "portal page read"
    );
    Ok(Json(PagedResponse {
        next_cursor: page.next.as_ref().map(|key| sealed_cursor(&state.keys, key, &context)),
        items: page.items.iter().map(|record| render(exposed, record, &config.custom)).collect(),
    }))
}

#[utoipa::path(get, path = "/portal/records/{module}/{id}", tag = "portal", security(("bearer" = [])),
    params(("module" = String, Path), ("id" = String, Path)),
    responses((status = 200, body = PortalRecordView),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "No such record, or one not exposed to this customer (never told apart)")))]
async fn get_portal_record(
    State(state): State<AppState>,
    token: CustomerToken,
    Path((module, id)): Path<(String, String)>,
) -> Result<Json<PortalRecordView>, ApiError> {
    let (config, customer) = signed_in_customer(&state, &token).await?;
    let exposed = config.module(&module)?;
    let id = Ulid::from_string(&id).map_err(|_| ApiError::from(RecordError::NotFound))?;
    let record = customer.read(&state.store, &config, exposed, id).await?;
    Ok(Json(render(exposed, &record, &config.custom)))
}
