//! Workflow rules (SPEC §5, seed 003): when a record of a module is created, edited or deleted
//! and the rule's criteria hold, its actions run in order — an e-mail alert, a new task, a field
//! update of the record. Pure: rules are validated here and decide here whether an event fires
//! them; running the actions is the stream consumer's (`functions/workflows`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use ulid::Ulid;
use utoipa::ToSchema;

use crate::criteria::{
    self, Criteria, EvalContext, Explanation, FieldSchema, ValidatedCriteria, ValidationContext, Value,
};
use crate::domain::BuiltinRole;
use crate::domain::contact::Email;
use crate::domain::contact_fields::{ContactField, ModuleSchema};
use crate::domain::lifecycle::{MoveFrom, Stage};
use crate::domain::modules::{self, Module, Origin, parse_field};
use crate::domain::permission::check_role_id;
use crate::error::FieldError;
use crate::records::template::Template;

pub const MAX_NAME_CHARS: usize = 120;
pub const MAX_ACTIONS: usize = 10;
pub const MAX_RECIPIENTS: usize = 20;
pub const MAX_TEMPLATE_CHARS: usize = 5_000;
pub const MAX_DUE_DAYS: u32 = 3_650;
/// A rule's field update is an event too; rules stop firing on events this many updates deep,
/// so two rules that update each other's fields end.
pub const MAX_CHAIN_DEPTH: u32 = 3;

/// Which record events a rule answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TriggerEvent {
    Created,
    Edited,
    CreatedOrEdited,
    Deleted,
    /// Time passed: a customer at one of `stages` with no activity for `days` (contacts rules
    /// only; the scheduled `housekeeping` judges them). Fires once for every full `days`
    /// without activity.
    Inactive,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowTrigger {
    pub event: TriggerEvent,
    /// For edits: fire only when one of these fields changed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// For `inactive`: days without activity (a record event on the customer's contact or its
    /// related records by a person, or a sign-in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    /// For `inactive`: the lifecycle stages of the customers it looks at.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<Stage>,
}

/// Who an e-mail alert goes to: any of fixed addresses, the record's owner, every active staff
/// member of some roles.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recipients {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub owner: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// Field name → value, `null` clearing the field: what a field update writes. A named schema,
/// so client generators give it one type.
#[derive(ToSchema)]
#[expect(dead_code, reason = "documents the shape of `WorkflowAction::FieldUpdate`'s fields")]
pub struct FieldValues(Map<String, Json>);

/// One step of a rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum WorkflowAction {
    /// A mail through SES; `subject` and `body` may name fields of the record as `{{field}}`.
    EmailAlert { to: Recipients, subject: String, body: String },
    /// A new `tasks` record for `assignee` (`owner`: the record's owner, or a staff id), due
    /// `due_in_days` after the event; tied to the record's contact when it has one.
    CreateTask {
        assignee: String,
        subject: String,
        #[serde(default)]
        due_in_days: u32,
    },
    /// Sets fields of the triggering record (`null` clears one).
    FieldUpdate {
        #[schema(value_type = FieldValues)]
        fields: Map<String, Json>,
    },
    /// POSTs the event as JSON to `url` (https), signed with the rule's secret
    /// (`Webhook-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`).
    Webhook { url: String },
    /// Sends the event (as a webhook's payload) to custom logic outside Portico — a Lambda
    /// function (its ARN must be one the stack allows) or an HTTPS endpoint (signed like a
    /// webhook) — and waits `timeout_ms` for its answer; with `update`, the answer's
    /// `{"update": {field: value}}` is applied to the record like a field update.
    Function {
        target: FunctionTarget,
        #[serde(default = "default_function_timeout_ms")]
        timeout_ms: u32,
        #[serde(default)]
        update: bool,
    },
    /// Moves the customer linked to the record's contact to `stage`: from the stages in
    /// `from`, or — without — forward only (in an `inactive` rule: from the trigger's stages).
    Lifecycle {
        stage: Stage,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        from: Vec<Stage>,
    },
}

/// Where a function action sends the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum FunctionTarget {
    /// `arn:aws:lambda:<region>:<account>:function:<name>[:<alias or version>]`, invoked
    /// request/response.
    LambdaArn(String),
    /// An `https` endpoint, POSTed to.
    Url(String),
}

/// Longest a function action waits for its answer.
pub const MAX_FUNCTION_TIMEOUT_MS: u32 = 10_000;

