//! The customer portal's side of the records core: linking a customer account to its contact,
//! and reading exactly the records the exposure configuration gives a customer. A record that
//! is not exposed does not exist for the customer (`NotFound`, never `Forbidden`), and only the
//! fields a module shows ever leave: the portal's schema holds no masked field at all.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value as JsonValue};
use ulid::Ulid;
use utoipa::ToSchema;

use super::{Caller, RecordError, View};
use crate::criteria::{
    self, CompiledCriteria, Criteria, EvalContext, Explanation, FieldSchema, PushdownOptions,
    ValidationContext, Value,
};
use crate::domain::account::Account;
use crate::domain::contact_fields::ContactField;
use crate::domain::modules::{self, CrmRecord, Origin, field_json};
use crate::domain::portal::{
    KeySource, PortalRead, PortalSort, SortBy, ValidPortalModule, portal_schema, split_name,
};
use crate::domain::{AccountKind, AccountStatus, BuiltinRole};
use crate::error::FieldError;
use crate::store::portal::{LINK_ACCOUNT, LINK_CONTACT, LINK_RECORD};
use crate::store::records::{DATES, RecordIndex, RecordQuery, field_attribute};
use crate::store::{PageKey, Store, StoreError, WriteSet};

/// Most DynamoDB queries one portal page makes while filling itself: the filter runs after
/// the read, so a page can come back short; past this it is returned short, with a cursor.
pub const MAX_QUERIES_PER_PAGE: u32 = 4;

/// The portal's configuration as it stands: every module's validated exposure, and the custom
/// contact fields it was validated against. Read on every request, so a module hidden now is
/// hidden on every running copy at once.
#[derive(Debug)]
pub struct PortalConfig {
    modules: Vec<ValidPortalModule>,
    pub custom: Vec<ContactField>,
}

impl PortalConfig {
    /// Reads the configuration. A stored module that no longer validates (a field masked since)
    /// exposes nothing, with an error in the log.
    pub async fn load(store: &Store) -> Result<Self, StoreError> {
        let (stored, custom) = tokio::try_join!(store.portal_modules(), store.contact_fields())?;
        let modules = stored
            .into_iter()
            .filter_map(|stored| match stored.definition.validate(&stored.module, &custom) {
                Ok(valid) => Some(valid),
                Err(errors) => {
                    tracing::error!(module = %stored.module, ?errors, "a stored portal module no longer validates; it exposes nothing");
                    None
                }
            })
            .collect();
        Ok(Self { modules, custom })
    }

    pub fn modules(&self) -> &[ValidPortalModule] {
        &self.modules
    }

    /// The exposure of `module`; `NotFound` when the portal does not show it.
    pub fn module(&self, module: &str) -> Result<&ValidPortalModule, RecordError> {
        self.modules.iter().find(|valid| valid.module.name == module).ok_or(RecordError::NoSuchModule)
    }

    /// The customer's contact as the portal may know it (no masked field).
    pub async fn contact(&self, store: &Store, contact_id: Ulid) -> Result<Option<CrmRecord>, StoreError> {
        let contacts = modules::contacts();
        store.record(contacts, contact_id, &portal_schema(contacts, &self.custom)).await
    }
}

/// A signed-in customer as the portal sees them: their account and linked contact.
#[derive(Debug)]
pub struct Customer {
    pub account_id: Ulid,
    pub contact: CrmRecord,
}

impl Customer {
    fn tied(&self, module: &ValidPortalModule, record: &CrmRecord) -> bool {
        match module.read {
            PortalRead::OwnContact => record.id == self.contact.id,
            PortalRead::ContactRecords => record.contact_id() == Some(self.contact.id.to_string().as_str()),
            PortalRead::Key(_) | PortalRead::Module => true,
        }
    }

    /// Whether `module`'s exposure gives this customer `record`.
    pub fn sees(&self, module: &ValidPortalModule, record: &CrmRecord) -> bool {
        let now = crate::time::now();
        self.tied(module, record)
            && module.criteria.as_ref().is_none_or(|criteria| {
                criteria.evaluate(&EvalContext::new(&record.fields, now).with_user(&self.contact.fields))
            })
    }

