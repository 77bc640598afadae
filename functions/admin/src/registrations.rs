//! The approval queue: list accounts by state, approve or reject pending ones.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use portico::domain::lifecycle::Stage;
use portico::domain::{Account, AccountKind, AccountStatus, AccountType, Locale, Permission};
use portico::error::Problem;
use portico::http::{ApiJson, ApiQuery, PageQuery, PagedResponse, Staff};
use portico::notify::MailTemplate;
use portico::records::portal;
use portico::routes;
use portico::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

const MAX_REASON_CHARS: usize = 1000;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_registrations))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(disable))
        .routes(routes!(enable))
}

/// A customer account as staff see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub account_type: AccountType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    pub locale: Locale,
    pub status: AccountStatus,
    pub email_verified: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejection_reason: Option<String>,
    /// Ids of attached labels (the lifecycle stage's built-in label among them).
    pub labels: Vec<String>,
    /// The lifecycle stage (Lead, Prospect, Customer), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Stage>,
    /// The contact the customer is linked to (what the portal shows them), once active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<Account> for CustomerView {
    fn from(account: Account) -> Self {
        Self {
            id: account.id.to_string(),
            email: account.email.into(),
            name: account.name,
            account_type: account.account_type,
            company_name: account.company_name,
            phone: account.phone.map(String::from),
            locale: account.locale,
            status: account.status,
            email_verified: account.email_verified,
            contact_id: account.contact_id.map(|id| id.to_string()),
            rejection_reason: account.rejection_reason,
            labels: account.labels.iter().map(Ulid::to_string).collect(),
            lifecycle: account.lifecycle,
            created_at: account.created_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// Account state to list (default `pending_approval`).
    #[param(value_type = Option<AccountStatus>)]
    pub status: Option<String>,
    /// Items per page, 1–100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[utoipa::path(get, path = "/admin/registrations", tag = "admin", security(("bearer" = [])), params(QueueQuery),
    responses((status = 200, body = inline(PagedResponse<CustomerView>)), (status = 400, body = Problem), (status = 403, body = Problem)))]
async fn list_registrations(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(query): ApiQuery<QueueQuery>,
) -> Result<Json<PagedResponse<CustomerView>>, ApiError> {
    staff.require(Permission::RegistrationsApprove)?;
    let status = status_param(query.status.as_deref(), AccountStatus::PendingApproval)?;
    let (limit, start) = PageQuery { limit: query.limit, cursor: query.cursor }.resolve(&state.keys)?;
    let page = state.store.customers_by_status(status, limit, start).await?;
    Ok(Json(PagedResponse::from_page(&state.keys, page, CustomerView::from)))
}

/// The `status` parameter of customer lists (`default` without one).
pub fn status_param(value: Option<&str>, default: AccountStatus) -> Result<AccountStatus, ApiError> {
    value.map_or(Ok(default), |value| {
        AccountStatus::parse(value).ok_or_else(|| {
            ApiError::invalid_field(
                "status",
                "must be one of pending_verification, pending_approval, active, rejected, disabled",
            )
        })
    })
}

fn parse_id(id: &str) -> Result<Ulid, ApiError> {
    Ulid::from_string(id).map_err(|_| ApiError::not_found("No such customer."))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Told to the customer by e-mail (1 to 1000 characters, not only spaces).
    #[schema(min_length = 1, max_length = 1000, pattern = "\\S")]
    pub reason: String,
}

#[utoipa::path(post, path = "/admin/registrations/{id}/approve", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Account id")),
    responses((status = 200, body = CustomerView), (status = 404, body = Problem), (status = 409, body = Problem, description = "`not_pending`")))]
