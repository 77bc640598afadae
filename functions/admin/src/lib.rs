//! Staff administration: the registration policy, the approval queue, labels, staff users,
//! roles, projects and contact fields.

mod customers;
mod fields;
mod labels;
mod page;
mod registrations;
mod roles;
mod users;
mod workflows;

use axum::Json;
use axum::Router;
use axum::extract::State;
use chrono::Utc;
use portico::domain::{Permission, RegistrationPolicy};
use portico::error::Problem;
use portico::http::{ApiJson, Staff};
use portico::routes;
use portico::{ApiError, AppState};
use utoipa_axum::router::OpenApiRouter;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_registration_settings, put_registration_settings))
        .merge(registrations::api())
        .merge(customers::api())
        .merge(labels::api())
        .merge(page::api())
        .merge(users::api())
        .merge(roles::api())
        .merge(fields::api())
        .merge(workflows::api())
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

#[utoipa::path(get, path = "/admin/settings/registration", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = RegistrationPolicy), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn get_registration_settings(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<RegistrationPolicy>, ApiError> {
    staff.require(Permission::SettingsManage)?;
    Ok(Json(state.store.registration_policy().await?))
}

#[utoipa::path(put, path = "/admin/settings/registration", tag = "admin", security(("bearer" = [])),
    request_body = RegistrationPolicy,
    responses((status = 200, body = RegistrationPolicy), (status = 400, body = Problem), (status = 403, body = Problem)))]
async fn put_registration_settings(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(policy): ApiJson<RegistrationPolicy>,
) -> Result<Json<RegistrationPolicy>, ApiError> {
    staff.require_now(&state, Permission::SettingsManage).await?;
    state.store.put_registration_policy(&policy, staff.0.sub, Utc::now()).await?;
    state.remember_policy(policy);
    tracing::info!(by = %staff.0.sub, ?policy, "registration policy changed");
    Ok(Json(policy))
}
