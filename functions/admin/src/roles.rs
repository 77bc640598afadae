//! Roles (SPEC §6): the built-in ones, and custom roles admins define with per-module access
//! and permissions. Nobody hands out rights they don't hold themselves.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use portico::domain::Account;
use portico::domain::Permission;
use portico::domain::modules;
use portico::domain::permission::{BuiltinRole, ModuleAccess, Role, RoleGrants, builtin_role, check_role_id};
use portico::error::{FieldError, Problem};
use portico::http::{ApiJson, Staff};
use portico::routes;
use portico::store::roles::{RoleCreation, RoleDeletion, RoleUpdate, StoredRole};
use portico::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_roles, create_role)).routes(routes!(
        get_role,
        put_role,
        delete_role
    ))
}

const MAX_ROLE_NAME_CHARS: usize = 100;

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    pub id: String,
    pub name: String,
    /// Built-in roles can't be changed or deleted.
    pub builtin: bool,
    pub permissions: Vec<Permission>,
    /// Module → access letters (`r` read, `w` write, `d` delete).
    #[schema(value_type = BTreeMap<String, String>)]
    pub modules: BTreeMap<String, ModuleAccess>,
    /// Staff users holding the role (custom roles only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<Role> for RoleView {
    fn from(role: Role) -> Self {
        Self {
            id: role.id,
            name: role.name,
            builtin: role.builtin,
            permissions: role.permissions,
            modules: role.modules,
            users: None,
            updated_at: None,
        }
    }
}

impl From<StoredRole> for RoleView {
    fn from(stored: StoredRole) -> Self {
        Self { users: Some(stored.users), updated_at: Some(stored.updated_at), ..stored.role.into() }
    }
}

/// A custom role's definition. `id` is required when creating, and may be left out (or must
/// match the path) when replacing.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleDefinition {
    /// What users' `roles` name: `snake_case`, 2–40 characters, not a built-in id.
    #[schema(pattern = "^[a-z][a-z0-9_]{1,39}$")]
    pub id: Option<String>,
    /// 1–100 characters.
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
    #[serde(default)]
    pub permissions: Vec<Permission>,
    /// Module → access letters, e.g. `{"cases": "rw"}`; modules left out are not accessible.
    #[serde(default)]
    #[schema(value_type = BTreeMap<String, String>)]
    pub modules: BTreeMap<String, ModuleAccess>,
}

/// The caller as the store knows them now. Rights are read afresh rather than from the
/// access token, which may be up to 15 minutes old: rights taken from someone must not be
/// handed back out on their old token. Writes that grant also check, in their transaction,
/// that the granter's roles are still the ones read here.
pub(crate) struct Granter {
    pub account: Account,
    grants: RoleGrants,
}

impl Granter {
    /// The caller, if they hold `permission` now.
    pub(crate) async fn of(
        state: &AppState,
        staff: &Staff,
        permission: Permission,
    ) -> Result<Self, ApiError> {
        let (account, grants) = staff.rights_now(state, permission).await?;
        Ok(Self { account, grants })
    }

    /// 403 unless the granter holds everything `wanted` grants.
    pub(crate) fn ensure_covers(&self, wanted: &RoleGrants) -> Result<(), ApiError> {
        let missing = self.grants.missing(wanted);
        if missing.is_empty() { Ok(()) } else { Err(beyond_own_rights(&missing.join(", "))) }
    }

    /// 403 unless the granter may give access to `projects`: those they belong to, or any for
    /// those who manage settings (they see every project's fields anyway).
    pub(crate) fn ensure_projects(&self, projects: &[Ulid]) -> Result<(), ApiError> {
        if self.grants.permissions.contains(&Permission::SettingsManage) {
            return Ok(());
        }
        let foreign: Vec<String> = projects
            .iter()
            .filter(|project| !self.account.projects.contains(project))
            .map(|project| format!("project {project}"))
            .collect();
        if foreign.is_empty() { Ok(()) } else { Err(beyond_own_rights(&foreign.join(", "))) }
    }
}

