//! Workflow rules (`/admin/workflow-rules`, staff with `settings.manage`): what the stream
//! consumer (`functions/workflows`) runs, a dry run of one rule against a record, and the rule's
//! run history.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use portico::domain::Permission;
use portico::domain::contact_fields::ModuleSchema;
use portico::domain::modules::{Origin, parse_fields};
use portico::domain::workflow::{
    EventKind, Firing, FunctionTarget, RecordEvent, ValidWorkflowRule, WorkflowAction, WorkflowRuleDefinition,
};
use portico::error::{FieldError, Problem};
use portico::http::{ApiJson, ApiQuery, PageQuery, PagedResponse, Staff, required_version};
use portico::routes;
use portico::store::workflows::{StoredWorkflowRule, WorkflowRun};
use portico::{ApiError, AppState};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as JsonValue};
use ulid::Ulid;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

/// At most this many rules: the stream consumer reads them all for every batch.
pub const MAX_RULES: usize = 200;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_workflow_rules, create_workflow_rule))
        .routes(routes!(get_workflow_rule, replace_workflow_rule, delete_workflow_rule))
        .routes(routes!(test_workflow_rule))
        .routes(routes!(list_workflow_runs))
}

/// A rule as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkflowRuleView {
    pub id: String,
    /// Send it as `If-Match` when replacing the rule.
    pub version: u64,
    #[serde(flatten)]
    pub definition: WorkflowRuleDefinition,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The secret the rule's webhooks are signed with: in the answer that creates the rule only
    /// (it is derived, never stored; delete and create the rule again for a new one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<String>,
}

impl From<StoredWorkflowRule> for WorkflowRuleView {
    fn from(stored: StoredWorkflowRule) -> Self {
        Self {
            id: stored.id.to_string(),
            version: stored.version,
            definition: stored.definition,
            created_at: stored.created_at,
            updated_at: stored.updated_at,
            webhook_secret: None,
        }
    }
}

async fn validated(
    state: &AppState,
    definition: WorkflowRuleDefinition,
) -> Result<ValidWorkflowRule, ApiError> {
    let custom = state.store.contact_fields().await?;
    definition.validate(&custom, state.config.action_targets()).map_err(ApiError::validation)
}

/// Whether a rule signs what it sends (webhooks, functions at a URL): it then has a secret.
fn has_webhook(definition: &WorkflowRuleDefinition) -> bool {
    definition.actions.iter().any(|action| {
        matches!(
            action,
            WorkflowAction::Webhook { .. } | WorkflowAction::Function { target: FunctionTarget::Url(_), .. }
        )
    })
}

fn parse_id(id: &str) -> Result<Ulid, ApiError> {
    Ulid::from_string(id).map_err(|_| ApiError::not_found("No such workflow rule."))
}

async fn stored_rule(state: &AppState, id: Ulid) -> Result<StoredWorkflowRule, ApiError> {
    state.store.workflow_rule(id).await?.ok_or_else(|| ApiError::not_found("No such workflow rule."))
}

#[utoipa::path(get, path = "/admin/workflow-rules", tag = "workflows", security(("bearer" = [])),
    responses((status = 200, body = Vec<WorkflowRuleView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
async fn list_workflow_rules(
    State(state): State<AppState>,
    staff: Staff,
) -> Result<Json<Vec<WorkflowRuleView>>, ApiError> {
    staff.require(Permission::SettingsManage)?;
    Ok(Json(state.store.workflow_rules().await?.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/admin/workflow-rules", tag = "workflows", security(("bearer" = [])),
    request_body = WorkflowRuleDefinition,
    responses((status = 201, body = WorkflowRuleView),
        (status = 400, body = Problem, description = "Invalid, with the path of every error (`criteria.all[0].value`, `actions[1].to.addresses[0]` …); a rule without actions is refused"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 409, body = Problem, description = "`too_many_rules`")))]
async fn create_workflow_rule(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(definition): ApiJson<WorkflowRuleDefinition>,
) -> Result<(StatusCode, Json<WorkflowRuleView>), ApiError> {
    staff.require_now(&state, Permission::SettingsManage).await?;
    let valid = validated(&state, definition).await?;
    if state.store.workflow_rules().await?.len() >= MAX_RULES {
        return Err(ApiError::conflict("too_many_rules", format!("At most {MAX_RULES} workflow rules.")));
    }
    let stored = StoredWorkflowRule::new(valid.definition, portico::time::now());
    state.store.create_workflow_rule(&stored).await?;
    tracing::info!(rule_id = %stored.id, by = %staff.0.sub, "workflow rule created");
    let secret = has_webhook(&stored.definition).then(|| state.keys.webhook_secret(stored.id));
    Ok((StatusCode::CREATED, Json(WorkflowRuleView { webhook_secret: secret, ..stored.into() })))
}

#[utoipa::path(get, path = "/admin/workflow-rules/{id}", tag = "workflows", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = WorkflowRuleView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_workflow_rule(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<WorkflowRuleView>, ApiError> {
    staff.require(Permission::SettingsManage)?;
    Ok(Json(stored_rule(&state, parse_id(&id)?).await?.into()))
}

#[utoipa::path(put, path = "/admin/workflow-rules/{id}", tag = "workflows", security(("bearer" = [])),
    params(("id" = String, Path), ("If-Match" = String, Header, pattern = "^(W/)?\"?[1-9][0-9]{0,18}\"?$", description = "The version read")),
    request_body = WorkflowRuleDefinition,
    responses((status = 200, body = WorkflowRuleView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 412, body = Problem, description = "`version_mismatch`"),
        (status = 428, body = Problem, description = "`version_required`: send If-Match")))]
