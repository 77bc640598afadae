//! Running one fired rule's actions on one event, each exactly once per (event, rule, action)
//! inside DynamoDB and at least once outside it.

use std::collections::BTreeMap;
use std::time::Instant;

use portico::AppState;
use portico::criteria::{FieldSchema, Value};
use portico::domain::contact_fields::ModuleSchema;
use portico::domain::lifecycle::{MoveFrom, Stage};
use portico::domain::modules::{self, CrmRecord, field_json};
use portico::domain::workflow::{
    Assignee, EventKind, RecordEvent, ValidAction, ValidTarget, ValidWorkflowRule, origin_of_update,
    parse_update,
};
use portico::domain::{AccountStatus, Email};
use portico::notify::Mail;
use portico::records::template::Template;
use portico::records::{Caller, RecordError, View};
use portico::store::lifecycle::LifecycleMove;
use portico::store::workflows::{ActionOutcome, MARKER};
use portico::store::{StoreError, WriteSet};
use serde_json::{Map, Value as Json};
use ulid::Ulid;

use crate::Rules;

/// One fired rule on one event.
pub struct Effect<'a> {
    pub state: &'a AppState,
    pub rules: &'a Rules,
    pub rule_id: Ulid,
    pub rule: &'a ValidWorkflowRule,
    pub event_id: &'a str,
    pub event: &'a RecordEvent<'a>,
    /// The record as the event left it (as it was, for a deletion).
    pub record: &'a CrmRecord,
    /// When the markers' lives start: now for a stream event; the end of an inactivity period
    /// for a time rule, so its markers outlive the period it fires once in.
    pub marked_at: chrono::DateTime<chrono::Utc>,
}

/// Time an action needs left before the deadline: the longest outside wait (a function's 10 s,
/// a webhook's two tries) and its marker.
const ACTION_MARGIN: std::time::Duration = std::time::Duration::from_secs(15);

/// How an action ended, before it is timed.
enum Ended {
    Done,
    AlreadyDone,
    Skipped(String),
    Failed(String),
}