fn beyond_own_rights(missing: &str) -> ApiError {
    ApiError::forbidden(
        "beyond_own_rights",
        format!("You can only grant rights you hold yourself; you lack {missing}."),
    )
}

/// 409 when the granter's own roles changed while the request ran.
pub(crate) fn granter_changed() -> ApiError {
    ApiError::conflict("conflict", "Your own roles changed meanwhile; sign in again and retry.")
}

/// 409 `last_administrator`: the change would leave nobody able to manage users and settings.
pub(crate) fn last_administrator() -> ApiError {
    ApiError::conflict(
        "last_administrator",
        "This would leave no active staff user holding both users.manage and settings.manage; \
         give them to someone else first.",
    )
}

/// 503 `administrators_uncounted`: a table from before the administrator count, not counted yet.
pub(crate) fn administrators_uncounted() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "administrators_uncounted",
        "Administrators are not counted in this installation yet; an operator runs \
         `portico-local count-admins` once.",
    )
}

/// The role `id` would be with `definition`, validated, every error collected.
fn role_from(id: String, definition: RoleDefinition, mut errors: Vec<FieldError>) -> Result<Role, ApiError> {
    let name = definition.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > MAX_ROLE_NAME_CHARS {
        errors.push(FieldError::new("name", format!("must be 1 to {MAX_ROLE_NAME_CHARS} characters")));
    }
    for module in definition.modules.keys() {
        if modules::module(module).is_none() {
            errors.push(FieldError::new(format!("modules.{module}"), "is not a module"));
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let mut permissions = definition.permissions;
    permissions.sort();
    permissions.dedup();
    let modules =
        definition.modules.into_iter().filter(|(_, access)| *access != ModuleAccess::default()).collect();
    Ok(Role { id, name, permissions, modules, builtin: false })
}

fn builtin_refused() -> ApiError {
    ApiError::conflict(
        "builtin_role",
        "Built-in roles can't be changed or deleted; make a custom role instead.",
    )
}

fn no_role() -> ApiError {
    ApiError::not_found("No such role.")
}

/// Settings managers define roles; user managers need to see them to hand them out.
fn may_see_roles(staff: &Staff) -> Result<(), ApiError> {
    if staff.0.has(Permission::UsersManage) { Ok(()) } else { staff.require(Permission::SettingsManage) }
}

#[utoipa::path(get, path = "/admin/roles", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = Vec<RoleView>, description = "Built-in roles first, then custom ones by id"),
        (status = 403, body = Problem)))]
async fn list_roles(State(state): State<AppState>, staff: Staff) -> Result<Json<Vec<RoleView>>, ApiError> {
    may_see_roles(&staff)?;
    let builtin = BuiltinRole::ALL.into_iter().map(|role| RoleView::from(role.definition()));
    let custom = state.store.roles().await?.into_iter().map(RoleView::from);
    Ok(Json(builtin.chain(custom).collect()))
}

#[utoipa::path(post, path = "/admin/roles", tag = "users", security(("bearer" = [])), request_body = RoleDefinition,
    responses((status = 201, body = RoleView), (status = 400, body = Problem),
        (status = 403, body = Problem, description = "`beyond_own_rights`: the role grants more than the caller holds"),
        (status = 409, body = Problem, description = "`role_exists` (also for a built-in id), or `conflict`: the caller's roles changed meanwhile")))]
async fn create_role(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(definition): ApiJson<RoleDefinition>,
) -> Result<(StatusCode, Json<RoleView>), ApiError> {
    let granter = Granter::of(&state, &staff, Permission::SettingsManage).await?;
    let id = definition.id.clone().unwrap_or_default();
    if builtin_role(&id).is_some() {
        return Err(role_exists(&id));
    }
    let id_errors = check_role_id(&id).err().map(|message| FieldError::new("id", message));
    let role = role_from(id, definition, id_errors.into_iter().collect())?;
    granter.ensure_covers(&RoleGrants::of([&role]))?;
    let now = portico::time::now();
    match state.store.create_role(&role, &granter.account, now).await? {
        RoleCreation::Created => {}
        RoleCreation::Exists => return Err(role_exists(&role.id)),
        RoleCreation::GranterChanged => return Err(granter_changed()),
    }
    tracing::info!(role_id = %role.id, by = %staff.0.sub, "role created");
    Ok((StatusCode::CREATED, Json(StoredRole { role, users: 0, created_at: now, updated_at: now }.into())))
}