async fn replace_workflow_rule(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(definition): ApiJson<WorkflowRuleDefinition>,
) -> Result<Json<WorkflowRuleView>, ApiError> {
    staff.require_now(&state, Permission::SettingsManage).await?;
    let id = parse_id(&id)?;
    let version = required_version(&headers, None)?;
    let valid = validated(&state, definition).await?;
    let current = stored_rule(&state, id).await?;
    let current_definition = current.definition.clone();
    let stored = current.replaced(version, valid.definition, portico::time::now());
    if !state.store.replace_workflow_rule(&stored).await? {
        let now = stored_rule(&state, id).await?;
        return Err(ApiError::version_mismatch(format!(
            "The rule is at version {}; read it again and retry.",
            now.version
        )));
    }
    tracing::info!(rule_id = %id, by = %staff.0.sub, "workflow rule replaced");
    // A webhook added now needs its secret: shown in this answer, as on creation.
    let added_webhook = has_webhook(&stored.definition) && !has_webhook(&current_definition);
    let secret = added_webhook.then(|| state.keys.webhook_secret(id));
    Ok(Json(WorkflowRuleView { webhook_secret: secret, ..stored.into() }))
}

#[utoipa::path(delete, path = "/admin/workflow-rules/{id}", tag = "workflows", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn delete_workflow_rule(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    staff.require_now(&state, Permission::SettingsManage).await?;
    let id = parse_id(&id)?;
    if !state.store.delete_workflow_rule(id).await? {
        return Err(ApiError::not_found("No such workflow rule."));
    }
    tracing::info!(rule_id = %id, by = %staff.0.sub, "workflow rule deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// A record to try a rule on: its fields now and, for an edit, before.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleTest {
    #[schema(value_type = Object)]
    pub record: Map<String, JsonValue>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub old_record: Option<Map<String, JsonValue>>,
    /// `created` (default without `old_record`), `edited` (default with it) or `deleted`.
    #[serde(default)]
    pub event: Option<EventKind>,
}

/// Whether the rule would fire, why, and what it would do — nothing is run.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleTestResult {
    #[serde(flatten)]
    pub firing: Firing,
    /// The actions that would run, in order (their types), when it fires.
    pub actions: Vec<String>,
}

#[utoipa::path(post, path = "/admin/workflow-rules/{id}/test", tag = "workflows", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = RuleTest,
    responses((status = 200, body = RuleTestResult), (status = 400, body = Problem, description = "`record.<field>` / `old_record.<field>` invalid"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn test_workflow_rule(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    ApiJson(test): ApiJson<RuleTest>,
) -> Result<Json<RuleTestResult>, ApiError> {
    staff.require(Permission::SettingsManage)?;
    let id = parse_id(&id)?;
    let stored = stored_rule(&state, id).await?;
    let valid = validated(&state, stored.definition).await?;
    let custom =
        if valid.module.name == "contacts" { state.store.contact_fields().await? } else { Vec::new() };
    let schema = ModuleSchema::for_staff(valid.module, &custom, &[], true);
    let parse = |prefix: &str, fields: &Map<String, JsonValue>| {
        parse_fields(&schema, valid.module.name, fields).map_err(|errors| {
            ApiError::validation(
                errors
                    .into_iter()
                    .map(|(field, message)| {
                        FieldError::new(format!("{prefix}.{}", field.trim_start_matches("fields.")), message)
                    })
                    .collect(),
            )
        })
    };
    let record = parse("record", &test.record)?;
    let old = test.old_record.as_ref().map(|old| parse("old_record", old)).transpose()?;
    let kind = test.event.unwrap_or(if old.is_some() { EventKind::Edited } else { EventKind::Created });
    let origin = Origin::Api;
    let event = RecordEvent {
        kind,
        new: (kind != EventKind::Deleted).then_some(&record),
        old: if kind == EventKind::Deleted { Some(&record) } else { old.as_ref() },
        origin: &origin,
        at: portico::time::now(),
    };
    let firing = valid.fires(id, &event);
    let actions = if firing.fires {
        valid.definition.actions.iter().map(|action| action.kind().to_owned()).collect()
    } else {
        Vec::new()
    };
    Ok(Json(RuleTestResult { firing, actions }))
}

#[utoipa::path(get, path = "/admin/workflow-rules/{id}/runs", tag = "workflows", security(("bearer" = [])),
    params(("id" = String, Path), PageQuery),
    responses((status = 200, body = inline(PagedResponse<WorkflowRun>), description = "Runs of the last 30 days, newest first"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn list_workflow_runs(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<PagedResponse<WorkflowRun>>, ApiError> {
    staff.require(Permission::SettingsManage)?;
    let id = parse_id(&id)?;
    let (limit, start) = page.resolve(&state.keys)?;
    let runs = state.store.workflow_runs(id, limit, start).await?;
    Ok(Json(PagedResponse::from_page(&state.keys, runs, |run| run)))
}
