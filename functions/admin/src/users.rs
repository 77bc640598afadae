//! Staff users and the roles they can have (SPEC §6).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use portico::auth::password;
use portico::domain::password::check_new_password;
use portico::domain::permission::module_access_of;
use portico::domain::{Account, AccountKind, AccountStatus, BuiltinRole, Email, Permission};
use portico::error::{FieldError, Problem};
use portico::http::{ApiJson, Staff};
use portico::store::accounts::Registered;
use portico::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use ulid::Ulid;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(change_user))
        .routes(routes!(list_roles))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub roles: Vec<String>,
    pub projects: Vec<String>,
    pub status: AccountStatus,
    pub created_at: DateTime<Utc>,
}

impl From<Account> for UserView {
    fn from(account: Account) -> Self {
        Self {
            id: account.id.to_string(),
            email: account.email.into(),
            name: account.name,
            roles: account.roles,
            projects: account.projects.iter().map(Ulid::to_string).collect(),
            status: account.status,
            created_at: account.created_at,
        }
    }
}

/// Role ids must name roles that exist.
fn check_roles(roles: &[String]) -> Result<(), ApiError> {
    let unknown: Vec<FieldError> = roles
        .iter()
        .enumerate()
        .filter(|(_, id)| BuiltinRole::from_id(id).is_none())
        .map(|(index, id)| FieldError::new(format!("roles[{index}]"), format!("`{id}` is not a role")))
        .collect();
    if unknown.is_empty() { Ok(()) } else { Err(ApiError::validation(unknown)) }
}

#[utoipa::path(get, path = "/admin/users", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = Vec<UserView>), (status = 403, body = Problem)))]
async fn list_users(State(state): State<AppState>, staff: Staff) -> Result<Json<Vec<UserView>>, ApiError> {
    staff.require(Permission::UsersManage)?;
    Ok(Json(state.store.staff().await?.into_iter().map(UserView::from).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    pub email: String,
    pub name: String,
    /// The first password (12–128 characters); the user changes it with `PUT /me/password`.
    pub password: String,
    /// Role ids, e.g. `["sales_manager"]`.
    pub roles: Vec<String>,
    /// Project ids: the user sees those projects' contact fields.
    #[serde(default)]
    pub projects: Vec<String>,
}

#[utoipa::path(post, path = "/admin/users", tag = "users", security(("bearer" = [])), request_body = NewUser,
    responses((status = 201, body = UserView), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "`email_taken`")))]
async fn create_user(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(request): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    staff.require(Permission::UsersManage)?;
    let mut errors = Vec::new();
    let email =
        Email::parse(&request.email).map_err(|e| errors.push(FieldError::new("email", e.to_string()))).ok();
    if let Err(rule) = check_new_password(&request.password, &request.email) {
        errors.push(FieldError::new("password", rule.to_string()));
    }
    let name = request.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        errors.push(FieldError::new("name", "must be 1 to 200 characters"));
    }
    if let Err(error) = check_roles(&request.roles) {
        errors.extend(error.fields().iter().cloned());
    }
    let Some(email) = email.filter(|_| errors.is_empty()) else { return Err(ApiError::validation(errors)) };
    let projects = crate::fields::check_projects(&state, "projects", &request.projects).await?;
    let plain = request.password;
    let hash = tokio::task::spawn_blocking(move || password::hash_password(&plain))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let account = Account::new_staff(email, name, hash, request.roles, projects, Utc::now());
    match state.store.create_account(&account, None, None).await? {
        Registered::Created => {
            tracing::info!(account_id = %account.id, by = %staff.0.sub, "staff user created");
            Ok((StatusCode::CREATED, Json(account.into())))
        }
        Registered::EmailTaken => {
            Err(ApiError::conflict("email_taken", "An account with this address exists."))
        }
    }
}

/// Fields to change; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    pub roles: Option<Vec<String>>,
    pub projects: Option<Vec<String>>,
}

#[utoipa::path(patch, path = "/admin/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = UserChange,
    responses((status = 200, body = UserView, description = "Takes effect with the user's next sign-in or token refresh"),
        (status = 400, body = Problem), (status = 404, body = Problem)))]
async fn change_user(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    ApiJson(change): ApiJson<UserChange>,
) -> Result<Json<UserView>, ApiError> {
    staff.require(Permission::UsersManage)?;
    if let Some(roles) = &change.roles {
        check_roles(roles)?;
    }
    let projects = match &change.projects {
        Some(ids) => Some(crate::fields::check_projects(&state, "projects", ids).await?),
        None => None,
    };
    let not_found = || ApiError::not_found("No such user.");
    let id = Ulid::from_string(&id).map_err(|_| not_found())?;
    let account =
        state.store.account(id).await?.filter(|a| a.kind == AccountKind::Staff).ok_or_else(not_found)?;
    let roles = change.roles.unwrap_or_else(|| account.roles.clone());
    let projects = projects.unwrap_or_else(|| account.projects.clone());
    if !state.store.set_staff_access(&account, &roles, &projects, Utc::now()).await? {
        return Err(not_found());
    }
    tracing::info!(account_id = %id, by = %staff.0.sub, ?roles, "staff access changed");
    Ok(Json(Account { roles, projects, ..account }.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    pub id: &'static str,
    pub permissions: Vec<Permission>,
    /// Module → access letters (`r` read, `w` write, `d` delete).
    pub modules: BTreeMap<String, String>,
}

#[utoipa::path(get, path = "/admin/roles", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = Vec<RoleView>), (status = 403, body = Problem)))]
async fn list_roles(staff: Staff) -> Result<Json<Vec<RoleView>>, ApiError> {
    staff.require(Permission::UsersManage)?;
    let roles = BuiltinRole::ALL
        .into_iter()
        .map(|role| RoleView {
            id: role.id(),
            permissions: role.permissions().to_vec(),
            modules: module_access_of([role.id()])
                .into_iter()
                .map(|(module, access)| (module, access.into()))
                .collect(),
        })
        .collect();
    Ok(Json(roles))
}
