//! Agent forms (SPEC §6, seed 004): admins define call scripts per project whose answers fill
//! contact fields; agents holding `forms.fill` and assigned to the project fill them during a
//! call. A submission writes its bound fields through the records core (versions, unique
//! guards, masking, OTP rules) together with the stored submission, in one transaction.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use portico::criteria::FieldSchema;
use portico::domain::Permission;
use portico::domain::forms::{FormDefinition, ValidForm};
use portico::domain::modules::{self, Origin};
use portico::error::{FieldError, Problem};
use portico::http::{ApiJson, ApiQuery, PageQuery, PagedResponse, Staff, required_version};
use portico::records::{Caller, Need, RecordError, RecordView, View};
use portico::routes;
use portico::store::WriteSet;
use portico::store::forms::{SUBMISSION, StoredForm, Submission};
use portico::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as JsonValue};
use ulid::Ulid;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;

/// At most this many forms (every list reads them all).
pub const MAX_FORMS: usize = 200;
/// Attempts at a submission without `version` that meets concurrent changes of the contact
/// (enough for a handful of agents on one contact at once).
const SUBMIT_ATTEMPTS: usize = 6;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_all_forms, create_form))
        .routes(routes!(get_form, replace_form, delete_form))
        .routes(routes!(list_forms))
        .routes(routes!(open_form))
        .routes(routes!(submit_form))
        .routes(routes!(contact_submissions))
}

/// A form as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FormView {
    pub id: String,
    /// Send it as `If-Match` when replacing the form.
    pub version: u64,
    #[serde(flatten)]
    pub definition: FormDefinition,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<StoredForm> for FormView {
    fn from(stored: StoredForm) -> Self {
        Self {
            id: stored.id.to_string(),
            version: stored.version,
            definition: stored.definition,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
        }
    }
}

fn no_form() -> ApiError {
    ApiError::not_found("No such form.")
}

fn parse_id(id: &str) -> Result<Ulid, ApiError> {
    Ulid::from_string(id).map_err(|_| no_form())
}

/// Checks `definition` against the contact fields, and that its project exists.
async fn validated(state: &AppState, definition: FormDefinition) -> Result<ValidForm, ApiError> {
    let (custom, projects) = tokio::try_join!(state.store.contact_fields(), state.store.projects())?;
    let unknown_project = !projects.iter().any(|project| project.id == definition.project_id);
    match (definition.validate(&custom), unknown_project) {
        (Ok(valid), false) => Ok(valid),
        (result, unknown) => {
            let mut errors = result.err().unwrap_or_default();
            if unknown {
                errors.insert(0, FieldError::new("project_id", "is not a project"));
            }
            Err(ApiError::validation(errors))
        }
    }
}

