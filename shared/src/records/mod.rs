//! The records core: reading, listing and changing CRM records as a given caller. Every function
//! that touches records (the staff API, imports, OTP-verified changes, the portal, agent forms,
//! workflow actions) goes through here, so module access and its scope, masking, unique values,
//! versions and ownership hold the same on every path.
//!
//! A write is a named write set (`store::WriteSet`): the record (`record`), its unique-value
//! guards (`guard:<field>`, `release:<field>`), a new owner's check (`owner`) and whatever items
//! the calling feature adds (`challenge`, `submission`, `marker` …), committed together.

pub mod lifecycle;
pub mod list;
pub mod otp;
pub mod portal;
pub mod template;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value as JsonValue};
use ulid::Ulid;
use unicode_normalization::UnicodeNormalization;
use utoipa::ToSchema;

use crate::ApiError;
use crate::auth::AccessClaims;
use crate::criteria::{FieldSchema, FieldType, Value};
use crate::domain::contact_fields::{ContactField, ModuleSchema};
use crate::domain::modules::{self, Actor, CrmRecord, Module, Origin, field_json, parse_fields};
use crate::domain::otp::ValidOtpRule;
use crate::domain::{ModuleAccess, Permission, Scope};
use crate::error::FieldError;
use crate::store::records::{GUARD, OWNER, RECORD, RecordChanges, UniqueValue, WrittenBy};
use crate::store::{Cancellation, Store, StoreError, WriteSet};

/// Who reads or writes records, with what rights, and through what.
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    permissions: Vec<Permission>,
    modules: BTreeMap<String, ModuleAccess>,
    projects: Vec<Ulid>,
    pub origin: Origin,
}

impl Caller {
    /// A signed-in staff member, with the rights their access token carries.
    pub fn staff(claims: &AccessClaims, origin: Origin) -> Self {
        Self {
            actor: Actor::Account(claims.sub),
            permissions: claims.perms.clone(),
            modules: claims.modules.clone(),
            projects: claims.projects.clone(),
            origin,
        }
    }

    /// A staff member filling a form of `project` (SPEC §6): the form is the grant — contacts
    /// may be read and written (the form writes only its bound fields), with the project's
    /// fields only and masked values as the member's own rights allow; nothing else.
    pub fn form_filler(claims: &AccessClaims, project: Ulid, origin: Origin) -> Self {
        let contacts = ModuleAccess { read: Scope::All, write: Scope::All, delete: Scope::None };
        Self {
            actor: Actor::Account(claims.sub),
            permissions: claims
                .perms
                .iter()
                .copied()
                .filter(|permission| *permission == Permission::ContactsViewMasked)
                .collect(),
            modules: BTreeMap::from([(modules::contacts().name.to_owned(), contacts)]),
            projects: vec![project],
            origin,
        }
    }

    /// Portico itself (workflow actions, housekeeping): every module, every field.
    pub fn system(origin: Origin) -> Self {
        Self {
            actor: Actor::System,
            permissions: Permission::ALL.to_vec(),
            modules: modules::modules()
                .iter()
                .map(|module| (module.name.to_owned(), ModuleAccess::FULL))
                .collect(),
            projects: Vec::new(),
            origin,
        }
    }

    pub fn has(&self, permission: Permission) -> bool {
        self.permissions.contains(&permission)
    }

    /// What the caller may do with `module`'s records. Changing or deleting never reaches
    /// further than reading: a role pair like `r:own` + `w` would otherwise write records the
    /// caller can't see.
    pub fn access(&self, module: &str) -> ModuleAccess {
        let granted = self.modules.get(module).copied().unwrap_or_default();
        ModuleAccess {
            read: granted.read,
            write: granted.write.min(granted.read),
            delete: granted.delete.min(granted.read),
        }
    }

    /// The caller's account, when a person calls.
    pub fn account_id(&self) -> Option<Ulid> {
        match self.actor {
            Actor::Account(id) => Some(id),
            Actor::System => None,
        }
    }