fn default_function_timeout_ms() -> u32 {
    3_000
}

/// Where actions may reach out to: webhooks' and functions' URLs (local hosts only on the
/// local stack), and the Lambda functions the stack grants invoking.
#[derive(Debug, Clone, Copy, Default)]
pub struct ActionTargets<'a> {
    pub allow_local: bool,
    pub lambda_arns: &'a [String],
}

impl WorkflowAction {
    pub fn kind(&self) -> &'static str {
        match self {
            Self::EmailAlert { .. } => "email_alert",
            Self::CreateTask { .. } => "create_task",
            Self::FieldUpdate { .. } => "field_update",
            Self::Webhook { .. } => "webhook",
            Self::Function { .. } => "function",
            Self::Lifecycle { .. } => "lifecycle",
        }
    }
}

/// A workflow rule as admins write it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkflowRuleDefinition {
    #[schema(min_length = 1, max_length = 120, pattern = "\\S")]
    pub name: String,
    pub module: String,
    #[serde(default = "active_by_default")]
    pub active: bool,
    pub trigger: WorkflowTrigger,
    /// In the criteria language, with `changed`, `changed_to` and `$old.<field>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub criteria: Option<Criteria>,
    /// Run in order; at least one (a rule takes effect only through its actions).
    pub actions: Vec<WorkflowAction>,
}

fn active_by_default() -> bool {
    true
}

/// A parsed action, ready to run.
#[derive(Debug, Clone)]
pub enum ValidAction {
    EmailAlert { addresses: Vec<Email>, owner: bool, roles: Vec<String>, subject: Template, body: Template },
    CreateTask { assignee: Assignee, subject: Template, due_in_days: u32 },
    FieldUpdate { values: BTreeMap<String, Value> },
    Webhook { url: url::Url },
    Function { target: ValidTarget, timeout: std::time::Duration, update: bool },
    Lifecycle { stage: Stage, from: MoveFrom },
}

/// A function action's checked target.
#[derive(Debug, Clone)]
pub enum ValidTarget {
    Lambda(String),
    Url(url::Url),
}

/// Who a created task is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assignee {
    Owner,
    Staff(Ulid),
}

/// A rule that passed validation.
#[derive(Debug, Clone)]
pub struct ValidWorkflowRule {
    pub definition: WorkflowRuleDefinition,
    pub module: &'static Module,
    criteria: Option<ValidatedCriteria>,
    pub actions: Vec<ValidAction>,
}

/// A record event as a rule sees it.
#[derive(Debug, Clone, Copy)]
pub struct RecordEvent<'a> {
    pub kind: EventKind,
    /// The image after the change (`None` for a deletion).
    pub new: Option<&'a BTreeMap<String, Value>>,
    /// The image before it (`None` for a creation).
    pub old: Option<&'a BTreeMap<String, Value>>,
    /// Through what the change came: a rule's own update never fires it again.
    pub origin: &'a Origin,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Created,
    Edited,
    Deleted,
    /// A customer's inactivity (time rules).
    Inactive,
}

impl EventKind {
    /// As the API and stored runs and audit entries name it (the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Edited => "edited",
            Self::Deleted => "deleted",
            Self::Inactive => "inactive",
        }
    }
}

/// Whether an event fires a rule, and why not when it does not.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Firing {
    pub fires: bool,
    /// Why not, when the criteria were not the reason (`inactive`, `other_event`,
    /// `fields_unchanged`, `own_update`, `chain_too_deep`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<&'static str>,
    /// The criteria's evaluation, leaf by leaf.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub explanation: Option<Explanation>,
}

/// The rule and chain depth a workflow origin carries (`workflow:<rule>/<depth>`).
pub fn workflow_origin(origin: &Origin) -> Option<(&str, u32)> {
    match origin {
        Origin::Workflow(text) => match text.split_once('/') {
            Some((rule, depth)) => Some((rule, depth.parse().unwrap_or(MAX_CHAIN_DEPTH))),
            None => Some((text.as_str(), 1)),
        },
        _ => None,
    }
}

/// The origin of a write rule `rule` makes on an event of `origin`: one level deeper.
pub fn origin_of_update(rule: Ulid, origin: &Origin) -> Origin {
    let depth = workflow_origin(origin).map_or(0, |(_, depth)| depth);
    Origin::Workflow(format!("{rule}/{}", depth + 1))
}

