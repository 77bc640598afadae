//! Customers for staff (SPEC §1): the list by state with a search by the start of a name or
//! address (served from indexes), and one customer's page — profile, labels, trusted devices.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use portico::domain::{AccountKind, AccountStatus, Permission};
use portico::error::Problem;
use portico::http::{ApiQuery, PageQuery, PagedResponse, Staff};
use portico::routes;
use portico::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::labels::LabelView;
use crate::registrations::{CustomerView, status_param};

/// Longest search text.
const MAX_QUERY_CHARS: usize = 100;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_customers)).routes(routes!(get_customer))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CustomersQuery {
    /// Account state (default `active`).
    #[param(value_type = Option<AccountStatus>)]
    pub status: Option<String>,
    /// The start of the name, or — with an `@` — of the e-mail address, ignoring case.
    pub q: Option<String>,
    /// Items per page, 1–100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/admin/customers", tag = "admin", security(("bearer" = [])), params(CustomersQuery),
    responses((status = 200, body = inline(PagedResponse<CustomerView>), description = "In id order; with `q`, in the order of the name (or address)"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_customers(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(query): ApiQuery<CustomersQuery>,
) -> Result<Json<PagedResponse<CustomerView>>, ApiError> {
    staff.require(Permission::RegistrationsApprove)?;
    let status = status_param(query.status.as_deref(), AccountStatus::Active)?;
    let q = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    if q.is_some_and(|q| q.chars().count() > MAX_QUERY_CHARS) {
        return Err(ApiError::invalid_field("q", format!("must be at most {MAX_QUERY_CHARS} characters")));
    }
    let (limit, start) = PageQuery { limit: query.limit, cursor: query.cursor }.resolve(&state.keys)?;
    let page = match q {
        Some(q) => state.store.search_customers(status, q, limit, start).await?,
        None => state.store.customers_by_status(status, limit, start).await?,
    };
    Ok(Json(PagedResponse::from_page(&state.keys, page, CustomerView::from)))
}

/// A device a customer signed in from and trusts.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = CustomerDevice)]
pub struct DeviceView {
    /// The browser or app as it named itself.
    pub label: String,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// One customer's page.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerPage {
    #[serde(flatten)]
    pub customer: CustomerView,
    /// The labels attached (the lifecycle stage's among them), with their colours.
    pub label_details: Vec<LabelView>,
    pub devices: Vec<DeviceView>,
}

#[utoipa::path(get, path = "/admin/customers/{id}", tag = "admin", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = CustomerPage), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_customer(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<CustomerPage>, ApiError> {
    staff.require(Permission::RegistrationsApprove)?;
    let not_found = || ApiError::not_found("No such customer.");
    let id = Ulid::from_string(&id).map_err(|_| not_found())?;
    let (account, devices) = tokio::try_join!(state.store.account(id), state.store.devices(id))?;
    let account = account.filter(|account| account.kind == AccountKind::Customer).ok_or_else(not_found)?;
    let labels = state.store.labels_by_id(&account.labels).await?;
    let mut devices: Vec<DeviceView> = devices
        .into_iter()
        .filter(|device| device.trust_version == account.trust_version)
        .map(|device| DeviceView {
            label: device.label,
            first_seen: device.first_seen,
            last_seen: device.last_seen,
        })
        .collect();
    devices.sort_by_key(|device| std::cmp::Reverse(device.last_seen));
    Ok(Json(CustomerPage {
        customer: account.into(),
        label_details: labels.into_iter().map(LabelView::from).collect(),
        devices,
    }))
}