    /// Which records an operation of `scope` reaches for this caller. Fails closed: no scope,
    /// or `Own` without an account, reaches nothing.
    fn reach(&self, scope: Scope) -> Reach {
        match (scope, self.account_id()) {
            (Scope::All, _) => Reach::Everything,
            (Scope::Own, Some(id)) => Reach::Owner(id),
            _ => Reach::Nothing,
        }
    }

    /// The module, if the caller may do `need` with it. A module they can't read answers 404
    /// for its records (they do not exist for them) and 403 for its list.
    pub fn module(&self, name: &str, need: Need) -> Result<&'static Module, RecordError> {
        let module = modules::module(name).ok_or(RecordError::NoSuchModule)?;
        let access = self.access(module.name);
        let forbidden =
            || RecordError::Forbidden(format!("Your role does not allow this on {}.", module.name));
        match need {
            Need::List if !access.read.any() => Err(forbidden()),
            Need::Read | Need::Write | Need::Delete if !access.read.any() => Err(RecordError::NotFound),
            Need::Write if !access.write.any() => Err(forbidden()),
            Need::Delete if !access.delete.any() => Err(forbidden()),
            _ => Ok(module),
        }
    }
}

/// Which records an operation reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    Nothing,
    Owner(Ulid),
    Everything,
}

impl Reach {
    fn holds(self, owner: Ulid) -> bool {
        match self {
            Self::Nothing => false,
            Self::Owner(id) => id == owner,
            Self::Everything => true,
        }
    }

    /// The owner a conditioned write must find on the record.
    fn owner(self) -> Option<Ulid> {
        match self {
            Self::Owner(id) => Some(id),
            Self::Nothing | Self::Everything => None,
        }
    }
}

/// What a request wants to do with a module's records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    List,
    Read,
    Write,
    Delete,
}

/// Why a record operation did not happen, in the domain's words.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("no such module")]
    NoSuchModule,
    /// Missing, or outside what the caller may reach (never told apart).
    #[error("no such record")]
    NotFound,
    #[error("{0}")]
    Forbidden(String),
    /// The caller may not see the field, so may not filter, sort, match or uniquely write it.
    #[error("you may not {verb} the masked field {field}")]
    MaskedField { field: String, verb: &'static str },
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    #[error("the record is at version {current}")]
    VersionMismatch { current: u64 },
    /// Another record holds this unique field's value; nothing was written.
    #[error("the value of {0} is taken")]
    ValueTaken(String),
    /// `owner_id` names no active staff member.
    #[error("the owner is not an active staff member")]
    OwnerNotStaff,
    /// The change trips an active OTP rule: it is not applied; the customer's one-time password
    /// unlocks it (`records::otp`). Paths that can't present a code refuse it as `otp_required`.
    #[error("the change needs the customer's one-time password")]
    OtpRequired(Box<GuardedChange>),
    /// A new record would hold a value only an OTP-verified change may set.
    #[error("{field} = {value} is reached only through an OTP-verified change")]
    OtpGuardedValue { field: String, value: String },
    /// A customer's portal account is linked to the contact: it is re-linked before the contact
    /// can go.
    #[error("a portal account is linked to the contact")]
    LinkedContact,
    /// Items the calling feature added did not hold; nothing was written.
    #[error("the write did not hold: {0}")]
    ItemsFailed(Cancellation),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<RecordError> for ApiError {
    fn from(error: RecordError) -> Self {
        match error {
            RecordError::NoSuchModule => ApiError::not_found("No such module."),
            RecordError::NotFound => ApiError::not_found("No such record."),
            RecordError::Forbidden(message) => ApiError::forbidden("forbidden", message),
            RecordError::MaskedField { field, verb } => {
                ApiError::forbidden("masked_field", format!("You may not {verb} the masked field {field}."))
            }
            RecordError::Invalid(fields) => ApiError::validation(fields),
            RecordError::VersionMismatch { current } => {
                ApiError::version_mismatch(format!("The record is at version {current}; read it again and retry."))
            }
            RecordError::ValueTaken(field) => ApiError::value_taken(&field),
            RecordError::OwnerNotStaff => ApiError::invalid_field("owner_id", "must be an active staff user"),
            RecordError::OtpRequired(guarded) => ApiError::new(
                axum::http::StatusCode::PRECONDITION_REQUIRED,
                "otp_required",
                format!(
                    "Changing {} needs the customer's one-time password (rule \"{}\"); change the record with PATCH to get a code.",
                    guarded.rule.definition.trigger.field, guarded.rule.definition.name
                ),
            ),
            RecordError::OtpGuardedValue { field, value } => ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "otp_guarded_value",
                format!("A record can't be created with {field} = {value}: that value is reached only through an OTP-verified change."),
            )
            .with_extensions(serde_json::json!({"field": field})),
            RecordError::LinkedContact => ApiError::conflict(
                "contact_linked",
                "A customer's portal account is linked to this contact; link the customer to another contact first (PUT /admin/customers/{id}/contact).",
            ),
            RecordError::ItemsFailed(cancellation) => {
                tracing::warn!(%cancellation, "record write lost a race");
                ApiError::conflict("conflict", "The resource was changed concurrently; retry the request.")
            }
            RecordError::Store(error) => error.into(),
        }
    }
}