impl Effect<'_> {
    /// Runs the actions in order. A failure that may pass (DynamoDB or SES unavailable) is
    /// returned, so the event comes again and the markers skip what was done; one that will
    /// not is recorded in the outcome and the next action runs.
    pub async fn run(&self) -> Result<Vec<ActionOutcome>, StoreError> {
        let mut outcomes = Vec::new();
        for (index, action) in self.rule.actions.iter().enumerate() {
            // An action may wait up to 11 s on the outside: none starts with less left, so the
            // invocation answers with its checkpoint instead of being cut off (the markers skip
            // what was done when the event comes again).
            if self.rules.near_deadline(ACTION_MARGIN) {
                return Err(StoreError::Unavailable("the invocation's deadline is near".into()));
            }
            let started = Instant::now();
            let key = format!("{}#{}#{index}", self.event_id, self.rule_id);
            let ended = match action {
                ValidAction::EmailAlert { addresses, owner, roles, subject, body } => {
                    self.email_alert(&key, addresses, *owner, roles, subject, body).await?
                }
                ValidAction::CreateTask { assignee, subject, due_in_days } => {
                    self.create_task(&key, *assignee, subject, *due_in_days).await?
                }
                ValidAction::FieldUpdate { values } => self.field_update(&key, values).await?,
                ValidAction::Webhook { url } => self.webhook(&key, url).await?,
                ValidAction::Function { target, timeout, update } => {
                    self.function(&key, target, *timeout, *update).await?
                }
                ValidAction::Lifecycle { stage, from } => self.lifecycle(&key, *stage, from).await?,
            };
            let (status, detail) = match ended {
                Ended::Done => ("done", None),
                Ended::AlreadyDone => ("already_done", None),
                Ended::Skipped(why) => ("skipped", Some(why)),
                Ended::Failed(why) => ("failed", Some(why)),
            };
            if status == "failed" {
                tracing::warn!(rule_id = %self.rule_id, event_id = self.event_id, index, detail = ?detail, "workflow action failed");
            }
            outcomes.push(ActionOutcome {
                index,
                kind: self.rule.definition.actions[index].kind().to_owned(),
                status: status.to_owned(),
                duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                detail,
            });
        }
        Ok(outcomes)
    }

    /// The record's fields as JSON for templates and webhooks: custom contact fields that are
    /// masked never appear (validation refuses naming them; this keeps them out regardless).
    fn template_values(&self) -> Map<String, Json> {
        self.visible(&self.record.fields)
    }

    fn render(&self, template: &Template) -> String {
        template
            .render(&self.template_values())
            .and_then(|json| json.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    async fn email_alert(
        &self,
        key: &str,
        addresses: &[Email],
        owner: bool,
        roles: &[String],
        subject: &Template,
        body: &Template,
    ) -> Result<Ended, StoreError> {
        let store = &self.state.store;
        if store.effect_done(key).await? {
            return Ok(Ended::AlreadyDone);
        }
        let mut to: Vec<Email> = addresses.to_vec();
        if owner
            && let Some(account) = store.account(self.record.owner_id).await?
            && account.status == AccountStatus::Active
        {
            to.push(account.email);
        }
        if !roles.is_empty() {
            let staff = self.rules.staff(self.state).await?;
            to.extend(
                staff
                    .iter()
                    .filter(|member| member.status == AccountStatus::Active)
                    .filter(|member| member.roles.iter().any(|role| roles.contains(role)))
                    .map(|member| member.email.clone()),
            );
        }
        to.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        to.dedup();
        if to.is_empty() {
            store.mark_effect_done(key, self.marked_at).await?;
            return Ok(Ended::Skipped("no recipient".into()));
        }
        let mail = Mail {
            subject: self.render(subject),
            text: format!(
                "{}\n\n-- \nPortico workflow rule \"{}\" on {} {}. Reference (the same on a repeated mail): {key}\n",
                self.render(body),
                self.rule.definition.name,
                self.record.module.name,
                self.record.id
            ),
        };
        for address in &to {
            self.state
                .notifier
                .send_mail(address, &mail)
                .await
                .map_err(|error| StoreError::Unavailable(format!("alert mail not sent: {error}").into()))?;
        }
        store.mark_effect_done(key, self.marked_at).await?;
        Ok(Ended::Done)
    }

    /// The event as it leaves Portico (webhooks, functions): the record's new and old fields
    /// through the masking view, and the idempotency key `key`.
    fn event_body(&self, key: &str) -> Result<Vec<u8>, StoreError> {
        let old =
            self.event.old.filter(|_| self.event.kind == EventKind::Edited).map(|old| self.visible(old));
        let payload = serde_json::json!({
            "id": key,
            "event_id": self.event_id,
            "event": self.event.kind.as_str(),
            "rule": {"id": self.rule_id.to_string(), "name": self.rule.definition.name},
            "module": self.record.module.name,
            "record": {"id": self.record.id.to_string(), "version": self.record.version, "fields": self.template_values()},
            "old_fields": old,
            "at": self.event.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        });
        serde_json::to_vec(&payload).map_err(|_| StoreError::Malformed("event payload"))
    }

    /// One signed POST of `body` to `url` (`Webhook-Signature` over the time and the body,
    /// `Idempotency-Key: key`), waiting at most `timeout` (the client's 5 s without one).
    async fn post_signed(
        &self,
        url: &url::Url,
        key: &str,
        body: &[u8],
        timeout: Option<std::time::Duration>,
    ) -> Result<reqwest::Response, String> {
        let signature = portico::auth::Keys::webhook_signature(
            &self.state.keys.webhook_secret(self.rule_id),
            chrono::Utc::now().timestamp(),
            body,
        );
        let client = webhook_client(self.state.config.webhooks_allow_local).ok_or("no HTTP client")?;
        let mut request = client
            .post(url.clone())
            .header("content-type", "application/json")
            .header("webhook-signature", signature.as_str())
            .header("idempotency-key", key)
            .body(body.to_vec());
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        request.send().await.map_err(|error| format!("not delivered: {}", without_url(&error)))
    }

    /// POSTs the event, signed, to `url`, unless its marker says it went out before.
    async fn webhook(&self, key: &str, url: &url::Url) -> Result<Ended, StoreError> {
        let store = &self.state.store;
        if store.effect_done(key).await? {
            return Ok(Ended::AlreadyDone);
        }
        let body = self.event_body(key)?;
        // A receiver that is down, slow or busy gets a second try a second later; then the
        // action fails in the run history without holding the stream (the marker stays unset,
        // so a redelivered event tries again).
        let mut outcome = String::new();
        for attempt in 0..2 {
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            match self.post_signed(url, key, &body, None).await {
                Ok(response) if response.status().is_success() => {
                    store.mark_effect_done(key, self.marked_at).await?;
                    return Ok(Ended::Done);
                }
                Ok(response) if retry_worthy(response.status()) => {
                    outcome = format!("the receiver answered {}", response.status());
                }
                Ok(response) => {
                    store.mark_effect_done(key, self.marked_at).await?;
                    return Ok(Ended::Failed(format!("the receiver refused it: {}", response.status())));
                }
                Err(why) => outcome = why,
            }
        }
        Ok(Ended::Failed(outcome))
    }

    /// Sends the event to a function (a Lambda or an HTTPS endpoint) and, with `update`,
    /// applies the field changes its answer asks for, exactly once (the update commits with
    /// the marker). A function that fails, is slow or answers nonsense fails this action only;
    /// its marker stays unset, so a redelivered event asks again.
    async fn function(
        &self,
        key: &str,
        target: &ValidTarget,
        timeout: std::time::Duration,
        update: bool,
    ) -> Result<Ended, StoreError> {
        let store = &self.state.store;
        if store.effect_done(key).await? {
            return Ok(Ended::AlreadyDone);
        }
        let body = self.event_body(key)?;
        let answer = match target {
            ValidTarget::Lambda(arn) => self.invoke_lambda(arn, body, timeout).await,
            ValidTarget::Url(url) => match self.post_signed(url, key, &body, Some(timeout)).await {
                Ok(response) if response.status().is_success() => read_answer(response).await,
                Ok(response) => Err(format!("the endpoint answered {}", response.status())),
                Err(why) => Err(why),
            },
        };
        let answer = match answer {
            Ok(answer) => answer,
            Err(why) => return Ok(Ended::Failed(why)),
        };
        if !update {
            store.mark_effect_done(key, self.marked_at).await?;
            return Ok(Ended::Done);
        }
        let values = match self.requested_update(&answer) {
            Ok(values) => values,
            Err(why) => return Ok(Ended::Failed(format!("the answer's update was refused: {why}"))),
        };
        if values.is_empty() {
            store.mark_effect_done(key, self.marked_at).await?;
            return Ok(Ended::Skipped("the function asked for no change".into()));
        }
        self.field_update(key, &values).await
    }

    /// Invokes Lambda function `arn` (request/response) with `body`, waiting at most `timeout`.
    async fn invoke_lambda(
        &self,
        arn: &str,
        body: Vec<u8>,
        timeout: std::time::Duration,
    ) -> Result<Vec<u8>, String> {
        let call = self
            .rules
            .lambda(self.state)
            .invoke()
            .function_name(arn)
            .invocation_type(aws_sdk_lambda::types::InvocationType::RequestResponse)
            .payload(aws_sdk_lambda::primitives::Blob::new(body))
            .send();
        let output = match tokio::time::timeout(timeout, call).await {
            Err(_) => return Err(format!("no answer within {} ms", timeout.as_millis())),
            Ok(Err(error)) => {
                use aws_sdk_lambda::error::ProvideErrorMetadata;
                return Err(format!(
                    "the invocation failed: {}",
                    error.code().unwrap_or("Lambda unreachable")
                ));
            }
            Ok(Ok(output)) => output,
        };
        if let Some(error) = output.function_error() {
            return Err(format!("the function failed ({error})"));
        }
        let answer = output.payload.map(aws_sdk_lambda::primitives::Blob::into_inner).unwrap_or_default();
        if answer.len() > MAX_ANSWER_BYTES {
            return Err(format!("the answer is over {MAX_ANSWER_BYTES} bytes"));
        }
        Ok(answer)
    }

    /// The field values a function's answer asks for (`{"update": {field: value}}`; no
    /// `update`: none), each checked against the module's fields. Masked fields never left
    /// Portico, so an answer may not set them.
    fn requested_update(&self, answer: &[u8]) -> Result<BTreeMap<String, Value>, String> {
        let answer: Json = serde_json::from_slice(answer).map_err(|_| "the answer is not JSON".to_owned())?;
        let fields = match answer.get("update") {
            None | Some(Json::Null) => return Ok(BTreeMap::new()),
            Some(Json::Object(fields)) => fields,
            Some(_) => return Err("`update` must be an object of fields".into()),
        };
        let module = self.record.module;
        let custom = if module.name == "contacts" { self.rules.custom.as_slice() } else { &[] };
        let schema = ModuleSchema::for_staff(module, custom, &[], true);
        let masked = |name: &str| schema.custom_field(name).is_some_and(|field| field.masked);
        parse_update(module, &schema, fields, masked).map_err(|errors| {
            errors
                .into_iter()
                .map(|(field, message)| format!("{field} {message}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    /// `fields` as JSON without masked contact fields (what may leave Portico).
    fn visible(&self, fields: &BTreeMap<String, Value>) -> Map<String, Json> {
        let module = self.record.module;
        let custom = if module.name == "contacts" { self.rules.custom.as_slice() } else { &[] };
        let schema = ModuleSchema::for_staff(module, custom, &[], true);
        fields
            .iter()
            .filter(|(name, _)| !schema.custom_field(name).is_some_and(|field| field.masked))
            .filter_map(|(name, value)| Some((name.clone(), field_json(schema.field_type(name)?, value))))
            .collect()
    }

    fn caller(&self) -> Caller {
        Caller::system(origin_of_update(self.rule_id, self.event.origin))
    }

    fn marker(&self, key: &str) -> Result<WriteSet, StoreError> {
        Ok(WriteSet::new().with(MARKER, self.state.store.effect_marker(key, self.marked_at)?))
    }

    async fn create_task(
        &self,
        key: &str,
        assignee: Assignee,
        subject: &Template,
        due_in_days: u32,
    ) -> Result<Ended, StoreError> {
        let tasks = modules::module("tasks").ok_or(StoreError::Malformed("tasks module"))?;
        let caller = self.caller();
        let view =
            View::new(&caller, tasks, &[]).with_otp_rules(self.rules.otp_rules(self.state, tasks).await?);
        let subject: String = self.render(subject).chars().take(modules::MAX_TEXT_CHARS).collect();
        let due = (self.event.at + chrono::Duration::days(i64::from(due_in_days)))
            .date_naive()
            .and_time(chrono::NaiveTime::MIN)
            .and_utc();
        let mut values = BTreeMap::from([
            (
                "subject".to_owned(),
                Value::String(if subject.trim().is_empty() {
                    self.rule.definition.name.clone()
                } else {
                    subject
                }),
            ),
            ("status".to_owned(), Value::String("Open".into())),
            ("due_date".to_owned(), Value::DateTime(due)),
        ]);
        let contact = if self.record.module.name == "contacts" {
            Some(self.record.id.to_string())
        } else {
            self.record.contact_id().map(str::to_owned)
        };
        if let Some(contact) =
            contact.filter(|_| self.event.kind != EventKind::Deleted || self.record.module.name != "contacts")
        {
            values.insert("contact_id".into(), Value::String(contact));
        }
        let owner = match assignee {
            Assignee::Owner => self.record.owner_id,
            Assignee::Staff(id) => id,
        };
        match view.create(&self.state.store, values, Some(owner), self.marker(key)?).await {
            Ok(_) => Ok(Ended::Done),
            Err(error) => self.ended(error),
        }
    }

    async fn field_update(&self, key: &str, values: &BTreeMap<String, Value>) -> Result<Ended, StoreError> {
        let module = self.record.module;
        let custom = if module.name == "contacts" { self.rules.custom.as_slice() } else { &[] };
        let caller = self.caller();
        let view = View::new(&caller, module, custom)
            .with_otp_rules(self.rules.otp_rules(self.state, module).await?);
        let store = &self.state.store;
        match view.change(store, self.record.id, self.record.version, values, None, self.marker(key)?).await {
            Ok(_) => Ok(Ended::Done),
            Err(RecordError::VersionMismatch { .. }) => {
                // Changed since the event: judge the rule again on the record as it is now.
                let current = match view.read(store, self.record.id).await {
                    Ok(current) => current,
                    Err(RecordError::NotFound) => return Ok(Ended::Skipped("the record is gone".into())),
                    Err(error) => return self.ended(error),
                };
                // The same event judged on the record as it is now (a time rule's stays one).
                let now = RecordEvent { new: Some(&current.fields), at: chrono::Utc::now(), ..*self.event };
                if !self.rule.fires_quickly(self.rule_id, &now) {
                    return Ok(Ended::Skipped(format!(
                        "the record changed since the event (now version {}) and the rule no longer holds",
                        current.version
                    )));
                }
                match view.change(store, current.id, current.version, values, None, self.marker(key)?).await {
                    Ok(_) => Ok(Ended::Done),
                    Err(error) => self.ended(error),
                }
            }
            Err(error) => self.ended(error),
        }
    }

    /// Moves the customer of the record's contact to `stage`, with the action's marker.
    async fn lifecycle(&self, key: &str, stage: Stage, from: &MoveFrom) -> Result<Ended, StoreError> {
        let Some(customer) = crate::lifecycle::customer_of(self.state, self.record).await? else {
            return Ok(Ended::Skipped("the record's contact has no customer account".into()));
        };
        // The batch's OTP rules of contacts (read once per batch, not once per action).
        let otp_rules = self.rules.otp_rules(self.state, modules::contacts()).await?;
        if let Some(rule) =
            portico::records::lifecycle::guarding_rule(&self.state.store, &otp_rules, customer, Some(stage))
                .await?
        {
            return Ok(Ended::Skipped(format!(
                "the OTP rule \"{rule}\" guards the contact's lifecycle: only a change with the customer's code moves it"
            )));
        }
        let moved = self.state.store.move_lifecycle(customer, Some(stage), from, || self.marker(key)).await;
        match moved {
            Ok(LifecycleMove::Moved { .. }) => Ok(Ended::Done),
            Ok(LifecycleMove::Unchanged) => {
                Ok(Ended::Skipped(format!("the customer is a {} already", stage.as_str())))
            }
            Ok(LifecycleMove::NotAllowed { current }) => Ok(Ended::Skipped(format!(
                "the customer is at {}, which this rule does not move from",
                current.map_or("no stage", Stage::as_str)
            ))),
            Ok(LifecycleMove::NoSuchCustomer) => Ok(Ended::Skipped("the customer account is gone".into())),
            Err(error) if error.failed(MARKER) => Ok(Ended::AlreadyDone),
            Err(error) => Err(error),
        }
    }

    /// A record write's refusal as an action's end: a marker that was there means done
    /// before; DynamoDB failing comes back as an error (the event comes again).
    fn ended(&self, error: RecordError) -> Result<Ended, StoreError> {
        match error {
            RecordError::ItemsFailed(cancellation) if cancellation.failed(MARKER) => Ok(Ended::AlreadyDone),
            // Another transaction held an item: nothing was written, and trying again will do.
            RecordError::ItemsFailed(cancellation) if !cancellation.conflicted.is_empty() => {
                Err(StoreError::Unavailable(format!("the write met a concurrent one: {cancellation}").into()))
            }
            RecordError::Store(error) => Err(error),
            RecordError::NotFound => Ok(Ended::Skipped("the record is gone".into())),
            other => Ok(Ended::Failed(other.to_string())),
        }
    }
}

/// The client webhooks go out with: 5 s for the whole request, no redirects (a redirect could
/// lead a signed event anywhere) and, outside the local stack, a resolver that refuses names
/// resolving to loopback, private or link-local addresses. `None` if it can't be built: webhooks
/// then fail rather than go out with weaker settings.
fn webhook_client(allow_local: bool) -> Option<&'static reqwest::Client> {
    static STRICT: std::sync::OnceLock<Option<reqwest::Client>> = std::sync::OnceLock::new();
    static LOCAL: std::sync::OnceLock<Option<reqwest::Client>> = std::sync::OnceLock::new();
    let build = |allow_local: bool| {
        let builder = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .connect_timeout(std::time::Duration::from_secs(2))
            .redirect(reqwest::redirect::Policy::none());
        let builder = if allow_local { builder } else { builder.dns_resolver(PublicOnly) };
        builder.build().map_err(|error| tracing::error!(%error, "no webhook client")).ok()
    };
    if allow_local {
        LOCAL.get_or_init(|| build(true)).as_ref()
    } else {
        STRICT.get_or_init(|| build(false)).as_ref()
    }
}

/// Resolves webhook hosts to public addresses only (a name may point anywhere).
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let public: Vec<std::net::SocketAddr> =
                resolved.filter(|address| portico::domain::workflow::is_public(address.ip())).collect();
            if public.is_empty() {
                return Err("the webhook's host resolves to no public address".into());
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Longest answer a function may give.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// An endpoint's answer, refused past `MAX_ANSWER_BYTES`.
async fn read_answer(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let too_long = || format!("the answer is over {MAX_ANSWER_BYTES} bytes");
    if response.content_length().is_some_and(|length| length > MAX_ANSWER_BYTES as u64) {
        return Err(too_long());
    }
    // Read chunk by chunk: a body without a length stops being read at the limit.
    let mut body = Vec::new();
    while let Some(chunk) =
        response.chunk().await.map_err(|error| format!("the answer was cut off: {}", without_url(&error)))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(too_long());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Statuses worth a second try: the receiver is down, slow or busy, or answers with a redirect
/// (never followed, but possibly passing).
fn retry_worthy(status: reqwest::StatusCode) -> bool {
    status.is_server_error() || status.is_redirection() || matches!(status.as_u16(), 408 | 425 | 429)
}

/// A request error without the URL (it may carry a token in its query).
fn without_url(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    kind.to_owned()
}