impl ValidWorkflowRule {
    /// Whether `event` fires rule `id` (this rule), explained (the admin's dry run).
    pub fn fires(&self, id: Ulid, event: &RecordEvent<'_>) -> Firing {
        self.judge(id, event, true)
    }

    /// Whether `event` fires rule `id`, without building the explanation (the stream consumer:
    /// an explanation allocates a tree per rule and record).
    pub fn fires_quickly(&self, id: Ulid, event: &RecordEvent<'_>) -> bool {
        self.judge(id, event, false).fires
    }

    fn judge(&self, id: Ulid, event: &RecordEvent<'_>, explain: bool) -> Firing {
        let skipped = |reason| Firing { fires: false, skipped: Some(reason), explanation: None };
        if !self.definition.active {
            return skipped("inactive");
        }
        let trigger = &self.definition.trigger;
        let answers = matches!(
            (trigger.event, event.kind),
            (TriggerEvent::Created | TriggerEvent::CreatedOrEdited, EventKind::Created)
                | (TriggerEvent::Edited | TriggerEvent::CreatedOrEdited, EventKind::Edited)
                | (TriggerEvent::Deleted, EventKind::Deleted)
                | (TriggerEvent::Inactive, EventKind::Inactive)
        );
        if !answers {
            return skipped("other_event");
        }
        if let Some((rule, depth)) = workflow_origin(event.origin) {
            if rule.split('/').next() == Some(id.to_string().as_str()) {
                return skipped("own_update");
            }
            if depth >= MAX_CHAIN_DEPTH {
                return skipped("chain_too_deep");
            }
        }
        let empty = BTreeMap::new();
        let (new, old) = (event.new.unwrap_or(&empty), event.old.unwrap_or(&empty));
        if event.kind == EventKind::Edited
            && !trigger.fields.is_empty()
            && !trigger.fields.iter().any(|field| new.get(field) != old.get(field))
        {
            return skipped("fields_unchanged");
        }
        // A deletion is judged by the record as it was.
        let (record, previous) = if event.kind == EventKind::Deleted { (old, old) } else { (new, old) };
        let Some(criteria) = &self.criteria else {
            return Firing { fires: true, skipped: None, explanation: None };
        };
        let mut context = EvalContext::new(record, event.at);
        if event.old.is_some() {
            context = context.with_old(previous);
        }
        if !explain {
            return Firing {
                fires: criteria.compiled().evaluate(&context),
                skipped: None,
                explanation: None,
            };
        }
        let explanation = criteria.compiled().explain(&context);
        Firing { fires: explanation.held(), skipped: None, explanation: Some(explanation) }
    }
}