/// A change an OTP rule holds back: the rule, the record as read, and the change asked.
#[derive(Debug, Clone)]
pub struct GuardedChange {
    /// The rule whose code settings and channels the challenge uses.
    pub rule_id: Ulid,
    pub rule: ValidOtpRule,
    /// Every rule the change trips (`rule_id` among them): the one code unlocks them together.
    pub tripped: Vec<Ulid>,
    pub record: CrmRecord,
    pub values: BTreeMap<String, Value>,
    pub owner: Option<Ulid>,
}

/// The active OTP rules that guard writes of `module`, read on every write: a rule saved now
/// guards every running copy at once. For contacts these include the rules of other modules
/// that send to a contact's field (`contact.mobile`): changing that field moves their codes. A
/// stored rule that no longer validates is skipped, with an error in the log.
pub async fn otp_rules(store: &Store, module: &Module) -> Result<Vec<(Ulid, ValidOtpRule)>, StoreError> {
    let sends_to_contacts = |definition: &crate::domain::otp::OtpRuleDefinition| {
        definition.recipients.values().any(|field| field.starts_with("contact."))
    };
    Ok(store
        .otp_rules()
        .await?
        .into_iter()
        .filter(|rule| {
            rule.definition.active
                && (rule.definition.module == module.name
                    || (module.name == "contacts" && sends_to_contacts(&rule.definition)))
        })
        .filter_map(|rule| match rule.definition.validate() {
            Ok(valid) => Some((rule.id, valid)),
            Err(errors) => {
                tracing::error!(rule_id = %rule.id, ?errors, "a stored OTP rule does not validate; it guards nothing");
                None
            }
        })
        .collect())
}

/// Whether a change by the OTP-verified path is checked against the rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard<'a> {
    Rules,
    /// The change was unlocked by a challenge for these rules, which the write set spends;
    /// any other rule still holds.
    Verified(&'a [Ulid]),
}

/// A record as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordView {
    pub id: String,
    pub module: String,
    /// Send it back as `If-Match` (or `version`) when changing the record.
    pub version: u64,
    pub owner_id: String,
    /// Field name → value (dates `YYYY-MM-DD`, date-times RFC 3339, numbers as JSON numbers).
    /// Masked fields are `null` for staff without `contacts.view_masked`.
    #[schema(value_type = Object)]
    pub fields: Map<String, JsonValue>,
    /// Every masked field of the module hidden from the caller, set or not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub masked: Vec<String>,
    #[serde(with = "crate::time::rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::time::rfc3339")]
    pub updated_at: DateTime<Utc>,
    /// The staff account that changed the record last, or `system`.
    pub updated_by: String,
    /// Through what: `api`, `import`, `otp:<challenge>`, `form:<form>`, `workflow:<rule>`.
    pub origin: String,
}

/// The custom fields of `module` (only contacts have them). Read on every request: a field
/// masked now is masked on every running copy at once.
pub async fn custom_fields(store: &Store, module: &Module) -> Result<Vec<ContactField>, StoreError> {
    if module.name == "contacts" { store.contact_fields().await } else { Ok(Vec::new()) }
}

