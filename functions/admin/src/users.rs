//! Staff users and the roles they can have (SPEC §6).

use crate::roles::{Granter, administrators_uncounted, granter_changed, last_administrator};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use portico::domain::password::check_new_password;
use portico::domain::permission::{BuiltinRole, Role, RoleGrants, check_role_id};
use portico::domain::{Account, AccountKind, AccountStatus, Email, Permission};
use portico::error::{FieldError, Problem};
use portico::http::{ApiJson, Staff};
use portico::routes;
use portico::store::accounts::StaffWrite;
use portico::store::roles::MAX_ROLES_PER_USER;
use portico::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users, create_user))
        .routes(routes!(change_user))
        .routes(routes!(disable_user))
        .routes(routes!(enable_user))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: String,
    pub roles: Vec<String>,
    pub projects: Vec<String>,
    pub status: AccountStatus,
    /// The language of the mails Portico sends the user.
    pub locale: portico::domain::Locale,
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
            locale: account.locale,
            created_at: account.created_at,
        }
    }
}

/// Role ids must be well formed, at most `MAX_ROLES_PER_USER`, without repeats.
fn role_id_errors(roles: &[String]) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (index, id) in roles.iter().enumerate() {
        let field = || format!("roles[{index}]");
        if BuiltinRole::from_id(id).is_none() && check_role_id(id).is_err() {
            errors.push(FieldError::new(field(), format!("`{id}` is not a role id")));
        } else if roles[..index].contains(id) {
            errors.push(FieldError::new(field(), format!("`{id}` is given twice")));
        }
    }
    if roles.len() > MAX_ROLES_PER_USER {
        errors.push(FieldError::new("roles", format!("must hold at most {MAX_ROLES_PER_USER} roles")));
    }
    errors
}

/// The roles `roles` name, or an error naming each id that is not a role.
async fn existing_roles(
    state: &AppState,
    roles: &[String],
) -> Result<Result<Vec<Role>, Vec<FieldError>>, ApiError> {
    let found = state.store.roles_by_id(roles).await?;
    let unknown: Vec<FieldError> = roles
        .iter()
        .enumerate()
        .filter(|(_, id)| !found.iter().any(|role| role.id == **id))
        .map(|(index, id)| FieldError::new(format!("roles[{index}]"), format!("`{id}` is not a role")))
        .collect();
    Ok(if unknown.is_empty() { Ok(found) } else { Err(unknown) })
}

fn role_gone(role: &str) -> ApiError {
    ApiError::validation(vec![FieldError::new("roles", format!("`{role}` is not a role (any more)"))])
}

fn role_changed() -> ApiError {
    ApiError::conflict("conflict", "A role changed meanwhile; read the roles again and retry.")
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
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u061c\\u180e\\ufeff\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u061c\\u180e\\ufeff\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f][^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u061c\\u180e\\ufeff\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f]*$"
    )]
    pub name: String,
    /// The first password (12–128 characters); the user changes it with `PUT /me/password`.
    #[schema(min_length = 12, max_length = 128)]
    pub password: String,
    /// Role ids, e.g. `["sales_manager"]`.
    pub roles: Vec<String>,
    /// Project ids: the user sees those projects' contact fields.
    #[serde(default)]
    pub projects: Vec<String>,
    /// The language of the mails Portico sends the user (approval requests …); default `en`.
    #[serde(default)]
    pub locale: Option<portico::domain::Locale>,
}

#[utoipa::path(post, path = "/admin/users", tag = "users", security(("bearer" = [])), request_body = NewUser,
    responses((status = 201, body = UserView), (status = 400, body = Problem),
        (status = 403, body = Problem, description = "`beyond_own_rights`: the roles or projects give more than the caller holds"),
        (status = 409, body = Problem, description = "`email_taken`, or `conflict`: the caller's roles, or a role given, changed meanwhile"),
        (status = 503, body = Problem, description = "`administrators_uncounted`: the installation's administrators are not counted yet, so no administrator can be added")))]
