//! The stream consumer (SPEC §5, seed 003): each batch of the table's DynamoDB stream fires the
//! workflow rules of the changed records' modules and runs their actions in order.
//!
//! Streams deliver at least once, so every effect inside DynamoDB (a task, a field update)
//! commits with a marker keyed by (event id, rule, action) that fails it when it was done
//! before; a mail goes out unless its marker is there, and is marked after (at least once, the
//! same key in its body for receivers to drop repeats). A record that fails for a reason that may
//! pass (a throttled read) is returned in `batchItemFailures` with the records after it
//! unprocessed — a checkpoint: Lambda sends it and the rest of its shard again, in order. An
//! action that fails for good (an OTP rule holds the update back) is recorded in the rule's run
//! history and does not hold the shard.

mod actions;
mod approvals;
pub mod housekeeping;
mod lifecycle;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use lambda_runtime::LambdaEvent;
use portico::AppState;
use portico::criteria::{FieldSchema, Value};
use portico::domain::AccountStatus;
use portico::domain::contact_fields::{ContactField, ModuleSchema};
use portico::domain::modules::{self, CrmRecord, Origin, field_json};
use portico::domain::workflow::{EventKind, MAX_FUNCTION_TIMEOUT_MS, RecordEvent, ValidWorkflowRule};
use portico::store::StoreError;
use portico::store::audit::{AuditEntry, FieldChange, within_budget};
use portico::store::records::decode_record;
use portico::store::workflows::WorkflowRun;
use ulid::Ulid;

/// The active rules and the custom contact fields they were validated against, read once per
/// batch: a rule saved now applies from the next batch on.
pub struct Rules {
    rules: Vec<(Ulid, ValidWorkflowRule)>,
    custom: Vec<ContactField>,
    /// Read at the batch's first alert to a role, then shared by the batch.
    staff: tokio::sync::OnceCell<Vec<portico::domain::Account>>,
    /// The custom roles, read at the batch's first approver mail.
    custom_roles: tokio::sync::OnceCell<Vec<portico::domain::Role>>,
    /// The invocation's deadline: no action that waits on the outside starts near it.
    deadline: Option<std::time::SystemTime>,
    /// The Lambda client of function actions, built at the batch's first.
    lambda: std::sync::OnceLock<aws_sdk_lambda::Client>,
    /// The registration policy, read at the batch's first new customer.
    policy: tokio::sync::OnceCell<portico::domain::RegistrationPolicy>,
    /// The OTP rules guarding writes of each module, read at the batch's first write of it.
    otp_rules: tokio::sync::Mutex<BTreeMap<&'static str, Vec<(Ulid, portico::domain::otp::ValidOtpRule)>>>,
}

impl Rules {
    pub async fn load(state: &AppState) -> Result<Self, StoreError> {
        let (stored, custom) = tokio::try_join!(state.store.workflow_rules(), state.store.contact_fields())?;
        let rules = stored
            .into_iter()
            .filter(|rule| rule.definition.active)
            .filter_map(|rule| {
                let id = rule.id;
                match rule.definition.validate(&custom, state.config.action_targets()) {
                    Ok(valid) => Some((id, valid)),
                    Err(errors) => {
                        tracing::error!(rule_id = %id, ?errors, "a stored workflow rule no longer validates; it does not run");
                        None
                    }
                }
            })
            .collect();
        Ok(Self {
            rules,
            custom,
            staff: tokio::sync::OnceCell::new(),
            custom_roles: tokio::sync::OnceCell::new(),
            policy: tokio::sync::OnceCell::new(),
            lambda: std::sync::OnceLock::new(),
            deadline: None,
            otp_rules: tokio::sync::Mutex::default(),
        })
    }

    /// Every staff account, read once per batch.
    pub async fn staff(&self, state: &AppState) -> Result<&[portico::domain::Account], StoreError> {
        Ok(self.staff.get_or_try_init(|| state.store.staff()).await?.as_slice())
    }

    /// The client function actions invoke Lambda with: no retries (an invocation may have
    /// effects; the event's redelivery is the retry) and the longest action timeout as the
    /// bound (each action waits its own, shorter one). Locally and in tests it talks to a
    /// loopback target (`LAMBDA_ENDPOINT_URL`).
    pub fn lambda(&self, state: &AppState) -> &aws_sdk_lambda::Client {
        self.lambda.get_or_init(|| {
            let bound = std::time::Duration::from_millis(u64::from(MAX_FUNCTION_TIMEOUT_MS) + 1_000);
            let mut config = aws_sdk_lambda::config::Builder::from(&state.sdk)
                .retry_config(aws_sdk_lambda::config::retry::RetryConfig::disabled())
                .timeout_config(
                    aws_sdk_lambda::config::timeout::TimeoutConfig::builder()
                        .connect_timeout(std::time::Duration::from_secs(1))
                        .operation_attempt_timeout(bound)
                        .operation_timeout(bound)
                        .build(),
                );
            if let Some(endpoint) = &state.config.lambda_endpoint_url {
                config = config.endpoint_url(endpoint);
            }
            aws_sdk_lambda::Client::from_conf(config.build())
        })
    }