#[utoipa::path(get, path = "/admin/forms", tag = "forms", security(("bearer" = [])),
    responses((status = 200, body = Vec<FormView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_all_forms(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<Vec<FormView>>, ApiError> {
    staff.require(Permission::SettingsManage)?;
    Ok(Json(state.store.forms().await?.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/admin/forms", tag = "forms", security(("bearer" = [])), request_body = FormDefinition,
    responses((status = 201, body = FormView),
        (status = 400, body = Problem, description = "Invalid, with the path of every error (`questions[1].contact_field`, `data.Full name` …)"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem, description = "`too_many_forms`")))]
async fn create_form(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(definition): ApiJson<FormDefinition>,
) -> Result<(StatusCode, Json<FormView>), ApiError> {
    staff.require_now(&state, Permission::SettingsManage).await?;
    let valid = validated(&state, definition).await?;
    if state.store.forms().await?.len() >= MAX_FORMS {
        return Err(ApiError::conflict("too_many_forms", format!("At most {MAX_FORMS} forms.")));
    }
    let stored = StoredForm::new(valid.definition, portico::time::now());
    state.store.create_form(&stored).await?;
    tracing::info!(form_id = %stored.id, by = %staff.0.sub, "form created");
    Ok((StatusCode::CREATED, Json(stored.into())))
}

#[utoipa::path(get, path = "/admin/forms/{id}", tag = "forms", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = FormView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_form(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<FormView>, ApiError> {
    staff.require(Permission::SettingsManage)?;
    Ok(Json(state.store.form(parse_id(&id)?).await?.ok_or_else(no_form)?.into()))
}

#[utoipa::path(put, path = "/admin/forms/{id}", tag = "forms", security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = String, Header, pattern = "^(W/)?\"?[1-9][0-9]{0,18}\"?$", description = "The version read")),
    request_body = FormDefinition,
    responses((status = 200, body = FormView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 412, body = Problem, description = "`version_mismatch`"),
        (status = 428, body = Problem, description = "`version_required`: send If-Match")))]
async fn replace_form(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(definition): ApiJson<FormDefinition>,
) -> Result<Json<FormView>, ApiError> {
    staff.require_now(&state, Permission::SettingsManage).await?;
    let id = parse_id(&id)?;
    let version = required_version(&headers, None)?;
    let valid = validated(&state, definition).await?;
    let current = state.store.form(id).await?.ok_or_else(no_form)?;
    let stored = current.replaced(version, valid.definition, portico::time::now());
    if !state.store.replace_form(&stored).await? {
        return Err(ApiError::version_mismatch(
            "The form changed since you read it; read it again and retry.",
        ));
    }
    tracing::info!(form_id = %id, by = %staff.0.sub, "form replaced");
    Ok(Json(stored.into()))
}

#[utoipa::path(delete, path = "/admin/forms/{id}", tag = "forms", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn delete_form(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    staff.require_now(&state, Permission::SettingsManage).await?;
    let id = parse_id(&id)?;
    if !state.store.delete_form(id).await? {
        return Err(no_form());
    }
    tracing::info!(form_id = %id, by = %staff.0.sub, "form deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Whether the caller may fill `form`: `forms.fill` and assigned to its project.
fn may_fill(staff: &Staff, form: &StoredForm) -> bool {
    staff.0.perms.contains(&Permission::FormsFill) && staff.0.projects.contains(&form.definition.project_id)
}

/// Form `id`, if the caller may fill it; 404 otherwise (a form of another project does not
/// exist for them).
async fn fillable(state: &AppState, staff: &Staff, id: &str) -> Result<StoredForm, ApiError> {
    let form = state.store.form(parse_id(id)?).await?.ok_or_else(no_form)?;
    if may_fill(staff, &form) { Ok(form) } else { Err(no_form()) }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FormsQuery {
    /// Only this project's forms.
    #[param(pattern = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub project_id: Option<String>,
}

#[utoipa::path(get, path = "/forms", tag = "forms", security(("bearer" = [])), params(FormsQuery),
    responses((status = 200, body = Vec<FormView>, description = "The forms of the caller's projects (none without `forms.fill`)"),
        (status = 400, body = Problem), (status = 401, body = Problem)))]
async fn list_forms(
    State(state): State<AppState>,
    staff: Staff,
    ApiQuery(query): ApiQuery<FormsQuery>,
) -> Result<Json<Vec<FormView>>, ApiError> {
    let project = query
        .project_id
        .map(|id| {
            Ulid::from_string(&id).map_err(|_| ApiError::invalid_field("project_id", "must be a project id"))
        })
        .transpose()?;
    let forms = state.store.forms().await?;
    Ok(Json(
        forms
            .into_iter()
            .filter(|form| may_fill(&staff, form))
            .filter(|form| project.is_none_or(|project| form.definition.project_id == project))
            .map(Into::into)
            .collect(),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct OpenFormQuery {
    /// The contact the call is with.
    #[param(pattern = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub contact_id: String,
}

/// A form as an agent opens it for a call: its questions and the contact's header.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpenForm {
    pub form: FormView,
    /// The contact's header: its name, the custom fields of the form's project and the fields
    /// the form fills — nothing else of the record (the form grants no wider read); masked
    /// values `null` without `contacts.view_masked`. Send its `version` with the submission.
    pub contact: RecordView,
}

/// The header of a contact as a form's filler sees it (`OpenForm::contact`): the view's custom
/// fields are the project's already; of the built-in ones, the name and the fields the form
/// fills stay.
fn header(mut contact: RecordView, form: &FormDefinition) -> RecordView {
    let contacts = modules::contacts();
    let filled = |name: &str| {
        form.questions.iter().any(|question| question.contact_field.as_deref() == Some(name))
            || form.data.contains_key(name)
    };
    let shown = |name: &str| {
        contacts.fields.field_type(name).is_none()
            || matches!(name, "first_name" | "last_name")
            || filled(name)
    };
    contact.fields.retain(|name, _| shown(name));
    contact.masked.retain(|name| shown(name));
    contact
}

fn parse_contact_id(id: &str) -> Result<Ulid, ApiError> {
    Ulid::from_string(id).map_err(|_| ApiError::not_found("No such record."))
}

#[utoipa::path(get, path = "/forms/{id}", tag = "forms", security(("bearer" = [])), params(("id" = String, Path), OpenFormQuery),
    responses((status = 200, body = OpenForm), (status = 401, body = Problem),
        (status = 404, body = Problem, description = "No such form or contact, or a form of a project the caller is not in")))]
async fn open_form(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<OpenFormQuery>,
) -> Result<Json<OpenForm>, ApiError> {
    let contact_id = parse_contact_id(&query.contact_id)?;
    let (form, custom) = tokio::try_join!(fillable(&state, &staff, &id), async {
        Ok::<_, ApiError>(state.store.contact_fields().await?)
    })?;
    let caller = Caller::form_filler(&staff.0, form.definition.project_id, Origin::Api);
    let view = View::new(&caller, modules::contacts(), &custom);
    let contact = view.read(&state.store, contact_id).await?;
    Ok(Json(OpenForm { contact: header(view.render(&contact), &form.definition), form: form.into() }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubmission {
    #[schema(pattern = "^[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub contact_id: String,
    /// Question id → answer (text, number, option text, list of option texts, `YYYY-MM-DD`,
    /// true/false).
    #[schema(value_type = Object)]
    pub answers: Map<String, JsonValue>,
    /// The contact's version the agent saw: a contact changed since → 412. Without it, a
    /// concurrent change is retried on the contact as it is.
    pub version: Option<u64>,
}

/// A stored submission and the contact it changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionResult {
    pub submission: Submission,
    pub contact: RecordView,
}

#[utoipa::path(post, path = "/forms/{id}/submissions", tag = "forms", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = NewSubmission,
    responses((status = 201, body = SubmissionResult),
        (status = 400, body = Problem, description = "Every answer's problem (`answers.<question>`, `data.<field>`); nothing written"),
        (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "`value_taken` (a unique field), `form_outdated`, or `conflict` after retries"),
        (status = 412, body = Problem, description = "`version_mismatch`: the contact changed since `version`"),
        (status = 428, body = Problem, description = "`otp_required`: an OTP rule guards a field the form fills")))]
async fn submit_form(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<NewSubmission>,
) -> Result<(StatusCode, Json<SubmissionResult>), ApiError> {
    let contact_id = parse_contact_id(&request.contact_id)?;
    let (form, custom) = tokio::try_join!(fillable(&state, &staff, &id), async {
        Ok::<_, ApiError>(state.store.contact_fields().await?)
    })?;
    // The fields changed since the form was saved so that it no longer fits them.
    let valid = form.definition.clone().validate(&custom).map_err(|_| {
        ApiError::conflict(
            "form_outdated",
            "The form no longer fits the contact fields; an administrator must fix it.",
        )
    })?;
    let submission_id = Ulid::generate();
    let caller = Caller::form_filler(&staff.0, form.definition.project_id, Origin::Form(submission_id));
    let view = View::new(&caller, modules::contacts(), &custom);
    let values = valid.fill(&request.answers, &view.schema).map_err(ApiError::validation)?;
    let submission = Submission {
        id: submission_id.to_string(),
        form_id: form.id.to_string(),
        form_name: form.definition.name.clone(),
        project_id: form.definition.project_id.to_string(),
        contact_id: contact_id.to_string(),
        by: staff.0.sub.to_string(),
        at: portico::time::now(),
        answers: request.answers.clone(),
        fills: valid.fills(),
    };
    let store = &state.store;
    for _ in 0..SUBMIT_ATTEMPTS {
        let written = WriteSet::new().with(SUBMISSION, store.submission_put(&submission)?);
        let outcome = if values.is_empty() {
            // Nothing bound: the submission alone, as long as the contact is as the agent saw it.
            let current = view.read(store, contact_id).await?;
            match request.version {
                Some(version) if version != current.version => {
                    Err(RecordError::VersionMismatch { current: current.version })
                }
                _ => store.commit(written).await.map(|()| current).map_err(RecordError::from),
            }
        } else {
            // The change compares versions itself; without one, the contact's current one.
            let expected = match request.version {
                Some(version) => version,
                None => view.read(store, contact_id).await?.version,
            };
            view.change(store, contact_id, expected, &values, None, written).await
        };
        match outcome {
            Ok(contact) => {
                tracing::info!(form_id = %form.id, submission_id = %submission_id, contact_id = %contact_id, by = %staff.0.sub, "form submitted");
                return Ok((
                    StatusCode::CREATED,
                    Json(SubmissionResult {
                        submission,
                        contact: header(view.render(&contact), &form.definition),
                    }),
                ));
            }
            // Without a version the agent asked for "the contact as it is": read it again.
            Err(RecordError::VersionMismatch { .. }) if request.version.is_none() => continue,
            Err(RecordError::ItemsFailed(cancellation))
                if request.version.is_none() && !cancellation.conflicted.is_empty() =>
            {
                continue;
            }
            Err(error) => return Err(error.into()),
        }
    }
    Err(ApiError::conflict("conflict", "The contact kept changing; retry the submission."))
}

#[utoipa::path(get, path = "/records/{module}/{id}/submissions", tag = "forms", security(("bearer" = [])),
    params(("module" = String, Path, description = "`contacts`"), ("id" = String, Path), PageQuery),
    responses((status = 200, body = inline(PagedResponse<Submission>), description = "Newest first, of the forms of the caller's projects (all with `settings.manage`; a page may come out short); answers that fill masked fields are `null` without `contacts.view_masked`"),
        (status = 401, body = Problem), (status = 404, body = Problem)))]