    /// Why `module`'s exposure gives this customer `record` or not: whether the record is theirs
    /// (for the primary and related modules) and the criteria's evaluation tree.
    pub fn explain(&self, module: &ValidPortalModule, record: &CrmRecord) -> RecordExposure {
        let now = crate::time::now();
        let explanation = module.criteria.as_ref().map(|criteria| {
            criteria.explain(&EvalContext::new(&record.fields, now).with_user(&self.contact.fields))
        });
        let tied = self.tied(module, record);
        RecordExposure {
            exposed: tied && explanation.as_ref().is_none_or(Explanation::held),
            tied,
            criteria: explanation,
        }
    }

    /// Record `id` of `module`, if it is exposed to this customer.
    pub async fn read(
        &self,
        store: &Store,
        config: &PortalConfig,
        module: &ValidPortalModule,
        id: Ulid,
    ) -> Result<CrmRecord, RecordError> {
        let record = if module.read == PortalRead::OwnContact {
            (id == self.contact.id).then(|| self.contact.clone())
        } else {
            store.record(module.module, id, &portal_schema(module.module, &config.custom)).await?
        };
        record.filter(|record| self.sees(module, record)).ok_or(RecordError::NotFound)
    }
}

/// Whether a record is exposed to a customer, and why (the admin's preview).
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordExposure {
    pub exposed: bool,
    /// Whether the record is the customer's (their contact, or tied to it by the lookup);
    /// always true for public modules.
    pub tied: bool,
    /// The exposure criteria's evaluation, leaf by leaf, with the values compared.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub criteria: Option<Explanation>,
}

/// A record as a customer sees it: its id and the module's shown fields, nothing else (no
/// version, owner or change times: those would tell of changes to fields they do not see).
#[derive(Debug, Serialize, ToSchema)]
pub struct PortalRecordView {
    pub id: String,
    pub module: String,
    /// Every shown field, `null` when empty.
    #[schema(value_type = Object)]
    pub fields: Map<String, JsonValue>,
}

/// `record` with only the fields `module` shows.
pub fn render(module: &ValidPortalModule, record: &CrmRecord, custom: &[ContactField]) -> PortalRecordView {
    let schema = portal_schema(module.module, custom);
    let fields = module
        .definition
        .fields
        .iter()
        .map(|field| {
            let value = match (schema.field_type(field), record.fields.get(field)) {
                (Some(field_type), Some(value)) => field_json(field_type, value),
                _ => JsonValue::Null,
            };
            (field.clone(), value)
        })
        .collect();
    PortalRecordView { id: record.id.to_string(), module: module.module.name.to_owned(), fields }
}

/// A customer's list request, validated: equalities on shown fields, an order, a page size.
#[derive(Debug)]
pub struct PortalList {
    criteria: Option<CompiledCriteria>,
    pub sort: PortalSort,
    /// A filter no record can match (a choice the field does not have): the page is empty.
    matches_nothing: bool,
}

/// One page of a portal list and what reading it took.
#[derive(Debug)]
pub struct PortalPage {
    pub items: Vec<CrmRecord>,
    pub next: Option<PageKey>,
    /// DynamoDB queries made.
    pub queries: u32,
    /// Items DynamoDB read to find them (its `ScannedCount`, summed).
    pub scanned: u32,
}

/// The parameters of a portal list besides `<field>=<value>`.
pub const LIST_PARAMETERS: [&str; 3] = ["limit", "cursor", "sort"];

