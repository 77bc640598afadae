//! OTP-guarded changes (SPEC §3, seed 000): the rules — which change of which module needs the
//! customer's one-time password, the code's shape and the channels that carry it
//! (`/admin/otp-rules`, staff with `settings.manage`) — and the agent's challenges
//! (`/otp/challenges/{id}`: status, send, resend, verify). The guard itself sits in the shared
//! records core, so every path that changes a record meets it.

mod challenges;

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use portico::domain::Permission;
use portico::domain::otp::{
    Channel, CodeOptions, OtpRuleDefinition, SendMode, Trigger, ValidOtpRule, warnings,
};
use portico::error::{FieldError, Problem};
use portico::http::{ApiJson, Staff};
use portico::routes;
use portico::store::otp_rules::StoredOtpRule;
use portico::{ApiError, AppState};
use serde::Serialize;
use ulid::Ulid;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

/// At most this many rules: every write of a guarded module reads them all.
pub const MAX_RULES: usize = 100;

pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_rules, create_rule))
        .routes(routes!(get_rule, replace_rule, delete_rule))
        .routes(routes!(challenges::get_challenge))
        .routes(routes!(challenges::send_code))
        .routes(routes!(challenges::resend_code))
        .routes(routes!(challenges::verify_code))
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

/// A rule as the API shows it, with what its code is worth.
#[derive(Debug, Serialize, ToSchema)]
pub struct OtpRuleView {
    pub id: String,
    /// Send it back as `version` when replacing the rule.
    pub version: u64,
    pub name: String,
    pub module: String,
    pub active: bool,
    pub trigger: Trigger,
    pub otp: CodeOptions,
    pub channels: Vec<Channel>,
    pub recipients: BTreeMap<Channel, String>,
    pub locale: portico::domain::Locale,
    pub send_mode: SendMode,
    /// How many guesses the code takes, as a power of two.
    pub entropy_bits: f64,
    /// E.g. a code below 20 bits of entropy (ASVS 5.0 6.5.4).
    pub warnings: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn view(stored: StoredOtpRule, valid: Option<&ValidOtpRule>) -> OtpRuleView {
    let definition = stored.definition;
    OtpRuleView {
        id: stored.id.to_string(),
        version: stored.version,
        entropy_bits: (definition.otp.entropy_bits() * 10.0).round() / 10.0,
        warnings: valid.map(warnings).unwrap_or_default(),
        name: definition.name,
        module: definition.module,
        active: definition.active,
        trigger: definition.trigger,
        otp: definition.otp,
        channels: definition.channels,
        recipients: definition.recipients,
        locale: definition.locale,
        send_mode: definition.send_mode,
        created_at: stored.created_at,
        updated_at: stored.updated_at,
    }
}

/// A stored rule as the API shows it (rules are validated when saved, so this holds).
fn stored_view(stored: StoredOtpRule) -> OtpRuleView {
    let valid = stored.definition.clone().validate().ok();
    view(stored, valid.as_ref())
}

fn validated(definition: OtpRuleDefinition) -> Result<ValidOtpRule, ApiError> {
    definition.validate().map_err(|errors| {
        ApiError::validation(
            errors.into_iter().map(|(path, message)| FieldError::new(path, message)).collect(),
        )
    })
}

fn parse_id(id: &str) -> Result<Ulid, ApiError> {
    Ulid::from_string(id).map_err(|_| ApiError::not_found("No such OTP rule."))
}

#[utoipa::path(get, path = "/admin/otp-rules", tag = "otp", security(("bearer" = [])),
    responses((status = 200, body = Vec<OtpRuleView>), (status = 403, body = Problem)))]
async fn list_rules(State(state): State<AppState>, staff: Staff) -> Result<Json<Vec<OtpRuleView>>, ApiError> {
    staff.require(Permission::SettingsManage)?;
    Ok(Json(state.store.otp_rules().await?.into_iter().map(stored_view).collect()))
}

#[utoipa::path(post, path = "/admin/otp-rules", tag = "otp", security(("bearer" = [])),
    request_body = OtpRuleDefinition,
    responses((status = 201, body = OtpRuleView), (status = 400, body = Problem, description = "Invalid, with the path of every error (`trigger.changed_to`, `recipients.sms` …)"),
        (status = 403, body = Problem), (status = 409, body = Problem, description = "`too_many_rules`")))]