fn role_exists(id: &str) -> ApiError {
    ApiError::conflict("role_exists", format!("A role with id {id} exists."))
}

#[utoipa::path(get, path = "/admin/roles/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = RoleView), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_role(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<RoleView>, ApiError> {
    may_see_roles(&staff)?;
    if let Some(role) = builtin_role(&id) {
        return Ok(Json(role.into()));
    }
    Ok(Json(state.store.role(&id).await?.ok_or_else(no_role)?.into()))
}

#[utoipa::path(put, path = "/admin/roles/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = RoleDefinition,
    responses((status = 200, body = RoleView, description = "Holders get the new rights with their next sign-in or token refresh"),
        (status = 400, body = Problem),
        (status = 403, body = Problem, description = "`beyond_own_rights`: the role grants, or granted, more than the caller holds"),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "`builtin_role`; `last_administrator`: the change would take `users.manage` or `settings.manage` from the last active staff user holding both; `role_widely_held`: too many holders to recount for a change of those two permissions; or `conflict`: the role, its holders or the caller's roles changed meanwhile"),
        (status = 503, body = Problem, description = "`administrators_uncounted`: the installation's administrators are not counted yet")))]
async fn put_role(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    ApiJson(definition): ApiJson<RoleDefinition>,
) -> Result<Json<RoleView>, ApiError> {
    let granter = Granter::of(&state, &staff, Permission::SettingsManage).await?;
    if builtin_role(&id).is_some() {
        return Err(builtin_refused());
    }
    let id_errors = definition
        .id
        .as_ref()
        .filter(|given| **given != id)
        .map(|_| FieldError::new("id", "must be left out or match the path; a role's id can't change"));
    let role = role_from(id, definition, id_errors.into_iter().collect())?;
    let read = state.store.role(&role.id).await?.ok_or_else(no_role)?;
    // What holders had and what they will have: both must be the granter's to give.
    granter.ensure_covers(&RoleGrants::of([&read.role]))?;
    granter.ensure_covers(&RoleGrants::of([&role]))?;
    let now = portico::time::now();
    match state.store.update_role(&read, &role, &granter.account, now).await? {
        RoleUpdate::Updated => {}
        RoleUpdate::Stale if state.store.role(&role.id).await?.is_none() => return Err(no_role()),
        RoleUpdate::Stale | RoleUpdate::HoldersChanged => {
            return Err(ApiError::conflict(
                "conflict",
                "The role or who holds it changed meanwhile; read it again and retry.",
            ));
        }
        RoleUpdate::GranterChanged => return Err(granter_changed()),
        RoleUpdate::LastAdministrator => return Err(last_administrator()),
        RoleUpdate::AdministratorsUncounted => return Err(administrators_uncounted()),
        RoleUpdate::TooManyHolders => {
            return Err(ApiError::conflict(
                "role_widely_held",
                "Too many staff users hold this role to change whether it grants users.manage or \
                 settings.manage; make a new role for the change instead.",
            ));
        }
    }
    tracing::info!(role_id = %role.id, by = %staff.0.sub, "role changed");
    Ok(Json(StoredRole { role, updated_at: now, ..read }.into()))
}

#[utoipa::path(delete, path = "/admin/roles/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "`builtin_role`, or `role_in_use`: staff users hold it")))]
async fn delete_role(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    staff.require_now(&state, Permission::SettingsManage).await?;
    if builtin_role(&id).is_some() {
        return Err(builtin_refused());
    }
    match state.store.delete_role(&id).await? {
        RoleDeletion::Deleted => {
            tracing::info!(role_id = %id, by = %staff.0.sub, "role deleted");
            Ok(StatusCode::NO_CONTENT)
        }
        RoleDeletion::NotFound => Err(no_role()),
        RoleDeletion::InUse => {
            Err(ApiError::conflict("role_in_use", "Staff users hold this role; take it from them first."))
        }
    }
}