async fn create_user(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(request): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let granter = Granter::of(&state, &staff, Permission::UsersManage).await?;
    let mut errors = Vec::new();
    let email =
        Email::parse(&request.email).map_err(|e| errors.push(FieldError::new("email", e.to_string()))).ok();
    if let Err(rule) = check_new_password(&request.password, &request.email) {
        errors.push(FieldError::new("password", rule.to_string()));
    }
    let name = request.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 200 {
        errors.push(FieldError::new("name", "must be 1 to 200 characters"));
    } else if let Err(unsafe_text) = portico::domain::display_text::check_display_text(&name) {
        errors.push(FieldError::new("name", unsafe_text.to_string()));
    }
    let role_errors = role_id_errors(&request.roles);
    let granted = if role_errors.is_empty() {
        existing_roles(&state, &request.roles).await?.map_err(|unknown| errors.extend(unknown)).ok()
    } else {
        errors.extend(role_errors);
        None
    };
    let (Some(email), Some(granted)) = (email.filter(|_| errors.is_empty()), granted) else {
        return Err(ApiError::validation(errors));
    };
    granter.ensure_covers(&RoleGrants::of(&granted))?;
    let projects = crate::fields::check_projects(&state, "projects", &request.projects).await?;
    granter.ensure_projects(&projects)?;
    let plain = request.password;
    let hash = state.passwords.hash_blocking(plain).await.map_err(ApiError::internal)?;
    let account = Account {
        locale: request.locale.unwrap_or_default(),
        ..Account::new_staff(email, name, hash, request.roles, projects, Utc::now())
    };
    match state.store.create_staff(&account, Some(&granter.account), &granted).await? {
        StaffWrite::Done => {
            tracing::info!(account_id = %account.id, by = %staff.0.sub, "staff user created");
            Ok((StatusCode::CREATED, Json(account.into())))
        }
        StaffWrite::EmailTaken => {
            Err(ApiError::conflict("email_taken", "An account with this address exists."))
        }
        StaffWrite::NoSuchRole(role) => Err(role_gone(&role)),
        StaffWrite::AdministratorsUncounted => Err(administrators_uncounted()),
        StaffWrite::RoleChanged => Err(role_changed()),
        // A creation never lowers the count.
        StaffWrite::GranterChanged | StaffWrite::Stale | StaffWrite::LastAdministrator => {
            Err(granter_changed())
        }
    }
}

/// Fields to change; absent fields stay.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    pub roles: Option<Vec<String>>,
    pub projects: Option<Vec<String>>,
    /// The language of the user's mails.
    pub locale: Option<portico::domain::Locale>,
}

#[utoipa::path(patch, path = "/admin/users/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = UserChange,
    responses((status = 200, body = UserView, description = "Takes effect with the user's next sign-in or token refresh"),
        (status = 400, body = Problem),
        (status = 403, body = Problem, description = "`beyond_own_rights`: the user holds, or would hold, rights the caller lacks, or is given a project the caller is not in"),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "`last_administrator`: the user is the last active staff user holding both `users.manage` and `settings.manage`, and would lose one (also when changing one's own roles); or `conflict`: the user's or the caller's roles, or a role involved, changed meanwhile"),
        (status = 503, body = Problem, description = "`administrators_uncounted`: the installation's administrators are not counted yet")))]
async fn change_user(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    ApiJson(change): ApiJson<UserChange>,
) -> Result<Json<UserView>, ApiError> {
    let granter = Granter::of(&state, &staff, Permission::UsersManage).await?;
    if let Some(roles) = &change.roles {
        let errors = role_id_errors(roles);
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
    }
    let projects = match &change.projects {
        Some(ids) => Some(crate::fields::check_projects(&state, "projects", ids).await?),
        None => None,
    };
    let not_found = || ApiError::not_found("No such user.");
    let id = Ulid::from_string(&id).map_err(|_| not_found())?;
    // Changing one's own access: the roles checked are the ones the transaction conditions on.
    let account = if id == granter.account.id {
        granter.account.clone()
    } else {
        state.store.account(id).await?.filter(|a| a.kind == AccountKind::Staff).ok_or_else(not_found)?
    };
    // Changing someone's access is only for those who hold all the rights involved, before and
    // after, and the projects the user is in: a user manager manages the staff of their own
    // projects, so they neither add nor remove projects they are not in.
    granter.ensure_projects(&account.projects)?;
    let mut definitions = state.store.roles_by_id(&account.roles).await?;
    granter.ensure_covers(&RoleGrants::of(&definitions))?;
    if let Some(roles) = &change.roles {
        let granted = existing_roles(&state, roles).await?.map_err(ApiError::validation)?;
        granter.ensure_covers(&RoleGrants::of(&granted))?;
        definitions.extend(granted);
    }
    if let Some(projects) = &projects {
        let added: Vec<Ulid> = projects.iter().filter(|p| !account.projects.contains(p)).copied().collect();
        granter.ensure_projects(&added)?;
    }
    let roles = change.roles.unwrap_or_else(|| account.roles.clone());
    let projects = projects.unwrap_or_else(|| account.projects.clone());
    let now = Utc::now();
    match state
        .store
        .set_staff_access(&account, &roles, &projects, &granter.account, &definitions, now)
        .await?
    {
        StaffWrite::Done => {}
        StaffWrite::NoSuchRole(role) => return Err(role_gone(&role)),
        StaffWrite::GranterChanged => return Err(granter_changed()),
        StaffWrite::LastAdministrator => return Err(last_administrator()),
        StaffWrite::AdministratorsUncounted => return Err(administrators_uncounted()),
        StaffWrite::RoleChanged => return Err(role_changed()),
        StaffWrite::EmailTaken | StaffWrite::Stale => {
            return Err(ApiError::conflict(
                "conflict",
                "The user's roles changed meanwhile; read them again and retry.",
            ));
        }
    }
    tracing::info!(account_id = %id, by = %staff.0.sub, ?roles, "staff access changed");
    // The language is no right: set on its own, after the access change held.
    let locale = match change.locale {
        Some(locale) if locale != account.locale => {
            state.store.set_locale(id, locale, now).await?;
            locale
        }
        _ => account.locale,
    };
    Ok(Json(Account { roles, projects, locale, ..account }.into()))
}

