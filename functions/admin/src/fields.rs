//! Projects and custom contact fields (SPEC §6).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use portico::criteria::FieldType;
use portico::domain::Permission;
use portico::domain::contact_fields::{ContactField, Project, check_field_name};
use portico::domain::modules;
use portico::domain::permission::RoleGrants;
use portico::error::{FieldError, Problem};
use portico::http::{ApiJson, Staff};
use portico::routes;
use portico::store::StoreError;
use portico::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

use crate::roles::Granter;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_projects, create_project))
        .routes(routes!(rename_project))
        .routes(routes!(list_fields, create_field))
        .routes(routes!(change_field))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectView {
    pub id: String,
    pub name: String,
}

impl From<Project> for ProjectView {
    fn from(project: Project) -> Self {
        Self { id: project.id.to_string(), name: project.name }
    }
}

#[utoipa::path(get, path = "/admin/projects", tag = "fields", security(("bearer" = [])),
    responses((status = 200, body = Vec<ProjectView>, description = "For `settings.manage` or `users.manage` (who put staff into projects)"),
        (status = 403, body = Problem)))]
async fn list_projects(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<Vec<ProjectView>>, ApiError> {
    if !staff.0.has(Permission::UsersManage) {
        staff.require(Permission::SettingsManage)?;
    }
    Ok(Json(state.store.projects().await?.into_iter().map(ProjectView::from).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    #[schema(min_length = 1, max_length = 100, pattern = "\\S")]
    pub name: String,
}

#[utoipa::path(post, path = "/admin/projects", tag = "fields", security(("bearer" = [])), request_body = NewProject,
    responses((status = 201, body = ProjectView), (status = 400, body = Problem), (status = 403, body = Problem)))]
async fn create_project(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(request): ApiJson<NewProject>,
) -> Result<(StatusCode, Json<ProjectView>), ApiError> {
    staff.require_now(&state, Permission::SettingsManage).await?;
    let project = Project { id: Ulid::generate(), name: project_name(&request.name)? };
    state.store.create_project(&project).await?;
    Ok((StatusCode::CREATED, Json(project.into())))
}

fn project_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid_field("name", "must be 1 to 100 characters"));
    }
    Ok(name.to_owned())
}

#[utoipa::path(patch, path = "/admin/projects/{id}", tag = "fields", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = NewProject,
    responses((status = 200, body = ProjectView), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem)))]
async fn rename_project(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<NewProject>,
) -> Result<Json<ProjectView>, ApiError> {
    staff.require_now(&state, Permission::SettingsManage).await?;
    let not_found = || ApiError::not_found("No such project.");
    let id = Ulid::from_string(&id).map_err(|_| not_found())?;
    let name = project_name(&request.name)?;
    let project = state.store.rename_project(id, &name).await?.ok_or_else(not_found)?;
    tracing::info!(project_id = %id, by = %staff.0.sub, "project renamed");
    Ok(Json(project.into()))
}

/// Checks that every id names an existing project.
pub async fn check_projects(state: &AppState, field: &str, ids: &[String]) -> Result<Vec<Ulid>, ApiError> {
    let known: Vec<Ulid> = state.store.projects().await?.into_iter().map(|project| project.id).collect();
    let mut errors = Vec::new();
    let mut projects = Vec::new();
    for (index, id) in ids.iter().enumerate() {
        match Ulid::from_string(id).ok().filter(|id| known.contains(id)) {
            Some(project) => projects.push(project),
            None => errors.push(FieldError::new(format!("{field}[{index}]"), "is not a project")),
        }
    }
    if errors.is_empty() { Ok(projects) } else { Err(ApiError::validation(errors)) }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ContactFieldView {
    pub name: String,
    pub field_type: FieldType,
    pub projects: Vec<String>,
    pub unique: bool,
    pub masked: bool,
}

impl From<ContactField> for ContactFieldView {
    fn from(field: ContactField) -> Self {
        Self {
            name: field.name,
            field_type: field.field_type,
            projects: field.projects.iter().map(Ulid::to_string).collect(),
            unique: field.unique,
            masked: field.masked,
        }
    }
}

#[utoipa::path(get, path = "/admin/contact-fields", tag = "fields", security(("bearer" = [])),
    responses((status = 200, body = Vec<ContactFieldView>), (status = 403, body = Problem)))]
