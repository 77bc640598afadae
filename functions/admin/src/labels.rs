//! Labels (SPEC §1): CRUD, and attaching them to customers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use portico::domain::label::{MAX_LABEL_DESCRIPTION_CHARS, parse_label_name};
use portico::domain::lifecycle::{MoveFrom, Stage};
use portico::domain::{Colour, Label, Permission};
use portico::error::{FieldError, Problem};
use portico::http::{ApiJson, ApiQuery, PageQuery, PagedResponse, Staff};
use portico::routes;
use portico::store::WriteSet;
use portico::store::labels::{LabelDeletion, LabelLink, LabelWrite};
use portico::store::lifecycle::LifecycleMove;
use portico::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use ulid::Ulid;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_labels, create_label))
        .routes(routes!(get_label, update_label, delete_label))
        .routes(routes!(attach_label, detach_label))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LabelView {
    pub id: String,
    pub name: String,
    pub description: String,
    /// `#rrggbb`
    #[schema(pattern = "^#[0-9a-fA-F]{6}$")]
    pub colour: String,
    /// Customers carrying the label.
    pub usage: u64,
    /// Set on the three built-in lifecycle labels: moved by rules and staff (one per customer),
    /// never deleted or renamed; their colour and description may change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lifecycle_stage: Option<Stage>,
}

impl From<Label> for LabelView {
    fn from(label: Label) -> Self {
        Self {
            id: label.id.to_string(),
            name: label.name,
            description: label.description,
            colour: label.colour.into(),
            usage: label.usage,
            lifecycle_stage: label.stage,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLabel {
    /// Unique, ignoring case; 1–64 characters, no control characters or web addresses.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u061c\\u180e\\ufeff\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u061c\\u180e\\ufeff\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f][^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u061c\\u180e\\ufeff\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f]*$"
    )]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `#rrggbb`
    #[schema(pattern = "^#[0-9a-fA-F]{6}$")]
    pub colour: String,
}

/// Fields to change; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LabelChanges {
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u061c\\u180e\\ufeff\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u061c\\u180e\\ufeff\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f][^\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\u061c\\u180e\\ufeff\\u200b-\\u200f\\u202a-\\u202e\\u2060-\\u206f]*$"
    )]
    pub name: Option<String>,
    pub description: Option<String>,
    #[schema(pattern = "^#[0-9a-fA-F]{6}$")]
    pub colour: Option<String>,
}

/// Validates label fields, collecting every error.
fn label_fields(name: &str, description: &str, colour: &str) -> Result<(String, String, Colour), ApiError> {
    let mut errors = Vec::new();
    let name = parse_label_name(name).map_err(|e| errors.push(FieldError::new("name", e.to_string()))).ok();
    let colour =
        Colour::parse(colour).map_err(|e| errors.push(FieldError::new("colour", e.to_string()))).ok();
    let description = description.trim().to_owned();
    if description.chars().count() > MAX_LABEL_DESCRIPTION_CHARS {
        errors.push(FieldError::new(
            "description",
            format!("must be at most {MAX_LABEL_DESCRIPTION_CHARS} characters"),
        ));
    }
    match (name, colour) {
        (Some(name), Some(colour)) if errors.is_empty() => Ok((name, description, colour)),
        _ => Err(ApiError::validation(errors)),
    }
}

fn name_taken() -> ApiError {
    ApiError::conflict("label_name_taken", "A label with this name exists.")
}

fn label_not_found() -> ApiError {
    ApiError::not_found("No such label.")
}

fn parse_label_id(id: &str) -> Result<Ulid, ApiError> {
    Ulid::from_string(id).map_err(|_| label_not_found())
}

#[utoipa::path(get, path = "/admin/labels", tag = "labels", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = inline(PagedResponse<LabelView>)), (status = 403, body = Problem)))]
async fn list_labels(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<PagedResponse<LabelView>>, ApiError> {
    staff.require(Permission::SettingsManage)?;
    let (limit, start) = query.resolve(&state.keys)?;
    // The built-in lifecycle labels exist from the first look at the list on.
    state.store.lifecycle_labels().await?;
    let page = state.store.labels(limit, start).await?;
    Ok(Json(PagedResponse::from_page(&state.keys, page, LabelView::from)))
}

#[utoipa::path(post, path = "/admin/labels", tag = "labels", security(("bearer" = [])), request_body = NewLabel,
    responses((status = 201, body = LabelView), (status = 400, body = Problem), (status = 409, body = Problem)))]
async fn create_label(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(request): ApiJson<NewLabel>,
) -> Result<(StatusCode, Json<LabelView>), ApiError> {
    staff.require_now(&state, Permission::SettingsManage).await?;
    let (name, description, colour) = label_fields(&request.name, &request.description, &request.colour)?;
    let label = Label { id: Ulid::generate(), name, description, colour, usage: 0, stage: None };
    match state.store.create_label(&label).await? {
        LabelWrite::Done => Ok((StatusCode::CREATED, Json(label.into()))),
        LabelWrite::NameTaken => Err(name_taken()),
        LabelWrite::Stale => Err(ApiError::conflict("conflict", "The label changed meanwhile; retry.")),
    }
}