/// Moves staff user `id` from `from` to `to`, if the caller holds every right the user has;
/// 409 `conflict_code` when the user is in another state.
async fn set_user_status(
    state: &AppState,
    staff: &Staff,
    id: &str,
    from: AccountStatus,
    to: AccountStatus,
    conflict_code: &'static str,
) -> Result<Account, ApiError> {
    let granter = Granter::of(state, staff, Permission::UsersManage).await?;
    let not_found = || ApiError::not_found("No such user.");
    let id = Ulid::from_string(id).map_err(|_| not_found())?;
    if id == granter.account.id {
        return Err(ApiError::conflict("own_account", "You can't disable or enable yourself."));
    }
    let staff_user = |account: Option<Account>| account.filter(|a| a.kind == AccountKind::Staff);
    let account = staff_user(state.store.account(id).await?).ok_or_else(not_found)?;
    let in_other_state = |account: &Account| {
        ApiError::conflict(
            conflict_code,
            format!("The user is {}, not {}.", account.status.as_str(), from.as_str()),
        )
    };
    if account.status != from {
        return Err(in_other_state(&account));
    }
    // Only the staff of one's own projects, with no more rights than one's own.
    granter.ensure_projects(&account.projects)?;
    let definitions = state.store.roles_by_id(&account.roles).await?;
    granter.ensure_covers(&RoleGrants::of(&definitions))?;
    let now = Utc::now();
    match state.store.change_staff_status(&account, to, &granter.account, &definitions, now).await? {
        StaffWrite::Done => Ok(Account { status: to, updated_at: now, ..account }),
        StaffWrite::GranterChanged => Err(granter_changed()),
        StaffWrite::LastAdministrator => Err(last_administrator()),
        StaffWrite::AdministratorsUncounted => Err(administrators_uncounted()),
        StaffWrite::RoleChanged => Err(role_changed()),
        StaffWrite::Stale | StaffWrite::EmailTaken | StaffWrite::NoSuchRole(_) => {
            match staff_user(state.store.account(id).await?) {
                Some(current) if current.status != from => Err(in_other_state(&current)),
                Some(_) => Err(ApiError::conflict("conflict", "The user's roles changed meanwhile; retry.")),
                None => Err(not_found()),
            }
        }
    }
}

#[utoipa::path(post, path = "/admin/users/{id}/disable", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = UserView, description = "Disabled: signed out everywhere, can't sign in; access tokens already issued stop working at once (their session ended)"),
        (status = 403, body = Problem, description = "`beyond_own_rights`: the user holds rights the caller lacks, or is in a project the caller is not in"),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "`not_active`, `own_account`, `last_administrator`: the user is the last active staff user holding both `users.manage` and `settings.manage`, or `conflict`"),
        (status = 503, body = Problem, description = "`administrators_uncounted`: the installation's administrators are not counted yet")))]
async fn disable_user(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let account =
        set_user_status(&state, &staff, &id, AccountStatus::Active, AccountStatus::Disabled, "not_active")
            .await?;
    let ended = state.store.end_sessions_except(account.id, None).await?;
    tracing::info!(account_id = %account.id, by = %staff.0.sub, ended, "staff user disabled");
    Ok(Json(account.into()))
}

#[utoipa::path(post, path = "/admin/users/{id}/enable", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = UserView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "`not_disabled`, `own_account`, or `conflict`"),
        (status = 503, body = Problem, description = "`administrators_uncounted`: the installation's administrators are not counted yet")))]
async fn enable_user(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let account =
        set_user_status(&state, &staff, &id, AccountStatus::Disabled, AccountStatus::Active, "not_disabled")
            .await?;
    tracing::info!(account_id = %account.id, by = %staff.0.sub, "staff user enabled");
    Ok(Json(account.into()))
}