async fn approve(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<CustomerView>, ApiError> {
    staff.require_now(&state, Permission::RegistrationsApprove).await?;
    let account = decide(&state, &staff, parse_id(&id)?, None).await?;
    let sign_in_link = state.link("/");
    let mail = MailTemplate::AccountApproved { name: &account.name, sign_in_link: &sign_in_link };
    state.notifier.send_mail_logged(&account.email, &mail.render(account.locale)).await;
    Ok(Json(account.into()))
}

#[utoipa::path(post, path = "/admin/registrations/{id}/reject", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Account id")), request_body = RejectRequest,
    responses((status = 200, body = CustomerView), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn reject(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<RejectRequest>,
) -> Result<Json<CustomerView>, ApiError> {
    staff.require_now(&state, Permission::RegistrationsApprove).await?;
    let reason = request.reason.trim();
    if reason.is_empty() || reason.chars().count() > MAX_REASON_CHARS {
        return Err(ApiError::invalid_field("reason", format!("must be 1 to {MAX_REASON_CHARS} characters")));
    }
    let account = decide(&state, &staff, parse_id(&id)?, Some(reason)).await?;
    let mail = MailTemplate::AccountRejected { name: &account.name, reason };
    state.notifier.send_mail_logged(&account.email, &mail.render(account.locale)).await;
    Ok(Json(account.into()))
}

/// Approves (`reason = None`) or rejects a pending customer; 404 for no such customer, 409 when
/// it is not pending approval (already decided, or still verifying its e-mail).
async fn decide(
    state: &AppState,
    staff: &Staff,
    id: Ulid,
    reason: Option<&str>,
) -> Result<Account, ApiError> {
    let to = if reason.is_none() { AccountStatus::Active } else { AccountStatus::Rejected };
    let account = transition(state, id, AccountStatus::PendingApproval, to, reason, "not_pending").await?;
    tracing::info!(account_id = %id, by = %staff.0.sub, status = to.as_str(), "registration decided");
    if to == AccountStatus::Active {
        // The approver owns a contact made for the customer.
        let contact_id = portal::link_logged(&state.store, &account, Some(staff.0.sub)).await;
        return Ok(Account { contact_id, ..account });
    }
    Ok(account)
}

/// Moves customer `id` from `from` to `to`; 404 for no such customer, 409 `conflict_code` when
/// it is in another state.
async fn transition(
    state: &AppState,
    id: Ulid,
    from: AccountStatus,
    to: AccountStatus,
    reason: Option<&str>,
    conflict_code: &'static str,
) -> Result<Account, ApiError> {
    if let Some(account) = state.store.change_status(id, from, to, reason, Utc::now()).await? {
        return Ok(account);
    }
    match state.store.account(id).await? {
        Some(account) if account.kind == AccountKind::Customer => Err(ApiError::conflict(
            conflict_code,
            format!("The account is {}, not {}.", account.status.as_str(), from.as_str()),
        )),
        _ => Err(ApiError::not_found("No such customer.")),
    }
}

#[utoipa::path(post, path = "/admin/customers/{id}/disable", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Account id")),
    responses((status = 200, body = CustomerView, description = "Disabled; its sessions are ended"),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "`not_active`")))]
async fn disable(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<CustomerView>, ApiError> {
    staff.require_now(&state, Permission::UsersManage).await?;
    let id = parse_id(&id)?;
    let account =
        transition(&state, id, AccountStatus::Active, AccountStatus::Disabled, None, "not_active").await?;
    state.store.end_sessions_except(id, None).await?;
    tracing::info!(account_id = %id, by = %staff.0.sub, "customer disabled");
    Ok(Json(account.into()))
}

#[utoipa::path(post, path = "/admin/customers/{id}/enable", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Account id")),
    responses((status = 200, body = CustomerView), (status = 404, body = Problem), (status = 409, body = Problem, description = "`not_disabled`")))]
async fn enable(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<CustomerView>, ApiError> {
    staff.require_now(&state, Permission::UsersManage).await?;
    let id = parse_id(&id)?;
    let account =
        transition(&state, id, AccountStatus::Disabled, AccountStatus::Active, None, "not_disabled").await?;
    tracing::info!(account_id = %id, by = %staff.0.sub, "customer enabled");
    Ok(Json(account.into()))
}