impl PortalList {
    /// Plans `module`'s list for the query `pairs` (without `limit` and `cursor`). A field the
    /// module does not show is refused exactly like one that does not exist.
    pub fn parse(
        pairs: &[(String, String)],
        module: &ValidPortalModule,
        custom: &[ContactField],
    ) -> Result<Self, RecordError> {
        let schema = portal_schema(module.module, custom);
        let mut errors = Vec::new();
        let mut leaves: Vec<Criteria> = module.definition.criteria.iter().cloned().collect();
        let mut sort = module.sort;
        let mut seen = Vec::new();
        let mut matches_nothing = false;
        for (name, text) in pairs {
            if seen.contains(&name) {
                errors.push(FieldError::new(name, "is given more than once"));
                continue;
            }
            seen.push(name);
            match name.as_str() {
                "limit" | "cursor" => {}
                "sort" => match module.parse_sort(text) {
                    Ok(order) => sort = order,
                    Err(message) => errors.push(FieldError::new("sort", message)),
                },
                field => match schema.field_type(field).filter(|_| module.shows(field)) {
                    None => {
                        errors.push(FieldError::new(field, "is neither a list parameter nor a field you see"))
                    }
                    // A choice the field lacks matches nothing, exactly like a choice the exposure
                    // hides: a 400 would tell internal stages apart from made-up ones.
                    Some(field_type) => match super::list::equality(field, field_type, text) {
                        Ok((leaf, _)) => leaves.push(leaf.into()),
                        Err(_) if matches!(field_type, crate::criteria::FieldType::Select { .. }) => {
                            matches_nothing = true;
                        }
                        Err(_) => errors.push(FieldError::new(field, "is not a value this field can hold")),
                    },
                },
            }
        }
        if !errors.is_empty() {
            return Err(RecordError::Invalid(errors));
        }
        let criteria = match leaves.len() {
            0 => None,
            1 => leaves.pop(),
            _ => Some(Criteria::All(leaves)),
        };
        let user_schema = portal_schema(modules::contacts(), custom);
        let criteria = criteria
            .map(|criteria| criteria::compile(&criteria, &schema, &ValidationContext::portal(&user_schema)))
            .transpose()
            .map_err(|errors| {
                RecordError::Invalid(
                    errors
                        .into_iter()
                        .map(|error| FieldError::new(error.path, error.kind.to_string()))
                        .collect(),
                )
            })?;
        Ok(Self { criteria, sort, matches_nothing })
    }

    /// Everything `module`'s exposure reaches before its criteria, in its default order: the
    /// candidates an admin's preview explains.
    pub fn unfiltered(module: &ValidPortalModule) -> Self {
        Self { criteria: None, sort: module.sort, matches_nothing: false }
    }

    /// Reads one page for `customer`: up to `limit` exposed records from `start`, through the
    /// one index the module's exposure names, the criteria pushed down to DynamoDB.
    pub async fn read_page(
        &self,
        store: &Store,
        config: &PortalConfig,
        module: &ValidPortalModule,
        customer: &Customer,
        limit: u32,
        mut start: Option<PageKey>,
    ) -> Result<PortalPage, RecordError> {
        let now = crate::time::now();
        let user: &BTreeMap<String, Value> = &customer.contact.fields;
        let holds = |record: &CrmRecord| {
            self.criteria.as_ref().is_none_or(|criteria| {
                criteria.evaluate(&EvalContext::new(&record.fields, now).with_user(user))
            })
        };
        if self.matches_nothing {
            return Ok(PortalPage { items: Vec::new(), next: None, queries: 0, scanned: 0 });
        }
        let index = match &module.read {
            PortalRead::OwnContact => {
                let items =
                    Some(customer.contact.clone()).filter(|contact| start.is_none() && holds(contact));
                return Ok(PortalPage {
                    items: items.into_iter().collect(),
                    next: None,
                    queries: 0,
                    scanned: 0,
                });
            }
            PortalRead::ContactRecords => RecordIndex::Contact(customer.contact.id.to_string()),
            PortalRead::Key(source) => {
                let value = match source {
                    KeySource::Text(text) => Some(text.clone()),
                    KeySource::User(field) => match user.get(field) {
                        Some(Value::String(text)) => Some(text.clone()),
                        _ => None,
                    },
                };
                // An empty value matches no record (the criteria language's rule for references).
                let Some(value) = value else {
                    return Ok(PortalPage { items: Vec::new(), next: None, queries: 0, scanned: 0 });
                };
                RecordIndex::Key(value)
            }
            PortalRead::Module if self.sort.by == SortBy::Field => RecordIndex::ModuleBySortField,
            PortalRead::Module => RecordIndex::Module,
        };
        let pushdown = self.criteria.as_ref().map(|compiled| {
            let options = PushdownOptions { now: Some(now), user: Some(user), dates: Some(DATES) };
            criteria::pushdown_with(compiled, &options, |field| Some(field_attribute(field)))
        });
        let schema = portal_schema(module.module, &config.custom);
        let mut page = PortalPage { items: Vec::new(), next: None, queries: 0, scanned: 0 };
        while page.queries < MAX_QUERIES_PER_PAGE {
            let wanted = limit.saturating_sub(u32::try_from(page.items.len()).unwrap_or(u32::MAX));
            let query = RecordQuery {
                module: module.module,
                index: index.clone(),
                descending: self.sort.descending,
                limit: i32::try_from(wanted).unwrap_or(i32::MAX),
                start: start.take(),
                filter: pushdown.as_ref().and_then(|pushdown| pushdown.filter.as_ref()),
            };
            let (read, scanned) = store.records_counted(query, &schema).await?;
            page.queries += 1;
            page.scanned += scanned;
            page.items.extend(read.items.into_iter().filter(|record| {
                customer.tied(module, record)
                    && pushdown.as_ref().is_none_or(|pushdown| {
                        pushdown.residual_holds(&EvalContext::new(&record.fields, now).with_user(user))
                    })
            }));
            page.next = read.next;
            if page.next.is_none() || page.items.len() >= limit as usize {
                break;
            }
            start = page.next.clone();
        }
        Ok(page)
    }
}