impl WorkflowRuleDefinition {
    /// Checks the rule against its module's fields (for contacts with every custom field of
    /// `custom`; masked ones may not be rendered into mail), collecting every error with its
    /// path.
    ///
    /// Webhooks and functions go to `https` URLs of public hosts (unless `targets` allows local
    /// ones: the local stack) or to the Lambda functions `targets` names.
    pub fn validate(
        self,
        custom: &[ContactField],
        targets: ActionTargets<'_>,
    ) -> Result<ValidWorkflowRule, Vec<FieldError>> {
        let allow_local = targets.allow_local;
        let mut errors = Vec::new();
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
            errors.push(FieldError::new("name", format!("must be 1 to {MAX_NAME_CHARS} characters")));
        }
        let Some(module) = modules::module(&self.module) else {
            errors.push(FieldError::new("module", "is not a module"));
            return Err(errors);
        };
        let custom = if module.name == "contacts" { custom } else { &[] };
        let schema = ModuleSchema::for_staff(module, custom, &[], true);
        let masked = |name: &str| custom.iter().any(|field| field.masked && field.name == name);
        for (index, field) in self.trigger.fields.iter().enumerate() {
            if schema.field_type(field).is_none() {
                errors.push(FieldError::new(
                    format!("trigger.fields[{index}]"),
                    format!("is not a field of {}", module.name),
                ));
            }
        }
        if !self.trigger.fields.is_empty()
            && self.trigger.event != TriggerEvent::Edited
            && self.trigger.event != TriggerEvent::CreatedOrEdited
        {
            errors.push(FieldError::new("trigger.fields", "applies to edits only"));
        }
        let inactive = self.trigger.event == TriggerEvent::Inactive;
        if inactive {
            if module.name != "contacts" {
                errors.push(FieldError::new(
                    "module",
                    "must be contacts for an inactive trigger: it looks at customers' contacts",
                ));
            }
            if !self.trigger.days.is_some_and(|days| (1..=MAX_DUE_DAYS).contains(&days)) {
                errors.push(FieldError::new("trigger.days", format!("must be 1 to {MAX_DUE_DAYS}")));
            }
            if self.trigger.stages.is_empty() {
                errors.push(FieldError::new("trigger.stages", "must name at least one lifecycle stage"));
            }
        } else {
            if self.trigger.days.is_some() {
                errors.push(FieldError::new("trigger.days", "applies to the inactive trigger only"));
            }
            if !self.trigger.stages.is_empty() {
                errors.push(FieldError::new("trigger.stages", "applies to the inactive trigger only"));
            }
        }
        let criteria = self.criteria.as_ref().and_then(|criteria| {
            criteria::validate(criteria, &schema, &ValidationContext::trigger())
                .map_err(|criteria_errors| {
                    errors.extend(criteria_errors.into_iter().map(|error| {
                        let separator = if error.path.is_empty() { "" } else { "." };
                        FieldError::new(format!("criteria{separator}{}", error.path), error.kind.to_string())
                    }));
                })
                .ok()
        });
        if self.actions.is_empty() || self.actions.len() > MAX_ACTIONS {
            errors.push(FieldError::new(
                "actions",
                format!("must hold 1 to {MAX_ACTIONS} actions: a rule takes effect only through them"),
            ));
        }
        let mut actions = Vec::new();
        for (index, action) in self.actions.iter().enumerate() {
            let path = |field: &str| format!("actions[{index}].{field}");
            let mut template = |field: &str, text: &str| -> Option<Template> {
                if text.chars().count() > MAX_TEMPLATE_CHARS {
                    errors.push(FieldError::new(
                        path(field),
                        format!("must be at most {MAX_TEMPLATE_CHARS} characters"),
                    ));
                    return None;
                }
                match Template::parse(text) {
                    Err(message) => {
                        errors.push(FieldError::new(path(field), message));
                        None
                    }
                    Ok(parsed) => {
                        for name in parsed.names() {
                            if schema.field_type(name).is_none() {
                                errors.push(FieldError::new(
                                    path(field),
                                    format!("names {{{{{name}}}}}, not a field of {}", module.name),
                                ));
                            } else if masked(name) {
                                errors.push(FieldError::new(
                                    path(field),
                                    format!(
                                        "names the masked field {name}: masked values never leave Portico"
                                    ),
                                ));
                            }
                        }
                        Some(parsed)
                    }
                }
            };
            match action {
                WorkflowAction::EmailAlert { to, subject, body } => {
                    let (subject, body) = (template("subject", subject), template("body", body));
                    let mut addresses = Vec::new();
                    for (at, address) in to.addresses.iter().enumerate() {
                        match Email::parse(address) {
                            Ok(email) => addresses.push(email),
                            Err(error) => errors.push(FieldError::new(
                                path(&format!("to.addresses[{at}]")),
                                error.to_string(),
                            )),
                        }
                    }
                    for (at, role) in to.roles.iter().enumerate() {
                        if BuiltinRole::from_id(role).is_none() && check_role_id(role).is_err() {
                            errors
                                .push(FieldError::new(path(&format!("to.roles[{at}]")), "is not a role id"));
                        }
                    }
                    let count = to.addresses.len() + to.roles.len() + usize::from(to.owner);
                    if count == 0 || to.addresses.len() > MAX_RECIPIENTS || to.roles.len() > MAX_RECIPIENTS {
                        errors.push(FieldError::new(
                            path("to"),
                            format!("must name 1 to {MAX_RECIPIENTS} addresses or roles, or the owner"),
                        ));
                    }
                    if let (Some(subject), Some(body)) = (subject, body) {
                        actions.push(ValidAction::EmailAlert {
                            addresses,
                            owner: to.owner,
                            roles: to.roles.clone(),
                            subject,
                            body,
                        });
                    }
                }
                WorkflowAction::CreateTask { assignee, subject, due_in_days } => {
                    let subject = template("subject", subject);
                    let assignee = match assignee.as_str() {
                        "owner" => Some(Assignee::Owner),
                        id => Ulid::from_string(id).ok().map(Assignee::Staff),
                    };
                    if assignee.is_none() {
                        errors
                            .push(FieldError::new(path("assignee"), "must be `owner` or a staff user's id"));
                    }
                    if *due_in_days > MAX_DUE_DAYS {
                        errors.push(FieldError::new(
                            path("due_in_days"),
                            format!("must be 0 to {MAX_DUE_DAYS}"),
                        ));
                    }
                    if let (Some(assignee), Some(subject)) = (assignee, subject) {
                        actions.push(ValidAction::CreateTask {
                            assignee,
                            subject,
                            due_in_days: *due_in_days,
                        });
                    }
                }
                WorkflowAction::FieldUpdate { fields } => {
                    if self.trigger.event == TriggerEvent::Deleted {
                        errors
                            .push(FieldError::new(path("type"), "a deleted record has no fields to update"));
                    }
                    if fields.is_empty() {
                        errors.push(FieldError::new(path("fields"), "must name at least one field"));
                    }
                    let values =
                        parse_update(module, &schema, fields, |_| false).unwrap_or_else(|field_errors| {
                            errors.extend(field_errors.into_iter().map(|(field, message)| {
                                FieldError::new(path(&format!("fields.{field}")), message)
                            }));
                            BTreeMap::new()
                        });
                    actions.push(ValidAction::FieldUpdate { values });
                }
                WorkflowAction::Webhook { url } => match webhook_url(url, allow_local) {
                    Ok(url) => actions.push(ValidAction::Webhook { url }),
                    Err(message) => errors.push(FieldError::new(path("url"), message)),
                },
                WorkflowAction::Function { target, timeout_ms, update } => {
                    if !(1..=MAX_FUNCTION_TIMEOUT_MS).contains(timeout_ms) {
                        errors.push(FieldError::new(
                            path("timeout_ms"),
                            format!("must be 1 to {MAX_FUNCTION_TIMEOUT_MS}"),
                        ));
                    }
                    if *update && self.trigger.event == TriggerEvent::Deleted {
                        errors.push(FieldError::new(
                            path("update"),
                            "a deleted record has no fields to update",
                        ));
                    }
                    let target = match target {
                        FunctionTarget::Url(url) => webhook_url(url, allow_local)
                            .map(ValidTarget::Url)
                            .map_err(|message| errors.push(FieldError::new(path("target.url"), message)))
                            .ok(),
                        FunctionTarget::LambdaArn(arn) => lambda_arn(arn, targets.lambda_arns)
                            .map(ValidTarget::Lambda)
                            .map_err(|message| {
                                errors.push(FieldError::new(path("target.lambda_arn"), message))
                            })
                            .ok(),
                    };
                    if let Some(target) = target {
                        actions.push(ValidAction::Function {
                            target,
                            timeout: std::time::Duration::from_millis(u64::from(*timeout_ms)),
                            update: *update,
                        });
                    }
                }
                WorkflowAction::Lifecycle { stage, from } => {
                    if module.name != "contacts" && !module.has_contact() {
                        errors.push(FieldError::new(
                            path("type"),
                            format!("{} records have no contact, so no customer to move", module.name),
                        ));
                    }
                    let from = if from.is_empty() && inactive { &self.trigger.stages } else { from };
                    if from.iter().all(|from| from == stage) && !from.is_empty() {
                        errors.push(FieldError::new(path("from"), "must name a stage other than the target"));
                    }
                    actions
                        .push(ValidAction::Lifecycle { stage: *stage, from: MoveFrom::rule(*stage, from) });
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ValidWorkflowRule { definition: self, module, criteria, actions })
    }
}

/// The values of a field update (an action's, or a function's answer), each parsed by its
/// field's type; `refused` fields (masked ones a function never saw) are refused like unknown
/// ones. Errors name the field.
pub fn parse_update(
    module: &Module,
    schema: &ModuleSchema<'_>,
    fields: &Map<String, Json>,
    refused: impl Fn(&str) -> bool,
) -> Result<BTreeMap<String, Value>, Vec<(String, String)>> {
    let mut values = BTreeMap::new();
    let mut errors = Vec::new();
    for (field, json) in fields {
        match schema.field_type(field) {
            None => errors.push((field.clone(), format!("is not a field of {}", module.name))),
            Some(_) if refused(field) => errors.push((
                field.clone(),
                "is masked: it never left Portico, so it is not set from outside".to_owned(),
            )),
            Some(field_type) => match parse_field(field_type, json) {
                Ok(value) => {
                    values.insert(field.clone(), value);
                }
                Err(message) => errors.push((field.clone(), message)),
            },
        }
    }
    if errors.is_empty() { Ok(values) } else { Err(errors) }
}

/// A Lambda function's ARN, if the stack lets Portico invoke it (`lambda:InvokeFunction` is
/// granted on those ARNs only, so any other would fail at every event).
pub fn lambda_arn(text: &str, allowed: &[String]) -> Result<String, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let well_formed = matches!(parts.as_slice(), ["arn", partition, "lambda", region, account, "function", name, ..]
        if partition.starts_with("aws") && !region.is_empty() && account.len() == 12
            && account.chars().all(|c| c.is_ascii_digit()) && !name.is_empty())
        && parts.len() <= 8;
    if !well_formed {
        return Err(
            "must be a Lambda function ARN (arn:aws:lambda:<region>:<account>:function:<name>)".into()
        );
    }
    if !allowed.iter().any(|arn| arn == text) {
        return Err("is not among the functions the stack allows (parameter FunctionActionArns)".into());
    }
    Ok(text.to_owned())
}