async fn list_fields(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<Vec<ContactFieldView>>, ApiError> {
    staff.require(Permission::SettingsManage)?;
    Ok(Json(state.store.contact_fields().await?.into_iter().map(ContactFieldView::from).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContactField {
    /// Case-sensitive, 1–64 characters; no dots, no leading or trailing spaces; not a built-in
    /// contact field.
    #[schema(max_length = 64, pattern = "^[^.\\s]([^.]*[^.\\s])?$")]
    pub name: String,
    /// `{"type": "text"}`, `{"type": "select", "options": [...]}`, …
    pub field_type: FieldType,
    pub projects: Vec<String>,
    #[serde(default)]
    pub unique: bool,
    #[serde(default)]
    pub masked: bool,
}

#[utoipa::path(post, path = "/admin/contact-fields", tag = "fields", security(("bearer" = [])), request_body = NewContactField,
    responses((status = 201, body = ContactFieldView), (status = 400, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "`field_exists`")))]
async fn create_field(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(request): ApiJson<NewContactField>,
) -> Result<(StatusCode, Json<ContactFieldView>), ApiError> {
    staff.require_now(&state, Permission::SettingsManage).await?;
    let contacts = modules::module("contacts").ok_or_else(|| ApiError::internal("no contacts module"))?;
    check_field_name(&request.name, contacts).map_err(|e| ApiError::invalid_field("name", e.to_string()))?;
    if request.unique && matches!(request.field_type, FieldType::List | FieldType::Bool) {
        return Err(ApiError::invalid_field("unique", "lists and booleans can't be unique"));
    }
    let projects = check_projects(&state, "projects", &request.projects).await?;
    let field = ContactField {
        name: request.name,
        field_type: request.field_type,
        projects,
        unique: request.unique,
        masked: request.masked,
    };
    match state.store.create_contact_field(&field).await {
        Ok(()) => Ok((StatusCode::CREATED, Json(field.into()))),
        Err(StoreError::ConditionFailed) => {
            Err(ApiError::conflict("field_exists", "A contact field has this name."))
        }
        Err(error) => Err(error.into()),
    }
}

/// What may change about a contact field; absent (or `null`) parts stay, so `{}` changes nothing
/// and answers the field as it is. Its name, type and uniqueness are fixed: stored values and
/// unique-value guards depend on them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactFieldChange {
    pub projects: Option<Vec<String>>,
    pub masked: Option<bool>,
}

#[utoipa::path(patch, path = "/admin/contact-fields/{name}", tag = "fields", security(("bearer" = [])),
    params(("name" = String, Path, description = "The field's name, URL-encoded (case-sensitive)")),
    request_body = ContactFieldChange,
    responses((status = 200, body = ContactFieldView, description = "In effect with the next request"),
        (status = 400, body = Problem),
        (status = 403, body = Problem, description = "`beyond_own_rights`: unmasking needs `contacts.view_masked`"),
        (status = 404, body = Problem)))]
async fn change_field(
    State(state): State<AppState>,
    staff: Staff,
    Path(name): Path<String>,
    ApiJson(change): ApiJson<ContactFieldChange>,
) -> Result<Json<ContactFieldView>, ApiError> {
    if change.projects.is_none() && change.masked.is_none() {
        staff.require(Permission::SettingsManage)?;
        let fields = state.store.contact_fields().await?;
        let field = fields.into_iter().find(|field| field.name == name);
        return field
            .map(|field| Json(field.into()))
            .ok_or_else(|| ApiError::not_found("No such contact field."));
    }
    // Rights read afresh: settings change only for those who hold the right now.
    let granter = Granter::of(&state, &staff, Permission::SettingsManage).await?;
    if change.masked == Some(false) {
        // Unmasking shows the values to everyone: only for someone allowed to see them now.
        let seeing =
            RoleGrants { permissions: vec![Permission::ContactsViewMasked], ..RoleGrants::default() };
        granter.ensure_covers(&seeing)?;
    }
    let projects = match &change.projects {
        Some(ids) => Some(check_projects(&state, "projects", ids).await?),
        None => None,
    };
    let field = state
        .store
        .update_contact_field(&name, projects.as_deref(), change.masked)
        .await?
        .ok_or_else(|| ApiError::not_found("No such contact field."))?;
    tracing::info!(field = %name, by = %staff.0.sub, masked = field.masked, "contact field changed");
    Ok(Json(field.into()))
}