/// Links active customer `account` to a contact, once: the one unlinked contact with its
/// address when the address is verified; otherwise a new contact made from the registration
/// (name, phone, and the company as a new `accounts` record), owned by `owner` (the approving
/// staff member) or else the longest-serving active administrator. Returns the contact's id;
/// an account linked already (by a concurrent call, too) keeps its contact. `custom`: the
/// contact fields, when the caller has read them already (the portal's configuration holds
/// them); read here otherwise.
pub async fn link_customer(
    store: &Store,
    account: &Account,
    owner: Option<Ulid>,
    custom: Option<&[ContactField]>,
) -> Result<Ulid, RecordError> {
    if let Some(contact_id) = account.contact_id {
        return Ok(contact_id);
    }
    if account.kind != AccountKind::Customer || account.status != AccountStatus::Active {
        return Err(RecordError::Forbidden("Only active customers are linked to a contact.".into()));
    }
    let now = crate::time::now();
    // An unverified address may be someone else's: it never links to their contact.
    if account.email_verified {
        let found = store.contacts_by_address(&account.email).await?;
        let mut unlinked = found.iter().filter(|contact| !contact.linked);
        if let (Some(only), None) = (unlinked.next(), unlinked.next()) {
            let mut items = store.link_items(account.id, only.id, None, now)?;
            items.add(LINK_RECORD, store.contact_check(only.id, Some(&account.email))?);
            match store.commit(items).await {
                Ok(()) => return Ok(only.id),
                Err(StoreError::Cancelled(cancellation)) if cancellation.failed(LINK_ACCOUNT) => {
                    return linked_meanwhile(store, account.id).await;
                }
                // Taken or changed since it was found: the account gets a contact of its own.
                Err(StoreError::Cancelled(cancellation))
                    if cancellation.failed(LINK_CONTACT) || cancellation.failed(LINK_RECORD) => {}
                // A concurrent transaction (another first request linking the same account):
                // never fall back to a new contact for it.
                Err(StoreError::Cancelled(cancellation)) => {
                    return Err(RecordError::ItemsFailed(cancellation));
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
    let owner = match owner {
        Some(owner) => owner,
        None => longest_serving_administrator(store).await?,
    };
    let caller = Caller::system(Origin::Portal(account.id));
    let read;
    let custom = match custom {
        Some(custom) => custom,
        None => {
            read = store.contact_fields().await?;
            &read
        }
    };
    let contacts = View::new(&caller, modules::contacts(), custom);
    let mut items = WriteSet::new();
    let (first_name, last_name) = split_name(&account.name);
    let mut values = BTreeMap::from([
        ("last_name".to_owned(), Value::String(last_name)),
        ("email".to_owned(), Value::String(account.email.as_str().to_owned())),
    ]);
    if let Some(first_name) = first_name {
        values.insert("first_name".into(), Value::String(first_name));
    }
    if let Some(phone) = &account.phone {
        values.insert("phone".into(), Value::String(phone.as_str().to_owned()));
    }
    if let Some(company) = &account.company_name {
        let accounts = modules::module("accounts").ok_or(RecordError::NoSuchModule)?;
        let companies = View::new(&caller, accounts, &[]);
        let company_values = BTreeMap::from([("name".to_owned(), Value::String(company.clone()))]);
        let (company, company_items) = companies.creation(store, company_values, Some(owner)).await?;
        values.insert("account_id".into(), Value::String(company.id.to_string()));
        // The contact's creation checks the same owner.
        items.append(company_items.without(super::OWNER).prefixed("company:"));
    }
    let (contact, contact_items) = contacts.creation(store, values, Some(owner)).await?;
    items.append(contact_items);
    items.append(store.link_items(account.id, contact.id, None, now)?);
    match store.commit(items).await {
        Ok(()) => Ok(contact.id),
        Err(StoreError::Cancelled(cancellation)) if cancellation.failed(LINK_ACCOUNT) => {
            linked_meanwhile(store, account.id).await
        }
        Err(StoreError::Cancelled(cancellation)) => Err(contacts.explain(cancellation)),
        Err(error) => Err(error.into()),
    }
}

/// `link_customer` where the link is a step after another change (an approval, a verified
/// address): a failure is logged, not returned, and the portal links at the customer's first
/// request instead. The contact's id, when linked.
pub async fn link_logged(store: &Store, account: &Account, owner: Option<Ulid>) -> Option<Ulid> {
    match link_customer(store, account, owner, None).await {
        Ok(contact_id) => Some(contact_id),
        Err(error) => {
            tracing::warn!(account_id = %account.id, %error, "the customer is not linked to a contact yet");
            None
        }
    }
}

/// The contact a concurrent call linked the account to (or why there is none).
async fn linked_meanwhile(store: &Store, account_id: Ulid) -> Result<Ulid, RecordError> {
    match store.account(account_id).await? {
        Some(Account { contact_id: Some(contact_id), .. }) => Ok(contact_id),
        Some(_) => Err(RecordError::Forbidden("Only active customers are linked to a contact.".into())),
        None => Err(RecordError::NotFound),
    }
}

/// The active administrator with the oldest account: who owns contacts no one approved.
async fn longest_serving_administrator(store: &Store) -> Result<Ulid, RecordError> {
    let administrator = BuiltinRole::Administrator.id();
    store
        .staff()
        .await?
        .into_iter()
        .filter(|staff| {
            staff.status == AccountStatus::Active && staff.roles.iter().any(|role| role == administrator)
        })
        .map(|staff| staff.id)
        .min()
        .ok_or_else(|| RecordError::Forbidden("There is no active administrator to own the contact.".into()))
}

/// Why a re-link did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RelinkError {
    #[error("no such customer")]
    NoCustomer,
    #[error("the customer is not active")]
    NotActive,
    #[error("no such contact")]
    NoContact,
    #[error("another customer is linked to the contact")]
    ContactTaken,
    #[error(transparent)]
    Record(#[from] RecordError),
}

/// Links customer `account_id` to contact `contact_id` instead of its current one (staff
/// fixing a link), both sides and the release of the old contact in one transaction.
pub async fn relink_customer(
    store: &Store,
    account_id: Ulid,
    contact_id: Ulid,
) -> Result<Account, RelinkError> {
    let account = store
        .account(account_id)
        .await
        .map_err(RecordError::from)?
        .filter(|account| account.kind == AccountKind::Customer)
        .ok_or(RelinkError::NoCustomer)?;
    if account.status != AccountStatus::Active {
        return Err(RelinkError::NotActive);
    }
    if account.contact_id == Some(contact_id) {
        return Ok(account);
    }
    let now = crate::time::now();
    let mut items =
        store.link_items(account_id, contact_id, account.contact_id, now).map_err(RecordError::from)?;
    items.add(LINK_RECORD, store.contact_check(contact_id, None).map_err(RecordError::from)?);
    match store.commit(items).await {
        Ok(()) => Ok(Account { contact_id: Some(contact_id), updated_at: now, ..account }),
        Err(StoreError::Cancelled(cancellation)) if cancellation.failed(LINK_RECORD) => {
            Err(RelinkError::NoContact)
        }
        Err(StoreError::Cancelled(cancellation)) if cancellation.failed(LINK_CONTACT) => {
            Err(RelinkError::ContactTaken)
        }
        Err(StoreError::Cancelled(cancellation)) => Err(RecordError::ItemsFailed(cancellation).into()),
        Err(error) => Err(RecordError::from(error).into()),
    }
}

impl From<RelinkError> for crate::ApiError {
    fn from(error: RelinkError) -> Self {
        use crate::ApiError;
        match error {
            RelinkError::NoCustomer => ApiError::not_found("No such customer."),
            RelinkError::NotActive => {
                ApiError::conflict("not_active", "Only an active customer is linked to a contact.")
            }
            RelinkError::NoContact => ApiError::invalid_field("contact_id", "is not the id of a contact"),
            RelinkError::ContactTaken => {
                ApiError::conflict("contact_linked", "Another customer is linked to this contact.")
            }
            RelinkError::Record(error) => error.into(),
        }
    }
}