#[utoipa::path(get, path = "/admin/labels/{id}", tag = "labels", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = LabelView), (status = 404, body = Problem)))]
async fn get_label(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<LabelView>, ApiError> {
    staff.require(Permission::SettingsManage)?;
    let label = state.store.label(parse_label_id(&id)?).await?.ok_or_else(label_not_found)?;
    Ok(Json(label.into()))
}

#[utoipa::path(patch, path = "/admin/labels/{id}", tag = "labels", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = LabelChanges,
    responses((status = 200, body = LabelView), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
async fn update_label(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    ApiJson(changes): ApiJson<LabelChanges>,
) -> Result<Json<LabelView>, ApiError> {
    staff.require_now(&state, Permission::SettingsManage).await?;
    let current = state.store.label(parse_label_id(&id)?).await?.ok_or_else(label_not_found)?;
    let current_colour = String::from(current.colour.clone());
    let (name, description, colour) = label_fields(
        changes.name.as_deref().unwrap_or(&current.name),
        changes.description.as_deref().unwrap_or(&current.description),
        changes.colour.as_deref().unwrap_or(&current_colour),
    )?;
    if current.stage.is_some() && name != current.name {
        return Err(ApiError::validation(vec![FieldError::new(
            "name",
            "is a lifecycle stage's built-in label: its name stays (its colour and description may change)",
        )]));
    }
    let updated = Label { name, description, colour, ..current.clone() };
    match state.store.update_label(&current, &updated).await? {
        LabelWrite::Done => Ok(Json(updated.into())),
        LabelWrite::NameTaken => Err(name_taken()),
        LabelWrite::Stale => Err(ApiError::conflict("conflict", "The label changed meanwhile; retry.")),
    }
}

#[utoipa::path(delete, path = "/admin/labels/{id}", tag = "labels", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem, description = "`label_in_use`, `label_builtin`")))]
async fn delete_label(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    staff.require_now(&state, Permission::SettingsManage).await?;
    match state.store.delete_label(parse_label_id(&id)?).await? {
        LabelDeletion::Deleted => Ok(StatusCode::NO_CONTENT),
        LabelDeletion::NotFound => Err(label_not_found()),
        LabelDeletion::BuiltIn => Err(ApiError::conflict(
            "label_builtin",
            "This is a lifecycle stage's built-in label: it can't be deleted.",
        )),
        LabelDeletion::InUse => {
            Err(ApiError::conflict("label_in_use", "Customers carry this label; detach it from them first."))
        }
    }
}

async fn link(
    state: &AppState,
    staff: &Staff,
    customer: &str,
    label: &str,
    attach: bool,
) -> Result<StatusCode, ApiError> {
    staff.require_now(state, Permission::SettingsManage).await?;
    let customer = Ulid::from_string(customer).map_err(|_| ApiError::not_found("No such customer."))?;
    let label = parse_label_id(label)?;
    if let Some(stage) = state.store.lifecycle_labels().await?.stage_of(label) {
        // One stage at a time: attaching moves the customer there, detaching leaves no stage.
        let (to, from) = if attach {
            (Some(stage), MoveFrom::anywhere())
        } else {
            (None, MoveFrom { none: false, stages: vec![stage] })
        };
        // The stage is the contact's `lifecycle` field too: an OTP rule on it guards this move.
        let otp_rules =
            portico::records::otp_rules(&state.store, portico::domain::modules::contacts()).await?;
        if let Some(rule) =
            portico::records::lifecycle::guarding_rule(&state.store, &otp_rules, customer, to).await?
        {
            return Err(ApiError::new(
                StatusCode::PRECONDITION_REQUIRED,
                "otp_required",
                format!(
                    "Moving this customer's lifecycle stage needs their one-time password (rule \"{rule}\"); change the lifecycle field of their contact with PATCH to get a code."
                ),
            ));
        }
        if let LifecycleMove::NoSuchCustomer =
            state.store.move_lifecycle(customer, to, &from, || Ok(WriteSet::new())).await?
        {
            return Err(ApiError::not_found("No such customer."));
        }
        if !attach {
            // A customer may also carry it as a plain label, attached before the label of that
            // name became the stage's: that link goes too.
            state.store.link_label(customer, label, false).await?;
        }
        return Ok(StatusCode::NO_CONTENT);
    }
    match state.store.link_label(customer, label, attach).await? {
        LabelLink::Changed | LabelLink::Unchanged => Ok(StatusCode::NO_CONTENT),
        LabelLink::NoSuchCustomer => Err(ApiError::not_found("No such customer.")),
        LabelLink::NoSuchLabel => Err(label_not_found()),
    }
}

#[utoipa::path(put, path = "/admin/customers/{id}/labels/{label_id}", tag = "labels", security(("bearer" = [])),
    params(("id" = String, Path, description = "Customer account id"), ("label_id" = String, Path)),
    responses((status = 204, description = "Attached (or already was)"), (status = 404, body = Problem)))]
async fn attach_label(
    State(state): State<AppState>,
    staff: Staff,
    Path((customer, label)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    link(&state, &staff, &customer, &label, true).await
}

#[utoipa::path(delete, path = "/admin/customers/{id}/labels/{label_id}", tag = "labels", security(("bearer" = [])),
    params(("id" = String, Path, description = "Customer account id"), ("label_id" = String, Path)),
    responses((status = 204, description = "Detached (or was not attached)"), (status = 404, body = Problem)))]
async fn detach_label(
    State(state): State<AppState>,
    staff: Staff,
    Path((customer, label)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    link(&state, &staff, &customer, &label, false).await
}