    /// The same rules, run against `deadline`.
    pub fn until(self, deadline: Option<std::time::SystemTime>) -> Self {
        Self { deadline, ..self }
    }

    /// Whether less than `margin` is left before the invocation's deadline.
    pub fn near_deadline(&self, margin: std::time::Duration) -> bool {
        self.deadline.is_some_and(|deadline| {
            deadline.duration_since(std::time::SystemTime::now()).unwrap_or_default() < margin
        })
    }

    /// The registration policy, read once per batch.
    pub async fn policy(&self, state: &AppState) -> Result<&portico::domain::RegistrationPolicy, StoreError> {
        self.policy.get_or_try_init(|| state.store.registration_policy()).await
    }

    /// The custom roles, read once per batch.
    pub async fn custom_roles(&self, state: &AppState) -> Result<&[portico::domain::Role], StoreError> {
        let roles = self
            .custom_roles
            .get_or_try_init(|| async {
                Ok::<_, StoreError>(
                    state.store.roles().await?.into_iter().map(|stored| stored.role).collect(),
                )
            })
            .await?;
        Ok(roles.as_slice())
    }

    /// The OTP rules guarding writes of `module`, read once per batch.
    pub async fn otp_rules(
        &self,
        state: &AppState,
        module: &'static modules::Module,
    ) -> Result<Vec<(Ulid, portico::domain::otp::ValidOtpRule)>, StoreError> {
        let mut cached = self.otp_rules.lock().await;
        if let Some(rules) = cached.get(module.name) {
            return Ok(rules.clone());
        }
        let rules = portico::records::otp_rules(&state.store, module).await?;
        cached.insert(module.name, rules.clone());
        Ok(rules)
    }
}

/// Time kept back before the invocation's deadline: a record is not started with less left, so
/// the batch answers (with its checkpoint) before Lambda times it out.
const DEADLINE_MARGIN: std::time::Duration = std::time::Duration::from_secs(20);

/// The Lambda handler: one batch of stream records, in shard order.
pub async fn handle(
    state: &AppState,
    event: LambdaEvent<Event>,
) -> Result<DynamoDbEventResponse, lambda_runtime::Error> {
    Ok(handle_batch_until(state, event.payload, Some(event.context.deadline())).await)
}

/// `handle_batch_until` without a deadline (the local poller, tests).
pub async fn handle_batch(state: &AppState, batch: Event) -> DynamoDbEventResponse {
    handle_batch_until(state, batch, None).await
}

/// Processes `batch` and reports the first record that failed (the checkpoint); the records
/// after it are not touched, so one key's changes are never applied out of order. Near the
/// `deadline`, the next record is reported instead of started.
pub async fn handle_batch_until(
    state: &AppState,
    batch: Event,
    deadline: Option<std::time::SystemTime>,
) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    let rules = match Rules::load(state).await {
        Ok(rules) => rules.until(deadline),
        Err(error) => {
            tracing::error!(%error, "workflow rules unreadable; the batch comes again");
            if let Some(first) = batch.records.first() {
                response.batch_item_failures.push(failure(first));
            }
            return response;
        }
    };
    for record in &batch.records {
        let left = deadline
            .map(|deadline| deadline.duration_since(std::time::SystemTime::now()).unwrap_or_default());
        if left.is_some_and(|left| left < DEADLINE_MARGIN) {
            tracing::warn!(event_id = %record.event_id, "near the deadline: the rest of the batch comes again");
            response.batch_item_failures.push(failure(record));
            break;
        }
        // Boxed: the actions' futures nest deep enough to overflow the compiler's layout limit.
        if let Err(error) = Box::pin(process(state, &rules, record)).await {
            tracing::error!(event_id = %record.event_id, %error, "stream record failed; it and the rest of its shard come again");
            response.batch_item_failures.push(failure(record));
            break;
        }
    }
    response
}

fn failure(record: &EventRecord) -> DynamoDbBatchItemFailure {
    let mut failure = DynamoDbBatchItemFailure::default();
    failure.item_identifier = record.change.sequence_number.clone();
    failure
}

/// A stream record's image as the SDK's item type.
fn image(item: &serde_dynamo::Item) -> HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    item.clone().into()
}

/// The `entity` an image names (`None` for no image).
fn entity(image: &serde_dynamo::Item) -> Option<&str> {
    match image.get("entity") {
        Some(serde_dynamo::AttributeValue::S(entity)) => Some(entity.as_str()),
        _ => None,
    }
}

/// The CRM record of an image, with every field (masking is decided where values leave).
fn record_of(
    image: HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    custom: &[ContactField],
) -> Result<Option<CrmRecord>, StoreError> {
    let is_record =
        image.get("entity").and_then(|entity| entity.as_s().ok()).is_some_and(|entity| entity == "record");
    if !is_record {
        return Ok(None);
    }
    let module = image
        .get("module")
        .and_then(|module| module.as_s().ok())
        .and_then(|name| modules::module(name))
        .ok_or(StoreError::Malformed("record module"))?;
    let custom = if module.name == "contacts" { custom } else { &[] };
    let schema = ModuleSchema::for_staff(module, custom, &[], true);
    decode_record(image, &schema).map(Some)
}