/// The fields of a module one caller works with, whether they see masked values, and the scope
/// of what they may do: everything the core does, it does through a view.
pub struct View<'a> {
    pub caller: &'a Caller,
    pub schema: ModuleSchema<'a>,
    sees_masked: bool,
    /// The module's OTP rules, read at the view's first write: once per request (an import's
    /// rows share them), fresh for every request.
    otp_rules: tokio::sync::OnceCell<Vec<(Ulid, ValidOtpRule)>>,
}

impl<'a> View<'a> {
    /// The caller's view of `module`: the custom fields of their projects (all of them for
    /// those who manage settings, and for Portico itself).
    pub fn new(caller: &'a Caller, module: &'static Module, custom: &'a [ContactField]) -> Self {
        let all = caller.has(Permission::SettingsManage);
        Self {
            caller,
            schema: ModuleSchema::for_staff(module, custom, &caller.projects, all),
            sees_masked: caller.has(Permission::ContactsViewMasked),
            otp_rules: tokio::sync::OnceCell::new(),
        }
    }

    /// The caller's view of `module` limited to the custom fields of `project` (an import).
    pub fn for_project(
        caller: &'a Caller,
        module: &'static Module,
        custom: &'a [ContactField],
        project: Ulid,
    ) -> Self {
        Self {
            caller,
            schema: ModuleSchema::for_staff(module, custom, &[project], false),
            sees_masked: caller.has(Permission::ContactsViewMasked),
            otp_rules: tokio::sync::OnceCell::new(),
        }
    }

    /// The same view with the module's OTP rules as already read (`otp_rules`): writes of a
    /// batch share one read (the stream consumer reads them once per batch).
    pub fn with_otp_rules(mut self, rules: Vec<(Ulid, ValidOtpRule)>) -> Self {
        self.otp_rules = tokio::sync::OnceCell::new_with(Some(rules));
        self
    }