/// Longest webhook URL accepted.
const MAX_URL_CHARS: usize = 2_000;

/// A webhook's target: `https` (or, locally, `http`), a host, no credentials, and — outside the
/// local stack — no loopback, private or link-local address written as the host (the metadata
/// service and the VPC are not for rules to reach). Names resolving to such addresses are not
/// caught here.
pub fn webhook_url(text: &str, allow_local: bool) -> Result<url::Url, String> {
    if text.chars().count() > MAX_URL_CHARS {
        return Err(format!("must be at most {MAX_URL_CHARS} characters"));
    }
    let url = url::Url::parse(text).map_err(|error| format!("is not a URL: {error}"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_local => {}
        _ => return Err("must be an https URL".into()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials (the signature authenticates Portico)".into());
    }
    let local = match url.host() {
        None => return Err("must name a host".into()),
        Some(url::Host::Domain(domain)) => domain == "localhost" || domain.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => !is_public(std::net::IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => !is_public(std::net::IpAddr::V6(ip)),
    };
    if local && !allow_local {
        return Err("must name a public host".into());
    }
    Ok(url)
}

/// Whether `ip` is a public unicast address: not loopback, private, shared (100.64/10),
/// link-local (the metadata service), unspecified, broadcast, multicast or `0/8`;
/// IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
pub fn is_public(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(ip) => {
            let [first, second, ..] = ip.octets();
            !(ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.is_multicast()
                || first == 0
                || (first == 100 && (64..128).contains(&second)))
        }
        std::net::IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(mapped) => is_public(std::net::IpAddr::V4(mapped)),
            None => {
                let first = ip.segments()[0];
                !(ip.is_loopback()
                    || ip.is_unspecified()
                    || ip.is_multicast()
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80)
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rule(json: Json) -> ValidWorkflowRule {
        serde_json::from_value::<WorkflowRuleDefinition>(json)
            .expect("form")
            .validate(&[], ActionTargets::default())
            .expect("valid")
    }

    fn big_deal() -> ValidWorkflowRule {
        rule(json!({"name": "Big deal alert", "module": "deals", "trigger": {"event": "created_or_edited"},
            "criteria": {"all": [{"field": "amount", "op": "gt", "value": 50000}, {"field": "probability", "op": "gte", "value": 80}]},
            "actions": [{"type": "email_alert", "to": {"roles": ["sales_manager"]}, "subject": "Big deal: {{name}}", "body": "{{amount}}"}]}))
    }

    fn fields(json: Json) -> BTreeMap<String, Value> {
        let deals = modules::module("deals").expect("deals");
        modules::parse_fields(&deals.fields, "deals", json.as_object().expect("object")).expect("fields")
    }

    fn event<'a>(
        kind: EventKind,
        new: Option<&'a BTreeMap<String, Value>>,
        old: Option<&'a BTreeMap<String, Value>>,
        origin: &'a Origin,
    ) -> RecordEvent<'a> {
        RecordEvent {
            kind,
            new,
            old,
            origin,
            at: chrono::DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default(),
        }
    }

    #[test]
    fn the_seed_s_big_deal_alert_fires_above_both_thresholds() {
        let (id, rule) = (Ulid::nil(), big_deal());
        let big = fields(json!({"amount": 52000, "probability": 85}));
        let small = fields(json!({"amount": 52000, "probability": 20}));
        assert!(rule.fires(id, &event(EventKind::Created, Some(&big), None, &Origin::Api)).fires);
        assert!(rule.fires_quickly(id, &event(EventKind::Created, Some(&big), None, &Origin::Api)));
        assert!(!rule.fires_quickly(id, &event(EventKind::Edited, Some(&small), Some(&big), &Origin::Api)));
        let not = rule.fires(id, &event(EventKind::Edited, Some(&small), Some(&big), &Origin::Api));
        assert!(!not.fires && not.explanation.is_some_and(|explanation| !explanation.held()));
        assert_eq!(
            rule.fires(id, &event(EventKind::Deleted, None, Some(&big), &Origin::Api)).skipped,
            Some("other_event")
        );
    }

    #[test]
    fn edits_of_other_fields_and_a_rule_s_own_updates_do_not_fire_it() {
        let id = Ulid::nil();
        let rule = rule(
            json!({"name": "Stage", "module": "deals", "trigger": {"event": "edited", "fields": ["stage"]},
            "actions": [{"type": "field_update", "fields": {"probability": 50}}]}),
        );
        let (old, new) = (fields(json!({"stage": "Qualification"})), fields(json!({"stage": "Negotiation"})));
        let other = fields(json!({"stage": "Qualification", "amount": 1}));
        assert!(rule.fires(id, &event(EventKind::Edited, Some(&new), Some(&old), &Origin::Api)).fires);
        assert_eq!(
            rule.fires(id, &event(EventKind::Edited, Some(&other), Some(&old), &Origin::Api)).skipped,
            Some("fields_unchanged")
        );
        let own = origin_of_update(id, &Origin::Api);
        assert_eq!(
            rule.fires(id, &event(EventKind::Edited, Some(&new), Some(&old), &own)).skipped,
            Some("own_update")
        );
        // Another rule's update fires it, until the chain is MAX_CHAIN_DEPTH updates deep.
        let mut origin = Origin::Api;
        for depth in 1..=MAX_CHAIN_DEPTH {
            origin = origin_of_update(Ulid::from_parts(1, u128::from(depth)), &origin);
            assert_eq!(workflow_origin(&origin).map(|(_, d)| d), Some(depth));
        }
        assert_eq!(
            rule.fires(id, &event(EventKind::Edited, Some(&new), Some(&old), &origin)).skipped,
            Some("chain_too_deep")
        );
    }

    #[test]
    fn every_mistake_is_named_by_its_path() {
        let errors = serde_json::from_value::<WorkflowRuleDefinition>(json!({"name": " ", "module": "deals",
            "trigger": {"event": "deleted", "fields": ["colour"]},
            "actions": [{"type": "field_update", "fields": {"amount": "lots"}},
                        {"type": "create_task", "assignee": "someone", "subject": "{{", "due_in_days": 9999}]}))
            .expect("form")
            .validate(&[], ActionTargets::default())
            .expect_err("invalid");
        let paths: Vec<&str> = errors.iter().map(|error| error.field.as_str()).collect();
        assert_eq!(
            paths,
            [
                "name",
                "trigger.fields[0]",
                "trigger.fields",
                "actions[0].type",
                "actions[0].fields.amount",
                "actions[1].subject",
                "actions[1].assignee",
                "actions[1].due_in_days"
            ]
        );
    }

    #[test]
    fn stored_names_are_the_serde_names() {
        for kind in [EventKind::Created, EventKind::Edited, EventKind::Deleted] {
            assert_eq!(serde_json::to_value(kind).ok(), Some(json!(kind.as_str())));
        }
        for kind in [crate::domain::AccountKind::Customer, crate::domain::AccountKind::Staff] {
            assert_eq!(serde_json::to_value(kind).ok(), Some(json!(kind.as_str())));
        }
    }

    #[test]
    fn webhooks_go_to_public_https_hosts_outside_the_local_stack() {
        assert!(webhook_url("https://hooks.example.com/portico?x=1", false).is_ok());
        for refused in [
            "http://hooks.example.com/",
            "https://user:pass@hooks.example.com/",
            "https://127.0.0.1/",
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.8/",
            "https://[::1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://[::ffff:10.0.0.1]/",
            "https://100.64.0.1/",
            "https://0.0.0.1/",
            "https://localhost:8443/",
            "ftp://hooks.example.com/",
            "not a url",
        ] {
            assert!(webhook_url(refused, false).is_err(), "{refused}");
        }
        assert!(webhook_url("http://127.0.0.1:9000/hook", true).is_ok());
    }
}