async fn contact_submissions(
    State(state): State<AppState>,
    Staff(claims, _): Staff,
    Path((module, id)): Path<(String, String)>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<PagedResponse<Submission>>, ApiError> {
    let caller = Caller::staff(&claims, Origin::Api);
    let module = caller.module(&module, Need::Read)?;
    if module.name != "contacts" {
        return Err(ApiError::not_found("Only contacts have form submissions."));
    }
    let contact_id = parse_contact_id(&id)?;
    let (limit, start) = query.resolve(&state.keys)?;
    let custom = portico::records::custom_fields(&state.store, module).await?;
    // The same record-level access as the contact itself.
    View::new(&caller, module, &custom).read(&state.store, contact_id).await?;
    let page = state.store.submissions(contact_id, limit, start).await?;
    // A submission answers a project's script: staff of other projects do not see it (its
    // answers may fill fields only that project sees). A page may so come out short.
    let view = View::new(&caller, module, &custom);
    let sees_all = caller.has(Permission::SettingsManage);
    let projects: Vec<String> = claims.projects.iter().map(Ulid::to_string).collect();
    let page = portico::store::Page {
        items: page
            .items
            .into_iter()
            .filter(|submission| sees_all || projects.contains(&submission.project_id))
            .map(|submission| withheld(submission, &view))
            .collect(),
        next: page.next,
    };
    Ok(Json(PagedResponse::from_page(&state.keys, page, |submission| submission)))
}

/// `submission` with `null` for each answer that filled a field `view` does not show: masked
/// (as the fields are now) from staff without the permission, or not (any more) theirs.
fn withheld(mut submission: Submission, view: &View<'_>) -> Submission {
    for (question, fields) in &submission.fills {
        let hidden = fields.iter().any(|field| view.schema.field_type(field).is_none() || view.hides(field));
        if hidden && let Some(answer) = submission.answers.get_mut(question) {
            *answer = JsonValue::Null;
        }
    }
    submission
}