    pub fn module(&self) -> &'static Module {
        self.schema.builtin
    }

    fn access(&self) -> ModuleAccess {
        self.caller.access(self.module().name)
    }

    /// Whether the value of `field` is hidden from the caller.
    pub fn hides(&self, field: &str) -> bool {
        !self.sees_masked && self.schema.custom_field(field).is_some_and(|custom| custom.masked)
    }

    /// The owner every list of the caller is limited to (own-scope readers); `Forbidden` for
    /// callers who may not read the module at all.
    pub fn read_owner(&self) -> Result<Option<Ulid>, RecordError> {
        match self.caller.reach(self.access().read) {
            Reach::Nothing => Err(RecordError::Forbidden(format!(
                "Your role does not allow this on {}.",
                self.module().name
            ))),
            reach => Ok(reach.owner()),
        }
    }

    /// Whether the caller may read `record`.
    pub fn reaches(&self, record: &CrmRecord) -> bool {
        self.caller.reach(self.access().read).holds(record.owner_id)
    }

    /// The records a write of `scope` reaches; `Forbidden` when none.
    fn writable(&self, scope: Scope) -> Result<Reach, RecordError> {
        match self.caller.reach(scope) {
            Reach::Nothing if self.caller.reach(self.access().read) == Reach::Nothing => {
                Err(RecordError::NotFound)
            }
            Reach::Nothing => Err(RecordError::Forbidden(format!(
                "Your role does not allow this on {}.",
                self.module().name
            ))),
            reach => Ok(reach),
        }
    }

    /// The record as this caller may see it: masked values never leave the server, and every
    /// masked field of the schema is listed, so an empty one can't be told from a set one.
    pub fn render(&self, record: &CrmRecord) -> RecordView {
        let mut fields = Map::new();
        for (name, value) in &record.fields {
            let Some(field_type) = self.schema.field_type(name) else { continue };
            let shown = if self.hides(name) { JsonValue::Null } else { field_json(field_type, value) };
            fields.insert(name.clone(), shown);
        }
        let masked: Vec<String> = self
            .schema
            .custom
            .iter()
            .filter(|custom| self.hides(&custom.name))
            .map(|custom| custom.name.clone())
            .collect();
        for name in &masked {
            fields.insert(name.clone(), JsonValue::Null);
        }
        RecordView {
            id: record.id.to_string(),
            module: record.module.name.to_owned(),
            version: record.version,
            owner_id: record.owner_id.to_string(),
            fields,
            masked,
            created_at: record.created_at,
            updated_at: record.updated_at,
            updated_by: record.updated_by.to_string(),
            origin: record.origin.to_string(),
        }
    }

    fn unique_field(&self, name: &str) -> Option<&'a ContactField> {
        self.schema.custom_field(name).filter(|custom| custom.unique)
    }

    /// The guards of the unique custom fields among `fields` (values as stored: normalized).
    pub fn unique_values(&self, fields: &BTreeMap<String, Value>) -> Vec<UniqueValue> {
        fields
            .iter()
            .filter(|(_, value)| **value != Value::Null)
            .filter_map(|(name, value)| {
                let custom = self.unique_field(name)?;
                let value = match field_json(&custom.field_type, value) {
                    JsonValue::String(text) => text,
                    other => other.to_string(),
                };
                Some(UniqueValue { field: name.clone(), value })
            })
            .collect()
    }

    /// Validates the JSON of a write and normalizes unique values. A field the caller may not
    /// see may be written blind, unless it is unique: a refusal would tell its value is taken.
    pub fn parse_write(
        &self,
        input: &Map<String, JsonValue>,
    ) -> Result<BTreeMap<String, Value>, RecordError> {
        if let Some(field) =
            input.keys().find(|field| self.hides(field) && self.unique_field(field).is_some())
        {
            return Err(RecordError::MaskedField { field: field.clone(), verb: "write" });
        }
        let mut values = parse_fields(&self.schema, self.module().name, input).map_err(|errors| {
            RecordError::Invalid(
                errors.into_iter().map(|(field, message)| FieldError::new(field, message)).collect(),
            )
        })?;
        self.normalize(&mut values);
        Ok(values)
    }

    /// Unique text values are stored trimmed and in Unicode NFC, as their guards key them, so
    /// `?field=` lookups and guards agree. E-mail and phone fields are normalized by their types.
    pub fn normalize(&self, values: &mut BTreeMap<String, Value>) {
        for (name, value) in values.iter_mut() {
            if let (Some(custom), Value::String(text)) = (self.unique_field(name), &*value)
                && matches!(custom.field_type, FieldType::Text)
            {
                *value = Value::String(text.trim().nfc().collect());
            }
        }
    }

    async fn otp_rules(&self, store: &Store) -> Result<&[(Ulid, ValidOtpRule)], StoreError> {
        let rules = self.otp_rules.get_or_try_init(|| otp_rules(store, self.module())).await?;
        Ok(rules.as_slice())
    }

    fn written_by(&self) -> WrittenBy {
        WrittenBy { actor: self.caller.actor, origin: self.caller.origin.clone() }
    }

    /// Who the caller may make owner of a record: themselves, or anyone with `records.assign`.
    fn check_owner(&self, owner: Ulid) -> Result<(), RecordError> {
        if self.caller.account_id() == Some(owner) || self.caller.has(Permission::RecordsAssign) {
            Ok(())
        } else {
            Err(RecordError::Forbidden("Assigning records to someone else needs records.assign.".into()))
        }
    }

    /// Record `id`, if it exists and the caller may read it.
    pub async fn read(&self, store: &Store, id: Ulid) -> Result<CrmRecord, RecordError> {
        store
            .record(self.module(), id, &self.schema)
            .await?
            .filter(|record| self.reaches(record))
            .ok_or(RecordError::NotFound)
    }

    /// Creates a record with `values` (nulls dropped), owned by `owner` (default: the caller),
    /// claiming its unique values, together with the caller's `extra` items.
    pub async fn create(
        &self,
        store: &Store,
        values: BTreeMap<String, Value>,
        owner: Option<Ulid>,
        extra: WriteSet,
    ) -> Result<CrmRecord, RecordError> {
        let (record, mut items) = self.creation(store, values, owner).await?;
        items.append(extra);
        match store.commit(items).await {
            Ok(()) => Ok(record),
            Err(StoreError::Cancelled(cancellation)) => Err(self.explain(cancellation)),
            Err(error) => Err(error.into()),
        }
    }

    /// The record `create` would store and the items that store it, checked as `create` checks
    /// them, for a feature that commits them with items naming the new record (a portal link).
    pub async fn creation(
        &self,
        store: &Store,
        mut values: BTreeMap<String, Value>,
        owner: Option<Ulid>,
    ) -> Result<(CrmRecord, WriteSet), RecordError> {
        // Every path (API, import, forms, rules, functions) stores unique values as guards key them.
        self.normalize(&mut values);
        let owner = match (owner, self.caller.account_id()) {
            (Some(owner), _) => owner,
            (None, Some(caller)) => caller,
            (None, None) => {
                return Err(RecordError::Invalid(vec![FieldError::new("owner_id", "is required")]));
            }
        };
        self.check_owner(owner)?;
        let now = crate::time::now();
        for (_, rule) in self.otp_rules(store).await? {
            if rule.module.name == self.module().name && rule.guards_value_of(&values, now) {
                return Err(RecordError::OtpGuardedValue {
                    field: rule.definition.trigger.field.clone(),
                    value: rule.trigger_json().to_string(),
                });
            }
        }
        let record = CrmRecord {
            id: Ulid::generate(),
            module: self.module(),
            owner_id: owner,
            version: 1,
            fields: values.into_iter().filter(|(_, value)| *value != Value::Null).collect(),
            created_at: now,
            updated_at: now,
            updated_by: self.caller.actor,
            origin: self.caller.origin.clone(),
        };
        let mut items = store.record_creation(&record, &self.schema, &self.unique_values(&record.fields))?;
        if self.caller.account_id() != Some(owner) {
            items.add(OWNER, store.active_staff_check(owner)?);
        }
        Ok((record, items))
    }

    /// Applies `values` (a `null` clears a field) and a new `owner` to record `id` if it is still
    /// at version `expected`, with the caller's `extra` items, all in one transaction. Unique
    /// values that change move their guards.
    ///
    /// A change that trips an active OTP rule is not applied: `OtpRequired` carries it.
    pub async fn change(
        &self,
        store: &Store,
        id: Ulid,
        expected: u64,
        values: &BTreeMap<String, Value>,
        owner: Option<Ulid>,
        extra: WriteSet,
    ) -> Result<CrmRecord, RecordError> {
        self.change_guarded(store, id, expected, values, owner, extra, Guard::Rules).await
    }

    /// Applies a change its OTP challenge unlocked, with `spend` (the items that spend the
    /// challenge, conditioned on it being pending and answered) in the same transaction. The
    /// spent challenge stands in for the rules it was opened for (`rule_ids`); any other rule
    /// the change trips (one saved since) still holds it back.
    #[allow(clippy::too_many_arguments)]
    pub async fn change_verified(
        &self,
        store: &Store,
        id: Ulid,
        expected: u64,
        values: &BTreeMap<String, Value>,
        owner: Option<Ulid>,
        rule_ids: &[Ulid],
        spend: WriteSet,
    ) -> Result<CrmRecord, RecordError> {
        if spend.is_empty() || !matches!(self.caller.origin, Origin::Otp(_)) {
            return Err(RecordError::Forbidden("A verified change needs its challenge.".into()));
        }
        self.change_guarded(store, id, expected, values, owner, spend, Guard::Verified(rule_ids)).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn change_guarded(
        &self,
        store: &Store,
        id: Ulid,
        expected: u64,
        values: &BTreeMap<String, Value>,
        owner: Option<Ulid>,
        extra: WriteSet,
        guard: Guard<'_>,
    ) -> Result<CrmRecord, RecordError> {
        let mut normalized = values.clone();
        self.normalize(&mut normalized);
        let values = &normalized;
        let unlocked: &[Ulid] = match guard {
            Guard::Rules => &[],
            Guard::Verified(rule_ids) => rule_ids,
        };
        let module = self.module().name;
        // Those who manage settings may point a record (or a contact) at another recipient:
        // someone must be able to fix a number; everyone else needs the customer's code.
        let moves_guarded = !self.caller.has(Permission::SettingsManage);
        let rules = self.otp_rules(store).await?;
        let rules: Vec<&(Ulid, ValidOtpRule)> =
            rules.iter().filter(|(rule_id, _)| !unlocked.contains(rule_id)).collect();
        // A rule can trip only if the change sets its field to its value, or touches where its
        // code would go; then the record is read, to know whether the field *becomes* that
        // value (and the criteria hold) or the recipient moves.
        let may_trip = rules.iter().any(|(_, rule)| {
            if rule.module.name == module {
                values.get(&rule.definition.trigger.field) == Some(&rule.trigger_value)
                    || (moves_guarded && rule.recipient_sources().any(|field| values.contains_key(field)))
            } else {
                moves_guarded && rule.contact_sources().any(|field| values.contains_key(field))
            }
        });
        let reach = self.writable(self.access().write)?;
        let scope_owner = reach.owner();
        let touches_unique = values.keys().any(|field| self.unique_field(field).is_some());
        let mut changes = RecordChanges {
            set: values.iter().filter(|(_, v)| **v != Value::Null).map(|(f, v)| (f.as_str(), v)).collect(),
            remove: values.iter().filter(|(_, v)| **v == Value::Null).map(|(f, _)| f.as_str()).collect(),
            owner,
            ..RecordChanges::default()
        };
        let now = crate::time::now();
        let by = self.written_by();
        let items_for = |changes: &RecordChanges<'_>| {
            store.record_change(self.module(), id, (expected, scope_owner), changes, &self.schema, now, &by)
        };
        // A lone update needs no read: one UpdateItem returns the record as changed.
        if !touches_unique && owner.is_none() && extra.is_empty() && !may_trip {
            let items = items_for(&changes)?;
            return match store.commit_single_change(items, &self.schema).await? {
                Some(record) => Ok(record),
                None => Err(self.why_not_changed(store, id, reach).await),
            };
        }
        // Anything more reads the record first: which unique values it holds now, and the
        // result without a read after the write (the version condition makes both exact).
        let current = self.read_writable(store, id, reach).await?;
        if current.version != expected {
            return Err(RecordError::VersionMismatch { current: current.version });
        }
        if may_trip {
            let mut after = current.fields.clone();
            for (field, value) in values {
                if *value == Value::Null {
                    after.remove(field);
                } else {
                    after.insert(field.clone(), value.clone());
                }
            }
            let (old, new) = (&current.fields, &after);
            let tripped: Vec<&(Ulid, ValidOtpRule)> = rules
                .iter()
                .copied()
                .filter(|(_, rule)| {
                    if rule.module.name == module {
                        rule.trips(old, new, now) || (moves_guarded && rule.moves_recipient(old, new))
                    } else {
                        moves_guarded && rule.moves_contact_recipient(old, new)
                    }
                })
                .collect();
            if let Some((rule_id, rule)) = tripped.first().copied() {
                return Err(RecordError::OtpRequired(Box::new(GuardedChange {
                    rule_id: *rule_id,
                    rule: rule.clone(),
                    tripped: tripped.iter().map(|(id, _)| *id).collect(),
                    record: current,
                    values: values.clone(),
                    owner,
                })));
            }
        }
        // Sending back the owner one read is no assignment.
        let owner = owner.filter(|owner| *owner != current.owner_id);
        if let Some(owner) = owner {
            self.check_owner(owner)?;
        }
        let held: BTreeMap<String, Value> = current
            .fields
            .iter()
            .filter(|(field, _)| values.contains_key(*field))
            .map(|(f, v)| (f.clone(), v.clone()))
            .collect();
        let (claim, release) = (self.unique_values(values), self.unique_values(&held));
        changes.claim = claim.iter().filter(|guard| !release.contains(guard)).cloned().collect();
        changes.release = release.iter().filter(|guard| !claim.contains(guard)).cloned().collect();
        changes.owner = owner;
        let mut items = items_for(&changes)?;
        items.append(extra);
        match store.commit(items).await {
            Ok(()) => {}
            Err(StoreError::Cancelled(cancellation)) if cancellation.failed(RECORD) => {
                return Err(self.why_not_changed(store, id, reach).await);
            }
            Err(StoreError::Cancelled(cancellation)) => return Err(self.explain(cancellation)),
            Err(error) => return Err(error.into()),
        }
        let mut record = current;
        for (field, value) in values {
            if *value == Value::Null {
                record.fields.remove(field);
            } else {
                record.fields.insert(field.clone(), value.clone());
            }
        }
        record.owner_id = owner.unwrap_or(record.owner_id);
        record.version = expected + 1;
        record.updated_at = now;
        record.updated_by = by.actor;
        record.origin = by.origin;
        Ok(record)
    }

    /// Deletes record `id` (at version `expected`, when given) and frees every unique value it
    /// holds, also of fields the caller does not see. The delete is conditioned on the version
    /// read, so a change racing it can't leave a guard behind.
    pub async fn delete(&self, store: &Store, id: Ulid, expected: Option<u64>) -> Result<(), RecordError> {
        let module = self.module();
        let reach = self.writable(self.access().delete)?;
        let scope_owner = reach.owner();
        let custom = custom_fields(store, module).await?;
        if !custom.iter().any(|field| field.unique) {
            let items = store.record_deletion(module, id, (expected, scope_owner), &[])?;
            return match store.commit(items).await {
                Ok(()) => Ok(()),
                Err(StoreError::Cancelled(cancellation)) if cancellation.failed(RECORD) => {
                    Err(self.why_not_changed(store, id, reach).await)
                }
                Err(StoreError::Cancelled(cancellation)) => Err(self.explain(cancellation)),
                Err(error) => Err(error.into()),
            };
        }
        let everything = ModuleSchema::for_staff(module, &custom, &[], true);
        let every_value = View {
            caller: self.caller,
            schema: everything,
            sees_masked: true,
            otp_rules: tokio::sync::OnceCell::new(),
        };
        // Without If-Match a change landing between the read and the delete is read again.
        for _ in 0..3 {
            let current = every_value.read_writable(store, id, reach).await?;
            if expected.is_some_and(|expected| expected != current.version) {
                return Err(RecordError::VersionMismatch { current: current.version });
            }
            let guards = every_value.unique_values(&current.fields);
            let items = store.record_deletion(module, id, (Some(current.version), scope_owner), &guards)?;
            match store.commit(items).await {
                Ok(()) => return Ok(()),
                Err(StoreError::Cancelled(cancellation))
                    if cancellation.failed(RECORD) && expected.is_none() =>
                {
                    continue;
                }
                Err(StoreError::Cancelled(cancellation)) if cancellation.failed(RECORD) => {
                    return Err(self.why_not_changed(store, id, reach).await);
                }
                Err(StoreError::Cancelled(cancellation)) => return Err(self.explain(cancellation)),
                Err(error) => return Err(error.into()),
            }
        }
        Err(RecordError::ItemsFailed(Cancellation { failed: vec![RECORD.into()], conflicted: Vec::new() }))
    }

    /// Record `id` if it exists and `reach` holds it.
    async fn read_writable(&self, store: &Store, id: Ulid, reach: Reach) -> Result<CrmRecord, RecordError> {
        store
            .record(self.module(), id, &self.schema)
            .await?
            .filter(|record| reach.holds(record.owner_id))
            .ok_or(RecordError::NotFound)
    }

    /// Why a write conditioned on the record did not hold: it is gone, out of reach, or at
    /// another version.
    async fn why_not_changed(&self, store: &Store, id: Ulid, reach: Reach) -> RecordError {
        match self.read_writable(store, id, reach).await {
            Ok(current) => RecordError::VersionMismatch { current: current.version },
            Err(error) => error,
        }
    }

    /// A cancelled record write in domain words.
    pub fn explain(&self, cancellation: Cancellation) -> RecordError {
        if let Some(field) = cancellation.failed_under(GUARD).next() {
            return RecordError::ValueTaken(field.to_owned());
        }
        if cancellation.failed(OWNER) {
            return RecordError::OwnerNotStaff;
        }
        if cancellation.failed(crate::store::portal::PORTAL_LINK) {
            return RecordError::LinkedContact;
        }
        RecordError::ItemsFailed(cancellation)
    }
}