/// The audit entry of one change: who, when, through what, and each field that differs.
fn audit_entry(
    record: &EventRecord,
    kind: EventKind,
    new: Option<&CrmRecord>,
    old: Option<&CrmRecord>,
    current: &CrmRecord,
    custom: &[ContactField],
) -> AuditEntry {
    let module = current.module;
    let custom = if module.name == "contacts" { custom } else { &[] };
    let schema = ModuleSchema::for_staff(module, custom, &[], true);
    let empty = BTreeMap::new();
    let (before, after) = (old.map_or(&empty, |old| &old.fields), new.map_or(&empty, |new| &new.fields));
    let json = |field: &str, value: Option<&Value>| match (schema.field_type(field), value) {
        (Some(field_type), Some(value)) => field_json(field_type, value),
        _ => serde_json::Value::Null,
    };
    let fields: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let changes = fields
        .into_iter()
        .filter(|field| before.get(*field) != after.get(*field))
        .map(|field| {
            FieldChange::new(field.clone(), json(field, before.get(field)), json(field, after.get(field)))
        })
        .collect();
    let changes = within_budget(changes);
    AuditEntry {
        module: module.name.to_owned(),
        record_id: current.id.to_string(),
        event: kind.as_str().to_owned(),
        event_id: record.event_id.clone(),
        by: current.updated_by.to_string(),
        origin: current.origin.to_string(),
        at: record.change.approximate_creation_date_time,
        version: current.version,
        changes,
    }
}

/// Fires the rules one stream record's change answers. Other entities pass untouched (the
/// event source's filter keeps most of them away).
async fn process(state: &AppState, rules: &Rules, record: &EventRecord) -> Result<(), StoreError> {
    let kind = match record.event_name.as_str() {
        "INSERT" => EventKind::Created,
        "MODIFY" => EventKind::Edited,
        "REMOVE" => EventKind::Deleted,
        _ => return Ok(()),
    };
    if kind != EventKind::Deleted && entity(&record.change.new_image) == Some("account") {
        let now = portico::store::accounts::decode_account(image(&record.change.new_image))?;
        let before = match entity(&record.change.old_image) {
            Some(_) => Some(portico::store::accounts::decode_account(image(&record.change.old_image))?),
            None => None,
        };
        let started_waiting = now.status == AccountStatus::PendingApproval
            && before.as_ref().is_none_or(|before| before.status != AccountStatus::PendingApproval);
        if started_waiting && now.kind == portico::domain::AccountKind::Customer {
            approvals::notify_approvers(state, rules, &now).await?;
        }
        return lifecycle::on_account(state, rules, &record.event_id, &now, before.as_ref()).await;
    }
    let new = record_of(image(&record.change.new_image), &rules.custom)?;
    let old = record_of(image(&record.change.old_image), &rules.custom)?;
    let Some(current) = new.as_ref().or(old.as_ref()) else { return Ok(()) };
    let entry = audit_entry(record, kind, new.as_ref(), old.as_ref(), current, &rules.custom);
    match state.store.record_audit_entry(&entry).await {
        Ok(()) => {}
        Err(error @ StoreError::Unavailable(_)) => return Err(error),
        // Retrying would fail alike and hold the shard: logged, and the rules still run.
        Err(error) => tracing::error!(event_id = %record.event_id, %error, "the audit entry was not written"),
    }
    if kind == EventKind::Deleted && current.module.name == "contacts" {
        // A deleted contact's form answers go with it.
        state.store.delete_submissions(current.id).await?;
    }
    lifecycle::on_record(state, &record.event_id, new.as_ref(), old.as_ref()).await?;
    // A deletion's image names the last writer, not who deleted: no rule or depth is assumed.
    let deletion = Origin::Other("deletion".into());
    let event = RecordEvent {
        kind,
        new: new.as_ref().map(|record| &record.fields),
        old: old.as_ref().map(|record| &record.fields),
        origin: if kind == EventKind::Deleted { &deletion } else { &current.origin },
        at: record.change.approximate_creation_date_time,
    };
    for (rule_id, rule) in rules.rules.iter().filter(|(_, rule)| rule.module.name == current.module.name) {
        if !rule.fires_quickly(*rule_id, &event) {
            continue;
        }
        tracing::info!(rule_id = %rule_id, event_id = %record.event_id, record_id = %current.id, "workflow rule fired");
        let effect = actions::Effect {
            state,
            rules,
            rule_id: *rule_id,
            rule,
            event_id: &record.event_id,
            event: &event,
            record: current,
            marked_at: chrono::Utc::now(),
        };
        let outcomes = effect.run().await?;
        state
            .store
            .record_workflow_run(&WorkflowRun {
                rule_id: rule_id.to_string(),
                event_id: record.event_id.clone(),
                module: current.module.name.to_owned(),
                record_id: current.id.to_string(),
                event: kind.as_str().to_owned(),
                at: event.at,
                actions: outcomes,
            })
            .await?;
    }
    Ok(())
}