async fn create_rule(
    State(state): State<AppState>,
    staff: Staff,
    ApiJson(definition): ApiJson<OtpRuleDefinition>,
) -> Result<(StatusCode, Json<OtpRuleView>), ApiError> {
    staff.require_now(&state, Permission::SettingsManage).await?;
    let valid = validated(definition)?;
    if state.store.otp_rules().await?.len() >= MAX_RULES {
        return Err(ApiError::conflict("too_many_rules", format!("At most {MAX_RULES} OTP rules.")));
    }
    let stored = StoredOtpRule::new(valid.definition.clone(), portico::time::now());
    state.store.create_otp_rule(&stored).await?;
    tracing::info!(rule_id = %stored.id, by = %staff.0.sub, "OTP rule created");
    Ok((StatusCode::CREATED, Json(view(stored, Some(&valid)))))
}

#[utoipa::path(get, path = "/admin/otp-rules/{id}", tag = "otp", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = OtpRuleView), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn get_rule(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<OtpRuleView>, ApiError> {
    staff.require(Permission::SettingsManage)?;
    let stored = state
        .store
        .otp_rule(parse_id(&id)?)
        .await?
        .ok_or_else(|| ApiError::not_found("No such OTP rule."))?;
    Ok(Json(stored_view(stored)))
}

/// The body of `PUT /admin/otp-rules/{id}` as documented: the rule's fields and `version`, in
/// one object (the handler takes `version` out before reading the rule, as serde's `flatten`
/// and `deny_unknown_fields` don't mix; an `allOf` would forbid `version` by the rule's
/// closed schema).
struct OtpRuleReplacement;

impl utoipa::PartialSchema for OtpRuleReplacement {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::{Object, Schema, Type};
        let mut schema = <OtpRuleDefinition as utoipa::PartialSchema>::schema();
        if let RefOr::T(Schema::Object(object)) = &mut schema {
            let version = Object::builder()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                // (JSON's safe integers: the handler reads a u64)
                .maximum(Some(9_007_199_254_740_991_u64 as f64))
                .description(Some(
                    "The version read: the replacement holds only if the rule is still at it.",
                ));
            object.properties.insert("version".into(), version.into());
            object.required.push("version".into());
        }
        schema
    }
}

impl utoipa::ToSchema for OtpRuleReplacement {}

#[utoipa::path(put, path = "/admin/otp-rules/{id}", tag = "otp", security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body(content = OtpRuleReplacement, description = "The whole rule, plus `version`: the version read"),
    responses((status = 200, body = OtpRuleView), (status = 400, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 412, body = Problem, description = "`version_mismatch`: the rule changed since it was read")))]
async fn replace_rule(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
    ApiJson(replacement): ApiJson<serde_json::Value>,
) -> Result<Json<OtpRuleView>, ApiError> {
    staff.require_now(&state, Permission::SettingsManage).await?;
    let id = parse_id(&id)?;
    // `flatten` and `deny_unknown_fields` don't mix in serde: the version is taken out first.
    let mut body = replacement;
    let version = body
        .as_object_mut()
        .and_then(|object| object.remove("version"))
        .and_then(|version| version.as_u64())
        .ok_or_else(|| ApiError::invalid_field("version", "is required: the version you read"))?;
    let definition: OtpRuleDefinition = serde_json::from_value(body)
        .map_err(|error| ApiError::bad_request("invalid_rule", format!("The rule is malformed: {error}.")))?;
    let valid = validated(definition)?;
    let current = state.store.otp_rule(id).await?.ok_or_else(|| ApiError::not_found("No such OTP rule."))?;
    if version == u64::MAX {
        return Err(ApiError::invalid_field("version", "is not a version"));
    }
    let stored = current.replaced(version, valid.definition.clone(), portico::time::now());
    if !state.store.replace_otp_rule(&stored).await? {
        return Err(match state.store.otp_rule(id).await? {
            None => ApiError::not_found("No such OTP rule."),
            Some(now) => ApiError::version_mismatch(format!(
                "The rule is at version {}; read it again and retry.",
                now.version
            )),
        });
    }
    tracing::info!(rule_id = %id, by = %staff.0.sub, "OTP rule replaced");
    Ok(Json(view(stored, Some(&valid))))
}

#[utoipa::path(delete, path = "/admin/otp-rules/{id}", tag = "otp", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
async fn delete_rule(
    State(state): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    staff.require_now(&state, Permission::SettingsManage).await?;
    let id = parse_id(&id)?;
    if !state.store.delete_otp_rule(id).await? {
        return Err(ApiError::not_found("No such OTP rule."));
    }
    tracing::info!(rule_id = %id, by = %staff.0.sub, "OTP rule deleted");
    Ok(StatusCode::NO_CONTENT)
}
